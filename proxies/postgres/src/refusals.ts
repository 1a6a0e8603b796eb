// Every refusal the proxy answers a client with, in one table: its SQLSTATE, the Affidavit error
// code it names (docs/errors.md) and its message. A statement refusal is an ERROR (the session
// goes on); a login or session refusal is FATAL (the connection closes).
import type { ErrorFields } from './wire/index.ts';
import {
  PgApprovalRefusedError,
  PgCommandDeniedError,
  PgMaskBinaryError,
  PgMaskCopyError,
  PgStartupUserMismatchError,
  PgTlsRequiredError,
  PgUnknownNameError,
} from './errors.ts';

/** RefusalContext is what a refusal's message may name. */
export type RefusalContext = {
  readonly ruleId?: string | null;
  readonly reason?: string;
  readonly requestId?: string;
  readonly verdict?: string;
  readonly detail?: string;
  readonly name?: string;
  readonly user?: string;
  readonly subject?: string;
};

type Entry = {
  readonly sqlstate: string;
  /** code is the Affidavit error code named in the message, if any. */
  readonly code?: string;
  readonly message: (c: RefusalContext) => string;
  readonly hint?: string;
  /** inline: the message names the code itself. */
  readonly inline?: boolean;
};

const rule = (c: RefusalContext) => `Affidavit policy rule "${c.ruleId ?? '(none)'}"`;

/** REFUSALS maps each refusal to its SQLSTATE and message. */
export const REFUSALS = {
  /** A policy rule denies the statement. */
  'policy-deny': { sqlstate: '42501', code: new PgCommandDeniedError().code, message: (c) => `${rule(c)} refused this statement: ${c.reason}` },
  /** Approval needed, but the proxy has no approval channel. */
  'approval-unavailable': {
    sqlstate: '42501',
    code: new PgApprovalRefusedError().code,
    message: (c) => `${rule(c)} requires an approval, but this proxy has no approval channel`,
  },
  /** The approval request could not be recorded. */
  'approval-not-recorded': { sqlstate: '58000', message: (c) => `Affidavit could not record the approval request, so the statement was not run: ${c.detail}` },
  /** The client cancelled while its statement waited for approval. */
  'approval-cancelled': { sqlstate: '57014', message: (c) => `canceling statement due to user request (approval request ${c.requestId} withdrawn)` },
  /** The approval was denied or expired. */
  'approval-refused': {
    sqlstate: '42501',
    code: new PgApprovalRefusedError().code,
    inline: true,
    message: (c) => `Affidavit approval request ${c.requestId} ${c.verdict} (policy rule "${c.ruleId}", ${new PgApprovalRefusedError().code})`,
  },
  /** Masked results requested in binary format. */
  'mask-binary': {
    sqlstate: '0A000',
    code: new PgMaskBinaryError().code,
    message: (c) => `${rule(c)} masks these results, and masked values can only be sent in text format; request text results`,
  },
  /** Masked data requested through COPY TO. */
  'mask-copy': {
    sqlstate: '0A000',
    code: new PgMaskCopyError().code,
    message: (c) => `${rule(c)} masks this data, and COPY output is not masked; use SELECT instead`,
  },
  /** Masking required but not configured. */
  'mask-unconfigured': {
    sqlstate: '42501',
    code: new PgCommandDeniedError().code,
    message: (c) => `${rule(c)} requires masking, which this proxy is not configured for`,
  },
  /** The statement's CommandIssued could not be recorded (fail closed). */
  'recording-unavailable': {
    sqlstate: '58000',
    message: (c) => `Affidavit could not record this statement, so it was not run: ${c.detail}`,
    hint: 'retry when the audit bus is reachable again',
  },
  /** EXECUTE / Bind of a prepared statement the proxy does not know in this session. */
  'unknown-prepared': {
    sqlstate: '26000',
    code: new PgUnknownNameError().code,
    message: (c) =>
      `Affidavit does not know what prepared statement ${JSON.stringify(c.name)} runs in this session, so it cannot check or record it; prepare it again under a new name`,
  },
  /** FETCH / MOVE / Execute of a portal or cursor the proxy does not know in this session. */
  'unknown-cursor': {
    sqlstate: '34000',
    code: new PgUnknownNameError().code,
    message: (c) =>
      `Affidavit does not know what cursor or portal ${JSON.stringify(c.name)} runs in this session (it may not exist, or may have been opened by a function), so it cannot check or record it`,
  },
  /** TLS required for a token login. */
  'tls-required': { sqlstate: '28000', code: new PgTlsRequiredError().code, message: () => new PgTlsRequiredError().message },
  /** The startup packet names another user than the token's. */
  'startup-user-mismatch': {
    sqlstate: '28000',
    code: new PgStartupUserMismatchError().code,
    message: (c) => `the startup user ${JSON.stringify(c.user)} is not the token's subject ${JSON.stringify(c.subject)}; connect with user=${c.subject}`,
  },
} as const satisfies Record<string, Entry>;

/** RefusalKind names one entry of REFUSALS. */
export type RefusalKind = keyof typeof REFUSALS;

/** refusalFields builds the ErrorResponse fields of a refusal. */
export function refusalFields(kind: RefusalKind, c: RefusalContext = {}, severity: 'ERROR' | 'FATAL' = 'ERROR'): ErrorFields {
  const e: Entry = REFUSALS[kind];
  const message = e.code && !e.inline ? `${e.message(c)} (${e.code})` : e.message(c);
  return e.hint ? { severity, code: e.sqlstate, message, hint: e.hint } : { severity, code: e.sqlstate, message };
}

/** refusalReason is the refusal's message for a CommandBlocked or AuthenticationFailed reason. */
export function refusalReason(kind: RefusalKind, c: RefusalContext = {}): string {
  return refusalFields(kind, c).message;
}
