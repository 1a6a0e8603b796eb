import type { Detector, Span } from '../types.ts';
import { FEATURE, boundaryAfter, isAlnum, isDigit } from './chars.ts';

/** CARD_MIN_DIGITS and CARD_MAX_DIGITS bound a payment card number (ISO/IEC 7812: up to 19 digits). */
export const CARD_MIN_DIGITS = 13;
export const CARD_MAX_DIGITS = 19;

/**
 * luhnValid checks the Luhn (mod 10) check digit over the ASCII digits of `s`, ignoring
 * every other character.
 * SPEC: ISO/IEC 7812-1 Annex B, "Luhn formula for computing modulus 10 'double-add-double' check digits".
 */
export function luhnValid(s: string): boolean {
  let sum = 0;
  let double = false;
  let n = 0;
  for (let i = s.length - 1; i >= 0; i--) {
    const c = s.charCodeAt(i);
    if (!isDigit(c)) continue;
    let d = c - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
    n++;
  }
  return n > 0 && sum % 10 === 0;
}

/**
 * knownIin tells whether a digit string starts with an issuer identification number of a
 * major card scheme (Visa, Mastercard, American Express, Discover, JCB, Diners Club,
 * UnionPay, Maestro, Mir). It cuts Luhn's 1-in-10 false positives on other long numbers.
 */
export function knownIin(digits: string): boolean {
  const d1 = digits.charCodeAt(0) - 48;
  const d2 = Number(digits.slice(0, 2));
  const d4 = Number(digits.slice(0, 4));
  switch (d1) {
    case 2:
      return (d4 >= 2221 && d4 <= 2720) || (d4 >= 2200 && d4 <= 2204); // Mastercard 2-series, Mir
    case 3:
      return d2 === 34 || d2 === 37 || d2 === 36 || d2 === 38 || d2 === 39 || (d4 >= 3000 && d4 <= 3059) || (d4 >= 3528 && d4 <= 3589);
    case 4:
      return true; // Visa
    case 5:
      return d2 >= 50 && d2 <= 58; // Mastercard 51–55, Maestro 50, 56–58
    case 6:
      return true; // Discover 6011/644–649/65, UnionPay 62, Maestro 6x
    default:
      return false;
  }
}

/** CardNumberOptions tunes the card detector. */
export type CardNumberOptions = {
  /** requireKnownIin (default true) also demands a known scheme prefix, beyond the Luhn check. */
  readonly requireKnownIin?: boolean;
};

/**
 * cardNumberDetector finds payment card numbers: 13–19 digits, optionally grouped by single
 * spaces or dashes, that pass the Luhn check (and, by default, start with a known IIN).
 *
 * A run of digits longer than 19, or glued to letters or to a decimal point followed by a
 * digit, is not a card: that keeps account numbers, decimals and hashes out.
 */
export function cardNumberDetector(opts: CardNumberOptions = {}): Detector {
  const requireIin = opts.requireKnownIin ?? true;
  return {
    name: 'card-number',
    defaultStyle: 'keep-last-4',
    requires: FEATURE.digits13,
    find(text: string, out: Span[]): void {
      const n = text.length;
      if (n < CARD_MIN_DIGITS) return;
      let i = 0;
      while (i < n) {
        const c = text.charCodeAt(i);
        if (!isDigit(c)) {
          i++;
          continue;
        }
        // A run: digits joined by single separators. Each unit is visited once: the scan
        // resumes after the run whether or not it was a card.
        const start = i;
        let digits = 0;
        let end = i;
        let j = i;
        while (j < n) {
          const d = text.charCodeAt(j);
          if (isDigit(d)) {
            digits++;
            j++;
            end = j;
          } else if ((d === 32 || d === 45) && j + 1 < n && isDigit(text.charCodeAt(j + 1))) j++;
          else break;
        }
        i = end;
        if (digits < CARD_MIN_DIGITS || digits > CARD_MAX_DIGITS) continue;
        if (start > 0) {
          const p = text.charCodeAt(start - 1);
          if (isAlnum(p) || p === 95 || (p === 46 && start > 1 && isDigit(text.charCodeAt(start - 2)))) continue;
        }
        if (!boundaryAfter(text, end)) continue;
        if (end + 1 < n && text.charCodeAt(end) === 46 && isDigit(text.charCodeAt(end + 1))) continue;
        const run = text.slice(start, end);
        if (!luhnValid(run)) continue;
        if (requireIin && !knownIin(run.replace(/[ -]/g, ''))) continue;
        out.push({ start, end, detector: 'card-number' });
      }
    },
  };
}
