import { createDevTokenMinter, devIssuerOptions, loadOrCreateDevSigningKey } from '@affidavit/access';
import { systemClock } from '@affidavit/common';
import { issuerUrl } from './config.ts';
import type { ResolvedConfig } from './config.ts';
import { dataPaths } from './paths.ts';

/**
 * mintDevToken signs an access token for a configured user with the embedded development
 * issuer's key (the one the running system trusts), without needing the system to run.
 */
export async function mintDevToken(config: ResolvedConfig, user: string, ttlSeconds?: number): Promise<string> {
  const paths = dataPaths(config);
  const options = devIssuerOptions({
    audience: config.issuer.audience,
    users: config.issuer.users,
    keyFile: paths.issuerKey,
    port: config.issuer.port,
    tokenTtlSeconds: config.issuer.tokenTtlSeconds,
  });
  const key = await loadOrCreateDevSigningKey(paths.issuerKey, options.algorithm);
  const minter = createDevTokenMinter({ issuer: issuerUrl(config), options, key }, { clock: systemClock });
  return minter.mint(user, ttlSeconds === undefined ? {} : { ttlSeconds });
}
