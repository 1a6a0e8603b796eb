import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { verifyApprovalDecisions } from '@affidavit/access/decisions';
import type { ApprovalDecisionsReport, DecisionVerifier } from '@affidavit/access/decisions';
import { openSqliteLedgerStore, readBundle, readVerifierKey } from '@affidavit/ledger';
import { codec } from '@affidavit/schemas';
import type { LedgerRecord } from '@affidavit/schemas';

const APPROVAL_TYPES = new Set(['ApprovalRequested', 'ApprovalDecided', 'ApprovalRefused']);

/** DECISION_KEY_HELP documents `verify --decision-key`. */
export const DECISION_KEY_HELP = `  --decision-key F  the approval decision verifier key (default DATA_DIR/keys/decisions.pub); every
                    approval and denial must be signed by it or be recorded as refused`;

/**
 * verifyDecisionsIn checks every approval decision in a bundle, a ledger file or a data
 * directory (across all its logs) against the decision key, offline. Without a key, any
 * approval or denial found fails the check (fail closed); a ledger without decisions passes.
 */
export async function verifyDecisionsIn(
  target: string,
  opts: { isDir: boolean; isSqlite: boolean; keyFile?: string; cwd: string },
): Promise<{ ok: boolean; line: string; report: ApprovalDecisionsReport }> {
  const keyFile = opts.keyFile ? resolve(opts.cwd, opts.keyFile) : opts.isDir ? join(target, 'keys', 'decisions.pub') : undefined;
  const keys: DecisionVerifier[] = keyFile && (opts.keyFile || existsSync(keyFile)) ? [readVerifierKey(keyFile)] : [];
  const records: LedgerRecord[] = [];
  const c = codec();
  const take = (bytes: Uint8Array) => {
    try {
      // The writer schema names the type without building the record: decode only approvals.
      if (!APPROVAL_TYPES.has(c.inspect(bytes).writer.name)) return;
      const r = c.decode(bytes);
      if (APPROVAL_TYPES.has(r.type)) records.push(r);
    } catch {
      // Undecodable entries are the ledger check's business (it already hashed them).
    }
  };
  if (!opts.isSqlite) {
    for await (const e of (await readBundle(target)).entries) take(e.bytes);
  } else {
    const store = await openSqliteLedgerStore({ path: opts.isDir ? join(target, 'ledger.sqlite') : target, readOnly: true });
    try {
      for (const id of await store.listLogs()) for await (const e of (await store.openLog(id)).readEntries(0, Number.MAX_SAFE_INTEGER)) take(e.bytes);
    } finally {
      await store.close();
    }
  }
  const report = verifyApprovalDecisions(records, keys);
  const counts = `${report.decisions} decisions: ${report.valid} signed and valid, ${report.refused} refused attempts, ${report.expiries} expiries`;
  const hint = keys.length === 0 ? ' (no decision key: pass --decision-key FILE)' : '';
  const line = report.ok
    ? `approval decisions: ok: ${counts}`
    : `approval decisions: FAILED${hint} (${counts}): ${report.problems.map((p) => `${p.eventId} (request ${p.requestId}): ${p.problem}`).join('; ')}`;
  return { ok: report.ok, line, report };
}
