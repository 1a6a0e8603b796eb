import { parseArgs } from 'node:util';
import { createLogger } from '@affidavit/common';
import { EXIT, UsageError } from '../command.ts';
import type { Command } from '../command.ts';
import { API_ENV, loadApiConfig } from '../distributed/api-config.ts';
import { startApiProcess } from '../distributed/api-process.ts';
import { exitDespiteLingeringClients, untilSignal } from '../distributed/exit-after-stop.ts';

/** apiCommand runs the GraphQL API as its own process (distributed mode). */
export const apiCommand: Command = {
  path: ['api'],
  summary: 'run the GraphQL API as its own process over the ledger store and Kafka (distributed mode)',
  help: `usage: affidavit api --config FILE

Serves the GraphQL API (POST /graphql, GET /healthz) until SIGTERM/SIGINT: read models projected
from the ledger's SQLite store (ledgerFile, the store \`affidavit ledger run\` writes; opened
read-only) into readModelFile, bearer tokens from the configured OIDC issuer, roles from
roleGroups. With decisions.{signingKeyFile,publicKeyFile}, approve/deny check the approval rules,
sign the decision with that key (created when missing) and publish it to Kafka, where the proxy
holding the statement checks the signature against its approvals.decisionKeyFiles; without
them the API is read-only and approve/deny answer AFF_E_API_UNAVAILABLE. Authentication failures
are published to Kafka as AuthenticationFailed events.

The YAML file is validated against a JSON Schema; every error names the field. Required: id,
kafka.brokers, ledgerFile, readModelFile, oidc.{issuer,audience}.

Options:
  -c, --config FILE   the YAML configuration (or AFFIDAVIT_CONFIG)
Environment overrides: ${API_ENV.map((o) => o.env).join(', ')}

Prints "api listening on URL" on stderr once it serves.
Exit codes: 0 stopped cleanly, 2 usage error, 3 could not start (configuration, ledger file,
read-model file, port in use, broker unreachable at start).`,
  async run(args, io) {
    const { values } = parseArgs({ args, options: { config: { type: 'string', short: 'c' } } });
    const file = values.config ?? io.env.AFFIDAVIT_CONFIG;
    if (!file) throw new UsageError('--config is required');
    const config = loadApiConfig({ file, cwd: io.cwd, env: io.env });
    const logger = createLogger({ name: `api-${config.id}`, level: config.logLevel });
    const api = await startApiProcess(config, logger);
    logger.info({ url: api.url, ledgerFile: config.ledgerFile, decisions: config.decisions !== undefined }, 'api running');
    io.stderr.write(`api listening on ${api.url}\n`);
    const signal = await untilSignal();
    logger.info({ signal }, 'stopping');
    await api.stop();
    exitDespiteLingeringClients(logger, EXIT.OK);
    return EXIT.OK;
  },
};
