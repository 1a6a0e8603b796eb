// Exports a report as an OSCAL 1.2.1 assessment-results document: one result per report run,
// one observation per SP 800-53A objective whose relevant-evidence points at the cited ledger
// positions and their proofs, one finding per objective (target type objective-id) with
// satisfied / not-satisfied and the reason. UUIDs are v5, derived from the control, the period
// and the ledger positions, so exporting the same report twice gives the same document.
import { createHash } from 'node:crypto';
import type { ControlId, Report, Row } from './model.ts';

/** OSCAL_VERSION is the OSCAL release the export follows (NIST's schema in services/evidence/oscal). */
export const OSCAL_VERSION = '1.2.1';
/** NS is the namespace of the export's own properties. */
export const NS = 'https://affidavit.dev/ns/oscal';

// A fixed namespace for Affidavit's v5 UUIDs (itself a v5 UUID of the URL namespace).
const NAMESPACE = uuidv5Bytes(Buffer.from('6ba7b8119dad11d180b400c04fd430c8', 'hex'), 'https://affidavit.dev/ns/oscal');

function uuidv5Bytes(ns: Uint8Array, name: string): Buffer {
  const h = createHash('sha1').update(ns).update(name, 'utf8').digest().subarray(0, 16);
  h[6] = (h[6] & 0x0f) | 0x50;
  h[8] = (h[8] & 0x3f) | 0x80;
  return h;
}

