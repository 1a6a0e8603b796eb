// Driver errors → the bus's typed errors (STYLE rule 4: adapters translate).
import { AffidavitError } from '@affidavit/common';
import { BusRejectedError, BusTopicUnknownError, BusUnavailableError } from '../../errors.ts';

type KafkaJsLike = { name?: string; type?: string; retriable?: boolean; message?: string; originalError?: unknown; cause?: unknown };

/** causes walks a kafkajs error and what it wraps (originalError, cause), at most 10 deep. */
function* causes(e: unknown): Generator<KafkaJsLike> {
  for (let i = 0; i < 10 && e !== null && typeof e === 'object'; i++) {
    yield e as KafkaJsLike;
    const k = e as KafkaJsLike;
    e = k.originalError ?? k.cause;
  }
}

const UNAVAILABLE_NAMES = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSBrokerNotFound',
  'KafkaJSNumberOfRetriesExceeded',
  'KafkaJSLockTimeout',
  'KafkaJSMetadataNotLoaded',
  'KafkaJSTimeout',
]);

/**
 * translateKafkaError maps a kafkajs error to AFF_E_BUS_TOPIC_UNKNOWN, AFF_E_BUS_UNAVAILABLE
 * (retriable: connection, timeout, or anything kafkajs itself calls retriable) or
 * AFF_E_BUS_REJECTED; an AffidavitError passes through unchanged.
 */
export function translateKafkaError(e: unknown, what: string): AffidavitError {
  if (e instanceof AffidavitError) return e;
  const chain = [...causes(e)];
  const msg = chain.map((c) => c.message).filter(Boolean)[0] ?? String(e);
  if (chain.some((c) => c.type === 'UNKNOWN_TOPIC_OR_PARTITION')) {
    return new BusTopicUnknownError(`${what}: topic does not exist (${msg})`, { cause: e });
  }
  if (chain.some((c) => (c.name !== undefined && UNAVAILABLE_NAMES.has(c.name)) || c.retriable === true)) {
    return new BusUnavailableError(`${what}: Kafka unavailable (${msg})`, { cause: e });
  }
  return new BusRejectedError(`${what}: ${msg}`, { cause: e });
}

/**
 * withDeadline rejects with AFF_E_BUS_UNAVAILABLE when `p` has not settled after `ms`
 * (so a caller never hangs on a dead broker), translating driver errors otherwise.
 */
export async function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new BusUnavailableError(`${what}: no answer from Kafka within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, deadline]);
  } catch (e) {
    throw translateKafkaError(e, what);
  } finally {
    clearTimeout(timer);
    // The losing promise may still reject later; it has been accounted for.
    p.catch(() => {});
  }
}
