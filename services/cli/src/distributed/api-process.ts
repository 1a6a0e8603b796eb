// The GraphQL API as its own process (distributed mode): read models of the ledger's SQLite store,
// approve/deny through the same decision service as the embedded mode (rules checked, refusals
// recorded, decisions signed with the decision key), published to Kafka for whichever proxy holds
// the statement.
import {
  ApprovalBook,
  actorFromIdentity,
  approvalDecisionService,
  busEventSink,
  createTokenVerifier,
  followApprovalBook,
  loadKeyFile,
  maskedValueRevealService,
  sinkRefusalRecorder,
} from '@affidavit/access';
import { decisionSignatureVerifier, eventSinkAuthFailureRecorder, startApi } from '@affidavit/api';
import { createKafkaBus } from '@affidavit/bus';
import { systemClock, uuidv7 } from '@affidavit/common';
import type { Logger } from '@affidavit/common';
import { loadOrCreateSigningKey, readVerifierKey } from '@affidavit/ledger';
import { encodeEvent } from '@affidavit/schemas';
import type { ApprovalDecided, MaskedValueOpened } from '@affidavit/schemas';
import { ed25519NoteVerifier } from '@affidavit/tlog';
import type { ApiConfig } from './api-config.ts';

/** API_VERSION of this feeder, recorded in the events the API publishes. */
export const API_VERSION = '0.1.0';

/** startApiProcess starts the API from a validated config; stop() closes it and its Kafka clients. */
export async function startApiProcess(c: Readonly<ApiConfig>, logger: Logger): Promise<{ url: string; stop(): Promise<void> }> {
  const stops: Array<() => Promise<unknown>> = [];
  const stop = async () => {
    for (const fn of stops.reverse()) await fn().catch((err: unknown) => logger.error({ err }, 'error while stopping'));
  };
  try {
    const bus = createKafkaBus(
      {
        brokers: [...c.kafka.brokers],
        clientId: `affidavit-api-${c.id}`,
        publishTimeoutMs: c.kafka.publishTimeoutMs,
        connectionTimeoutMs: c.kafka.connectionTimeoutMs,
        requestTimeoutMs: c.kafka.requestTimeoutMs,
      },
      { logger: logger.child({ component: 'bus' }) },
    );
    stops.push(() => bus.close());
    const sink = busEventSink(bus, c.kafka.topic);
    const feeder = { id: c.id, version: API_VERSION };
    const verifier = createTokenVerifier(
      { issuer: c.oidc.issuer, audience: c.oidc.audience, ...(c.oidc.jwksUri ? { jwksUri: c.oidc.jwksUri } : {}) },
      { clock: systemClock },
    );
    let decisions: Parameters<typeof startApi>[1]['decisions'];
    let signatures: Parameters<typeof startApi>[1]['signatures'];
    let reveals: Parameters<typeof startApi>[1]['reveals'];
    let decisionKeys: ReturnType<typeof ed25519NoteVerifier>[] = [];
    const source = { address: c.listen.host, port: c.listen.port, application: 'affidavit-api' };
    // Keyed by session, as the ledger requires; acknowledged on acks=all: the caller is told only
    // what the broker holds.
    const publish = (e: ApprovalDecided | MaskedValueOpened) =>
      sink.publish([{ key: e.sessionId, value: encodeEvent(e), headers: { type: e.type, eventId: e.eventId } }]);
    if (c.decisions) {
      const signer = loadOrCreateSigningKey(c.decisions.signingKeyFile, c.decisions.publicKeyFile, 'affidavit-decisions');
      const verifierKey = ed25519NoteVerifier(signer.verifierKey);
      // A group of its own each start: the book is rebuilt from the topic's start, so it knows
      // every request still pending, whoever recorded it.
      const book = new ApprovalBook({ verifierKeys: [verifierKey] });
      const bookFeed = await followApprovalBook(bus, book, `affidavit-api-book-${c.id}-${uuidv7()}`, c.kafka.topic);
      stops.push(() => bookFeed.close());
      const service = approvalDecisionService({
        book,
        signer,
        publish,
        recordRefusal: sinkRefusalRecorder(sink, { newId: () => uuidv7(), nowMicros: () => Date.now() * 1000, source, feeder }),
        newId: () => uuidv7(),
        now: () => Date.now(),
        feeder,
        source,
        logger: logger.child({ component: 'approvals' }),
      });
      decisions = {
        decide: (r) => service.decide({ ...r, approver: actorFromIdentity(r.approver) }),
        refused: (r, e) => service.refused({ ...r, approver: actorFromIdentity(r.approver) }, e),
      };
      signatures = decisionSignatureVerifier([verifierKey]);
      decisionKeys = [verifierKey];
    }
    if (c.masking) {
      // The value is opened only once its MaskedValueOpened is on the broker (the service waits).
      const reveal = maskedValueRevealService({
        keys: await loadKeyFile(c.masking.keyFile),
        publish,
        newId: () => uuidv7(),
        clock: systemClock,
        feeder,
        source,
        logger: logger.child({ component: 'reveal' }),
      });
      reveals = { reveal: (r) => reveal.reveal({ ...r, opener: actorFromIdentity(r.opener) }) };
    }
    const reportKeys = c.ledgerKeyFile ? { ledgerKey: readVerifierKey(c.ledgerKeyFile), decisionKeys } : undefined;
    const api = await startApi(
      {
        ledgerFile: c.ledgerFile,
        readModelFile: c.readModelFile,
        host: c.listen.host,
        port: c.listen.port,
        server: { development: c.development, roleGroups: c.roleGroups },
      },
      {
        verify: (t) => verifier.verify(t),
        recorder: eventSinkAuthFailureRecorder(sink, { feeder, resource: 'api', host: c.listen.host, port: c.listen.port, clock: systemClock }),
        ...(decisions ? { decisions } : {}),
        ...(signatures ? { signatures } : {}),
        ...(reveals ? { reveals } : {}),
        ...(reportKeys ? { reportKeys } : {}),
        logger: logger.child({ component: 'api' }),
      },
    );
    stops.push(() => api.stop());
    return { url: api.url, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
