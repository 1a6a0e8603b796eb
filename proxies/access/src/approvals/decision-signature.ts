import { createHash } from 'node:crypto';
import type { Actor, ApprovalDecided } from '@affidavit/schemas';

/**
 * DECISION_CONTEXT is the first line of every canonical decision: it names the format and its
 * version, so a signature over a decision can never be taken for a signature over anything else
 * made with the same key (and v2 can never be confused with v1).
 */
export const DECISION_CONTEXT = 'affidavit/approval-decision/v1\n';

/** KEY_ID_BYTES is the length of the key id in front of the Ed25519 signature (as in signed notes). */
export const KEY_ID_BYTES = 4;
/** ED25519_SIGNATURE_BYTES is the length of an Ed25519 signature (RFC 8032). */
export const ED25519_SIGNATURE_BYTES = 64;

/**
 * DecisionSigner is the port the accepting service signs with. It is shaped like a tlog
 * NoteSigner, so the key is made, stored and published like the ledger's checkpoint key
 * (`PRIVATE+KEY+name+hash+key` / `name+hash+key`) — but it MUST be a different key.
 */
export type DecisionSigner = { readonly name: string; readonly keyHash: number; sign(message: Uint8Array): Uint8Array | Promise<Uint8Array> };

/** DecisionVerifier checks a signature; `verify` MUST NOT throw on a bad signature (shaped like a tlog NoteVerifier). */
export type DecisionVerifier = { readonly name: string; readonly keyHash: number; verify(message: Uint8Array, signature: Uint8Array): boolean };

/** SignedDecision is what a decision signature covers. Times are epoch microseconds, as in the events. */
export type SignedDecision = {
  requestId: string;
  /** commandDigest is commandDigest(ApprovalRequested.text): what the approver was shown. */
  commandDigest: string;
  decision: 'approved' | 'denied';
  approver: Pick<Actor, 'issuer' | 'subject' | 'groups' | 'tokenId'>;
  justification: string;
  /** decidedAt is the ApprovalDecided event's occurredAt. */
  decidedAt: number;
};

/** commandDigest is the lowercase hex SHA-256 of the statement text's UTF-8 bytes. */
export function commandDigest(text: string): string {
  return createHash('sha256').update(wellFormed(text, 'command text'), 'utf8').digest('hex');
}

function wellFormed(s: string, what: string): string {
  // Lone surrogates would all encode to U+FFFD: two different strings, one canonical form.
  if (!s.isWellFormed()) throw new TypeError(`${what} is not well-formed Unicode`);
  return s;
}

function field(bytes: Uint8Array): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(bytes.length);
  return Buffer.concat([len, bytes]);
}
const text = (s: string, what: string) => field(Buffer.from(wellFormed(s, what), 'utf8'));

/**
 * canonicalDecision is the byte string a decision signature covers. It MUST be exactly:
 *
 *   DECISION_CONTEXT (the 31 ASCII bytes `affidavit/approval-decision/v1` and a line feed), then
 *   nine fields in this order, each as a 4-byte big-endian unsigned length followed by that
 *   many bytes:
 *     1. requestId                  UTF-8
 *     2. commandDigest              64 lowercase hex digits (commandDigest of the request's text)
 *     3. decision                   `approved` or `denied`
 *     4. approver issuer            UTF-8 (the token's `iss`)
 *     5. approver subject           UTF-8 (the token's `sub`)
 *     6. approver groups            the distinct groups sorted by their UTF-8 bytes, each itself
 *                                   length-prefixed as above, concatenated
 *     7. justification              UTF-8, exactly as recorded (no trimming, no normalisation)
 *     8. decidedAt                  decimal ASCII of the microseconds, no sign, no leading zeros
 *     9. token id                   UTF-8 (the token's `jti`; empty when the token had none)
 *
 * Strings MUST be well-formed Unicode (a lone surrogate is refused, not replaced). Identity is
 * issuer+subject: e-mail and display names are not signed because they are not identity.
 */
