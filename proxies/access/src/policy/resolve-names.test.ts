import { test } from 'node:test';
import assert from 'node:assert/strict';
import { splitIdentifierList, truncateIdentifier } from './identifier-list.ts';
import { effectiveSearchPath, parseSearchPath, resolveRelation } from './resolve-names.ts';
import type { CatalogRelation, CatalogSnapshot, ResolutionContext } from './types.ts';

const names = (ctx: ResolutionContext, name: string, schema?: string, catalog?: string) => {
  const r = resolveRelation({ name, ...(schema ? { schema } : {}), ...(catalog ? { catalog } : {}) }, ctx);
  return r.kind === 'candidates' ? r.candidates.map((c) => `${c.schema}.${c.name}`) : `other:${r.database}`;
};

test('splitIdentifierList follows SplitIdentifierString: quotes, doubled quotes, folding, errors', () => {
  assert.deepEqual(splitIdentifierList('"$user", public', ','), ['$user', 'public']);
  assert.deepEqual(splitIdentifierList('  Public ,"My ""S""chema",x  ', ','), ['public', 'My "S"chema', 'x']);
  assert.deepEqual(splitIdentifierList('', ','), []);
  assert.deepEqual(splitIdentifierList('demo."Public".CUSTOMERS', '.'), ['demo', 'Public', 'customers']);
  assert.equal(splitIdentifierList('a,,b', ','), undefined);
  assert.equal(splitIdentifierList('"open', ','), undefined);
  assert.equal(splitIdentifierList('a b', ','), undefined);
  assert.equal(splitIdentifierList('customers; drop table x', '.'), undefined);
  assert.equal(truncateIdentifier('x'.repeat(70)), 'x'.repeat(63));
  assert.equal(Buffer.byteLength(truncateIdentifier('ż'.repeat(40))), 62, 'never splits a character');
});

test('parseSearchPath reads what SHOW search_path prints', () => {
  assert.deepEqual(parseSearchPath('"$user", public'), ['$user', 'public']);
  assert.deepEqual(parseSearchPath('pg_temp, "Sales", public'), ['pg_temp', 'Sales', 'public']);
  assert.equal(parseSearchPath('a,'), undefined);
});

test('pg_catalog is searched first unless listed; $user is the login; the temp schema is not a candidate', () => {
  assert.deepEqual(effectiveSearchPath({ searchPath: ['$user', 'public'], user: 'app' }), ['pg_catalog', 'app', 'public']);
  assert.deepEqual(effectiveSearchPath({ searchPath: ['public', 'pg_catalog'] }), ['public', 'pg_catalog']);
  assert.deepEqual(effectiveSearchPath({ searchPath: ['pg_temp', 'public'] }), ['pg_catalog', 'public']);
  assert.deepEqual(effectiveSearchPath({ searchPath: ['$user', 'public'] }), ['pg_catalog', '$user', 'public'], 'unknown user stays literal: fail closed');
});

test('unqualified names may be any schema of the path; pg_catalog only for pg_* names', () => {
  const ctx: ResolutionContext = { database: 'demo', searchPath: ['$user', 'public'], user: 'app' };
  assert.deepEqual(names(ctx, 'customers'), ['app.customers', 'public.customers']);
  assert.deepEqual(names(ctx, 'pg_settings'), ['pg_catalog.pg_settings', 'app.pg_settings', 'public.pg_settings']);
  assert.deepEqual(names({ searchPath: ['public', 'pg_catalog'] }, 'pg_class'), ['public.pg_class', 'pg_catalog.pg_class']);
  assert.deepEqual(names({ searchPath: [] }, 'customers'), ['pg_temp.customers'], 'nowhere on the path: only a temp table');
  assert.deepEqual(names(ctx, 'customers', 'public'), ['public.customers']);
});

test('a database qualifier is checked against the session database', () => {
  const ctx: ResolutionContext = { database: 'demo', searchPath: ['public'] };
  assert.deepEqual(names(ctx, 'customers', 'public', 'demo'), ['public.customers']);
  assert.equal(names(ctx, 'customers', 'public', 'other'), 'other:other');
  assert.equal(names(ctx, 'customers', 'public', 'DEMO'), 'other:DEMO', 'database names compare exactly, as the server compares them');
  assert.deepEqual(
    names({ searchPath: ['public'] }, 'customers', 'public', 'other'),
    ['public.customers'],
    'unknown database: the same relation or a server error',
  );
});

function snapshot(rels: CatalogRelation[], asked: string[]): CatalogSnapshot {
  const byKey = new Map(rels.map((r) => [`${r.schema}.${r.name}`, r]));
  return { known: (s, n) => asked.includes(`${s}.${n}`), lookup: (s, n) => byKey.get(`${s}.${n}`) };
}

test('with a catalog, the search stops at the first schema holding the name and skips those known not to', () => {
  const cat = snapshot([{ oid: 1, schema: 'public', name: 'customers', kind: 'table' }], ['app.customers', 'public.customers']);
  assert.deepEqual(names({ searchPath: ['$user', 'public', 'sales'], user: 'app', catalog: cat }, 'customers'), ['public.customers']);
  const partial = snapshot([], ['app.customers']);
  assert.deepEqual(
    names({ searchPath: ['$user', 'public'], user: 'app', catalog: partial }, 'customers'),
    ['public.customers'],
    'not asked: still a candidate',
  );
});
