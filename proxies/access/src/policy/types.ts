/**
 * Types shared by the policy engine: what a classifier says a command does
 * (`Classification`, a list of `Operation`s) and what the policy decides (`PolicyDecision`).
 *
 * One shape serves SQL and SSH so a single pure `evaluate` handles both; fields that do
 * not apply to a kind stay empty.
 */

/** Action is what a policy rule tells the proxy to do with a command. */
export type Action = 'allow' | 'deny' | 'require-approval' | 'mask';

/** ACTION_STRICTNESS orders actions: for several operations the strictest wins. */
export const ACTION_STRICTNESS: Readonly<Record<Action, number>> = Object.freeze({
  allow: 0,
  mask: 1,
  'require-approval': 2,
  deny: 3,
});

/** TargetKind names the protocol a target speaks. */
export type TargetKind = 'postgres' | 'ssh';

/** SQL_CLASSES lists every statement class the SQL classifier produces. */
export const SQL_CLASSES = [
  'select',
  'insert',
  'update',
  'delete',
  'merge',
  'truncate',
  'ddl',
  'dcl',
  'copy-to',
  'copy-from',
  'copy-program',
  // COPY ... TO/FROM 'file' reads or writes the server's file system, unlike COPY with STDOUT/STDIN.
  'copy-file',
  'set',
  'show',
  'set-role',
  'session-authorization',
  'alter-system',
  'transaction',
  'do',
  'call',
  'execute',
  'deallocate',
  'discard',
  'explain',
  'lock',
  'listen',
  'load',
  'maintenance',
  'cursor',
  'utility',
  // A write to a pg_catalog or information_schema relation is DDL in disguise (UPDATE pg_class,
  // DELETE FROM pg_constraint) or a setting change (UPDATE pg_settings): a class of its own, so
  // an old rule allowing `insert` or `update` never allows it.
  'catalog-write',
] as const;

/** SHELL_CLASSES lists the classes the SSH classifiers produce (exec lines, shells, sftp). */
export const SHELL_CLASSES = [
  'exec',
  'shell',
  'sftp-read',
  'sftp-write',
  'sftp-list',
  'sftp-stat',
  'sftp-setstat',
  'sftp-remove',
  'sftp-rename',
  'sftp-mkdir',
  'sftp-rmdir',
  'sftp-symlink',
  'sftp-readlink',
  'sftp-other',
] as const;

/** OperationClass is one statement or command class. */
export type OperationClass = (typeof SQL_CLASSES)[number] | (typeof SHELL_CLASSES)[number];

/**
 * QualifiedName is a relation or function name as written; `schema` is absent when unqualified,
 * `catalog` (the database of `db.schema.table`) only when the statement named one.
 */
export type QualifiedName = { readonly catalog?: string; readonly schema?: string; readonly name: string };

/**
 * Operation is one thing a command really does. One SQL statement can hold several
 * (a `DELETE` inside a CTE of a `SELECT` is its own `delete` operation); one shell
 * line holds one per program invoked.
 */
export type Operation = {
  readonly class: OperationClass;
  /** reads are relations read (schema-qualified when the statement qualified them). */
  readonly reads: readonly QualifiedName[];
  /** writes are relations inserted into, updated, deleted from, truncated, copied into or altered. */
  readonly writes: readonly QualifiedName[];
  /** functions are every function called anywhere in the statement's tree. */
  readonly functions: readonly QualifiedName[];
  /** columns are column references as written, dotted (`c.email`); `*` for a star. */
  readonly columns: readonly string[];
  /** settings are run-time parameters set, reset or shown (`search_path`, `role`). */
  readonly settings: readonly string[];
  /** program is the program a shell command runs (as written); undefined for SQL. */
  readonly program?: string;
  /** args are the program's arguments with quoting removed. */
  readonly args: readonly string[];
  /** paths are file paths named by arguments, redirections or sftp requests. */
  readonly paths: readonly string[];
  /** dynamic is true when the program name is computed at run time (`$CMD`, `$(...)`). */
  readonly dynamic?: boolean;
  /**
   * unresolved is true for EXECUTE/FETCH of a name the session registry does not know, and for
   * a read of a relation the classifier cannot name (`table_to_xml($1, ...)`).
   */
  readonly unresolved?: boolean;
  /** unresolvedReason says why `unresolved` is set, for the refusal message; absent for EXECUTE/FETCH. */
  readonly unresolvedReason?: string;
};

/**
 * operation builds a frozen Operation of class `cls` that touches nothing but what `fields` names
 * (every list defaults to empty), so classifiers never hand out a half-filled one.
 */
export function operation(cls: OperationClass, fields: Partial<Omit<Operation, 'class'>> = {}): Operation {
  return Object.freeze({ class: cls, reads: [], writes: [], functions: [], columns: [], settings: [], args: [], paths: [], ...fields });
}

