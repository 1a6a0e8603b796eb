import type { Detector, Span } from '../types.ts';
import { FEATURE, boundaryBefore, isBase64Url, isWordChar } from './chars.ts';

const MAX_HEADER = 2048; // base64url units; real JOSE headers are far smaller
const MAX_PART = 65536;

/**
 * jwtDetector finds JSON Web Tokens in compact serialization: three (JWS) or five (JWE)
 * base64url parts joined by dots, whose first part decodes to a JSON object with a string
 * `alg` (RFC 7515 §7.1, RFC 7516 §7.1). Only text starting `ey` (the base64url of `{"` and
 * `{ `) is examined, so ordinary dotted words cost almost nothing.
 */
export function jwtDetector(): Detector {
  return {
    name: 'jwt',
    defaultStyle: 'full',
    requires: FEATURE.dot,
    find(text: string, out: Span[]): void {
      const n = text.length;
      let i = text.indexOf('ey');
      while (i !== -1) {
        if (!boundaryBefore(text, i)) {
          i = text.indexOf('ey', i + 1);
          continue;
        }
        const headerEnd = run(text, i, MAX_HEADER);
        let j = headerEnd;
        let parts = 1;
        while (parts < 5 && j < n && text.charCodeAt(j) === 46) {
          const e = run(text, j + 1, MAX_PART);
          // Only a JWS signature may be empty (unsecured JWS, RFC 7515 Appendix A.5).
          if (e === j + 1 && parts !== 2) break;
          j = e;
          parts++;
        }
        const ends = j >= n || !(isWordChar(text.charCodeAt(j)) || text.charCodeAt(j) === 45);
        if ((parts === 3 || parts === 5) && ends && headerHasAlg(text.slice(i, headerEnd))) {
          out.push({ start: i, end: j, detector: 'jwt' });
          i = text.indexOf('ey', j);
        } else i = text.indexOf('ey', Math.max(i + 1, headerEnd));
      }
    },
  };
}

function run(text: string, from: number, max: number): number {
  const limit = Math.min(text.length, from + max);
  let j = from;
  while (j < limit && isBase64Url(text.charCodeAt(j))) j++;
  return j;
}

/** headerHasAlg tells whether a base64url JOSE header decodes to a JSON object with a string `alg`. */
export function headerHasAlg(b64: string): boolean {
  if (b64.length < 8) return false;
  try {
    const h: unknown = JSON.parse(Buffer.from(b64, 'base64url').toString('utf8'));
    return typeof h === 'object' && h !== null && !Array.isArray(h) && typeof (h as { alg?: unknown }).alg === 'string';
  } catch {
    return false;
  }
}
