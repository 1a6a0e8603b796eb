import { parseArgs } from 'node:util';
import { createLogger } from '@affidavit/common';
import { EXIT, UsageError } from '../command.ts';
import type { Command } from '../command.ts';
import { exitDespiteLingeringClients, untilSignal } from '../distributed/exit-after-stop.ts';
import { startProxyPostgres } from '../distributed/proxy-postgres.ts';
import { loadProxyPostgresConfig, PROXY_POSTGRES_ENV } from '../distributed/proxy-postgres-config.ts';

/** proxyPostgresCommand runs the PostgreSQL proxy as its own process, publishing to Kafka. */
export const proxyPostgresCommand: Command = {
  path: ['proxy', 'postgres'],
  summary: 'run the PostgreSQL proxy as its own process, recording to Kafka (distributed mode)',
  help: `usage: affidavit proxy postgres --config FILE

Runs the PostgreSQL proxy until SIGTERM/SIGINT: clients log in with an OIDC access token from the
configured issuer, every statement is checked against the policy file (reloaded on change) and
recorded as events on Kafka, keyed by session. With recording.mode sync (the default) a statement
runs only once the broker acknowledged its event on acks=all; while the broker is unreachable the
proxy refuses statements with AFF_E_RECORDING_UNAVAILABLE and recovers by itself when it is back.
Statements held for approval are released by ApprovalDecided events on the same topic, signed by
a key listed in approvals.decisionKeyFiles (none listed: held statements only expire).

The YAML file is validated against a JSON Schema; every error names the field. Required: id
(unique per proxy instance), kafka.brokers, upstream.{host,user,database} and a password
(upstream.password or upstream.passwordFile), oidc.{issuer,audience}, policyFile,
masking.keyFile (created when missing; proxies of one resource share it), and tls.{certFile,keyFile}
unless allowCleartextOnLoopback is true on a loopback listener. See docker-compose.yml for an example.

Options:
  -c, --config FILE   the YAML configuration (or AFFIDAVIT_CONFIG)
Environment overrides: ${PROXY_POSTGRES_ENV.map((o) => o.env).join(', ')}
(AFFIDAVIT_KAFKA_BROKERS is a comma-separated list).

Prints "proxy listening on HOST:PORT" on stderr once it accepts connections.
Exit codes: 0 stopped cleanly, 2 usage error, 3 could not start (configuration, key files, policy,
port in use, broker unreachable at start).`,
  async run(args, io) {
    const { values } = parseArgs({ args, options: { config: { type: 'string', short: 'c' } } });
    const file = values.config ?? io.env.AFFIDAVIT_CONFIG;
    if (!file) throw new UsageError('--config is required');
    const config = loadProxyPostgresConfig({ file, cwd: io.cwd, env: io.env });
    const logger = createLogger({ name: `proxy-${config.id}`, level: config.logLevel });
    const proxy = await startProxyPostgres(config, logger);
    logger.info({ port: proxy.port, brokers: config.kafka.brokers, topic: config.kafka.topic, mode: config.recording.mode }, 'proxy running');
    io.stderr.write(`proxy listening on ${config.listen.host}:${proxy.port}\n`);
    const signal = await untilSignal();
    logger.info({ signal }, 'stopping: closing sessions, flushing recorded events');
    await proxy.stop();
    logger.info('proxy stopped');
    exitDespiteLingeringClients(logger, EXIT.OK);
    return EXIT.OK;
  },
};
