import { mkdirSync } from 'node:fs';
import { relative } from 'node:path';
import { parseArgs } from 'node:util';
import { createLogger } from '@affidavit/common';
import { EXIT } from '../command.ts';
import type { Command, Io } from '../command.ts';
import { dataPaths } from '../embedded/paths.ts';
import { startEmbedded } from '../embedded/system.ts';
import type { ResolvedConfig } from '../embedded/config.ts';
import { CONFIG_HELP, CONFIG_OPTION, configFrom } from './config-options.ts';

function banner(c: ResolvedConfig, port: number, apiUrl: string | null, io: Io): string {
  const rel = (p: string) => relative(io.cwd, p) || '.';
  const paths = dataPaths(c);
  const users = Object.entries(c.issuer.users)
    .map(([u, v]) => `${u} (${v.groups.join(', ')})`)
    .join(', ');
  return `
Affidavit is running (embedded mode). Ctrl-C stops it cleanly.

  Get a token (users: ${users}):
    export PGPASSWORD=$(npx affidavit token alice)
  Connect through the proxy (every statement is checked, recorded and provable):
    psql "host=127.0.0.1 port=${port} user=alice dbname=${c.postgres.resource} sslmode=require"
  Try:  select * from customers limit 3;   -- e-mail and card numbers are masked
        drop table orders;                 -- denied by policy, with the rule named
        delete from customers where id = 1; -- held until an approver decides:
    npx affidavit approvals list --as bob
    npx affidavit approve <request-id> --as bob --reason "ticket 42"
  Verify the ledger and every approval decision (offline, with only the public keys):
    npx affidavit verify ${rel(c.dataDir)} --key ${rel(paths.ledgerVerifierKey)} --decision-key ${rel(paths.decisionVerifierKey)}
${
  apiUrl
    ? `  Query the ledger through the GraphQL API (GraphiQL in a browser; auditors read, approvers decide):
    curl -s ${apiUrl}/graphql -H "authorization: Bearer $(npx affidavit token dave)" \\
      -H 'content-type: application/json' -d '{"query":"{ sessions(first: 5) { nodes { sessionId subject } } }"}'
`
    : ''
}
  Data:   ${rel(c.dataDir)}  (ledger ${rel(paths.ledgerFile)}, keys ${rel(paths.keysDir)})
  Policy: ${rel(c.policyFile)}  (reloaded on change; check with: npx affidavit policy check ${rel(c.policyFile)})
`;
}

/** startCommand runs the whole system in one process: proxy, ledger, token issuer, demo database. */
export const startCommand: Command = {
  path: ['start'],
  summary: 'start the embedded system: PostgreSQL proxy, ledger, token issuer, demo database',
  help: `usage: affidavit start [--config FILE] [--json-logs]

Starts, in one process: the in-process bus, the ledger on a SQLite file under the data directory,
the development token issuer, the PostgreSQL proxy and (unless a real upstream is configured) an
embedded demo database with a customers table. Prints how to connect, then runs until Ctrl-C
(SIGINT) or SIGTERM, when it stops cleanly with a final signed checkpoint. A second start on the
same data directory resumes the same logs.

Options:
${CONFIG_HELP}
  --json-logs         JSON log lines (default: readable lines when stderr is a terminal)

Exit codes: 0 stopped cleanly, 2 usage error, 3 could not start (the message says why).`,
  async run(args, io) {
    const { values } = parseArgs({ args, options: { ...CONFIG_OPTION, 'json-logs': { type: 'boolean' } } });
    const config = configFrom(values, io);
    mkdirSync(config.dataDir, { recursive: true });
    const logger = createLogger({ name: 'affidavit', level: config.logLevel, pretty: !values['json-logs'] && process.stderr.isTTY === true });
    logger.info({ config: { ...config, issuer: { ...config.issuer, users: Object.keys(config.issuer.users) } } }, 'starting');
    const system = await startEmbedded(config, logger);
    io.stdout.write(banner(config, system.proxyPort, system.apiUrl, io));
    const stop = Promise.withResolvers<string>();
    process.once('SIGINT', () => stop.resolve('SIGINT'));
    process.once('SIGTERM', () => stop.resolve('SIGTERM'));
    const signal = await stop.promise;
    logger.info({ signal }, 'stopping: final checkpoint, then exit');
    await system.stop();
    logger.info('stopped');
    logger.flush?.();
    return EXIT.OK;
  },
};
