import type { Command } from '../command.ts';

/** commands lists every sub-command of `affidavit`. */
export const commands: readonly Command[] = [];
