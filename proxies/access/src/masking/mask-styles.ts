// Pure rewriting of values and spans by mask style, aware of the column's PostgreSQL type.
import { createHmac } from 'node:crypto';
import type { Span, MaskStyle } from './types.ts';
import { INTEGER_HASH_MODULUS, PG_OID, typeClassOf, type TypeClass } from './pg-types.ts';
import { isAlnum } from './detectors/chars.ts';

/** FULL_MASK is the fixed replacement of the `full` style; fixed so the original length does not leak. */
export const FULL_MASK = '********';

/** HASH_PREFIX starts every text hash token, so a reader can tell a token from data. */
export const HASH_PREFIX = 'h:';

/** Hasher maps a value to a deterministic keyed digest (HMAC-SHA-256 in production). */
export type Hasher = (value: string) => Buffer;

/**
 * hmacHasher returns a Hasher over HMAC-SHA-256 with `key`. The key MUST be secret and at
 * least 32 bytes: with an unkeyed hash anyone could confirm a guessed card number.
 */
export function hmacHasher(key: Uint8Array): Hasher {
  const k = Buffer.from(key);
  return (value) => createHmac('sha256', k).update(value, 'utf8').digest();
}

/**
 * keepLast4 replaces every ASCII letter or digit except the last four with `*` and keeps
 * every other character (separators), so `4111-1111-1111-1234` → `****-****-****-1234`.
 * A value with four or fewer letters and digits is masked entirely: keeping them all
 * would hide nothing.
 */
export function keepLast4(value: string): string {
  let alnum = 0;
  for (let i = 0; i < value.length; i++) if (isAlnum(value.charCodeAt(i))) alnum++;
  if (alnum <= 4) return value.replace(/[^\s\-./]/g, '*');
  let keepFrom = alnum - 4;
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (isAlnum(c)) {
      out += keepFrom > 0 ? '*' : value[i];
      keepFrom--;
    } else if (c === 32 || c === 45 || c === 46 || c === 47 || c === 58) out += value[i];
    else out += '*';
  }
  return out;
}

/**
 * maskEmail keeps the first character of the local part and the domain:
 * `alice@example.com` → `a***@example.com`. Text without `@` (or with nothing before the
 * last `@`) gets FULL_MASK.
 */
export function maskEmail(value: string): string {
  const at = value.lastIndexOf('@');
  if (at <= 0 || at === value.length - 1) return FULL_MASK;
  const first = value.codePointAt(0) ?? 42;
  return `${String.fromCodePoint(first)}***${value.slice(at)}`;
}

/** hashToken renders the `hash` style for text: `h:` and 16 hex digits (64 bits) of the keyed digest. */
export function hashToken(value: string, hasher: Hasher): string {
  return HASH_PREFIX + hasher(value).toString('hex', 0, 8);
}

/** maskText applies a style to text; returns null only for the `null` style. */
export function maskText(value: string, style: MaskStyle, hasher: Hasher | undefined): string | null {
  switch (style) {
    case 'full':
      return FULL_MASK;
    case 'keep-last-4':
      return keepLast4(value);
    case 'email':
      return maskEmail(value);
    case 'hash':
      return hasher ? hashToken(value, hasher) : FULL_MASK;
    case 'null':
      return null;
    default: {
      const never: never = style;
      throw new TypeError(`unknown mask style ${String(never)}`);
    }
  }
}

const NAME_MAX_BYTES = 63; // NAMEDATALEN - 1

