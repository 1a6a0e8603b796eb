// Real OpenSSH sshd for integration tests: its own host key, config, pid file and authorized keys
// in a temp dir, listening only on 127.0.0.1, run in the foreground (`-D -e`) so its log is ours
// and it dies with the test process. The real `ssh` client is driven in BatchMode with a
// generated key and a pinned known_hosts entry, so no prompt and no ~/.ssh is ever involved.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './free-port.ts';
import { registerExitCleanup, runCaptured } from './process.ts';

const execFileP = promisify(execFile);

/** SSHD_PATH is where Debian's openssh-server installs the daemon (sshd re-execs itself, so the path MUST be absolute). */
export const SSHD_PATH = '/usr/sbin/sshd';

/** SshKeyPair is an OpenSSH key pair on disk. */
export type SshKeyPair = { readonly privateKeyFile: string; readonly publicKeyFile: string; readonly publicKey: string };

/** SshRunResult is a finished ssh client run. */
export type SshRunResult = { readonly code: number; readonly stdout: string; readonly stderr: string };

/** SshOptions override how one `ssh` run authenticates. */
export type SshOptions = {
  readonly user?: string;
  /** identityFile defaults to the instance's generated client key. */
  readonly identityFile?: string;
  /** certificateFile adds `-o CertificateFile=` (an OpenSSH user certificate for identityFile). */
  readonly certificateFile?: string;
  readonly input?: string;
  readonly extraArgs?: readonly string[];
  readonly timeoutMs?: number;
};

/** StartSshdOptions configure one sshd. */
export type StartSshdOptions = {
  /** user is the account tests log in as; default the current OS user. */
  readonly user?: string;
  /** authorizeClientKey puts the generated client key in authorized_keys (default true). */
  readonly authorizeClientKey?: boolean;
  /** authorizedKeys are extra public key lines for authorized_keys. */
  readonly authorizedKeys?: readonly string[];
  /** trustedUserCaKeys are CA public key lines for `TrustedUserCAKeys` (certificate logins). */
  readonly trustedUserCaKeys?: readonly string[];
  /** extraConfig lines are appended to sshd_config verbatim. */
  readonly extraConfig?: readonly string[];
  readonly readyTimeoutMs?: number;
};

/** SshdInstance is a running sshd and the way to reach it. */
export type SshdInstance = {
  readonly host: '127.0.0.1';
  readonly port: number;
  readonly user: string;
  readonly dir: string;
  readonly pid: number;
  readonly hostPublicKey: string;
  readonly knownHostsFile: string;
  readonly clientKey: SshKeyPair;
  /** sshArgs are the common client options (-F, -p, known hosts, BatchMode), reusable for scp/sftp (`-P` there). */
  readonly sshArgs: readonly string[];
  /** ssh runs the real ssh client with `command`; it MUST NOT throw on a non-zero exit. */
  ssh(command: string | readonly string[], opts?: SshOptions): Promise<SshRunResult>;
  /** newKey generates another client key pair in the instance dir (not authorized). */
  newKey(name: string): Promise<SshKeyPair>;
  /** log returns sshd's recent stderr. */
  log(): string;
  /** stop kills sshd and removes the temp dir. */
  stop(): Promise<void>;
};

/** generateSshKey writes an unencrypted ed25519 key pair with the real ssh-keygen. */
export async function generateSshKey(path: string, comment = 'affidavit-test'): Promise<SshKeyPair> {
  try {
    await execFileP('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', path], { timeout: 30_000 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new Error('ssh-keygen not found: apt-get install openssh-client', { cause: e });
    throw e;
  }
  return { privateKeyFile: path, publicKeyFile: `${path}.pub`, publicKey: readFileSync(`${path}.pub`, 'utf8').trim() };
}

// bannerSeen resolves true once the server greets with its SSH identification string (RFC 4253 §4.2).
function bannerSeen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host: '127.0.0.1', port });
    let buf = '';
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(2_000, () => done(false));
    sock.on('error', () => done(false));
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      if (buf.includes('SSH-2.0-')) done(true);
    });
    sock.on('close', () => done(buf.includes('SSH-2.0-')));
  });
}

/**
 * startSshd starts one sshd on a free loopback port and waits for its `SSH-2.0-` banner.
 * Each call starts a new, independent server (tests differ in their auth config).
 */
