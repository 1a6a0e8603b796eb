// `affidavit replay`: a recorded session played back in the terminal, from the ledger file, from
// the API, or from an encrypted replay bundle verified offline. PostgreSQL sessions only: the
// SSH proxy does not exist yet; when it does, its TerminalOutput entries get an asciicast player
// here (they are listed as terminal-output lines until then).
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { openSqliteLedgerStore, readVerifierKey } from '@affidavit/ledger';
import {
  buildTimeline,
  keyLabel,
  entriesFromReplayData,
  newSessionScan,
  openReplayBundle,
  ReplaySessionNotFoundError,
  scanSession,
  type SessionEntry,
  type Timeline,
} from '@affidavit/replay';
import { EXIT, UsageError } from '../command.ts';
import type { Command, Io } from '../command.ts';
import { openLedgerForReading } from './ledger-source.ts';
import { visible } from './approvals.ts';
import { decryptLines, identityFrom } from './replay-crypto.ts';
import { footer, header, renderTimeline } from './replay-render.ts';

/** DEFAULT_IDLE_LIMIT_S caps one wait of a timed replay (asciinema's idle_time_limit idea): an hour of idling is not replayed. */
export const DEFAULT_IDLE_LIMIT_S = 2;
/** FOLLOW_POLL_MS is how often --follow looks for new entries in the ledger file. */
export const FOLLOW_POLL_MS = 300;
/** API_POLL_MS is how often --follow asks the API (each answer is the whole session, and the API rate-limits). */
export const API_POLL_MS = 1000;

/**
 * pauseMs is how long a timed replay waits before an entry recorded at `at` (UTC microseconds)
 * after one recorded at `prevAt`: the recorded gap divided by `speed`, at most `idleLimitS`
 * seconds; 0 without --speed, for the first entry, or when the clocks went backwards.
 */
export function pauseMs(prevAt: number | null, at: number, speed: number | null, idleLimitS: number): number {
  if (speed === null || prevAt === null || at <= prevAt) return 0;
  return Math.min((at - prevAt) / 1000 / speed, idleLimitS * 1000);
}

/** EntryFeed returns the session's entries found since its last call (all of them on the first). */
type EntryFeed = { next(): Promise<SessionEntry[]>; close(): Promise<void>; readonly pollMs: number };

async function ledgerFeed(values: { data?: string; store?: string }, sessionId: string, io: Io): Promise<EntryFeed> {
  const { store } = await openLedgerForReading(values, io, openSqliteLedgerStore);
  const scan = newSessionScan(sessionId);
  return { next: () => scanSession(store, scan), close: () => store.close(), pollMs: FOLLOW_POLL_MS };
}

/** apiFeed reads the API's replay data; the entries' bytes are decoded here, not taken from the server's timeline. */
function apiFeed(base: string, sessionId: string, io: Io): EntryFeed {
  const token = io.env.AFFIDAVIT_TOKEN;
  if (!token) throw new UsageError('--api needs a bearer token in the AFFIDAVIT_TOKEN environment variable (e.g. AFFIDAVIT_TOKEN=$(affidavit token dave))');
  const seen = new Set<string>();
  return {
    async next() {
      const url = new URL(`/sessions/${encodeURIComponent(sessionId)}/replay/data`, base);
      let res: Response;
      try {
        res = await fetch(url, { headers: { authorization: `Bearer ${token}`, accept: 'application/json' }, signal: AbortSignal.timeout(30_000) });
      } catch (e) {
        throw new ApiUnreachable(`cannot reach the API at ${url.origin}: ${(e as Error).message}`);
      }
      const body = (await res.json().catch(() => null)) as { errors?: Array<{ message: string; extensions?: { code?: string } }> } | null;
      if (res.status === 404) return [];
      if (res.status !== 200) {
        const err = body?.errors?.[0];
        throw new ApiRefused(`the API refused (HTTP ${res.status})${err ? `: ${err.message}${err.extensions?.code ? ` [${err.extensions.code}]` : ''}` : ''}`);
      }
      const { entries } = entriesFromReplayData(body);
      return entries.filter((e) => {
        const k = `${e.position.log}#${e.position.index}`;
        if (seen.has(k)) return false;
        seen.add(k);
        return true;
      });
    },
    close: async () => {},
    pollMs: API_POLL_MS,
  };
}

class ApiUnreachable extends Error {}
class ApiRefused extends Error {}

