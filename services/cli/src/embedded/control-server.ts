import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { isAffidavitError } from '@affidavit/common';

/** ControlHandlers are what the local control endpoint can do. */
export type ControlHandlers = {
  listApprovals(): unknown;
  decide(body: { requestId: string; decision: 'approved' | 'denied'; justification: string; token: string }): Promise<unknown>;
  reveal(body: { maskedEventId: string; index: number; reason: string; token: string }): Promise<unknown>;
};

/** ControlFile is what the CLI reads to reach a running embedded system. */
export type ControlFile = { url: string; secret: string; pid: number };

const MAX_BODY = 64 * 1024;

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) throw Object.assign(new Error('request body too large'), { status: 413 });
    chunks.push(c as Buffer);
  }
  const v = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
  if (typeof v !== 'object' || v === null) throw Object.assign(new Error('body must be a JSON object'), { status: 400 });
  return v;
}

/**
 * startControlServer serves the embedded system's local control endpoint on 127.0.0.1 only,
 * until the API service exists: GET /approvals, POST /approvals/decide and POST /reveal. A random secret
 * in `file` (mode 0600, next to the data) gates it, so only a user who can read the data
 * directory can talk to it; the decision itself is authorised by the approver's own token.
 */
export async function startControlServer(file: string, handlers: ControlHandlers): Promise<{ server: Server; close(): Promise<void> }> {
  const secret = randomBytes(24).toString('base64url');
  const expected = Buffer.from(`Bearer ${secret}`);
  const server = createServer((req, res) => {
    const auth = Buffer.from(req.headers['x-affidavit-control'] ? `Bearer ${req.headers['x-affidavit-control']}` : '');
    if (auth.length !== expected.length || !timingSafeEqual(auth, expected)) return send(res, 401, { error: 'missing or wrong control secret' });
    void (async () => {
      try {
        if (req.method === 'GET' && req.url === '/approvals') return send(res, 200, handlers.listApprovals());
        if (req.method === 'POST' && req.url === '/approvals/decide') {
          const b = await readJson(req);
          if (
            typeof b.requestId !== 'string' ||
            (b.decision !== 'approved' && b.decision !== 'denied') ||
            typeof b.justification !== 'string' ||
            typeof b.token !== 'string'
          ) {
            return send(res, 400, { error: 'expected {requestId, decision: approved|denied, justification, token}' });
          }
          return send(res, 200, await handlers.decide(b as never));
        }
        if (req.method === 'POST' && req.url === '/reveal') {
          const b = await readJson(req);
          if (typeof b.maskedEventId !== 'string' || typeof b.index !== 'number' || typeof b.reason !== 'string' || typeof b.token !== 'string') {
            return send(res, 400, { error: 'expected {maskedEventId, index, reason, token}' });
          }
          return send(res, 200, await handlers.reveal(b as never));
        }
        return send(res, 404, { error: 'not found' });
      } catch (e) {
        if (isAffidavitError(e)) return send(res, 403, { error: e.message, code: e.code });
        return send(res, (e as { status?: number }).status ?? 500, { error: (e as Error).message });
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const content: ControlFile = { url: `http://127.0.0.1:${port}`, secret, pid: process.pid };
  writeFileSync(file, JSON.stringify(content), { mode: 0o600 });
  return { server, close: () => new Promise<void>((r) => server.close(() => r())) };
}
