/**
 * Glob matching for policy patterns. Only `*`, `**` and `?` are special; every other
 * character matches itself, case-sensitively (PostgreSQL identifiers are case-sensitive
 * once the parser has folded unquoted ones to lower case).
 */

const cache = new Map<string, RegExp>();
const CACHE_MAX = 4096;

/**
 * globToRegExp compiles a glob. With `pathMode`, `*` and `?` stop at `/` and `**` crosses
 * it (file paths); without it `*` matches anything (names).
 */
export function globToRegExp(glob: string, pathMode = false): RegExp {
  const key = `${pathMode ? 'p' : 'n'}:${glob}`;
  const hit = cache.get(key);
  if (hit) return hit;
  let re = '^';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*') {
      if (glob[i + 1] === '*') {
        re += '.*';
        i++;
      } else re += pathMode ? '[^/]*' : '.*';
    } else if (c === '?') re += pathMode ? '[^/]' : '.';
    else re += c.replace(/[\\^$.|+()[\]{}]/g, '\\$&');
  }
  const r = new RegExp(`${re}$`, 's');
  if (cache.size >= CACHE_MAX) cache.clear();
  cache.set(key, r);
  return r;
}

/** globMatch tells whether `value` matches `glob`. */
export function globMatch(glob: string, value: string, pathMode = false): boolean {
  if (glob === '*' || glob === '**') return true;
  // Most patterns are plain names: compare them without a regular expression.
  if (!glob.includes('*') && !glob.includes('?')) return glob === value;
  return globToRegExp(glob, pathMode).test(value);
}

/** isCatchAllGlob tells whether a glob matches every value. */
export function isCatchAllGlob(glob: string): boolean {
  return /^\*+$/.test(glob);
}
