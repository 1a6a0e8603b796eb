import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isAffidavitError } from '@affidavit/common';
import { createScramClient, randomScramNonce } from './scram-client.ts';

// Test vector: RFC 7677 §3 ("Test Vector"), https://www.rfc-editor.org/rfc/rfc7677#section-3
// user "user", password "pencil".
const RFC7677 = {
  clientFirst: 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO',
  serverFirst: 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
  clientFinal: 'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
  serverFinal: 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
};

const scram = () => createScramClient({ username: 'user', password: 'pencil', nonce: 'rOprNGfwEbeRWgbNEkqO' });
const isScram = (e: unknown) => isAffidavitError(e, 'AFF_E_PG_SCRAM_FAILED');

test('RFC 7677 §3 test vector: client-first, client-final proof, server signature', () => {
  const c = scram();
  assert.equal(c.clientFirst(), RFC7677.clientFirst);
  assert.equal(c.clientFinal(RFC7677.serverFirst), RFC7677.clientFinal);
  c.verifyServerFinal(RFC7677.serverFinal);
});

test('a wrong server signature, a server error and a foreign nonce are refused', () => {
  const c = scram();
  c.clientFirst();
  c.clientFinal(RFC7677.serverFirst);
  assert.throws(
    () => c.verifyServerFinal('v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='),
    (e) => isScram(e) && /signature mismatch/.test((e as Error).message),
  );

  const wrongPw = createScramClient({ username: 'user', password: 'pencil2', nonce: 'rOprNGfwEbeRWgbNEkqO' });
  wrongPw.clientFirst();
  assert.notEqual(wrongPw.clientFinal(RFC7677.serverFirst), RFC7677.clientFinal);
  assert.throws(() => wrongPw.verifyServerFinal(RFC7677.serverFinal), isScram);

  const e = scram();
  e.clientFirst();
  e.clientFinal(RFC7677.serverFirst);
  assert.throws(
    () => e.verifyServerFinal('e=invalid-proof'),
    (x) => isScram(x) && /invalid-proof/.test((x as Error).message),
  );

  const f = scram();
  f.clientFirst();
  assert.throws(
    () => f.clientFinal('r=someoneelse,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096'),
    (x) => isScram(x) && /nonce/.test((x as Error).message),
  );
});

test('malformed server-first messages and out-of-order calls are typed errors', () => {
  const bad = [
    'garbage',
    'r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==',
    'r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=0',
    'r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=99999999999',
    'r=rOprNGfwEbeRWgbNEkqOx,s=!!notbase64,i=4096',
    'm=ext,r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
  ];
  for (const s of bad) {
    const c = scram();
    c.clientFirst();
    assert.throws(() => c.clientFinal(s), isScram, s);
  }
  assert.throws(() => scram().clientFinal(RFC7677.serverFirst), isScram);
  assert.throws(() => scram().verifyServerFinal(RFC7677.serverFinal), isScram);
  assert.throws(() => createScramClient({ password: 'x', nonce: 'a,b' }), isScram);
});

test('the default user name is empty (PostgreSQL takes it from the startup packet) and nonces are fresh', () => {
  const n = randomScramNonce();
  assert.match(n, /^[A-Za-z0-9+/=]{24}$/);
  assert.notEqual(n, randomScramNonce());
  assert.equal(createScramClient({ password: 'p', nonce: n }).clientFirst(), `n,,n=,r=${n}`);
  assert.equal(createScramClient({ username: 'a=b,c', password: 'p', nonce: n }).clientFirst(), `n,,n=a=3Db=2Cc,r=${n}`);
});
