import type { Command } from '../command.ts';
import { policyCheckCommand } from './policy-check.ts';
import { tokenCommand } from './token.ts';

/** commands lists every sub-command of `affidavit`. */
export const commands: readonly Command[] = [tokenCommand, policyCheckCommand];
