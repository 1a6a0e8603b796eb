import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MaxAppendSizeExceededError, UnavailableError, WrongExpectedVersionError } from '@eventstore/db-client';
import { isAffidavitError } from '@affidavit/common';
import { ledgerStoreContract, testEntry } from '../ledger-store.contract.ts';
import { openEventStoreLedgerStore } from './eventstoredb-store.ts';
import { createFakeEsdbServer, fakeEsdbClient } from './fake-esdb-client.ts';
import { esdbEventId, nameUuid } from './esdb-events.ts';
import { translateEsdbError } from './esdb-errors.ts';

// The shared contract through the adapter's own logic, against an in-memory fake of the client.
ledgerStoreContract('eventstoredb adapter over a fake client', async () => {
  const server = createFakeEsdbServer();
  return { open: () => openEventStoreLedgerStore({ client: fakeEsdbClient(server) }) };
});

describe('eventstoredb adapter details', () => {
  test('ESDB event ids: UUID eventIds are used as is, others get a stable name-based UUIDv8', () => {
    const v7 = '0190F0E1-2B3C-7D4E-8F90-A1B2C3D4E5F6';
    assert.equal(esdbEventId('p0', v7), v7.toLowerCase());
    const r = esdbEventId('p0', 'rejected:t:0:5');
    assert.match(r, /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(esdbEventId('p0', 'rejected:t:0:5'), r);
    assert.notEqual(esdbEventId('p1', 'rejected:t:0:5'), r, 'the log id is part of the name');
    assert.notEqual(nameUuid('a'), nameUuid('b'));
  });

  test('driver errors are translated to typed ledger errors', () => {
    const wev = translateEsdbError(new WrongExpectedVersionError(undefined, { streamName: 's', expected: 1n, current: 2n }), 'x');
    assert.ok(isAffidavitError(wev, 'AFF_E_LEDGER_EXPECTED_SIZE'));
    assert.ok(isAffidavitError(translateEsdbError(new MaxAppendSizeExceededError(undefined, 1024), 'x'), 'AFF_E_LEDGER_BATCH_TOO_LARGE'));
    const down = translateEsdbError(new UnavailableError(undefined as never), 'x');
    assert.ok(isAffidavitError(down, 'AFF_E_LEDGER_STORE_UNAVAILABLE') && down.retriable);
    const other = translateEsdbError(new Error('boom'), 'x');
    assert.ok(isAffidavitError(other, 'AFF_E_LEDGER_STORE_UNAVAILABLE'));
  });

  test("a batch over the server's MaxAppendSize fails with AFF_E_LEDGER_BATCH_TOO_LARGE and writes nothing", async () => {
    const server = createFakeEsdbServer(4096);
    const store = await openEventStoreLedgerStore({ client: fakeEsdbClient(server) });
    const log = await store.openLog('p0');
    const big = Array.from({ length: 10 }, (_, i) => testEntry(i, { bytes: Buffer.alloc(1000, i) }));
    await assert.rejects(log.append({ entries: big }, 0), (e: unknown) => isAffidavitError(e, 'AFF_E_LEDGER_BATCH_TOO_LARGE'));
    assert.equal((await log.tail()).size, 0);
    await log.append({ entries: big.slice(0, 2) }, 0);
    assert.equal((await log.tail()).size, 2);
    await store.close();
  });

  test('a foreign event in the log stream makes opening fail with AFF_E_LEDGER_STORE_UNREADABLE', async () => {
    const server = createFakeEsdbServer();
    const client = fakeEsdbClient(server);
    await client.appendToStream('affidavit-ledger-p9', [
      { id: nameUuid('x'), type: 'SomethingElse', contentType: 'application/json', data: {}, metadata: undefined },
    ]);
    const store = await openEventStoreLedgerStore({ client });
    await assert.rejects(store.openLog('p9'), (e: unknown) => isAffidavitError(e, 'AFF_E_LEDGER_STORE_UNREADABLE'));
  });

  test('options: exactly one of connectionString and client', async () => {
    await assert.rejects(openEventStoreLedgerStore({}), (e: unknown) => isAffidavitError(e, 'AFF_E_CONFIG_INVALID'));
    await assert.rejects(openEventStoreLedgerStore({ connectionString: 'http://x' }), (e: unknown) => isAffidavitError(e, 'AFF_E_CONFIG_INVALID'));
  });
});
