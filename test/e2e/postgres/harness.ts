// Shared setup of the PostgreSQL proxy end-to-end tests: a real PostgreSQL cluster (SCRAM + TLS),
// a development token issuer, an in-memory event sink, and the proxy in front of the cluster.
// Tests drive it with real clients (psql, pgbench, node-postgres) and read the recorded events.
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock, uuidv7 } from '@affidavit/common';
import {
  ApprovalGate,
  Recorder,
  SqlClassifier,
  createTokenVerifier,
  initSqlParser,
  loadPolicyFile,
  parsePostgres,
  startDevIssuer,
  staticKeyProvider,
  actorFromIdentity,
  commandDigest,
  signDecision,
  sinkRefusalRecorder,
  type DecisionSigner,
  type DecisionSource,
  type ReceivedDecision,
  type DevIssuer,
  type EventSink,
  type Decision,
} from '@affidavit/access';
import { createMaskingPort, createPostgresProxy, type PostgresProxy, type PostgresProxyOptionsInput } from '@affidavit/postgres-proxy';
import { decodeEvent, type Actor, type SessionEvent } from '@affidavit/schemas';
import { ed25519NoteSigner, ed25519NoteVerifier, generateEd25519NoteKey } from '@affidavit/tlog';
import { startPostgres, type ClientOptions, type PostgresInstance, type RunResult } from '../../services/postgres.ts';

/** MemorySink keeps published events in memory; `failing` makes publish reject (bus down). */
export type MemorySink = EventSink & { readonly events: SessionEvent[]; failing: boolean };

/** memorySink builds an in-memory EventSink that decodes what it receives (the real codec). */
export function memorySink(): MemorySink {
  const sink: MemorySink = {
    events: [],
    failing: false,
    async publish(batch) {
      if (sink.failing) throw new Error('bus down (test)');
      for (const e of batch) sink.events.push(decodeEvent(e.value) as SessionEvent);
    },
  };
  return sink;
}

/**
 * TestDecisions is a DecisionSource the test itself publishes decisions through. `decide` signs
 * the decision as the accepting service would (approver null: bob, a configured approver);
 * `emit` delivers a decision exactly as given (a forgery straight onto the bus).
 */
export type TestDecisions = DecisionSource & { decide(requestId: string, d: Decision): Promise<void>; emit(d: ReceivedDecision): void };