export function canonicalDecision(d: SignedDecision): Uint8Array {
  if (!/^[0-9a-f]{64}$/.test(d.commandDigest)) throw new TypeError('commandDigest must be 64 lowercase hex digits');
  if (d.decision !== 'approved' && d.decision !== 'denied') throw new TypeError(`only approved or denied decisions are signed, not ${String(d.decision)}`);
  if (!Number.isSafeInteger(d.decidedAt) || d.decidedAt < 0) throw new TypeError('decidedAt must be a non-negative safe integer of microseconds');
  const groups = [...new Set(d.approver.groups)].map((g) => Buffer.from(wellFormed(g, 'group'), 'utf8')).sort(Buffer.compare);
  return Buffer.concat([
    Buffer.from(DECISION_CONTEXT, 'ascii'),
    text(d.requestId, 'requestId'),
    text(d.commandDigest, 'commandDigest'),
    text(d.decision, 'decision'),
    text(d.approver.issuer, 'issuer'),
    text(d.approver.subject, 'subject'),
    field(Buffer.concat(groups.map(field))),
    text(d.justification, 'justification'),
    text(String(d.decidedAt), 'decidedAt'),
    text(d.approver.tokenId ?? '', 'tokenId'),
  ]);
}

/**
 * signDecision returns the value of `ApprovalDecided.signature`: the signer's 4-byte key id
 * (big-endian) followed by its 64-byte Ed25519 signature over canonicalDecision(d).
 */
export async function signDecision(d: SignedDecision, signer: DecisionSigner): Promise<Uint8Array> {
  const sig = await signer.sign(canonicalDecision(d));
  if (sig.length !== ED25519_SIGNATURE_BYTES) throw new TypeError(`the decision signer returned ${sig.length} bytes, not an Ed25519 signature`);
  const id = Buffer.alloc(KEY_ID_BYTES);
  id.writeUInt32BE(signer.keyHash >>> 0);
  return Buffer.concat([id, sig]);
}

/** SignatureCheck is the outcome of verifyDecisionSignature. */
export type SignatureCheck = { ok: true; keyName: string } | { ok: false; reason: string };

/**
 * verifyDecisionSignature checks `signature` (as made by signDecision) over `d` against the
 * trusted keys. It MUST return ok only when a key with the signature's key id verifies it; with
 * no key it MUST fail (fail closed). It never throws on hostile input.
 */
export function verifyDecisionSignature(d: SignedDecision, signature: Uint8Array | null, keys: readonly DecisionVerifier[]): SignatureCheck {
  if (keys.length === 0) return { ok: false, reason: 'no decision-verifier key is configured, so no decision can be trusted' };
  if (signature === null || signature.length === 0) return { ok: false, reason: 'the decision is not signed' };
  if (signature.length !== KEY_ID_BYTES + ED25519_SIGNATURE_BYTES)
    return { ok: false, reason: `the signature has ${signature.length} bytes, not ${KEY_ID_BYTES + ED25519_SIGNATURE_BYTES}` };
  let message: Uint8Array;
  try {
    message = canonicalDecision(d);
  } catch (e) {
    return { ok: false, reason: `the decision has no canonical form: ${(e as Error).message}` };
  }
  const keyId = Buffer.from(signature.buffer, signature.byteOffset, signature.byteLength).readUInt32BE(0);
  const candidates = keys.filter((k) => k.keyHash >>> 0 === keyId);
  if (candidates.length === 0) return { ok: false, reason: `the signature's key id ${keyId.toString(16).padStart(8, '0')} is not a trusted decision key` };
  const sig = signature.subarray(KEY_ID_BYTES);
  for (const k of candidates) {
    try {
      if (k.verify(message, sig)) return { ok: true, keyName: k.name };
    } catch {
      // A verifier MUST NOT throw, but a hostile signature must not crash the gate either.
    }
  }
  return { ok: false, reason: 'the signature does not match the decision (altered, replayed from another request, or made by another key)' };
}

/** signedDecisionOf reads the signed fields of an ApprovalDecided event, with the digest of the request's text. */
export function signedDecisionOf(
  e: Pick<ApprovalDecided, 'requestId' | 'decision' | 'approver' | 'justification' | 'occurredAt'>,
  digest: string,
): SignedDecision | null {
  if (e.decision === 'expired' || e.approver === null) return null;
  return {
    requestId: e.requestId,
    commandDigest: digest,
    decision: e.decision,
    approver: { issuer: e.approver.issuer, subject: e.approver.subject, groups: e.approver.groups, tokenId: e.approver.tokenId },
    justification: e.justification,
    decidedAt: e.occurredAt,
  };
}
