// Builders from identity results to the event contract's generated types (schemas/). Pure:
// the event id and envelope come from the caller, so the proxy's recorder owns ids and seq.
import type { Actor, AuthenticationFailed } from '@affidavit/schemas';
import type { AuthenticationFailure } from './authentication-failure.ts';
import type { Identity } from './identity.ts';

/** EnvelopeParts are the envelope fields the session (not the verifier) knows. */
export type EnvelopeParts = Pick<AuthenticationFailed, 'eventId' | 'sessionId' | 'seq' | 'source' | 'target' | 'feeder'>;

/**
 * authenticationFailedEvent builds the AuthenticationFailed event for a refused token.
 * `actor` is always null: nobody was authenticated. `occurredAt` is the failure's time in
 * microseconds, as the envelope's timestamp-micros requires.
 */
export function authenticationFailedEvent(failure: AuthenticationFailure, envelope: EnvelopeParts): AuthenticationFailed {
  return {
    eventId: envelope.eventId,
    type: 'AuthenticationFailed',
    occurredAt: failure.at * 1000,
    sessionId: envelope.sessionId,
    seq: envelope.seq,
    actor: null,
    source: envelope.source,
    target: envelope.target,
    feeder: envelope.feeder,
    code: failure.code,
    reason: failure.reason,
    claimedIssuer: failure.claimedIssuer ?? null,
    claimedSubject: failure.claimedSubject ?? null,
    tokenId: failure.tokenId ?? null,
  };
}

/** actorFromIdentity maps a verified Identity onto the events' Actor record. */
export function actorFromIdentity(identity: Identity): Actor {
  return {
    issuer: identity.issuer,
    subject: identity.subject,
    email: identity.email ?? null,
    groups: [...identity.groups],
    authMethods: [...identity.amr],
    acr: identity.acr ?? null,
    mfa: identity.mfa,
    tokenId: identity.tokenId ?? null,
  };
}
