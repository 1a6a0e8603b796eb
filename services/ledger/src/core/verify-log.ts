import { hashesEqual, hashLeaf, toHex } from '@affidavit/tlog';
import type { Hash } from '@affidavit/tlog';
import { RootAccumulator } from './root-accumulator.ts';

/** OpenedCheckpoint is a checkpoint whose signature was verified. */
export type OpenedCheckpoint = { origin: string; size: number; root: Hash };

/** VerifyEntry is one entry as exported: its index, its exact bytes and, when known, the leaf hash recorded at append. */
export type VerifyEntry = { index: number; bytes: Uint8Array; recordedLeaf?: Uint8Array };

/** VerifyProblem names the first thing that does not hold. */
export type VerifyProblem =
  | { kind: 'checkpoint'; which: string; message: string }
  | { kind: 'entry'; index: number; message: string }
  | { kind: 'range'; from: number; to: number; message: string };

/**
 * VerifyReport is what verify concludes. `ok` means nothing contradicts the signatures;
 * `signed` is the largest size a verified checkpoint covers, so entries [signed, entries) are
 * consistent but PROVEN BY NOTHING (an unsigned tail): deciding whether that is acceptable is
 * the caller's (see verifyLedger).
 */
export type VerifyReport =
  | { ok: true; entries: number; checkpoints: number; signed: number; root?: string }
  | { ok: false; entries: number; problem: VerifyProblem };

/** LabeledNote is a checkpoint held outside the system, with a label naming where it came from (e.g. `--checkpoint FILE`). */
export type LabeledNote = { label: string; note: string };

/**
 * EntryCheck is an extra per-entry check run as entries stream past (for example an approval
 * decision's signature): it returns a message when the entry fails it. It MUST NOT keep the
 * entry's bytes (they may be a view into a reused page).
 */
export type EntryCheck = (e: VerifyEntry) => string | undefined;

/** VerifyEntries is what verify reads: entries one by one, or pages of consecutive entries (cheaper: one async step per page). */
export type VerifyEntries = AsyncIterable<VerifyEntry | readonly VerifyEntry[]>;

/** VerifyInput is one log to check. `open` verifies a signed note and parses it, throwing a typed error otherwise. */
export type VerifyInput = {
  origin: string;
  checkpoints: readonly string[];
  /** external checkpoints: copies held outside the system (e.g. from the checkpoints topic), to catch a rollback. */
  external?: readonly (string | LabeledNote)[];
  /** entryChecks run on every entry whose bytes matched its recorded leaf, in index order. */
  entryChecks?: readonly EntryCheck[];
  entries: VerifyEntries;
  open: (note: string) => OpenedCheckpoint;
  onProgress?: (entriesDone: number) => void;
};

type Pending = OpenedCheckpoint & { label: string; external: boolean };

const isPage = (x: VerifyEntry | readonly VerifyEntry[]): x is readonly VerifyEntry[] => Array.isArray(x);

/**
 * verifyLog checks a log offline: every checkpoint signature, that checkpoints of one size agree,
 * that entries are consecutive from 0, that each entry's bytes hash to the leaf recorded at
 * append (when recorded), and that the root over the entries equals every checkpoint's root at
 * its size — which proves every entry's inclusion and the consistency between checkpoints at
 * once. It reports the FIRST problem: an entry when it can be pinned down, else the range
 * between the last good checkpoint and the failing one.
 */
