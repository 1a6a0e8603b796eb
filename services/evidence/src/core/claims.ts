// What a row claims, derived from nothing but the entries it cites. The report engine and the
// offline verifier both call deriveClaims, so a row whose claims differ from what its entries
// say (an edited row, a swapped entry) is caught and named.
import { commandDigest, signedDecisionOf, verifyDecisionSignature } from '@affidavit/access/decisions';
import type { DecisionVerifier } from '@affidavit/access/decisions';
import type { ApprovalDecided, ApprovalRequested, AuthenticationFailed, CommandIssued, LedgerRecord, SessionStarted } from '@affidavit/schemas';
import type { Json, RowKind } from './model.ts';

/** iso renders an event time (epoch microseconds) as an RFC 3339 UTC timestamp. */
export function iso(micros: number): string {
  return new Date(Math.floor(micros / 1000)).toISOString();
}

/**
 * PRIVILEGED_CLASSES are statement classes that change structure, rights, roles, server settings
 * or reach the server's files or programs: privileged functions in the sense of AC-6(9). Policy
 * rules carry no "privileged" marker, so the class (and a rule requiring approval) decides.
 */
export const PRIVILEGED_CLASSES: ReadonlySet<string> = new Set([
  'ddl',
  'dcl',
  'alter-system',
  'set-role',
  'session-authorization',
  'copy-program',
  'copy-file',
  'catalog-write',
  'load',
  'shell',
]);

/** privilegedBecause says why a command is privileged, or null when it is not. */
export function privilegedBecause(c: CommandIssued): string | null {
  // Called for every command of a period: the common, unprivileged case allocates nothing.
  if (c.decision !== 'require_approval' && !c.classes.some((k) => PRIVILEGED_CLASSES.has(k))) return null;
  const classes = c.classes.filter((k) => PRIVILEGED_CLASSES.has(k));
  if (classes.length > 0) return `class ${classes.join(', ')}`;
  if (c.decision === 'require_approval') return `rule ${c.ruleId ?? '(default)'} requires approval`;
  return null;
}

/** AU3_FIELDS are the AU-3 a–f contents of an audit record. */
export const AU3_FIELDS = [
  { letter: 'a', name: 'what (type of event)' },
  { letter: 'b', name: 'when (time of the event)' },
  { letter: 'c', name: 'where (target and feeder)' },
  { letter: 'd', name: 'source (client address)' },
  { letter: 'e', name: 'outcome' },
  { letter: 'f', name: 'identity (issuer and subject)' },
] as const;
export type Au3Letter = (typeof AU3_FIELDS)[number]['letter'];
export type FieldState = 'present' | 'missing' | 'n/a';

const filled = (s: string | null | undefined) => typeof s === 'string' && s.trim().length > 0;

/** au3Field says whether a record carries one AU-3 content. 'n/a' where the event type has no such content. */
export function au3Field(r: LedgerRecord, letter: Au3Letter): FieldState {
  const ok = (b: boolean): FieldState => (b ? 'present' : 'missing');
  if (r.type === 'InputRejected') {
    // The ledger's own record of bytes that were no event: it has a time, a place and an outcome only.
    if (letter === 'a') return 'present';
    if (letter === 'b') return ok(r.occurredAt > 0);
    if (letter === 'c') return ok(filled(r.topic));
    if (letter === 'e') return ok(filled(r.code));
    return 'n/a';
  }
  switch (letter) {
    case 'a':
      if (r.type === 'CommandIssued' || r.type === 'CommandBlocked' || r.type === 'ApprovalRequested') return ok(filled(r.text));
      return 'present';
    case 'b':
      return ok(Number.isSafeInteger(r.occurredAt) && r.occurredAt > 0);
    case 'c':
      return ok(filled(r.target.resource) && filled(r.target.host) && filled(r.feeder.id));
    case 'd':
      return ok(filled(r.source.address));
    case 'e':
      switch (r.type) {
        case 'CommandIssued':
          return ok(filled(r.decision));
        case 'CommandCompleted':
          return ok(filled(r.outcome));
        case 'CommandBlocked':
          return ok(filled(r.reason));
        case 'AuthenticationFailed':
        case 'ApprovalRefused':
          return ok(filled(r.code));
        case 'ApprovalDecided':
          return ok(filled(r.decision));
        case 'SessionEnded':
          return ok(filled(r.reason));
        case 'SessionStarted':
        case 'MaskedValueOpened':
        case 'DataMasked':
          // The type itself is the outcome: a session opened, a value opened, values masked.
          return 'present';
        default:
          return 'n/a';
      }
    case 'f':
      if (r.type === 'AuthenticationFailed') return ok((r.actor !== null && filled(r.actor.subject)) || filled(r.claimedSubject));
      return ok(r.actor !== null && filled(r.actor.issuer) && filled(r.actor.subject));
  }
}

