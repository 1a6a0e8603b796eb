// LiteralCache: classification of simple-protocol SQL that differs only in integer literals
// (`... WHERE aid = 4711`, `... WHERE aid = 815`, as pgbench -S and most ORMs without
// server-side binds send) costs one parse per SHAPE instead of one per text. The exact-text
// LRU of SqlClassifier misses on every such text, and a libpg_query parse costs more than the
// rest of a proxied command (bench/postgres.ts).
//
// Why this cannot change a policy decision: the policy sees only the classification, so a
// cached shape is safe when its classification does not depend on the literal values. That is
// ensured in two ways:
//  1. Only texts a trivial scan can tokenize for sure take part: printable ASCII, no quote of
//     any kind (' " `), no `$` (dollar quotes, parameters), no backslash, no comments, no NUL.
//     In such a text an unsigned digit run with no identifier character, `.` or digit next to
//     it is an integer literal token and nothing else (see isCacheable/skeleton). The key is
//     the text with each such run replaced by NUL, so two texts share a key only when they
//     differ in those literals alone.
//  2. The first time a shape is seen, it is classified three times: as sent, with every
//     literal set to 0 and with every literal set to 1. Only when the three classifications
//     agree (apart from the literal text itself) is the shape cached; otherwise it is marked
//     literal-dependent and every text of that shape goes to the classifier as before. This
//     catches options whose value is read from a number, such as `EXPLAIN (ANALYZE 0)`.
// A cached shape is reused with the caller's own text: `text` and the statement text carry the
// literals actually sent, so what is recorded is exactly what ran.
import type { Classification, SqlClassifier, StatementInfo } from '@affidavit/access';

/** DEFAULT_LITERAL_CACHE_SIZE is the number of statement shapes remembered. */
export const DEFAULT_LITERAL_CACHE_SIZE = 1024;
/** LITERAL_CACHE_MAX_TEXT bounds the texts that take part (longer ones go straight to the classifier). */
export const LITERAL_CACHE_MAX_TEXT = 4096;

const NUL = '\u0000';

type Shape =
  | { readonly dependent: true }
  | {
      readonly dependent: false;
      readonly template: Classification;
      /** statementSkeleton is the one statement's text with its literals replaced by NUL. */
      readonly statementSkeleton: string;
    };

/** Skeleton is a text split at its integer literals: `parts.join(literal_i)` gives it back. */
type Skeleton = { readonly key: string; readonly literals: readonly string[] };

const isDigit = (c: number) => c >= 0x30 && c <= 0x39;
// Characters that would make a digit run part of another token: identifier characters,
// `.` (numeric with a fraction), `$` is refused up front.
const isWordish = (c: number) => isDigit(c) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f || c === 0x2e || c >= 0x80;

/**
 * isCacheable tells whether `sql` is simple enough for the literal scan to be exact: printable
 * ASCII or whitespace only, and none of ' " ` $ \ , `--`, `/*`.
 */
export function isCacheable(sql: string): boolean {
  if (sql.length === 0 || sql.length > LITERAL_CACHE_MAX_TEXT) return false;
  for (let i = 0; i < sql.length; i++) {
    const c = sql.charCodeAt(i);
    if (c === 0x09 || c === 0x0a || c === 0x0d) continue;
    if (c < 0x20 || c > 0x7e) return false;
    if (c === 0x27 || c === 0x22 || c === 0x60 || c === 0x24 || c === 0x5c) return false;
    if (c === 0x2d && sql.charCodeAt(i + 1) === 0x2d) return false;
    if (c === 0x2f && sql.charCodeAt(i + 1) === 0x2a) return false;
  }
  return true;
}

/** skeleton replaces each standalone unsigned digit run of a cacheable text by NUL. */
export function skeleton(sql: string): Skeleton {
  const literals: string[] = [];
  let key = '';
  let from = 0;
  for (let i = 0; i < sql.length; i++) {
    if (!isDigit(sql.charCodeAt(i))) continue;
    let j = i + 1;
    while (j < sql.length && isDigit(sql.charCodeAt(j))) j++;
    const before = i > 0 ? sql.charCodeAt(i - 1) : 0x20;
    const after = j < sql.length ? sql.charCodeAt(j) : 0x20;
    if (!isWordish(before) && !isWordish(after)) {
      key += sql.slice(from, i) + NUL;
      literals.push(sql.slice(i, j));
      from = j;
    }
    i = j - 1;
  }
  return { key: key + sql.slice(from), literals };
}

