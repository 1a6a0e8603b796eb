import type { Detector, Span } from '../types.ts';
import { awsAccessKeyIdDetector, githubTokenDetector, slackTokenDetector, stripeKeyDetector } from './api-keys.ts';
import { cardNumberDetector } from './card-number.ts';
import { emailDetector } from './email.ts';
import { ibanDetector } from './iban.ts';
import { jwtDetector } from './jwt.ts';
import { privateKeyDetector } from './private-key.ts';
import { usSsnDetector } from './us-ssn.ts';
import { featuresOf } from './chars.ts';

/** BUILTIN_DETECTORS maps each built-in detector's name to the detector. */
export const BUILTIN_DETECTORS: ReadonlyMap<string, Detector> = new Map(
  [
    cardNumberDetector(),
    emailDetector(),
    ibanDetector(),
    usSsnDetector(),
    jwtDetector(),
    awsAccessKeyIdDetector(),
    githubTokenDetector(),
    slackTokenDetector(),
    stripeKeyDetector(),
    privateKeyDetector(),
  ].map((d) => [d.name, d]),
);

/**
 * DETECTOR_GROUPS maps group names (`national-id`, `secret`, `all`) to built-in detector names.
 * A policy file may name any group or any detector of BUILTIN_DETECTORS: the policy loader
 * reads both from here (its DEFAULT_DETECTORS), so there is one list of names.
 */
export const DETECTOR_GROUPS: Readonly<Record<string, readonly string[]>> = Object.freeze({
  'national-id': Object.freeze(['us-ssn']),
  secret: Object.freeze(['jwt', 'aws-access-key-id', 'github-token', 'slack-token', 'stripe-key', 'private-key']),
  all: Object.freeze([...BUILTIN_DETECTORS.keys()]),
});

/**
 * expandDetectorNames resolves detector and group names to detector names, de-duplicated in
 * first-seen order. It returns the names it could not resolve in `unknown`.
 */
export function expandDetectorNames(
  names: readonly string[],
  known: ReadonlyMap<string, Detector> = BUILTIN_DETECTORS,
): { names: string[]; unknown: string[] } {
  const out = new Set<string>();
  const unknown: string[] = [];
  for (const n of names) {
    const group = Object.hasOwn(DETECTOR_GROUPS, n) ? DETECTOR_GROUPS[n] : undefined;
    if (group) for (const g of group) out.add(g);
    else if (known.has(n)) out.add(n);
    else unknown.push(n);
  }
  return { names: [...out], unknown };
}

/**
 * findSpans runs `detectors` over `text` and returns their spans sorted by start, without
 * overlaps: where two overlap, the one starting first (then the longer) wins, and the
 * loser is dropped. Returns a shared empty array when nothing is found. Detectors whose
 * `requires` features the value lacks are skipped (one pass over the value decides).
 */
export function findSpans(text: string, detectors: readonly Detector[]): readonly Span[] {
  let spans: Span[] | undefined;
  let scratch: Span[] = [];
  let features = -1; // computed on first need
  for (const d of detectors) {
    const req = d.requires ?? 0;
    if (req !== 0) {
      if (features === -1) features = featuresOf(text);
      if ((features & req) !== req) continue;
    }
    d.find(text, scratch);
    if (scratch.length === 0) continue;
    if (spans === undefined) {
      spans = scratch;
      scratch = [];
    } else {
      for (const s of scratch) spans.push(s);
      scratch.length = 0;
    }
  }
  if (spans === undefined) return NONE;
  if (spans.length === 1) return spans;
  spans.sort((a, b) => a.start - b.start || b.end - a.end);
  const kept: Span[] = [];
  let reach = -1;
  for (const s of spans) {
    if (s.start >= reach) {
      kept.push(s);
      reach = s.end;
    }
  }
  return kept;
}

const NONE: readonly Span[] = Object.freeze([]);
