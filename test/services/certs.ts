// Test PKI: a throwaway CA and one server certificate, made with the real `openssl` CLI so
// the files are exactly what a PostgreSQL server or a TLS client loads in production.
// Nothing here is secret beyond the test run: keys live in the caller's temp dir and die with it.
import { execFile } from 'node:child_process';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** TestCertificates names the PEM files createTestCertificates wrote. */
export type TestCertificates = {
  /** caFile is the CA certificate clients trust (PGSSLROOTCERT, node:tls `ca`). */
  readonly caFile: string;
  /** caKeyFile signs further certificates in the same test PKI. */
  readonly caKeyFile: string;
  /** certFile is the server certificate, signed by the CA, with IP and DNS SANs. */
  readonly certFile: string;
  /** keyFile is the server's private key, mode 0600. */
  readonly keyFile: string;
};

/** TestCertificateOptions chooses where the files go and what the server certificate names. */
export type TestCertificateOptions = {
  readonly dir: string;
  readonly commonName?: string;
  /** ipAddresses go into subjectAltName so `sslmode=verify-full` works against 127.0.0.1. */
  readonly ipAddresses?: readonly string[];
  readonly dnsNames?: readonly string[];
  readonly days?: number;
};

async function openssl(args: string[]): Promise<void> {
  try {
    await run('openssl', args, { timeout: 30_000 });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    if (err.code === 'ENOENT') throw new Error('openssl not found: apt-get install openssl', { cause: e });
    throw new Error(`openssl ${args[0]} failed: ${err.stderr ?? err.message}`, { cause: e });
  }
}

/**
 * createTestCertificates writes a self-signed P-256 CA and a server certificate it signed into
 * `opts.dir`. The server certificate MUST carry every name a client will verify (SAN, not CN:
 * libpq and node:tls match IP addresses only against IP SANs).
 */
export async function createTestCertificates(opts: TestCertificateOptions): Promise<TestCertificates> {
  const days = String(opts.days ?? 2);
  const caFile = join(opts.dir, 'ca.crt');
  const caKeyFile = join(opts.dir, 'ca.key');
  const certFile = join(opts.dir, 'server.crt');
  const keyFile = join(opts.dir, 'server.key');
  const csrFile = join(opts.dir, 'server.csr');
  const extFile = join(opts.dir, 'server.ext');
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await openssl([
    'req',
    '-x509',
    '-new',
    ...ec,
    '-keyout',
    caKeyFile,
    '-out',
    caFile,
    '-days',
    days,
    '-subj',
    '/CN=affidavit-test-ca',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  await openssl(['req', '-new', ...ec, '-keyout', keyFile, '-out', csrFile, '-subj', `/CN=${opts.commonName ?? 'localhost'}`]);
  const sans = [...(opts.ipAddresses ?? ['127.0.0.1']).map((ip) => `IP:${ip}`), ...(opts.dnsNames ?? ['localhost']).map((d) => `DNS:${d}`)];
  await writeFile(
    extFile,
    [
      `subjectAltName=${sans.join(',')}`,
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth',
      '',
    ].join('\n'),
  );
  await openssl([
    'x509',
    '-req',
    '-in',
    csrFile,
    '-CA',
    caFile,
    '-CAkey',
    caKeyFile,
    '-CAcreateserial',
    '-out',
    certFile,
    '-days',
    days,
    '-sha256',
    '-extfile',
    extFile,
  ]);
  // PostgreSQL refuses a key readable by group or others ("has group or world access").
  await chmod(keyFile, 0o600);
  await chmod(caKeyFile, 0o600);
  return { caFile, caKeyFile, certFile, keyFile };
}
