// ProtocolState: the proxy's model of one session's prepared statements and portals, following
// PostgreSQL's own namespaces. A protocol Parse and SQL PREPARE name one kind of object (a
// prepared statement); a protocol Bind and SQL DECLARE name another (a portal: a cursor is a
// portal). The model changes ONLY when the server confirms: ParseComplete, BindComplete,
// CloseComplete, the CommandComplete of PREPARE / DECLARE / CLOSE / DEALLOCATE / DISCARD and of
// transaction statements, ReadyForQuery. An error changes nothing but the transaction: the end
// of a transaction closes its portals (a WITH HOLD cursor survives a commit, not a rollback of
// the transaction that made it), ROLLBACK TO closes the portals made since the savepoint.
//
// Deciding a command happens before the server has answered what the client sent before it
// (pipelining). The model keeps what is in flight as an overlay, and a name resolves to what
// the server WILL use when the command runs:
//   - set by a message earlier in the same extended-protocol segment (since the last Sync), or
//     by an earlier statement of the same Query: that message's definition. If that message
//     fails, the server skips everything up to Sync (or the rest of the Query), so the command
//     never runs and the assumption cannot make the record lie.
//   - touched by something in flight in an EARLIER segment (which may fail or succeed on its own):
//     WAIT, i.e. the session waits for the server's answers and asks again; the confirmed model is
//     exact then. For portals any earlier in-flight message counts (a Sync or a failure can end
//     the transaction, and so close them).
//   - otherwise the confirmed definition; a name the model does not hold is ABSENT, and the
//     session refuses the command rather than guess what the server holds under that name.
// The model is pure (no I/O); the session tells it what it sends and what the server answers.
import type { Classification, Operation, StatementInfo } from '@affidavit/access';
import type { FactsOf } from './statement-facts.ts';

/** StatementDef is a prepared statement: its text and classification. */
export type StatementDef = { readonly text: string; readonly cls: Classification };

/** PortalDef is a portal: a bound statement (Bind) or a SQL cursor (DECLARE). */
export type PortalDef = {
  readonly kind: 'bind' | 'cursor';
  /** text is the statement the portal runs (the Parse text, or the DECLARE statement). */
  readonly text: string;
  readonly cls: Classification;
  readonly params: readonly (Buffer | null)[];
  readonly paramFormats: readonly number[];
  /** binary: its results come in binary format (a Bind result format 1, a BINARY cursor). */
  readonly binary: boolean;
  readonly holdable: boolean;
  /** tx, at: the model's own (the transaction that made the portal, its creation order); 0 when made. */
  tx: number;
  at: number;
};

/** WAIT: the answer depends on messages in flight; ask again when the server has answered them. */
export const WAIT = Symbol('wait');
/** Lookup is a definition, WAIT, or undefined when the model holds no such name (refuse). */
export type Lookup<T> = T | typeof WAIT | undefined;

/** ParseOp is a protocol Parse in flight (def undefined: the proxy's own refusal, which defines nothing). */
export type ParseOp = { readonly kind: 'parse'; readonly name: string; readonly def: StatementDef | undefined };
/** BindOp is a Bind in flight (def undefined: its statement is unknown, so is the portal). */
export type BindOp = { readonly kind: 'bind'; readonly name: string; readonly def: PortalDef | undefined };
/** CloseOp is a protocol Close in flight. */
export type CloseOp = { readonly kind: 'close'; readonly target: 'S' | 'P'; readonly name: string };
/**
 * RunOp is a Query (its statements, one CommandComplete each, in order) or an Execute (the one
 * statement of its portal) in flight. `defs[i]` is what statement i defines; `opaque` marks
 * statements the model cannot follow (unparsable SQL the policy let through); `portal` is the
 * portal an Execute runs (CLOSE ALL leaves a running portal open).
 */
