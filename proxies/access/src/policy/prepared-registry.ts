import { operation } from './types.ts';
import type { Classification, Operation, StatementInfo } from './types.ts';

/** DEFAULT_PREPARED_LIMIT bounds the names one session's registry remembers. */
export const DEFAULT_PREPARED_LIMIT = 10_000;

/**
 * PreparedRegistry resolves `EXECUTE p` and `FETCH c` against the PREPARE / DECLARE statements
 * it was given before, ASSUMING EVERY ONE OF THEM SUCCEEDED. That makes it a tool for judging
 * a script on its own (the SQL corpus), NOT a model of a server session: a PREPARE of a name
 * that already exists fails on the server, and a registry that records it anyway would judge
 * the next EXECUTE as a statement other than the one that runs. The PostgreSQL proxy follows
 * its sessions with its own model, which changes only on the server's confirmation
 * (proxies/postgres/src/protocol-state.ts).
 *
 * SQL-level `PREPARE`/`DECLARE`/`DEALLOCATE`/`CLOSE`/`DISCARD ALL` are applied by
 * `apply()`; the extended protocol's named statements (Parse message) are added with
 * `registerPrepared()`. A name the registry does not know stays `unresolved`, which the
 * policy treats like unparsable SQL (default deny). When full, the oldest name is
 * forgotten: that can only turn a later EXECUTE into a refusal, never into a pass.
 */
export class PreparedRegistry {
  readonly #prepared = new Map<string, readonly Operation[]>();
  readonly #cursors = new Map<string, readonly Operation[]>();
  readonly #limit: number;

  constructor(opts: { limit?: number } = {}) {
    this.#limit = opts.limit ?? DEFAULT_PREPARED_LIMIT;
  }

  /** registerPrepared records what a named prepared statement (extended protocol Parse) does. */
  registerPrepared(name: string, classification: Classification): void {
    this.#put(this.#prepared, name, opsOf(classification));
  }

  /** registerCursor records what a named cursor (portal) returns. */
  registerCursor(name: string, classification: Classification): void {
    this.#put(this.#cursors, name, opsOf(classification));
  }

  /**
   * lookupPrepared returns a classification for executing a named statement (extended
   * protocol Bind/Execute), or an `unresolved` one when the name is unknown.
   */
  lookupPrepared(name: string): Classification {
    const ops = this.#prepared.get(name);
    const text = `EXECUTE ${JSON.stringify(name)}`;
    return Object.freeze({
      kind: 'sql',
      text,
      statements: Object.freeze([Object.freeze({ nodeType: 'ExecuteStmt', text, operations: ops ?? [unresolvedOp('execute')] })]),
    });
  }

  /** forget removes a prepared name (`Close` message, `DEALLOCATE`); `*` removes all. */
  forgetPrepared(name: string): void {
    if (name === '*') this.#prepared.clear();
    else this.#prepared.delete(name);
  }

  /**
   * apply runs a classification's statements against this session, in order: PREPARE and
   * DECLARE define names, DEALLOCATE/CLOSE/DISCARD ALL forget them, EXECUTE and FETCH are
   * replaced by the operations of the statement they name. It returns the resolved
   * classification (the input when nothing needed resolving).
   */
  apply(c: Classification): Classification {
    if (c.unparsable || c.statements.length === 0) return c;
    let changed = false;
    const out: StatementInfo[] = [];
    for (const s of c.statements) {
      let st = s;
      if (s.refers) {
        const ops = (s.refers.kind === 'prepared' ? this.#prepared : this.#cursors).get(s.refers.name);
        if (ops) {
          st = Object.freeze({ ...s, operations: ops });
          changed = true;
        }
      }
      if (s.defines) this.#put(s.defines.kind === 'prepared' ? this.#prepared : this.#cursors, s.defines.name, s.operations);
      if (s.forgets) {
        if (s.forgets.kind === 'all') {
          this.#prepared.clear();
          this.#cursors.clear();
        } else {
          const m = s.forgets.kind === 'prepared' ? this.#prepared : this.#cursors;
          if (s.forgets.name === '*') m.clear();
          else m.delete(s.forgets.name);
        }
      }
      out.push(st);
    }
    return changed ? Object.freeze({ ...c, statements: Object.freeze(out) }) : c;
  }

  /** size is the number of names remembered (prepared statements plus cursors). */
  get size(): number {
    return this.#prepared.size + this.#cursors.size;
  }

  #put(m: Map<string, readonly Operation[]>, name: string, ops: readonly Operation[]): void {
    m.delete(name);
    if (this.size >= this.#limit) {
      const victim = m.size > 0 ? m : this.#prepared.size > 0 ? this.#prepared : this.#cursors;
      victim.delete(victim.keys().next().value as string);
    }
    m.set(name, ops);
  }
}

function opsOf(c: Classification): readonly Operation[] {
  if (c.unparsable) return [unresolvedOp('execute')];
  return Object.freeze(c.statements.flatMap((s) => s.operations));
}

function unresolvedOp(cls: 'execute'): Operation {
  return operation(cls, { unresolved: true });
}
