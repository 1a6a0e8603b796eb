export { AffidavitError, isAffidavitError } from './errors/affidavit-error.ts';
export { defineError, registeredErrors } from './errors/catalogue.ts';
export type { ErrorSpec } from './errors/catalogue.ts';
export { ConfigInvalidError, BackpressureError, TimeoutError, ShutdownError } from './errors/common-errors.ts';
export { createLogger, REDACT_PATHS } from './logger.ts';
export type { Logger } from './logger.ts';
export { validateOptions, deepFreeze, formatAjvErrors } from './config.ts';
export { uuidv7, type Clock, systemClock } from './ids.ts';
