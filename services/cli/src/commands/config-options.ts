import type { ParseArgsConfig } from 'node:util';
import { loadConfig } from '../embedded/config.ts';
import type { ResolvedConfig } from '../embedded/config.ts';
import type { Io } from '../command.ts';

/** CONFIG_OPTION is the `--config FILE` option every embedded-mode command takes. */
export const CONFIG_OPTION = { config: { type: 'string', short: 'c' } } as const satisfies ParseArgsConfig['options'];

/** CONFIG_HELP documents --config and the environment overrides. */
export const CONFIG_HELP = `  -c, --config FILE   YAML config (default: built-in demo config; data in ./data)
Environment overrides: AFFIDAVIT_DATA_DIR, AFFIDAVIT_LOG_LEVEL, AFFIDAVIT_ISSUER_PORT,
AFFIDAVIT_PG_PORT, AFFIDAVIT_POLICY_FILE, AFFIDAVIT_RECORDING_MODE.`;

/** configFrom loads the config a command was pointed at. */
export function configFrom(values: { config?: string }, io: Io): ResolvedConfig {
  return loadConfig({ file: values.config ?? io.env.AFFIDAVIT_CONFIG, cwd: io.cwd, env: io.env });
}
