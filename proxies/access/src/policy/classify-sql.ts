import { splitIdentifierList } from './identifier-list.ts';
import { LruCache } from './lru-cache.ts';
import { RELATION_FUNCTIONS, STATISTICS_RELATIONS } from './relation-functions.ts';
import { mayBeCatalogRelation } from './resolve-names.ts';
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
 * and quoting cannot slip past a name match. A database qualifier (`db.schema.t`) is kept
 * apart in `catalog` for evaluate to check against the session's database. Functions that
 * read a table named by an argument (`table_to_xml('customers', ...)`, see
 * relation-functions.ts) count as reads of it; writes to the server's own catalogs are
 * `catalog-write` and COPY to or from a server file is `copy-file`.
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
  unresolvedReason?: string;
};

/** MAX_QUERY_TEXT_DEPTH bounds how deep SQL text handed to query_to_xml(...) is classified. */
const MAX_QUERY_TEXT_DEPTH = 4;

/** WRITE_CLASSES are the classes whose writes to a catalog relation make them `catalog-write`. */
const WRITE_CLASSES: ReadonlySet<OperationClass> = new Set<OperationClass>(['insert', 'update', 'delete', 'merge', 'truncate', 'copy-from']);

// Types a literal may be cast to and still name a relation the way regclass input reads it.
const NAME_TYPES = new Set(['regclass', 'text', 'varchar', 'name', 'bpchar', 'unknown']);

function unresolve(c: Ctx, reason: string): void {
  c.unresolved = true;
  c.unresolvedReason ??= reason;
}

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
  const catalog = str(rv.catalogname);
  // CREATE TEMP TABLE t: the relation lives in the session's temporary schema.
  if (schema === undefined && rv.relpersistence === 't') return { schema: 'pg_temp', name };
  if (schema === undefined) return { name };
  return catalog ? { catalog, schema, name } : { schema, name };
}

function nameList(list: unknown): string[] {
  if (!Array.isArray(list)) return [];
  return list.map((x) => str(unwrap(x)?.[1]?.sval) ?? '');
}

function qualifiedFrom(parts: string[]): QualifiedName {
  if (parts.length <= 1) return { name: parts[0] ?? '' };
  if (parts.length === 2) return { schema: parts[0], name: parts[1] };
  return { catalog: parts.slice(0, -2).join('.'), schema: parts[parts.length - 2], name: parts[parts.length - 1] };
}

/**
 * literalText returns the string a constant argument holds (`'customers'`,
 * `'customers'::regclass`, `text 'customers'`), or undefined for anything computed.
 */
function literalText(n: unknown): string | undefined {
  const w = unwrap(n);
  if (!w) return undefined;
  if (w[0] === 'A_Const') return str((w[1].sval as Node | undefined)?.sval);
  if (w[0] === 'TypeCast') {
    const names = nameList((w[1].typeName as Node | undefined)?.names);
    if (!NAME_TYPES.has(names[names.length - 1] ?? '')) return undefined;
    return literalText(w[1].arg);
  }
  return undefined;
}

/**
 * settingsUpdated returns the parameter names an UPDATE of pg_settings can change: the
 * literals of `name = '...'` / `name IN (...)` when the WHERE clause is such a test (or an AND
 * holding one), plus `*` (any setting) when it is not.
 */
function settingsUpdated(where: unknown): string[] {
  const names: string[] = [];
  const test = (n: unknown): boolean => {
    const w = unwrap(n);
    if (!w) return false;
    if (w[0] === 'BoolExpr' && w[1].boolop === 'AND_EXPR' && Array.isArray(w[1].args)) {
      let any = false;
      for (const a of w[1].args) any = test(a) || any;
      return any;
    }
    if (w[0] !== 'A_Expr') return false;
    const col = unwrap(w[1].lexpr);
    const fields = col && col[0] === 'ColumnRef' && Array.isArray(col[1].fields) ? col[1].fields : [];
    if (str(unwrap(fields[fields.length - 1])?.[1].sval) !== 'name') return false;
    const op = nameList(w[1].name).join('.');
    if (w[1].kind === 'AEXPR_OP' && op === '=') {
      const v = literalText(w[1].rexpr);
      if (v === undefined) return false;
      names.push(v);
      return true;
    }
    if (w[1].kind === 'AEXPR_IN' && op === '=') {
      const list = unwrap(w[1].rexpr);
      const items = list && list[0] === 'List' && Array.isArray(list[1].items) ? list[1].items : [];
      const vals = items.map(literalText);
      if (vals.length === 0 || vals.some((v) => v === undefined)) return false;
      names.push(...(vals as string[]));
      return true;
    }
    return false;
  };
  if (!test(where)) names.push('*');
  return names;
}

