// The sshd harness itself, checked with the real ssh client: a key login runs a command,
// a key that is not authorized is refused, and stop leaves nothing behind.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { startSshd, type SshdInstance } from './sshd.ts';

let sshd: SshdInstance;
before(async () => {
  sshd = await startSshd();
});
after(() => sshd?.stop());

test('real ssh runs echo through sshd with the authorized key', async () => {
  const word = `affidavit-${process.pid}`;
  const r = await sshd.ssh(`echo ${word}; echo "$USER" >&2`);
  assert.equal(r.code, 0, `${r.stderr}\n${sshd.log()}`);
  assert.equal(r.stdout, `${word}\n`);
  assert.equal(r.stderr.trim(), sshd.user);
});

test('a key that is not in authorized_keys is refused', async () => {
  const stranger = await sshd.newKey('stranger');
  const r = await sshd.ssh('echo should-not-run', { identityFile: stranger.privateKeyFile });
  assert.equal(r.code, 255);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /Permission denied \(publickey\)/);
});

test('a user certificate signed by a trusted CA logs in; stop removes the dir', async () => {
  const ca = await sshd.newKey('user-ca');
  const userKey = await sshd.newKey('cert-user');
  const { execFileSync } = await import('node:child_process');
  execFileSync('ssh-keygen', ['-q', '-s', ca.privateKeyFile, '-I', 'test-cert', '-n', sshd.user, '-V', '-5m:+5m', userKey.publicKeyFile]);
  const certSshd = await startSshd({ authorizeClientKey: false, trustedUserCaKeys: [ca.publicKey] });
  try {
    const withCert = await certSshd.ssh('echo cert-ok', {
      identityFile: userKey.privateKeyFile,
      certificateFile: `${userKey.privateKeyFile}-cert.pub`,
    });
    assert.equal(withCert.code, 0, `${withCert.stderr}\n${certSshd.log()}`);
    assert.equal(withCert.stdout, 'cert-ok\n');
    const plainKey = await certSshd.ssh('echo no');
    assert.equal(plainKey.code, 255, 'an uncertified key must not log in when only the CA is trusted');
  } finally {
    await certSshd.stop();
  }
  assert.equal(existsSync(certSshd.dir), false);
});
