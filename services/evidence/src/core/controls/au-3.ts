// AU-2 / AU-3 event logging and content of audit records: which event types were logged, and
// per AU-3 content (a–f) how many events of the period carry it, each gap cited.
import { AU3_FIELDS, au3Field } from '../claims.ts';
import { FirstLast, objective, portabler, reviver } from '../fold.ts';
import type { ControlSpec, DraftRow, SavedFirstLast } from '../fold.ts';
import type { CitedEntry } from '../model.ts';

/** GAPS_CITED bounds the gap rows per AU-3 content (the count covers all of them). */
export const GAPS_CITED = 50;

export const au3: ControlSpec = {
  title: 'AU-2 / AU-3 Event Logging and Content of Audit Records',
  lookBack: false,
  // AU-3 only asks whether each content is there: strings are read as present or blank.
  fields: {
    actor: { issuer: 'presence', subject: 'presence' },
    source: { address: 'presence' },
    target: { resource: 'presence', host: 'presence' },
    feeder: { id: 'presence' },
    text: 'presence',
    decision: true,
    outcome: true,
    reason: 'presence',
    code: 'presence',
    claimedSubject: 'presence',
    topic: 'presence',
  },
  chainRows: false,
  gaps: [],
  fold() {
    const types = new Map<string, FirstLast>();
    const counts = AU3_FIELDS.map(() => ({ present: 0, missing: 0, notApplicable: 0 }));
    // Per content, the first GAPS_CITED events lacking it; gaps holds them all once, in ledger order.
    const cited: CitedEntry[][] = AU3_FIELDS.map(() => []);
    const gaps = new Map<string, CitedEntry>();
    let span: FirstLast | undefined;
    const cite = (i: number, e: CitedEntry) => {
      cited[i].push(e);
      gaps.set(`${e.log}\u0000${e.index}`, e);
    };
    return {
      add(e, inPeriod) {
        if (!inPeriod) return;
        const r = e.record;
        const t = types.get(r.type);
        if (t) t.add(e);
        else types.set(r.type, new FirstLast(e));
        if (span) span.add(e);
        else span = new FirstLast(e);
        for (let i = 0; i < AU3_FIELDS.length; i++) {
          const s = au3Field(r, AU3_FIELDS[i].letter);
          const c = counts[i];
          if (s === 'present') c.present++;
          else if (s === 'n/a') c.notApplicable++;
          else {
            c.missing++;
            if (cited[i].length < GAPS_CITED) cite(i, e);
          }
        }
      },
      save() {
        const port = portabler();
        return {
          types: [...types].map(([k, t]) => [k, t.save(port)]),
          span: span?.save(port) ?? null,
          counts,
          cited: cited.map((l) => l.map(port)),
        };
      },
      absorb(saved) {
        const later = saved as { types: [string, SavedFirstLast][]; span: SavedFirstLast | null; counts: typeof counts; cited: CitedEntry[][] };
        const revive = reviver();
        for (const [k, s] of later.types) {
          const t = types.get(k);
          const l = FirstLast.restore(s, revive);
          if (t) t.absorb(l);
          else types.set(k, l);
        }
        if (later.span) {
          const l = FirstLast.restore(later.span, revive);
          if (span) span.absorb(l);
          else span = l;
        }
        later.counts.forEach((c, i) => {
          counts[i].present += c.present;
          counts[i].missing += c.missing;
          counts[i].notApplicable += c.notApplicable;
        });
        // One fold would cite, per content, the later range's first events lacking it until the
        // bound; taken entry by entry in ledger order so gaps keeps that order too.
        const room = cited.map((l) => GAPS_CITED - l.length);
        const picks = later.cited.map((l, i) => new Set(l.slice(0, Math.max(0, room[i]))));
        const inOrder = [...new Set(later.cited.flat())].sort((a, b) => a.index - b.index);
        for (const e of inOrder) {
          const r = revive(e);
          picks.forEach((p, i) => {
            if (p.has(e)) cite(i, r);
          });
        }
      },
      finish() {
        const rows: DraftRow[] = [...types.values()].map((t) => ({ kind: 'event-type', cites: [t.first], stats: { events: t.count } }));
        if (span) {
          const cites = span.cites();
          AU3_FIELDS.forEach((f, i) =>
            rows.push({
              kind: 'field-completeness',
              cites,
              stats: { field: f.letter, name: f.name, ...counts[i], cited: cited[i].length, total: span!.count },
            }),
          );
        }
        rows.push(...[...gaps.values()].map((e) => ({ kind: 'field-gap' as const, cites: [e] })));
        return rows;
      },
    };
  },
  objectives({ rows }) {
    const types = rows.filter((r) => r.kind === 'event-type');
    const out = [
      objective(
        'au-2_obj.a',
        'the types of events the system is capable of logging are identified',
        types.length > 0,
        types.length > 0
          ? `event types logged in the period: ${types.map((r) => `${r.claims.type} (${r.stats.events})`).join(', ')}`
          : 'no event was logged in the period',
        types,
      ),
    ];
    for (const f of AU3_FIELDS) {
      const row = rows.find((r) => r.kind === 'field-completeness' && r.stats.field === f.letter);
      const gaps = rows.filter((r) => r.kind === 'field-gap' && (r.claims.missing as string[]).includes(f.letter));
      const missing = row ? (row.stats.missing as number) : 0;
      const present = row ? (row.stats.present as number) : 0;
      out.push(
        objective(
          `au-3_obj.${f.letter}`,
          `audit records contain ${f.name}`,
          row !== undefined && missing === 0 && gaps.length === 0,
          row === undefined
            ? 'no event was logged in the period'
            : missing === 0
              ? `${present} of ${row.stats.total as number} events carry it (${row.stats.notApplicable as number} events of types without it)`
              : `${missing} of ${row.stats.total as number} events lack it (${gaps.length} cited): ${gaps
                  .slice(0, 5)
                  .map((g) => `${g.claims.type} ${g.claims.eventId}`)
                  .join(', ')}${gaps.length > 5 ? ', ...' : ''}`,
          row ? [row, ...gaps] : [],
        ),
      );
    }
    return out;
  },
};
