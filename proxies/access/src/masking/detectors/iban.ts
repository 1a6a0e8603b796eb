import type { Detector, Span } from '../types.ts';
import { FEATURE, boundaryAfter, boundaryBefore, isAlnum, isDigit, isUpper } from './chars.ts';

/**
 * IBAN_LENGTHS maps ISO 3166 country codes to the IBAN length of that country.
 * SPEC: https://www.swift.com/standards/data-standards/iban-international-bank-account-number
 * (SWIFT IBAN Registry, "IBAN length" of each country's entry).
 */
export const IBAN_LENGTHS: Readonly<Record<string, number>> = Object.freeze({
  AD: 24,
  AE: 23,
  AL: 28,
  AT: 20,
  AZ: 28,
  BA: 20,
  BE: 16,
  BG: 22,
  BH: 22,
  BI: 27,
  BR: 29,
  BY: 28,
  CH: 21,
  CR: 22,
  CY: 28,
  CZ: 24,
  DE: 22,
  DJ: 27,
  DK: 18,
  DO: 28,
  EE: 20,
  EG: 29,
  ES: 24,
  FI: 18,
  FK: 18,
  FO: 18,
  FR: 27,
  GB: 22,
  GE: 22,
  GI: 23,
  GL: 18,
  GR: 27,
  GT: 28,
  HN: 28,
  HR: 21,
  HU: 28,
  IE: 22,
  IL: 23,
  IQ: 23,
  IS: 26,
  IT: 27,
  JO: 30,
  KW: 30,
  KZ: 20,
  LB: 28,
  LC: 32,
  LI: 21,
  LT: 20,
  LU: 20,
  LV: 21,
  LY: 25,
  MC: 27,
  MD: 24,
  ME: 22,
  MK: 19,
  MN: 20,
  MR: 27,
  MT: 31,
  MU: 30,
  NI: 28,
  NL: 18,
  NO: 15,
  OM: 23,
  PK: 24,
  PL: 28,
  PS: 29,
  PT: 25,
  QA: 29,
  RO: 24,
  RS: 22,
  RU: 33,
  SA: 24,
  SC: 31,
  SD: 18,
  SE: 24,
  SI: 19,
  SK: 24,
  SM: 27,
  SO: 23,
  ST: 25,
  SV: 28,
  TL: 23,
  TN: 24,
  TR: 26,
  UA: 29,
  VA: 22,
  VG: 24,
  XK: 20,
  YE: 30,
});

/**
 * ibanChecksumValid computes the ISO 13616 check: move the first four characters to the end,
 * replace letters by 10..35, and the number mod 97 MUST be 1. `compact` is upper-case
 * alphanumerics without spaces. Computed digit by digit, so no big integers are needed.
 * SPEC: ISO 13616-1:2020 §7.1 / ECBS TR201 "the remainder of the division by 97 is 1".
 */
export function ibanChecksumValid(compact: string): boolean {
  let r = 0;
  const n = compact.length;
  for (let k = 0; k < n; k++) {
    const c = compact.charCodeAt((k + 4) % n);
    if (isDigit(c)) r = (r * 10 + (c - 48)) % 97;
    else if (isUpper(c)) r = (r * 100 + (c - 55)) % 97;
    else return false;
  }
  return r === 1;
}

/**
 * ibanDetector finds IBANs in electronic form (`GB82WEST12345698765432`) or print form
 * (groups of four separated by single spaces): a known country code, two check digits,
 * exactly that country's length and a valid mod-97 checksum. Upper case only, as ISO 13616
 * prescribes for the electronic form.
 */
export function ibanDetector(): Detector {
  return {
    name: 'iban',
    defaultStyle: 'keep-last-4',
    requires: FEATURE.upper | FEATURE.digit,
    find(text: string, out: Span[]): void {
      const n = text.length;
      if (n < 15) return;
      let i = 0;
      while (i + 4 <= n) {
        if (
          !(isUpper(text.charCodeAt(i)) && isUpper(text.charCodeAt(i + 1)) && isDigit(text.charCodeAt(i + 2)) && isDigit(text.charCodeAt(i + 3))) ||
          !boundaryBefore(text, i)
        ) {
          i++;
          continue;
        }
        const want = IBAN_LENGTHS[text.slice(i, i + 2)];
        if (want === undefined) {
          i++;
          continue;
        }
        let compact = '';
        let j = i;
        while (j < n && compact.length < want) {
          const c = text.charCodeAt(j);
          if (isAlnum(c)) {
            compact += text[j];
            j++;
          } else if (c === 32 && compact.length % 4 === 0 && j + 1 < n && isAlnum(text.charCodeAt(j + 1))) j++;
          else break;
        }
        if (compact.length === want && boundaryAfter(text, j) && ibanChecksumValid(compact.toUpperCase())) {
          out.push({ start: i, end: j, detector: 'iban' });
          i = j;
        } else i++;
      }
    },
  };
}
