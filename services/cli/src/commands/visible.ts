// Characters a terminal acts on instead of showing: C0/C1 controls (a carriage return or an ANSI
// escape could overwrite or hide part of the statement) and Unicode bidi/format controls (which
// reorder what is displayed). A newline is kept, the lines after it indented.
const INVISIBLE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/gu;

/** visible renders requester-supplied text for a terminal: every control or bidi character as an escape. */
export function visible(text: string): string {
  return text
    .replace(INVISIBLE, (ch) => {
      const c = ch.codePointAt(0) ?? 0;
      if (ch === '\r') return '\\r';
      if (ch === '\t') return '\\t';
      return c <= 0xff ? `\\x${c.toString(16).padStart(2, '0')}` : `\\u${c.toString(16).padStart(4, '0')}`;
    })
    .replace(/\n/g, '\n    ');
}
