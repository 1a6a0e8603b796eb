/** LINGER_MS is how long a process may stay up after a clean stop before it exits anyway. */
const LINGER_MS = 3_000;

/**
 * exitDespiteLingeringClients makes the process exit with `code` if something still keeps it up
 * LINGER_MS after a clean stop. Everything is durable by then (appends, final checkpoint, the
 * store closed); what can linger is a Kafka client whose disconnect overran its bound: kafkajs
 * then leaves its socket and a request-queue timer that re-arms itself every millisecond
 * (kafkajs issues #1704 and #1751), and the process never exits after SIGTERM. Supervisors and
 * scripts rely on that exit. The timer is unref'd: a process with nothing left exits at once.
 */
export function exitDespiteLingeringClients(logger: { warn(obj: object, msg: string): void }, code: number): void {
  setTimeout(() => {
    logger.warn({ afterMs: LINGER_MS, resources: process.getActiveResourcesInfo() }, 'a Kafka client is still open after the clean stop; exiting anyway');
    process.exit(code);
  }, LINGER_MS).unref();
}

/** untilSignal resolves with the name of the first SIGTERM or SIGINT. */
export function untilSignal(): Promise<string> {
  const stop = Promise.withResolvers<string>();
  process.once('SIGTERM', () => stop.resolve('SIGTERM'));
  process.once('SIGINT', () => stop.resolve('SIGINT'));
  return stop.promise;
}