/** fill puts literals back into a key made by skeleton(). */
function fill(key: string, literals: readonly string[]): string {
  const parts = key.split(NUL);
  if (parts.length !== literals.length + 1) throw new Error('literal count mismatch');
  let out = parts[0];
  for (let i = 0; i < literals.length; i++) out += literals[i] + parts[i + 1];
  return out;
}

// What a classification says apart from its texts: this is what policy evaluation reads.
function meaning(c: Classification): string {
  return JSON.stringify({ ...c, text: undefined, statements: c.statements.map((s) => ({ ...s, text: undefined })) });
}

/**
 * LiteralCache classifies SQL through `classifier`, reusing the classification of a statement
 * shape for texts that differ only in integer literals (see the file comment for why that is
 * safe). It MUST return exactly what `classifier.classify(sql)` would, apart from sharing.
 */
/** Classify is the part of SqlClassifier the cache uses. */
export type Classify = Pick<SqlClassifier, 'classify'>;

export class LiteralCache {
  readonly #classifier: Classify;
  readonly #shapes = new Map<string, Shape>();
  readonly #size: number;
  #hits = 0;

  constructor(classifier: Classify, size = DEFAULT_LITERAL_CACHE_SIZE) {
    this.#classifier = classifier;
    this.#size = size;
  }

  /** hits counts classifications answered from a cached shape (for tests and metrics). */
  get hits(): number {
    return this.#hits;
  }

  /** classify returns the classification of `sql`. */
  classify(sql: string): Classification {
    if (!isCacheable(sql)) return this.#classifier.classify(sql);
    const sk = skeleton(sql);
    if (sk.literals.length === 0) return this.#classifier.classify(sql);
    const shape = this.#shapes.get(sk.key);
    if (shape) {
      // LRU: most recently used last.
      this.#shapes.delete(sk.key);
      this.#shapes.set(sk.key, shape);
      if (shape.dependent) return this.#classifier.classify(sql);
      this.#hits++;
      const st = shape.template.statements[0];
      return Object.freeze({
        ...shape.template,
        text: sql,
        statements: Object.freeze([Object.freeze({ ...st, text: fill(shape.statementSkeleton, sk.literals) })]),
      });
    }
    const c = this.#classifier.classify(sql);
    this.#remember(sk, c);
    return c;
  }

  #remember(sk: Skeleton, c: Classification): void {
    let shape: Shape = { dependent: true };
    const st: StatementInfo | undefined = c.statements[0];
    if (c.unparsable === undefined && c.statements.length === 1 && st) {
      const stSk = skeleton(st.text);
      // The statement must hold every literal of the text, in order, so it can be rebuilt.
      const rebuilt = stSk.literals.length === sk.literals.length && stSk.literals.every((l, i) => l === sk.literals[i]);
      const m = meaning(c);
      const same = (v: string) =>
        meaning(
          this.#classifier.classify(
            fill(
              sk.key,
              sk.literals.map(() => v),
            ),
          ),
        ) === m;
      if (rebuilt && same('0') && same('1')) shape = { dependent: false, template: c, statementSkeleton: stSk.key };
    }
    if (this.#shapes.size >= this.#size) this.#shapes.delete(this.#shapes.keys().next().value as string);
    this.#shapes.set(sk.key, shape);
  }
}

const shared = new WeakMap<SqlClassifier, LiteralCache>();

/** literalCacheFor returns the one LiteralCache of a classifier, so every session shares its shapes. */
export function literalCacheFor(classifier: SqlClassifier): LiteralCache {
  let c = shared.get(classifier);
  if (!c) shared.set(classifier, (c = new LiteralCache(classifier)));
  return c;
}
