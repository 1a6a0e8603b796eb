// Character-class tests on UTF-16 code units. The detectors scan by hand with these instead
// of regular expressions so that each value costs one linear pass and no input can trigger
// backtracking.

/** isDigit tells whether code unit `c` is an ASCII digit. */
export function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** isUpper tells whether `c` is an ASCII upper-case letter. */
export function isUpper(c: number): boolean {
  return c >= 65 && c <= 90;
}

/** isAlnum tells whether `c` is an ASCII letter or digit. */
export function isAlnum(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

/** isWordChar tells whether `c` is an ASCII letter, digit or `_` (a token continues through it). */
export function isWordChar(c: number): boolean {
  return isAlnum(c) || c === 95;
}

/** isBase64Url tells whether `c` is in the base64url alphabet (RFC 4648 §5). */
export function isBase64Url(c: number): boolean {
  return isAlnum(c) || c === 45 || c === 95;
}

/** boundaryBefore tells whether a token may start at `i`: the previous unit is not a word character. */
export function boundaryBefore(text: string, i: number): boolean {
  return i === 0 || !isWordChar(text.charCodeAt(i - 1));
}

/** boundaryAfter tells whether a token may end at `i` (exclusive): the next unit is not a word character. */
export function boundaryAfter(text: string, i: number): boolean {
  return i >= text.length || !isWordChar(text.charCodeAt(i));
}

/**
 * FEATURE names cheap facts about a value that detectors need before any real scan: a
 * detector declares the features it `requires`, and findSpans computes them for a value in
 * one pass and skips detectors that cannot match. Plain words then cost one loop in all.
 */
export const FEATURE = Object.freeze({
  digit: 1,
  digits13: 2,
  at: 4,
  underscore: 8,
  dash: 16,
  upper: 32,
  dot: 64,
} as const);

/** featuresOf computes the FEATURE bits of `text` in one pass. */
export function featuresOf(text: string): number {
  let f = 0;
  let digits = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) digits++;
    else if (c >= 65 && c <= 90) f |= 32;
    else if (c === 64) f |= 4;
    else if (c === 95) f |= 8;
    else if (c === 45) f |= 16;
    else if (c === 46) f |= 64;
  }
  if (digits > 0) f |= 1;
  if (digits >= 13) f |= 2;
  return f;
}
