import { join } from 'node:path';
import type { EmbeddedConfig } from './config.ts';

/** dataPaths names every file the embedded mode keeps under its data directory. */
export function dataPaths(c: Pick<EmbeddedConfig, 'dataDir'>) {
  const keys = join(c.dataDir, 'keys');
  return Object.freeze({
    keysDir: keys,
    issuerKey: join(keys, 'token-issuer.key'),
    ledgerSigningKey: join(keys, 'ledger-signing.key'),
    ledgerVerifierKey: join(keys, 'ledger.pub'),
    // The approval decision key: separate from the ledger's, so neither can stand in for the other.
    decisionSigningKey: join(keys, 'decision-signing.key'),
    decisionVerifierKey: join(keys, 'decisions.pub'),
    maskingKeys: join(keys, 'masking.keys'),
    tlsDir: join(keys, 'tls'),
    ledgerFile: join(c.dataDir, 'ledger.sqlite'),
    demoDatabaseDir: join(c.dataDir, 'demo-db'),
    pidFile: join(c.dataDir, 'affidavit.pid'),
  });
}
