import { effectiveSearchPath, parseSearchPath } from './resolve-names.ts';
import type { CatalogRelation, CatalogSnapshot, Classification, QualifiedName, ResolutionContext } from './types.ts';

/**
 * The catalog port: what the policy needs from the upstream server's catalog to resolve names
 * exactly (which schema of the path really holds a relation, and which tables a view reads).
 * The port is asynchronous (it is I/O); evaluate stays pure and synchronous, so the session
 * fetches what one statement needs BEFORE evaluating it (`prefetchCatalog`) and hands the
 * resulting snapshot in the ResolutionContext.
 */

/** RelationKey names one relation to look up. */
export type RelationKey = { readonly schema: string; readonly name: string };

/**
 * RelationCatalog is the port. `lookup` MUST return one entry per key it found and nothing for a
 * key that does not exist (absence is an answer: the resolver then skips that schema); it MUST
 * reject rather than return a partial answer, so a failure never reads as "does not exist".
 * `reads` of a view or materialized view are the relations its rewrite rule depends on.
 */
export type RelationCatalog = {
  lookup(keys: readonly RelationKey[]): Promise<readonly CatalogRelation[]>;
};

/** MAX_VIEW_DEPTH bounds how many levels of views over views are fetched for one statement. */
export const MAX_VIEW_DEPTH = 8;

const keyOf = (schema: string, name: string): string => JSON.stringify([schema, name]);

/**
 * prefetchCatalog asks the catalog about every relation `classification` names, in every schema
 * the session's path could resolve it to, then about the relations under each view it found
 * (down to MAX_VIEW_DEPTH), and returns a snapshot answering exactly those questions. Names it
 * did not ask about stay unknown to the snapshot (`known` is false), which the resolver treats as
 * "may exist" (strict). Cross-database names are not looked up (evaluate refuses them).
 */
export async function prefetchCatalog(port: RelationCatalog, classification: Classification, ctx: ResolutionContext): Promise<CatalogSnapshot> {
  const asked = new Set<string>();
  const found = new Map<string, CatalogRelation>();
  let keys: RelationKey[] = [];
  const want = (schema: string, name: string): void => {
    const k = keyOf(schema, name);
    if (asked.has(k)) return;
    asked.add(k);
    keys.push({ schema, name });
  };
  const path = effectiveSearchPath(ctx);
  const names: QualifiedName[] = [];
  for (const s of classification.statements) for (const op of s.operations) names.push(...op.reads, ...op.writes);
  for (const q of names) {
    if (q.catalog !== undefined && ctx.database !== undefined && q.catalog !== ctx.database) continue;
    if (q.schema !== undefined) want(q.schema, q.name);
    else for (const schema of path) want(schema, q.name);
  }
  for (let depth = 0; keys.length > 0 && depth <= MAX_VIEW_DEPTH; depth++) {
    const batch = keys;
    keys = [];
    for (const rel of await port.lookup(batch)) {
      found.set(keyOf(rel.schema, rel.name), rel);
      for (const under of rel.reads ?? []) want(under.schema, under.name);
    }
  }
  return {
    known: (schema, name) => asked.has(keyOf(schema, name)),
    lookup: (schema, name) => found.get(keyOf(schema, name)),
  };
}

/**
 * RESOLUTION_QUERY is what the session runs on its upstream connection after login (and again
 * after any statement for which `mayChangeResolution` is true) to learn how the server will
 * resolve names. Its one row goes to `resolutionFromRow`.
 */
export const RESOLUTION_QUERY =
  "SELECT pg_catalog.current_setting('search_path') AS search_path, current_user AS user_name, pg_catalog.current_database() AS database";

/**
 * resolutionFromRow builds the ResolutionContext from RESOLUTION_QUERY's row. A search_path this
 * module cannot read (the server accepted it, so that would be our bug) fails closed: the path
 * becomes an unexpanded `$user`, a schema no allow rule names, so unqualified names only ever
 * reach restricting rules and the default.
 */
export function resolutionFromRow(row: { readonly search_path: string; readonly user_name: string; readonly database: string }): ResolutionContext {
  const searchPath = parseSearchPath(row.search_path);
  if (searchPath === undefined) return { database: row.database, searchPath: ['$user'] };
  return { database: row.database, searchPath, user: row.user_name };
}

// Classes after which the session's search_path, role or database view may differ: SET/RESET,
// DISCARD ALL, role switches, UPDATE pg_settings, and anything that runs code (DO, CALL).
const CHANGES_RESOLUTION = new Set(['set', 'set-role', 'session-authorization', 'discard', 'catalog-write', 'do', 'call', 'utility']);

/**
 * mayChangeResolution tells whether, after `classification` ran, the session MUST read
 * RESOLUTION_QUERY again before evaluating the next statement: it set, reset or discarded a
 * setting, switched role, wrote pg_settings, ran code, called set_config(), or could not be
 * read. Because ROLLBACK (also to a savepoint) undoes a SET, the session MUST also read again
 * when a transaction in which such a statement ran ends. Plain COMMIT/BEGIN of transactions
 * without one need no round trip (pgbench's hot path). A user-defined function calling
 * set_config() internally is not seen here; a function allow-list (as the demo policy has)
 * keeps such functions out.
 */
export function mayChangeResolution(classification: Classification): boolean {
  if (classification.unparsable) return true;
  for (const s of classification.statements) {
    for (const op of s.operations) {
      if (CHANGES_RESOLUTION.has(op.class) || op.unresolved) return true;
      if (op.functions.some((f) => f.name === 'set_config')) return true;
    }
  }
  return false;
}
