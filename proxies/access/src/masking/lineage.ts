// Column lineage of one SQL text under a mask spec: which result columns derive from masked
// columns (and so are masked whole, whatever their name), and which uses of masked columns
// cannot be masked at all (predicates, side channels, casts that fail quoting the value, DML
// that copies them elsewhere), so the statement is refused. Pure: it reads libpg_query's
// parse tree and an optional catalog; the proxy gate (proxies/postgres) acts on the verdict.
//
// Without a catalog the analysis is conservative: a base table may own any column, so an
// unqualified `email` is masked when ANY relation in scope could own it, and `*` over a base
// table is left to the name-based masking of the result (RowDescription keeps column names).
//
// Residual inference channels, accepted and documented (SQL Server's dynamic data masking
// names the same ones): whether a statement over masked columns FAILS, and with which
// SQLSTATE (`1/(length(email)-15)` divides by zero for one length; the text is withheld, the
// code is not); its duration (`repeat('x', length(email) * 1e6)`); how many rows DISTINCT or
// an aggregate returns; NULLness of a plain masked column (as before lineage); side effects
// of user-defined functions, which are only "derived" here (policy should allow-list
// functions); predicates on columns whose rule says `predicates: allow`.
import { globMatch } from '../policy/glob.ts';
import type { SqlParseTree } from '../policy/sql-parser.ts';
import type { QualifiedName } from '../policy/types.ts';

/** Lineage is how a result column relates to masked columns. */
export type Lineage = 'clear' | 'plain' | 'derived';

/** MaskedSource names one masked column a value depends on (`relation` when known). */
export type MaskedSource = { readonly relation?: string; readonly column: string };

/**
 * OutputSlot is one entry of a statement's result shape: a single column, or an expansion of
 * unknown width (`*` over a base table without catalog, a function in FROM). `byName` marks
 * an expansion whose columns keep their source names, so name-based masking covers it.
 */
export type OutputSlot =
  | { readonly kind: 'column'; readonly name: string; readonly lineage: Lineage; readonly sources: readonly MaskedSource[] }
  | { readonly kind: 'expansion'; readonly relation: string; readonly lineage: Lineage; readonly byName: boolean; readonly sources: readonly MaskedSource[] };

/** StatementLineage is the lineage of one statement of the text. */
export type StatementLineage = {
  readonly nodeType: string;
  /** slots is the result shape (empty for statements that return no rows). */
  readonly slots: readonly OutputSlot[];
  /** indirect is set for EXECUTE/FETCH: the rows are those of a statement named elsewhere. */
  readonly indirect?: { readonly kind: 'prepared' | 'cursor'; readonly name: string };
  /** defines is set for PREPARE/DECLARE: `inner` is the lineage of the statement defined. */
  readonly defines?: { readonly kind: 'prepared' | 'cursor'; readonly name: string; readonly inner: StatementLineage };
};

/** LineageVerdict is the outcome for a whole SQL text. */
export type LineageVerdict =
  | { readonly kind: 'refuse'; readonly reason: string }
  | {
      readonly kind: 'ok';
      readonly statements: readonly StatementLineage[];
      /** touches is true when any masked column (or a relation that may own one) is read. */
      readonly touches: boolean;
    };

/**
 * LineageCatalog is the port to the upstream catalog: `columnsOf` returns a relation's
 * column names in order, or undefined when unknown (then the analysis assumes the worst).
 */
export type LineageCatalog = { columnsOf(rel: QualifiedName): readonly string[] | undefined };

/** LineageSpec is what the analysis needs of a mask decision. */
export type LineageSpec = {
  /** columns are the mask globs (`email`, `customers.card_number`, `public.customers.*`). */
  readonly columns: readonly string[];
  /** allowPredicates are the globs whose columns a policy lets predicates use (default none). */
  readonly allowPredicates?: readonly string[];
};

/**
 * SIDE_CHANNEL_FUNCTIONS carry a value out of the result: notifications, settings (seen as
 * ParameterStatus), timing, sequences, advisory locks (seen in pg_locks), large objects, WAL.
 */
export const SIDE_CHANNEL_FUNCTIONS: ReadonlySet<string> = new Set([
  'pg_notify',
  'set_config',
  'pg_sleep',
  'pg_sleep_for',
  'pg_sleep_until',
  'setval',
  'nextval',
  'pg_logical_emit_message',
  'pg_advisory_lock',
  'pg_advisory_xact_lock',
  'pg_advisory_lock_shared',
  'pg_advisory_xact_lock_shared',
  'pg_try_advisory_lock',
  'pg_try_advisory_xact_lock',
  'pg_try_advisory_lock_shared',
  'pg_try_advisory_xact_lock_shared',
  'lo_from_bytea',
  'lo_put',
  'lo_import',
  'lo_export',
  'pg_file_write',
  'dblink',
  'dblink_exec',
  'dblink_send_query',
  'pg_stat_statements_reset',
]);

/**
 * SET_RETURNING_FUNCTIONS return zero, one or many rows per call: given a masked value, how
 * many rows come back (`regexp_matches(email, '^a')` drops the row when it does not match) is
 * a predicate on it.
 */
export const SET_RETURNING_FUNCTIONS: ReadonlySet<string> = new Set([
  'unnest',
  'generate_series',
  'generate_subscripts',
  'regexp_matches',
  'regexp_split_to_table',
  'string_to_table',
  'json_array_elements',
  'json_array_elements_text',
  'jsonb_array_elements',
  'jsonb_array_elements_text',
  'json_each',
  'json_each_text',
  'jsonb_each',
  'jsonb_each_text',
  'json_object_keys',
  'jsonb_object_keys',
  'json_to_recordset',
  'jsonb_to_recordset',
  'json_populate_recordset',
  'jsonb_populate_recordset',
  'jsonb_path_query',
  'ts_stat',
  'ts_parse',
  'ts_debug',
  'xpath_table',
]);

/** SAFE_CAST_TYPES never fail on a text value, so a cast to them cannot quote it in an error. */
export const SAFE_CAST_TYPES: ReadonlySet<string> = new Set(['text', 'varchar', 'bpchar', 'char', 'name', 'character varying', 'character']);

