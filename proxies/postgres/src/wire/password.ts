// Decoders for the payload of a 'p' message. The byte is shared by PasswordMessage,
// SASLInitialResponse, SASLResponse and GSSResponse; the proxy knows which one it asked for.
// SPEC: https://www.postgresql.org/docs/current/protocol-message-formats.html
// "SASLInitialResponse ... String: Name of the SASL authentication mechanism ... Int32: Length of
//  SASL mechanism specific "Initial Client Response" that follows, or -1 if there is no Initial Response."
import { BodyCursor } from './body-cursor.ts';
import { PgMalformedMessageError } from './errors.ts';
import type { PasswordMessage } from './frontend-messages.ts';

/** decodePassword reads a cleartext PasswordMessage (here: the client's OIDC access token). */
export function decodePassword(m: PasswordMessage): string {
  const c = new BodyCursor(m.payload, 'PasswordMessage');
  const password = c.cstring('password');
  c.end();
  return password;
}

/** SaslInitialResponse is the decoded first SASL message of a client. */
export type SaslInitialResponse = { readonly mechanism: string; readonly data: Buffer | null };

/** decodeSaslInitialResponse reads a SASLInitialResponse payload. */
export function decodeSaslInitialResponse(m: PasswordMessage): SaslInitialResponse {
  const c = new BodyCursor(m.payload, 'SASLInitialResponse');
  const mechanism = c.cstring('mechanism');
  const [data] = c.values(1, 'initial response');
  c.end();
  if (mechanism === '') throw new PgMalformedMessageError('malformed SASLInitialResponse: empty mechanism name');
  return { mechanism, data };
}
