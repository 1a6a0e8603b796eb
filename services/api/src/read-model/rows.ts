// The read models' rows and the mutations the projection emits. Times are the events'
// `occurredAt` (UTC microseconds). Every row remembers the ledger position of the event that
// created it, so the API can prove it against a signed checkpoint.

/** Position is where an event sits in the ledger: its log and 0-based index. */
export type Position = { readonly log: string; readonly index: number };

/** SessionRow is one session: who, from where, which target, when, how it ended. */
export type SessionRow = {
  readonly sessionId: string;
  readonly issuer: string | null;
  readonly subject: string | null;
  readonly email: string | null;
  readonly mfa: boolean | null;
  readonly sourceAddress: string;
  readonly sourcePort: number | null;
  readonly application: string | null;
  readonly targetKind: string;
  readonly targetResource: string;
  readonly targetHost: string;
  readonly targetDatabase: string | null;
  readonly targetLogin: string | null;
  readonly protocol: string;
  readonly tls: boolean;
  readonly startedAt: number;
  readonly endedAt: number | null;
  readonly endReason: string | null;
  readonly endErrorCode: string | null;
  readonly commandCount: number | null;
  readonly position: Position;
};

/** CommandRow is one command of a session with the policy's decision and rule. */
export type CommandRow = {
  readonly sessionId: string;
  readonly commandId: string;
  readonly seq: number;
  readonly subject: string | null;
  readonly channel: string;
  readonly text: string;
  readonly classes: readonly string[];
  readonly decision: string;
  readonly ruleId: string | null;
  readonly issuedAt: number;
  readonly outcome: string | null;
  readonly tag: string | null;
  readonly rows: number | null;
  readonly durationMicros: number | null;
  readonly errorCode: string | null;
  readonly position: Position;
};

/** BlockedRow is one command policy refused. */
export type BlockedRow = {
  readonly eventId: string;
  readonly sessionId: string;
  readonly commandId: string;
  readonly subject: string | null;
  readonly targetResource: string;
  readonly text: string;
  readonly ruleId: string | null;
  readonly reason: string;
  readonly occurredAt: number;
  readonly position: Position;
};

/** ApprovalStatus is where an approval request stands. */
export type ApprovalStatus = 'pending' | 'approved' | 'denied' | 'expired';

/** ApprovalRow is one approval request and, once decided, its first decision. */
export type ApprovalRow = {
  readonly requestId: string;
  readonly sessionId: string;
  readonly commandId: string;
  readonly requester: string | null;
  readonly text: string;
  readonly ruleId: string;
  readonly reason: string;
  readonly approverGroups: readonly string[];
  readonly requestedAt: number;
  readonly expiresAt: number;
  readonly status: ApprovalStatus;
  readonly approver: string | null;
  readonly justification: string | null;
  readonly decidedAt: number | null;
  readonly hasSignature: boolean;
  readonly position: Position;
  readonly decisionPosition: Position | null;
};

/** DecisionRow is one ApprovalDecided event of a request; `refused` once an ApprovalRefused names it. */
export type DecisionRow = {
  readonly eventId: string;
  readonly requestId: string;
  readonly refused: boolean;
  readonly decision: Exclude<ApprovalStatus, 'pending'>;
  readonly approver: string | null;
  readonly justification: string;
  readonly decidedAt: number;
  readonly hasSignature: boolean;
  readonly position: Position;
};

/** RefusalRow is one ApprovalRefused event: a decision attempt the gate or the service refused. */
export type RefusalRow = {
  readonly eventId: string;
  readonly requestId: string;
  readonly refusedEventId: string | null;
  readonly attemptedDecision: string;
  /** claimedApprover is the approver the attempt named (unverified unless `actor` is set). */
  readonly claimedApprover: string | null;
  readonly actor: string | null;
  readonly code: string;
  readonly reason: string;
  readonly refusedBy: string;
  readonly occurredAt: number;
  readonly position: Position;
};

/** MaskedRow is one DataMasked event: how many values of which columns, by which rules. */
export type MaskedRow = {
  readonly eventId: string;
  readonly sessionId: string;
  readonly commandId: string;
  readonly subject: string | null;
  readonly count: number;
  readonly truncated: boolean;
  readonly columns: readonly string[];
  readonly rules: readonly string[];
  readonly occurredAt: number;
  readonly position: Position;
};

/** IdentityRow is one identity that opened sessions. */
export type IdentityRow = {
  readonly issuer: string;
  readonly subject: string;
  readonly email: string | null;
  readonly groups: readonly string[];
  readonly mfa: boolean;
  readonly firstSeen: number;
  readonly lastSeen: number;
  readonly sessions: number;
};

/** AuthFailureRow is one refused authentication (claimed values are unverified). */
export type AuthFailureRow = {
  readonly eventId: string;
  readonly sessionId: string;
  readonly code: string;
  readonly reason: string;
  readonly claimedIssuer: string | null;
  readonly claimedSubject: string | null;
  readonly tokenId: string | null;
  readonly sourceAddress: string;
  readonly targetResource: string;
  readonly occurredAt: number;
  readonly position: Position;
};

/**
 * ReadModelMutation is one change the projection asks the store to make. Applying the same
 * mutations in the same order MUST give the same rows (rebuilds are compared against live state).
 */
export type ReadModelMutation =
  | { readonly kind: 'session-started'; readonly row: SessionRow }
  | {
      readonly kind: 'session-ended';
      readonly sessionId: string;
      readonly endedAt: number;
      readonly reason: string;
      readonly errorCode: string | null;
      readonly commands: number;
    }
  | { readonly kind: 'command-issued'; readonly row: CommandRow }
  | {
      readonly kind: 'command-completed';
      readonly sessionId: string;
      readonly commandId: string;
      readonly outcome: string;
      readonly tag: string | null;
      readonly rows: number | null;
      readonly durationMicros: number;
      readonly errorCode: string | null;
    }
  | { readonly kind: 'command-blocked'; readonly row: BlockedRow }
  | { readonly kind: 'approval-requested'; readonly row: ApprovalRow }
  | {
      readonly kind: 'approval-decided';
      readonly eventId: string;
      readonly requestId: string;
      readonly status: Exclude<ApprovalStatus, 'pending'>;
      readonly approver: string | null;
      readonly justification: string;
      readonly decidedAt: number;
      readonly hasSignature: boolean;
      readonly position: Position;
    }
  | { readonly kind: 'approval-refused'; readonly row: RefusalRow }
  | { readonly kind: 'data-masked'; readonly row: MaskedRow }
  | {
      readonly kind: 'identity-seen';
      readonly issuer: string;
      readonly subject: string;
      readonly email: string | null;
      readonly groups: readonly string[];
      readonly mfa: boolean;
      readonly at: number;
    }
  | { readonly kind: 'authentication-failed'; readonly row: AuthFailureRow };
