// Token attacks on the API through the access core's real verifier (jose): each one is HTTP 401
// with the verifier's code, and an AuthenticationFailed event is published for it.
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { createTokenVerifier, TokenExpiredError, type EventSink } from '@affidavit/access';
import { decodeEvent, type AuthenticationFailed } from '@affidavit/schemas';
import { fakeClock, fakeIssuer, hmacWithPublicKey, makeKey, sign, unsignedToken, type TestKey } from '../../../../proxies/access/src/identity/test-support.ts';
import { openSqliteReadModel } from '../adapters/sqlite/sqlite-read-model.ts';
import { buildServer } from '../server.ts';
import { eventSinkAuthFailureRecorder } from './auth-failure-recorder.ts';
import { DEFAULT_RECORD_PER_MINUTE } from './auth-plugin.ts';

const ISS = 'https://idp.example.test';
const AUD = 'affidavit-api';
const T0 = 1_800_000_000_000;
const S0 = T0 / 1000;
const claims = (over: Record<string, unknown> = {}) => ({
  iss: ISS,
  aud: AUD,
  sub: 'olivia',
  groups: ['auditor'],
  exp: S0 + 600,
  iat: S0,
  jti: 'jti-1',
  ...over,
});

let key: TestKey;
let app: FastifyInstance;
const published: AuthenticationFailed[] = [];
const headers: Array<Record<string, string> | undefined> = [];
const sink: EventSink = {
  publish: async (events) => {
    published.push(...events.map((e) => decodeEvent(e.value) as AuthenticationFailed));
    headers.push(...events.map((e) => e.headers));
  },
};
const store = openSqliteReadModel({ path: ':memory:' });

before(async () => {
  key = await makeKey('RS256');
  const clock = fakeClock(T0);
  const idp = fakeIssuer(ISS, [key.publicJwk]);
  const verifier = createTokenVerifier({ issuer: ISS, audience: AUD }, { clock, fetchJson: idp.fetchJson });
  app = await buildServer(
    {},
    {
      verify: (t) => verifier.verify(t),
      store,
      clock,
      recorder: eventSinkAuthFailureRecorder(sink, { feeder: { id: 'api-1', version: '0.1.0' }, resource: 'api', host: '127.0.0.1', port: 8443, clock }),
    },
  );
});
after(async () => {
  await app.close();
  store.close();
});

async function call(token: string) {
  const res = await app.inject({
    method: 'POST',
    url: '/graphql',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    payload: '{"query":"{ me { subject } }"}',
  });
  return { status: res.statusCode, body: JSON.parse(res.body) as { data?: { me: { subject: string } }; errors?: Array<{ extensions: { code: string } }> } };
}

test('a valid token is accepted (the attacks below are refused for what they are, not by accident)', async () => {
  const r = await call(await sign(key, claims()));
  assert.equal(r.status, 200);
  assert.equal(r.body.data?.me.subject, 'olivia');
});

const attacks: Array<[string, () => Promise<string>, string]> = [
  ['alg none', async () => unsignedToken(claims(), { kid: key.kid }), 'AFF_E_AUTH_ALG_NOT_ALLOWED'],
  [
    'HS256 signed with the RSA public key (key confusion)',
    async () =>
      hmacWithPublicKey(
        claims(),
        createPublicKey({ key: key.publicJwk as never, format: 'jwk' })
          .export({ type: 'spki', format: 'pem' })
          .toString(),
        { kid: key.kid },
      ),
    'AFF_E_AUTH_ALG_NOT_ALLOWED',
  ],
  ['expired', () => sign(key, claims({ exp: S0 - 3600, iat: S0 - 7200 })), 'AFF_E_AUTH_TOKEN_EXPIRED'],
  ['wrong audience', () => sign(key, claims({ aud: 'some-other-service' })), 'AFF_E_AUTH_WRONG_AUDIENCE'],
  ['unknown kid', async () => sign(await makeKey('RS256', 'rotated-away'), claims()), 'AFF_E_AUTH_UNKNOWN_KID'],
];

for (const [name, forge, code] of attacks) {
  test(`${name}: 401 ${code} and an AuthenticationFailed event`, async () => {
    const before = published.length;
    const r = await call(await forge());
    assert.equal(r.status, 401);
    assert.equal(r.body.errors?.[0].extensions.code, code);
    assert.equal(r.body.data, undefined);
    assert.equal(published.length, before + 1);
    const e = published.at(-1)!;
    assert.equal(e.type, 'AuthenticationFailed');
    assert.equal(e.code, code);
    assert.equal(e.claimedSubject, 'olivia');
    assert.equal(e.actor, null);
    assert.equal(e.source.address, '127.0.0.1');
    // The durable sinks acknowledge by these headers (the embedded one waits for the ledger to
    // hold this eventId): without them every refusal hung until the sink's timeout.
    assert.deepEqual(headers.at(-1), { type: 'AuthenticationFailed', eventId: e.eventId });
  });
}

test('a request with no token is 401 but records nothing (not an attack on a token)', async () => {
  const before = published.length;
  const res = await app.inject({ method: 'POST', url: '/graphql', headers: { 'content-type': 'application/json' }, payload: '{"query":"{ me { subject } }"}' });
  assert.equal(res.statusCode, 401);
  assert.equal(published.length, before);
});

test('a flood of bad tokens from one address is refused every time but recorded only up to the per-minute budget', async () => {
  const clock = fakeClock(T0);
  const seen: string[] = [];
  const flood = await buildServer(
    {},
    {
      verify: async () => {
        throw new TokenExpiredError();
      },
      store,
      clock,
      recorder: (f) => void seen.push(f.code),
    },
  );
  // recordPerMinute is the auth plugin's; buildServer uses the default budget.
  try {
    const statuses: number[] = [];
    for (let i = 0; i < DEFAULT_RECORD_PER_MINUTE + 5; i++) {
      statuses.push((await flood.inject({ method: 'POST', url: '/graphql', headers: { authorization: 'Bearer x.y.z' }, payload: {} })).statusCode);
    }
    assert.ok(statuses.every((c) => c === 401));
    assert.equal(seen.length, DEFAULT_RECORD_PER_MINUTE);
    clock.advance(60_000);
    await flood.inject({ method: 'POST', url: '/graphql', headers: { authorization: 'Bearer x.y.z' }, payload: {} });
    assert.equal(seen.length, DEFAULT_RECORD_PER_MINUTE + 1, 'a new minute, a new budget');
  } finally {
    await flood.close();
  }
});
