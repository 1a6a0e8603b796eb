import { validateOptions } from '@affidavit/common';
import { DEFAULT_MAX_VALUE_BYTES, DEFAULT_RETRY_BACKOFF_MS } from '../../options.ts';

/** KafkaBusOptions configures the Kafka adapter. Every duration is in milliseconds. */
export type KafkaBusOptions = {
  /** brokers are bootstrap addresses, "host:port". */
  brokers: string[];
  /** clientId names this client in broker logs. Default "affidavit". */
  clientId?: string;
  /**
   * publishTimeoutMs bounds one publish() call (connect + send + acks=all). On expiry the
   * call rejects with AFF_E_BUS_UNAVAILABLE. Default 10 000.
   */
  publishTimeoutMs?: number;
  /** adminTimeoutMs bounds ensureTopic(), partitionsOf() and joining a group in subscribe(). Default 30 000. */
  adminTimeoutMs?: number;
  /** connectionTimeoutMs bounds one TCP connect to a broker. Default 3 000. */
  connectionTimeoutMs?: number;
  /** requestTimeoutMs bounds one Kafka request. Default 8 000; MUST be below publishTimeoutMs. */
  requestTimeoutMs?: number;
  /** sessionTimeoutMs: a group member silent this long is dropped and its partitions reassigned. Default 30 000. */
  sessionTimeoutMs?: number;
  /** heartbeatIntervalMs between group heartbeats. Default 3 000; MUST be at most a third of sessionTimeoutMs. */
  heartbeatIntervalMs?: number;
  /** rebalanceTimeoutMs: how long the group waits for members to rejoin. Default 30 000. */
  rebalanceTimeoutMs?: number;
  /** maxWaitTimeMs a fetch waits on the broker for new data. Default 200 (low latency for the ledger). */
  maxWaitTimeMs?: number;
  /** retryBackoffMs is the pause before a failed handler call is retried. Default 200. */
  retryBackoffMs?: number;
  /** maxValueBytes bounds one record's value. Default 1 MiB. */
  maxValueBytes?: number;
};

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['brokers'],
  properties: {
    brokers: { type: 'array', minItems: 1, maxItems: 100, items: { type: 'string', pattern: '^[^\\s:]+:[0-9]{1,5}$' } },
    clientId: { type: 'string', minLength: 1, maxLength: 200, pattern: '^[a-zA-Z0-9._-]+$', default: 'affidavit' },
    publishTimeoutMs: { type: 'integer', minimum: 100, maximum: 600_000, default: 10_000 },
    adminTimeoutMs: { type: 'integer', minimum: 100, maximum: 600_000, default: 30_000 },
    connectionTimeoutMs: { type: 'integer', minimum: 50, maximum: 60_000, default: 3_000 },
    requestTimeoutMs: { type: 'integer', minimum: 50, maximum: 600_000, default: 8_000 },
    sessionTimeoutMs: { type: 'integer', minimum: 1_000, maximum: 600_000, default: 30_000 },
    heartbeatIntervalMs: { type: 'integer', minimum: 100, maximum: 200_000, default: 3_000 },
    rebalanceTimeoutMs: { type: 'integer', minimum: 1_000, maximum: 600_000, default: 30_000 },
    maxWaitTimeMs: { type: 'integer', minimum: 0, maximum: 30_000, default: 200 },
    retryBackoffMs: { type: 'integer', minimum: 0, maximum: 60_000, default: DEFAULT_RETRY_BACKOFF_MS },
    maxValueBytes: { type: 'integer', minimum: 1, maximum: 64 * 1024 * 1024, default: DEFAULT_MAX_VALUE_BYTES },
  },
};

/** ResolvedKafkaBusOptions are validated options with every default filled in. */
export type ResolvedKafkaBusOptions = Readonly<Required<KafkaBusOptions>>;

/**
 * resolveKafkaBusOptions validates `input` (JSON Schema, then cross-field rules), fills
 * defaults and freezes the result; it throws AFF_E_CONFIG_INVALID naming each bad field.
 */
export function resolveKafkaBusOptions(input: unknown): ResolvedKafkaBusOptions {
  return validateOptions<Required<KafkaBusOptions>>(schema, input, {
    name: 'kafka bus options',
    rules: [
      (o) =>
        o.requestTimeoutMs < o.publishTimeoutMs ? undefined : 'requestTimeoutMs must be below publishTimeoutMs, or publish could not report a timeout itself',
      (o) => (o.heartbeatIntervalMs * 3 <= o.sessionTimeoutMs ? undefined : 'heartbeatIntervalMs must be at most a third of sessionTimeoutMs'),
      (o) => (o.connectionTimeoutMs < o.publishTimeoutMs ? undefined : 'connectionTimeoutMs must be below publishTimeoutMs'),
    ],
  });
}
