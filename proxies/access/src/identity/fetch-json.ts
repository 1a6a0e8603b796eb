// HTTP adapter for the issuer's discovery document and JWKS. The only I/O of the verifier;
// injected as a FetchJson so unit tests use a fake and count calls.
import { IssuerMetadataInvalidError, IssuerUnreachableError } from './errors.ts';

/** FetchJson fetches a URL and returns its parsed JSON body. */
export type FetchJson = (url: string, opts: { readonly timeoutMs: number; readonly maxBytes: number }) => Promise<unknown>;

/** MAX_METADATA_BYTES bounds a discovery document or JWKS; real ones are a few KiB. */
export const MAX_METADATA_BYTES = 256 * 1024;

async function readCapped(res: Response, maxBytes: number, url: string): Promise<string> {
  const declared = Number(res.headers.get('content-length') ?? 'NaN');
  if (Number.isFinite(declared) && declared > maxBytes) {
    await res.body?.cancel();
    throw new IssuerMetadataInvalidError(`${url} answered with ${declared} bytes, more than the ${maxBytes} accepted`);
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  if (res.body) {
    for await (const chunk of res.body) {
      total += chunk.byteLength;
      // Content-Length can lie or be absent (chunked): count what actually arrives.
      if (total > maxBytes) {
        throw new IssuerMetadataInvalidError(`${url} answered with more than the ${maxBytes} bytes accepted`);
      }
      chunks.push(chunk);
    }
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * httpFetchJson is the real FetchJson: GET with a timeout, redirects not followed, a size cap.
 * Network errors, timeouts, 429 and 5xx MUST become IssuerUnreachableError (retriable); other
 * statuses, oversize or non-JSON bodies IssuerMetadataInvalidError (a configuration problem).
 */
export const httpFetchJson: FetchJson = async (url, { timeoutMs, maxBytes }) => {
  let res: Response;
  try {
    // redirect 'manual': a key set fetched through a redirect could come from anywhere, so a
    // 3xx is reported below as a configuration problem instead of being followed.
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'manual', headers: { accept: 'application/json' } });
  } catch (cause) {
    const timedOut = cause instanceof DOMException && cause.name === 'TimeoutError';
    throw new IssuerUnreachableError(
      timedOut
        ? `the identity provider did not answer ${url} within ${timeoutMs} ms; try again shortly`
        : `the identity provider at ${url} could not be reached; try again shortly`,
      { cause },
    );
  }
  if (res.status === 429 || res.status >= 500) {
    await res.body?.cancel();
    throw new IssuerUnreachableError(`the identity provider answered ${url} with HTTP ${res.status}; try again shortly`);
  }
  if (res.status !== 200) {
    await res.body?.cancel();
    throw new IssuerMetadataInvalidError(`the identity provider answered ${url} with HTTP ${res.status}; check the configured issuer and jwksUri`);
  }
  let text: string;
  try {
    text = await readCapped(res, maxBytes, url);
  } catch (cause) {
    if (cause instanceof IssuerMetadataInvalidError) throw cause;
    throw new IssuerUnreachableError(`the identity provider's answer from ${url} was cut off; try again shortly`, { cause });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    throw new IssuerMetadataInvalidError(`${url} did not answer with JSON`, { cause });
  }
};
