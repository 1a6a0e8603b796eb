// e2e: `affidavit siem run` publishes a real ledger to Kafka, and kcat (librdkafka, no Affidavit
// code on the reading side) reads the topic as a SIEM's Kafka input would: one OCSF object per
// ledger entry, unique metadata.uid, the right class per event type, keyed by session, each
// valid against the compiled OCSF 1.5.0 schema. A second run publishes nothing new.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateEd25519NoteKey } from '@affidavit/tlog';
import { ensureKafka, uniqueTopic } from '../../../../test/services/kafka.ts';
import { findKcat, kcatConsume } from '../../../../test/services/kcat.ts';
import { writeFixtureLedger, type FixtureLedger } from '../ledger.fixture.ts';
import { loadOcsfSchema } from '../ocsf-schema-file.ts';
import { ocsfValidator } from '../ocsf/validate-ocsf.ts';

const root = join(import.meta.dirname, '..', '..', '..', '..');
const cli = (...args: string[]) =>
  spawnSync(process.execPath, [join(root, 'services/cli/src/main.ts'), ...args], { cwd: root, encoding: 'utf8', timeout: 180_000, maxBuffer: 64 << 20 });

const CLASS: Record<string, number> = {
  SessionStarted: 3002,
  AuthenticationFailed: 3002,
  SessionEnded: 3002,
  CommandIssued: 6005,
  CommandCompleted: 6005,
  CommandBlocked: 6005,
  ApprovalRequested: 6005,
  ApprovalDecided: 6005,
  ApprovalRefused: 6005,
  DataMasked: 6005,
  ResultCaptured: 6005,
  MaskedValueOpened: 6005,
  TerminalOutput: 4007,
  InputRejected: 0,
};

let bootstrap: string;
let dir: string;
let fixture: FixtureLedger;
before(async () => {
  assert.ok(findKcat(), 'kcat must be installed (Debian package kcat)');
  ({ bootstrap } = await ensureKafka());
  dir = mkdtempSync(join(tmpdir(), 'aff-siem-e2e-'));
  fixture = await writeFixtureLedger(dir, { sessions: 6, rounds: 3, partitions: 3, checkpointEvery: 25 });
});

test('kcat reads one valid OCSF object per ledger entry from the topic affidavit siem run wrote', { timeout: 5 * 60_000 }, async () => {
  const topic = uniqueTopic('e2e-siem');
  const run = cli('siem', 'run', '--data', dir, '--brokers', bootstrap, '--topic', topic, '--once');
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stderr, new RegExp(`published ${fixture.entries} OCSF object`));
  assert.ok(existsSync(join(dir, 'siem-position.json')), 'the position is kept in the data folder');
  assert.ok(!existsSync(join(dir, 'siem-position.json.lock')), 'the lock is released at exit');

  const read = await kcatConsume({ bootstrap, topic, count: fixture.entries, timeoutMs: 60_000 });
  assert.equal(read.length, fixture.entries, 'count = ledger entries');
  const validator = ocsfValidator(loadOcsfSchema());
  const uids = new Set<string>();
  const classesSeen = new Set<number>();
  for (const r of read) {
    assert.ok(r.value && r.key);
    const ev = JSON.parse(r.value.toString('utf8'));
    assert.deepEqual(validator.validate(ev), [], r.value.toString('utf8').slice(0, 300));
    assert.ok(!uids.has(ev.metadata.uid), `uid ${ev.metadata.uid} appears once`);
    uids.add(ev.metadata.uid);
    assert.equal(ev.class_uid, CLASS[ev.metadata.event_code], `${ev.metadata.event_code} is class ${CLASS[ev.metadata.event_code]}`);
    classesSeen.add(ev.class_uid);
    const aff = ev.unmapped.affidavit;
    assert.equal(r.key.toString('utf8'), ev.class_uid === 0 ? `ledger:${aff.ledger.log}` : aff.session_id, 'keyed by session');
    assert.ok(aff.checkpoint.size > aff.ledger.index, 'a covering checkpoint is named');
    assert.ok(aff.checkpoint.origin.startsWith('siem.test/'));
  }
  for (const id of fixture.eventIds) assert.ok(uids.has(id), `event ${id} on the topic`);
  assert.deepEqual(
    [...classesSeen].sort((a, b) => a - b),
    [0, 3002, 4007, 6005],
  );

  // Run again: the position says everything is out; nothing is published twice.
  const again = cli('siem', 'run', '--data', dir, '--brokers', bootstrap, '--topic', topic, '--once');
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stderr, /published 0 OCSF object/);
  const reread = await kcatConsume({ bootstrap, topic, count: fixture.entries + 1, timeoutMs: 30_000 });
  assert.equal(reread.length, fixture.entries, 'still one object per entry');

  // The position names the topic it belongs to: another topic with it is refused, exit 3.
  const other = cli('siem', 'run', '--data', dir, '--brokers', bootstrap, '--topic', uniqueTopic('e2e-siem-other'), '--once');
  assert.equal(other.status, 3);
  assert.match(other.stderr, /AFF_E_SIEM_POSITION_MISMATCH/);
  assert.equal(JSON.parse(readFileSync(join(dir, 'siem-position.json'), 'utf8')).topic, topic);
});