/**
 * maskTyped masks a whole value of type `oid` so the client can still parse it:
 *
 * | class | full | keep-last-4 | email | hash | null |
 * | text (text, varchar, bpchar, name) | `********` | `****1234` | `a***@x.org` | `h:` + 16 hex | NULL |
 * | integer (int2/4/8) | NULL | NULL | NULL | integer < 10^4 / 10^9 / 10^15 | NULL |
 * | numeric (numeric, float4/8) | NULL | NULL | NULL | integer < 10^15 | NULL |
 * | temporal (date, timestamp[tz]) | NULL | NULL | NULL | NULL | NULL |
 * | json, jsonb | the text result as a JSON string | … | … | … | NULL |
 * | uuid | NULL | zeros + last 4 hex | NULL | RFC 9562 version-8 UUID from the digest | NULL |
 * | bytea | NULL | NULL | NULL | `\x` + 32 hex digits of the digest | NULL |
 * | other | NULL | NULL | NULL | NULL | NULL |
 *
 * A number keeping its last four digits (`000…1234`) would parse as a different, plausible
 * number, so non-text types become NULL rather than carry a misleading value. A `name`
 * value that would exceed 63 bytes becomes FULL_MASK.
 */
export function maskTyped(value: string, style: MaskStyle, oid: number, hasher: Hasher | undefined, cls: TypeClass = typeClassOf(oid)): string | null {
  if (style === 'null') return null;
  switch (cls) {
    case 'text': {
      const m = maskText(value, style, hasher);
      if (m !== null && oid === PG_OID.name && Buffer.byteLength(m) > NAME_MAX_BYTES) return FULL_MASK;
      return m;
    }
    case 'integer':
    case 'numeric': {
      if (style !== 'hash' || !hasher) return null;
      const mod = INTEGER_HASH_MODULUS[oid] ?? 1_000_000_000_000_000;
      return String(Number(hasher(value).readBigUInt64BE(0) % BigInt(mod)));
    }
    case 'json': {
      const m = maskText(value, style, hasher);
      return m === null ? null : JSON.stringify(m);
    }
    case 'uuid': {
      if (style === 'keep-last-4') return `00000000-0000-0000-0000-00000000${value.slice(-4).toLowerCase()}`;
      if (style !== 'hash' || !hasher) return null;
      const b = hasher(value).subarray(0, 16);
      b[6] = (b[6] & 0x0f) | 0x80; // SPEC: RFC 9562 §5.8 "ver: The 4-bit version field … set to 0b1000 (8)"
      b[8] = (b[8] & 0x3f) | 0x80; // variant 0b10
      const h = b.toString('hex');
      return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
    }
    case 'bytea':
      return style === 'hash' && hasher ? `\\x${hasher(value).toString('hex', 0, 16)}` : null;
    case 'temporal':
    case 'other':
      return null;
    default: {
      const never: never = cls;
      throw new TypeError(`unknown type class ${String(never)}`);
    }
  }
}

/**
 * maskSpans rewrites the detected spans of a text or JSON value, each with its own style,
 * and leaves the text between spans as it was. Returns null when a span's style is `null`
 * (the whole value becomes NULL). For JSON the result is checked to still parse; when it
 * does not (a span cut through an escape sequence) the whole value becomes `"********"`.
 * For other classes any span masks the whole value with `maskTyped`.
 */
export function maskSpans(
  value: string,
  spans: readonly Span[],
  styleOf: (detector: string) => MaskStyle,
  oid: number,
  hasher: Hasher | undefined,
  cls: TypeClass = typeClassOf(oid),
): string | null {
  if (cls !== 'text' && cls !== 'json') {
    const whole = spans.length === 1 && spans[0].start === 0 && spans[0].end === value.length;
    return maskTyped(value, whole ? styleOf(spans[0].detector) : 'full', oid, hasher, cls);
  }
  let out = '';
  let at = 0;
  for (const s of spans) {
    const m = maskText(value.slice(s.start, s.end), styleOf(s.detector), hasher);
    if (m === null) return null;
    out += value.slice(at, s.start) + m;
    at = s.end;
  }
  out += value.slice(at);
  if (cls === 'json') {
    try {
      JSON.parse(out);
    } catch {
      return JSON.stringify(FULL_MASK);
    }
  }
  if (oid === PG_OID.name && Buffer.byteLength(out) > NAME_MAX_BYTES) return FULL_MASK;
  return out;
}
