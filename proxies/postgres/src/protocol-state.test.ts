// The protocol-state model, given/when/then: what a client sends, what the server answers, and
// what the model says a name runs. The server's answers go through the real ResponseRouter, as
// in a session. Every bait-and-switch of issue 15 class 1 is here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initSqlParser, parsePostgres, SqlClassifier } from '@affidavit/access';
import { CommandRun } from './command-run.ts';
import { ProtocolState, WAIT, type PortalDef, type Resolution, type Unknown } from './protocol-state.ts';
import { ResponseRouter, type Expect } from './response-router.ts';
import { statementFacts } from './statement-facts.ts';
import { bindComplete, closeComplete, commandComplete, errorResponse, parseComplete, readyForQuery } from './wire/index.ts';

await initSqlParser();
const classifier = new SqlClassifier({ parse: parsePostgres });

type Outcome = string | 'WAIT' | 'UNKNOWN';

/** Sim is a session without sockets: what it sends goes to the model as the session does it. */
class Sim {
  readonly model = new ProtocolState(statementFacts);
  readonly done: { text: string; outcome: string }[] = [];
  readonly router = new ResponseRouter(1 << 20, this.model, {
    completed: (cmd) =>
      this.done.push({
        text: cmd.text,
        outcome: cmd.finish(0).at(-1)!.type === 'CommandCompleted' ? ((cmd.finish(0).at(-1) as { errorCode: string | null }).errorCode ?? 'ok') : '?',
      }),
    notification: () => {},
    parameterStatus: () => {},
  });

