import { parseArgs } from 'node:util';
import { EXIT, UsageError } from '../command.ts';
import type { Command } from '../command.ts';
import { API_EXIT, API_HELP, API_OPTIONS, apiTarget, graphql, runApi } from './api-client.ts';
import { visible } from './visible.ts';
import { CONFIG_HELP, CONFIG_OPTION, configFrom } from './config-options.ts';

const REVEAL = 'mutation ($id: ID!, $i: Int!, $why: String!) { revealMaskedValue(eventId: $id, index: $i, reason: $why) { value column row recordedAs } }';

/** revealCommand opens the encrypted original of a masked value, recording that it did. */
export const revealCommand: Command = {
  path: ['reveal'],
  summary: 'open the encrypted original of a masked value (recorded in the ledger first)',
  help: `usage: affidavit reveal MASKED_EVENT_ID INDEX --reason TEXT (--as USER | --token TOKEN) [--api URL] [--config FILE]

A DataMasked event keeps, for each value the client saw masked, the original sealed with
AES-256-GCM. This opens value INDEX of event MASKED_EVENT_ID through the GraphQL API's
revealMaskedValue mutation: the caller needs the auditor, approver or admin role, the reason is
required, and a MaskedValueOpened event (who, which value, which key, why) is durably in the
ledger BEFORE the value is returned. The event must be in the API's read models (a moment after
it reached the ledger). The value is printed as is into a pipe or file; on a terminal, control
and bidi characters in it are printed as visible escapes.

Options:
  --reason TEXT   why (kept in the audit trail)
${API_HELP}
${CONFIG_HELP}

Exit codes: 0 printed, ${API_EXIT}.`,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { ...CONFIG_OPTION, ...API_OPTIONS, reason: { type: 'string' } },
    });
    if (positionals.length !== 2) throw new UsageError('expected MASKED_EVENT_ID and INDEX');
    const index = Number(positionals[1]);
    if (!Number.isSafeInteger(index) || index < 0 || index > 2 ** 31 - 1) throw new UsageError('INDEX must be a whole number ≥ 0');
    if (!values.reason?.trim()) throw new UsageError('--reason TEXT is required');
    const target = await apiTarget(values, configFrom(values, io), io);
    return runApi('reveal', io, async () => {
      type Answer = { revealMaskedValue: { value: string; column: string; row: number; recordedAs: string } };
      const d = await graphql<Answer>(target, REVEAL, { id: positionals[0], i: index, why: values.reason });
      const r = d.revealMaskedValue;
      io.stderr.write(`column ${visible(r.column)}, row ${r.row}; opening recorded as event ${visible(r.recordedAs)}\n`);
      // The value is database data: on a terminal its control characters are shown, not obeyed.
      io.stdout.write(`${(io.stdout as { isTTY?: boolean }).isTTY ? visible(r.value) : r.value}\n`);
      return EXIT.OK;
    });
  },
};
