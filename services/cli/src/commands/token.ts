import { parseArgs } from 'node:util';
import { EXIT, UsageError } from '../command.ts';
import type { Command } from '../command.ts';
import { mintDevToken } from '../embedded/dev-token.ts';
import { CONFIG_HELP, CONFIG_OPTION, configFrom } from './config-options.ts';

/** tokenCommand mints a development access token for a configured user (embedded mode only). */
export const tokenCommand: Command = {
  path: ['token'],
  summary: 'print a development access token for a configured user (embedded mode)',
  help: `usage: affidavit token USER [--ttl SECONDS] [--config FILE]

Prints a short-lived OIDC access token for USER, signed by the embedded development issuer
(the same key the running system trusts). Use it as the password of psql through the proxy:
  PGPASSWORD=$(npx affidavit token alice) psql "host=127.0.0.1 port=6432 user=alice dbname=demo"

Options:
  --ttl SECONDS       lifetime (default: the config's issuer.tokenTtlSeconds)
${CONFIG_HELP}

Exit codes: 0 printed, 1 unknown user, 2 usage error, 3 other error.`,
  async run(args, io) {
    const { values, positionals } = parseArgs({ args, options: { ...CONFIG_OPTION, ttl: { type: 'string' } }, allowPositionals: true });
    if (positionals.length !== 1) throw new UsageError('expected exactly one USER');
    const ttl = values.ttl === undefined ? undefined : Number(values.ttl);
    if (ttl !== undefined && (!Number.isInteger(ttl) || ttl < 1)) throw new UsageError('--ttl must be a positive whole number of seconds');
    const config = configFrom(values, io);
    try {
      io.stdout.write(`${await mintDevToken(config, positionals[0], ttl)}\n`);
    } catch (e) {
      if ((e as { code?: string }).code === 'AFF_E_AUTH_DEV_UNKNOWN_USER') {
        io.stderr.write(`affidavit token: ${(e as Error).message}\n`);
        return EXIT.FAILED;
      }
      throw e;
    }
    return EXIT.OK;
  },
};
