// Bound parameters rendered as text for CommandIssued.parameters: what the statement ran with.

/** MAX_RENDERED_PARAMETER bounds one rendered parameter (characters) so events stay small. */
export const MAX_RENDERED_PARAMETER = 8192;

const utf8 = new TextDecoder('utf-8', { fatal: true });

function clip(s: string): string {
  return s.length > MAX_RENDERED_PARAMETER ? `${s.slice(0, MAX_RENDERED_PARAMETER)}…(${s.length} chars)` : s;
}

/**
 * renderParameters turns Bind values into text: text-format values as UTF-8 (hex `\x…` when
 * not valid UTF-8), binary-format values as `\x` + hex, SQL NULL as null. `formats` follows
 * the Bind rule: none = all text, one = applies to all, else one per parameter.
 */
export function renderParameters(params: readonly (Buffer | null)[], formats: readonly number[]): (string | null)[] {
  const out: (string | null)[] = new Array(params.length);
  for (let i = 0; i < params.length; i++) {
    const v = params[i];
    if (v === null) {
      out[i] = null;
      continue;
    }
    const f = formats.length === 0 ? 0 : formats.length === 1 ? formats[0] : formats[i];
    if (f === 0) {
      try {
        out[i] = clip(utf8.decode(v));
        continue;
      } catch {
        // fall through to hex: the audit text must be exact, not a lossy decode
      }
    }
    out[i] = clip(`\\x${v.toString('hex')}`);
  }
  return out;
}
