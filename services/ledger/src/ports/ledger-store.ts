// The ledger's storage port (emmett `EventStore` / tessera storage-driver style). The ledger core
// depends only on these types; adapters/sqlite and adapters/eventstoredb implement them and pass
// one contract suite (adapters/ledger-store.contract.ts).

/**
 * SourcePosition is where an entry came from on the bus: a Kafka topic, partition and offset.
 * `offset` is a bigint because Kafka offsets are 64-bit.
 */
export type SourcePosition = { readonly topic: string; readonly partition: number; readonly offset: bigint };

/** EntryKind: an `event` as a feeder sent it, or a `rejected` record (InputRejected) the ledger wrote for bad input. */
export type EntryKind = 'event' | 'rejected';

/**
 * NewEntry is one entry to append.
 *
 * - `eventId` MUST be unique within the log. Feeders' events carry a UUIDv7; the ledger's own
 *   InputRejected entries get a deterministic id from their source (`rejected:<topic>:<partition>:<offset>`,
 *   see core/ingest.ts), so a replayed bad record is recognised as a duplicate too. It is never null.
 * - `bytes` are exactly the bytes the Merkle leaf hashes (Avro single-object encoding); stores MUST
 *   return them unchanged.
 * - `source` is null only for entries that came from no bus record.
 * - `appendedAt` is epoch milliseconds from the injected clock.
 */
export type NewEntry = {
  readonly eventId: string;
  readonly kind: EntryKind;
  readonly bytes: Uint8Array;
  readonly source: SourcePosition | null;
  readonly appendedAt: number;
};

/** Entry is a stored entry: a NewEntry with its index (0-based, consecutive) in the log. */
export type Entry = {
  readonly index: number;
  readonly eventId: string;
  readonly kind: EntryKind;
  readonly bytes: Buffer;
  readonly source: SourcePosition | null;
  readonly appendedAt: number;
};

/**
 * TileId names a C2SP tlog-tiles tile: tile level L, index N and width W (1..256 hashes).
 * Structurally identical to `TileId` in @affidavit/tlog, so tlog's `integrate()` output is written as is.
 * SPEC: https://c2sp.org/tlog-tiles "<prefix>/tile/<L>/<N>[.p/<W>]"
 */
export type TileId = { readonly level: number; readonly index: number; readonly width: number };

/** TileWrite is a tile to store: its id and `width * 32` bytes of hashes (tlog's `Tile`). */
export type TileWrite = { readonly id: TileId; readonly data: Uint8Array };

/**
 * AppendBatch is what one `append` writes atomically: entries, the tiles they changed, and
 * optionally a signed checkpoint (C2SP signed-note text) for the size after the batch.
 * A batch MAY have no entries (a checkpoint only) but MUST NOT be entirely empty.
 */
export type AppendBatch = {
  readonly entries: readonly NewEntry[];
  readonly tiles?: readonly TileWrite[];
  readonly checkpoint?: string;
};

/**
 * LogTail is where a log ends: `size` entries, and per source partition (key `topic:partition`,
 * see `sourceKey`) the highest source offset recorded, so the ledger resumes consuming at
 * offset + 1 from its own log rather than from committed consumer offsets.
 */
export type LogTail = { readonly size: number; readonly lastSource: Map<string, bigint> };

/** sourceKey is the `lastSource` key of a topic partition. Kafka topic names cannot contain ':', so it is unambiguous. */
export function sourceKey(topic: string, partition: number): string {
  return `${topic}:${partition}`;
}

/** MAX_CHECKPOINT_BYTES bounds a checkpoint note (a C2SP checkpoint is a few hundred bytes). */
export const MAX_CHECKPOINT_BYTES = 64 * 1024;

/**
 * LogStore is one append-only log: entries, the Merkle tree's tiles and signed checkpoints.
 * A log has exactly one writer at a time; `append`'s `expectedSize` fences a second one.
 */
export interface LogStore {
  /** logId is the id the log was opened with. */
  readonly logId: string;

