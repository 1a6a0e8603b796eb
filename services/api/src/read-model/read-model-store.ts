// The read models' storage port. The projection (pure) produces mutations; a store applies them
// together with the ledger position they reach, and answers the API's queries with keyset
// pagination. node:sqlite is synchronous, so is this port: an adapter over a remote database
// would be a different port (and would need an async projector).
import type {
  ApprovalRow,
  ApprovalStatus,
  AuthFailureRow,
  BlockedRow,
  CommandRow,
  DecisionRow,
  IdentityRow,
  MaskedRow,
  ReadModelMutation,
  RefusalRow,
  SessionRow,
} from './rows.ts';

/** Page is one page of rows; `next` is the cursor of the page after it, null on the last page. */
export type Page<T> = { readonly rows: readonly T[]; readonly next: string | null };

/** PageRequest asks for `first` rows after the opaque cursor `after` (from a previous Page). */
export type PageRequest = { readonly first: number; readonly after?: string | null };

/** SessionFilter narrows sessions; times are UTC microseconds, `since` inclusive, `until` exclusive. */
export type SessionFilter = {
  readonly subject?: string | null;
  readonly targetResource?: string | null;
  readonly sourceAddress?: string | null;
  readonly active?: boolean | null;
  readonly since?: number | null;
  readonly until?: number | null;
};
export type BlockedFilter = { readonly subject?: string | null; readonly sessionId?: string | null; readonly ruleId?: string | null };
export type ApprovalFilter = { readonly status?: ApprovalStatus | null; readonly requester?: string | null };
export type MaskedFilter = { readonly subject?: string | null; readonly sessionId?: string | null };
export type AuthFailureFilter = { readonly code?: string | null; readonly claimedSubject?: string | null };

/**
 * ReadModelStore holds the read models and, per ledger log, the next ledger index to project.
 *
 * - `apply` MUST be atomic: the mutations and the new position are visible together or not at
 *   all, so a crash never leaves rows without the position that produced them (or the reverse).
 * - Pages are ordered by a unique key and continued by keyset (`WHERE key < cursor`), never by
 *   OFFSET; a cursor this store did not issue fails with ApiCursorInvalidError.
 * - `reset` drops every row and position (the next projection rebuilds from index 0).
 */
export interface ReadModelStore {
  positions(): Record<string, number>;
  /** anchors returns, per log, the eventId of the last entry projected (to recognise the same ledger on the next start). */
  anchors(): Record<string, string>;
  apply(log: string, nextIndex: number, mutations: readonly ReadModelMutation[], lastEventId?: string): void;
  reset(): void;
  sessions(filter: SessionFilter, page: PageRequest): Page<SessionRow>;
  session(sessionId: string): SessionRow | undefined;
  commands(sessionId: string, page: PageRequest): Page<CommandRow>;
  blockedCommands(filter: BlockedFilter, page: PageRequest): Page<BlockedRow>;
  approvals(filter: ApprovalFilter, page: PageRequest): Page<ApprovalRow>;
  approval(requestId: string): ApprovalRow | undefined;
  /** decisions lists every decision recorded for a request in ledger order (at most MAX_DECISIONS). */
  decisions(requestId: string): readonly DecisionRow[];
  /** refusals lists the refused decision attempts on a request in ledger order (at most MAX_DECISIONS). */
  refusals(requestId: string): readonly RefusalRow[];
  maskedData(filter: MaskedFilter, page: PageRequest): Page<MaskedRow>;
  /** masked returns the masked-data row of a DataMasked event id. */
  masked(eventId: string): MaskedRow | undefined;
  identities(page: PageRequest): Page<IdentityRow>;
  authenticationFailures(filter: AuthFailureFilter, page: PageRequest): Page<AuthFailureRow>;
  close(): void;
}
