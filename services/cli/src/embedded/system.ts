import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import selfsigned from 'selfsigned';
import {
  ApprovalGate,
  PolicyWatcher,
  Recorder,
  SqlClassifier,
  actorFromIdentity,
  busDecisionSource,
  createTokenVerifier,
  generateKeyFile,
  initSqlParser,
  loadKeyFile,
  parsePostgres,
  startDevIssuer,
  sinkRefusalRecorder,
  ApprovalBook,
  followApprovalBook,
  approvalDecisionService,
  maskedValueRevealService,
} from '@affidavit/access';
import { systemClock, uuidv7 } from '@affidavit/common';
import { decisionSignatureVerifier, eventSinkAuthFailureRecorder, startApi } from '@affidavit/api';
import { ed25519NoteVerifier } from '@affidavit/tlog';
import type { Logger } from '@affidavit/common';
import type { Bus } from '@affidavit/bus';
import { loadOrCreateSigningKey, readVerifierKey } from '@affidavit/ledger';
import { createMaskingPort, createPostgresProxy } from '@affidavit/postgres-proxy';
import { encodeEvent } from '@affidavit/schemas';
import type { ApprovalDecided, MaskedValueOpened } from '@affidavit/schemas';
import { startEmbeddedRecording } from './embedded-recording.ts';
import { issuerUrl } from './config.ts';
import type { ResolvedConfig } from './config.ts';
import { startDemoDatabase } from './demo-database.ts';
import { dataPaths } from './paths.ts';
import { privateDataDir, privateFiles } from './private-data.ts';

/** VERSION of the embedded feeder, recorded in every event's envelope. */
export const VERSION = '0.1.0';

/** EmbeddedSystem is the running one-process system. */
export type EmbeddedSystem = {
  readonly proxyPort: number;
  readonly issuer: string;
  readonly verifierKeyFile: string;
  /** decisionKeyFile is the public key approval decisions are signed with (`affidavit verify --decision-key`). */
  readonly decisionKeyFile: string;
  /** bus is the in-process bus (for in-process tools and tests: e.g. publishing forged decisions). */
  readonly bus: Bus;
  /** apiUrl is where the GraphQL API listens (`<apiUrl>/graphql`), or null when it is off. */
  readonly apiUrl: string | null;
  stop(): Promise<void>;
};

