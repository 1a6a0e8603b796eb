// Options shared by both adapters (named defaults, validated once, then frozen).

/** DEFAULT_MAX_VALUE_BYTES bounds one record's value (Kafka's default message.max.bytes is ~1 MiB). */
export const DEFAULT_MAX_VALUE_BYTES = 1024 * 1024;
/** DEFAULT_RETRY_BACKOFF_MS is the pause before a failed handler call is tried again. */
export const DEFAULT_RETRY_BACKOFF_MS = 200;

/** sleep waits `ms` milliseconds without keeping the process alive. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
