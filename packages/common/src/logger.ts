import pino from 'pino';
import type { Logger, LoggerOptions } from 'pino';

export type { Logger };

/** REDACT_PATHS are configuration and log fields that MUST NOT reach a log in clear. */
export const REDACT_PATHS = [
  'password',
  '*.password',
  'token',
  '*.token',
  'secret',
  '*.secret',
  'accessToken',
  '*.accessToken',
  'authorization',
  '*.authorization',
  'key',
  '*.key',
  '*.privateKey',
  'connectionString',
  '*.connectionString',
];

/**
 * createLogger returns a pino logger for one component. Output is JSON lines on stderr
 * (stdout stays free for command output such as an exported bundle); `pretty: true`
 * renders them readable for a terminal.
 */
export function createLogger(opts: { name: string; level?: string; pretty?: boolean } & LoggerOptions): Logger {
  const { pretty, ...rest } = opts;
  const base: LoggerOptions = {
    level: process.env.AFFIDAVIT_LOG_LEVEL ?? 'info',
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    ...rest,
  };
  if (pretty) {
    return pino(base, pino.transport({ target: 'pino-pretty', options: { destination: 2, colorize: true } }));
  }
  return pino(base, pino.destination({ dest: 2, sync: true }));
}
