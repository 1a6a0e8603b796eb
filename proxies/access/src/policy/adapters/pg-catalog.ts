import type { RelationCatalog, RelationKey } from '../catalog-port.ts';
import type { CatalogRelation, CatalogRelationKind } from '../types.ts';

/**
 * SqlQueryFn runs one parameterised query and returns its rows; node-postgres's
 * `client.query(text, values)` fits it as is. The adapter owns no connection: the caller
 * (the proxy's session, on its upstream link) decides which one and when.
 */
export type SqlQueryFn = (text: string, values: readonly unknown[]) => Promise<{ readonly rows: readonly Record<string, unknown>[] }>;

const KIND: Readonly<Record<string, CatalogRelationKind>> = {
  r: 'table',
  v: 'view',
  m: 'materialized-view',
  f: 'foreign-table',
  p: 'partitioned-table',
  S: 'sequence',
};

// One round trip: the relations asked about, and for views and materialized views the
// relations their rewrite rule depends on (pg_depend from pg_rewrite to pg_class, the view
// itself excluded). Qualified names only, so the session's own search_path cannot redirect it.
const LOOKUP_SQL = `
SELECT c.oid::int8 AS oid, n.nspname AS schema, c.relname AS name, c.relkind::text AS kind,
       (SELECT pg_catalog.array_agg(DISTINCT ARRAY[tn.nspname::text, t.relname::text])
          FROM pg_catalog.pg_rewrite r
          JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass
                                     AND d.objid = r.oid
                                     AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
          JOIN pg_catalog.pg_class t ON t.oid = d.refobjid
          JOIN pg_catalog.pg_namespace tn ON tn.oid = t.relnamespace
         WHERE r.ev_class = c.oid AND t.oid <> c.oid AND c.relkind IN ('v', 'm')) AS reads
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  JOIN ROWS FROM (pg_catalog.unnest($1::text[]), pg_catalog.unnest($2::text[])) AS k(schema, name) ON k.schema = n.nspname AND k.name = c.relname`;

/**
 * pgCatalog is the RelationCatalog adapter over PostgreSQL's own catalog (pg_class,
 * pg_namespace, pg_rewrite, pg_depend). It rejects when the query fails (the port's contract:
 * never a partial answer). Results are cached by name for `ttlMs` (and dropped by
 * `invalidate()`, which the session calls after DDL), so a hot statement costs no round trip.
 */
export function pgCatalog(query: SqlQueryFn, opts: { now: () => number; ttlMs?: number }): RelationCatalog & { invalidate(): void } {
  const now = opts.now;
  const ttl = opts.ttlMs ?? 30_000;
  const cache = new Map<string, { at: number; rel: CatalogRelation | undefined }>();
  const keyOf = (k: RelationKey): string => JSON.stringify([k.schema, k.name]);
  return {
    invalidate: () => cache.clear(),
    async lookup(keys) {
      const out: CatalogRelation[] = [];
      const missing: RelationKey[] = [];
      const t = now();
      for (const k of keys) {
        const hit = cache.get(keyOf(k));
        if (hit && t - hit.at < ttl) {
          if (hit.rel) out.push(hit.rel);
        } else missing.push(k);
      }
      if (missing.length === 0) return out;
      const { rows } = await query(LOOKUP_SQL, [missing.map((k) => k.schema), missing.map((k) => k.name)]);
      const got = new Map<string, CatalogRelation>();
      for (const row of rows) {
        const reads = Array.isArray(row.reads) ? (row.reads as string[][]).map(([schema, name]) => Object.freeze({ schema, name })) : undefined;
        const rel: CatalogRelation = Object.freeze({
          oid: Number(row.oid),
          schema: String(row.schema),
          name: String(row.name),
          kind: KIND[String(row.kind)] ?? 'other',
          ...(reads ? { reads: Object.freeze(reads) } : {}),
        });
        got.set(keyOf(rel), rel);
        out.push(rel);
      }
      for (const k of missing) cache.set(keyOf(k), { at: t, rel: got.get(keyOf(k)) });
      return out;
    },
  };
}
