// Shared pieces of the distributed-mode end-to-end tests: each Affidavit part runs as its own OS
// process (`node services/cli/src/main.ts …`), configured by a YAML file, talking to a real Kafka
// broker, a real PostgreSQL server and a real OIDC provider on 127.0.0.1.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { createKafkaBus } from '@affidavit/bus';
import type { Bus } from '@affidavit/bus';
import { createLogger } from '@affidavit/common';
import { codec } from '@affidavit/schemas';
import type { SessionEvent } from '@affidavit/schemas';
import { uniqueTopic } from '../../services/kafka.ts';
import type { PostgresInstance } from '../../services/postgres.ts';

/** ROOT is the repository root; CLI is the `affidavit` entry point run with this Node. */
export const ROOT = join(import.meta.dirname, '..', '..', '..');
export const CLI = join(ROOT, 'services/cli/src/main.ts');

/** Child is a started Affidavit process and what it printed. */
export type Child = { readonly proc: ChildProcess; output(): string; readonly exited: Promise<number | string> };

/**
 * spawnAffidavit runs `affidavit ARGS` and resolves once its output shows `ready` (a regular
 * expression), or rejects with its output when it exits or stays silent for `timeoutMs`.
 */
export async function spawnAffidavit(args: readonly string[], ready: RegExp, opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<Child> {
  const proc = spawn(process.execPath, [CLI, ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, AFFIDAVIT_LOG_LEVEL: 'warn', ...opts.env },
  });
  let text = '';
  proc.stdout!.on('data', (d: Buffer) => (text = (text + d.toString()).slice(-256 * 1024)));
  proc.stderr!.on('data', (d: Buffer) => (text = (text + d.toString()).slice(-256 * 1024)));
  const exited = new Promise<number | string>((r) => proc.once('exit', (code, sig) => r(code ?? sig ?? -1)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`affidavit ${args.join(' ')} did not become ready: ${text}`)), opts.timeoutMs ?? 60_000);
    const check = () => {
      if (ready.test(text)) {
        clearTimeout(timer);
        resolve();
      }
    };
    proc.stderr!.on('data', check);
    proc.stdout!.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`affidavit ${args.join(' ')} exited ${code} before it was ready: ${text}`));
    });
  });
  return { proc, output: () => text, exited };
}

/** stopChild sends SIGTERM and waits for the exit (SIGKILL after `graceMs`); returns the exit code. */
export async function stopChild(c: Child, graceMs = 15_000): Promise<number | string> {
  if (c.proc.exitCode !== null || c.proc.signalCode !== null) return c.exited;
  c.proc.kill('SIGTERM');
  const t = setTimeout(() => c.proc.kill('SIGKILL'), graceMs);
  const code = await c.exited;
  clearTimeout(t);
  return code;
}

/** ProxyConfigInput is what a test varies in a proxy's YAML. */
export type ProxyConfigInput = {
  id: string;
  brokers: string;
  topic: string;
  port: number;
  pg: PostgresInstance;
  issuer: string;
  audience: string;
  policyFile: string;
  maskingKeyFile: string;
  decisionKeyFiles: string[];
  mode?: 'sync' | 'async';
  maxConnectionsPerIdentity?: number;
};

/** writeProxyConfig writes a `proxy postgres` YAML in `dir` and returns its path. */
export function writeProxyConfig(dir: string, c: ProxyConfigInput): string {
  const file = join(dir, `${c.id}.yaml`);
  writeFileSync(
    file,
    stringify({
      id: c.id,
      kafka: { brokers: [c.brokers], topic: c.topic },
      listen: { host: '127.0.0.1', port: c.port },
      tls: { certFile: join(c.pg.dir, 'tls', 'server.crt'), keyFile: join(c.pg.dir, 'tls', 'server.key') },
      resource: 'app',
      upstream: { host: c.pg.host, port: c.pg.port, user: c.pg.user, database: c.pg.database, caFile: c.pg.caFile },
      oidc: { issuer: c.issuer, audience: c.audience },
      policyFile: c.policyFile,
      recording: { mode: c.mode ?? 'sync' },
      approvals: { timeoutSeconds: 60, decisionKeyFiles: c.decisionKeyFiles },
      masking: { keyFile: c.maskingKeyFile },
      limits: { maxConnectionsPerIdentity: c.maxConnectionsPerIdentity ?? 20, maxConnections: 200 },
    }),
  );
  return file;
}

/** quiet is the logger of the tests' own Kafka clients: a broker stopped on purpose is not news. */
export const quiet = createLogger({ name: 'e2e', level: 'silent' });

/** TopicReader collects every event of a topic from the start, decoded, in arrival order. */
export type TopicReader = { readonly events: SessionEvent[]; close(): Promise<void> };

/** readTopic follows `topic` with a fresh consumer group. */
export async function readTopic(brokers: string, topic: string): Promise<TopicReader> {
  const bus: Bus = createKafkaBus({ brokers: [brokers], clientId: 'e2e-reader' }, { logger: quiet });
  const events: SessionEvent[] = [];
  const sub = await bus.subscribe({
    group: uniqueTopic('e2e-reader'),
    topics: [topic],
    handler: async (batch) => {
      for (const r of batch.records) events.push(codec().decode(r.value) as SessionEvent);
    },
  });
  return {
    events,
    async close() {
      await sub.close();
      await bus.close();
    },
  };
}

/** until polls `f` every 200 ms until it returns a value other than undefined/false, or fails after `ms`. */
export async function until<T>(what: string, f: () => T | undefined | false | Promise<T | undefined | false>, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined && v !== false) return v as T;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
