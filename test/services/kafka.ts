// Real Apache Kafka for tests: jars from Maven Central, KRaft single node on 127.0.0.1.
//
// Version: Kafka 4.3.1 (KAFKA_VERSION), not 3.9.x. Kafka 4 dropped ZooKeeper and old
// protocol versions (KIP-896), and kafkajs 2.2.4 (unmaintained since 2023) speaks only
// classic protocol versions. 4.x was chosen only after checking kafkajs 2.2.4 against it end
// to end: idempotent produce with acks=all, fetch, and consumer groups (join, sync,
// heartbeat, leave, rebalance when a member joins or leaves, offset commit, seek) all work:
// the whole bus contract (packages/bus/src/adapters/kafka/kafka-bus.int.test.ts) passes
// against it. The newest broker is what a new deployment runs, so that is what tests should
// meet. If a kafkajs or Kafka upgrade breaks that, fall back to 3.9.2 (the pom and the
// StorageTool/kafka.Kafka class names are the same; 3.9 also pulls reload4j).
//
// Layout: jars are fetched once with `mvn dependency:copy-dependencies` (pom in ./kafka/) into
// <repo>/.cache/kafka/libs (git-ignored); a stamp file there records the version. Each broker
// gets a temp dir (server.properties + data) that stop() removes.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { freePorts, LOOPBACK } from './free-port.ts';
import { detachFromEventLoop, onExitCleanup, startProcess, stopProcess, waitFor, type ServiceProcess } from './process.ts';

const run = promisify(execFile);

/** KAFKA_VERSION is the Apache Kafka release the harness fetches and runs. */
export const KAFKA_VERSION = '4.3.1';

/** KAFKA_ENV names the environment variable holding the bootstrap address of an already running broker to reuse. */
export const KAFKA_ENV = 'AFFIDAVIT_TEST_KAFKA';

const repoRoot = join(import.meta.dirname, '..', '..');
const templateDir = join(import.meta.dirname, 'kafka');

/** KAFKA_LIBS_DIR is where the broker and tools jars are cached (under the git-ignored .cache/). */
export const KAFKA_LIBS_DIR = join(repoRoot, '.cache', 'kafka', 'libs');

/** JAVA is the Java 17+ runtime used to run the broker and Kafka's tools. */
export const JAVA = process.env.JAVA ?? '/usr/bin/java';

/** KafkaBroker is one running test broker. */
export type KafkaBroker = {
  /** bootstrap is "127.0.0.1:port" for clients (kafkajs `brokers: [bootstrap]`, kcat `-b`). */
  readonly bootstrap: string;
  readonly port: number;
  readonly version: string;
  /** pid is the broker JVM's process id. */
  readonly pid: number;
  /** dir is the broker's temp dir (server.properties, data/); removed by stop(). */
  readonly dir: string;
  /** output returns the tail of the broker's stdout/stderr. */
  output(): string;
  /** detach lets this process exit while the broker runs (the shared broker is killed by an exit hook instead). */
  detach(): void;
  /** stop sends SIGTERM, SIGKILL after a bound, and removes the temp dir. Safe to call twice. */
  stop(): Promise<void>;
};

/** StartKafkaOptions tunes one broker start. */
export type StartKafkaOptions = {
  /** readyTimeoutMs bounds the wait for the broker to answer metadata requests. Default 90 s (a cold JVM on 2 cores). */
  readyTimeoutMs?: number;
  /** heap is the JVM -Xmx value. Default "512m". */
  heap?: string;
};

/**
 * kafkaClasspath returns the `-cp` value for the cached Kafka jars, fetching them first
 * when the cache is empty or holds another version. Concurrent callers (parallel test
 * files) are serialised with flock(1) so Maven runs once.
 */