export type RunOp = {
  readonly kind: 'query' | 'execute';
  readonly statements: readonly StatementInfo[];
  readonly defs: readonly (StatementDef | PortalDef | undefined)[] | undefined;
  readonly opaque: boolean;
  readonly portal: string;
  /** next is the index of the statement the next CommandComplete ends. */
  next: number;
};
export type StateOp = ParseOp | BindOp | CloseOp | RunOp;

/** Resolution is a classification with its references resolved (see ProtocolState#resolve). */
export type Resolution = {
  readonly cls: Classification;
  /** note tells what each referenced name runs (appended to the recorded text), '' when none. */
  readonly note: string;
  readonly binary: boolean;
  readonly defs: readonly (StatementDef | PortalDef | undefined)[] | undefined;
};
/** Unknown: a statement refers to a name whose definition the proxy does not know. */
export type Unknown = { readonly unknown: 'prepared' | 'cursor'; readonly name: string };

/** DEFAULT_STATE_LIMIT bounds the statements and portals one session's model holds (each). */
export const DEFAULT_STATE_LIMIT = 10_000;
const MAX_DEPTH = 4;

type Touch<T> = { pending: number; seg: number; seq: number; def: T | undefined };
type Global = { pending: number; seg: number; seq: number };
type Scope = { stmts?: Map<string, StatementDef | undefined>; portals?: Map<string, PortalDef | undefined>; allStmts?: boolean; allPortals?: boolean };

/** ProtocolState is one session's model (not shared; see the file comment). */
export class ProtocolState {
  readonly #facts: FactsOf;
  readonly #limit: number;
  readonly #statements = new Map<string, StatementDef>();
  readonly #portals = new Map<string, PortalDef>();
  readonly #stmtTouch = new Map<string, Touch<StatementDef>>();
  readonly #portalTouch = new Map<string, Touch<PortalDef>>();
  readonly #stmtAll: Global = { pending: 0, seg: -1, seq: 0 };
  readonly #portalAll: Global = { pending: 0, seg: -1, seq: 0 };
  #seg = 0;
  #seq = 0;
  /** messages in flight sent in earlier segments, and in the current one */
  #earlier = 0;
  #current = 0;
  #tx = 0;
  #txFailed = false;
  #created = 0;
  #savepoints: { name: string; at: number }[] = [];
  #lost = false;

  constructor(facts: FactsOf, opts: { limit?: number } = {}) {
    this.#facts = facts;
    this.#limit = opts.limit ?? DEFAULT_STATE_LIMIT;
  }

  // ---- decide ---------------------------------------------------------------------------

