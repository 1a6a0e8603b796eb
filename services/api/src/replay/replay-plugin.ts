// GET /sessions/:id/replay: the session replay page, and GET /sessions/:id/replay/data, what it
// shows. The page is static (HTML, script and style files shipped in this folder, no build step)
// and carries no data, so it is served without a token; the data needs a bearer token of the
// auditor role, like GraphQL.
//
// How the browser gets the token: the link carries it in the URL fragment
// (`/sessions/ID/replay#token=…&key=…`). A fragment is never sent to a server, so it is in no
// access log, no proxy log and no Referer; the page's script reads it, removes it from the
// address bar and history at once (history.replaceState), keeps it in memory only (no storage,
// no cookie), and sends it as `Authorization: Bearer` to the data route. A cookie would be sent
// by the browser on its own, which would open the API to cross-site requests; a bearer header is
// not. Without a fragment the page asks for the token in a password field.
//
// Where proofs are checked: in the browser. The data carries each entry's exact bytes, its
// inclusion proof and the signed checkpoint; the page hashes the bytes, walks the proof to the
// checkpoint's root and checks the checkpoint's Ed25519 signature against the ledger key given
// in the fragment (`key=`, the content of data/keys/ledger.pub), never a key the server sends.
// The steps' text is the server's decoding of those bytes; the CLI's bundle replay decodes them
// itself.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fp from 'fastify-plugin';
import type { FastifyReply } from 'fastify';
import type { LedgerStore } from '@affidavit/ledger';
import { buildTimeline, newSessionScan, REPLAY_DATA_FORMAT, scanSession, type ReplayData, type ReplayDataEntry } from '@affidavit/replay';
import { ApiForbiddenError, ApiInputInvalidError, ApiRateLimitedError, ApiUnauthenticatedError, ApiUnavailableError } from '../errors.ts';
import type { ProofService } from '../proofs.ts';

/** ReplayPluginOptions: the ledger to read sessions from and the proof service; without a ledger the data route answers 503. */
export type ReplayPluginOptions = { readonly ledger?: LedgerStore; readonly proofs?: ProofService };

const PAGE_DIR = join(import.meta.dirname, 'page');
// Read once at start: the files ship with the package and never change while it runs.
const FILES = {
  html: readFileSync(join(PAGE_DIR, 'replay.html'), 'utf8'),
  js: readFileSync(join(PAGE_DIR, 'replay.js'), 'utf8'),
  verify: readFileSync(join(PAGE_DIR, 'verify.js'), 'utf8'),
  css: readFileSync(join(PAGE_DIR, 'replay.css'), 'utf8'),
  icon: readFileSync(join(PAGE_DIR, 'icon.svg'), 'utf8'),
};

// No inline script or style, no other origin, no framing: a statement that smuggled markup into
// the data could not run even if the page rendered it as HTML (it does not: textContent only).
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

function hardened(reply: FastifyReply, type: string): FastifyReply {
  return reply
    .type(type)
    .header('content-security-policy', CSP)
    .header('referrer-policy', 'no-referrer')
    .header('x-content-type-options', 'nosniff')
    .header('x-frame-options', 'DENY')
    .header('cache-control', 'no-store');
}

const SESSION_ID = /^[A-Za-z0-9._:-]{1,200}$/;
const refuse = (reply: FastifyReply, status: number, code: string, message: string) => reply.code(status).send({ errors: [{ message, extensions: { code } }] });

/**
 * MAX_CONCURRENT_SCANS bounds the replay scans running at once, and MAX_WAITING_SCANS those
 * queued behind them: a scan reads every log of the ledger (a session's decisions may sit in any
 * log), so a few callers must not be able to keep the ledger file busy for everyone else.
 */
export const MAX_CONCURRENT_SCANS = 2;
/** MAX_PAGE_ENTRIES bounds the entries one answer carries (each with its bytes and proof): beyond it, export a bundle. */
export const MAX_PAGE_ENTRIES = 20_000;
export const MAX_WAITING_SCANS = 8;

/** scanGate runs at most `max` tasks at once with at most `waiting` queued; beyond that it answers undefined at once. */
function scanGate(max: number, waiting: number) {
  let running = 0;
  const queue: Array<() => void> = [];
  return async <T>(task: () => Promise<T>): Promise<{ value: T } | undefined> => {
    if (running >= max) {
      if (queue.length >= waiting) return undefined;
      await new Promise<void>((r) => queue.push(r));
    } else running++;
    try {
      return { value: await task() };
    } finally {
      const next = queue.shift();
      if (next) next();
      else running--;
    }
  };
}

