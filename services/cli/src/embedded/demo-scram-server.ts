// The server half of SCRAM-SHA-256 for the embedded demo database: PGlite itself has no
// authentication (every client is trusted), so the socket server in front of it asks for the
// random password only the proxy knows, the way PostgreSQL does, and the proxy's upstream
// login (which only speaks SCRAM) proves it. Pure: salt, iterations and nonce are passed in.
// SPEC: https://www.rfc-editor.org/rfc/rfc5802#section-3
// "ServerKey := HMAC(SaltedPassword, "Server Key")  ServerSignature := HMAC(ServerKey, AuthMessage)"
// SPEC: https://www.postgresql.org/docs/current/sasl-authentication.html
// "The username that was sent in the startup message is used; the user name in the
//  client-first-message is ignored."
import { createHash, createHmac, pbkdf2Sync, timingSafeEqual } from 'node:crypto';

/** SCRAM_SERVER_MECHANISM is the one SASL mechanism the demo database offers (no channel binding). */
export const SCRAM_SERVER_MECHANISM = 'SCRAM-SHA-256';

/** ScramServerOptions: the password to check and the server's random parts (fresh per login). */
export type ScramServerOptions = { readonly password: string; readonly salt: Buffer; readonly iterations: number; readonly serverNonce: string };

/** ScramServer runs one exchange: serverFirst(clientFirst) → serverFinal(clientFinal), each throwing ScramRefused on a bad message or proof. */
export type ScramServer = {
  serverFirst(clientFirst: string): string;
  serverFinal(clientFinal: string): string;
};

/** ScramRefused: the client's SCRAM message was malformed or its proof wrong; the login MUST end. */
export class ScramRefused extends Error {}

const hmac = (key: Buffer, data: string | Buffer) => createHmac('sha256', key).update(data).digest();

function attributes(msg: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of msg.split(',')) {
    if (part.indexOf('=') !== 1) throw new ScramRefused('malformed SCRAM message');
    out.set(part[0], part.slice(2));
  }
  return out;
}

/** createScramServer starts one server-side SCRAM-SHA-256 exchange. It MUST NOT accept a proof computed without the password. */
export function createScramServer(o: ScramServerOptions): ScramServer {
  let state: 'first' | 'final' | 'done' = 'first';
  let clientFirstBare = '';
  let serverFirstMessage = '';
  let nonce = '';
  let gs2 = '';
  return {
    serverFirst(clientFirst) {
      if (state !== 'first') throw new ScramRefused('SCRAM exchange out of order');
      state = 'final';
      // gs2 header: "n,," (no channel binding) or "y,," (client could bind, thinks we cannot); "p=" asks for binding we do not offer.
      const m = /^([ny]),(?:a=[^,]*)?,(.*)$/s.exec(clientFirst);
      if (!m) throw new ScramRefused('SCRAM client-first-message: unsupported channel binding or malformed gs2 header');
      gs2 = clientFirst.slice(0, clientFirst.length - m[2].length);
      clientFirstBare = m[2];
      const a = attributes(clientFirstBare);
      const clientNonce = a.get('r');
      if (!clientNonce || !/^[\x21-\x2b\x2d-\x7e]+$/.test(clientNonce) || !a.has('n'))
        throw new ScramRefused('SCRAM client-first-message: n and r are required');
      nonce = clientNonce + o.serverNonce;
      serverFirstMessage = `r=${nonce},s=${o.salt.toString('base64')},i=${o.iterations}`;
      return serverFirstMessage;
    },
    serverFinal(clientFinal) {
      if (state !== 'final') throw new ScramRefused('SCRAM exchange out of order');
      state = 'done';
      const at = clientFinal.lastIndexOf(',p=');
      if (at < 0) throw new ScramRefused('SCRAM client-final-message: no proof');
      const withoutProof = clientFinal.slice(0, at);
      const a = attributes(withoutProof);
      if (a.get('c') !== Buffer.from(gs2).toString('base64'))
        throw new ScramRefused('SCRAM client-final-message: channel binding does not match the gs2 header');
      if (a.get('r') !== nonce) throw new ScramRefused('SCRAM client-final-message: nonce mismatch');
      const proof = Buffer.from(clientFinal.slice(at + 3), 'base64');
      const salted = pbkdf2Sync(o.password, o.salt, o.iterations, 32, 'sha256');
      const clientKey = hmac(salted, 'Client Key');
      const storedKey = createHash('sha256').update(clientKey).digest();
      const authMessage = `${clientFirstBare},${serverFirstMessage},${withoutProof}`;
      const clientSignature = hmac(storedKey, authMessage);
      const expected = Buffer.alloc(32);
      for (let i = 0; i < 32; i++) expected[i] = clientKey[i] ^ clientSignature[i];
      if (proof.length !== 32 || !timingSafeEqual(proof, expected)) throw new ScramRefused('password authentication failed');
      return `v=${hmac(hmac(salted, 'Server Key'), authMessage).toString('base64')}`;
    },
  };
}