function isPgSettings(q: QualifiedName): boolean {
  return q.name === 'pg_settings' && (q.schema === undefined || q.schema === 'pg_catalog');
}

function isExplainAnalyze(options: unknown): boolean {
  if (!Array.isArray(options)) return false;
  for (const o of options) {
    const d = unwrap(o);
    if (d?.[0] !== 'DefElem' || d[1].defname !== 'analyze') continue;
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
  readonly #parse: SqlParseFn | undefined;
  readonly #depth: number;

  constructor(parse?: SqlParseFn, depth = 0) {
    this.#parse = parse;
    this.#depth = depth;
  }

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
      // A write that returns rows or filters them reads its target too (PostgreSQL asks for
      // SELECT privilege then): `UPDATE customers … RETURNING email` is a read of customers,
      // and so is `DELETE … WHERE email LIKE 'a%'` (its row count answers the predicate).
      const returning = (body.returningClause as Node | undefined)?.exprs ?? body.returningList; // PG 18 | older trees
      const reads =
        (Array.isArray(returning) && returning.length > 0) || body.whereClause !== undefined || type === 'MergeStmt' || body.onConflictClause !== undefined;
      if (asClass !== 'explain' && reads) ctx.reads.push(rangeVarName(rel));
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
    // UPDATE pg_settings SET setting = ... is set_config() in disguise: name what it sets.
    if (ctx.writes.some(isPgSettings)) ctx.settings.push(...settingsUpdated(body.whereClause));
    return ctx;
  }

  /**
   * #relationFunction records what a RELATION_FUNCTIONS call reads: the table its literal
   * argument names, the operations of the SQL text it runs, or, when the argument is computed,
   * an unresolved read (the policy treats it like unparsable SQL).
   */
  #relationFunction(fn: QualifiedName, body: Node, c: Ctx): void {
    const kind = RELATION_FUNCTIONS.get(fn.name);
    if (kind === undefined) return;
    const call = `${fn.name}()`;
    if (kind === 'database') return unresolve(c, `${call} reads every table of the database`);
    if (kind === 'cursor') return unresolve(c, `${call} reads the rows of a cursor by name`);
    const args = Array.isArray(body.args) ? body.args : [];
    // Named notation (tbl => 'x') may put the argument anywhere; only a first argument we can read counts.
    let first: unknown = args[0];
    const named = unwrap(first);
    if (named && named[0] === 'NamedArgExpr') first = ['tbl', 'query', 'schema', 'sqlquery'].includes(str(named[1].name) ?? '') ? named[1].arg : undefined;
    const text = literalText(first);
    if (text === undefined) return unresolve(c, `${call} reads a relation named by an expression, not a constant`);
    if (kind === 'schema') return unresolve(c, `${call} reads every table of schema "${text}"`);
    if (kind === 'relation') {
      const parts = splitIdentifierList(text, '.');
      // regclass input also takes a bare OID; which relation that is needs the catalog.
      if (!parts || parts.length === 0 || parts.length > 3 || /^\d+$/.test(text.trim()))
        return unresolve(c, `${call} reads relation ${JSON.stringify(text)}, which is not a name the proxy can resolve`);
      c.reads.push(qualifiedFrom(parts));
      return;
    }
    const parsed = this.#parse && this.#depth < MAX_QUERY_TEXT_DEPTH ? this.#parse(text) : undefined;
    if (!parsed?.ok) return unresolve(c, `${call} runs SQL text the proxy cannot classify`);
    for (const s of parsed.tree.stmts ?? []) {
      const nested = classifyStatementNode(s.stmt, text, this.#parse, this.#depth + 1);
      for (const op of nested.operations) {
        // Reads of the inner query are reads of this operation; anything else stands on its own.
        if (op.class === 'select' && !op.unresolved) {
          c.reads.push(...op.reads);
          c.functions.push(...op.functions);
          c.columns.push(...op.columns);
        } else this.ops.push(ctxFromOp(op));
      }
    }
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
          const fn = qualifiedFrom(nameList(body.funcname));
          c.functions.push(fn);
          this.#relationFunction(fn, body, c);
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
        const rel = rangeVarName(obj);
        (c.cls === 'ddl' ? c.writes : c.reads).push(rel);
        if (STATISTICS_RELATIONS.has(rel.name) && (rel.schema === undefined || rel.schema === 'pg_catalog')) {
          unresolve(c, `${rel.name} holds values sampled from every analysed table`);
        }
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
    ...(op.unresolvedReason !== undefined ? { unresolvedReason: op.unresolvedReason } : {}),
  };
}

