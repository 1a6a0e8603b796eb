// `affidavit approvals list` shows an approver the statement they are asked to approve. The text
// is the requester's: a carriage return, ANSI escapes or bidi overrides in it (inside a SQL
// comment or string) would let the terminal show one statement while another runs. They are
// printed as visible escapes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { approvalsListCommand } from './approvals.ts';

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

test('approvals list escapes control and bidi characters in the held statement', async () => {
  const hidden = "update customers set country = 'PW' where id > 0 /*\r\x1b[2K    update customers set country = 'GB' where id = 1; -- \u202e42 */";
  const pending = [
    {
      requestId: 'r1',
      sessionId: 's1',
      requester: 'alice',
      text: hidden,
      ruleId: 'rule',
      reason: 'why',
      approverGroups: ['approvers'],
      expiresAt: '2030-01-01T00:00:00.000Z',
    },
  ];
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(pending));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const dataDir = mkdtempSync(join(tmpdir(), 'aff-approvals-list-'));
    writeFileSync(join(dataDir, 'control.json'), JSON.stringify({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, secret: 'x', pid: 1 }));
    const out = sink();
    const err = sink();
    const code = await approvalsListCommand.run([], { stdout: out.stream, stderr: err.stream, env: { AFFIDAVIT_DATA_DIR: dataDir }, cwd: dataDir });
    assert.equal(code, 0, err.text());
    const printed = out.text();
    assert.doesNotMatch(printed, /[\r\x1b\u202e]/, 'no raw control or bidi character reaches the terminal');
    assert.match(printed, /where id > 0 \/\*\\r\\x1b\[2K/, 'the whole statement is shown, its control characters escaped');
    assert.match(printed, /\\u202e42/);
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
});
