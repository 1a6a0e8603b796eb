import { fileURLToPath } from 'node:url';

/** FIXTURES_DIR is test/fixtures/policies of the repository (used by tests only). */
export const FIXTURES_DIR = fileURLToPath(new URL('../../../../test/fixtures/policies/', import.meta.url));
