import { fileURLToPath } from 'node:url';

/** FIXTURES_DIR is test/fixtures/policies of the repository (used by tests only). */
export const FIXTURES_DIR = fileURLToPath(new URL('../../../../test/fixtures/policies/', import.meta.url));

/** DEMO_POLICY_FILE is the policy embedded mode starts with (services/cli), used by tests only. */
export const DEMO_POLICY_FILE = fileURLToPath(new URL('../../../../services/cli/src/embedded/default.policy.yaml', import.meta.url));
