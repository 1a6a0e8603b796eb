// Parser agreement: the proxy classifies statements with PostgreSQL's parser under the
// server's defaults (standard_conforming_strings on, UTF-8 text). A session that changes how
// the server reads its bytes makes the two parsers disagree: with standard_conforming_strings
// off, `'\' , email from customers --'` is two string literals to the proxy and a read of
// customers to the server (a red-team finding: clear PII, an unapproved UPDATE, a false
// ledger entry); a client encoding such as GBK or SJIS lets a multibyte character swallow a
// quote or backslash. Such settings are refused before they reach the server, and a server
// that reports one anyway (a role default, a function) ends the session: the proxy cannot know
// what the next statement would run.
import type { Classification, PolicyDecision } from '@affidavit/access';

/** PARSER_SETTINGS change how the server tokenises statement text. */
export const PARSER_SETTINGS: ReadonlySet<string> = new Set(['standard_conforming_strings', 'client_encoding', 'backslash_quote']);

/** SAFE_CLIENT_ENCODINGS keep quotes and backslashes single bytes that no multibyte character contains. */
const SAFE_CLIENT_ENCODINGS = new Set(['UTF8', 'SQL_ASCII']);

/**
 * parserSettingDecision returns a deny decision when a statement sets or resets a setting of
 * PARSER_SETTINGS (SET, SET LOCAL, SET NAMES, RESET, a write to pg_settings), one it could not
 * name (`*`), or calls set_config() at all; undefined otherwise. SHOW is harmless.
 */
export function parserSettingDecision(cls: Classification): PolicyDecision | undefined {
  for (const [i, s] of cls.statements.entries()) {
    for (const op of s.operations) {
      if (op.class === 'show') continue;
      // set_config() names its setting in an argument the classification does not keep: any
      // call may be one of these.
      const viaFunction = op.functions.some((f) => f.name.toLowerCase() === 'set_config' && (f.schema === undefined || f.schema === 'pg_catalog'))
        ? '*'
        : undefined;
      const hit = viaFunction ?? op.settings.find((name) => name === '*' || PARSER_SETTINGS.has(name.toLowerCase()));
      if (hit === undefined) continue;
      const what = hit === '*' ? 'a setting the proxy cannot name' : hit;
      return {
        action: 'deny',
        ruleId: '(parser-setting)',
        reason: `changing ${what} would make the server read statements differently from the proxy's parser, so policy could no longer see what runs`,
        statementIndex: i,
      };
    }
  }
  return undefined;
}

/**
 * parameterMismatch names why a ParameterStatus the server reports breaks parser agreement
 * (the session must end), or undefined when the value is one the proxy parses alike.
 */
export function parameterMismatch(name: string, value: string): string | undefined {
  if (name === 'standard_conforming_strings' && value !== 'on') return `the server now reads string literals with standard_conforming_strings=${value}`;
  if (name === 'client_encoding' && !SAFE_CLIENT_ENCODINGS.has(value.toUpperCase()))
    return `the client encoding is ${value}, whose multibyte characters can contain a quote or backslash; use UTF8`;
  return undefined;
}

/** parameterStatusOf reads a ParameterStatus message at buf[at, end): its name and value. */
export function parameterStatusOf(buf: Buffer, at: number, end: number): { name: string; value: string } {
  const body = buf.subarray(at + 5, end);
  const z = body.indexOf(0);
  const z2 = body.indexOf(0, z + 1);
  return { name: body.toString('utf8', 0, z), value: body.toString('utf8', z + 1, z2 < 0 ? body.length : z2) };
}
