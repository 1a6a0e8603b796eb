// The PostgreSQL proxy as its own process (distributed mode): events go to Kafka (sync recording
// acknowledged on acks=all), identities come from the configured OIDC issuer, and held statements
// are released by signed ApprovalDecided events read from the same topic, whichever process
// accepted the decision.
import { existsSync, readFileSync } from 'node:fs';
import {
  ApprovalGate,
  PolicyWatcher,
  Recorder,
  SqlClassifier,
  busDecisionSource,
  busEventSink,
  createTokenVerifier,
  generateKeyFile,
  initSqlParser,
  loadKeyFile,
  parsePostgres,
  sinkRefusalRecorder,
} from '@affidavit/access';
import { createKafkaBus } from '@affidavit/bus';
import { systemClock, uuidv7 } from '@affidavit/common';
import type { Logger } from '@affidavit/common';
import { readVerifierKey } from '@affidavit/ledger';
import { createMaskingPort, createPostgresProxy } from '@affidavit/postgres-proxy';
import type { ProxyPostgresConfig } from './proxy-postgres-config.ts';
import { upstreamPassword } from './proxy-postgres-config.ts';

/** VERSION of this feeder, recorded in every event's envelope. */
export const PROXY_VERSION = '0.1.0';

/** RunningProxy is a started proxy process's parts. */
export type RunningProxy = { readonly port: number; stop(): Promise<void> };

/**
 * startProxyPostgres starts the proxy from a validated config. It does not wait for the broker:
 * while Kafka is unreachable, sync-recorded commands are refused (AFF_E_RECORDING_UNAVAILABLE)
 * and the recorder retries on its own, so the proxy recovers when the broker is back.
 */
export async function startProxyPostgres(c: Readonly<ProxyPostgresConfig>, logger: Logger): Promise<RunningProxy> {
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
    await initSqlParser();
    const policy = await PolicyWatcher.start({ path: c.policyFile, logger });
    stops.push(['policy watcher', async () => policy.close()]);
    const decisionKeys = c.approvals.decisionKeyFiles.map((f) => readVerifierKey(f));
    if (!existsSync(c.masking.keyFile)) {
      await generateKeyFile(c.masking.keyFile);
      logger.warn({ keyFile: c.masking.keyFile }, 'generated a masking key file; every proxy of one resource must share it for reveal to work');
    }
    const maskingKeys = await loadKeyFile(c.masking.keyFile);
    const bus = createKafkaBus(
      {
        brokers: [...c.kafka.brokers],
        clientId: `affidavit-proxy-${c.id}`,
        publishTimeoutMs: c.kafka.publishTimeoutMs,
        connectionTimeoutMs: c.kafka.connectionTimeoutMs,
        requestTimeoutMs: c.kafka.requestTimeoutMs,
      },
      { logger: logger.child({ component: 'bus' }) },
    );
    stops.push(['bus', () => bus.close()]);
    const feeder = { id: c.id, version: PROXY_VERSION };
    const sink = busEventSink(bus, c.kafka.topic);
    const recorder = new Recorder(sink, { mode: c.recording.mode }, { clock: systemClock, logger: logger.child({ component: 'recorder' }) });
    stops.push(['recorder', () => recorder.close()]);
    // A stable group per proxy id: a restarted proxy resumes where it was instead of re-reading
    // the topic. Two proxies with one id would split the partitions and miss decisions: ids are unique.
    const decisions = await busDecisionSource(bus, { instanceId: c.id, topic: c.kafka.topic });
    stops.push(['approval decisions', () => decisions.close()]);
    const gate = new ApprovalGate(decisions, {
      newId: () => uuidv7(),
      now: () => Date.now(),
      verifierKeys: decisionKeys,
      recordRefusal: sinkRefusalRecorder(sink, {
        newId: () => uuidv7(),
        nowMicros: () => Date.now() * 1000,
        source: { address: c.listen.host, port: c.listen.port, application: 'affidavit-approvals' },
        feeder,
      }),
      // Other proxies hold other requests: a decision naming one of theirs is not a refusal here.
      recordUnknownRequests: false,
      logger: logger.child({ component: 'approval-gate' }),
    });
    stops.push(['approval gate', async () => (gate.close(), gate.settled())]);
    const verifier = createTokenVerifier(
      { issuer: c.oidc.issuer, audience: c.oidc.audience, ...(c.oidc.jwksUri ? { jwksUri: c.oidc.jwksUri } : {}) },
      { clock: systemClock },
    );
    const proxy = createPostgresProxy(
      {
        listen: { host: c.listen.host, port: c.listen.port },
        ...(c.tls ? { tls: { cert: readFileSync(c.tls.certFile, 'utf8'), key: readFileSync(c.tls.keyFile, 'utf8') } } : {}),
        allowCleartextOnLoopback: c.allowCleartextOnLoopback,
        upstream: {
          host: c.upstream.host,
          port: c.upstream.port,
          user: c.upstream.user,
          password: upstreamPassword(c),
          database: c.upstream.database,
          ...(c.upstream.caFile ? { tls: { ca: readFileSync(c.upstream.caFile, 'utf8') } } : {}),
        },
        resource: c.resource,
        approvalTimeoutMs: c.approvals.timeoutSeconds * 1000,
        idleTimeoutMs: c.limits.idleTimeoutSeconds * 1000,
        maxConnections: c.limits.maxConnections,
        maxConnectionsPerIdentity: c.limits.maxConnectionsPerIdentity,
        recordingMode: c.recording.mode,
        feeder,
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
    return { port: addr.port, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
