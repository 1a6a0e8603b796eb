import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { openSqliteLedgerStore } from '@affidavit/ledger';
import { codec } from '@affidavit/schemas';
import { EXIT } from '../command.ts';
import type { Command } from '../command.ts';
import { openLedgerForReading } from './ledger-source.ts';

const replacer = (_k: string, v: unknown) => {
  if (v && typeof v === 'object' && (v as { type?: string }).type === 'Buffer' && Array.isArray((v as { data?: unknown }).data)) {
    return { base64: Buffer.from((v as { data: number[] }).data).toString('base64') };
  }
  return typeof v === 'bigint' ? String(v) : v;
};

/** ledgerShowCommand prints the ledger's entries as decoded JSON lines. */
export const ledgerShowCommand: Command = {
  path: ['ledger', 'show'],
  summary: 'print ledger entries as JSON lines (filter by type or session)',
  help: `usage: affidavit ledger show (--store FILE | --data DIR) [--type TYPE] [--session ID] [--log LOG]

Prints every entry, decoded from its Avro bytes, as one JSON object per line with its log and
index: {"log", "index", "event": {...}}. Bytes fields are shown as {"base64": …}. Read-only.

Options:
  --type TYPE     only events of this type (e.g. DataMasked, CommandBlocked)
  --session ID    only events of this session
  --log LOG       only this log

Exit codes: 0 printed, 2 usage error, 3 the ledger could not be read.`,
  async run(args, io) {
    const { values } = parseArgs({
      args,
      options: { store: { type: 'string' }, data: { type: 'string' }, type: { type: 'string' }, session: { type: 'string' }, log: { type: 'string' } },
    });
    const { store, logs } = await openLedgerForReading(values, io, openSqliteLedgerStore);
    try {
      for (const id of logs) {
        if (values.log && id !== values.log) continue;
        const log = await store.openLog(id);
        for await (const e of log.readEntries(0, Number.MAX_SAFE_INTEGER)) {
          const event = codec().decode(e.bytes) as { type: string; sessionId?: string };
          if (values.type && event.type !== values.type) continue;
          if (values.session && event.sessionId !== values.session) continue;
          if (!io.stdout.write(`${JSON.stringify({ log: id, index: e.index, event }, replacer)}\n`)) await once(io.stdout, 'drain');
        }
      }
      return EXIT.OK;
    } finally {
      await store.close();
    }
  },
};
