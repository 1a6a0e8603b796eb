// A live, interactive psql session through the proxy: psql runs on a pseudo-terminal (util-linux
// `script`), as a person at a keyboard would run it, so readline, the prompt and Ctrl-C behave
// as they do for a user. One session sees a server NOTICE and a NOTIFY passed through, and
// statements held for approval that are approved, denied and withdrawn with Ctrl-C; a second
// proxy with a short approval timeout lets a request expire.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { findPostgresBinaries, stopPostgres } from '../../services/postgres.ts';
import { clientEnv, commandsOf, startRig, waitFor, type Rig } from './harness.ts';

let rig: Rig;
before(async () => {
  rig = await startRig();
  const r = await rig.psql(['-c', 'CREATE TABLE IF NOT EXISTS payments (id serial PRIMARY KEY, amount int)']);
  assert.equal(r.code, 0, r.stderr);
  // Writes to payments need approval, so a rerun's leftovers are removed on the server itself.
  const direct = await rig.pg.psql(['-c', 'DELETE FROM payments WHERE amount BETWEEN 70701 AND 70704']);
  assert.equal(direct.code, 0, direct.stderr);
});
after(async () => {
  await rig?.close();
  await stopPostgres();
});

/** PtyPsql drives psql on a pseudo-terminal and reads what the terminal shows. */
type PtyPsql = {
  /** screen is everything the terminal has shown so far. */
  readonly screen: () => string;
  /** type sends keystrokes (a line needs its own "\n"; "\x03" is Ctrl-C). */
  type(keys: string): void;
  /** expect waits until the terminal shows a match of `re` after position `from`. */
  expect(re: RegExp, from: number, what: string, timeoutMs?: number): Promise<RegExpExecArray>;
  /** exited resolves with psql's exit code once the terminal closes. */
  readonly exited: Promise<number>;
  /** kill ends the terminal (a failed test must not leave psql waiting for keystrokes). */
  kill(): void;
};

async function livePsql(r: Rig, token: string): Promise<PtyPsql> {
  const psql = join(findPostgresBinaries().binDir, 'psql');
  // `script -e` exits with psql's status; -f flushes every write so the test sees output at once.
  // script runs the command through $SHELL -c; `exec` makes psql replace that shell, because a
  // shell left waiting in the terminal's foreground group (dash does not exec the last command)
  // also receives the Ctrl-C and then dies of it once psql has exited, so script reports 130.
  const child: ChildProcessWithoutNullStreams = spawn('script', ['-qfec', `exec ${psql} -X -P pager=off`, '/dev/null'], {
    env: { ...clientEnv(r, token), TERM: 'dumb', SHELL: '/bin/sh' },
    stdio: 'pipe',
  });
  let screen = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (screen += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (screen += d));
  const exited = new Promise<number>((res) => child.on('close', (code) => res(code ?? -1)));
  return {
    screen: () => screen,
    type: (keys) => void child.stdin.write(keys),
    expect: (re, from, what, timeoutMs = 10_000) =>
      waitFor(
        () => {
          const g = new RegExp(re.source, `${re.flags.replace('g', '')}g`);
          g.lastIndex = from;
          return g.exec(screen) ?? undefined;
        },
        what,
        timeoutMs,
      ).catch((e: Error) => {
        throw new Error(`timed out waiting for ${what}; the terminal shows:\n${screen.slice(from)}`, { cause: e });
      }),
    exited,
    kill: () => void child.kill('SIGKILL'),
  };
}

const PROMPT = /app=> $/m;
const REQUEST = /approval request ([0-9a-f-]{36}) is waiting/;