/** DeriveContext is what deriving needs besides entries: the decision keys approvals are checked with. */
export type DeriveContext = { readonly decisionKeys: readonly DecisionVerifier[] };

/** ClaimsError: a row's entries cannot carry its kind's claims (wrong types, wrong number). */
export class ClaimsError extends Error {}

function need<T extends LedgerRecord['type']>(r: LedgerRecord | undefined, ...types: T[]): Extract<LedgerRecord, { type: T }> {
  if (r === undefined || !(types as string[]).includes(r.type))
    throw new ClaimsError(`expected a cited ${types.join(' or ')} entry, found ${r?.type ?? 'none'}`);
  return r as Extract<LedgerRecord, { type: T }>;
}

type SessionRecord = Exclude<LedgerRecord, { type: 'InputRejected' }>;
function sessionRecord(r: LedgerRecord | undefined): SessionRecord {
  if (r === undefined || r.type === 'InputRejected') throw new ClaimsError(`expected a cited session event, found ${r?.type ?? 'none'}`);
  return r;
}

/** decisionSignatureValid checks an approval decision's signature over the text its request held. */
export function decisionSignatureValid(decided: ApprovalDecided, requested: ApprovalRequested | undefined, keys: readonly DecisionVerifier[]): boolean {
  if (!requested || requested.requestId !== decided.requestId) return false;
  const signed = signedDecisionOf(decided, commandDigest(requested.text));
  return signed !== null && verifyDecisionSignature(signed, decided.signature, keys).ok;
}

function approvalClaims(requested: ApprovalRequested, decided: ApprovalDecided | undefined, ctx: DeriveContext): { [k: string]: Json } {
  if (!decided)
    return { requestId: requested.requestId, requester: requested.actor?.subject ?? null, decision: 'pending', approver: null, signatureValid: false };
  if (decided.requestId !== requested.requestId)
    throw new ClaimsError(`the decision cites request ${decided.requestId}, the row request ${requested.requestId}`);
  return {
    requestId: requested.requestId,
    requester: requested.actor?.subject ?? null,
    decision: decided.decision,
    approver: decided.approver?.subject ?? null,
    justification: decided.justification,
    decidedAt: iso(decided.occurredAt),
    signatureValid: decided.decision === 'expired' ? false : decisionSignatureValid(decided, requested, ctx.decisionKeys),
  };
}

function authFailure(f: AuthenticationFailed): { [k: string]: Json } {
  return {
    at: iso(f.occurredAt),
    resource: f.target.resource,
    source: f.source.address,
    claimedIssuer: f.claimedIssuer,
    claimedSubject: f.claimedSubject ?? f.actor?.subject ?? null,
    code: f.code,
    reason: f.reason,
  };
}

function sessionAuth(s: SessionStarted): { [k: string]: Json } {
  return {
    sessionId: s.sessionId,
    at: iso(s.occurredAt),
    resource: s.target.resource,
    issuer: s.actor?.issuer ?? null,
    subject: s.actor?.subject ?? null,
    groups: s.actor ? [...s.actor.groups] : [],
    amr: s.actor ? [...s.actor.authMethods] : [],
    acr: s.actor?.acr ?? null,
    mfa: s.actor?.mfa ?? false,
    tls: s.tls,
  };
}

/**
 * deriveClaims computes a row's claims from its cited records (in cite order). It throws
 * ClaimsError when the records cannot carry the kind's claims. Kinds resting on a checkpoint
 * (`checkpoint`) are derived by the chain check instead.
 */