export async function verifyLog(input: VerifyInput): Promise<VerifyReport> {
  const pending: Pending[] = [];
  const label = (ext: boolean, i: number, n: string | LabeledNote) =>
    typeof n !== 'string' ? n.label : `${ext ? 'external checkpoint' : 'checkpoint'} #${i + 1}`;
  for (const [ext, list] of [
    [false, input.checkpoints],
    [true, input.external ?? []],
  ] as const) {
    for (const [i, item] of list.entries()) {
      const note = typeof item === 'string' ? item : item.note;
      let c: OpenedCheckpoint;
      try {
        c = input.open(note);
      } catch (e) {
        return {
          ok: false,
          entries: 0,
          problem: {
            kind: 'checkpoint',
            which: label(ext, i, item),
            message: `${(e as Error).message}${(e as { code?: string }).code ? ` [${(e as { code?: string }).code}]` : ''}`,
          },
        };
      }
      if (c.origin !== input.origin) {
        return {
          ok: false,
          entries: 0,
          problem: {
            kind: 'checkpoint',
            which: label(ext, i, item),
            message: `origin ${JSON.stringify(c.origin)} is not this log's ${JSON.stringify(input.origin)}`,
          },
        };
      }
      pending.push({ ...c, label: `${label(ext, i, item)} (size ${c.size})`, external: ext });
    }
  }
  pending.sort((a, b) => a.size - b.size);
  for (let i = 1; i < pending.length; i++) {
    if (pending[i].size === pending[i - 1].size && !hashesEqual(pending[i].root, pending[i - 1].root)) {
      return {
        ok: false,
        entries: 0,
        problem: {
          kind: 'checkpoint',
          which: pending[i].label,
          message: `disagrees with ${pending[i - 1].label} on the root of the same size: the log was forked or rolled back`,
        },
      };
    }
  }

  const acc = new RootAccumulator();
  let next = 0;
  let lastGood = 0;
  const check = (): VerifyProblem | undefined => {
    while (next < pending.length && pending[next].size === acc.size) {
      const c = pending[next++];
      if (!hashesEqual(acc.root()!, c.root)) {
        const why = c.external
          ? 'rollback: the log no longer matches a checkpoint published earlier'
          : 'an entry in this range was altered, removed, inserted or reordered';
        return { kind: 'range', from: lastGood, to: c.size, message: `root over entries [${lastGood}, ${c.size}) does not match ${c.label}: ${why}` };
      }
      lastGood = c.size;
    }
    return undefined;
  };
  const early = pending.length > 0 && pending[0].size === 0 ? check() : undefined;
  if (early) return { ok: false, entries: 0, problem: early };

  const checks = input.entryChecks && input.entryChecks.length > 0 ? input.entryChecks : undefined;
  const one = (e: VerifyEntry): VerifyReport | undefined => {
    if (e.index !== acc.size) {
      const message =
        e.index > acc.size
          ? `entry ${acc.size} is missing (next entry is ${e.index}): entries were removed`
          : `entry ${e.index} appears again or out of order after entry ${acc.size - 1}`;
      return { ok: false, entries: acc.size, problem: { kind: 'entry', index: acc.size, message } };
    }
    const leaf = hashLeaf(e.bytes);
    if (e.recordedLeaf && !hashesEqual(leaf, e.recordedLeaf)) {
      return {
        ok: false,
        entries: acc.size,
        problem: {
          kind: 'entry',
          index: e.index,
          message: `entry ${e.index}: its bytes hash to ${toHex(leaf).slice(0, 16)}…, not the leaf ${toHex(e.recordedLeaf).slice(0, 16)}… recorded when it was appended: the entry was altered`,
        },
      };
    }
    if (checks) {
      for (const c of checks) {
        const why = c(e);
        if (why !== undefined) return { ok: false, entries: acc.size, problem: { kind: 'entry', index: e.index, message: `entry ${e.index}: ${why}` } };
      }
    }
    acc.push(leaf);
    const p = next < pending.length ? check() : undefined;
    if (p) return { ok: false, entries: acc.size, problem: p };
    if (input.onProgress && acc.size % 100_000 === 0) input.onProgress(acc.size);
    return undefined;
  };
  for await (const item of input.entries) {
    if (isPage(item)) {
      for (let i = 0; i < item.length; i++) {
        const bad = one(item[i]);
        if (bad) return bad;
      }
    } else {
      const bad = one(item);
      if (bad) return bad;
    }
  }
  if (next < pending.length) {
    const c = pending[next];
    return {
      ok: false,
      entries: acc.size,
      problem: {
        kind: 'checkpoint',
        which: c.label,
        message: `the log has ${acc.size} entries but ${c.label} covers ${c.size}: entries were removed (truncation or rollback)`,
      },
    };
  }
  const root = acc.root();
  const signed = pending.length > 0 ? pending[pending.length - 1].size : 0;
  return { ok: true, entries: acc.size, checkpoints: pending.length, signed, ...(root ? { root: toHex(root) } : {}) };
}
