// Helpers for the evidence tests (not exported from index.ts): a ledger file written through the
// ledger's append path (integrate + append + signed checkpoints), signed approval decisions.
import { randomBytes } from 'node:crypto';
import { commandDigest, signDecision, signedDecisionOf } from '@affidavit/access';
import { appendSigned, openSqliteLedgerStore } from '@affidavit/ledger';
import { encodeEvent, type ApprovalDecided, type ApprovalRequested, type LedgerRecord } from '@affidavit/schemas';
import { ed25519NoteSigner, ed25519NoteVerifier, generateEd25519NoteKey } from '@affidavit/tlog';

export const LEDGER_KEY = generateEd25519NoteKey('test.affidavit', (n) => randomBytes(n));
export const ledgerVerifier = ed25519NoteVerifier(LEDGER_KEY.verifierKey);
export const ledgerSigner = ed25519NoteSigner(LEDGER_KEY.signerKey);
export const DECISION_KEY = generateEd25519NoteKey('decisions.test', (n) => randomBytes(n));
export const decisionVerifier = ed25519NoteVerifier(DECISION_KEY.verifierKey);

/** signed returns the decision with a valid signature of DECISION_KEY over the request's text. */
export async function signed(d: ApprovalDecided, req: ApprovalRequested): Promise<ApprovalDecided> {
  const s = signedDecisionOf(d, commandDigest(req.text));
  if (!s) return d;
  return { ...d, signature: Buffer.from(await signDecision(s, ed25519NoteSigner(DECISION_KEY.signerKey))), commandDigest: commandDigest(req.text) };
}

/**
 * writeLedger appends `records` to log `logId` of a ledger file in batches of `batch`, signing a
 * checkpoint after each batch (with `origin`, default test.affidavit/<log>; none when `unsigned`).
 */
export async function writeLedger(
  path: string,
  records: readonly LedgerRecord[],
  o: { batch?: number; logId?: string; origin?: string; signer?: typeof ledgerSigner; unsigned?: boolean } = {},
): Promise<void> {
  const store = await openSqliteLedgerStore({ path });
  const logId = o.logId ?? 'affidavit.session-events.v1:0';
  try {
    await appendSigned(
      await store.openLog(logId),
      records.length,
      (i) => ({ eventId: records[i].eventId, kind: 'event', bytes: encodeEvent(records[i]), source: null, appendedAt: 0 }),
      { origin: o.origin ?? `test.affidavit/${logId}`, signer: o.signer ?? ledgerSigner, batch: o.batch ?? 10, unsigned: o.unsigned ?? false },
    );
  } finally {
    await store.close();
  }
}