  #cmd(text: string): CommandRun {
    return new CommandRun({ id: 'c', sessionId: 's', text, channel: 'simple', startedAt: 0 });
  }

  parse(name: string, text: string): void {
    this.router.expect({ kind: 'parse', name, def: { text, cls: classifier.classify(text) } });
  }

  bind(portal: string, statement: string, binary = false): 'WAIT' | undefined {
    const st = this.model.statement(statement);
    if (st === WAIT) return 'WAIT';
    const def: PortalDef | undefined =
      st === undefined ? undefined : { kind: 'bind', text: st.text, cls: st.cls, params: [], paramFormats: [], binary, holdable: false, tx: 0, at: 0 };
    this.router.expect({ kind: 'bind', name: portal, def });
  }

  close(target: 'S' | 'P', name: string): void {
    this.router.expect({ kind: 'close', target, name });
  }

  sync(): void {
    this.router.expect({ kind: 'sync' });
  }

  /** execute returns the text the proxy would record and send for Execute of `portal`. */
  execute(portal: string): Outcome {
    const d = this.model.portal(portal);
    if (d === WAIT) return 'WAIT';
    if (d === undefined) return 'UNKNOWN';
    let text = d.text;
    let defs: Resolution['defs'];
    if (d.kind === 'bind' && d.cls.statements.some((s) => s.refers || s.defines)) {
      const r = this.model.resolve(d.cls);
      if (r === WAIT) return 'WAIT';
      if ('unknown' in r) return 'UNKNOWN';
      text += r.note;
      defs = r.defs;
    }
    this.router.expect({ kind: 'execute', cmd: this.#cmd(text), statements: d.kind === 'bind' ? d.cls.statements : [], defs, opaque: false, portal, next: 0 });
    return text;
  }

  /** query returns the text recorded for a simple Query (with its note), or WAIT / UNKNOWN. */
  query(text: string): Outcome {
    const cls = classifier.classify(text);
    const r = this.model.resolve(cls);
    if (r === WAIT) return 'WAIT';
    if ('unknown' in r) return 'UNKNOWN';
    this.router.expect({ kind: 'query', cmd: this.#cmd(text + r.note), statements: cls.statements, defs: r.defs, opaque: false, portal: '', next: 0 });
    return text + r.note;
  }

  /** reply feeds the server's answers: 1 2 3 ParseComplete/BindComplete/CloseComplete, C:tag, E, Z:status. */
  reply(...answers: string[]): void {
    const bufs = answers.map((a) => {
      if (a === '1') return parseComplete();
      if (a === '2') return bindComplete();
      if (a === '3') return closeComplete();
      if (a.startsWith('C:')) return commandComplete(a.slice(2));
      if (a === 'E') return errorResponse({ severity: 'ERROR', code: '42P05', message: 'already exists' });
      if (a.startsWith('Z:')) return readyForQuery(a.slice(2) as 'I' | 'T' | 'E');
      throw new Error(`unknown answer ${a}`);
    });
    this.router.relay(Buffer.concat(bufs));
  }

  /** prepared: what EXECUTE of a prepared statement would run, resolved now (without sending). */
  runs(sql: string): string | 'WAIT' | 'UNKNOWN' {
    const r = this.model.resolve(classifier.classify(sql));
    if (r === WAIT) return 'WAIT';
    if ('unknown' in r) return 'UNKNOWN';
    return (r as Resolution).note;
  }
}

const isUnknown = (r: unknown): r is Unknown => typeof r === 'object' && r !== null && 'unknown' in r;
void isUnknown;

// ---- SQL PREPARE / EXECUTE ----------------------------------------------------------------

test('given a confirmed PREPARE a, when a second PREPARE a fails, then EXECUTE a runs (and is recorded as) the first text', () => {
  const s = new Sim();
  s.query('PREPARE a AS SELECT 1');
  s.reply('C:PREPARE', 'Z:I');
  s.query('PREPARE a AS DELETE FROM customers');
  s.reply('E', 'Z:I');
  const text = s.query('EXECUTE a');
  assert.match(text, /^EXECUTE a\n-- prepared statement "a" is: "PREPARE a AS SELECT 1"$/);
});

test('given PREPARE a in flight, when EXECUTE a is pipelined as a separate Query, then the model waits and then knows', () => {
  const s = new Sim();
  s.query('PREPARE a AS SELECT 1');
  s.reply('C:PREPARE', 'Z:I');
  s.query('PREPARE a AS DELETE FROM customers');
  assert.equal(s.query('EXECUTE a'), 'WAIT', 'the second PREPARE may or may not succeed');
  s.reply('E', 'Z:I');
  assert.match(s.query('EXECUTE a'), /SELECT 1/);
});

test('given PREPARE of a new name in flight, when EXECUTE follows in another Query, then it waits (the PREPARE may fail)', () => {
  const s = new Sim();
  s.query('PREPARE b AS SELECT 2');
  assert.equal(s.query('EXECUTE b'), 'WAIT');
  s.reply('C:PREPARE', 'Z:I');
  assert.match(s.query('EXECUTE b'), /SELECT 2/);
});

test('PREPARE and EXECUTE in one Query: the EXECUTE runs only if the PREPARE succeeded, so it is its text', () => {
  const s = new Sim();
  s.query('PREPARE a AS SELECT 1');
  s.reply('C:PREPARE', 'Z:I');
  // The server stops the Query at the PREPARE's error: EXECUTE never runs the old statement.
  assert.match(s.query('PREPARE a AS DELETE FROM customers; EXECUTE a'), /is: "PREPARE a AS DELETE FROM customers"/);
});

test('DEALLOCATE, DEALLOCATE ALL and DISCARD ALL forget names only when the server confirms', () => {
  const s = new Sim();
  s.query('PREPARE a AS SELECT 1; PREPARE b AS SELECT 2');
  s.reply('C:PREPARE', 'C:PREPARE', 'Z:I');
  s.query('DEALLOCATE a');
  s.reply('E', 'Z:I'); // refused by the server (say, an aborted transaction): a stays
  assert.match(s.query('EXECUTE a'), /SELECT 1/);
  s.reply('C:SELECT 1', 'Z:I');
  s.query('DEALLOCATE a');
  s.reply('C:DEALLOCATE', 'Z:I');
  assert.equal(s.query('EXECUTE a'), 'UNKNOWN');
  s.query('DEALLOCATE ALL');
  s.reply('C:DEALLOCATE ALL', 'Z:I');
  assert.equal(s.query('EXECUTE b'), 'UNKNOWN');
  s.query('PREPARE c AS SELECT 3');
  s.reply('C:PREPARE', 'Z:I');
  s.query('DISCARD ALL');
  s.reply('C:DISCARD ALL', 'Z:I');
  assert.equal(s.query('EXECUTE c'), 'UNKNOWN');
});

test('a name never prepared through the proxy is unknown (refused, never guessed)', () => {
  const s = new Sim();
  assert.equal(s.query('EXECUTE nope'), 'UNKNOWN');
  assert.equal(s.query('FETCH ALL FROM nope'), 'UNKNOWN');
  assert.equal(s.execute('nope'), 'UNKNOWN');
});

test('prepared statements are not transactional: a PREPARE in a rolled-back block stays', () => {
  const s = new Sim();
  s.query('BEGIN');
  s.reply('C:BEGIN', 'Z:T');
  s.query('PREPARE a AS SELECT 1');
  s.reply('C:PREPARE', 'Z:T');
  s.query('ROLLBACK');
  s.reply('C:ROLLBACK', 'Z:I');
  assert.match(s.query('EXECUTE a'), /SELECT 1/);
});

// ---- DECLARE / FETCH / CLOSE --------------------------------------------------------------

test('given cursor c, when a second DECLARE c fails and the block is rolled back to a savepoint, then FETCH c reads the first query', () => {
  const s = new Sim();
  s.query('BEGIN');
  s.reply('C:BEGIN', 'Z:T');
  s.query('DECLARE c CURSOR FOR SELECT 1');
  s.reply('C:DECLARE CURSOR', 'Z:T');
  s.query('SAVEPOINT sp');
  s.reply('C:SAVEPOINT', 'Z:T');
  s.query('DECLARE c CURSOR FOR SELECT * FROM customers');
  s.reply('E', 'Z:E');
  s.query('ROLLBACK TO SAVEPOINT sp');
  s.reply('C:ROLLBACK', 'Z:T');
  assert.match(s.query('FETCH ALL FROM c'), /cursor "c" is: "DECLARE c CURSOR FOR SELECT 1"/);
});

test('ROLLBACK TO closes the cursors declared since the savepoint', () => {
  const s = new Sim();
  s.query('BEGIN; SAVEPOINT a');
  s.reply('C:BEGIN', 'C:SAVEPOINT', 'Z:T');
  s.query('DECLARE c CURSOR FOR SELECT 1');
  s.reply('C:DECLARE CURSOR', 'Z:T');
  s.query('ROLLBACK TO a');
  s.reply('C:ROLLBACK', 'Z:T');
  assert.equal(s.query('FETCH c'), 'UNKNOWN');
});

test('a WITH HOLD cursor survives COMMIT; one without does not; a rolled-back WITH HOLD does not', () => {
  const s = new Sim();
  s.query('BEGIN');
  s.reply('C:BEGIN', 'Z:T');
  s.query('DECLARE h CURSOR WITH HOLD FOR SELECT 1');
  s.query('DECLARE n CURSOR FOR SELECT 2');
  s.reply('C:DECLARE CURSOR', 'Z:T', 'C:DECLARE CURSOR', 'Z:T');
  s.query('COMMIT');
  s.reply('C:COMMIT', 'Z:I');
  assert.match(s.query('FETCH h'), /SELECT 1/);
  s.reply('C:FETCH 1', 'Z:I');
  assert.equal(s.query('FETCH n'), 'UNKNOWN');
  s.query('BEGIN');
  s.reply('C:BEGIN', 'Z:T');
  s.query('DECLARE r CURSOR WITH HOLD FOR SELECT 3');
  s.reply('C:DECLARE CURSOR', 'Z:T');
  s.query('ROLLBACK');
  s.reply('C:ROLLBACK', 'Z:I');
  assert.equal(s.query('FETCH r'), 'UNKNOWN');
  assert.match(s.query('FETCH h'), /SELECT 1/, 'held from an earlier transaction: a rollback leaves it');
});

test('a WITH HOLD cursor declared outside a block commits with its statement, unless the statement string fails later', () => {
  const s = new Sim();
  s.query('DECLARE h CURSOR WITH HOLD FOR SELECT 1');
  s.reply('C:DECLARE CURSOR', 'Z:I');
  assert.match(s.query('FETCH h'), /SELECT 1/);
  s.reply('C:FETCH 1', 'Z:I');
  s.query('DECLARE g CURSOR WITH HOLD FOR SELECT 2; SELECT 1/0');
  s.reply('C:DECLARE CURSOR', 'E', 'Z:I');
  assert.equal(s.query('FETCH g'), 'UNKNOWN', 'the implicit transaction of the Query rolled back');
});

test('given a held cursor c, a second DECLARE c WITH HOLD fails: FETCH c reads the first', () => {
  const s = new Sim();
  s.query('DECLARE c CURSOR WITH HOLD FOR SELECT 1');
  s.reply('C:DECLARE CURSOR', 'Z:I');
  s.query('DECLARE c CURSOR WITH HOLD FOR SELECT * FROM customers');
  s.reply('E', 'Z:I');
  assert.match(s.query('FETCH ALL c'), /SELECT 1/);
});

test('CLOSE and CLOSE ALL forget cursors when confirmed; a failing CLOSE keeps it', () => {
  const s = new Sim();
  s.query('BEGIN; DECLARE a CURSOR FOR SELECT 1; DECLARE b CURSOR FOR SELECT 2');
  s.reply('C:BEGIN', 'C:DECLARE CURSOR', 'C:DECLARE CURSOR', 'Z:T');
  s.query('CLOSE a');
  s.reply('C:CLOSE CURSOR', 'Z:T');
  assert.equal(s.query('FETCH a'), 'UNKNOWN');
  assert.match(s.query('FETCH b'), /SELECT 2/);
  s.reply('C:FETCH 1', 'Z:T');
  s.query('CLOSE ALL');
  s.reply('C:CLOSE CURSOR ALL', 'Z:T');
  assert.equal(s.query('FETCH b'), 'UNKNOWN');
});

test('CLOSE c, then a function, then FETCH c in one Query: c is unknown (a function may have opened another c)', () => {
  const s = new Sim();
  s.query('BEGIN; DECLARE c CURSOR FOR SELECT 1');
  s.reply('C:BEGIN', 'C:DECLARE CURSOR', 'Z:T');
  assert.equal(s.query('CLOSE c; SELECT open_my_cursor(); FETCH ALL c'), 'UNKNOWN');
});

test('COMMIT in the middle of a Query closes the cursors for the statements after it', () => {
  const s = new Sim();
  s.query('BEGIN; DECLARE c CURSOR FOR SELECT 1');
  s.reply('C:BEGIN', 'C:DECLARE CURSOR', 'Z:T');
  assert.equal(s.query('COMMIT; BEGIN; SELECT open_my_cursor(); FETCH ALL c'), 'UNKNOWN');
});

test('a DO block or CALL can prepare and declare behind the proxy: every name is unknown after one', () => {
  const s = new Sim();
  s.query('PREPARE a AS SELECT 1');
  s.reply('C:PREPARE', 'Z:I');
  s.query('BEGIN; DECLARE c CURSOR FOR SELECT 2');
  s.reply('C:BEGIN', 'C:DECLARE CURSOR', 'Z:T');
  assert.equal(s.query("DO $$ BEGIN EXECUTE 'DEALLOCATE a'; EXECUTE 'PREPARE a AS SELECT 3'; END $$; EXECUTE a"), 'UNKNOWN');
  s.query("DO $$ BEGIN EXECUTE 'DEALLOCATE a'; EXECUTE 'PREPARE a AS SELECT 3'; END $$");
  assert.equal(s.query('EXECUTE a'), 'WAIT');
  s.reply('C:DO', 'Z:T');
  assert.equal(s.query('EXECUTE a'), 'UNKNOWN');
  assert.equal(s.query('FETCH c'), 'UNKNOWN');
  s.query('CALL p()');
  s.reply('C:CALL', 'Z:T');
  s.query('PREPARE b AS SELECT 4');
  s.reply('C:PREPARE', 'Z:T');
  assert.match(s.query('EXECUTE b'), /SELECT 4/, 'a name defined again is known again');
});

test('EXECUTE arguments count as reads: the resolved classification keeps them', () => {
  const s = new Sim();
  s.query('PREPARE p(text) AS SELECT $1');
  s.reply('C:PREPARE', 'Z:I');
  const r = s.model.resolve(classifier.classify('EXECUTE p((SELECT email FROM customers LIMIT 1))'));
  assert.ok(r !== WAIT && !('unknown' in r));
  const ops = (r as Resolution).cls.statements[0].operations;
  assert.ok(
    ops.some((o) => o.reads.some((n) => n.name === 'customers')),
    JSON.stringify(ops),
  );
});

// ---- protocol Parse / Bind / Execute ------------------------------------------------------

test('given a confirmed statement s, when Parse s is repeated in the same pipeline segment, then the Execute after it is skipped by the server', () => {
  const s = new Sim();
  s.parse('s', 'SELECT 1');
  s.sync();
  s.reply('1', 'Z:I');
  s.parse('s', 'DELETE FROM customers');
  s.bind('', 's');
  // Within the segment the new text is assumed: if the Parse fails, the server skips the rest.
  assert.equal(s.execute(''), 'DELETE FROM customers');
  s.sync();
  s.reply('E', 'Z:I');
  assert.deepEqual(s.done.at(-1), { text: 'DELETE FROM customers', outcome: '42P05' }, 'recorded as not run');
  s.bind('', 's');
  assert.equal(s.execute(''), 'SELECT 1');
});

test('Parse s; Sync; Bind s pipelined: the Bind waits for the Parse to be answered', () => {
  const s = new Sim();
  s.parse('s', 'SELECT 1');
  s.sync();
  s.reply('1', 'Z:I');
  s.parse('s', 'DELETE FROM customers');
  s.sync();
  assert.equal(s.bind('', 's'), 'WAIT');
  s.reply('E', 'Z:I');
  s.bind('', 's');
  assert.equal(s.execute(''), 'SELECT 1');
});

test('Close then Parse of the same name in a later segment: the Bind waits, then sees the new text', () => {
  const s = new Sim();
  s.parse('s', 'SELECT 1');
  s.sync();
  s.reply('1', 'Z:I');
  s.close('S', 's');
  s.sync();
  s.parse('s', 'SELECT 2');
  s.sync();
  assert.equal(s.bind('', 's'), 'WAIT');
  s.reply('3', 'Z:I', '1', 'Z:I');
  s.bind('', 's');
  assert.equal(s.execute(''), 'SELECT 2');
});

test('the unnamed statement: a new Parse replaces it, a simple Query drops it, a failed Parse drops it', () => {
  const s = new Sim();
  s.parse('', 'SELECT 1');
  s.bind('', '');
  assert.equal(s.execute(''), 'SELECT 1');
  s.sync();
  s.reply('1', '2', 'C:SELECT 1', 'Z:I');
  s.parse('', 'SELECT 2');
  s.sync();
  s.reply('1', 'Z:I');
  s.bind('', '');
  assert.equal(s.execute(''), 'SELECT 2');
  s.sync();
  s.reply('2', 'C:SELECT 1', 'Z:I');
  s.query('SELECT 3');
  s.reply('C:SELECT 1', 'Z:I');
  s.bind('', '');
  assert.equal(s.execute(''), 'UNKNOWN', 'the Query dropped the unnamed statement');
  s.sync();
  s.reply('E', 'Z:I');
  s.parse('', 'SELECT 4');
  s.sync();
  s.reply('1', 'Z:I');
  s.parse('', 'SELEC oops');
  s.sync();
  s.reply('E', 'Z:I');
  s.bind('', '');
  assert.equal(s.execute(''), 'UNKNOWN', 'the server dropped the unnamed statement before the failed Parse');
});

test('portals close at Sync outside a block, live on inside one, and close with the block', () => {
  const s = new Sim();
  s.parse('s', 'SELECT 1');
  s.bind('p', 's');
  s.sync();
  s.reply('1', '2', 'Z:I');
  assert.equal(s.execute('p'), 'UNKNOWN', 'the implicit transaction ended at Sync');
  s.sync();
  s.reply('E', 'Z:I');
  s.query('BEGIN');
  s.reply('C:BEGIN', 'Z:T');
  s.bind('p', 's');
  s.sync();
  s.reply('2', 'Z:T');
  assert.equal(s.execute('p'), 'SELECT 1');
  s.sync();
  s.reply('C:SELECT 1', 'Z:T');
  s.query('COMMIT');
  s.reply('C:COMMIT', 'Z:I');
  assert.equal(s.execute('p'), 'UNKNOWN');
});

test('a Bind portal in an earlier segment: Execute waits for the Sync between them', () => {
  const s = new Sim();
  s.query('BEGIN');
  s.reply('C:BEGIN', 'Z:T');
  s.parse('s', 'SELECT 1');
  s.bind('p', 's');
  s.sync();
  assert.equal(s.execute('p'), 'WAIT');
  s.reply('1', '2', 'Z:T');
  assert.equal(s.execute('p'), 'SELECT 1');
});

test('Execute of a portal that is a SQL cursor runs the cursor, not a prepared statement of that name', () => {
  const s = new Sim();
  s.parse('k', 'SELECT 1');
  s.sync();
  s.reply('1', 'Z:I');
  s.query('BEGIN');
  s.reply('C:BEGIN', 'Z:T');
  s.query('DECLARE k CURSOR FOR SELECT * FROM customers');
  s.reply('C:DECLARE CURSOR', 'Z:T');
  assert.equal(s.execute('k'), 'DECLARE k CURSOR FOR SELECT * FROM customers');
});

test('a binary cursor makes FETCH results binary (masking then refuses)', () => {
  const s = new Sim();
  s.query('BEGIN; DECLARE b BINARY CURSOR FOR SELECT 1');
  s.reply('C:BEGIN', 'C:DECLARE CURSOR', 'Z:T');
  const r = s.model.resolve(classifier.classify('FETCH ALL b'));
  assert.ok(r !== WAIT && !('unknown' in r));
  assert.equal((r as Resolution).binary, true);
});

test('a protocol Parse of SQL EXECUTE resolves through the prepared statement it names at Execute time', () => {
  const s = new Sim();
  s.query('PREPARE a AS SELECT 1');
  s.reply('C:PREPARE', 'Z:I');
  s.parse('x', 'EXECUTE a');
  s.bind('', 'x');
  assert.match(s.execute(''), /^EXECUTE a\n-- prepared statement "a" is: "PREPARE a AS SELECT 1"$/);
});

test('a protocol Parse of DECLARE defines the cursor when its Execute completes', () => {
  const s = new Sim();
  s.query('BEGIN');
  s.reply('C:BEGIN', 'Z:T');
  s.parse('', 'DECLARE d CURSOR FOR SELECT 5');
  s.bind('', '');
  s.execute('');
  s.sync();
  s.reply('1', '2', 'C:DECLARE CURSOR', 'Z:T');
  assert.match(s.query('FETCH d'), /SELECT 5/);
});

test('the approval bait-and-switch: the text decided (and shown to an approver) is the text the portal runs', () => {
  const s = new Sim();
  s.parse('u', "UPDATE payments SET note = 'harmless'");
  s.sync();
  s.reply('1', 'Z:I');
  // A second Parse of u with another UPDATE fails on the server; the Execute in the next
  // segment runs the FIRST text, and that is what is decided and recorded.
  s.parse('u', 'UPDATE payments SET amount = 0');
  s.sync();
  assert.equal(s.bind('', 'u'), 'WAIT');
  s.reply('E', 'Z:I');
  s.bind('', 'u');
  assert.equal(s.execute(''), "UPDATE payments SET note = 'harmless'");
});

test('a Query sent after an extended-protocol error is skipped by the server, and so is its expectation', () => {
  const s = new Sim();
  s.parse('s', 'SELEC oops');
  s.reply('E'); // answered after a Flush: the server now skips up to Sync
  s.query('SELECT 1');
  s.bind('', 's');
  s.sync();
  s.reply('Z:I');
  assert.deepEqual(s.done.at(-1), { text: 'SELECT 1', outcome: '25P02' });
  assert.equal(s.model.inFlight, false);
  assert.equal(s.router.pending, 0);
  s.query('SELECT 2');
  s.reply('C:SELECT 1', 'Z:I');
  assert.deepEqual(s.done.at(-1), { text: 'SELECT 2', outcome: 'ok' });
});

test('the model is bounded: the oldest names are forgotten (a later use is refused, never misread)', () => {
  const m = new ProtocolState(statementFacts, { limit: 2 });
  const router = new ResponseRouter(1 << 20, m, { completed: () => {}, notification: () => {}, parameterStatus: () => {} });
  for (const n of ['a', 'b', 'c'])
    router.expect({ kind: 'parse', name: n, def: { text: `SELECT '${n}'`, cls: classifier.classify(`SELECT '${n}'`) } } satisfies Expect);
  router.expect({ kind: 'sync' });
  router.relay(Buffer.concat([parseComplete(), parseComplete(), parseComplete(), readyForQuery('I')]));
  assert.equal(m.statement('a'), undefined);
  assert.equal((m.statement('c') as { text: string }).text, "SELECT 'c'");
  assert.equal(m.inFlight, false);
});
