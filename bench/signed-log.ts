// The ledger's append path without the bus, for benchmarks that need a large signed ledger file:
// entries go in through integrate (Merkle tiles) and each batch is closed by a signed checkpoint.
import type { LogStore, NewEntry } from '@affidavit/ledger';
import { formatCheckpoint, hashLeaf, integrate, signNote } from '@affidavit/tlog';
import type { NoteSigner } from '@affidavit/tlog';

/**
 * appendSigned appends `n` entries to an empty `log`, `entryAt(i)` giving entry i (called once
 * per entry, in order), in batches of `batch` (default 10,000), each ending in a checkpoint
 * signed by `signer` for `origin`.
 */
export async function appendSigned(
  log: LogStore,
  n: number,
  entryAt: (i: number) => NewEntry,
  o: { readonly origin: string; readonly signer: NoteSigner; readonly batch?: number },
): Promise<void> {
  const batch = o.batch ?? 10_000;
  for (let size = 0; size < n; ) {
    const from = size;
    const entries = Array.from({ length: Math.min(batch, n - size) }, (_, i) => entryAt(from + i));
    const res = await integrate(
      log.readTiles.bind(log),
      size,
      entries.map((e) => hashLeaf(e.bytes)),
    );
    const checkpoint = await signNote(formatCheckpoint({ origin: o.origin, size: res.size, root: res.root, extensions: [] }), [o.signer]);
    await log.append({ entries, tiles: res.tiles, checkpoint }, size);
    size = res.size;
  }
}
