import sh from 'mvdan-sh';

/**
 * Adapter around mvdan-sh, the JavaScript build of mvdan/sh's bash parser (the parser
 * behind shfmt). It is synchronous. sh-syntax (the WebAssembly build of the same parser)
 * was tried first: its JSON output drops every interface-typed field (Stmt.Cmd and
 * Word.Parts come out as `{}`), so it cannot tell which programs a line runs.
 */

/** ShNode is one syntax-tree node of mvdan/sh, read by field name. */
// biome-ignore lint/suspicious/noExplicitAny: mvdan/sh's nodes are untyped JavaScript objects
export type ShNode = Record<string, any>;

/** ShellParseOutcome is either a syntax tree (`File`) or the parser's error. */
export type ShellParseOutcome = { readonly ok: true; readonly file: ShNode } | { readonly ok: false; readonly message: string };

/** shellNodeType names a node's Go type (`CallExpr`, `Word`, `Lit`, ...). */
export const shellNodeType: (n: unknown) => string = (n) => sh.syntax.NodeType(n);

/** parseShell parses bash syntax; errors (and stack exhaustion on absurd nesting) are returned, not thrown. */
export function parseShell(src: string): ShellParseOutcome {
  try {
    return { ok: true, file: sh.syntax.NewParser().Parse(src, '') };
  } catch (e) {
    if (e instanceof RangeError) return { ok: false, message: 'command is nested too deeply to parse' };
    const err = e as { Error?: () => string; message?: string; Text?: string };
    const message = typeof err.Error === 'function' ? err.Error() : (err.message ?? err.Text ?? String(e));
    return { ok: false, message };
  }
}
