import type { Detector, Span } from '../types.ts';
import { FEATURE, boundaryAfter, boundaryBefore, isDigit } from './chars.ts';

/**
 * ssnValid tells whether area, group and serial can form an issued US Social Security
 * number: area not 000, 666 or 900–999, group not 00, serial not 0000.
 * SPEC: https://www.ssa.gov/employer/randomization.html "SSA will not assign SSNs beginning
 * with 000 or 666 … nor will SSNs be assigned with group number 00 or serial number 0000";
 * 900–999 are not valid SSN areas (they are ITINs).
 */
export function ssnValid(area: number, group: number, serial: number): boolean {
  return area !== 0 && area !== 666 && area < 900 && group !== 0 && serial !== 0;
}

const SHAPE = 11; // AAA-GG-SSSS

/**
 * usSsnDetector finds US Social Security numbers written `AAA-GG-SSSS` (the dashed form
 * only: a bare nine-digit number is too often something else), with invalid ranges excluded.
 */
export function usSsnDetector(): Detector {
  return {
    name: 'us-ssn',
    defaultStyle: 'keep-last-4',
    requires: FEATURE.dash | FEATURE.digit,
    find(text: string, out: Span[]): void {
      let dash = text.indexOf('-');
      while (dash !== -1) {
        const s = dash - 3;
        if (
          s >= 0 &&
          s + SHAPE <= text.length &&
          text.charCodeAt(s + 6) === 45 &&
          shapeAt(text, s) &&
          boundaryBefore(text, s) &&
          boundaryAfter(text, s + SHAPE)
        ) {
          // A dash right before or after means a longer dashed number (a phone or an id).
          const before = s > 0 ? text.charCodeAt(s - 1) : 0;
          const after = s + SHAPE < text.length ? text.charCodeAt(s + SHAPE) : 0;
          if (before !== 45 && after !== 45 && ssnValid(Number(text.slice(s, s + 3)), Number(text.slice(s + 4, s + 6)), Number(text.slice(s + 7, s + 11)))) {
            out.push({ start: s, end: s + SHAPE, detector: 'us-ssn' });
            dash = text.indexOf('-', s + SHAPE);
            continue;
          }
        }
        dash = text.indexOf('-', dash + 1);
      }
    },
  };
}

function shapeAt(t: string, s: number): boolean {
  for (const k of [0, 1, 2, 4, 5, 7, 8, 9, 10]) if (!isDigit(t.charCodeAt(s + k))) return false;
  return true;
}