async function bundleFeed(file: string, identityFile: string, keyFile: string): Promise<{ sessionId: string; feed: EntryFeed; verified: string[] }> {
  const key = readVerifierKey(keyFile);
  const opened = await openReplayBundle(decryptLines(file, identityFrom(identityFile)), key);
  let given = false;
  return {
    sessionId: opened.sessionId,
    verified: [
      `bundle ${file}: ${opened.entries.length} entries, every one verified offline against checkpoints signed by ${keyLabel(key)}:`,
      ...opened.checkpoints.map((c) => `  ${c.origin} tree size ${c.size}`),
    ].map(visible),
    feed: {
      async next() {
        if (given) return [];
        given = true;
        return [...opened.entries];
      },
      close: async () => {},
      pollMs: 0,
    },
  };
}

type PlayOptions = { follow: boolean; speed: number | null; idleLimitS: number; json: boolean };

/** play prints the timeline as entries arrive: once, or until the session ends with --follow. */
async function play(sessionId: string, feed: EntryFeed, o: PlayOptions, io: Io, preface: string[] = []): Promise<number> {
  const all: SessionEntry[] = [];
  const printed = new Set<string>();
  let lastAt: number | null = null;
  let lastStep = -1;
  let headerShown = false;
  let t: Timeline | undefined;
  for (;;) {
    all.push(...(await feed.next()));
    if (all.length === 0 && !o.follow)
      throw new ReplaySessionNotFoundError(
        `the ledger holds no entry of session ${sessionId}${existsSync(resolve(io.cwd, sessionId)) ? ` (${sessionId} is a file: to replay a bundle, give --identity KEYFILE and --key LEDGER.pub)` : ''}`,
      );
    t = buildTimeline(sessionId, all);
    if (o.json) break;
    if (all.length > 0 && !headerShown) {
      for (const l of preface) io.stdout.write(`${l}\n`);
      io.stdout.write(`${header(t)}\n`);
      headerShown = true;
    }
    for (const line of renderTimeline(t)) {
      if (printed.has(line.eventId)) continue;
      const pause = pauseMs(lastAt, line.at, o.speed, o.idleLimitS);
      if (pause > 0) await sleep(pause);
      const of = line.continuation && line.stepIndex !== lastStep ? `  (of ${line.step})` : '';
      io.stdout.write(`${line.text}${of}\n`);
      printed.add(line.eventId);
      lastAt = line.at;
      lastStep = line.stepIndex;
    }
    if (!o.follow || t.ended) break;
    await sleep(feed.pollMs);
  }
  if (o.json) {
    io.stdout.write(`${JSON.stringify(t)}\n`);
    return t.anomalies.length > 0 ? EXIT.FAILED : EXIT.OK;
  }
  for (const l of footer(t)) io.stdout.write(`${l}\n`);
  return t.anomalies.length > 0 ? EXIT.FAILED : EXIT.OK;
}

/** replayCommand plays a session back in the terminal. */
export const replayCommand: Command = {
  path: ['replay'],
  summary: 'replay a recorded PostgreSQL session as a timeline (ledger, API or encrypted bundle)',
  help: `usage: affidavit replay SESSION (--data DIR | --store FILE | --api URL) [--follow] [--speed N] [--json]
       affidavit replay FILE.bundle --identity KEYFILE --key LEDGER.pub [--speed N] [--json]
       affidavit replay export SESSION --recipient KEY ...      (see 'affidavit replay export --help')
       affidavit replay keygen --output KEYFILE                 (see 'affidavit replay keygen --help')

Plays a recorded session back as a timeline, one line per ledger entry: time, ledger position
(#index in the session's log, LOG#index elsewhere), and what the entry records: the statement
with the policy's decision and rule, the rows and duration it returned, the columns masked, and
approvals inline (request, decision with approver and justification, refused attempts).
Everything a client or approver wrote is shown with control and bidi characters escaped.

Sources:
  --data DIR / --store FILE  the ledger file (opened read-only), as 'ledger show' reads it
  --api URL                  the API (GET /sessions/SESSION/replay/data); the token of an auditor is
                             read from AFFIDAVIT_TOKEN (never from the command line, where ps shows it).
                             The entries' bytes are decoded here, not taken from the server's reading.
  FILE.bundle                a bundle from 'replay export', decrypted with --identity (an age identity
                             file) and verified offline before anything is shown: every checkpoint's
                             signature by --key (the ledger's verifier key, e.g. data/keys/ledger.pub)
                             and every entry's inclusion proof. A failure names the entry.

Options:
  --follow          keep going as the session runs (polls the ledger every ${FOLLOW_POLL_MS} ms, the API every
                    ${API_POLL_MS} ms) until it ends; Ctrl-C stops
  --speed N         wait between entries as they happened, N times faster (0.5 = half speed);
                    each wait is capped at --idle-limit seconds (default ${DEFAULT_IDLE_LIMIT_S}). Without it, no waiting.
  --json            print the timeline as one JSON document instead (not with --follow)

SSH sessions: the SSH proxy is not built yet. Their TerminalOutput entries are listed as lines;
an asciicast player for them is to come with the proxy.

Exit codes: 0 replayed; 1 the bundle does not verify, the session has no entries, or the entries
show anomalies (a gap in the session's seq, a decision of a request it never made; printed as
ANOMALY lines); 2 usage error; 3 the ledger or API could not be read.`,
  async run(args, io) {
    try {
      return await runReplay(args, io);
    } catch (e) {
      return failedCheck(e, io, 'replay');
    }
  },
};

