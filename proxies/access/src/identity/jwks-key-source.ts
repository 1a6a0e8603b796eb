// The issuer's signing keys: discovered, fetched, cached, refreshed on an unknown `kid` at most
// once per cooldown. A flood of tokens with random kids costs the issuer one request per
// cooldown, never one per token (the same contract as jose's createRemoteJWKSet, but on an
// injected clock and fetcher so the rate limit is tested without sleeping).
import { createLocalJWKSet, errors as jose, type CryptoKey, type JSONWebKeySet, type JWSHeaderParameters } from 'jose';
import type { Clock } from '@affidavit/common';
import { IssuerMetadataInvalidError, IssuerUnreachableError, SigningKeyRejectedError, UnknownKeyIdError } from './errors.ts';
import { MAX_METADATA_BYTES, type FetchJson } from './fetch-json.ts';
import { isLoopbackUrl } from './verifier-options.ts';

/** KeySourceOptions is the part of the verifier options the key source needs. */
export type KeySourceOptions = {
  readonly issuer: string;
  readonly jwksUri?: string;
  readonly jwksCooldownMs: number;
  readonly jwksMaxAgeMs: number;
  readonly httpTimeoutMs: number;
  readonly allowInsecureHttp: boolean;
};

/** KeySource resolves the verification keys that may have signed a token with this header. */
export type KeySource = {
  /**
   * candidates returns every usable key matching the header's `alg` and `kid` (usually one;
   * several only when the token has no `kid`). It MUST throw UnknownKeyIdError when none
   * matches after a refresh allowed by the cooldown, and IssuerUnreachableError when keys are
   * needed and cannot be fetched.
   */
  candidates(header: JWSHeaderParameters): Promise<CryptoKey[]>;
  /** fetchCount is how many JWKS fetches were attempted (for tests and metrics). */
  fetchCount(): number;
};

/** discoveryUrl builds the OpenID discovery URL of an issuer. */
export function discoveryUrl(issuer: string): string {
  // SPEC: https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderConfigurationRequest
  //   "If the Issuer value contains a path component, any terminating / MUST be removed before
  //    appending /.well-known/openid-configuration."
  return `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
}

type Loaded = { readonly lookup: ReturnType<typeof createLocalJWKSet>; readonly fetchedAt: number };

/** createJwksKeySource builds the KeySource of one issuer. */
export function createJwksKeySource(opts: KeySourceOptions, deps: { readonly clock: Clock; readonly fetchJson: FetchJson }): KeySource {
  const { clock, fetchJson } = deps;
  let jwksUri = opts.jwksUri;
  let loaded: Loaded | undefined;
  let lastAttemptAt = Number.NEGATIVE_INFINITY;
  let lastError: Error | undefined;
  let inflight: Promise<void> | undefined;
  let fetches = 0;
  const get = (url: string) => fetchJson(url, { timeoutMs: opts.httpTimeoutMs, maxBytes: MAX_METADATA_BYTES });

  async function resolveJwksUri(): Promise<string> {
    if (jwksUri !== undefined) return jwksUri;
    const url = discoveryUrl(opts.issuer);
    const doc = await get(url);
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new IssuerMetadataInvalidError(`${url} is not a JSON object`);
    const { issuer, jwks_uri: found } = doc as Record<string, unknown>;
    // SPEC: https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderConfigurationValidation
    //   "The issuer value returned MUST be identical to the Issuer URL that was used as the prefix
    //    to /.well-known/openid-configuration to retrieve the configuration information."
    if (issuer !== opts.issuer) {
      throw new IssuerMetadataInvalidError(`the discovery document at ${url} names issuer ${JSON.stringify(issuer)}, not the configured ${opts.issuer}`);
    }
    if (typeof found !== 'string' || !URL.canParse(found)) throw new IssuerMetadataInvalidError(`the discovery document at ${url} has no valid jwks_uri`);
    const u = new URL(found);
    if (!(u.protocol === 'https:' || (u.protocol === 'http:' && (isLoopbackUrl(u) || opts.allowInsecureHttp)))) {
      throw new IssuerMetadataInvalidError(`the discovery document at ${url} points to a key set over an insecure transport: ${found}`);
    }
    jwksUri = found;
    return found;
  }

  async function doRefresh(): Promise<void> {
    lastAttemptAt = clock.now();
    fetches++;
    try {
      const uri = await resolveJwksUri();
      const body = (await get(uri)) as JSONWebKeySet;
      let lookup: Loaded['lookup'];
      try {
        lookup = createLocalJWKSet(body);
      } catch (cause) {
        throw new IssuerMetadataInvalidError(`the key set at ${uri} is not a JSON Web Key Set`, { cause });
      }
      loaded = { lookup, fetchedAt: clock.now() };
      lastError = undefined;
    } catch (e) {
      lastError = e instanceof IssuerMetadataInvalidError || e instanceof IssuerUnreachableError ? e : new IssuerUnreachableError(undefined, { cause: e });
      throw lastError;
    }
  }

  /** refresh fetches unless a fetch was attempted within the cooldown; it reports whether it did. */
  async function refresh(): Promise<boolean> {
    if (inflight) {
      await inflight;
      return true;
    }
    if (clock.now() - lastAttemptAt < opts.jwksCooldownMs) return false;
    inflight = doRefresh().finally(() => {
      inflight = undefined;
    });
    await inflight;
    return true;
  }

  function unavailable(): Error {
    if (lastError instanceof IssuerMetadataInvalidError) return lastError;
    const wait = Math.max(1, Math.ceil((lastAttemptAt + opts.jwksCooldownMs - clock.now()) / 1000));
    return new IssuerUnreachableError(`the identity provider's signing keys are unavailable (the last fetch failed); try again in ${wait} s`, {
      cause: lastError,
    });
  }

  async function match(l: Loaded, header: JWSHeaderParameters): Promise<CryptoKey[] | undefined> {
    try {
      return [await l.lookup(header)];
    } catch (e) {
      if (e instanceof jose.JWKSNoMatchingKey) return undefined;
      if (e instanceof jose.JWKSMultipleMatchingKeys) {
        const keys: CryptoKey[] = [];
        for await (const k of e as unknown as AsyncIterable<CryptoKey>) keys.push(k);
        if (keys.length === 0) throw new SigningKeyRejectedError(undefined, { cause: e });
        return keys;
      }
      // The alg allow-list ran before us, so what fails here is importing the key itself.
      throw new SigningKeyRejectedError(undefined, { cause: e });
    }
  }

  return {
    async candidates(header) {
      // Fail closed: keys older than jwksMaxAgeMs are not used, as with jose's cacheMaxAge.
      if (loaded === undefined || clock.now() - loaded.fetchedAt >= opts.jwksMaxAgeMs) {
        const did = await refresh();
        if (!did || loaded === undefined || clock.now() - loaded.fetchedAt >= opts.jwksMaxAgeMs) throw unavailable();
      }
      const first = await match(loaded, header);
      if (first) return first;
      // Unknown kid: maybe the issuer rotated keys. Refetch, but only once per cooldown.
      const did = await refresh();
      if (did) {
        const second = await match(loaded, header);
        if (second) return second;
      }
      throw new UnknownKeyIdError(
        header.kid === undefined
          ? "the token names no signing key and none of the identity provider's keys fits it"
          : `the token is signed with key ${JSON.stringify(String(header.kid).slice(0, 64))}, which the identity provider does not publish`,
      );
    },
    fetchCount: () => fetches,
  };
}
