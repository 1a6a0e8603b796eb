import { defineError } from '@affidavit/common';

/** DemoDatabaseStartError: the embedded demo PostgreSQL (PGlite) could not open its data folder or listen on its port. */
export const DemoDatabaseStartError = defineError('AFF_E_CLI_DEMO_DB_START_FAILED', 'the embedded demo database could not start');