export function deriveClaims(kind: RowKind, rs: readonly LedgerRecord[], ctx: DeriveContext): { [k: string]: Json } {
  switch (kind) {
    case 'account-use': {
      const first = sessionRecord(rs[0]);
      const last = sessionRecord(rs[rs.length - 1]);
      if (rs.length > 2) throw new ClaimsError('an account-use row cites its first and last use only');
      if (!first.actor || !last.actor) throw new ClaimsError('an account-use entry has no identity');
      if (first.actor.issuer !== last.actor.issuer || first.actor.subject !== last.actor.subject || first.target.resource !== last.target.resource)
        throw new ClaimsError('the first and last use name different identities or targets');
      return {
        issuer: first.actor.issuer,
        subject: first.actor.subject,
        resource: first.target.resource,
        firstUse: iso(first.occurredAt),
        lastUse: iso(last.occurredAt),
        groups: [...last.actor.groups],
      };
    }
    case 'dormant-account': {
      const last = sessionRecord(rs[0]);
      if (rs.length !== 1 || !last.actor) throw new ClaimsError('a dormant-account row cites one use with an identity');
      return { issuer: last.actor.issuer, subject: last.actor.subject, resource: last.target.resource, lastUse: iso(last.occurredAt) };
    }
    case 'privileged-command': {
      const issued = need(rs[0], 'CommandIssued');
      const because = privilegedBecause(issued);
      if (because === null) throw new ClaimsError('the cited command is not privileged');
      let outcome: Json = null;
      let approval: Json = null;
      let requested: ApprovalRequested | undefined;
      let decided: ApprovalDecided | undefined;
      for (const r of rs.slice(1)) {
        if (r.type === 'CommandBlocked' && r.sessionId === issued.sessionId && r.commandId === issued.commandId) outcome = `blocked: ${r.reason}`;
        else if (r.type === 'CommandCompleted' && r.sessionId === issued.sessionId && r.commandId === issued.commandId)
          outcome = r.outcome === 'ok' ? `completed: ${r.tag ?? 'ok'}` : `${r.outcome}: ${r.errorCode ?? ''} ${r.errorMessage ?? ''}`.trim();
        else if (r.type === 'ApprovalRequested' && r.sessionId === issued.sessionId && r.commandId === issued.commandId) requested = r;
        else if (r.type === 'ApprovalDecided' && requested && r.requestId === requested.requestId) decided = r;
        else throw new ClaimsError(`cited ${r.type} is not about command ${issued.commandId}`);
      }
      if (requested) approval = approvalClaims(requested, decided, ctx);
      return {
        sessionId: issued.sessionId,
        at: iso(issued.occurredAt),
        subject: issued.actor?.subject ?? null,
        resource: issued.target.resource,
        text: issued.text,
        classes: [...issued.classes],
        decision: issued.decision,
        ruleId: issued.ruleId,
        privilegedBecause: because,
        outcome,
        approval,
      };
    }
    case 'auth-failure':
      if (rs.length !== 1) throw new ClaimsError('an auth-failure row cites one entry');
      return authFailure(need(rs[0], 'AuthenticationFailed'));
    case 'event-type':
      if (rs.length !== 1) throw new ClaimsError('an event-type row cites the first entry of its type');
      return { type: rs[0].type, firstAt: iso(rs[0].occurredAt) };
    case 'field-completeness': {
      if (rs.length < 1 || rs.length > 2) throw new ClaimsError('a field-completeness row cites the first and last entry of the period');
      return { checkedFrom: iso(rs[0].occurredAt), checkedTo: iso(rs[rs.length - 1].occurredAt) };
    }
    case 'field-gap': {
      if (rs.length !== 1) throw new ClaimsError('a field-gap row cites one entry');
      const r = rs[0];
      const missing = AU3_FIELDS.filter((f) => au3Field(r, f.letter) === 'missing').map((f) => f.letter);
      return { eventId: r.eventId, type: r.type, at: iso(r.occurredAt), missing };
    }
    case 'approval-decision': {
      const requested = need(rs[0], 'ApprovalRequested');
      const decided = rs[1] === undefined ? undefined : need(rs[1], 'ApprovalDecided');
      if (rs.length > 2) throw new ClaimsError('an approval-decision row cites a request and its decision');
      return { ...approvalClaims(requested, decided, ctx), text: requested.text, commandDigest: commandDigest(requested.text) };
    }
    case 'feeder': {
      const first = sessionRecord(rs[0]);
      const last = sessionRecord(rs[rs.length - 1]);
      if (rs.length > 2 || first.feeder.id !== last.feeder.id || first.target.resource !== last.target.resource)
        throw new ClaimsError('a feeder row cites the first and last event of one feeder and target');
      return {
        feeder: first.feeder.id,
        version: last.feeder.version,
        resource: first.target.resource,
        targetKind: first.target.kind,
        firstEvent: iso(first.occurredAt),
        lastEvent: iso(last.occurredAt),
      };
    }
    case 'session-auth':
      if (rs.length !== 1) throw new ClaimsError('a session-auth row cites the session start');
      return sessionAuth(need(rs[0], 'SessionStarted'));
    case 'checkpoint':
      throw new ClaimsError('checkpoint rows rest on the chain, not on entries');
  }
}