export async function kafkaClasspath(): Promise<string> {
  const stamp = join(KAFKA_LIBS_DIR, '.version');
  const ready = () => existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === KAFKA_VERSION;
  if (!ready()) {
    mkdirSync(join(repoRoot, '.cache', 'kafka'), { recursive: true });
    const lock = join(repoRoot, '.cache', 'kafka', '.lock');
    // The script re-checks under the lock, fetches into a fresh dir and renames it into place,
    // so a reader never sees a half-filled libs dir.
    const staging = `${KAFKA_LIBS_DIR}.staging-${process.pid}`;
    const script = [
      'set -e',
      `[ -f "${stamp}" ] && [ "$(cat "${stamp}")" = "${KAFKA_VERSION}" ] && exit 0`,
      `rm -rf "${staging}"`,
      `mvn -q -B -f "${join(templateDir, 'pom.xml')}" dependency:copy-dependencies -DincludeScope=runtime -Dkafka.version=${KAFKA_VERSION} -DoutputDirectory="${staging}"`,
      `echo ${KAFKA_VERSION} > "${staging}/.version"`,
      `rm -rf "${KAFKA_LIBS_DIR}"`,
      `mv "${staging}" "${KAFKA_LIBS_DIR}"`,
    ].join('\n');
    try {
      await run('flock', [lock, 'sh', '-c', script], { timeout: 600_000, maxBuffer: 16 * 1024 * 1024 });
    } catch (e) {
      const err = e as { stdout?: string; stderr?: string; message: string };
      throw new Error(`fetching Kafka ${KAFKA_VERSION} jars with Maven failed: ${err.message}\n${err.stdout ?? ''}${err.stderr ?? ''}`);
    }
    if (!ready()) throw new Error(`Kafka jars missing in ${KAFKA_LIBS_DIR} after Maven ran`);
  }
  return `${KAFKA_LIBS_DIR}/*`;
}

/** kafkaJavaArgs returns the JVM arguments shared by the broker and Kafka's command-line tools. */
export function kafkaJavaArgs(classpath: string, heap = '512m'): string[] {
  return [
    `-Xmx${heap}`,
    '-Xms128m',
    '-XX:+UseG1GC',
    '-Djava.awt.headless=true',
    `-Dlog4j2.configurationFile=${join(templateDir, 'log4j2.properties')}`,
    '-cp',
    classpath,
  ];
}

/** clusterId makes a KRaft cluster id: 16 random bytes, base64url without padding (Kafka's Uuid text form). */
function clusterId(): string {
  return randomBytes(16).toString('base64url');
}

function render(template: string, vars: Record<string, string | number>): string {
  return template.replace(/\$\{([A-Z_]+)\}/g, (m, k: string) => (k in vars ? String(vars[k]) : m));
}

/** kafkaReady resolves true when the broker at `bootstrap` answers a metadata request and names itself as controller. */
export async function kafkaReady(bootstrap: string): Promise<boolean> {
  const admin = new Kafka({
    clientId: 'affidavit-test-ready',
    brokers: [bootstrap],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1000,
    requestTimeout: 2000,
    retry: { retries: 0 },
  }).admin();
  try {
    await admin.connect();
    const c = await admin.describeCluster();
    return c.brokers.length > 0 && c.controller !== null;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/**
 * launchKafka starts a NEW broker every call (use startKafka() for the shared one):
 * formats KRaft storage in a temp dir, starts `kafka.Kafka` on free 127.0.0.1 ports and
 * waits until it answers metadata requests. It retries with fresh ports when start-up
 * fails (a port taken between choosing and binding). The caller MUST call stop().
 */
export async function launchKafka(opts: StartKafkaOptions = {}): Promise<KafkaBroker> {
  const classpath = await kafkaClasspath();
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await launchOnce(classpath, opts);
    } catch (e) {
      lastError = e;
    }
  }
  throw lastError;
}

