// Helpers shared by the API's tests (not exported from index.ts): a small audit story as events,
// a ledger file written through the ledger's append path (integrate + append + signed
// checkpoints), and fake identities.
import { randomBytes } from 'node:crypto';
import type { Identity } from '@affidavit/access';
import { appendSigned, openSqliteLedgerStore } from '@affidavit/ledger';
import { encodeEvent, exampleEvent, EXAMPLE_ACTOR, type Actor, type LedgerRecord } from '@affidavit/schemas';
import { ed25519NoteSigner, ed25519NoteVerifier, generateEd25519NoteKey } from '@affidavit/tlog';

/** TEST_KEY signs the test ledgers' checkpoints. */
export const TEST_KEY = generateEd25519NoteKey('test.affidavit', (n) => randomBytes(n));
export const testNoteVerifier = ed25519NoteVerifier(TEST_KEY.verifierKey);
export const TEST_LOG = 'affidavit.session-events.v1:0';
export const TEST_ORIGIN = `test.affidavit/${TEST_LOG}`;

const T0 = 1_760_000_000_000_000;
const actor = (subject: string, groups: string[] = ['analysts']): Actor => ({
  ...EXAMPLE_ACTOR,
  subject,
  email: `${subject}@example.com`,
  groups,
  tokenId: `tok-${subject}`,
});
const sid = (n: number) => `0190a5d0-0000-7000-8000-${String(n).padStart(12, '0')}`;
let ids = 0;
const eid = () => `0190a5d0-0000-7000-9000-${String(++ids).padStart(12, '0')}`;

/**
 * story returns `sessions` sessions (users alice, bob, carol in turn), each with `commands`
 * allowed commands, and in session 0 a blocked command, a held one with its approval request
 * (decided by bob when `decided`), a masked result and, before all, an authentication failure.
 */
export function story(sessions = 5, commands = 3, decided = true): LedgerRecord[] {
  const out: LedgerRecord[] = [];
  const users = ['alice', 'bob', 'carol'];
  out.push(
    exampleEvent('AuthenticationFailed', {
      eventId: eid(),
      sessionId: sid(999),
      occurredAt: T0 - 10,
      claimedSubject: 'mallory',
      code: 'AFF_E_AUTH_BAD_SIGNATURE',
    }),
  );
  for (let s = 0; s < sessions; s++) {
    const a = actor(users[s % users.length]);
    const sessionId = sid(s);
    const t = T0 + s * 1_000_000;
    let seq = 0;
    const env = () => ({ eventId: eid(), sessionId, seq: seq++, actor: a });
    out.push(exampleEvent('SessionStarted', { ...env(), occurredAt: t, source: { address: `10.0.0.${s % 4}`, port: 40000 + s, application: 'psql' } }));
    for (let c = 0; c < commands; c++) {
      out.push(exampleEvent('CommandIssued', { ...env(), occurredAt: t + 10 + c * 10, commandId: `c${c}`, text: `select ${c}` }));
      out.push(exampleEvent('CommandCompleted', { ...env(), occurredAt: t + 15 + c * 10, commandId: `c${c}`, tag: 'SELECT 1' }));
    }
    if (s === 0) {
      out.push(
        exampleEvent('CommandIssued', { ...env(), occurredAt: t + 500, commandId: 'cb', text: 'drop table customers', decision: 'deny', ruleId: 'no-ddl' }),
      );
      out.push(exampleEvent('CommandBlocked', { ...env(), occurredAt: t + 501, commandId: 'cb' }));
      out.push(
        exampleEvent('CommandIssued', {
          ...env(),
          occurredAt: t + 600,
          commandId: 'ch',
          text: 'delete from customers',
          decision: 'require_approval',
          ruleId: 'hold-writes',
        }),
      );
      out.push(exampleEvent('ApprovalRequested', { ...env(), occurredAt: t + 601, requestId: 'r1', commandId: 'ch', expiresAt: t + 300_000_000 }));
      if (decided) {
        out.push(
          exampleEvent('ApprovalDecided', {
            ...env(),
            occurredAt: t + 700,
            requestId: 'r1',
            decision: 'approved',
            approver: actor('bob', ['approvers']),
            justification: 'ticket 42',
            signature: Buffer.from('sig'),
          }),
        );
      }
      out.push(exampleEvent('DataMasked', { ...env(), occurredAt: t + 800, commandId: 'c0' }));
    }
    out.push(exampleEvent('SessionEnded', { ...env(), occurredAt: t + 900_000, reason: 'client-closed', commands }));
  }
  return out;
}

/**
 * writeLedger appends `records` to a ledger file in batches of `batch`, signing a checkpoint
 * after each batch except (when `lastUnsigned`) the last, so its entries are past the latest checkpoint.
 */
export async function writeLedger(path: string, records: readonly LedgerRecord[], o: { batch?: number; lastUnsigned?: boolean } = {}): Promise<void> {
  const store = await openSqliteLedgerStore({ path });
  try {
    await appendSigned(
      await store.openLog(TEST_LOG),
      records.length,
      (i) => ({ eventId: records[i].eventId, kind: 'event', bytes: encodeEvent(records[i]), source: null, appendedAt: 0 }),
      { origin: TEST_ORIGIN, signer: ed25519NoteSigner(TEST_KEY.signerKey), batch: o.batch ?? 10, unsigned: o.lastUnsigned ? 'last' : false },
    );
  } finally {
    await store.close();
  }
}

/** identity builds a verified Identity for tests. */
export function identity(subject: string, groups: string[], tokenId = `jti-${subject}`): Identity {
  return Object.freeze({
    issuer: 'http://127.0.0.1:9000',
    subject,
    groups: Object.freeze(groups),
    amr: Object.freeze([]),
    mfa: false,
    tokenId,
    expiresAt: Date.now() + 600_000,
  });
}
