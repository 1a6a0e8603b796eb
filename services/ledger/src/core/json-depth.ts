/** MAX_JSON_DEPTH bounds the nesting of one bundle line: a bundle line is an object of strings and numbers (depth 1). */
export const MAX_JSON_DEPTH = 8;

/**
 * jsonDepthExceeds tells whether the JSON text in `buf` nests arrays and objects deeper than
 * `max`, looking only at brackets outside strings; it runs BEFORE JSON.parse, so a line of a
 * million `[` is refused without building anything. Strings are skipped with indexOf (native),
 * so a line that is mostly one long base64 string costs little. It does not validate the JSON.
 */
export function jsonDepthExceeds(buf: Uint8Array, max = MAX_JSON_DEPTH): boolean {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.length);
  let depth = 0;
  for (let i = 0; i < b.length; i++) {
    const c = b[i];
    if (c === 0x22) {
      // Find the closing quote: one preceded by an even number of backslashes.
      let j = i;
      for (;;) {
        j = b.indexOf(0x22, j + 1);
        if (j < 0) return false; // unterminated: JSON.parse reports it
        let k = j - 1;
        while (b[k] === 0x5c) k--;
        if ((j - 1 - k) % 2 === 0) break;
      }
      i = j;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return false;
}
