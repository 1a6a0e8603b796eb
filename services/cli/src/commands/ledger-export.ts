import { parseArgs } from 'node:util';
import { once } from 'node:events';
import { exportBundle, openSqliteLedgerStore } from '@affidavit/ledger';
import { EXIT, UsageError } from '../command.ts';
import type { Command } from '../command.ts';
import { openLedgerForReading, originOf } from './ledger-source.ts';

/** ledgerExportCommand writes a verifiable bundle of one log to stdout. */
export const ledgerExportCommand: Command = {
  path: ['ledger', 'export'],
  summary: 'write a verifiable bundle of one log to stdout',
  help: `usage: affidavit ledger export (--store FILE | --data DIR) [--log LOG] [--to N] > bundle

Writes one log as an ${'affidavit-bundle/1'} bundle (JSON lines): a header, every signed
checkpoint, then entries 0..N-1 with their exact bytes and the leaf hash recorded when each was
appended. Check it anywhere with 'affidavit verify bundle --key ledger.pub'.

Options:
  --store FILE   the ledger's SQLite file
  --data DIR     an embedded data directory (uses DIR/ledger.sqlite)
  --log LOG      which log (default: the only one; required when there are several)
  --to N         export entries [0, N) only (default: all)

Exit codes: 0 written, 1 no such log, 2 usage error, 3 other error.`,
  async run(args, io) {
    const { values } = parseArgs({ args, options: { store: { type: 'string' }, data: { type: 'string' }, log: { type: 'string' }, to: { type: 'string' } } });
    const to = values.to === undefined ? undefined : Number(values.to);
    if (to !== undefined && (!Number.isInteger(to) || to < 0)) throw new UsageError('--to must be a whole number ≥ 0');
    const { store, logs, origin } = await openLedgerForReading(values, io, openSqliteLedgerStore);
    try {
      const chosen = values.log ?? (logs.length === 1 ? logs[0] : undefined);
      if (!chosen) {
        io.stderr.write(`affidavit ledger export: ${logs.length === 0 ? 'the store has no logs' : `choose a log with --log: ${logs.join(', ')}`}\n`);
        return logs.length === 0 ? EXIT.FAILED : EXIT.USAGE;
      }
      if (!logs.includes(chosen)) {
        io.stderr.write(`affidavit ledger export: no log ${chosen} (logs: ${logs.join(', ') || 'none'})\n`);
        return EXIT.FAILED;
      }
      const log = await store.openLog(chosen);
      for await (const line of exportBundle(log, { origin: originOf(origin, await log.latestCheckpoint(), chosen), ...(to === undefined ? {} : { to }) })) {
        if (!io.stdout.write(line)) await once(io.stdout, 'drain');
      }
      return EXIT.OK;
    } finally {
      await store.close();
    }
  },
};