// Functions that are casts in disguise: they fail on bad input and quote it.
/**
 * TOTAL_FUNCTIONS never raise an error for any value of their (already type-checked) inputs, so
 * a masked value may flow through them (the result is masked whole). Any other function, and
 * the arithmetic operators, can fail on some values (division by zero, overflow, a negative
 * square root, an invalid date), and whether a statement fails is a yes/no answer about the
 * value even with its message withheld: `1/(length(email)-26)` tells the length, then every
 * character. Those are refused (a red-team finding). `convert_to` counts only into UTF8.
 */
export const TOTAL_FUNCTIONS: ReadonlySet<string> = new Set([
  'upper',
  'lower',
  'initcap',
  'length',
  'char_length',
  'character_length',
  'octet_length',
  'bit_length',
  'md5',
  'concat',
  'concat_ws',
  'replace',
  'translate',
  'reverse',
  'btrim',
  'ltrim',
  'rtrim',
  'left',
  'right',
  'substr',
  'substring',
  'strpos',
  'position',
  'starts_with',
  'split_part',
  'lpad',
  'rpad',
  'encode',
  'row_to_json',
  'to_json',
  'to_jsonb',
  'json_build_object',
  'jsonb_build_object',
  'json_build_array',
  'jsonb_build_array',
  'json_agg',
  'jsonb_agg',
  'array_agg',
  'string_agg',
  'count',
  'min',
  'max',
  'array_to_string',
  'quote_literal',
  'lag',
  'lead',
  'first_value',
  'last_value',
  'nth_value',
  'quote_ident',
  'quote_nullable',
  'row',
]);
const UTF8_NAMES = new Set(['utf8', 'utf-8', 'unicode']);
/** ARITHMETIC_OPERATORS can fail on some values (overflow, division by zero, domain errors). */
const ARITHMETIC_OPERATORS = new Set(['+', '-', '*', '/', '%', '^', '|/', '||/', '@', '!', '<<', '>>']);

const CAST_FUNCTIONS: ReadonlySet<string> = new Set([
  'int2',
  'int4',
  'int8',
  'numeric',
  'float4',
  'float8',
  'bool',
  'date',
  'timestamp',
  'timestamptz',
  'time',
  'interval',
  'json',
  'jsonb',
  'uuid',
  'inet',
  'cidr',
  'regclass',
  'regproc',
  'regtype',
  'regnamespace',
  'regrole',
  'to_number',
  'to_date',
  'to_timestamp',
  'xml',
  'xmlparse',
  'money',
  'bytea',
  'decode',
]);

type Level = 0 | 1 | 2;
const LINEAGE: readonly Lineage[] = ['clear', 'plain', 'derived'];

/** Val is the lineage of one expression: its level and the masked columns it depends on. */
type Val = { readonly level: Level; readonly sources: readonly MaskedSource[] };
const CLEAR: Val = Object.freeze({ level: 0, sources: Object.freeze([]) });

function join(...vs: Val[]): Val {
  let level: Level = 0;
  const out: MaskedSource[] = [];
  const seen = new Set<string>();
  for (const v of vs) {
    if (v.level > level) level = v.level;
    for (const s of v.sources) {
      const k = `${s.relation ?? ''}\u0000${s.column}`;
      if (!seen.has(k)) {
        seen.add(k);
        out.push(s);
      }
    }
  }
  return level === 0 && out.length === 0 ? CLEAR : { level, sources: out };
}
const derive = (v: Val): Val => (v.level === 0 ? v : { level: 2, sources: v.sources });

type Slot = { kind: 'column'; name: string; val: Val } | { kind: 'expansion'; relation: string; val: Val; byName: boolean; base?: BaseRel };

type BaseRel = { kind: 'base'; alias: string; name: QualifiedName; columns: readonly string[] | undefined };
type DerivedRel = { kind: 'derived'; alias: string | undefined; slots: readonly Slot[] };
type Rel = BaseRel | DerivedRel;

type Scope = { rels: Rel[]; parent?: Scope; ctes: Map<string, Slot[]> };

type Node = Record<string, unknown>;

class Refusal extends Error {}

function unwrap(n: unknown): [string, Node] | undefined {
  if (!n || typeof n !== 'object' || Array.isArray(n)) return undefined;
  const keys = Object.keys(n);
  if (keys.length !== 1) return undefined;
  const v = (n as Node)[keys[0]];
  return v && typeof v === 'object' && !Array.isArray(v) ? [keys[0], v as Node] : undefined;
}
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const sval = (n: unknown): string | undefined => {
  const u = unwrap(n);
  return u && u[0] === 'String' ? (u[1].sval as string | undefined) : undefined;
};
const describe = (s: MaskedSource): string => (s.relation ? `${s.relation}.${s.column}` : s.column);

/**
 * analyseLineage computes the lineage of every statement of `tree` (libpg_query's parse of
 * one SQL text) under `spec`. It never throws on unknown constructs: an unknown expression is
 * derived from all its inputs, and an unknown statement that reads a masked column is refused.
 */
export function analyseLineage(tree: SqlParseTree, spec: LineageSpec, catalog?: LineageCatalog): LineageVerdict {
  const a = new Analyser(spec, catalog);
  const statements: StatementLineage[] = [];
  try {
    for (const s of tree.stmts ?? []) statements.push(a.statement(s.stmt));
  } catch (e) {
    if (e instanceof Refusal) return { kind: 'refuse', reason: e.message };
    throw e;
  }
  return { kind: 'ok', statements, touches: a.touches };
}

class Analyser {
  touches = false;
  readonly #globs: readonly string[];
  readonly #allow: ReadonlySet<string>;
  readonly #catalog: LineageCatalog | undefined;

  constructor(spec: LineageSpec, catalog: LineageCatalog | undefined) {
    this.#globs = spec.columns;
    this.#allow = new Set(spec.allowPredicates ?? []);
    this.#catalog = catalog;
  }

  // ---- masked columns -------------------------------------------------------------------

