/**
 * splitIdentifierList splits a list of SQL identifiers the way the server splits the VALUE of
 * `search_path` and the text of a `regclass` literal, and returns undefined where the server
 * would reject the text. It is not an SQL parser: these values never pass through the grammar,
 * so libpg_query cannot read them; the server uses this small routine instead.
 *
 * SPEC: https://github.com/postgres/postgres/blob/REL_17_STABLE/src/backend/utils/adt/varlena.c
 *   SplitIdentifierString: "Quoted name --- collapse quote-quote pairs, no downcasing" /
 *   "Unquoted name --- extends to separator or whitespace" (downcased, then truncated to
 *   NAMEDATALEN-1 bytes like every identifier).
 */
export function splitIdentifierList(raw: string, separator: ',' | '.'): string[] | undefined {
  const out: string[] = [];
  let i = 0;
  const space = (c: string | undefined): boolean => c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v';
  while (space(raw[i])) i++;
  if (i >= raw.length) return out;
  for (;;) {
    let name = '';
    if (raw[i] === '"') {
      i++;
      for (;;) {
        const end = raw.indexOf('"', i);
        if (end < 0) return undefined; // mismatched quotes
        name += raw.slice(i, end);
        if (raw[end + 1] === '"') {
          name += '"';
          i = end + 2;
          continue;
        }
        i = end + 1;
        break;
      }
    } else {
      const start = i;
      while (i < raw.length && raw[i] !== separator && !space(raw[i])) i++;
      if (i === start) return undefined; // empty unquoted name
      // downcase_identifier: only ASCII letters fold in a multi-byte encoding.
      name = raw.slice(start, i).replace(/[A-Z]/g, (c) => c.toLowerCase());
    }
    while (space(raw[i])) i++;
    out.push(truncateIdentifier(name));
    if (i >= raw.length) return out;
    if (raw[i] !== separator) return undefined;
    i++;
    while (space(raw[i])) i++;
  }
}

/** NAMEDATALEN_MAX_BYTES is the longest identifier PostgreSQL keeps (NAMEDATALEN - 1). */
export const NAMEDATALEN_MAX_BYTES = 63;

/**
 * truncateIdentifier cuts a name to 63 UTF-8 bytes without splitting a character, as the
 * server's truncate_identifier does, so `customers<pad>` longer than the limit names the same
 * relation here as there.
 */
export function truncateIdentifier(name: string): string {
  const bytes = Buffer.from(name, 'utf8');
  if (bytes.length <= NAMEDATALEN_MAX_BYTES) return name;
  let cut = NAMEDATALEN_MAX_BYTES;
  while (cut > 0 && (bytes[cut] & 0xc0) === 0x80) cut--;
  return bytes.subarray(0, cut).toString('utf8');
}
