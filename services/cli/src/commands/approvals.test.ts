// `affidavit approvals list`, `approve` and `reveal` are clients of the GraphQL API. The held
// statement shown to an approver is the requester's text: a carriage return, ANSI escapes or
// bidi overrides in it (inside a SQL comment or string) would let the terminal show one
// statement while another runs, so they are printed as visible escapes. The API's refusals are
// shown with their code and a documented exit code. A fake GraphQL endpoint stands in for the
// API here; services/cli/src/e2e/api-approval.test.ts drives the real one.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { EXIT } from '../command.ts';
import { approveCommand, approvalsListCommand } from './approvals.ts';
import { revealCommand } from './reveal.ts';

function sink(): { stream: Writable; text: () => string } {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(c: Buffer, _e, cb) {
      chunks.push(Buffer.from(c));
      cb();
    },
  });
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

type Seen = { headers: IncomingHttpHeaders; body: { query: string; variables: Record<string, unknown> } };
let answer: (s: Seen) => { status: number; body: unknown };
const seen: Seen[] = [];
let server: Server;
let url: string;
const dataDir = mkdtempSync(join(tmpdir(), 'aff-approvals-cli-'));

before(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const s: Seen = { headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) };
      seen.push(s);
      const a = answer(s);
      res.writeHead(a.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(a.body));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
});
after(() => new Promise<void>((r) => server.close(() => r())));

async function run(cmd: typeof approveCommand, args: string[], env: Record<string, string> = {}) {
  const out = sink();
  const err = sink();
  const code = await cmd.run(args, { stdout: out.stream, stderr: err.stream, env: { AFFIDAVIT_DATA_DIR: dataDir, ...env }, cwd: dataDir });
  return { code, stdout: out.text(), stderr: err.text() };
}

test('approvals list escapes control and bidi characters in the held statement', async () => {
  const hidden = "update customers set country = 'PW' where id > 0 /*\r\x1b[2K    update customers set country = 'GB' where id = 1; -- \u202e42 */";
  const node = (id: string, expiresAt: string) => ({
    requestId: id,
    sessionId: 's1',
    requester: 'alice',
    text: hidden,
    ruleId: 'rule',
    reason: 'why',
    approverGroups: ['approvers'],
    expiresAt,
  });
  answer = () => ({
    status: 200,
    body: {
      data: { approvals: { nodes: [node('r1', '2099-01-01T00:00:00.000Z'), node('r0', '2001-01-01T00:00:00.000Z')], pageInfo: { hasNextPage: false } } },
    },
  });
  const r = await run(approvalsListCommand, ['--api', url, '--token', 'tok-dave']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(seen.at(-1)?.headers.authorization, 'Bearer tok-dave', 'the caller’s own token is sent');
  assert.doesNotMatch(r.stdout, /[\r\x1b\u202e]/, 'no raw control or bidi character reaches the terminal');
  assert.match(r.stdout, /where id > 0 \/\*\\r\\x1b\[2K/, 'the whole statement is shown, its control characters escaped');
  assert.match(r.stdout, /\\u202e42/);
  assert.match(r.stdout, /^r1 /);
  assert.doesNotMatch(r.stdout, /^r0 /m, 'a request past its expiry is not offered');
});

test('approve sends the mutation with the token from AFFIDAVIT_TOKEN', async () => {
  answer = () => ({ status: 200, body: { data: { decided: { requestId: 'r1', decision: 'approved', decidedAt: '2026-01-01T00:00:00.000Z' } } } });
  const r = await run(approveCommand, ['r1', '--reason', 'ticket 42', '--api', url], { AFFIDAVIT_TOKEN: 'tok-bob' });
  assert.equal(r.code, EXIT.OK, r.stderr);
  const s = seen.at(-1)!;
  assert.equal(s.headers.authorization, 'Bearer tok-bob');
  assert.match(s.body.query, /approve\(id: \$id, justification: \$why\)/);
  assert.deepEqual(s.body.variables, { id: 'r1', why: 'ticket 42' });
  assert.match(r.stdout, /r1: approved/);
});

test("a non-approver's token gets the API's refusal, its code and exit code 1", async () => {
  answer = () => ({
    status: 200,
    body: {
      data: null,
      errors: [{ message: 'approve needs one of the roles approver, admin; your groups grant auditor', extensions: { code: 'AFF_E_API_FORBIDDEN' } }],
    },
  });
  const r = await run(approveCommand, ['r1', '--reason', 'ok', '--api', url, '--token', 'tok-dave']);
  assert.equal(r.code, EXIT.FAILED);
  assert.match(r.stderr, /refused: approve needs one of the roles approver, admin.*\[AFF_E_API_FORBIDDEN\]/);
  assert.equal(r.stdout, '');
});

test('a token the API does not accept (401) is a refusal too', async () => {
  answer = () => ({ status: 401, body: { errors: [{ message: 'the token has expired', extensions: { code: 'AFF_E_AUTH_TOKEN_EXPIRED' } }] } });
  const r = await run(approveCommand, ['r1', '--reason', 'ok', '--api', url, '--token', 'old']);
  assert.equal(r.code, EXIT.FAILED);
  assert.match(r.stderr, /\[AFF_E_AUTH_TOKEN_EXPIRED\]/);
});

test('a masked error without a code, or an API that is not there, is exit code 3', async () => {
  answer = () => ({ status: 200, body: { data: null, errors: [{ message: 'Unexpected error.' }] } });
  const masked = await run(approveCommand, ['r1', '--reason', 'ok', '--api', url, '--token', 't']);
  assert.equal(masked.code, EXIT.ERROR);
  const gone = await run(approveCommand, ['r1', '--reason', 'ok', '--api', 'http://127.0.0.1:9/graphql', '--token', 't']);
  assert.equal(gone.code, EXIT.ERROR);
  assert.match(gone.stderr, /cannot reach the API/);
});

test('no token at all, or both --as and --token, is a usage error before any request', async () => {
  const before = seen.length;
  await assert.rejects(run(approveCommand, ['r1', '--reason', 'ok', '--api', url]), /no token/);
  await assert.rejects(run(approveCommand, ['r1', '--reason', 'ok', '--api', url, '--as', 'bob', '--token', 't']), /not both/);
  assert.equal(seen.length, before);
});

test('reveal prints the value as is into a pipe and the opening on stderr', async () => {
  answer = () => ({ status: 200, body: { data: { revealMaskedValue: { value: 'a@example.com', column: 'email', row: 0, recordedAs: 'e-9' } } } });
  const r = await run(revealCommand, ['m-1', '0', '--reason', 'incident 7', '--api', url, '--token', 'tok-bob']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'a@example.com\n');
  assert.match(r.stderr, /column email, row 0; opening recorded as event e-9/);
  assert.deepEqual(seen.at(-1)?.body.variables, { id: 'm-1', i: 0, why: 'incident 7' });
});

test("the API's refusal message is shown, its control characters escaped (it may quote the caller's input)", async () => {
  answer = (s) => ({
    status: 200,
    body: { data: null, errors: [{ message: `no approval request ${String(s.body.variables.id)}`, extensions: { code: 'AFF_E_APPROVAL_UNKNOWN' } }] },
  });
  const r = await run(approveCommand, ['r1\x1b[2K\rapproved', '--reason', 'ok', '--api', url, '--token', 't']);
  assert.equal(r.code, EXIT.FAILED);
  assert.doesNotMatch(r.stderr, /[\r\x1b]/);
  assert.match(r.stderr, /no approval request r1\\x1b\[2K\\rapproved \[AFF_E_APPROVAL_UNKNOWN\]/);
});