function byteSlice(buf: Buffer, start: number, len: number | undefined): string {
  const end = len === undefined || len === 0 ? buf.length : start + len;
  return buf.subarray(start, end).toString('utf8').trim();
}

function freezeOp(c: Ctx): Operation {
  // Writing the server's own catalogs is DDL (or set_config) in disguise, whatever the verb.
  // LOCK of a catalog (LOCK pg_class) stalls every session's planning: as much a catalog change.
  const cls: OperationClass =
    (WRITE_CLASSES.has(c.cls) && c.writes.some(mayBeCatalogRelation)) || (c.cls === 'lock' && c.reads.some(mayBeCatalogRelation)) ? 'catalog-write' : c.cls;
  return Object.freeze({
    class: cls,
    reads: Object.freeze(c.reads),
    writes: Object.freeze(c.writes),
    functions: Object.freeze(c.functions),
    columns: Object.freeze([...new Set(c.columns)]),
    settings: Object.freeze(c.settings),
    args: Object.freeze([]),
    paths: Object.freeze([]),
    ...(c.unresolved ? { unresolved: true } : {}),
    ...(c.unresolvedReason !== undefined ? { unresolvedReason: c.unresolvedReason } : {}),
  }) as Operation;
}

/**
 * classifyStatementNode classifies one `{ Type: body }` statement node from libpg_query. With
 * `parse`, SQL text handed to functions that run it (query_to_xml) is classified too; without,
 * such a call is an unresolved read.
 */
export function classifyStatementNode(stmt: Record<string, unknown>, text: string, parse?: SqlParseFn, depth = 0): StatementInfo {
  const [type, body] = unwrap(stmt) ?? ['Unknown', {}];
  const w = new StatementWalker(parse, depth);
  let extra: Pick<StatementInfo, 'defines' | 'refers' | 'forgets'> = {};

  const classifyInner = (q: unknown): void => {
    const inner = unwrap(q);
    if (!inner) return;
    if (DML.has(inner[0])) w.openDml(inner[0], inner[1], true);
    else if (inner[0] === 'SelectStmt') w.runSelect(inner[1]);
    else {
      // EXPLAIN ANALYZE of CREATE TABLE AS, EXECUTE, DECLARE ...: classify as a statement of its own.
      const nested = classifyStatementNode(q as Node, text, parse, depth);
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
    const c = w.run({}, 'execute', false);
    c.unresolved = true;
    // The argument expressions run in THIS statement whatever the prepared one does
    // (EXECUTE p(table_to_xml('customers', ...))): an operation of their own, which resolving
    // the name to the prepared statement's operations MUST keep.
    if (Array.isArray(body.params) && body.params.length > 0) w.run(body.params, 'select', true);
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
    // A filename without PROGRAM is a file on the server, not the client's STDIN/STDOUT.
    const cls: OperationClass = body.is_program ? 'copy-program' : typeof body.filename === 'string' ? 'copy-file' : body.is_from ? 'copy-from' : 'copy-to';
    const c = newCtx(cls);
    w.ops.push(c);
    if (body.relation && typeof body.relation === 'object') {
      const rel = rangeVarName(body.relation as Node);
      (body.is_from ? c.writes : c.reads).push(rel);
      // COPY pg_class FROM 'file' also writes a catalog: let a catalog-write rule see it.
      if (body.is_from && cls !== 'copy-from' && mayBeCatalogRelation(rel)) {
        const cw = newCtx('catalog-write');
        cw.writes.push(rel);
        w.ops.push(cw);
      }
    }
    const { relation: _r, ...rest } = body;
    const sub = new StatementWalker(parse, depth);
    const inner = sub.run(rest, cls, true);
    c.reads.push(...inner.reads);
    c.functions.push(...inner.functions);
    c.columns.push(...inner.columns);
    if (inner.unresolved) unresolve(c, inner.unresolvedReason ?? 'COPY reads what the proxy cannot resolve');
    w.ops.push(...sub.ops.slice(1));
  } else if (type === 'VariableSetStmt') {
    const name = str(body.name) ?? (body.kind === 'VAR_RESET_ALL' ? 'all' : '');
    const cls: OperationClass = name === 'role' ? 'set-role' : name === 'session_authorization' ? 'session-authorization' : 'set';
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
  const statements = (out.tree.stmts ?? []).map((s) => classifyStatementNode(s.stmt, byteSlice(buf, s.stmt_location ?? 0, s.stmt_len), parse));
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
