// SCRAM-SHA-256 client for the proxy's own upstream login (the proxy holds the upstream
// credentials; users never see them). Pure: the nonce is passed in, so tests can replay vectors.
// SPEC: https://www.rfc-editor.org/rfc/rfc5802#section-3
// "SaltedPassword := Hi(Normalize(password), salt, i)
//  ClientKey := HMAC(SaltedPassword, "Client Key")  StoredKey := H(ClientKey)
//  AuthMessage := client-first-message-bare + "," + server-first-message + "," + client-final-message-without-proof
//  ClientSignature := HMAC(StoredKey, AuthMessage)  ClientProof := ClientKey XOR ClientSignature
//  ServerKey := HMAC(SaltedPassword, "Server Key")  ServerSignature := HMAC(ServerKey, AuthMessage)"
// SPEC: https://www.rfc-editor.org/rfc/rfc7677 (SCRAM-SHA-256)
// SPEC: https://www.postgresql.org/docs/current/sasl-authentication.html
// "The username that was sent in the startup message is used; the user name in the
//  client-first-message is ignored" — so the default user name here is empty, as libpq sends.
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { PgScramError } from './errors.ts';

/** SCRAM_MECHANISM is the SASL mechanism name this client implements (no channel binding). */
export const SCRAM_MECHANISM = 'SCRAM-SHA-256';
/** MAX_SCRAM_ITERATIONS caps the server-chosen PBKDF2 count so a hostile server cannot pin a CPU. */
export const MAX_SCRAM_ITERATIONS = 10_000_000;

// gs2 header "n,," = no channel binding, no authzid; its base64 is the `c=` of client-final.
const GS2_HEADER = 'n,,';

/** ScramClientOptions: who logs in; `nonce` MUST be fresh random printable ASCII without ',' per login. */
export type ScramClientOptions = { readonly password: string; readonly nonce: string; readonly username?: string };

/** ScramClient runs one SCRAM-SHA-256 exchange: clientFirst → clientFinal(serverFirst) → verifyServerFinal(serverFinal). */
export type ScramClient = {
  /** clientFirst returns the client-first-message (the SASLInitialResponse data). */
  clientFirst(): string;
  /** clientFinal checks the server-first-message and returns the client-final-message with the proof. */
  clientFinal(serverFirst: string): string;
  /** verifyServerFinal MUST be called with the server-final-message; it throws unless the server proved it knows the password. */
  verifyServerFinal(serverFinal: string): void;
};

/** randomScramNonce returns 18 random bytes as base64 (24 printable characters, no ','). */
export function randomScramNonce(): string {
  return randomBytes(18).toString('base64');
}

// saslName escapes ',' and '=' in a user name (RFC 5802 §5.1).
function saslName(u: string): string {
  return u.replaceAll('=', '=3D').replaceAll(',', '=2C');
}

// normalizePassword is a pragmatic SASLprep (RFC 4013): ASCII passwords are unchanged; others are
// NFKC-normalised with non-ASCII spaces mapped to ' ' and map-to-nothing characters removed,
// matching what PostgreSQL's server does for the stored verifier in the common cases.
function normalizePassword(p: string): string {
  // eslint-disable-next-line no-control-regex
  if (/^[\x00-\x7f]*$/.test(p)) return p;
  return (
    p
      .replace(/[\u00A0\u1680\u2000-\u200B\u202F\u205F\u3000]/g, ' ')
      // biome-ignore lint/suspicious/noMisleadingCharacterClass: RFC 3454 table B.1 maps each of these code points to nothing, combining ones included
      .replace(/[\u00AD\u034F\u1806\u180B-\u180D\u200C\u200D\u2060\uFE00-\uFE0F\uFEFF]/g, '')
      .normalize('NFKC')
  );
}

function attributes(msg: string, what: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of msg.split(',')) {
    const eq = part.indexOf('=');
    if (eq !== 1) throw new PgScramError(`malformed SCRAM ${what}: attribute ${JSON.stringify(part.slice(0, 20))}`);
    out.set(part[0], part.slice(2));
  }
  return out;
}

