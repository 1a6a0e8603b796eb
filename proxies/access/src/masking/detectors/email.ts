import type { Detector, Span } from '../types.ts';
import { FEATURE, isAlnum } from './chars.ts';

const MAX_LOCAL = 64; // SPEC: https://www.rfc-editor.org/rfc/rfc5321#section-4.5.3.1.1 "The maximum total length of a user name or other local-part is 64 octets."
const MAX_DOMAIN = 253;

// Local-part characters of RFC 5322 dot-atoms, minus the rarely used ones that also delimit
// text (quotes, backquote, braces, pipe, slash), so `"a@b.co"` or `<a@b.co>` give the bare address.
function isLocalChar(c: number): boolean {
  return (
    isAlnum(c) ||
    c === 46 ||
    c === 95 ||
    c === 45 ||
    c === 43 ||
    c === 37 ||
    c === 33 ||
    c === 35 ||
    c === 36 ||
    c === 38 ||
    c === 39 ||
    c === 42 ||
    c === 61 ||
    c === 63 ||
    c === 94 ||
    c === 126
  );
}

function isDomainChar(c: number): boolean {
  return isAlnum(c) || c === 45 || c === 46;
}

/**
 * emailDetector finds e-mail addresses (dot-atom local part, a domain of at least two labels
 * and an alphabetic top-level label of two or more letters). It looks only around `@`
 * signs, and at most 64 units left and 253 right of each.
 */
export function emailDetector(): Detector {
  return {
    name: 'email',
    defaultStyle: 'email',
    requires: FEATURE.at | FEATURE.dot,
    find(text: string, out: Span[]): void {
      let at = text.indexOf('@');
      let floor = 0; // a span never starts before the end of the previous one
      while (at !== -1) {
        let s = at;
        while (s > floor && at - s < MAX_LOCAL && isLocalChar(text.charCodeAt(s - 1))) s--;
        while (s < at && text.charCodeAt(s) === 46) s++; // a local part does not start with a dot
        let e = at + 1;
        const limit = Math.min(text.length, at + 1 + MAX_DOMAIN);
        while (e < limit && isDomainChar(text.charCodeAt(e))) e++;
        while (e > at + 1 && (text.charCodeAt(e - 1) === 46 || text.charCodeAt(e - 1) === 45)) e--; // trailing sentence dot
        const end = validDomainEnd(text, at + 1, e);
        if (s < at && end > 0) {
          out.push({ start: s, end, detector: 'email' });
          floor = end;
          at = text.indexOf('@', end);
        } else at = text.indexOf('@', at + 1);
      }
    },
  };
}

// validDomainEnd returns `e` when text[from, e) is a plausible domain, else 0.
function validDomainEnd(text: string, from: number, e: number): number {
  if (e - from < 4) return 0;
  let lastDot = -1;
  let labelStart = from;
  for (let i = from; i < e; i++) {
    if (text.charCodeAt(i) !== 46) continue;
    if (i === labelStart) return 0; // empty label
    lastDot = i;
    labelStart = i + 1;
  }
  if (lastDot < 0 || e - lastDot - 1 < 2) return 0;
  for (let i = lastDot + 1; i < e; i++) {
    const c = text.charCodeAt(i) | 32;
    if (c < 97 || c > 122) return 0;
  }
  return e;
}