async function launchOnce(classpath: string, opts: StartKafkaOptions): Promise<KafkaBroker> {
  const dir = mkdtempSync(join(tmpdir(), 'affidavit-kafka-'));
  let proc: ServiceProcess | undefined;
  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      if (proc) await stopProcess(proc, 15_000);
      rmSync(dir, { recursive: true, force: true });
    })());
  try {
    const [port, controllerPort] = await freePorts(2);
    const props = join(dir, 'server.properties');
    writeFileSync(
      props,
      render(readFileSync(join(templateDir, 'server.properties.template'), 'utf8'), {
        BROKER_PORT: port,
        CONTROLLER_PORT: controllerPort,
        LOG_DIR: join(dir, 'data'),
      }),
    );
    const java = kafkaJavaArgs(classpath, opts.heap ?? '256m');
    // Formatting is a short-lived JVM: a small heap is plenty.
    await run(JAVA, [...java, 'kafka.tools.StorageTool', 'format', '-t', clusterId(), '-c', props], { timeout: 120_000 }).catch((e) => {
      throw new Error(`kafka storage format failed: ${(e as Error).message}\n${(e as { stdout?: string }).stdout ?? ''}`);
    });
    proc = startProcess(JAVA, [...kafkaJavaArgs(classpath, opts.heap ?? '512m'), 'kafka.Kafka', props], { cwd: dir });
    const bootstrap = `${LOOPBACK}:${port}`;
    await waitFor(`kafka ${KAFKA_VERSION} at ${bootstrap}`, () => kafkaReady(bootstrap), {
      timeoutMs: opts.readyTimeoutMs ?? 90_000,
      intervalMs: 500,
      process: proc,
    });
    const p = proc;
    return Object.freeze({
      bootstrap,
      port,
      version: KAFKA_VERSION,
      pid: p.child.pid ?? -1,
      dir,
      output: () => p.output(),
      detach: () => detachFromEventLoop(p),
      stop,
    });
  } catch (e) {
    await stop();
    throw e;
  }
}

let shared: Promise<KafkaBroker> | undefined;

/**
 * startKafka returns the shared broker of this process, starting it on the first call.
 * It is idempotent: later (or concurrent) calls return the same running broker. A
 * failed start is not cached, so the next call tries again. The broker is killed and its
 * temp dir removed when the process exits.
 */
export function startKafka(opts: StartKafkaOptions = {}): Promise<KafkaBroker> {
  if (!shared) {
    shared = launchKafka(opts).then((b) => {
      // Tests never stop the shared broker themselves: the process may end while it runs,
      // and the exit hook kills it.
      b.detach();
      onExitCleanup(() => {
        // 'exit' handlers cannot await: kill hard and remove the dir synchronously.
        const pid = b.pid;
        if (pid > 0) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }
        // The JVM may still be writing while the kill lands: retry on ENOTEMPTY.
        rmSync(b.dir, { recursive: true, force: true, maxRetries: 20, retryDelay: 50 });
      });
      return b;
    });
    shared.catch(() => (shared = undefined));
  }
  return shared;
}

/** stopKafka stops the shared broker if one was started; the next startKafka() starts a new one. */
export async function stopKafka(): Promise<void> {
  const b = shared;
  shared = undefined;
  if (b) await (await b).stop();
}

/** KafkaEndpoint is what a test needs from a broker: its address, and stop() only when the test owns it. */
export type KafkaEndpoint = { readonly bootstrap: string; readonly external: boolean };

/**
 * ensureKafka returns the broker tests should use: the one named by AFFIDAVIT_TEST_KAFKA
 * ("host:port", e.g. a broker shared by a whole CI run) when set, else the shared broker of
 * this process (startKafka), which is stopped on process exit.
 */
export async function ensureKafka(opts: StartKafkaOptions = {}): Promise<KafkaEndpoint> {
  const given = process.env[KAFKA_ENV];
  if (given) return { bootstrap: given, external: true };
  const b = await startKafka(opts);
  return { bootstrap: b.bootstrap, external: false };
}

/** uniqueTopic returns a topic name that no other test run uses (STYLE rule 7: unique names per test). */
export function uniqueTopic(prefix = 'test'): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(6).toString('hex')}`;
}