function b64(s: string, what: string): Buffer {
  const b = Buffer.from(s, 'base64');
  // Node's base64 decoder is lenient; re-encoding catches junk it silently skipped.
  if (b.toString('base64') !== s) throw new PgScramError(`malformed SCRAM ${what}: not canonical base64`);
  return b;
}

const hmac = (key: Buffer, data: string | Buffer) => createHmac('sha256', key).update(data).digest();

/** createScramClient starts a SCRAM-SHA-256 exchange. */
export function createScramClient(opts: ScramClientOptions): ScramClient {
  if (!/^[\x21-\x2b\x2d-\x7e]+$/.test(opts.nonce)) throw new PgScramError('SCRAM nonce must be printable ASCII without ","');
  const clientFirstBare = `n=${saslName(opts.username ?? '')},r=${opts.nonce}`;
  let serverSignature: Buffer | undefined;
  let state: 'first' | 'final' | 'verify' | 'done' = 'first';

  return {
    clientFirst() {
      if (state !== 'first') throw new PgScramError('SCRAM client-first already sent');
      state = 'final';
      return GS2_HEADER + clientFirstBare;
    },
    clientFinal(serverFirst) {
      if (state !== 'final') throw new PgScramError('SCRAM exchange out of order: client-final before client-first');
      state = 'verify';
      if (serverFirst.startsWith('m=')) throw new PgScramError('SCRAM server requires an unsupported extension');
      const a = attributes(serverFirst, 'server-first-message');
      const nonce = a.get('r');
      const saltB64 = a.get('s');
      const iter = a.get('i');
      if (!nonce || !saltB64 || !iter) throw new PgScramError('malformed SCRAM server-first-message: r, s and i are required');
      if (!nonce.startsWith(opts.nonce) || nonce.length <= opts.nonce.length) throw new PgScramError('SCRAM server nonce does not extend the client nonce');
      if (!/^[1-9][0-9]{0,9}$/.test(iter) || Number(iter) > MAX_SCRAM_ITERATIONS) throw new PgScramError(`SCRAM iteration count out of range: ${iter}`);
      const salt = b64(saltB64, 'salt');
      if (salt.length === 0) throw new PgScramError('SCRAM salt is empty');
      const salted = pbkdf2Sync(normalizePassword(opts.password), salt, Number(iter), 32, 'sha256');
      const clientKey = hmac(salted, 'Client Key');
      const storedKey = createHash('sha256').update(clientKey).digest();
      const withoutProof = `c=${Buffer.from(GS2_HEADER).toString('base64')},r=${nonce}`;
      const authMessage = `${clientFirstBare},${serverFirst},${withoutProof}`;
      const clientSignature = hmac(storedKey, authMessage);
      const proof = Buffer.alloc(32);
      for (let i = 0; i < 32; i++) proof[i] = clientKey[i] ^ clientSignature[i];
      serverSignature = hmac(hmac(salted, 'Server Key'), authMessage);
      return `${withoutProof},p=${proof.toString('base64')}`;
    },
    verifyServerFinal(serverFinal) {
      if (state !== 'verify' || !serverSignature) throw new PgScramError('SCRAM exchange out of order: server-final before client-final');
      state = 'done';
      const a = attributes(serverFinal, 'server-final-message');
      const err = a.get('e');
      if (err !== undefined) throw new PgScramError(`SCRAM server rejected the login: ${err}`);
      const v = a.get('v');
      if (!v) throw new PgScramError('malformed SCRAM server-final-message: no verifier');
      const got = b64(v, 'server signature');
      if (got.length !== serverSignature.length || !timingSafeEqual(got, serverSignature)) {
        throw new PgScramError('SCRAM server signature mismatch: the upstream server does not know the password (or is an impostor)');
      }
    },
  };
}