  /** statement resolves a prepared statement name at the end of what was sent. */
  statement(name: string): Lookup<StatementDef> {
    if (this.#lost) return undefined;
    const t = this.#stmtTouch.get(name);
    const g = this.#stmtAll;
    const gHere = g.pending > 0 && g.seg === this.#seg;
    if (t !== undefined && t.pending > 0 && t.seg === this.#seg) return gHere && g.seq > t.seq ? undefined : t.def;
    if (gHere) return undefined;
    if ((t !== undefined && t.pending > 0) || g.pending > 0) return WAIT;
    return this.#statements.get(name);
  }

  /** portal resolves a portal (or cursor) name at the end of what was sent. */
  portal(name: string): Lookup<PortalDef> {
    if (this.#lost) return undefined;
    const t = this.#portalTouch.get(name);
    const g = this.#portalAll;
    const gHere = g.pending > 0 && g.seg === this.#seg;
    if (t !== undefined && t.pending > 0 && t.seg === this.#seg) return gHere && g.seq > t.seq ? undefined : t.def;
    if (gHere) return undefined;
    if (this.#earlier > 0) return WAIT;
    return this.#portals.get(name);
  }

  /** inFlight tells whether anything sent is still unanswered. */
  get inFlight(): boolean {
    return this.#earlier + this.#current > 0;
  }

  /**
   * resolve replaces each EXECUTE / FETCH / MOVE in `cls` by what the named statement or cursor
   * runs, seeing what earlier statements of the same string define (`PREPARE a AS ...; EXECUTE
   * a`): the server stops a Query at its first error, so a later statement runs only if the
   * earlier ones succeeded. It also builds what each PREPARE / DECLARE defines. `binary` starts
   * as the caller's result format (a cursor may make it binary).
   */
  resolve(cls: Classification, binary = false, depth = 0): Resolution | Unknown | typeof WAIT {
    const sts = cls.statements;
    let out: StatementInfo[] | undefined;
    let note = '';
    let defs: (StatementDef | PortalDef | undefined)[] | undefined;
    let scope: Scope | undefined;
    for (let i = 0; i < sts.length; i++) {
      const s = sts[i];
      if (s.refers !== undefined) {
        const name = s.refers.name;
        const def =
          s.refers.kind === 'prepared'
            ? lookupIn(scope?.stmts, scope?.allStmts, name, this.statement(name))
            : lookupIn(scope?.portals, scope?.allPortals, name, this.portal(name));
        if (def === WAIT) return WAIT;
        if (def === undefined || depth >= MAX_DEPTH) return { unknown: s.refers.kind, name };
        // What the named statement runs may itself refer to a name (a Parse of "EXECUTE b").
        const inner = def.cls.statements.some((x) => x.refers !== undefined) ? this.resolve(def.cls, false, depth + 1) : undefined;
        if (inner === WAIT) return WAIT;
        if (inner !== undefined && 'unknown' in inner) return inner;
        const base = (inner ?? def).cls.statements;
        // EXECUTE's arguments are expressions the server evaluates as a SELECT of them.
        const args = s.operations.some((op) => op.reads.length + op.functions.length > 0);
        let ops: readonly Operation[];
        // The common case keeps the named statement's own (frozen) list: policy decisions are cached by it.
        if (base.length === 1 && !args) ops = base[0].operations;
        else {
          const all: Operation[] = base.flatMap((x) => x.operations);
          for (const op of s.operations)
            if (op.reads.length + op.functions.length > 0) all.push(Object.freeze({ ...op, class: 'select', unresolved: undefined }) as Operation);
          ops = Object.freeze(all);
        }
        (out ??= sts.slice(0, i)).push(Object.freeze({ ...s, operations: ops }));
        const verb = s.refers.kind === 'prepared' ? 'prepared statement' : 'cursor';
        note += `\n-- ${verb} ${JSON.stringify(name)} is: ${JSON.stringify(def.text)}`;
        if (inner?.note) note += inner.note;
        if ('binary' in def && def.binary) binary = true;
      } else if (out !== undefined) out.push(s);
      const made = this.#defines(s, cls);
      if (made !== undefined || s.forgets !== undefined || this.#endsTx(s) || runsCode(s)) {
        scope ??= {};
        if (made !== undefined) (defs ??= new Array(sts.length).fill(undefined))[i] = made;
        applyToScope(scope, s, made, this.#endsTx(s));
      }
    }
    const resolved = out === undefined ? cls : Object.freeze({ ...cls, statements: Object.freeze(out) });
    return { cls: resolved, note, binary, defs };
  }

  // #defines builds what a PREPARE or DECLARE statement defines when it succeeds.
  #defines(s: StatementInfo, cls: Classification): StatementDef | PortalDef | undefined {
    if (s.defines === undefined) return undefined;
    const own: Classification = Object.freeze({
      kind: 'sql',
      text: s.text,
      statements: Object.freeze([Object.freeze({ nodeType: s.nodeType, text: s.text, operations: s.operations })]),
    });
    if (s.defines.kind === 'prepared' && s.nodeType === 'PrepareStmt') return Object.freeze({ text: s.text, cls: own });
    if (s.defines.kind === 'cursor' && s.nodeType === 'DeclareCursorStmt') {
      const f = this.#facts(s);
      void cls;
      return { kind: 'cursor', text: s.text, cls: own, params: [], paramFormats: [], binary: f.binary === true, holdable: f.holdable === true, tx: 0, at: 0 };
    }
    return undefined;
  }

  #endsTx(s: StatementInfo): boolean {
    if (s.nodeType !== 'TransactionStmt') return false;
    const tx = this.#facts(s).tx;
    return tx !== 'begin' && tx !== 'savepoint' && tx !== 'release';
  }

  // ---- what the session sends -------------------------------------------------------------

  /** sent registers a message forwarded to the server (after deciding it). */
  sent(op: StateOp): void {
    this.#current++;
    this.#touches(op, +1);
    if (op.kind === 'query') this.#newSegment();
  }

  /** sentSync registers a Sync: what follows is a new segment. */
  sentSync(): void {
    this.#current++;
    this.#newSegment();
  }

  /** sentOther registers a message answered in turn that changes no name (Describe, FunctionCall, a refusal Query). */
  sentOther(endsSegment: boolean): void {
    this.#current++;
    if (endsSegment) this.#newSegment();
  }

  #newSegment(): void {
    this.#earlier += this.#current;
    this.#current = 0;
    this.#seg++;
  }

  // ---- what the server answers (evolve) ---------------------------------------------------

  /** settled: the server answered (or skipped) the message; `op` is its StateOp, if any. */
  settled(op: StateOp | undefined): void {
    if (this.#earlier > 0) this.#earlier--;
    else if (this.#current > 0) this.#current--;
    if (op === undefined) return;
    this.#touches(op, -1);
    if (op.kind === 'query') {
      // A simple Query replaces the unnamed statement and runs in the unnamed portal.
      this.#statements.delete('');
      this.#portals.delete('');
    }
  }

  /** parsed: ParseComplete. */
  parsed(op: ParseOp): void {
    if (op.def !== undefined) this.#putStatement(op.name, op.def);
  }

  /** bound: BindComplete (an unnamed portal replaces the previous one). */
  bound(op: BindOp): void {
    if (op.def === undefined) this.#portals.delete(op.name);
    else this.#putPortal(op.name, op.def);
  }

  /** closed: CloseComplete. */
  closed(op: CloseOp): void {
    if (op.target === 'S') this.#statements.delete(op.name);
    else this.#portals.delete(op.name);
  }

  /** completed: a CommandComplete of a Query or Execute; applies the statement it ends. */
  completed(op: RunOp): void {
    const i = op.next++;
    const s = op.statements[i];
    if (s === undefined) {
      if (op.opaque) this.#lost = true;
      return;
    }
    const d = op.defs?.[i];
    if (d !== undefined) {
      if ('kind' in d) this.#putPortal(s.defines!.name, d);
      else this.#putStatement(s.defines!.name, d);
    }
    const f = s.forgets;
    if (f !== undefined) {
      if (f.kind === 'all') {
        this.#statements.clear();
        this.#clearPortals(op);
        this.#lost = false;
      } else if (f.kind === 'prepared') {
        if (f.name !== '*') this.#statements.delete(f.name);
        else for (const k of [...this.#statements.keys()]) if (k !== '') this.#statements.delete(k);
      } else if (f.name !== '*') this.#portals.delete(f.name);
      else this.#clearPortals(op);
    }
    if (s.nodeType === 'TransactionStmt') this.#transaction(this.#facts(s));
    else if (runsCode(s)) {
      // A DO block or a procedure can PREPARE, DEALLOCATE, DECLARE and CLOSE (PL/pgSQL's EXECUTE,
      // OPEN and CLOSE of a refcursor) behind the proxy's back: what any name ran before is no
      // longer known. Names are refused until defined again.
      for (const k of [...this.#statements.keys()]) if (k !== '') this.#statements.delete(k);
      this.#clearPortals(op);
    }
  }

  /** failed: an ErrorResponse for `op` (undefined: for a message that changes no name). */
  failed(op: StateOp | undefined): void {
    this.#txFailed = true;
    // The server drops the unnamed statement before it parses the new one.
    if (op !== undefined && op.kind === 'parse' && op.name === '' && op.def !== undefined) this.#statements.delete('');
  }

  /** ready: ReadyForQuery with the server's transaction status. */
  ready(status: number): void {
    if (status === 0x49) this.#endTx(!this.#txFailed);
    else if (status === 0x45) this.#txFailed = true;
  }

  #transaction(f: { tx?: string; savepoint?: string }): void {
    switch (f.tx) {
      case 'commit':
      case 'commit-chain':
        return this.#endTx(!this.#txFailed);
      case 'rollback':
      case 'rollback-chain':
      case 'prepare':
        return this.#endTx(false);
      case 'savepoint':
        this.#savepoints.push({ name: f.savepoint ?? '', at: this.#created });
        return;
      case 'release': {
        const i = this.#savepointIndex(f.savepoint);
        if (i >= 0) this.#savepoints.length = i;
        return;
      }
      case 'rollback-to': {
        const i = this.#savepointIndex(f.savepoint);
        if (i < 0) return;
        const at = this.#savepoints[i].at;
        this.#savepoints.length = i + 1;
        for (const [k, e] of this.#portals) if (e.tx === this.#tx && e.at > at) this.#portals.delete(k);
        this.#txFailed = false;
        return;
      }
      default:
        return;
    }
  }

  #savepointIndex(name: string | undefined): number {
    for (let i = this.#savepoints.length - 1; i >= 0; i--) if (this.#savepoints[i].name === name) return i;
    return -1;
  }

  // #endTx ends the current transaction: its portals close, but a WITH HOLD cursor it made
  // lives on if it committed; cursors held from earlier transactions stay.
  #endTx(committed: boolean): void {
    const m = this.#portals;
    const only = m.size === 1 ? m.get('') : undefined;
    if (only !== undefined) {
      // The common case (a Bind per transaction): no iteration.
      if (only.tx === this.#tx) m.delete('');
    } else if (m.size > 0) {
      for (const [k, e] of m) {
        if (e.tx !== this.#tx) continue;
        if (committed && e.holdable) e.tx = -1;
        else m.delete(k);
      }
    }
    this.#tx++;
    this.#txFailed = false;
    this.#savepoints.length = 0;
  }

  #clearPortals(op: RunOp): void {
    for (const k of [...this.#portals.keys()]) if (!(op.kind === 'execute' && k === op.portal)) this.#portals.delete(k);
  }

  #putStatement(name: string, def: StatementDef): void {
    const m = this.#statements;
    m.delete(name);
    // Full: forget the oldest. That can only turn a later use into a refusal, never a wrong answer.
    if (m.size >= this.#limit) m.delete(m.keys().next().value as string);
    m.set(name, def);
  }

  #putPortal(name: string, def: PortalDef): void {
    const m = this.#portals;
    m.delete(name);
    if (m.size >= this.#limit) m.delete(m.keys().next().value as string);
    def.tx = this.#tx;
    def.at = ++this.#created;
    m.set(name, def);
  }

  // ---- the in-flight overlay --------------------------------------------------------------

  #touches(op: StateOp, d: 1 | -1): void {
    switch (op.kind) {
      case 'parse':
        if (op.def !== undefined) this.#touch(this.#stmtTouch, op.name, op.def, d);
        return;
      case 'bind':
        return this.#touch(this.#portalTouch, op.name, op.def, d);
      case 'close':
        if (op.target === 'S') this.#touch(this.#stmtTouch, op.name, undefined, d);
        else this.#touch(this.#portalTouch, op.name, undefined, d);
        return;
      default: {
        if (op.kind === 'query') {
          this.#touch(this.#stmtTouch, '', undefined, d);
          this.#touch(this.#portalTouch, '', undefined, d);
        }
        if (op.opaque) {
          this.#global(this.#stmtAll, d);
          this.#global(this.#portalAll, d);
        }
        const sts = op.statements;
        for (let i = 0; i < sts.length; i++) {
          const s = sts[i];
          const made = op.defs?.[i];
          if (made !== undefined) {
            if ('kind' in made) this.#touch(this.#portalTouch, s.defines!.name, made, d);
            else this.#touch(this.#stmtTouch, s.defines!.name, made, d);
          }
          const f = s.forgets;
          if (f !== undefined) {
            if (f.kind === 'all' || (f.kind === 'prepared' && f.name === '*')) this.#global(this.#stmtAll, d);
            if (f.kind === 'all' || (f.kind === 'cursor' && f.name === '*')) this.#global(this.#portalAll, d);
            if (f.name !== '*') this.#touch(f.kind === 'prepared' ? this.#stmtTouch : this.#portalTouch, f.name, undefined, d);
          }
          if (this.#endsTx(s)) this.#global(this.#portalAll, d);
          if (runsCode(s)) {
            this.#global(this.#stmtAll, d);
            this.#global(this.#portalAll, d);
          }
        }
      }
    }
  }

  #touch<T>(m: Map<string, Touch<T>>, name: string, def: T | undefined, d: 1 | -1): void {
    let t = m.get(name);
    if (d > 0) {
      if (t === undefined) m.set(name, (t = { pending: 0, seg: 0, seq: 0, def: undefined }));
      t.pending++;
      t.seg = this.#seg;
      t.seq = ++this.#seq;
      t.def = def;
      return;
    }
    if (t === undefined) return;
    // The unnamed statement and portal are touched by nearly every message: their records stay.
    if (--t.pending <= 0 && name !== '') m.delete(name);
  }

  #global(g: Global, d: 1 | -1): void {
    if (d > 0) {
      g.pending++;
      g.seg = this.#seg;
      g.seq = ++this.#seq;
    } else if (g.pending > 0) g.pending--;
  }

  /** size is the number of confirmed statements and portals (for tests and limits). */
  get size(): { statements: number; portals: number } {
    return { statements: this.#statements.size, portals: this.#portals.size };
  }
}

// runsCode: the statement runs code of the server's (a DO block, a procedure) that can define
// and drop prepared statements and cursors itself.
function runsCode(s: StatementInfo): boolean {
  return s.nodeType === 'DoStmt' || s.nodeType === 'CallStmt';
}

function lookupIn<T>(local: Map<string, T | undefined> | undefined, all: boolean | undefined, name: string, outer: Lookup<T>): Lookup<T> {
  if (local?.has(name)) return local.get(name);
  if (all) return undefined;
  return outer;
}

function applyToScope(scope: Scope, s: StatementInfo, made: StatementDef | PortalDef | undefined, endsTx: boolean): void {
  if (made !== undefined) {
    if ('kind' in made) (scope.portals ??= new Map()).set(s.defines!.name, made);
    else (scope.stmts ??= new Map()).set(s.defines!.name, made);
  }
  const f = s.forgets;
  if (f !== undefined) {
    if (f.kind === 'all' || (f.kind === 'prepared' && f.name === '*')) {
      scope.allStmts = true;
      scope.stmts?.clear();
    }
    if (f.kind === 'all' || (f.kind === 'cursor' && f.name === '*')) {
      scope.allPortals = true;
      scope.portals?.clear();
    }
    if (f.kind === 'prepared' && f.name !== '*') (scope.stmts ??= new Map()).set(f.name, undefined);
    if (f.kind === 'cursor' && f.name !== '*') (scope.portals ??= new Map()).set(f.name, undefined);
  }
  if (runsCode(s)) {
    scope.allStmts = true;
    scope.stmts?.clear();
    scope.allPortals = true;
    scope.portals?.clear();
  }
  if (endsTx) {
    // Portals may close with the transaction (a WITH HOLD cursor may not): refuse rather than guess.
    scope.allPortals = true;
    scope.portals?.clear();
  }
}
