// What the protocol-state model needs to know about a statement beyond its classification:
// the kind of a transaction statement (and its savepoint), the options of a DECLARE (WITH HOLD,
// BINARY). Read from the statement's own parse tree, once per classified statement: the
// classifier's results are frozen and shared per text, so the facts are cached per object.
import { parsePostgres, type StatementInfo } from '@affidavit/access';

/** TxKind is what a transaction statement does to the session's transaction. */
export type TxKind = 'begin' | 'commit' | 'commit-chain' | 'rollback' | 'rollback-chain' | 'savepoint' | 'release' | 'rollback-to' | 'prepare' | 'other';

/** StatementFacts are the facts of one statement (all absent for most statements). */
export type StatementFacts = {
  readonly tx?: TxKind;
  readonly savepoint?: string;
  readonly holdable?: boolean;
  readonly binary?: boolean;
};

/** FactsOf reads the facts of a classified statement. */
export type FactsOf = (s: StatementInfo) => StatementFacts;

const NONE: StatementFacts = Object.freeze({});
const cache = new WeakMap<StatementInfo, StatementFacts>();

// CURSOR_OPT_* of PostgreSQL's parsenodes.h.
const CURSOR_OPT_BINARY = 0x1;
const CURSOR_OPT_HOLD = 0x20;

const TX_KINDS: Readonly<Record<string, TxKind>> = {
  TRANS_STMT_BEGIN: 'begin',
  TRANS_STMT_START: 'begin',
  TRANS_STMT_COMMIT: 'commit',
  TRANS_STMT_ROLLBACK: 'rollback',
  TRANS_STMT_SAVEPOINT: 'savepoint',
  TRANS_STMT_RELEASE: 'release',
  TRANS_STMT_ROLLBACK_TO: 'rollback-to',
  TRANS_STMT_PREPARE: 'prepare',
};

/** statementFacts is the FactsOf of the proxy: libpg_query's tree of the statement's text. */
export const statementFacts: FactsOf = (s) => {
  if (s.nodeType !== 'TransactionStmt' && s.nodeType !== 'DeclareCursorStmt') return NONE;
  const hit = cache.get(s);
  if (hit) return hit;
  const facts = readFacts(s);
  cache.set(s, facts);
  return facts;
};

function readFacts(s: StatementInfo): StatementFacts {
  const out = parsePostgres(s.text);
  const stmt = out.ok ? (out.tree.stmts?.[0]?.stmt as Record<string, Record<string, unknown>> | undefined) : undefined;
  if (!stmt) return s.nodeType === 'TransactionStmt' ? Object.freeze({ tx: 'other' as const }) : NONE;
  const d = stmt.DeclareCursorStmt;
  if (d) {
    const o = typeof d.options === 'number' ? d.options : 0;
    return Object.freeze({ holdable: (o & CURSOR_OPT_HOLD) !== 0, binary: (o & CURSOR_OPT_BINARY) !== 0 });
  }
  const t = stmt.TransactionStmt;
  if (t) {
    let tx: TxKind = TX_KINDS[String(t.kind)] ?? 'other';
    if (t.chain === true && tx === 'commit') tx = 'commit-chain';
    if (t.chain === true && tx === 'rollback') tx = 'rollback-chain';
    return Object.freeze(typeof t.savepoint_name === 'string' ? { tx, savepoint: t.savepoint_name } : { tx });
  }
  return NONE;
}
