import { loadModule, parseSync } from 'libpg-query';
import { SqlParserNotReadyError } from './errors.ts';

/**
 * Adapter around libpg-query, the real PostgreSQL parser compiled to WebAssembly.
 * Loading the module is asynchronous; once `initSqlParser()` has resolved, every
 * parse is synchronous so the proxy can classify inside its message loop.
 */

/** SqlParseTree is libpg_query's JSON parse tree (`{ version, stmts: [{ stmt, stmt_location, stmt_len }] }`). */
export type SqlParseTree = {
  readonly version: number;
  readonly stmts?: ReadonlyArray<{ stmt: Record<string, unknown>; stmt_location?: number; stmt_len?: number }>;
};

/** SqlParseOutcome is either a tree or the parser's error. */
export type SqlParseOutcome = { readonly ok: true; readonly tree: SqlParseTree } | { readonly ok: false; readonly message: string; readonly position?: number };

/** SqlParseFn parses SQL text synchronously; injected into the classifier so it stays testable. */
export type SqlParseFn = (sql: string) => SqlParseOutcome;

let ready: Promise<void> | undefined;
let loaded = false;

/** initSqlParser loads the WebAssembly parser once; later calls return the same promise. */
export function initSqlParser(): Promise<void> {
  ready ??= loadModule().then(() => {
    loaded = true;
  });
  return ready;
}

/** isSqlParserReady tells whether `parsePostgres` may be called. */
export function isSqlParserReady(): boolean {
  return loaded;
}

/**
 * parsePostgres parses with PostgreSQL's own grammar. It MUST NOT be called before
 * `initSqlParser()` resolved (throws SqlParserNotReadyError); a syntax error is returned,
 * not thrown, with the parser's message and cursor position as libpg_query reports it.
 */
export function parsePostgres(sql: string): SqlParseOutcome {
  if (!loaded) throw new SqlParserNotReadyError();
  try {
    return { ok: true, tree: parseSync(sql) as unknown as SqlParseTree };
  } catch (e) {
    const details = (e as { sqlDetails?: { message?: string; cursorPosition?: number } }).sqlDetails;
    const message = details?.message ?? (e instanceof Error ? e.message : String(e));
    return { ok: false, message, position: details?.cursorPosition };
  }
}