test('interactive psql on a terminal: notices, notifications and approvals approved, denied and withdrawn with Ctrl-C', async () => {
  const m = rig.mark();
  const term = await livePsql(rig, await rig.token());
  let approved = '';
  let denied = '';
  let withdrawn = '';
  try {
    await term.expect(PROMPT, 0, 'the first prompt');

    // A server NOTICE is passed through as it came.
    let at = term.screen().length;
    term.type('DROP TABLE IF EXISTS no_such_table_here;\n');
    await term.expect(/NOTICE: {2}table "no_such_table_here" does not exist, skipping[\s\S]*DROP TABLE/, at, 'the server notice');

    // A NOTIFY from another session (also through the proxy) reaches the listening psql.
    at = term.screen().length;
    term.type('LISTEN affidavit_live;\n');
    await term.expect(/LISTEN[\s\S]*app=> $/m, at, 'LISTEN');
    const other = new pg.Client({
      host: '127.0.0.1',
      port: rig.port,
      user: 'alice',
      database: 'app',
      password: await rig.token(),
      ssl: { ca: readFileSync(rig.caFile, 'utf8') },
    });
    await other.connect();
    try {
      await other.query("NOTIFY affidavit_live, 'hello from the other session'");
    } finally {
      await other.end();
    }
    at = term.screen().length;
    term.type('SELECT 1 AS after_notify;\n');
    await term.expect(
      /Asynchronous notification "affidavit_live" with payload "hello from the other session" received from server process with PID \d+/,
      at,
      'the notification',
    );

    // Held for approval, then approved: the NOTICE names the request, and the row is inserted.
    at = term.screen().length;
    term.type('INSERT INTO payments (amount) VALUES (70701);\n');
    approved = (await term.expect(REQUEST, at, 'the first approval NOTICE'))[1];
    rig.decisions.decide(approved, { decision: 'approved', approver: null, justification: 'expected payment' });
    await term.expect(/INSERT 0 1/, at, 'the approved INSERT');

    // Held, then denied: an ERROR naming the request and the reason; the session goes on.
    at = term.screen().length;
    term.type('INSERT INTO payments (amount) VALUES (70702);\n');
    denied = (await term.expect(REQUEST, at, 'the second approval NOTICE'))[1];
    rig.decisions.decide(denied, { decision: 'denied', approver: null, justification: 'not this one' });
    const deniedError = await term.expect(
      /ERROR: {2}Affidavit approval request (\S+) was denied by bob@example\.com: not this one \(policy rule "payments-need-approval", AFF_E_PG_APPROVAL_REFUSED\)/,
      at,
      'the denial',
    );
    assert.equal(deniedError[1], denied);

    // Held, then withdrawn by the user with Ctrl-C: psql's CancelRequest ends the wait.
    at = term.screen().length;
    term.type('INSERT INTO payments (amount) VALUES (70703);\n');
    withdrawn = (await term.expect(REQUEST, at, 'the third approval NOTICE'))[1];
    term.type('\x03');
    await term.expect(new RegExp(`canceling statement due to user request \\(approval request ${withdrawn} withdrawn\\)`), at, 'the withdrawal');

    // A late decision on the withdrawn request changes nothing.
    rig.decisions.decide(withdrawn, { decision: 'approved', approver: null, justification: 'too late' });
    at = term.screen().length;
    term.type("SELECT string_agg(amount::text, ',' ORDER BY amount) AS inserted FROM payments WHERE amount BETWEEN 70701 AND 70703;\n");
    await term.expect(/inserted\s*\n-+\s*\n\s*70701\s*\n\(1 row\)/, at, 'only the approved row');

    term.type('\\q\n');
    assert.equal(await term.exited, 0, term.screen());
  } finally {
    term.kill();
  }

  await waitFor(() => rig.since(m).filter((e) => e.type === 'SessionEnded').length >= 2 || undefined, 'both sessions ended');
  const mine = rig.since(m).filter((e) => e.type !== 'SessionStarted' && e.type !== 'SessionEnded');
  const cmds = commandsOf(rig.since(m)).filter((c) => !c.text.startsWith('NOTIFY'));
  assert.deepEqual(
    cmds.map((c) => [c.text, c.decision, c.outcome]),
    [
      ['DROP TABLE IF EXISTS no_such_table_here;', 'allow', 'ok'],
      ['LISTEN affidavit_live;', 'allow', 'ok'],
      ['SELECT 1 AS after_notify;', 'allow', 'ok'],
      ['INSERT INTO payments (amount) VALUES (70701);', 'require_approval', 'ok'],
      ['INSERT INTO payments (amount) VALUES (70702);', 'require_approval', 'blocked'],
      ['INSERT INTO payments (amount) VALUES (70703);', 'require_approval', 'blocked'],
      ["SELECT string_agg(amount::text, ',' ORDER BY amount) AS inserted FROM payments WHERE amount BETWEEN 70701 AND 70703;", 'allow', 'ok'],
    ],
  );
  const requests = mine.filter((e) => e.type === 'ApprovalRequested').map((e) => (e.type === 'ApprovalRequested' ? e.requestId : ''));
  assert.deepEqual(requests, [approved, denied, withdrawn]);
  const reasons = cmds.map((c) => (c.event?.type === 'CommandBlocked' ? c.event.reason : null)).filter((r) => r !== null);
  assert.match(reasons[0] ?? '', new RegExp(`approval request ${denied} denied by bob@example\\.com: not this one`));
  assert.match(reasons[1] ?? '', new RegExp(`approval request ${withdrawn} cancelled by the client`));
});

test('an approval request nobody answers expires: the statement is refused and never runs', async () => {
  const short = await startRig({ approvalTimeoutMs: 1500 });
  try {
    const m = short.mark();
    const r = await short.psql(['-c', 'INSERT INTO payments (amount) VALUES (70704)']);
    assert.notEqual(r.code, 0);
    const request = REQUEST.exec(r.stderr)?.[1];
    assert.ok(request, r.stderr);
    assert.match(r.stderr, new RegExp(`ERROR: {2}Affidavit approval request ${request} expired: no decision before the deadline`));
    const count = await short.psql(['-A', '-t', '-c', 'SELECT count(*) FROM payments WHERE amount = 70704']);
    assert.equal(count.stdout.trim(), '0', count.stderr);
    await waitFor(() => short.since(m).filter((e) => e.type === 'SessionEnded').length >= 2 || undefined, 'SessionEnded');
    const ev = short.since(m);
    const decided = ev.find((e) => e.type === 'ApprovalDecided');
    assert.ok(decided?.type === 'ApprovalDecided' && decided.requestId === request && decided.decision === 'expired', JSON.stringify(decided));
    assert.deepEqual(
      commandsOf(ev).map((c) => [c.decision, c.outcome]),
      [
        ['require_approval', 'blocked'],
        ['allow', 'ok'],
      ],
    );
  } finally {
    await short.close();
  }
});
