// The stage the embedded-mode e2e stories share: a real PostgreSQL (test/services), the embedded
// system in this process in front of it with its GraphQL API, a watcher of every session event,
// and the real `affidavit` binary run as a child process. Not a test file itself.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Subscription } from '@affidavit/bus';
import { createLogger, uuidv7 } from '@affidavit/common';
import { codec, TOPICS } from '@affidavit/schemas';
import type { LedgerRecord } from '@affidavit/schemas';
import { freePorts } from '../../../../test/services/free-port.ts';
import { startPostgres, stopPostgres } from '../../../../test/services/postgres.ts';
import type { PostgresInstance } from '../../../../test/services/postgres.ts';
import { loadConfig } from '../embedded/config.ts';
import { startEmbedded } from '../embedded/system.ts';
import type { EmbeddedSystem } from '../embedded/system.ts';

export const root = join(import.meta.dirname, '..', '..', '..', '..');
const node = join(root, 'node_modules', '.bin', 'node');
const main = join(root, 'services', 'cli', 'src', 'main.ts');

/** Run is what a finished `affidavit` process left: its exit code and output. */
export type Run = { code: number; stdout: string; stderr: string };

/** runCli runs the real `affidavit` binary (asynchronously: the system it talks to may run in this process). */
export function runCli(args: readonly string[], o: { cwd?: string; env?: Record<string, string> } = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      node,
      [main, ...args],
      { cwd: o.cwd ?? root, env: { ...process.env, AFFIDAVIT_CONFIG: '', ...o.env }, encoding: 'utf8', maxBuffer: 64 << 20 },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** until polls `f` every 100 ms until it returns a value, failing after `ms`. */
export async function until<T>(f: () => T | undefined | Promise<T | undefined>, what: string, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export type StoryOptions = {
  /** name tags the temp folder, the ledger origin and the watcher's group. */
  readonly name: string;
  /** setupSql prepares the upstream database before the system starts. */
  readonly setupSql: string;
  /** issuerUsers replaces the development issuer's users (groups per user). */
  readonly issuerUsers?: Record<string, { groups: string[] }>;
  readonly approvalTimeoutSeconds?: number;
  /** beforeStart runs once the config is written, before the system starts (e.g. to plant old files). */
  readonly beforeStart?: (dir: string) => void;
};

/** Story is a running stage; `seen` collects every session event in bus order. */
export type Story = {
  readonly pg: PostgresInstance;
  readonly system: EmbeddedSystem;
  readonly dir: string;
  readonly dataDir: string;
  readonly configFile: string;
  readonly seen: LedgerRecord[];
  /** token mints a development token for `user` through the real CLI. */
  token(user: string): Promise<string>;
  /** stopSystem stops the watcher and the embedded system (once), leaving PostgreSQL up. */
  stopSystem(): Promise<void>;
  stop(): Promise<void>;
};

/** startStory starts PostgreSQL, the embedded system (proxy, ledger, API) and the event watcher. */
export async function startStory(o: StoryOptions): Promise<Story> {
  const pg = await startPostgres();
  const setup = await pg.psql(['-c', o.setupSql]);
  assert.equal(setup.code, 0, setup.stderr);
  const dir = mkdtempSync(join(tmpdir(), `aff-${o.name}-`));
  const dataDir = join(dir, 'data');
  const [pgPort, issuerPort, apiPort] = await freePorts(3);
  const configFile = join(dir, 'affidavit.yaml');
  writeFileSync(
    configFile,
    JSON.stringify({
      dataDir,
      logLevel: 'warn',
      issuer: { port: issuerPort, ...(o.issuerUsers ? { users: o.issuerUsers } : {}) },
      postgres: {
        port: pgPort,
        resource: 'e2e',
        approvalTimeoutSeconds: o.approvalTimeoutSeconds ?? 60,
        upstream: { kind: 'external', host: pg.host, port: pg.port, user: pg.user, password: pg.password, database: pg.database, caFile: pg.caFile },
      },
      policyFile: join(root, 'test', 'e2e', 'postgres', 'fixtures', 'e2e.policy.yaml'),
      ledger: { origin: `affidavit.test/${o.name}`, checkpointEveryEntries: 100, checkpointEveryMs: 200 },
      api: { port: apiPort },
    }),
  );
  o.beforeStart?.(dir);
  let system: EmbeddedSystem | undefined;
  let sub: Subscription | undefined;
  let stopping: Promise<void> | undefined;
  const stopSystem = () => {
    stopping ??= (async () => {
      await sub?.close();
      await system?.stop();
    })();
    return stopping;
  };
  const stop = async () => {
    await stopSystem();
    await stopPostgres();
  };
  try {
    system = await startEmbedded(loadConfig({ file: configFile, cwd: dir, env: {} }), createLogger({ name: `${o.name}-e2e`, level: 'warn' }));
    const seen: LedgerRecord[] = [];
    sub = await system.bus.subscribe({
      group: `${o.name}-watch-${uuidv7()}`,
      topics: [TOPICS.sessionEvents],
      handler: async (batch) => {
        for (const r of batch.records) seen.push(codec().decode(r.value));
      },
    });
    const token = async (user: string) => (await runCli(['token', user, '--config', configFile])).stdout.trim();
    return { pg, system, dir, dataDir, configFile, seen, token, stopSystem, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
