export { runCli } from './main.ts';
export { EXIT, UsageError } from './command.ts';
export type { Command, Io } from './command.ts';
