import type { Detector, Span } from '../types.ts';
import { FEATURE } from './chars.ts';

const BEGIN = '-----BEGIN ';
const END = '-----END ';
const SUFFIX = 'PRIVATE KEY-----';
const MAX_LABEL = 40; // "ENCRYPTED", "RSA", "OPENSSH", "EC", "DSA" …
const MAX_BLOCK = 65536;

/**
 * privateKeyDetector finds PEM private keys: from `-----BEGIN … PRIVATE KEY-----` to the
 * matching `-----END … PRIVATE KEY-----` (RFC 7468 labels, OpenSSH's too). A block with no
 * END within 64 KiB (a truncated value) is masked to the end of the value: a partial key is
 * still a secret.
 */
export function privateKeyDetector(): Detector {
  return {
    name: 'private-key',
    defaultStyle: 'full',
    requires: FEATURE.dash | FEATURE.upper,
    find(text: string, out: Span[]): void {
      let i = text.indexOf(BEGIN);
      let labelEnd = -1;
      while (i !== -1) {
        // Reuse the last SUFFIX position while it is still ahead: many BEGINs before one far
        // SUFFIX must not rescan the same stretch (that would be quadratic).
        if (labelEnd < i + BEGIN.length) labelEnd = text.indexOf(SUFFIX, i + BEGIN.length);
        if (labelEnd === -1) return; // no further "PRIVATE KEY-----" anywhere: nothing to find
        if (labelEnd - (i + BEGIN.length) > MAX_LABEL || !labelOk(text, i + BEGIN.length, labelEnd)) {
          i = text.indexOf(BEGIN, i + 1);
          continue;
        }
        const bodyStart = labelEnd + SUFFIX.length;
        let end = text.length;
        const endAt = text.indexOf(END, bodyStart);
        if (endAt !== -1 && endAt - i < MAX_BLOCK) {
          const close = text.indexOf(SUFFIX, endAt + END.length);
          if (close !== -1 && close - (endAt + END.length) <= MAX_LABEL) end = close + SUFFIX.length;
        }
        out.push({ start: i, end, detector: 'private-key' });
        i = text.indexOf(BEGIN, end);
      }
    },
  };
}

// A label is upper-case words separated by single spaces, ending with a space before "PRIVATE".
function labelOk(t: string, from: number, to: number): boolean {
  for (let k = from; k < to; k++) {
    const c = t.charCodeAt(k);
    if (!((c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 32)) return false;
  }
  return from === to || t.charCodeAt(to - 1) === 32;
}
