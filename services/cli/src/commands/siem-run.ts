import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createKafkaBus } from '@affidavit/bus';
import { createLogger } from '@affidavit/common';
import { openSqliteLedgerStore, readVerifierKey } from '@affidavit/ledger';
import { TOPICS } from '@affidavit/schemas';
import { openPositionFile, SiemProjector } from '@affidavit/siem';
import { EXIT, UsageError } from '../command.ts';
import type { Command } from '../command.ts';
import { openLedgerForReading } from './ledger-source.ts';

/** siemRunCommand runs the SIEM projector: the ledger as OCSF JSON on Kafka. */
export const siemRunCommand: Command = {
  path: ['siem', 'run'],
  summary: 'publish every ledger entry once as OCSF 1.5 JSON to Kafka for SIEMs',
  help: `usage: affidavit siem run (--data DIR | --store FILE) --brokers HOST:PORT[,…] [options]

Reads the ledger (read-only) and publishes every entry covered by a signed checkpoint, exactly
once and in ledger order per session, as one OCSF 1.5.0 JSON object to the Kafka topic
${TOPICS.siemOcsf} (record key = session id; entries without a session are keyed
"ledger:<log>"). Logins and their failures are Authentication (3002), SQL statements,
approvals, masking and reveals Datastore Activity (6005), SSH traffic SSH Activity (4007);
anything else (InputRejected, undecodable bytes) a Base Event (0) naming the raw type.
metadata.uid is the event id; unmapped.affidavit holds the ledger position (log, index) and
the checkpoint (origin, size, root hash) that first covers it.

It keeps its own position (which entry of each log comes next) in a position file, committed
only after the broker acknowledged (acks=all, idempotent producer) every record before it, so
a restart resumes where it stopped. While the broker is unreachable it holds the batch and
retries; nothing is skipped. Run one projector per position file (a lock file enforces it).

Options:
  --data DIR          the data folder (reads DIR/ledger.sqlite)
  --store FILE        the ledger file itself
  --brokers LIST      Kafka bootstrap servers, comma-separated
  --topic NAME        topic to write (default ${TOPICS.siemOcsf})
  --partitions N      create the topic with N partitions when missing (default 3)
  --position FILE     position file (default DIR/siem-position.json, or FILE.siem-position.json)
  --key FILE          the ledger's verifier key: every checkpoint must verify with it before
                      anything it covers is published (default DIR/keys/ledger.pub; required
                      with --store unless --unverified)
  --unverified        publish without checking checkpoint signatures
  --batch N           entries per position commit (default 5000)
  --poll-ms MS        pause between looks at the ledger once caught up (default 500)
  --once              publish what the checkpoints cover now, then exit

On SIGTERM or SIGINT it finishes the batch in flight, commits, and exits 0.

Exit codes: 0 stopped cleanly (or caught up, with --once), 2 usage error, 3 could not start
or continue: ledger unreadable, broker refused the records, position file locked, damaged,
for another topic or past the ledger's end, a checkpoint not signed by the ledger's key (the
message names the AFF_E_SIEM_* code).`,
  async run(args, io) {
    const { values } = parseArgs({
      args,
      options: {
        data: { type: 'string' },
        store: { type: 'string' },
        brokers: { type: 'string' },
        topic: { type: 'string', default: TOPICS.siemOcsf },
        partitions: { type: 'string', default: '3' },
        position: { type: 'string' },
        batch: { type: 'string', default: '5000' },
        'poll-ms': { type: 'string', default: '500' },
        once: { type: 'boolean', default: false },
        key: { type: 'string' },
        unverified: { type: 'boolean', default: false },
      },
    });
    if (!values.brokers) throw new UsageError('--brokers is required');
    const int = (v: string, name: string, max: number) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1 || n > max) throw new UsageError(`--${name} must be a whole number from 1 to ${max}`);
      return n;
    };
    const partitions = int(values.partitions!, 'partitions', 10_000);
    const batchEntries = int(values.batch!, 'batch', 100_000);
    const pollMs = int(values['poll-ms']!, 'poll-ms', 600_000);
    if (values.key && values.unverified) throw new UsageError('give --key or --unverified, not both');
    const keyFile = values.key
      ? resolve(io.cwd, values.key)
      : values.data && !values.unverified
        ? join(resolve(io.cwd, values.data), 'keys', 'ledger.pub')
        : undefined;
    if (!keyFile && !values.unverified)
      throw new UsageError("--key is required with --store (or --unverified to publish without checking the ledger's signatures)");
    const verifier = keyFile ? readVerifierKey(keyFile) : undefined;
    const { store } = await openLedgerForReading(values, io, openSqliteLedgerStore);
    const positionFile = values.position
      ? resolve(io.cwd, values.position)
      : values.data
        ? join(resolve(io.cwd, values.data), 'siem-position.json')
        : `${resolve(io.cwd, values.store!)}.siem-position.json`;
    const logger = createLogger({ name: 'siem' });
    // A broker restart outlasting one publish deadline would drop the idempotent producer (new
    // producer id, no broker-side dedupe of the retry); a long deadline rides restarts out.
    const bus = createKafkaBus(
      { brokers: values.brokers.split(','), clientId: 'affidavit-siem', publishTimeoutMs: 120_000, requestTimeoutMs: 30_000 },
      { logger },
    );
    let positions: Awaited<ReturnType<typeof openPositionFile>> | undefined;
    try {
      positions = await openPositionFile(positionFile, values.topic!);
      await bus.ensureTopic(values.topic!, partitions);
      const projector = new SiemProjector({ topic: values.topic!, batchEntries, pollMs }, { store, bus, positions, logger, verifier });
      if (values.once) {
        const n = await projector.runOnce();
        io.stderr.write(`published ${n} OCSF object(s) to ${values.topic}; position in ${positionFile}\n`);
        return EXIT.OK;
      }
      const { done } = projector.start();
      logger.info({ topic: values.topic, positionFile }, 'siem projector running');
      io.stderr.write(`siem projector running: ledger → ${values.topic}; position in ${positionFile}\n`);
      const stop = () => void projector.stop();
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
      try {
        await done;
      } finally {
        process.off('SIGTERM', stop);
        process.off('SIGINT', stop);
      }
      logger.info({ stats: projector.stats() }, 'siem projector stopped');
      return EXIT.OK;
    } finally {
      await positions?.close();
      await bus.close();
      await store.close();
    }
  },
};
