import { LruCache } from './lru-cache.ts';
import type { SqlParseFn } from './sql-parser.ts';
import type { Classification, Operation, OperationClass, QualifiedName, StatementInfo } from './types.ts';

/**
 * SQL classification from PostgreSQL's own parse tree (libpg_query JSON).
 *
 * What a statement REALLY does is what counts: DML inside a CTE is its own write
 * operation, `EXPLAIN ANALYZE <dml>` is that DML, `PREPARE p AS <dml>` is that DML,
 * `DECLARE c CURSOR FOR <select>` is that select. Functions are collected from the whole
 * tree (subqueries, CTEs, casts, DEFAULT expressions, FROM-clause functions), so no
 * syntax variant of a call hides it. Identifiers come out of the parser already folded
 * (unquoted → lower case) and de-escaped (U&"\0063ustomers" → customers), so case games
 * and quoting cannot slip past a name match.
 */

type Node = Record<string, unknown>;

/** DEFAULT_SQL_MAX_LENGTH bounds the text the classifier accepts (characters). */
export const DEFAULT_SQL_MAX_LENGTH = 1 << 20;
/** DEFAULT_SQL_CACHE_SIZE is the number of classified texts the LRU keeps. */
export const DEFAULT_SQL_CACHE_SIZE = 2048;
/** SQL_CACHE_MAX_KEY bounds the length of a text kept in the cache so the cache's memory stays bounded. */
export const SQL_CACHE_MAX_KEY = 64 * 1024;

const DML = new Set(['InsertStmt', 'UpdateStmt', 'DeleteStmt', 'MergeStmt']);
const DML_CLASS: Record<string, OperationClass> = {
  InsertStmt: 'insert',
  UpdateStmt: 'update',
  DeleteStmt: 'delete',
  MergeStmt: 'merge',
};
const DCL = new Set([
  'GrantStmt',
  'GrantRoleStmt',
  'CreateRoleStmt',
  'AlterRoleStmt',
  'AlterRoleSetStmt',
  'DropRoleStmt',
  'AlterDefaultPrivilegesStmt',
  'ReassignOwnedStmt',
  'DropOwnedStmt',
  'AlterOwnerStmt',
  'CreateUserMappingStmt',
  'AlterUserMappingStmt',
  'DropUserMappingStmt',
  'AlterPolicyStmt',
  'CreatePolicyStmt',
]);
const DDL_EXTRA = new Set([
  'ViewStmt',
  'IndexStmt',
  'RuleStmt',
  'DefineStmt',
  'CompositeTypeStmt',
  'CommentStmt',
  'SecLabelStmt',
  'ImportForeignSchemaStmt',
  'RefreshMatViewStmt',
  'RenameStmt',
]);
const MAINTENANCE = new Set(['VacuumStmt', 'ClusterStmt', 'ReindexStmt', 'CheckPointStmt']);
const SIMPLE: Record<string, OperationClass> = {
  TransactionStmt: 'transaction',
  DoStmt: 'do',
  CallStmt: 'call',
  LockStmt: 'lock',
  ListenStmt: 'listen',
  UnlistenStmt: 'listen',
  NotifyStmt: 'listen',
  LoadStmt: 'load',
  AlterSystemStmt: 'alter-system',
  VariableShowStmt: 'show',
  TruncateStmt: 'truncate',
  ClosePortalStmt: 'cursor',
  FetchStmt: 'cursor',
  DeallocateStmt: 'deallocate',
  DiscardStmt: 'discard',
  ConstraintsSetStmt: 'transaction',
};

type Ctx = {
  cls: OperationClass;
  reads: QualifiedName[];
  writes: QualifiedName[];
  functions: QualifiedName[];
  columns: string[];
  settings: string[];
  unresolved?: boolean;
};