/** StatementInfo is one statement of a multi-statement SQL string. */
export type StatementInfo = {
  /** nodeType is libpg_query's node name, e.g. `SelectStmt`. */
  readonly nodeType: string;
  readonly text: string;
  readonly operations: readonly Operation[];
  /** prepares names the prepared statement or cursor this statement defines, if any. */
  readonly defines?: { readonly kind: 'prepared' | 'cursor'; readonly name: string };
  /** refers names the prepared statement or cursor this statement uses, if any. */
  readonly refers?: { readonly kind: 'prepared' | 'cursor'; readonly name: string };
  /** deallocates names what this statement forgets (`*` for all). */
  readonly forgets?: { readonly kind: 'prepared' | 'cursor' | 'all'; readonly name: string };
};

/** Unparsable carries the parser's message when a command could not be classified. */
export type Unparsable = { readonly message: string; readonly position?: number };

/** Classification is everything a classifier found in one command string. */
export type Classification = {
  readonly kind: 'sql' | 'shell' | 'sftp';
  readonly text: string;
  readonly statements: readonly StatementInfo[];
  readonly unparsable?: Unparsable;
};

/**
 * Target is the resource a session reaches; `database` is the PostgreSQL database the session
 * is connected to upstream, so a `db.schema.table` naming another database can be refused.
 */
export type Target = { readonly kind: TargetKind; readonly resource: string; readonly database?: string };

/**
 * ResolutionContext is what the server uses to resolve a relation name, as the session knows it:
 * the connected `database`, the session's `search_path` as a list of schema names (quotes
 * removed, `$user` and `pg_temp` kept as written), and the upstream login `user` that `$user`
 * stands for. Without one, evaluate resolves unqualified names in the policy's defaultSchema.
 */
export type ResolutionContext = {
  readonly database?: string;
  readonly searchPath: readonly string[];
  readonly user?: string;
  /** catalog, when given, tells which candidate relations exist and what views read (see catalog-port.ts). */
  readonly catalog?: CatalogSnapshot;
};

/** CatalogRelationKind is pg_class.relkind in words. */
export type CatalogRelationKind = 'table' | 'view' | 'materialized-view' | 'foreign-table' | 'partitioned-table' | 'sequence' | 'other';

/** CatalogRelation is one relation as the upstream catalog describes it. */
export type CatalogRelation = {
  readonly oid: number;
  readonly schema: string;
  readonly name: string;
  readonly kind: CatalogRelationKind;
  /** reads are the relations a view or materialized view reads (pg_depend via pg_rewrite), schema-qualified. */
  readonly reads?: readonly { readonly schema: string; readonly name: string }[];
};

/**
 * CatalogSnapshot answers, synchronously, whether a relation exists in a schema. A snapshot MUST
 * answer `undefined` for "not known" only when the relation does not exist; a snapshot that was
 * not asked about a name MUST say so with `known(schema, name) === false` so the resolver keeps
 * every candidate (strict) instead of taking a missing entry for a missing relation.
 */
export type CatalogSnapshot = {
  known(schema: string, name: string): boolean;
  lookup(schema: string, name: string): CatalogRelation | undefined;
};

/** PolicyRequest is the input of `evaluate`. */
export type PolicyRequest = {
  readonly target: Target;
  readonly groups: readonly string[];
  readonly classification: Classification;
  /** resolution is the session's name-resolution context; see ResolutionContext. */
  readonly resolution?: ResolutionContext;
};

/**
 * MaskSpec names what the masking module must rewrite in the results. `allowPredicates` are
 * the column globs whose rules say `predicates: allow` (WHERE, JOIN, ORDER BY ... may use
 * them); absent or empty: no masked column may be used in a predicate.
 */
export type MaskSpec = { readonly columns: readonly string[]; readonly detectors: readonly string[]; readonly allowPredicates?: readonly string[] };

/** PolicyDecision is the output of `evaluate`: the action and the rule that decided it. */
export type PolicyDecision = {
  readonly action: Action;
  /** ruleId is a rule's id, or `(default)`, `(unparsable)`, `(empty)` for built-in outcomes. */
  readonly ruleId: string;
  readonly reason: string;
  readonly masks?: MaskSpec;
  readonly capture?: boolean;
  /** approvers are the groups allowed to approve, for `require-approval`. */
  readonly approvers?: readonly string[];
  /**
   * maskRuleId names the rule whose masks a `require-approval` decision carries: a held write
   * that also reads masked columns (`UPDATE … RETURNING email`) is masked once approved.
   */
  readonly maskRuleId?: string;
  /** statementIndex is the index of the statement whose operation decided. */
  readonly statementIndex?: number;
};
