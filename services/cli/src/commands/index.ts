import type { Command } from '../command.ts';
import { policyCheckCommand } from './policy-check.ts';

/** commands lists every sub-command of `affidavit`. */
export const commands: readonly Command[] = [policyCheckCommand];
