// IA-2 / IA-2(1) / IA-2(2) identification and authentication: every session's issuer, subject,
// authentication methods (amr) and MFA, and every authentication failure with its reason.
import { privilegedBecause } from '../claims.ts';
import { claim, objective, portabler, reviver } from '../fold.ts';
import type { ControlSpec, DraftRow } from '../fold.ts';
import type { CitedEntry } from '../model.ts';

export const ia2: ControlSpec = {
  title: 'IA-2 / IA-2(1) / IA-2(2) Identification and Authentication',
  lookBack: false,
  fields: { sessionId: true, classes: true, decision: true, ruleId: true },
  chainRows: false,
  gaps: ['a session counts as privileged when it ran a privileged command in the period (the token carries no privileged-account marker)'],
  fold() {
    const sessions = new Map<string, CitedEntry>();
    const privileged = new Set<string>();
    const failures: CitedEntry[] = [];
    return {
      add(e, inPeriod) {
        const r = e.record;
        if (!inPeriod) return;
        if (r.type === 'SessionStarted') sessions.set(r.sessionId, e);
        else if (r.type === 'AuthenticationFailed') failures.push(e);
        else if (r.type === 'CommandIssued' && privilegedBecause(r) !== null) privileged.add(r.sessionId);
      },
      save() {
        const port = portabler();
        return { sessions: [...sessions].map(([k, e]) => [k, port(e)]), privileged: [...privileged], failures: failures.map(port) };
      },
      absorb(saved) {
        const later = saved as { sessions: [string, CitedEntry][]; privileged: string[]; failures: CitedEntry[] };
        const revive = reviver();
        for (const [k, e] of later.sessions) sessions.set(k, revive(e));
        for (const id of later.privileged) privileged.add(id);
        failures.push(...later.failures.map(revive));
      },
      finish() {
        const rows: DraftRow[] = [...sessions.entries()].map(([id, e]) => ({ kind: 'session-auth', cites: [e], stats: { privileged: privileged.has(id) } }));
        rows.push(...failures.map((e) => ({ kind: 'auth-failure' as const, cites: [e] })));
        return rows;
      },
    };
  },
  objectives({ rows }) {
    const sessions = rows.filter((r) => r.kind === 'session-auth');
    const failures = rows.filter((r) => r.kind === 'auth-failure');
    const anonymous = sessions.filter((r) => !claim<string | null>(r, 'issuer') || !claim<string | null>(r, 'subject'));
    const mfaMissing = (priv: boolean) => sessions.filter((r) => r.stats.privileged === priv && !claim<boolean>(r, 'mfa'));
    const who = (rs: typeof rows) => rs.map((r) => `${claim<string>(r, 'subject')} (session ${claim<string>(r, 'sessionId')})`).join(', ');
    const mfa = (priv: boolean) => {
      const all = sessions.filter((r) => r.stats.privileged === priv);
      const bad = mfaMissing(priv);
      const kind = priv ? 'privileged' : 'non-privileged';
      return objective(
        priv ? 'ia-2.1_obj' : 'ia-2.2_obj',
        `multi-factor authentication is implemented for access to ${kind} accounts`,
        bad.length === 0,
        bad.length > 0
          ? `${bad.length} of ${all.length} ${kind} sessions authenticated without a second factor (amr): ${who(bad)}`
          : all.length > 0
            ? `all ${all.length} ${kind} sessions authenticated with a second factor`
            : `no ${kind} session in the period`,
        bad.length > 0 ? bad : all,
      );
    };
    return [
      objective(
        'ia-2_obj',
        'organizational users are uniquely identified and authenticated',
        anonymous.length === 0 && sessions.length > 0,
        anonymous.length > 0
          ? `${anonymous.length} sessions carry no issuer and subject`
          : sessions.length > 0
            ? `${sessions.length} sessions, each bound to a token issuer and subject; ${failures.length} authentication failures with their reasons`
            : 'no session in the period',
        [...sessions, ...failures],
      ),
      mfa(true),
      mfa(false),
    ];
  },
};
