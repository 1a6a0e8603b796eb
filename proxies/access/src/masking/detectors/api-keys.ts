import type { Detector, Span } from '../types.ts';
import { FEATURE, boundaryAfter, boundaryBefore, isAlnum, isUpper, isDigit, isWordChar } from './chars.ts';

/**
 * PrefixTokenShape describes a credential recognised by a fixed prefix and a body of a
 * bounded length over a character class.
 */
type PrefixTokenShape = {
  readonly prefixes: readonly string[];
  readonly body: (c: number) => boolean;
  readonly min: number;
  readonly max: number;
  readonly requires: number;
};

// prefixTokenDetector scans with indexOf per prefix (native, fast) and checks the body by
// hand, so the work per value is linear and a prefix in ordinary text costs one comparison.
function prefixTokenDetector(name: string, shape: PrefixTokenShape): Detector {
  return {
    name,
    defaultStyle: 'full',
    requires: shape.requires,
    find(text: string, out: Span[]): void {
      const found: Span[] = [];
      for (const prefix of shape.prefixes) {
        let i = text.indexOf(prefix);
        while (i !== -1) {
          const bodyStart = i + prefix.length;
          const limit = Math.min(text.length, bodyStart + shape.max);
          let j = bodyStart;
          while (j < limit && shape.body(text.charCodeAt(j))) j++;
          if (j - bodyStart >= shape.min && boundaryBefore(text, i) && boundaryAfter(text, j) && (j >= text.length || text.charCodeAt(j) !== 45)) {
            found.push({ start: i, end: j, detector: name });
            i = text.indexOf(prefix, j);
          } else i = text.indexOf(prefix, i + 1);
        }
      }
      if (found.length > 1) found.sort((a, b) => a.start - b.start);
      for (const s of found) out.push(s);
    },
  };
}

const upperOrDigit = (c: number): boolean => isUpper(c) || isDigit(c);
const slackBody = (c: number): boolean => isAlnum(c) || c === 45;

/**
 * awsAccessKeyIdDetector finds AWS access key ids: `AKIA` (long-term) or `ASIA` (temporary)
 * and 16 upper-case letters or digits.
 */
export function awsAccessKeyIdDetector(): Detector {
  return prefixTokenDetector('aws-access-key-id', {
    prefixes: ['AKIA', 'ASIA'],
    body: upperOrDigit,
    min: 16,
    max: 16,
    requires: FEATURE.upper | FEATURE.digit,
  });
}

/**
 * githubTokenDetector finds GitHub tokens: `ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_` and 36
 * alphanumerics, or fine-grained `github_pat_` and 82 word characters.
 */
export function githubTokenDetector(): Detector {
  const classic = prefixTokenDetector('github-token', {
    prefixes: ['ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_'],
    body: isAlnum,
    min: 36,
    max: 36,
    requires: FEATURE.underscore,
  });
  const fine = prefixTokenDetector('github-token', { prefixes: ['github_pat_'], body: isWordChar, min: 82, max: 82, requires: FEATURE.underscore });
  return {
    name: 'github-token',
    defaultStyle: 'full',
    requires: FEATURE.underscore,
    find(text: string, out: Span[]): void {
      const spans: Span[] = [];
      classic.find(text, spans);
      fine.find(text, spans);
      if (spans.length > 1) spans.sort((a, b) => a.start - b.start);
      for (const s of spans) out.push(s);
    },
  };
}

/** slackTokenDetector finds Slack tokens: `xoxa-`, `xoxb-`, `xoxp-`, `xoxr-` and at least 10 alphanumerics or dashes. */
export function slackTokenDetector(): Detector {
  return prefixTokenDetector('slack-token', { prefixes: ['xoxa-', 'xoxb-', 'xoxp-', 'xoxr-'], body: slackBody, min: 10, max: 255, requires: FEATURE.dash });
}

/** stripeKeyDetector finds Stripe live secret and restricted keys: `sk_live_` or `rk_live_` and at least 16 alphanumerics. */
export function stripeKeyDetector(): Detector {
  return prefixTokenDetector('stripe-key', { prefixes: ['sk_live_', 'rk_live_'], body: isAlnum, min: 16, max: 255, requires: FEATURE.underscore });
}
