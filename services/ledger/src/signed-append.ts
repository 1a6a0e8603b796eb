// The ledger's append path without the bus: entries go in through integrate (Merkle tiles) and
// each batch is closed by a signed checkpoint. For building ledger files with known content
// (tests, benchmarks, fixtures); the ledger service itself appends what it consumes from Kafka.
import type { LogStore, NewEntry } from './ports/ledger-store.ts';
import { formatCheckpoint, hashLeaf, integrate, signNote } from '@affidavit/tlog';
import type { NoteSigner } from '@affidavit/tlog';

/** SignedAppendOptions: the checkpoint origin and key, the batch size (default 10,000), and which batches to leave unsigned. */
export type SignedAppendOptions = {
  readonly origin: string;
  readonly signer: NoteSigner;
  readonly batch?: number;
  /** unsigned: no checkpoint for any batch (true), or for the last one ('last'): its entries are past the newest checkpoint. */
  readonly unsigned?: boolean | 'last';
};

/**
 * appendSigned appends `n` entries to `log` after what it holds, `entryAt(i)` giving entry i
 * (called once per entry, in order), in batches, each ending in a checkpoint signed by `signer`
 * for `origin` (see `unsigned`).
 */
export async function appendSigned(log: LogStore, n: number, entryAt: (i: number) => NewEntry, o: SignedAppendOptions): Promise<void> {
  const batch = o.batch ?? 10_000;
  let size = (await log.tail()).size;
  for (let done = 0; done < n; ) {
    const from = done;
    const entries = Array.from({ length: Math.min(batch, n - done) }, (_, i) => entryAt(from + i));
    const res = await integrate(
      log.readTiles.bind(log),
      size,
      entries.map((e) => hashLeaf(e.bytes)),
    );
    done += entries.length;
    const sign = o.unsigned === undefined || o.unsigned === false || (o.unsigned === 'last' && done < n);
    const checkpoint = sign ? await signNote(formatCheckpoint({ origin: o.origin, size: res.size, root: res.root, extensions: [] }), [o.signer]) : undefined;
    await log.append({ entries, tiles: res.tiles, ...(checkpoint !== undefined ? { checkpoint } : {}) }, size);
    size = res.size;
  }
}
