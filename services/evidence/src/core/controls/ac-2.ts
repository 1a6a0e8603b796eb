// AC-2 account management: every identity that used each target in the period (first and last
// use, groups from the token), privileged use, accounts dormant for N days, identities refused.
import { claim, FirstLast, objective, portabler, reviver } from '../fold.ts';
import type { ControlSpec, DraftRow, SavedFirstLast } from '../fold.ts';
import type { CitedEntry } from '../model.ts';
import { PRIVILEGED_FIELDS, privilegedTracker } from '../privileged-tracker.ts';
import type { SavedTracker } from '../privileged-tracker.ts';

const DAY_MICROS = 86_400_000_000;

type Nested<T> = Map<string, Map<string, Map<string, T>>>;

function leaf<T>(m: Nested<T>, a: string, b: string): Map<string, T> {
  let x = m.get(a);
  if (!x) m.set(a, (x = new Map()));
  let y = x.get(b);
  if (!y) x.set(b, (y = new Map()));
  return y;
}

function* leaves<T>(m: Nested<T>): Generator<[[string, string, string], T]> {
  for (const [a, x] of m) for (const [b, y] of x) for (const [c, v] of y) yield [[a, b, c], v];
}

type SavedAc2 = {
  used: [[string, string, string], SavedFirstLast][];
  before: [[string, string, string], CitedEntry][];
  failures: CitedEntry[];
  privileged: SavedTracker;
};

export const ac2: ControlSpec = {
  title: 'AC-2 Account Management',
  lookBack: true,
  fields: { ...PRIVILEGED_FIELDS, actor: { issuer: true, subject: true }, target: { resource: true } },
  chainRows: false,
  gaps: [
    'account creation, modification, disabling and removal happen at the identity provider; the ledger sees accounts only when they are used (AC-2 f)',
    'policy rules carry no "privileged" marker: privileged use is a privileged statement class (DDL, DCL, roles, server files) or a rule requiring approval',
  ],
  fold(params) {
    // Keyed issuer → subject → resource: no key string is built per event.
    const used = new Map<string, Map<string, Map<string, FirstLast>>>();
    const before = new Map<string, Map<string, Map<string, CitedEntry>>>();
    const failures: CitedEntry[] = [];
    const privileged = privilegedTracker(params.carry);
    return {
      add(e, inPeriod) {
        const r = e.record;
        if (inPeriod) privileged.add(e, true);
        if (r.type === 'InputRejected') return;
        if (r.type === 'AuthenticationFailed') {
          if (inPeriod) failures.push(e);
          return;
        }
        if (!r.actor) return;
        if (!inPeriod) {
          const m = leaf(before, r.actor.issuer, r.actor.subject);
          const b = m.get(r.target.resource);
          if (!b || r.occurredAt >= b.record.occurredAt) m.set(r.target.resource, e);
          return;
        }
        const m = leaf(used, r.actor.issuer, r.actor.subject);
        const u = m.get(r.target.resource);
        if (u) u.add(e);
        else m.set(r.target.resource, new FirstLast(e));
      },
      save(): SavedAc2 {
        const port = portabler();
        return {
          used: [...leaves(used)].map(([k, u]) => [k, u.save(port)]),
          before: [...leaves(before)].map(([k, e]) => [k, port(e)]),
          failures: failures.map(port),
          privileged: privileged.save(port),
        };
      },
      fits: (saved) => privileged.fits((saved as SavedAc2).privileged),
      absorb(saved) {
        const later = saved as SavedAc2;
        const revive = reviver();
        // In key order of first appearance, as one fold would have inserted them.
        for (const [[a, b, c], s] of later.used) {
          const m = leaf(used, a, b);
          const u = m.get(c);
          const l = FirstLast.restore(s, revive);
          if (u) u.absorb(l);
          else m.set(c, l);
        }
        for (const [[a, b, c], e] of later.before) {
          const m = leaf(before, a, b);
          const x = m.get(c);
          if (!x || e.record.occurredAt >= x.record.occurredAt) m.set(c, revive(e));
        }
        failures.push(...later.failures.map(revive));
        privileged.absorb(later.privileged, revive);
      },
      finish() {
        const rows: DraftRow[] = [...leaves(used)].map(([, u]) => ({ kind: 'account-use', cites: u.cites(), stats: { events: u.count } }));
        rows.push(...privileged.rows());
        for (const [[issuer, subject, resource], e] of leaves(before)) {
          if (used.get(issuer)?.get(subject)?.has(resource)) continue;
          const days = Math.floor((params.to - e.record.occurredAt) / DAY_MICROS);
          if (days >= params.dormantDays) rows.push({ kind: 'dormant-account', cites: [e], stats: { daysUnusedAtPeriodEnd: days } });
        }
        rows.push(...failures.map((e) => ({ kind: 'auth-failure' as const, cites: [e] })));
        return rows;
      },
    };
  },
  objectives({ rows, params }) {
    const uses = rows.filter((r) => r.kind === 'account-use');
    const monitored = rows.filter((r) => r.kind === 'account-use' || r.kind === 'privileged-command' || r.kind === 'auth-failure');
    const noGroups = uses.filter((r) => claim<string[]>(r, 'groups').length === 0);
    const dormant = rows.filter((r) => r.kind === 'dormant-account');
    return [
      objective(
        'ac-2_obj.g',
        'the use of system accounts is monitored',
        uses.length > 0,
        uses.length > 0
          ? `${uses.length} identity/target pairs used in the period, each with its first and last use; ${rows.filter((r) => r.kind === 'privileged-command').length} privileged commands; ${rows.filter((r) => r.kind === 'auth-failure').length} identities refused`
          : 'no account was used in the period, so the ledger shows no monitoring',
        monitored,
      ),
      objective(
        'ac-2_obj.d',
        'authorized users of the system and their group and role membership are specified',
        uses.length > 0 && noGroups.length === 0,
        noGroups.length > 0
          ? `${noGroups.length} identities used a target with no group in their token: ${noGroups.map((r) => `${claim<string>(r, 'subject')}@${claim<string>(r, 'resource')}`).join(', ')}`
          : uses.length > 0
            ? 'every identity that used a target carried its groups in the token'
            : 'no account was used in the period',
        noGroups.length > 0 ? noGroups : uses,
      ),
      objective(
        'ac-2.3_obj',
        `accounts are disabled when they have been inactive for ${params.dormantDays} days`,
        dormant.length === 0,
        dormant.length > 0
          ? `${dormant.length} accounts seen before the period were unused for at least ${params.dormantDays} days; the ledger cannot show they were disabled at the identity provider`
          : `no account seen before the period was unused for ${params.dormantDays} days or more`,
        dormant,
      ),
    ];
  },
};
