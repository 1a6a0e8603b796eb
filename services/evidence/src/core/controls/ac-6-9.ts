// AC-6(9) log use of privileged functions: each privileged command with its decision and, when
// held, its approval with the decision's signature checked.
import { claim, objective, portabler, reviver } from '../fold.ts';
import type { ControlSpec } from '../fold.ts';
import type { Json } from '../model.ts';
import { PRIVILEGED_FIELDS, privilegedTracker } from '../privileged-tracker.ts';
import type { SavedTracker } from '../privileged-tracker.ts';

type Approval = { decision: string; signatureValid: boolean } | null;

export const ac69: ControlSpec = {
  title: 'AC-6(9) Log Use of Privileged Functions',
  lookBack: false,
  fields: PRIVILEGED_FIELDS,
  chainRows: false,
  gaps: ['policy rules carry no "privileged" marker: privileged functions are privileged statement classes or rules requiring approval'],
  fold(params) {
    const t = privilegedTracker(params.carry);
    return {
      add: (e, inPeriod) => t.add(e, inPeriod),
      finish: () => t.rows(),
      save: () => ({ tracker: t.save(portabler()) }),
      absorb: (later) => t.absorb(later.tracker as SavedTracker, reviver()),
      fits: (later) => t.fits(later.tracker as SavedTracker),
    };
  },
  objectives({ rows }) {
    const priv = rows.filter((r) => r.kind === 'privileged-command');
    const unsigned = priv.filter((r) => {
      const a = claim<Json>(r, 'approval') as Approval;
      return a !== null && (a.decision === 'approved' || a.decision === 'denied') && !a.signatureValid;
    });
    return [
      objective(
        'ac-6.9_obj',
        'the execution of privileged functions is logged',
        unsigned.length === 0,
        unsigned.length > 0
          ? `${unsigned.length} privileged commands were decided without a valid decision signature`
          : priv.length > 0
            ? `${priv.length} privileged commands logged with their decision; every held one carries its signed approval or expiry`
            : 'no privileged function was executed in the period',
        unsigned.length > 0 ? unsigned : priv,
      ),
    ];
  },
};
