import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createScramServer, ScramRefused } from './demo-scram-server.ts';

// Test vector: RFC 7677 §3, https://www.rfc-editor.org/rfc/rfc7677#section-3 (user "user", password "pencil").
const V = {
  clientFirst: 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO',
  serverFirst: 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
  clientFinal: 'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
  serverFinal: 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
};
const server = (password = 'pencil') =>
  createScramServer({ password, salt: Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'), iterations: 4096, serverNonce: '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0' });

test('RFC 7677 §3 vector: server-first and server-final', () => {
  const s = server();
  assert.equal(s.serverFirst(V.clientFirst), V.serverFirst);
  assert.equal(s.serverFinal(V.clientFinal), V.serverFinal);
});

test('a proof made without the password, a changed nonce, channel binding and replays are refused', () => {
  const wrong = server('pencil2');
  wrong.serverFirst(V.clientFirst);
  assert.throws(() => wrong.serverFinal(V.clientFinal), ScramRefused);

  const nonce = server();
  nonce.serverFirst(V.clientFirst);
  assert.throws(() => nonce.serverFinal(V.clientFinal.replace('r=rOpr', 'r=xOpr')), /nonce mismatch/);

  assert.throws(() => server().serverFirst('p=tls-server-end-point,,n=user,r=abc'), /channel binding/);
  assert.throws(() => server().serverFirst('n,,r=abc'), /n and r are required/);

  const twice = server();
  twice.serverFirst(V.clientFirst);
  twice.serverFinal(V.clientFinal);
  assert.throws(() => twice.serverFinal(V.clientFinal), /out of order/);

  const bad = server();
  bad.serverFirst(V.clientFirst);
  assert.throws(() => bad.serverFinal(V.clientFinal.replace(/p=.*$/, 'p=AAAA')), /password authentication failed/);
});
