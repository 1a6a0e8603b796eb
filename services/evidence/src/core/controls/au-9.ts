// AU-9 / AU-9(3) / AU-10 protection of audit information and non-repudiation: the signed
// checkpoint chain of the period with consistency proofs, and every approval decision of the
// period with its signature checked.
import { claim, objective, portabler, reviver } from '../fold.ts';
import type { ControlSpec, DraftRow } from '../fold.ts';
import type { CitedEntry } from '../model.ts';

export const au9: ControlSpec = {
  title: 'AU-9 / AU-9(3) / AU-10 Protection of Audit Information and Non-repudiation',
  lookBack: false,
  fields: { requestId: true },
  chainRows: true,
  gaps: ['C2SP checkpoints carry no signed time: a checkpoint proves order and content, and the period is placed by the events’ own times'],
  fold(params) {
    const requests = new Map<string, CitedEntry[]>();
    // A decision this range cannot place may answer a request before it: carried (decisions are rare).
    const carried: [CitedEntry, boolean][] = [];
    const add = (e: CitedEntry, inPeriod: boolean) => {
      const r = e.record;
      if (r.type === 'ApprovalRequested' && inPeriod) requests.set(r.requestId, [e]);
      else if (r.type === 'ApprovalDecided') {
        const held = requests.get(r.requestId);
        if (held && held.length === 1) held.push(e);
        else if (!held && params.carry) carried.push([e, inPeriod]);
      }
    };
    return {
      add,
      finish: () => [...requests.values()].map((cites): DraftRow => ({ kind: 'approval-decision', cites })),
      save() {
        const port = portabler();
        return { requests: [...requests].map(([k, l]) => [k, l.map(port)]), carried: carried.map(([e, p]) => [port(e), p]) };
      },
      absorb(saved) {
        const later = saved as { requests: [string, CitedEntry[]][]; carried: [CitedEntry, boolean][] };
        const revive = reviver();
        for (const [e, p] of later.carried) add(revive(e), p);
        for (const [k, l] of later.requests) requests.set(k, l.map(revive));
      },
    };
  },
  objectives({ rows, chainProblems }) {
    const chain = rows.filter((r) => r.kind === 'checkpoint');
    const approvals = rows.filter((r) => r.kind === 'approval-decision');
    const unsigned = approvals.filter((r) => ['approved', 'denied'].includes(claim<string>(r, 'decision')) && !claim<boolean>(r, 'signatureValid'));
    const chainOk = chainProblems.length === 0 && chain.length > 0;
    const chainWhy = chainOk
      ? `${chain.length} signed checkpoints, each consistent with the one before it; every cited entry is proven included`
      : chain.length === 0
        ? 'no signed checkpoint covers the period'
        : chainProblems.join('; ');
    return [
      objective('au-9_obj', 'audit information and audit logging tools are protected from unauthorized modification', chainOk, chainWhy, chain),
      objective('au-9.3_obj', 'cryptographic mechanisms protect the integrity of audit information', chainOk, chainWhy, chain),
      objective(
        'au-10_obj',
        'irrefutable evidence is provided that an individual performed the actions covered by non-repudiation',
        unsigned.length === 0,
        unsigned.length > 0
          ? `${unsigned.length} approval decisions carry no valid signature of a trusted decision key`
          : `${approvals.filter((r) => claim<boolean>(r, 'signatureValid')).length} approval decisions signed and valid, ${approvals.length} requests in the period`,
        unsigned.length > 0 ? unsigned : approvals,
      ),
    ];
  },
};