async function tlsMaterial(dir: string): Promise<{ cert: string; key: string }> {
  const certFile = join(dir, 'proxy.crt');
  const keyFile = join(dir, 'proxy.key');
  if (!existsSync(certFile) || !existsSync(keyFile)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    // A self-signed certificate for 127.0.0.1: clients get encryption (sslmode=require);
    // a production deployment configures a real certificate instead.
    const pems = await selfsigned.generate([{ name: 'commonName', value: 'affidavit-embedded' }], {
      days: 825,
      keySize: 2048,
      extensions: [
        {
          name: 'subjectAltName',
          altNames: [
            { type: 7, ip: '127.0.0.1' },
            { type: 2, value: 'localhost' },
          ],
        },
      ],
    } as never);
    writeFileSync(keyFile, pems.private, { mode: 0o600 });
    writeFileSync(certFile, pems.cert, { mode: 0o644 });
  }
  return { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') };
}

/**
 * startEmbedded brings up, in this process: the in-process bus, the ledger on a SQLite file, the
 * development token issuer, the demo database (or a configured upstream) and the PostgreSQL
 * proxy, and the GraphQL API (approvals and reveals go through it). Everything persists under dataDir, so a
 * second start resumes the same logs. `stop` shuts down in reverse order and writes a final
 * checkpoint.
 */
export async function startEmbedded(config: ResolvedConfig, logger: Logger): Promise<EmbeddedSystem> {
  const paths = dataPaths(config);
  // Before anything is created: the ledger and keys are private (0700 folders, 0600 files).
  const privatePaths = { dataDir: config.dataDir, keysDir: paths.keysDir, ledgerFile: paths.ledgerFile };
  privateDataDir(privatePaths, logger);
  // Earlier versions served approvals on a loopback control endpoint gated by a secret in this
  // file; nothing serves it now, and a stale secret is not left lying beside the data.
  rmSync(join(config.dataDir, 'control.json'), { force: true });
  const stops: Array<[string, () => Promise<unknown>]> = [];
  const stop = async () => {
    for (const [name, fn] of stops.reverse()) {
      try {
        await fn();
      } catch (err) {
        logger.error({ err, component: name }, 'error while stopping');
      }
    }
  };
  try {
    if (!existsSync(config.policyFile)) {
      mkdirSync(dirname(config.policyFile), { recursive: true });
      copyFileSync(join(import.meta.dirname, 'default.policy.yaml'), config.policyFile);
      logger.info({ policyFile: config.policyFile }, 'wrote the demo policy');
    }
    await initSqlParser();
    const policy = await PolicyWatcher.start({ path: config.policyFile, logger });
    stops.push(['policy watcher', async () => policy.close()]);

    const recording = await startEmbeddedRecording({
      ledgerFile: paths.ledgerFile,
      signingKeyFile: paths.ledgerSigningKey,
      verifierKeyFile: paths.ledgerVerifierKey,
      origin: config.ledger.origin,
      checkpointEveryEntries: config.ledger.checkpointEveryEntries,
      checkpointEveryMs: config.ledger.checkpointEveryMs,
      logger,
    });
    stops.push(...recording.stops);
    const { bus } = recording;

    const issuer = await startDevIssuer(
      {
        audience: config.issuer.audience,
        users: config.issuer.users,
        keyFile: paths.issuerKey,
        port: config.issuer.port,
        tokenTtlSeconds: config.issuer.tokenTtlSeconds,
      },
      { clock: systemClock },
    );
    stops.push(['token issuer', () => issuer.close()]);
    const verifier = createTokenVerifier({ issuer: issuerUrl(config), audience: config.issuer.audience }, { clock: systemClock });

    let upstream: { host: string; port: number; socketPath?: string; user: string; password: string; database: string; tls?: { ca?: string } };
    if (config.postgres.upstream.kind === 'demo') {
      const demo = await startDemoDatabase({ dataDir: paths.demoDatabaseDir, logger: logger.child({ component: 'demo-db' }) });
      stops.push(['demo database', () => demo.stop()]);
      // host:port only name the target in events; the proxy reaches the demo database on its private socket.
      upstream = { host: 'localhost', port: demo.port, socketPath: demo.socketPath, user: demo.user, password: demo.password, database: demo.database };
    } else {
      const u = config.postgres.upstream;
      upstream = {
        host: u.host,
        port: u.port,
        user: u.user,
        password: u.password,
        database: u.database,
        ...(u.caFile ? { tls: { ca: readFileSync(u.caFile, 'utf8') } } : {}),
      };
    }

    if (!existsSync(paths.maskingKeys)) await generateKeyFile(paths.maskingKeys);
    const maskingKeys = await loadKeyFile(paths.maskingKeys);

    const recorder = new Recorder(recording.sink, { mode: config.recording.mode }, { clock: systemClock, logger: logger.child({ component: 'recorder' }) });
    stops.push(['recorder', () => recorder.close()]);
    // Decisions are signed by this key (the accepting service's, behind the API) and
    // verified by the gate with its public half, published beside the ledger's as decisions.pub.
    const decisionSigner = loadOrCreateSigningKey(paths.decisionSigningKey, paths.decisionVerifierKey, 'affidavit-decisions');
    const decisionVerifier = ed25519NoteVerifier(decisionSigner.verifierKey);
    logger.info({ decisionKey: decisionSigner.verifierKey, file: paths.decisionVerifierKey }, 'approval decisions are signed with this key');
    const recordRefusal = sinkRefusalRecorder(recording.sink, {
      newId: () => uuidv7(),
      nowMicros: () => Date.now() * 1000,
      source: { address: '127.0.0.1', port: null, application: 'affidavit-approvals' },
      feeder: { id: 'embedded-postgres', version: VERSION },
    });
    const decisions = await busDecisionSource(bus, { instanceId: `embedded-${process.pid}` });
    stops.push(['approval decisions', () => decisions.close()]);
    // One gate sees every request in the embedded mode, so decisions for unknown ids are recorded too.
    const gate = new ApprovalGate(decisions, {
      newId: () => uuidv7(),
      now: () => Date.now(),
      verifierKeys: [decisionVerifier],
      recordRefusal,
      recordUnknownRequests: true,
      logger: logger.child({ component: 'approval-gate' }),
    });
    stops.push(['approval gate', async () => (gate.close(), gate.settled())]);

    const tls = await tlsMaterial(paths.tlsDir);
    const proxy = createPostgresProxy(
      {
        listen: { host: config.postgres.host, port: config.postgres.port },
        tls,
        // Loopback-only listener: psql's default sslmode=prefer negotiates TLS anyway.
        allowCleartextOnLoopback: true,
        upstream,
        resource: config.postgres.resource,
        approvalTimeoutMs: config.postgres.approvalTimeoutSeconds * 1000,
        idleTimeoutMs: config.postgres.idleTimeoutSeconds * 1000,
        maxConnections: config.postgres.maxConnections,
        maxConnectionsPerIdentity: config.postgres.maxConnectionsPerIdentity,
        recordingMode: config.recording.mode,
        feeder: { id: 'embedded-postgres', version: VERSION },
      },
      {
        recorder,
        authenticate: (t) => verifier.verify(t),
        policy: () => policy.current,
        classifier: new SqlClassifier({ parse: parsePostgres }),
        approvals: gate,
        masking: createMaskingPort({ keys: maskingKeys }),
        clock: systemClock,
        newId: () => uuidv7(),
        logger: logger.child({ component: 'postgres-proxy' }),
      },
    );
    const addr = await proxy.listen();
    stops.push(['postgres proxy', () => proxy.close()]);

    // The GraphQL API is where approvers decide and key holders open masked values: the access
    // core's services behind it check the approval rules, record refusals, sign decisions and put
    // every opening on the record before the value leaves.
    let apiUrl: string | null = null;
    if (config.api.port !== 0) {
      const book = new ApprovalBook({ verifierKeys: [decisionVerifier] });
      const bookFeed = await followApprovalBook(bus, book, `embedded-approvals-book-${process.pid}`);
      stops.push(['approval book', () => bookFeed.close()]);
      const publish = (e: ApprovalDecided | MaskedValueOpened) =>
        // Acknowledged once the ledger holds it: the caller is told only what is on the record.
        recording.sink.publish([{ key: e.sessionId, value: encodeEvent(e), headers: { type: e.type, eventId: e.eventId } }]);
      const apiSource = { address: '127.0.0.1', port: config.api.port, application: 'affidavit-api' };
      const apiFeeder = { id: 'embedded-api', version: VERSION };
      const decisions = approvalDecisionService({
        book,
        signer: decisionSigner,
        publish,
        recordRefusal,
        newId: () => uuidv7(),
        now: () => Date.now(),
        feeder: apiFeeder,
        source: apiSource,
        logger: logger.child({ component: 'approvals' }),
      });
      const reveals = maskedValueRevealService({
        keys: maskingKeys,
        publish,
        newId: () => uuidv7(),
        clock: systemClock,
        feeder: apiFeeder,
        source: apiSource,
        logger: logger.child({ component: 'reveal' }),
      });
      const api = await startApi(
        {
          ledgerFile: paths.ledgerFile,
          readModelFile: join(config.dataDir, 'read-models.sqlite'),
          host: '127.0.0.1',
          port: config.api.port,
          server: { development: true, roleGroups: config.api.roleGroups },
        },
        {
          // The API trusts exactly the issuer configured here (the embedded development issuer):
          // a token `affidavit approve --as` mints is accepted for that reason alone.
          verify: (t) => verifier.verify(t),
          recorder: eventSinkAuthFailureRecorder(recording.sink, {
            feeder: apiFeeder,
            resource: 'api',
            host: '127.0.0.1',
            port: config.api.port,
            clock: systemClock,
          }),
          decisions: {
            decide: (r) => decisions.decide({ ...r, approver: actorFromIdentity(r.approver) }),
            refused: (r, e) => decisions.refused({ ...r, approver: actorFromIdentity(r.approver) }, e),
          },
          reveals: { reveal: (r) => reveals.reveal({ ...r, opener: actorFromIdentity(r.opener) }) },
          signatures: decisionSignatureVerifier([decisionVerifier]),
          reportKeys: { ledgerKey: readVerifierKey(paths.ledgerVerifierKey), decisionKeys: [decisionVerifier] },
          logger: logger.child({ component: 'api' }),
        },
      );
      stops.push(['api', () => api.stop()]);
      apiUrl = api.url;
    }
    // Again once every component wrote its files: a library that chose its own mode is caught too.
    privateFiles(privatePaths, logger);

    return {
      proxyPort: addr.port,
      issuer: issuer.issuer,
      verifierKeyFile: paths.ledgerVerifierKey,
      decisionKeyFile: paths.decisionVerifierKey,
      bus,
      apiUrl,
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
