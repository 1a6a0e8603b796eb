// AU-12 audit record generation: which feeders produced events in the period, per target.
import { FirstLast, objective, portabler, reviver } from '../fold.ts';
import type { ControlSpec, SavedFirstLast } from '../fold.ts';

export const au12: ControlSpec = {
  title: 'AU-12 Audit Record Generation',
  lookBack: false,
  fields: { feeder: { id: true }, target: { resource: true } },
  chainRows: false,
  gaps: [],
  fold() {
    const feeders = new Map<string, { span: FirstLast; types: Set<string> }>();
    return {
      add(e, inPeriod) {
        const r = e.record;
        if (!inPeriod || r.type === 'InputRejected') return;
        const key = `${r.feeder.id}\u0000${r.target.resource}`;
        const f = feeders.get(key);
        if (f) {
          f.span.add(e);
          f.types.add(r.type);
        } else feeders.set(key, { span: new FirstLast(e), types: new Set([r.type]) });
      },
      save() {
        const port = portabler();
        return { feeders: [...feeders].map(([k, f]) => [k, f.span.save(port), [...f.types]]) };
      },
      absorb(saved) {
        const revive = reviver();
        for (const [k, s, types] of (saved as { feeders: [string, SavedFirstLast, string[]][] }).feeders) {
          const span = FirstLast.restore(s, revive);
          const f = feeders.get(k);
          if (!f) feeders.set(k, { span, types: new Set(types) });
          else {
            f.span.absorb(span);
            for (const t of types) f.types.add(t);
          }
        }
      },
      finish: () =>
        [...feeders.values()].map((f) => ({ kind: 'feeder' as const, cites: f.span.cites(), stats: { events: f.span.count, types: [...f.types].sort() } })),
    };
  },
  objectives({ rows }) {
    const feeders = rows.filter((r) => r.kind === 'feeder');
    const why =
      feeders.length > 0
        ? `${feeders.length} feeder/target pairs produced events: ${feeders.map((r) => `${r.claims.feeder} → ${r.claims.resource} (${r.stats.events})`).join(', ')}`
        : 'no feeder produced an event in the period';
    return [
      objective('au-12_obj.a', 'audit record generation capability is provided for the event types', feeders.length > 0, why, feeders),
      objective('au-12_obj.c', 'audit records are generated for the event types defined in AU-2', feeders.length > 0, why, feeders),
    ];
  },
};
