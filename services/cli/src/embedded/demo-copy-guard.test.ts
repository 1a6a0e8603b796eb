import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { initSqlParser, parsePostgres } from '@affidavit/access';
import { copyFromStdinGuard, COPY_FROM_STDIN_REFUSED } from './demo-copy-guard.ts';

before(() => initSqlParser());

test('COPY FROM STDIN is refused in every spelling; other statements pass', () => {
  const guard = copyFromStdinGuard(parsePostgres);
  for (const sql of [
    'copy orders from stdin',
    'COPY public.orders (product) FROM STDIN WITH (FORMAT csv)',
    'select 1; /* x */ CoPy "orders" from\nstdin;',
    'copy orders from pstdin',
  ]) {
    assert.equal(guard(sql), sql.includes('pstdin') ? undefined : COPY_FROM_STDIN_REFUSED, sql);
  }
  for (const sql of ['copy orders to stdout', "select 'copy orders from stdin'", 'select 1', 'copy (select 1) to stdout', 'not sql at all'])
    assert.equal(guard(sql), undefined, sql);
});
