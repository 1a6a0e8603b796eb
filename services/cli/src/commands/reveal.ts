import { parseArgs } from 'node:util';
import { EXIT, UsageError } from '../command.ts';
import type { Command } from '../command.ts';
import { mintDevToken } from '../embedded/dev-token.ts';
import { CONFIG_HELP, CONFIG_OPTION, configFrom } from './config-options.ts';
import { control } from './approvals.ts';

/** revealCommand opens the encrypted original of a masked value, recording that it did. */
export const revealCommand: Command = {
  path: ['reveal'],
  summary: 'open the encrypted original of a masked value (recorded in the ledger first)',
  help: `usage: affidavit reveal MASKED_EVENT_ID INDEX --as USER --reason TEXT [--config FILE]

A DataMasked event keeps, for each value the client saw masked, the original sealed with
AES-256-GCM. This opens value INDEX of event MASKED_EVENT_ID for a key holder: USER must be in
the auditors or approvers group, the reason is required, and a MaskedValueOpened event (who,
which value, which key, why) is durably in the ledger BEFORE the value is printed.

Options:
  --as USER       who opens it (a token for USER is minted by the development issuer)
  --reason TEXT   why (kept in the audit trail)
${CONFIG_HELP}

Exit codes: 0 printed, 1 refused (not allowed, unknown event or index, key or ciphertext wrong), 2 usage error or not running.`,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { ...CONFIG_OPTION, as: { type: 'string' }, reason: { type: 'string' } },
    });
    if (positionals.length !== 2) throw new UsageError('expected MASKED_EVENT_ID and INDEX');
    const index = Number(positionals[1]);
    if (!Number.isInteger(index) || index < 0) throw new UsageError('INDEX must be a whole number ≥ 0');
    if (!values.as) throw new UsageError('--as USER is required');
    if (!values.reason?.trim()) throw new UsageError('--reason TEXT is required');
    const config = configFrom(values, io);
    const token = await mintDevToken(config, values.as, 300);
    const { status, body } = await control(config, '/reveal', { body: { maskedEventId: positionals[0], index, reason: values.reason, token } });
    if (status !== 200) {
      io.stderr.write(`affidavit reveal: ${String(body.error)}${body.code ? ` [${String(body.code)}]` : ''}\n`);
      return EXIT.FAILED;
    }
    io.stderr.write(`column ${String(body.column)}, row ${String(body.row)}; opening recorded as event ${String(body.recordedAs)}\n`);
    io.stdout.write(`${String(body.value)}\n`);
    return EXIT.OK;
  },
};
