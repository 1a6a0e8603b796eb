import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeEvent, encodeEvent, exampleEvent, type Feeder, type Source, type Target } from '@affidavit/schemas';
import { authenticationFailedEvent, actorFromIdentity } from './audit-event.ts';
import { authenticationFailure } from './authentication-failure.ts';
import { identityFromClaims } from './identity.ts';

const source: Source = { address: '127.0.0.1', port: 50123, application: 'psql' };
const target: Target = { kind: 'postgres', resource: 'demo', host: '127.0.0.1', port: 5432, database: 'app', login: 'app' };
const feeder: Feeder = { id: 'pg-proxy-1', version: '0.1.0' };
const envelope = { eventId: '01890a5d-ac96-774b-bcce-b302099a8057', sessionId: '01890a5d-ac96-774b-bcce-b302099a8000', seq: 0, source, target, feeder };

test('authenticationFailedEvent builds an event the Avro codec round-trips', () => {
  const f = authenticationFailure('AFF_E_AUTH_TOKEN_EXPIRED', 'the access token has expired', 1_800_000_000_123, {
    iss: 'https://idp.test',
    sub: 'alice',
    jti: 'j-1',
  });
  const e = authenticationFailedEvent(f, envelope);
  assert.equal(e.type, 'AuthenticationFailed');
  assert.equal(e.occurredAt, 1_800_000_000_123_000, 'microseconds');
  assert.equal(e.actor, null);
  assert.deepEqual([e.code, e.claimedIssuer, e.claimedSubject, e.tokenId], ['AFF_E_AUTH_TOKEN_EXPIRED', 'https://idp.test', 'alice', 'j-1']);
  assert.deepEqual(structuredClone(decodeEvent(encodeEvent(e))), e, 'decoded equals the original');
});

test('absent claimed values become null (a token too large or malformed to decode)', () => {
  const e = authenticationFailedEvent(authenticationFailure('AFF_E_AUTH_TOO_LARGE', 'too large', 1000), envelope);
  assert.deepEqual([e.claimedIssuer, e.claimedSubject, e.tokenId], [null, null, null]);
  assert.deepEqual(structuredClone(decodeEvent(encodeEvent(e))), e, 'decoded equals the original');
});

test('actorFromIdentity fills the Actor record of SessionStarted', () => {
  const id = identityFromClaims({ iss: 'https://idp.test', sub: 'bob', exp: 2_000_000_000, groups: ['dba'], amr: ['pwd', 'otp'], jti: 't' }, 'groups');
  const actor = actorFromIdentity(id);
  assert.deepEqual(actor, {
    issuer: 'https://idp.test',
    subject: 'bob',
    email: null,
    groups: ['dba'],
    authMethods: ['pwd', 'otp'],
    acr: null,
    mfa: true,
    tokenId: 't',
  });
  const started = exampleEvent('SessionStarted', { actor });
  assert.deepEqual(structuredClone(decodeEvent(encodeEvent(started))), started, 'decoded equals the original');
});
