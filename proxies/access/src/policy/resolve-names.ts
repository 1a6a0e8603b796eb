import { splitIdentifierList } from './identifier-list.ts';
import type { QualifiedName, ResolutionContext } from './types.ts';

/**
 * Relation name resolution as the server does it, without a catalog unless one is given.
 *
 * SPEC: https://www.postgresql.org/docs/current/runtime-config-client.html#GUC-SEARCH-PATH
 *   "The system catalog schema, pg_catalog, is always searched, whether it is mentioned in the
 *   path or not. If it is mentioned in the path then it will be searched in the specified order.
 *   If pg_catalog is not in the path then it will be searched before searching any of the path
 *   items." / "the current session's temporary-table schema, pg_temp_nnn, is always searched if
 *   it exists ... If it is not listed in the path then it is searched first (even before
 *   pg_catalog)." / "If one of the list items is the special name $user, then the schema having
 *   the name returned by CURRENT_USER is substituted".
 * SPEC: https://www.postgresql.org/docs/current/sql-expressions.html (and namespace.c
 *   RangeVarGetRelidExtended): a catalog qualifier other than the current database fails with
 *   "cross-database references are not implemented".
 *
 * Without a catalog the resolver cannot know in which schema of the path an unqualified name
 * exists, so it returns every schema where it COULD exist (candidates); evaluate treats each as
 * possible and lets the strictest outcome win. Two deliberate narrowings keep allow rules usable:
 * - pg_catalog is a candidate only for names starting with `pg_`: every relation in pg_catalog is
 *   named so, and no ordinary user can add one (that needs allow_system_table_mods);
 * - the temporary schema is never a candidate of an unqualified name: it holds only what this
 *   session created, so a temp table shadowing `customers` is harmless to read or write, and the
 *   real `public.customers` stays a candidate, so the rules protecting it still apply.
 */

/** CATALOG_SCHEMAS are the schemas whose relations are the server's own (a write is `catalog-write`). */
export const CATALOG_SCHEMAS: ReadonlySet<string> = new Set(['pg_catalog', 'information_schema', 'pg_toast']);

/** TEMP_SCHEMA is the alias of the session's temporary schema. */
export const TEMP_SCHEMA = 'pg_temp';

/** Candidate is one relation a name may resolve to. */
export type Candidate = { readonly schema: string; readonly name: string };

/** ResolvedName is a relation name resolved against a session: its possible relations, or a refusal. */
export type ResolvedName =
  | { readonly kind: 'candidates'; readonly candidates: readonly Candidate[] }
  | { readonly kind: 'other-database'; readonly database: string };

/**
 * fallbackResolution is the context used when the session supplies none: the policy's default
 * schema as the whole search_path, and the database of the target when known.
 */
export function fallbackResolution(defaultSchema: string, database?: string): ResolutionContext {
  return database === undefined ? { searchPath: [defaultSchema] } : { database, searchPath: [defaultSchema] };
}

/**
 * parseSearchPath turns the text `SHOW search_path` returns (`"$user", public`) into schema
 * names. It returns undefined for text the server itself would reject, so a caller can fall
 * back (and a caller MUST NOT pass an empty path for an unreadable one).
 */
export function parseSearchPath(shown: string): string[] | undefined {
  return splitIdentifierList(shown, ',');
}

/**
 * effectiveSearchPath is the list of schemas the server really searches for a relation, in
 * order, with `$user` replaced (kept literally when the user is unknown, which no pattern but
 * `*` matches, so an allow rule naming schemas cannot match: fail closed) and pg_catalog
 * added in front when the path does not list it. The temporary schema is left out (see above).
 */
export function effectiveSearchPath(ctx: ResolutionContext): string[] {
  const out: string[] = [];
  const listed = ctx.searchPath.includes('pg_catalog');
  if (!listed) out.push('pg_catalog');
  for (const s of ctx.searchPath) {
    const schema = s === '$user' ? (ctx.user ?? '$user') : s;
    if (schema === TEMP_SCHEMA || /^pg_temp_\d+$/.test(schema)) continue;
    if (!out.includes(schema)) out.push(schema);
  }
  return out;
}

/**
 * resolveRelation returns the relations `q` may name in a session with context `ctx`. A
 * qualified name has one candidate; `db.schema.rel` is refused when `db` is not the session's
 * database (when that is unknown it is taken as the same database: the server either resolves
 * it so or fails the statement, and either way the rules for `schema.rel` are the strict
 * choice). With a catalog snapshot, schemas known not to hold the name are skipped and the
 * search stops at the first schema known to hold it, as the server's does.
 */
export function resolveRelation(q: QualifiedName, ctx: ResolutionContext): ResolvedName {
  if (q.catalog !== undefined && ctx.database !== undefined && q.catalog !== ctx.database) {
    return { kind: 'other-database', database: q.catalog };
  }
  if (q.schema !== undefined) return { kind: 'candidates', candidates: [{ schema: q.schema, name: q.name }] };
  const candidates: Candidate[] = [];
  for (const schema of effectiveSearchPath(ctx)) {
    if (schema === 'pg_catalog' && !q.name.startsWith('pg_') && !ctx.catalog?.lookup(schema, q.name)) continue;
    const cat = ctx.catalog;
    if (cat?.known(schema, q.name)) {
      if (cat.lookup(schema, q.name)) {
        candidates.push({ schema, name: q.name });
        return { kind: 'candidates', candidates };
      }
      continue;
    }
    candidates.push({ schema, name: q.name });
  }
  // Nowhere on the path (search_path = ''): only a temporary table can answer to the name.
  if (candidates.length === 0) candidates.push({ schema: TEMP_SCHEMA, name: q.name });
  return { kind: 'candidates', candidates };
}

/**
 * isCatalogCandidate tells whether a candidate is one of the server's own relations, so writing
 * it is a `catalog-write` whatever statement does it.
 */
export function isCatalogCandidate(c: Candidate): boolean {
  return CATALOG_SCHEMAS.has(c.schema);
}

/**
 * mayBeCatalogRelation is the classifier's session-free view of isCatalogCandidate: qualified
 * by a catalog schema, or unqualified and named `pg_*` (pg_catalog is searched first unless
 * the path lists it later).
 */
export function mayBeCatalogRelation(q: QualifiedName): boolean {
  if (q.schema !== undefined) return CATALOG_SCHEMAS.has(q.schema);
  return q.name.startsWith('pg_');
}
