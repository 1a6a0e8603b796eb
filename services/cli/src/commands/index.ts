import type { Command } from '../command.ts';

/**
 * CommandLoader names a sub-command and loads its module on demand: `affidavit verify` then
 * loads the ledger, not Kafka, PGlite and the proxies as well (about 0.7 s of a verify run).
 */
export type CommandLoader = { readonly path: readonly string[]; load(): Promise<Command> };

/** commandLoaders lists every sub-command of `affidavit`, in the order the overview shows them. */
export const commandLoaders: readonly CommandLoader[] = [
  { path: ['start'], load: async () => (await import('./start.ts')).startCommand },
  { path: ['token'], load: async () => (await import('./token.ts')).tokenCommand },
  { path: ['approvals', 'list'], load: async () => (await import('./approvals.ts')).approvalsListCommand },
  { path: ['approve'], load: async () => (await import('./approvals.ts')).approveCommand },
  { path: ['deny'], load: async () => (await import('./approvals.ts')).denyCommand },
  { path: ['reveal'], load: async () => (await import('./reveal.ts')).revealCommand },
  { path: ['verify'], load: async () => (await import('./verify.ts')).verifyCommand },
  { path: ['report'], load: async () => (await import('./report.ts')).reportCommand },
  { path: ['verify', 'report'], load: async () => (await import('./verify-report.ts')).verifyReportCommand },
  { path: ['ledger', 'export'], load: async () => (await import('./ledger-export.ts')).ledgerExportCommand },
  { path: ['ledger', 'show'], load: async () => (await import('./ledger-show.ts')).ledgerShowCommand },
  { path: ['ledger', 'run'], load: async () => (await import('./ledger-run.ts')).ledgerRunCommand },
  { path: ['replay'], load: async () => (await import('./replay.ts')).replayCommand },
  { path: ['replay', 'export'], load: async () => (await import('./replay-export.ts')).replayExportCommand },
  { path: ['replay', 'keygen'], load: async () => (await import('./replay-export.ts')).replayKeygenCommand },
  { path: ['api'], load: async () => (await import('./api.ts')).apiCommand },
  { path: ['proxy', 'postgres'], load: async () => (await import('./proxy-postgres.ts')).proxyPostgresCommand },
  { path: ['policy', 'check'], load: async () => (await import('./policy-check.ts')).policyCheckCommand },
  { path: ['siem', 'run'], load: async () => (await import('./siem-run.ts')).siemRunCommand },
];

/** loadCommands loads every sub-command (for the overview and for unknown commands). */
export function loadCommands(): Promise<Command[]> {
  return Promise.all(commandLoaders.map((c) => c.load()));
}

/**
 * commandsFor returns what `argv` needs: just the matching command's module when one matches
 * (longest path first), every command otherwise.
 */
export async function commandsFor(argv: readonly string[]): Promise<Command[]> {
  const match = [...commandLoaders].sort((a, b) => b.path.length - a.path.length).find((c) => c.path.every((w, i) => argv[i] === w));
  return match ? [await match.load()] : loadCommands();
}