function newCtx(cls: OperationClass): Ctx {
  return { cls, reads: [], writes: [], functions: [], columns: [], settings: [] };
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** unwrap returns [type, body] for a libpg_query wrapper node `{ Type: {...} }`. */
function unwrap(n: unknown): [string, Node] | undefined {
  if (!n || typeof n !== 'object' || Array.isArray(n)) return undefined;
  const keys = Object.keys(n);
  if (keys.length !== 1 || !/^[A-Z]/.test(keys[0])) return undefined;
  const body = (n as Node)[keys[0]];
  return [keys[0], body && typeof body === 'object' ? (body as Node) : {}];
}

function rangeVarName(rv: Node): QualifiedName {
  const name = str(rv.relname) ?? '';
  const schema = str(rv.schemaname);
  // A catalog name (db.schema.table) is kept in front of the schema so a pattern cannot
  // confuse it with a plain schema-qualified name.
  const cat = str(rv.catalogname);
  if (schema !== undefined) return { schema: cat ? `${cat}.${schema}` : schema, name };
  return { name };
}

function nameList(list: unknown): string[] {
  if (!Array.isArray(list)) return [];
  return list.map((x) => str((unwrap(x)?.[1] ?? {}).sval) ?? '');
}

function qualifiedFrom(parts: string[]): QualifiedName {
  if (parts.length <= 1) return { name: parts[0] ?? '' };
  return { schema: parts.slice(0, -1).join('.'), name: parts[parts.length - 1] };
}

function isExplainAnalyze(options: unknown): boolean {
  if (!Array.isArray(options)) return false;
  for (const o of options) {
    const d = unwrap(o);
    if (!d || d[0] !== 'DefElem' || d[1].defname !== 'analyze') continue;
    const arg = unwrap(d[1].arg);
    if (!arg) return true;
    // EXPLAIN (ANALYZE false|off|0) does not execute; anything else we cannot rule out does.
    const v = arg[1];
    if (arg[0] === 'Boolean') return v.boolval === true;
    const s = String(v.sval ?? v.ival ?? '').toLowerCase();
    return !['false', 'off', '0', 'no'].includes(s);
  }
  return false;
}

/**
 * Walks one statement's tree. Each nested DML node (in a CTE, in EXPLAIN ANALYZE, in
 * PREPARE) opens its own operation so a write cannot hide behind a read.
 */
class StatementWalker {
  readonly ops: Ctx[] = [];
  readonly #targets = new Set<object>();
  readonly #seen = new Set<object>();

  /** run walks `node` under a fresh operation of class `cls`; `split` opens new operations for nested DML. */
  run(node: unknown, cls: OperationClass, split: boolean): Ctx {
    const ctx = newCtx(cls);
    this.ops.push(ctx);
    this.#walk(node, ctx, split);
    return ctx;
  }

  /** runSelect walks a SELECT; `SELECT ... INTO t` creates a table, so it is `ddl` writing `t`. */
  runSelect(body: Node): Ctx {
    const into = (body.intoClause as Node | undefined)?.rel as Node | undefined;
    if (into && typeof into === 'object') this.#targets.add(into);
    const c = this.run(body, 'select', true);
    if (into && typeof into === 'object') {
      c.cls = 'ddl';
      c.writes.push(rangeVarName(into));
    }
    return c;
  }

  /** openDml starts an operation for a DML node and records its write target. */
  openDml(type: string, body: Node, split: boolean, asClass?: OperationClass): Ctx {
    const ctx = newCtx(asClass ?? DML_CLASS[type]);
    this.ops.push(ctx);
    const rel = body.relation as Node | undefined;
    if (rel && typeof rel === 'object') {
      (asClass === 'explain' ? ctx.reads : ctx.writes).push(rangeVarName(rel));
      this.#targets.add(rel);
    }
    // Columns named as targets (INSERT INTO t (a, b), UPDATE t SET a = ...) are referenced too.
    for (const list of [body.cols, body.targetList]) {
      if (type === 'SelectStmt' || !Array.isArray(list)) continue;
      for (const rt of list) {
        const u = unwrap(rt);
        const name = u && u[0] === 'ResTarget' ? str(u[1].name) : undefined;
        if (name) ctx.columns.push(name);
      }
    }
    for (const [k, v] of Object.entries(body)) if (k !== 'relation') this.#walk(v, ctx, split);
    return ctx;
  }

  #walk(root: unknown, ctx: Ctx, split: boolean): void {
    // Iterative on purpose: parse trees of hostile input can be deep.
    const stack: Array<[unknown, Ctx]> = [[root, ctx]];
    while (stack.length > 0) {
      const [n, c] = stack.pop()!;
      if (n === null || typeof n !== 'object') continue;
      if (Array.isArray(n)) {
        for (let i = n.length - 1; i >= 0; i--) stack.push([n[i], c]);
        continue;
      }
      const w = unwrap(n);
      if (w) {
        const [type, body] = w;
        if (split && DML.has(type)) {
          this.openDml(type, body, split);
          continue;
        }
        if (type === 'FuncCall' && !this.#seen.has(body)) {
          this.#seen.add(body);
          c.functions.push(qualifiedFrom(nameList(body.funcname)));
        }
        if (type === 'ColumnRef') {
          const fields = Array.isArray(body.fields) ? body.fields : [];
          c.columns.push(fields.map((f) => (unwrap(f)?.[0] === 'A_Star' ? '*' : (str(unwrap(f)?.[1].sval) ?? ''))).join('.'));
        }
        stack.push([body, c]);
        continue;
      }
      const obj = n as Node;
      if (typeof obj.relname === 'string' && !this.#targets.has(obj)) {
        (c.cls === 'ddl' ? c.writes : c.reads).push(rangeVarName(obj));
      }
      // An unwrapped FuncCall (CallStmt.funccall) carries funcformat; CREATE FUNCTION's funcname does not.
      if (Array.isArray(obj.funcname) && obj.funcformat !== undefined && !this.#seen.has(obj)) {
        this.#seen.add(obj);
        c.functions.push(qualifiedFrom(nameList(obj.funcname)));
      }
      for (const v of Object.values(obj)) if (v !== null && typeof v === 'object') stack.push([v, c]);
    }
  }
}