  /**
   * ordersAppends, when true, promises that appends issued before earlier ones resolved are
   * carried out in call order (one queue, as the SQLite stores do), so a writer may have several
   * in flight: each names its `expectedSize`, and once one fails every later one fails with
   * ExpectedSizeConflictError without writing. Absent or false: a writer issues the next append
   * only after the previous one resolved.
   */
  readonly ordersAppends?: boolean;

  /**
   * tail returns the log's size and the highest source offset per source partition.
   * It MUST reflect every append that resolved, including ones made before a restart or by
   * another process on the same store.
   */
  tail(): Promise<LogTail>;

  /**
   * append writes `batch` as one unit. Entry i of the batch gets index `expectedSize + i`.
   *
   * - It MUST be atomic: on any failure nothing of the batch (entries, tiles, checkpoint) is
   *   visible, before or after a crash.
   * - It MUST NOT resolve before the batch is durable (survives a process or machine crash).
   * - It MUST fail with ExpectedSizeConflictError (AFF_E_LEDGER_EXPECTED_SIZE) when the log does
   *   not hold exactly `expectedSize` entries, writing nothing.
   * - It MUST fail with DuplicateEventIdError when an eventId is already in the log or repeated
   *   in the batch, writing nothing. The ledger relies on this check: it drops duplicates of
   *   groups it has in flight itself, and learns of stored ones from this error (then asks
   *   `hasEventIds` which, and appends the group again without them).
   * - A tile MUST only replace a stored tile of the same level and index when it is at least as
   *   wide and its first hashes equal the stored ones; otherwise TileConflictError. A tile write
   *   of the same width and bytes is a no-op.
   * - Bad arguments (negative or unsafe sizes, tiles whose length is not width * 32, offsets
   *   outside 0..2^63-1) fail with LedgerInputInvalidError before anything is written.
   */
  append(batch: AppendBatch, expectedSize: number): Promise<void>;

  /**
   * hasEventIds returns the subset of `ids` already in the log. It MUST answer a batch of
   * thousands of ids in one round trip (not one query per id).
   */
  hasEventIds(ids: readonly string[]): Promise<Set<string>>;

  /**
   * readEntries yields the entries with `from <= index < min(to, size)` in index order.
   * It MUST stream: memory stays bounded whatever the range (pages, not the whole range).
   * `from` and `to` MUST be safe integers with 0 <= from <= to.
   */
  readEntries(from: number, to: number): AsyncIterable<Entry>;

  /**
   * readEntryPages, when a store offers it, yields the same entries as readEntries in arrays (a
   * store page each), for readers of whole logs: one await per page instead of one per entry.
   */
  readEntryPages?(from: number, to: number): AsyncIterable<readonly Entry[]>;

  /**
   * readTiles returns, for each id in order, the tile's bytes (exactly `width * 32`) or
   * undefined when the store has no tile of that level and index at least that wide.
   * A narrower id is answered from the stored wider tile's prefix. Same shape as
   * @affidavit/tlog's `TileReader`, so `log.readTiles` can be passed to `integrate` directly.
   */
  readTiles(ids: readonly TileId[]): Promise<(Uint8Array | undefined)[]>;

  /** checkpoints returns every stored checkpoint note, oldest first. */
  checkpoints(): Promise<string[]>;

  /** latestCheckpoint returns the newest stored checkpoint note, or undefined when there is none. */
  latestCheckpoint(): Promise<string | undefined>;
}

/**
 * LedgerStore holds many logs (one per Kafka partition).
 *
 * `openLog` MUST create the log when it does not exist (size 0) and MUST return a handle on
 * the same stored data for the same id after a restart. Log ids are 1..200 characters of
 * `[A-Za-z0-9._:-]`. `close` releases the store; any later call fails with ShutdownError
 * (AFF_E_SHUTDOWN). The store MUST NOT be shared by two writers of one log except through
 * `expectedSize` fencing.
 */
export interface LedgerStore {
  openLog(logId: string): Promise<LogStore>;
  /** listLogs returns the ids of every log the store holds, in creation order (for export and verify). */
  listLogs(): Promise<string[]>;
  close(): Promise<void>;
}
