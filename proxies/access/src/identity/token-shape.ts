// Checks that run before any key is fetched or signature computed: size, shape, algorithm.
// Pure. The claims decoded here are UNVERIFIED: they may be used to reject a token or to name
// what it claimed in an audit record, never to accept it.
import { AlgorithmNotAllowedError, TokenMalformedError, TokenTooLargeError } from './errors.ts';

/** DecodedToken is a compact JWS split and decoded, signature not yet checked. */
export type DecodedToken = {
  readonly header: Readonly<Record<string, unknown>> & { readonly alg: string; readonly kid?: string };
  /** claims are unverified. */
  readonly claims: Readonly<Record<string, unknown>>;
};

const B64URL = /^[A-Za-z0-9_-]+$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * checkTokenSize MUST run before any other look at the token: it only reads `length`, so an
 * oversized value costs nothing to refuse. A compact JWS is ASCII, so a string longer than
 * maxBytes characters is longer than maxBytes bytes.
 */
export function checkTokenSize(token: unknown, maxBytes: number): asserts token is string {
  if (typeof token !== 'string' || token.length === 0) throw new TokenMalformedError('no access token was sent; send the access token as the password');
  if (token.length > maxBytes) {
    throw new TokenTooLargeError(
      `the access token is ${token.length} bytes, more than the ${maxBytes} this proxy accepts; ask your administrator to trim the token's claims`,
    );
  }
}

function decodeJsonPart(part: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(Buffer.from(part, 'base64url')));
  } catch (cause) {
    throw new TokenMalformedError(`the token's ${what} is not base64url-encoded JSON`, { cause });
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new TokenMalformedError(`the token's ${what} is not a JSON object`);
  return value as Record<string, unknown>;
}

/** decodeCompactJwt splits a compact JWS into its decoded header and unverified claims. */
export function decodeCompactJwt(token: string): DecodedToken {
  const parts = token.split('.');
  if (parts.length === 5)
    throw new TokenMalformedError('encrypted (JWE) tokens are not supported; configure the identity provider to issue signed JWT access tokens');
  if (parts.length !== 3 || !B64URL.test(parts[0]) || !B64URL.test(parts[1]) || (parts[2] !== '' && !B64URL.test(parts[2]))) {
    throw new TokenMalformedError('the value sent as a password is not a JWT access token (expected three base64url parts separated by dots)');
  }
  const header = decodeJsonPart(parts[0], 'header');
  if (typeof header.alg !== 'string') throw new TokenMalformedError('the token header has no "alg"');
  if (header.kid !== undefined && typeof header.kid !== 'string') throw new TokenMalformedError('the token header "kid" is not a string');
  const claims = decodeJsonPart(parts[1], 'claims');
  return { header: header as DecodedToken['header'], claims };
}

/**
 * checkAlgorithm enforces the allow-list on the header's `alg` before any key is looked up.
 * It MUST refuse `none` and every HMAC algorithm whatever the allow-list says: with HMAC, a
 * verifier that feeds the issuer's *public* key in as the secret would accept tokens anyone
 * can forge (RFC 8725 §2.1 and §3.1).
 */
export function checkAlgorithm(alg: string, allowed: readonly string[]): void {
  // SPEC: https://www.rfc-editor.org/rfc/rfc8725#section-3.1
  //   "Each key MUST be used with exactly one algorithm, and this MUST be checked when the
  //    cryptographic operation is performed."
  if (alg.toLowerCase() === 'none') throw new AlgorithmNotAllowedError('unsigned tokens (alg "none") are never accepted');
  if (/^HS/i.test(alg)) {
    throw new AlgorithmNotAllowedError(
      `HMAC-signed tokens (alg "${alg.slice(0, 16)}") are not accepted: this proxy only accepts tokens signed with the identity provider's private key`,
    );
  }
  if (!allowed.includes(alg)) {
    throw new AlgorithmNotAllowedError(
      `the token is signed with alg ${JSON.stringify(alg.slice(0, 32))}, which is not in this proxy's allow-list (${allowed.join(', ')})`,
    );
  }
}