function ctxFromOp(op: Operation): Ctx {
  return {
    cls: op.class,
    reads: [...op.reads],
    writes: [...op.writes],
    functions: [...op.functions],
    columns: [...op.columns],
    settings: [...op.settings],
    ...(op.unresolved ? { unresolved: true } : {}),
  };
}

function byteSlice(buf: Buffer, start: number, len: number | undefined): string {
  const end = len === undefined || len === 0 ? buf.length : start + len;
  return buf.subarray(start, end).toString('utf8').trim();
}

function freezeOp(c: Ctx): Operation {
  return Object.freeze({
    class: c.cls,
    reads: Object.freeze(c.reads),
    writes: Object.freeze(c.writes),
    functions: Object.freeze(c.functions),
    columns: Object.freeze([...new Set(c.columns)]),
    settings: Object.freeze(c.settings),
    args: Object.freeze([]),
    paths: Object.freeze([]),
    ...(c.unresolved ? { unresolved: true } : {}),
  }) as Operation;
}

/** classifyStatementNode classifies one `{ Type: body }` statement node from libpg_query. */
export function classifyStatementNode(stmt: Record<string, unknown>, text: string): StatementInfo {
  const [type, body] = unwrap(stmt) ?? ['Unknown', {}];
  const w = new StatementWalker();
  let extra: Pick<StatementInfo, 'defines' | 'refers' | 'forgets'> = {};

  const classifyInner = (q: unknown): void => {
    const inner = unwrap(q);
    if (!inner) return;
    if (DML.has(inner[0])) w.openDml(inner[0], inner[1], true);
    else if (inner[0] === 'SelectStmt') w.runSelect(inner[1]);
    else {
      // EXPLAIN ANALYZE of CREATE TABLE AS, EXECUTE, DECLARE ...: classify as a statement of its own.
      const nested = classifyStatementNode(q as Node, text);
      for (const op of nested.operations) w.ops.push(ctxFromOp(op));
      if (nested.refers) extra = { ...extra, refers: nested.refers };
      if (nested.defines) extra = { ...extra, defines: nested.defines };
    }
  };

  if (DML.has(type)) {
    w.openDml(type, body, true);
  } else if (type === 'SelectStmt') {
    w.runSelect(body);
  } else if (type === 'ExplainStmt') {
    if (isExplainAnalyze(body.options)) classifyInner(body.query);
    else w.run(body.query, 'explain', false);
  } else if (type === 'PrepareStmt') {
    classifyInner(body.query);
    extra = { ...extra, defines: { kind: 'prepared', name: str(body.name) ?? '' } };
  } else if (type === 'DeclareCursorStmt') {
    classifyInner(body.query);
    extra = { ...extra, defines: { kind: 'cursor', name: str(body.portalname) ?? '' } };
  } else if (type === 'ExecuteStmt') {
    const c = w.run(body.params, 'execute', true);
    c.unresolved = true;
    extra = { refers: { kind: 'prepared', name: str(body.name) ?? '' } };
  } else if (type === 'FetchStmt') {
    const c = w.run({}, 'cursor', false);
    c.unresolved = true;
    extra = { refers: { kind: 'cursor', name: str(body.portalname) ?? '' } };
  } else if (type === 'ClosePortalStmt') {
    w.run({}, 'cursor', false);
    extra = { forgets: body.portalname ? { kind: 'cursor', name: str(body.portalname)! } : { kind: 'cursor', name: '*' } };
  } else if (type === 'DeallocateStmt') {
    w.run({}, 'deallocate', false);
    extra = { forgets: body.isall || !body.name ? { kind: 'prepared', name: '*' } : { kind: 'prepared', name: str(body.name)! } };
  } else if (type === 'DiscardStmt') {
    w.run({}, 'discard', false);
    if (body.target === 'DISCARD_ALL') extra = { forgets: { kind: 'all', name: '*' } };
  } else if (type === 'CopyStmt') {
    const cls: OperationClass = body.is_program ? 'copy-program' : body.is_from ? 'copy-from' : 'copy-to';
    const c = newCtx(cls);
    w.ops.push(c);
    if (body.relation && typeof body.relation === 'object') {
      (body.is_from ? c.writes : c.reads).push(rangeVarName(body.relation as Node));
    }
    const { relation: _r, ...rest } = body;
    const sub = new StatementWalker();
    const inner = sub.run(rest, cls, true);
    c.reads.push(...inner.reads);
    c.functions.push(...inner.functions);
    c.columns.push(...inner.columns);
    w.ops.push(...sub.ops.slice(1));
  } else if (type === 'VariableSetStmt') {
    const name = str(body.name) ?? (body.kind === 'VAR_RESET_ALL' ? 'all' : '');
    const cls: OperationClass =
      name === 'role' ? 'set-role' : name === 'session_authorization' ? 'session-authorization' : 'set';
    w.run(body.args, cls, false).settings.push(name);
  } else if (type === 'VariableShowStmt') {
    w.run({}, 'show', false).settings.push(str(body.name) ?? '');
  } else if (type === 'AlterSystemStmt') {
    const set = (body.setstmt ?? {}) as Node;
    w.run(set.args, 'alter-system', false).settings.push(str(set.name) ?? 'all');
  } else if (SIMPLE[type]) {
    const cls = SIMPLE[type];
    const c = w.run(body, cls, false);
    if (cls === 'truncate') {
      c.writes.push(...c.reads);
      c.reads.length = 0;
    }
  } else if (DCL.has(type)) {
    w.run(body, 'dcl', false);
  } else if (MAINTENANCE.has(type)) {
    w.run(body, 'maintenance', false);
  } else if (/^(Create|Alter|Drop)/.test(type) || DDL_EXTRA.has(type)) {
    w.run(body, 'ddl', false);
  } else {
    w.run(body, 'utility', false);
  }
  return Object.freeze({
    nodeType: type,
    text,
    operations: Object.freeze(w.ops.map(freezeOp)),
    ...extra,
  });
}