export async function startSshd(opts: StartSshdOptions = {}): Promise<SshdInstance> {
  if (!existsSync(SSHD_PATH)) throw new Error(`${SSHD_PATH} not found: apt-get install openssh-server`);
  const isRoot = process.getuid?.() === 0;
  const user = opts.user ?? userInfo().username;
  // The privilege separation dir MUST exist before sshd starts ("Missing privilege separation directory").
  if (isRoot) mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const dir = mkdtempSync(join(tmpdir(), 'affidavit-sshd-'));
  let child: ChildProcess | undefined;
  const cleanup = () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  const unregister = registerExitCleanup(cleanup);
  try {
    const hostKey = await generateSshKey(join(dir, 'ssh_host_ed25519_key'), 'affidavit-test-host');
    const clientKey = await generateSshKey(join(dir, 'client_ed25519'), 'affidavit-test-client');
    const authorizedKeysFile = join(dir, 'authorized_keys');
    writeFileSync(authorizedKeysFile, [...(opts.authorizeClientKey === false ? [] : [clientKey.publicKey]), ...(opts.authorizedKeys ?? []), ''].join('\n'), {
      mode: 0o644,
    });
    const caLines = opts.trustedUserCaKeys ?? [];
    const caFile = join(dir, 'trusted_user_ca_keys');
    if (caLines.length > 0) writeFileSync(caFile, `${caLines.join('\n')}\n`);

    const logTail: string[] = [];
    const log = () => logTail.join('');
    let port = 0;
    for (let attempt = 0; ; attempt++) {
      port = await freePort();
      const config = [
        `Port ${port}`,
        'ListenAddress 127.0.0.1',
        `HostKey ${hostKey.privateKeyFile}`,
        `PidFile ${join(dir, 'sshd.pid')}`,
        'UsePAM no',
        // Temp dirs are not root-owned 0755 chains the way StrictModes wants; the test owns them.
        'StrictModes no',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'PubkeyAuthentication yes',
        `AuthorizedKeysFile ${authorizedKeysFile}`,
        'PermitRootLogin prohibit-password',
        `AllowUsers ${user}`,
        'PrintMotd no',
        'LogLevel VERBOSE',
        'Subsystem sftp internal-sftp',
        ...(caLines.length > 0 ? [`TrustedUserCAKeys ${caFile}`] : []),
        ...(opts.extraConfig ?? []),
        '',
      ].join('\n');
      writeFileSync(join(dir, 'sshd_config'), config);
      logTail.length = 0;
      const proc = spawn(SSHD_PATH, ['-D', '-e', '-f', join(dir, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] });
      child = proc;
      proc.stderr!.setEncoding('utf8').on('data', (d: string) => {
        logTail.push(d);
        while (logTail.length > 200) logTail.shift();
      });
      proc.on('error', (e) => logTail.push(`spawn error: ${e.message}\n`));
      const deadline = Date.now() + (opts.readyTimeoutMs ?? 15_000);
      let ready = false;
      while (!ready && Date.now() < deadline && proc.exitCode === null && proc.signalCode === null) {
        ready = await bannerSeen(port);
        if (!ready) await new Promise((r) => setTimeout(r, 50));
      }
      if (ready) break;
      proc.kill('SIGKILL');
      if (attempt < 2 && /Address already in use/i.test(log())) continue;
      throw new Error(`sshd did not become ready on 127.0.0.1:${port}:\n${log()}`);
    }

    const hostPublicKey = hostKey.publicKey;
    const knownHostsFile = join(dir, 'known_hosts');
    writeFileSync(knownHostsFile, `[127.0.0.1]:${port} ${hostPublicKey.split(' ').slice(0, 2).join(' ')}\n`);
    const sshArgs = [
      '-F',
      '/dev/null',
      '-o',
      `UserKnownHostsFile=${knownHostsFile}`,
      '-o',
      'GlobalKnownHostsFile=/dev/null',
      '-o',
      'StrictHostKeyChecking=yes',
      '-o',
      'BatchMode=yes',
      '-o',
      'IdentitiesOnly=yes',
      '-o',
      'ConnectTimeout=10',
      '-o',
      'LogLevel=ERROR',
    ];
    const proc = child!;
    let stopping: Promise<void> | undefined;
    const stop = async () => {
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise<void>((r) => proc.once('exit', () => r()));
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
      unregister();
    };
    return Object.freeze({
      host: '127.0.0.1' as const,
      port,
      user,
      dir,
      pid: proc.pid!,
      hostPublicKey,
      knownHostsFile,
      clientKey,
      sshArgs,
      ssh: (command: string | readonly string[], o: SshOptions = {}) =>
        runSsh(
          [
            ...sshArgs,
            '-p',
            String(port),
            '-i',
            o.identityFile ?? clientKey.privateKeyFile,
            ...(o.certificateFile ? ['-o', `CertificateFile=${o.certificateFile}`] : []),
            ...(o.extraArgs ?? []),
            `${o.user ?? user}@127.0.0.1`,
            '--',
            ...(typeof command === 'string' ? [command] : command),
          ],
          o.input,
          o.timeoutMs ?? 30_000,
        ),
      newKey: (name: string) => generateSshKey(join(dir, `key-${name.replace(/[^a-zA-Z0-9_-]/g, '_')}`), name),
      log,
      stop: () => (stopping ??= stop()),
    });
  } catch (e) {
    cleanup();
    unregister();
    throw e;
  }
}

function runSsh(args: readonly string[], input: string | undefined, timeoutMs: number): Promise<SshRunResult> {
  return runCaptured('ssh', args, { input, timeoutMs });
}