function testDecisions(signer: DecisionSigner, approver: () => Promise<Actor>, requestText: (requestId: string) => string | undefined): TestDecisions {
  const listeners = new Set<(d: ReceivedDecision) => void>();
  const emit = (d: ReceivedDecision) => {
    for (const l of listeners) l(d);
  };
  return {
    subscribe(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    emit,
    async decide(requestId, d) {
      const who = d.approver ?? (await approver());
      const occurredAt = Date.now() * 1000;
      const text = requestText(requestId) ?? '';
      const digest = commandDigest(text);
      const signature =
        d.decision === 'expired'
          ? null
          : await signDecision(
              { requestId, commandDigest: digest, decision: d.decision, approver: who, justification: d.justification, decidedAt: occurredAt },
              signer,
            );
      emit({ requestId, eventId: uuidv7(), occurredAt, ...d, approver: who, signature, commandDigest: digest });
    },
  };
}

/** Rig is everything one test file needs. */
export type Rig = {
  readonly pg: PostgresInstance;
  readonly proxy: PostgresProxy;
  readonly port: number;
  readonly sink: MemorySink;
  readonly recorder: Recorder;
  readonly issuer: DevIssuer;
  readonly decisions: TestDecisions;
  /** decisionSigner is the key the gate trusts (the accepting service's decision key). */
  readonly decisionSigner: DecisionSigner;
  readonly caFile: string;
  /** token mints an access token for a configured user (alice: dev; bob: approvers). */
  token(user?: string): Promise<string>;
  /** psql runs the real psql through the proxy with a token as password. */
  psql(args: readonly string[], opts?: ClientOptions & { token?: string }): Promise<RunResult>;
  pgbench(args: readonly string[], opts?: ClientOptions & { token?: string }): Promise<RunResult>;
  /** sessionEvents returns the events of the sessions whose SessionStarted matched `pred`, or all. */
  events(): SessionEvent[];
  /** eventsSince returns the events published after the mark. */
  mark(): number;
  since(mark: number): SessionEvent[];
  close(): Promise<void>;
};

/**
 * startRig starts (or reuses) PostgreSQL, then a dev issuer, the recorder and the proxy, with the
 * e2e policy unless `opts.policyFile` names another.
 */
export async function startRig(overrides: Partial<PostgresProxyOptionsInput> = {}, opts: { policyFile?: string } = {}): Promise<Rig> {
  const pg = await startPostgres();
  await initSqlParser();
  const dir = mkdtempSync(join(tmpdir(), 'affidavit-pgproxy-e2e-'));
  // The proxy presents the test cluster's own certificate (same test CA, SAN 127.0.0.1), so
  // clients run with sslmode=verify-full exactly as against the server.
  const certs = { certFile: join(pg.dir, 'tls', 'server.crt'), keyFile: join(pg.dir, 'tls', 'server.key'), caFile: pg.caFile };
  const issuer = await startDevIssuer(
    {
      audience: 'affidavit-postgres',
      keyFile: join(dir, 'dev-issuer.key'),
      users: { alice: { groups: ['dev'], email: 'alice@example.com' }, bob: { groups: ['approvers'], email: 'bob@example.com' } },
    },
    { clock: systemClock },
  );
  const verifier = createTokenVerifier({ issuer: issuer.issuer, audience: issuer.audience }, { clock: systemClock });
  const sink = memorySink();
  const recorder = new Recorder(sink, { mode: overrides.recordingMode ?? 'sync', retryInitialMs: 10, retryMaxMs: 50 }, { clock: systemClock });
  const policy = await loadPolicyFile(opts.policyFile ?? join(import.meta.dirname, 'fixtures', 'e2e.policy.yaml'));
  const decisionKey = generateEd25519NoteKey('e2e-decisions', (n) => randomBytes(n));
  const decisionSigner = ed25519NoteSigner(decisionKey.signerKey);
  const bob = async () => actorFromIdentity(await verifier.verify(await issuer.mint('bob')));
  const requestText = (id: string) => {
    for (const e of sink.events) if (e.type === 'ApprovalRequested' && e.requestId === id) return e.text;
    return undefined;
  };
  const decisions = testDecisions(decisionSigner, bob, requestText);
  const proxy = createPostgresProxy(
    {
      listen: { host: '127.0.0.1', port: 0 },
      tls: { cert: await readFile(certs.certFile, 'utf8'), key: await readFile(certs.keyFile, 'utf8') },
      upstream: { host: pg.host, port: pg.port, user: pg.user, password: pg.password, database: pg.database, tls: { ca: await readFile(pg.caFile, 'utf8') } },
      approvalTimeoutMs: 20_000,
      ...overrides,
    },
    {
      recorder,
      authenticate: (t) => verifier.verify(t),
      policy: () => policy,
      classifier: new SqlClassifier({ parse: parsePostgres }),
      approvals: new ApprovalGate(decisions, {
        newId: () => uuidv7(),
        now: () => Date.now(),
        verifierKeys: [ed25519NoteVerifier(decisionKey.verifierKey)],
        recordRefusal: sinkRefusalRecorder(sink, {
          newId: () => uuidv7(),
          nowMicros: () => Date.now() * 1000,
          source: { address: '127.0.0.1', port: null, application: 'e2e' },
          feeder: { id: 'e2e-gate', version: '0' },
        }),
        recordUnknownRequests: true,
      }),
      masking: createMaskingPort({ keys: staticKeyProvider([{ keyId: 'e2e-1', key: new Uint8Array(32).fill(7) }]) }),
      clock: systemClock,
      newId: () => uuidv7(),
    },
  );
  const addr = await proxy.listen();
  const viaProxy = async (o: ClientOptions & { token?: string } = {}): Promise<ClientOptions> => ({
    port: addr.port,
    user: 'alice',
    ...o,
    password: o.token ?? o.password ?? (await issuer.mint(o.user ?? 'alice')),
  });
  return {
    pg,
    proxy,
    port: addr.port,
    sink,
    recorder,
    issuer,
    decisions,
    decisionSigner,
    caFile: certs.caFile,
    token: (u = 'alice') => issuer.mint(u),
    psql: async (args, o) => pg.psql(args, await viaProxy(o)),
    pgbench: async (args, o) => pg.pgbench(args, await viaProxy(o)),
    events: () => sink.events,
    mark: () => sink.events.length,
    since: (m) => sink.events.slice(m),
    async close() {
      await proxy.close();
      await recorder.close(2000).catch(() => {});
      await issuer.close();
    },
  };
}

/**
 * clientEnv is the environment of a libpq client (psql) started by the test itself, logging in
 * to the proxy as alice with `token`: the test's own PG* variables are dropped so only these apply.
 */
export function clientEnv(rig: Rig, token: string): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PG')));
  return {
    ...env,
    PGHOST: '127.0.0.1',
    PGPORT: String(rig.port),
    PGUSER: 'alice',
    PGDATABASE: 'app',
    PGPASSWORD: token,
    PGSSLMODE: 'verify-full',
    PGSSLROOTCERT: rig.caFile,
  };
}

/** commandsOf pairs each CommandIssued with its outcome event (CommandCompleted or CommandBlocked). */
export function commandsOf(events: readonly SessionEvent[]): { text: string; decision: string; outcome: string; event?: SessionEvent }[] {
  const out: { text: string; decision: string; outcome: string; event?: SessionEvent }[] = [];
  for (const e of events) {
    if (e.type !== 'CommandIssued') continue;
    const end = events.find((x) => (x.type === 'CommandCompleted' || x.type === 'CommandBlocked') && x.commandId === e.commandId);
    out.push({
      text: e.text,
      decision: e.decision,
      outcome: !end ? 'none' : end.type === 'CommandBlocked' ? 'blocked' : end.type === 'CommandCompleted' ? end.outcome : 'none',
      event: end,
    });
  }
  return out;
}

/**
 * sessionsEnded tells whether at least `atLeast` sessions started among `events` and every one
 * of them has ended. A client with several connections (pgbench opens one more than -c) ends
 * them one after the other: waiting for "some" SessionEnded let the last one's land in the
 * next test's window.
 */
export function sessionsEnded(events: readonly SessionEvent[], atLeast: number): boolean {
  const started = new Set<string>();
  const ended = new Set<string>();
  for (const e of events) {
    if (e.type === 'SessionStarted') started.add(e.sessionId);
    else if (e.type === 'SessionEnded') ended.add(e.sessionId);
  }
  if (started.size < atLeast) return false;
  for (const id of started) if (!ended.has(id)) return false;
  return true;
}

/** waitFor polls until `pred` holds (events are recorded asynchronously after results). */
export async function waitFor<T>(fn: () => T | undefined, what: string, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
