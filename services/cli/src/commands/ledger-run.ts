import { parseArgs } from 'node:util';
import { createKafkaBus } from '@affidavit/bus';
import { createLogger, systemClock } from '@affidavit/common';
import { Ledger, loadOrCreateSigningKey, openLedgerStore, parseStoreSpec, describeStore, DEFAULT_LEDGER_OPTIONS } from '@affidavit/ledger';
import { TOPICS } from '@affidavit/schemas';
import { EXIT, UsageError } from '../command.ts';
import type { Command } from '../command.ts';
import { exitDespiteLingeringClients, untilSignal } from '../distributed/exit-after-stop.ts';

/** LEDGER_RUN_OPTIONS are the command-line options of `affidavit ledger run`. */
const LEDGER_RUN_OPTIONS = {
  brokers: { type: 'string' },
  store: { type: 'string' },
  'signing-key': { type: 'string' },
  'public-key': { type: 'string' },
  origin: { type: 'string' },
  group: { type: 'string' },
  topic: { type: 'string', default: TOPICS.sessionEvents },
  partitions: { type: 'string', default: '3' },
  'checkpoint-every': { type: 'string' },
  'checkpoint-ms': { type: 'string' },
  'session-timeout-ms': { type: 'string' },
} as const;

/**
 * parseLedgerRunArgs checks a `ledger run` command line without starting anything (the command
 * itself, and the docker-compose check, use it): required options, whole numbers, the store.
 */
export function parseLedgerRunArgs(args: readonly string[]) {
  const { values } = parseArgs({ args: [...args], options: LEDGER_RUN_OPTIONS });
  for (const k of ['brokers', 'store', 'signing-key', 'origin'] as const) if (!values[k]) throw new UsageError(`--${k} is required`);
  const int = (v: string | undefined, name: string) => {
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v) || Number(v) < 1) throw new UsageError(`--${name} must be a positive whole number`);
    return Number(v);
  };
  for (const k of ['checkpoint-every', 'checkpoint-ms'] as const) int(values[k], k);
  return {
    values,
    partitions: int(values.partitions, 'partitions')!,
    sessionTimeoutMs: int(values['session-timeout-ms'], 'session-timeout-ms'),
    storeSpec: parseStoreSpec(values.store!),
    int,
  };
}

/** ledgerRunCommand runs the ledger as its own process against Kafka (the distributed mode). */
export const ledgerRunCommand: Command = {
  path: ['ledger', 'run'],
  summary: 'run the ledger against Kafka until SIGTERM/SIGINT (distributed mode)',
  help: `usage: affidavit ledger run --brokers HOST:PORT[,…] --store STORE --signing-key FILE --origin NAME [options]

Consumes ${TOPICS.sessionEvents}, appends every event exactly once to one log per partition in
the store, and writes signed checkpoints (also published to ${TOPICS.checkpoints}).
Every record becomes one entry; none can stall a partition. A record that is not a valid event,
whose eventId is not a canonical UUIDv7, or whose key is not its sessionId is recorded as an
InputRejected entry; its raw bytes go to ${TOPICS.sessionEventsDlq} (over 256 KiB: its SHA-256 and
first 4 KiB). An event whose per-session seq repeats or goes backwards is appended and flagged
by an entry coded AFF_E_LEDGER_SEQ_ANOMALY.
On SIGTERM or SIGINT it finishes the batch in flight, writes a final checkpoint and exits 0.

Scaling out: run several instances with the same --group, --store, --signing-key and --origin.
Kafka gives each partition (one log) to one instance; when an instance stops or dies, another
takes its partitions over after the session timeout and resumes from the log's own tail. Every
append names the log size it expects, so a stale instance can never fork a log.

Options:
  --brokers LIST          Kafka bootstrap servers
  --store STORE           sqlite:FILE (or FILE) for a SQLite file shared by the instances of one
                          machine (created when missing), or esdb://HOST:PORT?tls=… for EventStoreDB
  --signing-key FILE      Ed25519 note signing key (created, mode 0600, when missing)
  --public-key FILE       where to write the verifier key (default: FILE.pub)
  --origin NAME           checkpoint origin prefix, e.g. ledger.example.com
  --group NAME            consumer group (default ${DEFAULT_LEDGER_OPTIONS.group})
  --topic NAME            session-events topic (default ${TOPICS.sessionEvents}); the DLQ and
                          checkpoints topics are NAME.dlq and NAME.checkpoints when NAME is not the default
  --partitions N          create the topics with N partitions when missing (default 3)
  --checkpoint-every N    entries between checkpoints (default ${DEFAULT_LEDGER_OPTIONS.checkpointEveryEntries})
  --checkpoint-ms MS      milliseconds between checkpoints (default ${DEFAULT_LEDGER_OPTIONS.checkpointEveryMs})
  --session-timeout-ms MS how long a silent instance keeps its partitions before the group gives
                          them to another (default 30000; lower means faster failover)

Exit codes: 0 stopped cleanly, 2 usage error, 3 could not start (broker, store or key).
Error codes: AFF_E_LEDGER_STORE_SPEC_INVALID (--store names no store), docs/errors.md.`,
  async run(args, io) {
    const o = parseLedgerRunArgs(args);
    const values = o.values;
    const { partitions, sessionTimeoutMs, storeSpec, int } = o;
    const logger = createLogger({ name: 'ledger' });
    const signer = loadOrCreateSigningKey(values['signing-key']!, values['public-key'] ?? `${values['signing-key']}.pub`, values.origin!);
    const bus = createKafkaBus(
      {
        brokers: values.brokers!.split(','),
        clientId: 'affidavit-ledger',
        ...(sessionTimeoutMs ? { sessionTimeoutMs, heartbeatIntervalMs: Math.max(100, Math.floor(sessionTimeoutMs / 10)) } : {}),
      },
      { logger },
    );
    const topic = values.topic!;
    const custom = topic !== TOPICS.sessionEvents;
    const dlqTopic = custom ? `${topic}.dlq` : TOPICS.sessionEventsDlq;
    const checkpointsTopic = custom ? `${topic}.checkpoints` : TOPICS.checkpoints;
    for (const t of [topic, dlqTopic, checkpointsTopic]) await bus.ensureTopic(t, t === topic ? partitions : 1);
    const store = await openLedgerStore(storeSpec);
    const ledger = new Ledger(
      {
        origin: values.origin!,
        topic,
        dlqTopic,
        checkpointsTopic,
        ...(values.group ? { group: values.group } : {}),
        ...(values['checkpoint-every'] ? { checkpointEveryEntries: int(values['checkpoint-every'], 'checkpoint-every') } : {}),
        ...(values['checkpoint-ms'] ? { checkpointEveryMs: int(values['checkpoint-ms'], 'checkpoint-ms') } : {}),
      },
      { bus, store, signer, clock: systemClock, logger },
    );
    await ledger.start();
    logger.info({ store: describeStore(storeSpec), origin: values.origin, verifierKey: signer.verifierKey }, 'ledger running');
    io.stderr.write(`ledger running; verifier key: ${signer.verifierKey}\n`);
    const signal = await untilSignal();
    logger.info({ signal }, 'stopping: finishing the batch in flight, writing a final checkpoint');
    await ledger.stop();
    await bus.close();
    await store.close();
    logger.info({ stats: ledger.stats() }, 'ledger stopped');
    exitDespiteLingeringClients(logger, EXIT.OK);
    return EXIT.OK;
  },
};