/** FAILED_CHECK_CODES are errors that mean "this does not check out" (exit 1), not "could not run" (exit 3). */
const FAILED_CHECK_CODES: ReadonlySet<string> = new Set([
  'AFF_E_REPLAY_BUNDLE_UNVERIFIED',
  'AFF_E_REPLAY_BUNDLE_MALFORMED',
  'AFF_E_REPLAY_BUNDLE_KEY',
  'AFF_E_REPLAY_BUNDLE_DECRYPT',
  'AFF_E_REPLAY_SESSION_NOT_FOUND',
  'AFF_E_REPLAY_NOT_COVERED',
  'AFF_E_REPLAY_DATA_MALFORMED',
]);

/** failedCheck prints a failed check with its code and returns exit 1; anything else is rethrown for main. */
export function failedCheck(e: unknown, io: Io, command: string): number {
  const code = (e as { code?: unknown })?.code;
  if (typeof code === 'string' && FAILED_CHECK_CODES.has(code)) {
    io.stderr.write(`affidavit ${command}: ${(e as Error).message} [${code}]\n`);
    return EXIT.FAILED;
  }
  throw e;
}

async function runReplay(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      data: { type: 'string' },
      store: { type: 'string' },
      api: { type: 'string' },
      identity: { type: 'string' },
      key: { type: 'string' },
      follow: { type: 'boolean' },
      speed: { type: 'string' },
      'idle-limit': { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  if (positionals.length !== 1) throw new UsageError('expected exactly one SESSION (or FILE.bundle)');
  const speed = values.speed === undefined ? null : Number(values.speed);
  if (speed !== null && !(Number.isFinite(speed) && speed > 0)) throw new UsageError('--speed must be a number above 0');
  const idleLimitS = values['idle-limit'] === undefined ? DEFAULT_IDLE_LIMIT_S : Number(values['idle-limit']);
  if (!(Number.isFinite(idleLimitS) && idleLimitS >= 0)) throw new UsageError('--idle-limit must be a number of seconds >= 0');
  if (values.json && values.follow) throw new UsageError('--json prints one document; it cannot be combined with --follow');
  const o: PlayOptions = { follow: values.follow ?? false, speed, idleLimitS, json: values.json ?? false };
  const sources = [values.data || values.store ? 'ledger' : null, values.api ? 'api' : null, values.identity ? 'bundle' : null].filter(Boolean);
  if (sources.length !== 1) throw new UsageError('give exactly one source: --data DIR / --store FILE, --api URL, or a bundle with --identity KEYFILE');

  if (values.identity) {
    if (!values.key) throw new UsageError('a bundle is verified before it is replayed: give the ledger verifier key with --key LEDGER.pub');
    if (o.follow) throw new UsageError('a bundle is a finished export; --follow needs --data or --api');
    const file = resolve(io.cwd, positionals[0]);
    if (!existsSync(file)) throw new UsageError(`no bundle file at ${file}`);
    const { sessionId, feed, verified } = await bundleFeed(file, resolve(io.cwd, values.identity), resolve(io.cwd, values.key));
    return await play(sessionId, feed, o, io, o.json ? [] : verified);
  }
  const sessionId = positionals[0];
  if (values.api) {
    let base: URL;
    try {
      base = new URL(values.api);
    } catch {
      throw new UsageError(`--api ${JSON.stringify(values.api)} is not a URL`);
    }
    try {
      return await play(sessionId, apiFeed(base.href, sessionId, io), o, io);
    } catch (e) {
      if (e instanceof ApiRefused) {
        io.stderr.write(`affidavit replay: ${e.message}\n`);
        return EXIT.FAILED;
      }
      if (e instanceof ApiUnreachable) {
        io.stderr.write(`affidavit replay: ${e.message}\n`);
        return EXIT.ERROR;
      }
      throw e;
    }
  }
  const feed = await ledgerFeed(values, sessionId, io);
  try {
    return await play(sessionId, feed, o, io);
  } finally {
    await feed.close();
  }
}