/** uuidv5 names `name` in Affidavit's OSCAL namespace (RFC 4122 version 5). */
export function uuidv5(name: string): string {
  const h = uuidv5Bytes(NAMESPACE, name).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** CONTROLS_REVIEWED are the SP 800-53 controls each report covers (OSCAL control ids). */
const CONTROLS_REVIEWED: Readonly<Record<ControlId, readonly string[]>> = {
  'ac-2': ['ac-2', 'ac-2.3'],
  'ac-6.9': ['ac-6.9'],
  'au-3': ['au-2', 'au-3'],
  'au-9': ['au-9', 'au-9.3', 'au-10'],
  'au-12': ['au-12'],
  'ia-2': ['ia-2', 'ia-2.1', 'ia-2.2'],
};

type Prop = { name: string; value: string; ns: string };
const prop = (name: string, value: string | number): Prop => ({ name, value: String(value), ns: NS });
// OSCAL strings may not be empty nor start or end with white space; one line each.
const line = (s: string) => s.replace(/\s+/g, ' ').trim() || '-';

function evidence(r: Row, report: Report) {
  const props: Prop[] = [prop('report-row', r.id), prop('row-kind', r.kind)];
  for (const c of r.cites) {
    const after = report.logs.find((l) => l.log === c.log);
    props.push(prop('ledger-position', `${c.log}#${c.index}`));
    if (after) props.push(prop('proven-against-tree-size', treeSizeOf(after.after)));
    if (c.proof.length > 0) props.push(prop('inclusion-proof', c.proof.join(' ')));
  }
  if (r.checkpoint) props.push(prop('checkpoint', `${r.checkpoint.log}@${r.checkpoint.size}`));
  const first = r.cites[0];
  return {
    href: first ? `#${uuidv5(`entry|${first.log}|${first.index}`)}` : `#${uuidv5(`log|${r.checkpoint?.log ?? ''}`)}`,
    description: line(`${r.id} (${r.kind}): ${JSON.stringify(r.claims)}`),
    props,
  };
}

const treeSizeOf = (note: string) => Number(note.split('\n')[1]);
const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

/** toOscal renders a report as an OSCAL assessment-results document (a plain JSON object). */
export function toOscal(report: Report): { 'assessment-results': Record<string, unknown> } {
  const positions = report.logs.map((l) => `${l.log}@${treeSizeOf(l.after)}`).join(',');
  const run = `${report.control}|${report.period.from}|${report.period.to}|${positions}`;
  const byId = new Map(report.rows.map((r) => [r.id, r]));
  const planUuid = uuidv5(`plan|${report.control}`);
  const observations = report.objectives.map((o) => {
    const rows = o.rows.map((id) => byId.get(id)).filter((r): r is Row => r !== undefined);
    return {
      uuid: uuidv5(`observation|${run}|${o.id}`),
      title: line(`${o.id}: ${o.title}`),
      description: line(o.reason),
      methods: ['EXAMINE'],
      types: ['control-objective'],
      collected: report.generatedAt,
      ...(rows.length > 0 ? { 'relevant-evidence': rows.map((r) => evidence(r, report)) } : {}),
    };
  });
  const findings = report.objectives.map((o, i) => ({
    uuid: uuidv5(`finding|${run}|${o.id}`),
    title: line(`${o.id} ${o.state}`),
    description: line(o.reason),
    target: {
      type: 'objective-id',
      'target-id': o.id,
      title: line(o.title),
      status: { state: o.state, reason: o.state === 'satisfied' ? 'pass' : 'fail', remarks: line(o.reason) },
    },
    'related-observations': [{ 'observation-uuid': observations[i].uuid }],
  }));
  // Cited entries and logs are back-matter resources, so every relevant-evidence href resolves in the document.
  const cited = new Map<string, { log: string; index: number; entry: string }>();
  for (const r of report.rows) for (const c of r.cites) cited.set(`${c.log}|${c.index}`, c);
  const resources = [
    {
      uuid: planUuid,
      title: line(`Affidavit ledger evidence plan for ${report.control}`),
      description: line('No separate assessment plan: the report is computed from the signed ledger alone, every row citing the entries it rests on.'),
    },
    ...report.logs.map((l) => ({
      uuid: uuidv5(`log|${l.log}`),
      title: line(`ledger log ${l.log}`),
      description: line(
        `Log ${l.log} (origin ${l.origin}): entries of the period ${l.period.firstIndex ?? '-'}..${l.period.lastIndex ?? '-'}, proven against the checkpoint of size ${treeSizeOf(l.after)}`,
      ),
      props: [
        prop('checkpoint-after', b64(l.after)),
        ...(l.before ? [prop('checkpoint-before', b64(l.before))] : []),
        ...(l.consistency.length > 0 ? [prop('consistency-proof', l.consistency.join(' '))] : []),
      ],
    })),
    ...[...cited.values()].map((c) => ({
      uuid: uuidv5(`entry|${c.log}|${c.index}`),
      title: line(`ledger entry ${c.log}#${c.index}`),
      props: [prop('ledger-position', `${c.log}#${c.index}`)],
      base64: { filename: `entry-${c.index}.avro`, 'media-type': 'application/octet-stream', value: c.entry },
    })),
  ];
  return {
    'assessment-results': {
      uuid: uuidv5(`assessment-results|${run}`),
      metadata: {
        title: line(`${report.title}: evidence from the Affidavit ledger, ${report.period.from} to ${report.period.to}`),
        'last-modified': report.generatedAt,
        version: '1',
        'oscal-version': OSCAL_VERSION,
        props: [prop('ledger-key', report.ledgerKey)],
      },
      'import-ap': { href: `#${planUuid}` },
      results: [
        {
          uuid: uuidv5(`result|${run}`),
          title: line(`${report.title} over ${report.period.from} to ${report.period.to}`),
          description: line(
            `Computed from the ledger only; ${report.rows.length} rows, each citing ledger entries with inclusion proofs against signed checkpoints.${report.gaps.length > 0 ? ` Gaps: ${report.gaps.join('; ')}` : ''}`,
          ),
          start: report.period.from,
          end: report.period.to,
          'reviewed-controls': { 'control-selections': [{ 'include-controls': CONTROLS_REVIEWED[report.control].map((id) => ({ 'control-id': id })) }] },
          observations,
          findings,
        },
      ],
      'back-matter': { resources },
    },
  };
}
