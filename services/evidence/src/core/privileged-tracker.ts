// Follows each privileged command of the period to its outcome: blocked, completed, or held for
// approval and decided. Shared by AC-2 (privileged use) and AC-6(9) (privileged functions logged).
import { privilegedBecause } from './claims.ts';
import type { DraftRow } from './fold.ts';
import type { CitedEntry } from './model.ts';
import type { Pick } from './projection.ts';

/** PRIVILEGED_FIELDS are the fields privilegedTracker reads. */
export const PRIVILEGED_FIELDS: Pick = { sessionId: true, commandId: true, requestId: true, classes: true, decision: true, ruleId: true };

/** SavedTracker is a tracker's state as data (see Fold.save). */
export type SavedTracker = {
  commands: [string, string][];
  inOrder: CitedEntry[][];
  byRequest: [string, CitedEntry[]][];
  carried: [CitedEntry, boolean][];
  startedHere: string[];
  /** rebound: request ids whose request this range could not place after it had placed one of the same id (see fits). */
  rebound: string[];
};

/** privilegedTracker follows privileged commands; `carry`: this fold covers a later range and carries what it cannot place (see save). */
export function privilegedTracker(carry = false) {
  // By session, then command: a completion of an ordinary command (half of all events) costs one
  // lookup of its (interned) session id, with no key string built for it.
  const commands = new Map<string, Map<string, number>>(); // → position in inOrder
  const inOrder: CitedEntry[][] = []; // rows come out in the order the commands were issued
  const keys: [string, string][] = []; // the session and command of each of inOrder
  const byRequest = new Map<string, CitedEntry[]>();
  // For folding in ranges: a completion (or decision) this range cannot place may belong to a
  // command issued before the range, so it is carried to the fold that absorbs this one. Only
  // sessions already under way when the range began should have such commands: one that starts
  // here issued nothing before. The ledger does not guarantee it (an out-of-order or forged
  // SessionStarted is appended, at most flagged), so the sessions taken as started here are
  // saved too, and `fits` refuses to absorb a range where one of them has a command before it.
  const startedHere = new Map<string, boolean>();
  const carried: [CitedEntry, boolean][] = [];
  // Sessions a later range absorbed here took as started there (their completions it did not carry).
  const startedLater = new Set<string>();
  // A request this range cannot place is replayed before the range's own requests are merged, so
  // it must not come after a request of the same id this range placed: one pass would bind the id
  // to the carried one (when the fold before places it) and send the id's decisions there. Request
  // ids are unique at the gate; a log that repeats one (forged on the bus) is folded in one pass.
  const rebound = new Set<string>();
  const keep = (e: CitedEntry, inPeriod: boolean, sessionId: string | null): void => {
    if (carry && (sessionId === null || startedHere.get(sessionId) !== true)) carried.push([e, inPeriod]);
  };
  const add = (e: CitedEntry, inPeriod: boolean): void => {
    const r = e.record;
    if (r.type === 'InputRejected') return;
    if (carry && !startedHere.has(r.sessionId)) startedHere.set(r.sessionId, r.type === 'SessionStarted');
    if (r.type === 'CommandIssued') {
      if (inPeriod && privilegedBecause(r) !== null) {
        let m = commands.get(r.sessionId);
        if (!m) commands.set(r.sessionId, (m = new Map()));
        // A command id issued again in its session starts its row afresh, in the first one's place.
        const at = m.get(r.commandId);
        if (at === undefined) {
          m.set(r.commandId, inOrder.push([e]) - 1);
          keys.push([r.sessionId, r.commandId]);
        } else inOrder[at] = [e];
      }
      return;
    }
    if (r.type === 'ApprovalDecided') {
      const held = byRequest.get(r.requestId);
      // Only the first decision counts, as at the gate; later attempts are refused there.
      if (held && !held.some((c) => c.record.type === 'ApprovalDecided')) held.push(e);
      else if (!held) keep(e, inPeriod, null); // decisions are rare: carried whatever the session
      return;
    }
    if (r.type === 'CommandBlocked' || r.type === 'CommandCompleted' || r.type === 'ApprovalRequested') {
      const at = commands.get(r.sessionId)?.get(r.commandId);
      if (at === undefined) {
        if (carry && r.type === 'ApprovalRequested' && byRequest.has(r.requestId)) rebound.add(r.requestId);
        return keep(e, inPeriod, r.sessionId);
      }
      const cites = inOrder[at];
      cites.push(e);
      if (r.type === 'ApprovalRequested') byRequest.set(r.requestId, cites);
    }
  };
  return {
    add,
    rows(): DraftRow[] {
      return inOrder.map((cites) => ({ kind: 'privileged-command' as const, cites }));
    },
    save(port: (e: CitedEntry) => CitedEntry): SavedTracker {
      const lists = new Map<CitedEntry[], CitedEntry[]>();
      const list = (l: CitedEntry[]) => {
        let p = lists.get(l);
        if (!p) lists.set(l, (p = l.map(port)));
        return p;
      };
      return {
        commands: keys.map(([s, c]) => [s, c]),
        inOrder: inOrder.map(list),
        byRequest: [...byRequest].map(([k, l]) => [k, list(l)]),
        carried: carried.map(([e, p]) => [port(e), p]),
        startedHere: [...new Set([...[...startedHere].filter(([, started]) => started).map(([id]) => id), ...startedLater])],
        rebound: [...rebound],
      };
    },
    /** fits: absorbing `later` gives the rows of one pass (no session it took as started here has a command in this fold, no request id rebound there). */
    fits(later: SavedTracker): boolean {
      return later.rebound.length === 0 && !later.startedHere.some((id) => commands.has(id));
    },
    /** absorb: the later range's carried events are replayed here first (as one fold would have seen them), then its own commands merged. */
    absorb(later: SavedTracker, revive: (e: CitedEntry) => CitedEntry): void {
      const lists = new Map<CitedEntry[], CitedEntry[]>();
      const list = (l: CitedEntry[]) => {
        let p = lists.get(l);
        if (!p) lists.set(l, (p = l.map(revive)));
        return p;
      };
      for (const [e, inPeriod] of later.carried) add(revive(e), inPeriod);
      for (const id of later.startedHere) startedLater.add(id);
      later.inOrder.forEach((l, i) => {
        const [sessionId, commandId] = later.commands[i];
        let m = commands.get(sessionId);
        if (!m) commands.set(sessionId, (m = new Map()));
        const at = m.get(commandId);
        if (at === undefined) {
          m.set(commandId, inOrder.push(list(l)) - 1);
          keys.push([sessionId, commandId]);
        } else inOrder[at] = list(l);
      });
      for (const [k, l] of later.byRequest) byRequest.set(k, list(l));
    },
  };
}
