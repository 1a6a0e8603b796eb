// --store parsing, and that the EventStoreDB client is loaded only when an esdb:// store is named.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describeStore, parseStoreSpec } from './store-selection.ts';

test('parseStoreSpec: sqlite:FILE, a bare file, esdb:// and esdb+discover://', () => {
  assert.deepEqual(parseStoreSpec('sqlite:/var/lib/ledger.sqlite'), { kind: 'sqlite', path: '/var/lib/ledger.sqlite' });
  assert.deepEqual(parseStoreSpec('ledger.sqlite'), { kind: 'sqlite', path: 'ledger.sqlite' });
  assert.deepEqual(parseStoreSpec('esdb://127.0.0.1:2113?tls=false'), { kind: 'eventstoredb', connectionString: 'esdb://127.0.0.1:2113?tls=false' });
  assert.equal(parseStoreSpec('esdb+discover://a,b,c').kind, 'eventstoredb');
});

test('parseStoreSpec refuses what names no store instead of creating a file of that name', () => {
  for (const bad of ['', 'sqlite:', 'postgres://db/ledger', 'http://x']) {
    assert.throws(() => parseStoreSpec(bad), { code: 'AFF_E_LEDGER_STORE_SPEC_INVALID' }, bad);
  }
});

test('describeStore hides credentials of an esdb URL', () => {
  assert.equal(describeStore(parseStoreSpec('esdb://admin:changeit@host:2113?tls=true')), 'esdb://***@host:2113?tls=true');
});

// A fresh process records every module it resolves: opening a SQLite store must not load the
// EventStoreDB client; naming an esdb:// store must (without contacting a server).
const probe = `
import { registerHooks } from 'node:module';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
const seen = [];
registerHooks({ resolve(spec, ctx, next) { seen.push(spec); return next(spec, ctx); } });
const { parseStoreSpec, openLedgerStore } = await import(${JSON.stringify(new URL('./store-selection.ts', import.meta.url).href)});
const s = await openLedgerStore(parseStoreSpec('sqlite:' + join(mkdtempSync(join(tmpdir(), 'aff-store-')), 'l.sqlite')));
await s.close();
const afterSqlite = seen.some((x) => x.includes('@eventstore/db-client'));
const e = await openLedgerStore(parseStoreSpec('esdb://127.0.0.1:1?tls=false'));
await e.close();
console.log(JSON.stringify({ afterSqlite, afterEsdb: seen.some((x) => x.includes('@eventstore/db-client')) }));
`;

test('the EventStoreDB adapter is loaded only when an esdb:// store is selected', () => {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', probe], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout.trim().split('\n').at(-1)!), { afterSqlite: false, afterEsdb: true });
});
