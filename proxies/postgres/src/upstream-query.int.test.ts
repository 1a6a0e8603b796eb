// queryUpstream against a real PostgreSQL: the proxy's own query right after its upstream login
// returns the first row by column name, an error rejects, and the connection then serves the
// session as usual (nothing of the proxy's query is left in the stream).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { RESOLUTION_QUERY, resolutionFromRow } from '@affidavit/access';
import { startPostgres, stopPostgres } from '../../../test/services/postgres.ts';
import { connectUpstream } from './upstream.ts';
import { queryUpstream } from './upstream-query.ts';
import { query, terminate } from './wire/index.ts';

after(() => stopPostgres());

async function upstream() {
  const pg = await startPostgres();
  return connectUpstream(
    {
      host: pg.host,
      port: pg.port,
      user: pg.user,
      password: pg.password,
      database: pg.database,
      tls: { ca: readFileSync(pg.caFile, 'utf8'), rejectUnauthorized: true, servername: 'localhost' },
      connectTimeoutMs: 10_000,
    },
    {},
  );
}

test('the resolution query answers with the session search_path, user and database', async () => {
  const up = await upstream();
  try {
    const row = await queryUpstream(up, RESOLUTION_QUERY, 5000);
    assert.ok(row);
    const ctx = resolutionFromRow({ search_path: row.search_path!, user_name: row.user_name!, database: row.database! });
    assert.deepEqual(ctx.searchPath, ['$user', 'public']);
    assert.equal(ctx.user, 'app');
    // The connection is clean afterwards: the next query's answer is its own.
    const chunks: Buffer[] = [];
    const answered = new Promise<void>((resolve) =>
      up.receive((c) => (chunks.push(c), Buffer.concat(chunks).includes(Buffer.from('Z\0\0\0\x05I')) && resolve())),
    );
    up.socket.resume();
    up.socket.write(query('SELECT 42 AS answer'));
    await answered;
    assert.ok(Buffer.concat(chunks).includes(Buffer.from('answer')));
  } finally {
    up.socket.end(terminate());
  }
});

test('an error answer rejects with the server message', async () => {
  const up = await upstream();
  try {
    await assert.rejects(queryUpstream(up, 'SELECT * FROM no_such_table_here', 5000), /refused the proxy query: relation "no_such_table_here" does not exist/);
  } finally {
    up.socket.end(terminate());
  }
});
