import type { Command } from '../command.ts';
import { approvalsListCommand, approveCommand, denyCommand } from './approvals.ts';
import { ledgerExportCommand } from './ledger-export.ts';
import { ledgerRunCommand } from './ledger-run.ts';
import { ledgerShowCommand } from './ledger-show.ts';
import { policyCheckCommand } from './policy-check.ts';
import { revealCommand } from './reveal.ts';
import { startCommand } from './start.ts';
import { tokenCommand } from './token.ts';
import { verifyCommand } from './verify.ts';

/** commands lists every sub-command of `affidavit`. */
export const commands: readonly Command[] = [
  startCommand,
  tokenCommand,
  approvalsListCommand,
  approveCommand,
  denyCommand,
  revealCommand,
  verifyCommand,
  ledgerExportCommand,
  ledgerShowCommand,
  ledgerRunCommand,
  policyCheckCommand,
];