/** REPLAY_ROLES may read replay data (like every read of the API). */
const REPLAY_ROLES = ['auditor', 'admin'] as const;

/** replayPlugin serves the replay page, its assets and its data. */
export const replayPlugin = fp<ReplayPluginOptions>(
  async (app, o) => {
    const gate = scanGate(MAX_CONCURRENT_SCANS, MAX_WAITING_SCANS);
    app.get('/sessions/:id/replay', { config: { public: true } }, async (_req, reply) => hardened(reply, 'text/html; charset=utf-8').send(FILES.html));
    app.get('/replay/assets/replay.js', { config: { public: true } }, async (_req, reply) => hardened(reply, 'text/javascript; charset=utf-8').send(FILES.js));
    app.get('/replay/assets/verify.js', { config: { public: true } }, async (_req, reply) =>
      hardened(reply, 'text/javascript; charset=utf-8').send(FILES.verify),
    );
    app.get('/replay/assets/replay.css', { config: { public: true } }, async (_req, reply) => hardened(reply, 'text/css; charset=utf-8').send(FILES.css));
    // Named in the page, so the browser does not ask for /favicon.ico (answered 401 like any unknown path).
    app.get('/replay/assets/icon.svg', { config: { public: true } }, async (_req, reply) => hardened(reply, 'image/svg+xml').send(FILES.icon));

    app.get<{ Params: { id: string } }>('/sessions/:id/replay/data', async (req, reply) => {
      hardened(reply, 'application/json; charset=utf-8');
      // Checked here too, not only in the auth hook: that hook lets some requests through
      // unauthenticated (public routes, GraphiQL's page in development), and this route must
      // never be one of them.
      if (!req.identity || !req.roles) return refuse(reply, 401, ApiUnauthenticatedError.code, new ApiUnauthenticatedError().message);
      if (!REPLAY_ROLES.some((r) => req.roles.has(r)))
        return refuse(
          reply,
          403,
          ApiForbiddenError.code,
          `session replay needs one of the roles ${REPLAY_ROLES.join(', ')}; your groups grant ${[...req.roles].join(', ') || 'none'}`,
        );
      const sessionId = req.params.id;
      if (!SESSION_ID.test(sessionId)) return refuse(reply, 400, ApiInputInvalidError.code, 'a session id is 1 to 200 characters of [A-Za-z0-9._:-]');
      if (!o.ledger)
        return refuse(reply, 503, ApiUnavailableError.code, new ApiUnavailableError('this API instance has no ledger store to replay from').message);
      const ledger = o.ledger;
      let entries: Awaited<ReturnType<typeof scanSession>>;
      try {
        const scanned = await gate(() => scanSession(ledger, newSessionScan(sessionId), MAX_PAGE_ENTRIES));
        if (!scanned)
          return refuse(
            reply,
            429,
            ApiRateLimitedError.code,
            `more than ${MAX_CONCURRENT_SCANS + MAX_WAITING_SCANS} session replays are being read; retry shortly`,
          );
        entries = scanned.value;
      } catch (e) {
        const code = (e as { code?: string }).code;
        if (code === 'AFF_E_REPLAY_TOO_LARGE')
          return refuse(
            reply,
            413,
            code,
            `session ${sessionId} has more than ${MAX_PAGE_ENTRIES} entries, more than a page shows; replay it from a bundle (affidavit replay export)`,
          );
        throw e;
      }
      if (entries.length === 0) return refuse(reply, 404, 'AFF_E_REPLAY_SESSION_NOT_FOUND', `the ledger holds no entry of session ${sessionId}`);
      const out: ReplayDataEntry[] = [];
      for (const e of entries) {
        const answer = o.proofs ? await o.proofs.inclusion(e.position.log, e.position.index) : { proof: null, reason: 'this API instance serves no proofs' };
        out.push({
          log: e.position.log,
          index: e.position.index,
          bytes: Buffer.from(e.bytes).toString('base64'),
          proof: answer.proof ? { treeSize: answer.proof.treeSize, hashes: answer.proof.hashes, checkpoint: answer.proof.checkpoint } : null,
          reason: answer.reason,
        });
      }
      const data: ReplayData = { format: REPLAY_DATA_FORMAT, sessionId, entries: out, timeline: buildTimeline(sessionId, entries) };
      return reply.send(data);
    });
  },
  { name: 'affidavit-replay', fastify: '5.x', dependencies: ['affidavit-auth'] },
);