  /** matching returns the globs that name column `col` of relation `rel` (any relation when undefined). */
  #matching(rel: QualifiedName | undefined, col: string): string[] {
    return this.#globs.filter((g) => {
      const dot = g.lastIndexOf('.');
      if (dot < 0) return globMatch(g, col);
      if (!globMatch(g.slice(dot + 1), col)) return false;
      if (rel === undefined) return true;
      const table = g.slice(0, dot);
      return (
        globMatch(table, rel.name) ||
        (rel.schema !== undefined && globMatch(table, `${rel.schema}.${rel.name}`)) ||
        (rel.schema === undefined && globMatch(table, `public.${rel.name}`))
      );
    });
  }

  #baseColumn(rel: BaseRel, col: string): Val {
    if (rel.columns !== undefined && !rel.columns.includes(col)) return CLEAR;
    if (this.#matching(rel.name, col).length === 0) return CLEAR;
    this.touches = true;
    return { level: 1, sources: [{ relation: rel.name.name, column: col }] };
  }

  /** wholeBase is the lineage of a base relation's whole row: derived when it may own a masked column. */
  #wholeBase(rel: BaseRel): Val {
    if (rel.columns !== undefined) return derive(join(...rel.columns.map((c) => this.#baseColumn(rel, c))));
    const globs = this.#globs.filter((g) => {
      const dot = g.lastIndexOf('.');
      return dot < 0 || this.#matching(rel.name, g.slice(dot + 1)).includes(g);
    });
    if (globs.length === 0) return CLEAR;
    this.touches = true;
    return { level: 2, sources: globs.map((g) => ({ relation: rel.name.name, column: g.slice(g.lastIndexOf('.') + 1) })) };
  }

  #checkPredicate(v: Val, where: string): void {
    if (v.level === 0) return;
    for (const s of v.sources) {
      const globs = this.#matching(s.relation === undefined ? undefined : { name: s.relation }, s.column);
      if (globs.length > 0 && globs.every((g) => this.#allow.has(g))) continue;
      throw new Refusal(
        `the masked column ${describe(s)} is used in ${where}, which would reveal its values through which rows come back; the mask rule does not allow predicates on it`,
      );
    }
  }

  // ---- statements -----------------------------------------------------------------------

  statement(stmt: Node): StatementLineage {
    const [type, body] = unwrap(stmt) ?? ['Unknown', {}];
    const root: Scope = { rels: [], ctes: new Map() };
    switch (type) {
      case 'SelectStmt': {
        if (body.intoClause) return this.#copyOut(type, this.#select(body, root), 'SELECT INTO');
        return { nodeType: type, slots: this.#public(this.#select(body, root)) };
      }
      case 'InsertStmt':
      case 'UpdateStmt':
      case 'DeleteStmt':
        return { nodeType: type, slots: this.#public(this.#dml(type, body, root)) };
      case 'MergeStmt':
        if (this.#mentionsMasked(body)) throw new Refusal('MERGE over masked columns cannot be masked (its join condition and actions read them)');
        return { nodeType: type, slots: [] };
      case 'CopyStmt': {
        if (body.query) return this.#copyOut(type, this.#query(body.query, root), 'COPY');
        if (body.relation && !body.is_from) {
          const rel = this.#baseRel(body.relation as Node);
          const cols = list(body.attlist)
            .map(sval)
            .filter((c): c is string => c !== undefined);
          const v = cols.length > 0 ? join(...cols.map((c) => this.#baseColumn(rel, c))) : this.#wholeBase(rel);
          if (v.level > 0) throw new Refusal(`COPY of ${rel.name.name} would send the masked column ${describe(v.sources[0])} unmasked`);
        }
        return { nodeType: type, slots: [] };
      }
      case 'CreateTableAsStmt':
        return this.#copyOut(type, this.#query(body.query, root), 'CREATE TABLE AS');
      case 'ExplainStmt': {
        // The plan text carries no values, but EXPLAIN ANALYZE runs the statement: its
        // predicates and side channels are checked as if it ran.
        if (body.query) this.statement(body.query as Node);
        return { nodeType: type, slots: [{ kind: 'column', name: 'QUERY PLAN', lineage: 'clear', sources: [] }] };
      }
      case 'PrepareStmt':
      case 'DeclareCursorStmt': {
        const inner = this.statement(body.query as Node);
        const kind = type === 'PrepareStmt' ? 'prepared' : 'cursor';
        const name = String(type === 'PrepareStmt' ? body.name : body.portalname);
        return { nodeType: type, slots: [], defines: { kind, name, inner } };
      }
      case 'ExecuteStmt':
        for (const p of list(body.params)) this.#noSideChannel(this.#expr(p, root), 'EXECUTE parameters');
        return { nodeType: type, slots: [], indirect: { kind: 'prepared', name: String(body.name ?? '') } };
      case 'FetchStmt':
        return { nodeType: type, slots: [], indirect: { kind: 'cursor', name: String(body.portalname ?? '') } };
      default:
        if (this.#mentionsMasked(body)) throw new Refusal(`a ${type} statement that reads masked columns cannot be masked`);
        return { nodeType: type, slots: [] };
    }
  }

  #noSideChannel(v: Val, where: string): void {
    if (v.level > 0) throw new Refusal(`the masked column ${describe(v.sources[0])} is passed to ${where}, which cannot be masked`);
  }

  #copyOut(nodeType: string, slots: Slot[], what: string): StatementLineage {
    for (const s of slots) {
      if (s.val.level > 0 || (s.kind === 'expansion' && s.byName && s.base && this.#wholeBase(s.base).level > 0)) {
        const src = s.val.sources[0] ?? (s.kind === 'expansion' && s.base ? this.#wholeBase(s.base).sources[0] : undefined);
        throw new Refusal(`${what} would write the masked column ${src ? describe(src) : s.kind === 'column' ? s.name : s.relation} out unmasked`);
      }
    }
    return { nodeType, slots: [] };
  }

  #public(slots: readonly Slot[]): OutputSlot[] {
    return slots.map((s) =>
      s.kind === 'column'
        ? { kind: 'column', name: s.name, lineage: LINEAGE[s.val.level], sources: s.val.sources }
        : { kind: 'expansion', relation: s.relation, lineage: LINEAGE[s.val.level], byName: s.byName, sources: s.val.sources },
    );
  }

  #dml(type: string, body: Node, outer: Scope): Slot[] {
    const scope: Scope = { rels: [], parent: outer, ctes: new Map() };
    this.#with(body.withClause, scope);
    const target = this.#baseRel(body.relation as Node);
    const table = target.name.name;
    scope.rels.push(target);
    if (type === 'InsertStmt') {
      if (body.selectStmt) {
        const slots = this.#query(body.selectStmt, scope);
        for (const s of slots)
          if (s.val.level > 0 || (s.kind === 'expansion' && s.base && this.#wholeBase(s.base).level > 0)) {
            const src = s.val.sources[0] ?? (s.kind === 'expansion' && s.base ? this.#wholeBase(s.base).sources[0] : undefined);
            throw new Refusal(`INSERT into ${table} would copy the masked column ${src ? describe(src) : '?'} where masking no longer applies`);
          }
      }
      const oc = body.onConflictClause as Node | undefined;
      if (oc) {
        const ocScope: Scope = {
          rels: [target, { kind: 'derived', alias: 'excluded', slots: [{ kind: 'expansion', relation: 'excluded', val: CLEAR, byName: false }] }],
          parent: outer,
          ctes: scope.ctes,
        };
        for (const t of list(oc.targetList)) {
          const v = this.#expr(unwrap(t)?.[1]?.val, ocScope);
          if (v.level > 0) throw new Refusal(`INSERT ... ON CONFLICT DO UPDATE would copy the masked column ${describe(v.sources[0])} into ${table}`);
        }
        if (oc.whereClause) this.#checkPredicate(this.#expr(oc.whereClause, ocScope), 'ON CONFLICT ... WHERE');
      }
    } else {
      for (const f of list(type === 'UpdateStmt' ? body.fromClause : body.usingClause)) this.#from(f, scope, scope.rels);
      if (type === 'UpdateStmt') {
        for (const t of list(body.targetList)) {
          const v = this.#expr(unwrap(t)?.[1]?.val, scope);
          if (v.level > 0) throw new Refusal(`UPDATE of ${table} would copy the masked column ${describe(v.sources[0])} where masking no longer applies`);
        }
      }
      if (body.whereClause) this.#checkPredicate(this.#expr(body.whereClause, scope), `the WHERE clause of ${type === 'UpdateStmt' ? 'UPDATE' : 'DELETE'}`);
    }
    const returning = (body.returningClause as Node | undefined)?.exprs ?? body.returningList;
    return this.#targets(list(returning), scope);
  }

  // #query analyses a node that yields rows (a SelectStmt or a data-modifying statement).
  #query(n: unknown, outer: Scope): Slot[] {
    const u = unwrap(n);
    if (!u) return [];
    if (u[0] === 'SelectStmt') return this.#select(u[1], outer);
    if (u[0] === 'InsertStmt' || u[0] === 'UpdateStmt' || u[0] === 'DeleteStmt') return this.#dml(u[0], u[1], outer);
    if (this.#mentionsMasked(u[1])) throw new Refusal(`a ${u[0]} that reads masked columns cannot be masked`);
    return [];
  }

  #with(w: unknown, scope: Scope): void {
    const wc = w as Node | undefined;
    if (!wc) return;
    for (const c of list(wc.ctes)) {
      const cte = unwrap(c)?.[1];
      if (!cte) continue;
      const name = String(cte.ctename);
      const names = list(cte.aliascolnames).map(sval);
      const rename = (slots: Slot[]): Slot[] => this.#renamed(slots, names);
      if (wc.recursive) {
        // Iterate to a fixpoint: levels only grow, and there are three of them.
        let slots: Slot[] = names.map((nm) => ({ kind: 'column', name: nm ?? '?column?', val: CLEAR }));
        for (let i = 0; i < 6; i++) {
          scope.ctes.set(name, slots);
          const next = rename(this.#query(cte.ctequery, scope));
          const merged = next.map((s, k) => (s.kind === 'column' && slots[k]?.kind === 'column' ? { ...s, val: join(s.val, slots[k].val) } : s));
          const same =
            merged.length === slots.length &&
            merged.every((s, k) => s.val.level === slots[k].val.level && s.val.sources.length === slots[k].val.sources.length);
          slots = merged;
          if (same) break;
        }
        scope.ctes.set(name, slots);
      } else scope.ctes.set(name, rename(this.#query(cte.ctequery, scope)));
    }
  }

  #select(body: Node, outer: Scope): Slot[] {
    if (body.op && body.op !== 'SETOP_NONE') return this.#setOp(body, outer);
    const scope: Scope = { rels: [], parent: outer, ctes: new Map() };
    this.#with(body.withClause, scope);
    if (list(body.valuesLists).length > 0) {
      const rows = list(body.valuesLists).map((r) => list(unwrap(r)?.[1]?.items).map((e) => this.#expr(e, scope)));
      const width = Math.max(...rows.map((r) => r.length));
      return Array.from({ length: width }, (_, i) => ({ kind: 'column', name: `column${i + 1}`, val: join(...rows.map((r) => r[i] ?? CLEAR)) }) as Slot);
    }
    for (const f of list(body.fromClause)) this.#from(f, scope, scope.rels);
    const slots = this.#targets(list(body.targetList), scope);
    // What decides which rows come back, or in which order, is a predicate.
    if (body.whereClause) this.#checkPredicate(this.#expr(body.whereClause, scope), 'WHERE');
    if (body.havingClause) this.#checkPredicate(this.#expr(body.havingClause, scope), 'HAVING');
    for (const g of list(body.groupClause)) this.#checkPredicate(this.#byOutput(g, slots, scope), 'GROUP BY');
    for (const s of list(body.sortClause)) this.#checkPredicate(this.#byOutput(unwrap(s)?.[1]?.node, slots, scope), 'ORDER BY');
    const distinct = list(body.distinctClause);
    for (const d of distinct) this.#checkPredicate(this.#byOutput(d, slots, scope), 'DISTINCT ON');
    // Plain DISTINCT (`[{}]`) compares whole output rows, as GROUP BY would.
    if (distinct.length > 0 && distinct.every((d) => !unwrap(d))) for (const s of slots) this.#checkPredicate(this.#slotVal(s), 'SELECT DISTINCT');
    if (body.limitCount) this.#checkPredicate(this.#expr(body.limitCount, scope), 'LIMIT');
    if (body.limitOffset) this.#checkPredicate(this.#expr(body.limitOffset, scope), 'OFFSET');
    for (const w of list(body.windowClause)) this.#window(unwrap(w)?.[1], scope);
    return slots;
  }

  // #byOutput resolves a GROUP BY / ORDER BY / DISTINCT ON item: an ordinal or an output name
  // names a result column; anything else is an expression over the FROM items.
  #byOutput(n: unknown, slots: readonly Slot[], scope: Scope): Val {
    const u = unwrap(n);
    if (!u) return CLEAR;
    if (u[0] === 'A_Const' && u[1].ival !== undefined) {
      const k = Number((u[1].ival as Node).ival ?? 0) - 1;
      // Exact up to the first expansion of unknown width; past it, any column may be meant.
      const firstExp = slots.findIndex((s) => s.kind === 'expansion');
      if (firstExp < 0 || k < firstExp) return slots[k]?.val ?? CLEAR;
      return join(...slots.map((s) => this.#slotVal(s)));
    }
    let v = CLEAR;
    if (u[0] === 'ColumnRef') {
      const f = list(u[1].fields);
      const name = f.length === 1 ? sval(f[0]) : undefined;
      if (name !== undefined) for (const s of slots) if (s.kind === 'column' && s.name === name) v = join(v, s.val);
    }
    if (u[0] === 'GroupingSet') return join(v, ...list(u[1].content).map((c) => this.#byOutput(c, slots, scope)));
    return join(v, this.#expr(n, scope));
  }

  #slotVal(s: Slot): Val {
    if (s.kind === 'expansion' && s.byName && s.base) return join(s.val, this.#wholeBase(s.base));
    return s.val;
  }

  #window(w: Node | undefined, scope: Scope): void {
    if (!w) return;
    for (const p of list(w.partitionClause)) this.#checkPredicate(this.#expr(p, scope), 'a window PARTITION BY');
    for (const o of list(w.orderClause)) this.#checkPredicate(this.#expr(unwrap(o)?.[1]?.node, scope), 'a window ORDER BY');
  }

  #setOp(body: Node, outer: Scope): Slot[] {
    const scope: Scope = { rels: [], parent: outer, ctes: new Map() };
    this.#with(body.withClause, scope);
    const l = this.#select(body.larg as Node, scope);
    const r = this.#select(body.rarg as Node, scope);
    const op = String(body.op).replace('SETOP_', '');
    // UNION (without ALL), INTERSECT and EXCEPT compare rows: membership of a chosen value leaks.
    if (op !== 'UNION' || !body.all) for (const s of [...l, ...r]) this.#checkPredicate(this.#slotVal(s), `${op}${body.all ? ' ALL' : ''}`);
    for (const s of list(body.sortClause)) this.#checkPredicate(this.#byOutput(unwrap(s)?.[1]?.node, l, scope), 'ORDER BY');
    if (body.limitCount) this.#checkPredicate(this.#expr(body.limitCount, scope), 'LIMIT');
    if (body.limitOffset) this.#checkPredicate(this.#expr(body.limitOffset, scope), 'OFFSET');
    if (l.length === r.length && [...l, ...r].every((s) => s.kind === 'column')) {
      return l.map((s, i) => ({ kind: 'column', name: (s as { name: string }).name, val: join(s.val, r[i].val) }));
    }
    // The arms cannot be lined up column by column: every column may come from any of them.
    const all = derive(join(...[...l, ...r].map((s) => this.#slotVal(s))));
    return [{ kind: 'expansion', relation: op.toLowerCase(), val: all, byName: false }];
  }

  // ---- FROM -----------------------------------------------------------------------------

  #baseRel(rv: Node): BaseRel {
    const name: QualifiedName = { ...(rv.schemaname ? { schema: String(rv.schemaname) } : {}), name: String(rv.relname) };
    const alias = (rv.alias as Node | undefined)?.aliasname;
    return { kind: 'base', alias: alias !== undefined ? String(alias) : name.name, name, columns: this.#catalog?.columnsOf(name) };
  }

  // #from adds one FROM item's relations to `into`; `scope` is what lateral items may see.
  #from(n: unknown, scope: Scope, into: Rel[]): void {
    const u = unwrap(n);
    if (!u) return;
    const [type, b] = u;
    const aliasOf = (): { name?: string; cols: (string | undefined)[] } => {
      const al = b.alias as Node | undefined;
      return { name: al?.aliasname !== undefined ? String(al.aliasname) : undefined, cols: list(al?.colnames).map(sval) };
    };
    const renamed = (slots: Slot[], cols: (string | undefined)[]): Slot[] => this.#renamed(slots, cols);
    switch (type) {
      case 'RangeVar': {
        const cte = b.schemaname ? undefined : this.#cte(String(b.relname), scope);
        const al = aliasOf();
        if (cte) into.push({ kind: 'derived', alias: al.name ?? String(b.relname), slots: renamed(cte, al.cols) });
        else if (al.cols.length > 0) {
          // `customers AS c(a, b, x)` renames columns: names no longer say which is masked.
          const base = this.#baseRel(b);
          into.push({ kind: 'derived', alias: base.alias, slots: renamed(this.#relSlots(base), al.cols) });
        } else into.push(this.#baseRel(b));
        return;
      }
      case 'RangeSubselect': {
        // Every FROM item to the left is visible (PostgreSQL allows it only with LATERAL; seeing
        // more than the server does can only add candidates, never hide one).
        const sub: Scope = { rels: [...into], parent: scope, ctes: new Map() };
        const al = aliasOf();
        into.push({ kind: 'derived', alias: al.name, slots: renamed(this.#query(b.subquery, sub), al.cols) });
        return;
      }
      case 'RangeFunction': {
        // A function in FROM: every column it returns depends on all its arguments.
        const lat: Scope = { rels: [...into], parent: scope, ctes: new Map() };
        let v = CLEAR;
        const calls = list(b.functions).map((f) => list(unwrap(f)?.[1]?.items)[0]);
        for (const c of calls) v = join(v, this.#expr(c, lat));
        // Any function in FROM may return no row, or many, depending on its arguments.
        this.#checkPredicate(v, `a function in FROM (how many rows it returns depends on the value)`);
        v = derive(v);
        const al = aliasOf();
        const cols = [...al.cols, ...list(b.coldeflist).map((c) => String(unwrap(c)?.[1]?.colname ?? ''))].filter((c): c is string => !!c);
        const slots: Slot[] =
          cols.length > 0
            ? cols.map((c) => ({ kind: 'column', name: c, val: v }))
            : [{ kind: 'expansion', relation: al.name ?? 'function', val: v, byName: false }];
        into.push({ kind: 'derived', alias: al.name ?? this.#funcName(calls[0]) ?? 'function', slots });
        return;
      }
      case 'JoinExpr': {
        const mine: Rel[] = [];
        this.#from(b.larg, scope, mine);
        this.#from(b.rarg, { rels: [...into, ...mine], parent: scope.parent, ctes: scope.ctes }, mine);
        const joined: Scope = { rels: [...mine], parent: scope, ctes: new Map() };
        if (b.isNatural) {
          for (const r of mine) {
            const v = r.kind === 'base' ? this.#wholeBase(r) : join(...r.slots.map((s) => this.#slotVal(s)));
            if (v.level > 0) this.#checkPredicate(v, 'a NATURAL JOIN (its columns are not known without the catalog)');
          }
        }
        for (const c of list(b.usingClause)) {
          const name = sval(c);
          if (name !== undefined) this.#checkPredicate(this.#column([name], joined), 'JOIN ... USING');
        }
        if (b.quals) this.#checkPredicate(this.#expr(b.quals, joined), 'JOIN ... ON');
        const al = (b.alias as Node | undefined)?.aliasname;
        if (al !== undefined)
          into.push({
            kind: 'derived',
            alias: String(al),
            slots: this.#renamed(
              mine.flatMap((r) => this.#relSlots(r)),
              list((b.alias as Node).colnames).map(sval),
            ),
          });
        else into.push(...mine);
        return;
      }
      default:
        if (this.#mentionsMasked(b)) throw new Refusal(`a ${type} in FROM that reads masked columns cannot be masked`);
        into.push({ kind: 'derived', alias: undefined, slots: [{ kind: 'expansion', relation: type, val: CLEAR, byName: false }] });
    }
  }

  // #renamed applies column aliases (`AS s(a, b)`, `WITH t(a, b)`). Behind an expansion of
  // unknown width the positions they rename are unknown, so its columns no longer keep their
  // names: every expansion is then masked by position as what it may hold (derived).
  #renamed(slots: readonly Slot[], cols: readonly (string | undefined)[]): Slot[] {
    if (cols.length === 0) return [...slots];
    const blind = slots.some((s) => s.kind === 'expansion');
    return slots.map((s, i): Slot => {
      if (s.kind === 'expansion') return blind ? { kind: 'expansion', relation: s.relation, val: derive(this.#slotVal(s)), byName: false } : s;
      return !blind && cols[i] ? { ...s, name: cols[i]! } : s;
    });
  }

  #cte(name: string, scope: Scope | undefined): Slot[] | undefined {
    for (let s = scope; s; s = s.parent) {
      const c = s.ctes.get(name);
      if (c) return c;
    }
    return undefined;
  }

  #funcName(n: unknown): string | undefined {
    const u = unwrap(n);
    if (u?.[0] !== 'FuncCall') return undefined;
    const parts = list(u[1].funcname).map(sval);
    return parts[parts.length - 1];
  }

  #relSlots(r: Rel): Slot[] {
    if (r.kind === 'derived') return [...r.slots];
    if (r.columns !== undefined) return r.columns.map((c) => ({ kind: 'column', name: c, val: this.#baseColumn(r, c) }));
    const whole = this.#wholeBase(r);
    return [{ kind: 'expansion', relation: r.name.name, val: whole.level > 0 ? { level: 1, sources: whole.sources } : CLEAR, byName: true, base: r }];
  }

  // ---- target lists and expressions -----------------------------------------------------

  #targets(items: unknown[], scope: Scope): Slot[] {
    const out: Slot[] = [];
    for (const t of items) {
      const rt = unwrap(t)?.[1] ?? {};
      const cr = unwrap(rt.val);
      if (cr && cr[0] === 'ColumnRef') {
        const f = list(cr[1].fields);
        if (f.length > 0 && unwrap(f[f.length - 1])?.[0] === 'A_Star') {
          out.push(...this.#star(f.slice(0, -1).map(sval), scope));
          continue;
        }
      }
      const v = this.#expr(rt.val, scope);
      const name = rt.name !== undefined ? String(rt.name) : this.#nameOf(rt.val);
      out.push({ kind: 'column', name, val: v });
    }
    return out;
  }

  #nameOf(n: unknown): string {
    const u = unwrap(n);
    if (!u) return '?column?';
    if (u[0] === 'ColumnRef') return sval(list(u[1].fields).at(-1)) ?? '?column?';
    if (u[0] === 'FuncCall') return this.#funcName(n) ?? '?column?';
    if (u[0] === 'TypeCast') return this.#nameOf(u[1].arg);
    return '?column?';
  }

  #star(qual: (string | undefined)[], scope: Scope): Slot[] {
    if (qual.length === 0) return scope.rels.flatMap((r) => this.#relSlots(r));
    const r = this.#relByAlias(qual, scope);
    if (!r) return [{ kind: 'expansion', relation: qual.join('.'), val: derive(this.#unresolved(qual.join('.'))), byName: false }];
    return this.#relSlots(r);
  }

  #relByAlias(qual: (string | undefined)[], scope: Scope): Rel | undefined {
    const alias = qual[qual.length - 1];
    const schema = qual.length >= 2 ? qual[qual.length - 2] : undefined;
    for (let s: Scope | undefined = scope; s; s = s.parent) {
      for (const r of s.rels) {
        if (r.alias !== alias) continue;
        if (schema !== undefined && (r.kind !== 'base' || (r.name.schema ?? 'public') !== schema)) continue;
        return r;
      }
    }
    return undefined;
  }

  // #unresolved is the lineage of a name no relation in scope owns (an error at run time, or
  // a relation the analysis does not see): masked when its name matches a mask glob.
  #unresolved(col: string): Val {
    const globs = this.#matching(undefined, col.slice(col.lastIndexOf('.') + 1));
    if (globs.length === 0) return CLEAR;
    this.touches = true;
    return { level: 1, sources: [{ column: col }] };
  }

  // #column resolves a column reference `a.b.c` (without star).
  #column(fields: string[], scope: Scope): Val {
    const col = fields[fields.length - 1];
    if (fields.length >= 2) {
      const r = this.#relByAlias(fields.slice(0, -1), scope);
      if (r) return this.#relColumn(r, col).val;
      // `a.b` where `a` is no relation: a field of a composite column, or whole row `s.t`.
      const asRel = this.#relByAlias(fields, scope);
      if (asRel) return this.#whole(asRel);
      return derive(join(this.#column([fields[0]], scope), this.#unresolved(col)));
    }
    // One name: a column of some relation in scope (innermost level that surely has it), or
    // the whole row of a relation with that alias.
    let v = CLEAR;
    let found = false;
    let open = false; // some relation in scope has columns the analysis cannot list
    for (let s: Scope | undefined = scope; s; s = s.parent) {
      let sure = false;
      for (const r of s.rels) {
        open ||= r.kind === 'base' ? r.columns === undefined : r.slots.some((x) => x.kind === 'expansion');
        const c = this.#relColumn(r, col);
        if (c.maybe) {
          v = join(v, c.val);
          found = true;
          sure ||= c.sure;
        }
        if (r.alias === col) {
          v = join(v, this.#whole(r));
          found = true;
        }
      }
      if (sure) break;
    }
    // Not found where every column is known: the server fails with "column does not exist".
    return found ? v : open || scope.rels.length === 0 ? this.#unresolved(col) : CLEAR;
  }

  #relColumn(r: Rel, col: string): { val: Val; maybe: boolean; sure: boolean } {
    if (r.kind === 'base') {
      if (r.columns !== undefined) return { val: this.#baseColumn(r, col), maybe: r.columns.includes(col), sure: r.columns.includes(col) };
      return { val: this.#baseColumn(r, col), maybe: true, sure: false };
    }
    let v = CLEAR;
    let maybe = false;
    let sure = false;
    for (const s of r.slots) {
      if (s.kind === 'column') {
        if (s.name === col) {
          v = join(v, s.val);
          maybe = sure = true;
        }
      } else {
        maybe = true;
        v = join(v, s.byName && s.base ? this.#baseColumn(s.base, col) : s.val);
      }
    }
    return { val: v, maybe, sure };
  }

  #whole(r: Rel): Val {
    if (r.kind === 'base') return this.#wholeBase(r);
    return derive(join(...r.slots.map((s) => this.#slotVal(s))));
  }

  // #total: the call cannot fail whatever its masked inputs hold (TOTAL_FUNCTIONS; convert_to
  // only into UTF8, from a database whose text is UTF8 already).
  #total(name: string, call: Node): boolean {
    if (name === 'convert_to') {
      const enc = unwrap(list(call.args)[1]);
      const text = enc?.[0] === 'A_Const' ? ((enc[1] as Node).sval as { sval?: string } | undefined)?.sval : undefined;
      return text !== undefined && UTF8_NAMES.has(text.toLowerCase());
    }
    return TOTAL_FUNCTIONS.has(name);
  }

  #expr(n: unknown, scope: Scope): Val {
    const u = unwrap(n);
    if (!u) {
      if (Array.isArray(n)) return join(...n.map((x) => this.#expr(x, scope)));
      return CLEAR;
    }
    const [type, b] = u;
    switch (type) {
      case 'A_Const':
      case 'ParamRef':
      case 'SQLValueFunction':
      case 'SetToDefault':
      case 'String':
      case 'Integer':
      case 'Float':
      case 'Boolean':
        return CLEAR;
      case 'ColumnRef': {
        const f = list(b.fields);
        if (f.length > 0 && unwrap(f[f.length - 1])?.[0] === 'A_Star') {
          // `c.*` inside an expression (row(c.*), f(c.*)) is the whole row.
          return derive(join(...this.#star(f.slice(0, -1).map(sval), scope).map((s) => this.#slotVal(s))));
        }
        return this.#column(
          f.map((x) => sval(x) ?? ''),
          scope,
        );
      }
      case 'TypeCast': {
        const v = this.#expr(b.arg, scope);
        if (v.level > 0) {
          const names = list((b.typeName as Node | undefined)?.names).map(sval);
          const t = names[names.length - 1] ?? '';
          const isArray = list((b.typeName as Node | undefined)?.arrayBounds).length > 0;
          if (!SAFE_CAST_TYPES.has(t) || isArray) {
            throw new Refusal(
              `the masked column ${describe(v.sources[0])} is cast to ${t}${isArray ? '[]' : ''}; that cast can fail and the error would quote the value`,
            );
          }
          // A cast keeps a plain reference plain only when it changes nothing the client sees.
          return derive(v);
        }
        return v;
      }
      case 'FuncCall': {
        const name = (this.#funcName(n) ?? '').toLowerCase();
        const args = list(b.args).map((a) => this.#expr(a, scope));
        const inputs = join(...args, ...list(b.agg_order).map((o) => this.#expr(unwrap(o)?.[1]?.node, scope)));
        if (inputs.level > 0 && SIDE_CHANNEL_FUNCTIONS.has(name)) {
          throw new Refusal(
            `the masked column ${describe(inputs.sources[0])} is passed to ${name}(), whose effect is visible outside the result (a side channel)`,
          );
        }
        if (SET_RETURNING_FUNCTIONS.has(name))
          this.#checkPredicate(inputs, `the set-returning function ${name}() (how many rows it returns depends on the value)`);
        if (inputs.level > 0 && CAST_FUNCTIONS.has(name)) {
          throw new Refusal(`the masked column ${describe(inputs.sources[0])} is passed to ${name}(), which can fail and quote the value in its error`);
        }
        if (inputs.level > 0 && !SIDE_CHANNEL_FUNCTIONS.has(name) && !SET_RETURNING_FUNCTIONS.has(name) && !this.#total(name, b)) {
          throw new Refusal(
            `the masked column ${describe(inputs.sources[0])} is passed to ${name}(), which can fail on some values; whether it fails would tell the value`,
          );
        }
        if (b.agg_filter) this.#checkPredicate(this.#expr(b.agg_filter, scope), `the FILTER clause of ${name}()`);
        if (b.over) this.#window(b.over as Node, scope);
        // An unknown function is derived from all its inputs; so is every known one.
        return derive(inputs);
      }
      case 'A_Expr': {
        const v = join(this.#expr(b.lexpr, scope), this.#expr(b.rexpr, scope));
        const op = list(b.name).map(sval).join('.');
        if (v.level > 0 && b.kind === 'AEXPR_OP' && ARITHMETIC_OPERATORS.has(op.slice(op.lastIndexOf('.') + 1))) {
          throw new Refusal(
            `the masked column ${describe(v.sources[0])} is an operand of ${op}, which can fail on some values (overflow, division by zero); whether it fails would tell the value`,
          );
        }
        return derive(v);
      }
      case 'CaseExpr': {
        if (b.arg) this.#checkPredicate(this.#expr(b.arg, scope), 'a CASE comparison');
        let v = CLEAR;
        for (const w of list(b.args)) {
          const cw = unwrap(w)?.[1] ?? {};
          this.#checkPredicate(this.#expr(cw.expr, scope), 'a CASE WHEN condition');
          v = join(v, this.#expr(cw.result, scope));
        }
        return derive(join(v, this.#expr(b.defresult, scope)));
      }
      case 'SubLink': {
        const slots = this.#query(b.subselect, scope);
        const test = this.#expr(b.testexpr, scope);
        if (b.subLinkType === 'EXISTS_SUBLINK') return CLEAR;
        const first = b.subLinkType === 'EXPR_SUBLINK' || b.subLinkType === 'ARRAY_SUBLINK' ? slots.slice(0, 1) : slots;
        return derive(join(test, ...first.map((s) => this.#slotVal(s))));
      }
      case 'SelectStmt':
        return derive(join(...this.#query(n, scope).map((s) => this.#slotVal(s))));
      case 'A_Indirection':
        return derive(join(this.#expr(b.arg, scope), ...list(b.indirection).map((i) => (unwrap(i)?.[0] === 'String' ? CLEAR : this.#expr(i, scope)))));
      case 'MultiAssignRef':
        return this.#expr(b.source, scope);
      case 'ResTarget':
        return this.#expr(b.val, scope);
      default: {
        // Unknown or ordinary composite expressions (operators, BoolExpr, COALESCE, ROW, ARRAY,
        // NullTest, ...): derived from every input. A subquery met here is analysed as one.
        let v = CLEAR;
        for (const [k, child] of Object.entries(b)) {
          if (k === 'location' || k === 'typeName' || k === 'name' || child === null || typeof child !== 'object') continue;
          v = join(v, this.#expr(child, scope));
        }
        return derive(v);
      }
    }
  }

  // #mentionsMasked scans any subtree for a column reference or star that may read a masked
  // column: the fallback for constructs the analysis does not model.
  #mentionsMasked(n: unknown): boolean {
    if (Array.isArray(n)) return n.some((x) => this.#mentionsMasked(x));
    if (!n || typeof n !== 'object') return false;
    const u = unwrap(n);
    if (u && u[0] === 'ColumnRef') {
      const f = list(u[1].fields);
      const last = f[f.length - 1];
      if (unwrap(last)?.[0] === 'A_Star') return this.#globs.length > 0;
      const c = sval(last);
      if (c !== undefined && this.#matching(undefined, c).length > 0) return (this.touches = true);
      return f.length === 1 && c !== undefined && this.#globs.length > 0; // may be a whole-row reference
    }
    if (u && u[0] === 'RangeVar' && this.#wholeBase(this.#baseRel(u[1])).level > 0) return true;
    return Object.values(n as Node).some((x) => this.#mentionsMasked(x));
  }
}

/** ForcedColumn is a result position to mask whole, whatever its name. */
export type ForcedColumn = { readonly position: number; readonly lineage: 'plain' | 'derived' };

/**
 * forcedColumns maps a statement's slots onto a result of `count` columns (its RowDescription)
 * and returns the positions to mask whole: every column slot that is not clear, and every
 * column of a non-clear expansion that does not keep its source names. Expansions of unknown
 * width are placed from both ends; when a position cannot be placed (two expansions around
 * a masked column, or a count that does not fit the slots), EVERY column is returned as
 * derived: over-masking is the safe failure.
 */
export function forcedColumns(slots: readonly OutputSlot[], count: number): ForcedColumn[] {
  const everything = (): ForcedColumn[] => Array.from({ length: count }, (_, i) => ({ position: i, lineage: 'derived' as const }));
  const known = slots.filter((s) => s.kind === 'column').length;
  const unknown = slots.length - known;
  if (unknown === 0 && known !== count) return everything();
  if (known > count) return everything();
  const width = unknown === 1 ? count - known : undefined;
  const out: ForcedColumn[] = [];
  // From the start up to the first expansion, and from the end back to the last one.
  const firstExp = slots.findIndex((s) => s.kind === 'expansion');
  const lastExp = slots.length - 1 - [...slots].reverse().findIndex((s) => s.kind === 'expansion');
  let at = 0;
  for (let i = 0; i < slots.length; i++) {
    const s = slots[i];
    const needs = s.lineage !== 'clear' && !(s.kind === 'expansion' && s.byName);
    if (s.kind === 'column') {
      let pos: number | undefined;
      if (firstExp < 0 || i < firstExp) pos = i;
      else if (i > lastExp) pos = count - (slots.length - i);
      if (needs) {
        if (pos === undefined) return everything();
        out.push({ position: pos, lineage: s.lineage as 'plain' | 'derived' });
      }
      at++;
      continue;
    }
    if (needs) {
      if (width === undefined) return everything();
      for (let k = 0; k < width; k++) out.push({ position: at + k, lineage: 'derived' });
    }
    if (width !== undefined) at += width;
  }
  return out;
}
