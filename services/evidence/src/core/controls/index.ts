// The reports there are, and the names a user may ask for them by.
import { EvidenceInputInvalidError } from '../../errors.ts';
import type { ControlSpec } from '../fold.ts';
import type { ControlId } from '../model.ts';
import { CONTROL_IDS } from '../model.ts';
import { ac2 } from './ac-2.ts';
import { ac69 } from './ac-6-9.ts';
import { au3 } from './au-3.ts';
import { au9 } from './au-9.ts';
import { au12 } from './au-12.ts';
import { ia2 } from './ia-2.ts';

export const CONTROLS: Readonly<Record<ControlId, ControlSpec>> = { 'ac-2': ac2, 'ac-6.9': ac69, 'au-3': au3, 'au-9': au9, 'au-12': au12, 'ia-2': ia2 };

/** ALIASES maps the controls a report covers to the report (AU-2 and AU-3 are one report, and so on). */
const ALIASES: Readonly<Record<string, ControlId>> = {
  'au-2': 'au-3',
  'au-9.3': 'au-9',
  'au-10': 'au-9',
  'ia-2.1': 'ia-2',
  'ia-2.2': 'ia-2',
};

/** parseControl accepts `AC-6(9)`, `ac-6.9`, `AU-2` ... and returns the report's id. */
export function parseControl(name: string): ControlId {
  const id = name
    .trim()
    .toLowerCase()
    .replace(/\((\d+)\)/g, '.$1');
  if ((CONTROL_IDS as readonly string[]).includes(id)) return id as ControlId;
  if (ALIASES[id]) return ALIASES[id];
  throw new EvidenceInputInvalidError(
    `no report for control ${JSON.stringify(name.slice(0, 40))}: choose one of AC-2, AC-6(9), AU-2/AU-3, AU-9/AU-9(3)/AU-10, AU-12, IA-2/IA-2(1)/IA-2(2)`,
  );
}
