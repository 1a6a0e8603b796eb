import type { Actor, EventOfType, Feeder, LedgerRecord, Source, Target } from './generated/events.ts';

/** EXAMPLE_ACTOR is a plausible verified identity for tests and documentation. */
export const EXAMPLE_ACTOR: Actor = {
  issuer: 'http://127.0.0.1:9000',
  subject: 'alice',
  email: 'alice@example.com',
  groups: ['analysts'],
  authMethods: ['pwd', 'otp'],
  acr: null,
  mfa: true,
  tokenId: 'tok-1',
};
const SOURCE: Source = { address: '127.0.0.1', port: 50000, application: 'psql' };
const TARGET: Target = { kind: 'postgres', resource: 'demo', host: '127.0.0.1', port: 5432, database: 'app', login: 'app' };
const FEEDER: Feeder = { id: 'pg-proxy-1', version: '0.1.0' };
const ID = '01890a5d-ac96-774b-bcce-b302099a8057';
const SESSION = '01890a5d-ac96-774b-bcce-b302099a8000';
const T0 = 1_700_000_000_000_000;

type Body<T extends LedgerRecord['type']> = Omit<
  EventOfType<T>,
  'eventId' | 'type' | 'occurredAt' | 'sessionId' | 'seq' | 'actor' | 'source' | 'target' | 'feeder'
>;

// A function, not a constant: every call gets fresh objects (structuredClone would turn Buffers into Uint8Arrays).
const bodies = (): { [T in LedgerRecord['type']]: Body<T> } => ({
  SessionStarted: { protocol: 'postgres-3.0', tls: true, recordingMode: 'sync', clientParameters: { application_name: 'psql' } },
  AuthenticationFailed: { code: 'AFF_E_AUTH_TOKEN_EXPIRED', reason: 'token expired', claimedIssuer: null, claimedSubject: 'alice', tokenId: null },
  CommandIssued: { commandId: 'c1', channel: 'simple', text: 'select 1', parameters: [], classes: ['select'], decision: 'allow', ruleId: 'reads' },
  CommandCompleted: { commandId: 'c1', outcome: 'ok', tag: 'SELECT 1', rows: 1, durationMicros: 250, errorCode: null, errorMessage: null, resultDigest: null },
  CommandBlocked: { commandId: 'c2', text: 'drop table customers', ruleId: 'no-ddl', reason: 'DDL is not allowed' },
  ApprovalRequested: {
    requestId: 'r1',
    commandId: 'c3',
    text: 'delete from customers',
    ruleId: 'hold-writes',
    reason: 'writes need approval',
    approverGroups: ['approvers'],
    expiresAt: T0 + 300_000_000,
  },
  ApprovalDecided: {
    requestId: 'r1',
    decision: 'approved',
    approver: { ...EXAMPLE_ACTOR, subject: 'bob', groups: ['approvers'] },
    justification: 'ticket 42',
    signature: null,
    commandDigest: null,
  },
  ApprovalRefused: {
    requestId: 'r1',
    refusedEventId: ID,
    attemptedDecision: 'approved',
    claimedApprover: EXAMPLE_ACTOR,
    code: 'AFF_E_APPROVAL_SELF',
    reason: 'alice requested r1 and cannot decide it',
    refusedBy: 'gate',
  },
  DataMasked: { commandId: 'c4', count: 1, masks: [], truncated: false, sealedOriginals: [] },
  ResultCaptured: { commandId: 'c4', columns: ['id', 'email'], rows: [['1', 'a***@example.com']], truncated: false, resultDigest: 'ab' },
  TerminalOutput: { channel: 0, stream: 'stdout', offsetMicros: 10, data: Buffer.from('hello\r\n') },
  SessionEnded: { reason: 'client-closed', durationMicros: 1_000_000, commands: 3, errorCode: null },
  MaskedValueOpened: { maskedEventId: ID, index: 0, keyId: 'k1', reason: 'incident 7' },
  InputRejected: { rawSha256: '00', rawSize: 3, code: 'AFF_E_AVRO_BAD_MAGIC', reason: 'bad magic', topic: 't', partition: 0, offset: 0 },
});

/**
 * exampleEvent returns a valid event of one type with plausible values, for tests and docs.
 * `overrides` replaces top-level fields.
 */
export function exampleEvent<T extends LedgerRecord['type']>(type: T, overrides: Partial<EventOfType<T>> = {}): EventOfType<T> {
  const head =
    type === 'InputRejected'
      ? { eventId: ID, type, occurredAt: T0 }
      : {
          eventId: ID,
          type,
          occurredAt: T0,
          sessionId: SESSION,
          seq: 0,
          actor: type === 'AuthenticationFailed' ? null : EXAMPLE_ACTOR,
          source: SOURCE,
          target: TARGET,
          feeder: FEEDER,
        };
  return { ...head, ...bodies()[type], ...overrides } as unknown as EventOfType<T>;
}