test('affidavit siem run explains its usage errors with exit 2', () => {
  const missing = cli('siem', 'run', '--data', dir);
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /--brokers is required/);
  const noKey = cli('siem', 'run', '--store', fixture.path, '--brokers', bootstrap);
  assert.equal(noKey.status, 2);
  assert.match(noKey.stderr, /--key is required with --store/);
  const help = cli('siem', 'run', '--help');
  assert.equal(help.status, 0);
  assert.match(help.stdout, /Exit codes: 0 stopped cleanly/);
});

test('affidavit siem run follows until SIGTERM, then exits 0 with its position committed', { timeout: 5 * 60_000 }, async () => {
  const liveDir = mkdtempSync(join(tmpdir(), 'aff-siem-e2e-live-'));
  const live = await writeFixtureLedger(liveDir, { sessions: 2, rounds: 1, partitions: 1, checkpointEvery: 10 });
  const topic = uniqueTopic('e2e-siem-live');
  const child = spawn(process.execPath, [join(root, 'services/cli/src/main.ts'), 'siem', 'run', '--data', liveDir, '--brokers', bootstrap, '--topic', topic], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  const running = Promise.withResolvers<void>();
  child.stderr.on('data', (d) => {
    stderr += d;
    if (stderr.includes('siem projector running')) running.resolve();
  });
  child.once('exit', () => running.reject(new Error(`siem run exited early: ${stderr}`)));
  let code: number | null;
  try {
    // The topic exists once the projector says it runs.
    await running.promise;
    const read = await kcatConsume({ bootstrap, topic, count: live.entries, timeoutMs: 120_000 });
    assert.equal(read.length, live.entries);
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      [code] = (await exited) as [number | null];
    } else code = child.exitCode;
  }
  assert.equal(code, 0, stderr);
  const pos = JSON.parse(readFileSync(join(liveDir, 'siem-position.json'), 'utf8'));
  assert.equal(
    Object.values(pos.logs as Record<string, number>).reduce((a, b) => a + b, 0),
    live.entries,
  );
  assert.ok(!existsSync(join(liveDir, 'siem-position.json.lock')), 'the lock is released');
});

test('a checkpoint not signed by the ledger key stops siem run with exit 3 before anything is published', { timeout: 5 * 60_000 }, async () => {
  const other = generateEd25519NoteKey('siem.test', (n) => randomBytes(n));
  const keyFile = join(dir, 'other.pub');
  writeFileSync(keyFile, `${other.verifierKey}\n`);
  const topic = uniqueTopic('e2e-siem-forged');
  const run = cli(
    'siem',
    'run',
    '--data',
    dir,
    '--brokers',
    bootstrap,
    '--topic',
    topic,
    '--position',
    join(dir, 'forged-position.json'),
    '--key',
    keyFile,
    '--once',
  );
  assert.equal(run.status, 3, run.stderr);
  assert.match(run.stderr, /AFF_E_SIEM_CHECKPOINT_UNVERIFIED/);
  const read = await kcatConsume({ bootstrap, topic, count: 1, timeoutMs: 15_000 }).catch(() => []);
  assert.equal(read.length, 0, 'nothing was published');
});
