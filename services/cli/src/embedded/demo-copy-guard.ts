// PGlite 0.5.14 cannot take COPY ... FROM STDIN over the wire: the statement ends the PGlite
// program (exit(1)) and with it the demo database for every user until a restart. So the
// demo database's wire server refuses it before it reaches PGlite, with the real PostgreSQL
// parser (never a regular expression: comments, case and multi-statement strings).
import type { SqlParseFn } from '@affidavit/access';

/** COPY_FROM_STDIN_REFUSED is the message a client gets (SQLSTATE 0A000, then the connection ends). */
export const COPY_FROM_STDIN_REFUSED = 'COPY ... FROM STDIN is not supported by the demo database (PGlite would stop for everyone); use INSERT';

/**
 * copyFromStdinGuard returns a check that gives the refusal text for SQL holding a COPY FROM
 * STDIN statement, else undefined. SQL the parser rejects passes: PGlite then answers with its
 * own syntax error, and such text runs no COPY.
 */
export function copyFromStdinGuard(parse: SqlParseFn): (sql: string) => string | undefined {
  return (sql) => {
    const r = parse(sql);
    if (!r.ok) return undefined;
    for (const s of r.tree.stmts ?? []) {
      const copy = s.stmt.CopyStmt as { is_from?: boolean; filename?: string } | undefined;
      if (copy?.is_from && !copy.filename) return COPY_FROM_STDIN_REFUSED;
    }
    return undefined;
  };
}