/** classifyParsedSql turns a parse outcome into a Classification (pure). */
export function classifySqlWith(parse: SqlParseFn, sql: string, maxLength = DEFAULT_SQL_MAX_LENGTH): Classification {
  if (sql.length > maxLength) {
    return Object.freeze({
      kind: 'sql',
      text: sql.slice(0, 256),
      statements: Object.freeze([]),
      unparsable: Object.freeze({ message: `statement text of ${sql.length} characters exceeds the ${maxLength} limit` }),
    });
  }
  // An empty query string is legal (PostgreSQL answers EmptyQueryResponse) and does nothing.
  if (sql.trim() === '') return Object.freeze({ kind: 'sql', text: sql, statements: Object.freeze([]) });
  const out = parse(sql);
  if (!out.ok) {
    return Object.freeze({
      kind: 'sql',
      text: sql,
      statements: Object.freeze([]),
      unparsable: Object.freeze(out.position === undefined ? { message: out.message } : { message: out.message, position: out.position }),
    });
  }
  const buf = Buffer.from(sql, 'utf8');
  // libpg_query locations are byte offsets into the UTF-8 text.
  const statements = (out.tree.stmts ?? []).map((s) =>
    classifyStatementNode(s.stmt, byteSlice(buf, s.stmt_location ?? 0, s.stmt_len)),
  );
  return Object.freeze({ kind: 'sql', text: sql, statements: Object.freeze(statements) });
}

/** SqlClassifierOptions tune the cache and the size limit. */
export type SqlClassifierOptions = {
  readonly parse: SqlParseFn;
  readonly cacheSize?: number;
  readonly maxLength?: number;
};

/**
 * SqlClassifier classifies SQL text, remembering recent texts in a bounded LRU because
 * a proxy sees the same statement text many times. Results are frozen and shared, and
 * MUST NOT depend on session state: EXECUTE and FETCH come out `unresolved` and a
 * session's PreparedRegistry resolves them.
 */
export class SqlClassifier {
  readonly #parse: SqlParseFn;
  readonly #cache: LruCache<string, Classification>;
  readonly #maxLength: number;
  #hits = 0;
  #misses = 0;

  constructor(opts: SqlClassifierOptions) {
    this.#parse = opts.parse;
    this.#cache = new LruCache(opts.cacheSize ?? DEFAULT_SQL_CACHE_SIZE);
    this.#maxLength = opts.maxLength ?? DEFAULT_SQL_MAX_LENGTH;
  }

  /** classify returns the (possibly cached) classification of `sql`. */
  classify(sql: string): Classification {
    const hit = this.#cache.get(sql);
    if (hit) {
      this.#hits++;
      return hit;
    }
    this.#misses++;
    const c = classifySqlWith(this.#parse, sql, this.#maxLength);
    if (sql.length <= SQL_CACHE_MAX_KEY) this.#cache.set(sql, c);
    return c;
  }

  /** stats reports cache hits and misses (for metrics and tests). */
  stats(): { hits: number; misses: number; size: number } {
    return { hits: this.#hits, misses: this.#misses, size: this.#cache.size };
  }
}
