// The SIEM projector: its own reader of the ledger, resuming from its own stored position, that
// publishes every entry once as OCSF JSON to Kafka.
//
// Only entries covered by a signed checkpoint are projected, so every object names a checkpoint
// a verifier can check its inclusion against; the lag this adds is the ledger's checkpoint
// interval. Per log, entries go out in index order, a batch at a time: the batch is published
// (the bus resolves only after acks=all on an idempotent producer), and only then is the position
// after it committed. A crash between the two re-sends that batch on restart with the same
// `metadata.uid`s; a broker outage is waited out with the batch held, nothing skipped.
//
// "Covered" is checked, not assumed: the entries of a batch are hashed into the tree (a compact
// range from the stored tiles before the batch) up to a checkpoint's size, and that root must be
// the one the checkpoint signs before any of them goes out. An entry edited in the ledger file
// after it was checkpointed is never named to a SIEM as proven by that checkpoint.
import { createLogger, type Logger } from '@affidavit/common';
import type { Bus, OutgoingRecord } from '@affidavit/bus';
import type { LedgerStore, LogStore } from '@affidavit/ledger';
import { codec, TOPICS, type LedgerRecord } from '@affidavit/schemas';
import { encodeBase64, extendRange, hashLeaf, readCompactRange, rangeRoot, tileNodeReader, type CompactRange, type NoteVerifier } from '@affidavit/tlog';
import { CheckpointIndex, checkpointOfNote } from './covering-checkpoint.ts';
import { SiemEntryUnverifiedError, SiemPositionAheadError, SiemPublishRejectedError } from './errors.ts';
import { type CoveringCheckpoint, type LedgerEntryInput, mapEntry, type OcsfEvent, type Product, siemKeyOf } from './ocsf/map-entry.ts';
import type { PositionStore } from './ports/position-store.ts';
import pkg from '../package.json' with { type: 'json' };

/** SiemProjectorOptions tunes the projector; every field has a default. */
export type SiemProjectorOptions = {
  /** topic receives the OCSF objects. Default affidavit.siem.ocsf.v1. */
  readonly topic?: string;
  /** batchEntries is how many entries are published before one position commit. Default 5 000. */
  readonly batchEntries?: number;
  /** recordsPerPublish bounds one publish() call; a batch is sent as several concurrent calls. Default 500. */
  readonly recordsPerPublish?: number;
  /**
   * bytesPerPublish bounds the values of one publish() call (a call with one larger record goes
   * alone). Kafka refuses a partition's record batch over its max.message.bytes (1 MiB by
   * default), so many large statements in one call could otherwise stop the feed. Default 768 KiB
   * (the bus adapter's largest shared produce request).
   */
  readonly bytesPerPublish?: number;
  /** pollMs is the pause between looks at the ledger once caught up. Default 500. */
  readonly pollMs?: number;
  /** retryMs is the pause before a batch the broker did not acknowledge is sent again. Default 1 000. */
  readonly retryMs?: number;
  /** maxRecordBytes: an object larger than this is sent reduced (see `reduce`). Default 900 KiB, under Kafka's 1 MiB default. */
  readonly maxRecordBytes?: number;
  /** product is what `metadata.product` names. Default Affidavit, this package's version. */
  readonly product?: Product;
};

/** SiemProjectorDeps are the projector's ports. */
export type SiemProjectorDeps = {
  readonly store: LedgerStore;
  readonly bus: Bus;
  readonly positions: PositionStore;
  readonly logger?: Logger;
  /**
   * verifier is the ledger's checkpoint key. When given, every checkpoint MUST verify with it
   * before any entry it covers is published (AFF_E_SIEM_CHECKPOINT_UNVERIFIED otherwise).
   */
  readonly verifier?: NoteVerifier;
  /** decode turns entry bytes into a record (default: the event codec); injected for tests. */
  readonly decode?: (bytes: Uint8Array) => LedgerRecord;
};

/** SiemStats are counters for logs and tests. */
export type SiemStats = { projected: number; batches: number; retries: number; positions: Record<string, number>; covered: Record<string, number> };

const DEFAULTS = {
  topic: TOPICS.siemOcsf,
  batchEntries: 5_000,
  recordsPerPublish: 500,
  bytesPerPublish: 768 * 1024,
  pollMs: 500,
  retryMs: 1_000,
  maxRecordBytes: 900 * 1024,
  product: { name: 'Affidavit', vendorName: 'Affidavit', version: pkg.version },
} as const;

/** BATCHES_PER_TURN is how many batches one log may publish before the next log's turn. */
const BATCHES_PER_TURN = 20;

/** Tree is the ledger's tree as a batch hashes it: the compact range, the leaves not yet in it, where the unchecked part starts. */
type Tree = { range: CompactRange; leaves: Uint8Array[]; from: number };

type LogCursor = { store: LogStore; note?: string; checkpoints: CoveringCheckpoint[]; index: CheckpointIndex };

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });

/** chunk splits records into runs of at most `maxRecords` records and `maxBytes` value bytes (a larger single record runs alone), in order. */
export function chunk(records: readonly OutgoingRecord[], maxRecords: number, maxBytes: number): OutgoingRecord[][] {
  const out: OutgoingRecord[][] = [];
  let run: OutgoingRecord[] = [];
  let bytes = 0;
  for (const r of records) {
    if (run.length > 0 && (run.length >= maxRecords || bytes + r.value.length > maxBytes)) {
      out.push(run);
      run = [];
      bytes = 0;
    }
    run.push(r);
    bytes += r.value.length;
  }
  if (run.length > 0) out.push(run);
  return out;
}

/**
 * reduce shrinks an object that would not fit in one Kafka record: the bulky free-form parts
 * (query_info.data, the extra fields in unmapped) go, the class, ids, ledger position and
 * checkpoint stay, and `unmapped.affidavit.reduced` says so. The ledger keeps the full event.
 */
export function reduce(ev: OcsfEvent, bytes: number): OcsfEvent {
  const out: OcsfEvent = { ...ev };
  if (out.query_info && typeof out.query_info === 'object') {
    const { data: _data, ...rest } = out.query_info as Record<string, unknown>;
    out.query_info = { ...rest, query_string: String(rest.query_string ?? '').slice(0, 4096) };
  }
  const aff = ((ev.unmapped as { affidavit?: Record<string, unknown> } | undefined)?.affidavit ?? {}) as Record<string, unknown>;
  out.unmapped = {
    affidavit: {
      ledger: aff.ledger,
      checkpoint: aff.checkpoint,
      session_id: aff.session_id,
      seq: aff.seq,
      event_type: aff.event_type,
      reduced: { original_bytes: bytes },
    },
  };
  delete out.raw_data;
  return out;
}

/**
 * SiemProjector projects a ledger store onto the SIEM topic. `runOnce` catches up with what the
 * checkpoints cover and returns; `start` keeps following until `stop`.
 *
 * Guarantees: every entry is published (none skipped, whatever its content: undecodable entries
 * become Base Events); a position is committed only after the broker acknowledged every record
 * before it. Per session (Kafka key), records are published in ledger order, except that a call
 * retried after a partial failure lands after the later calls of its batch that had succeeded
 * (re-sending those too would duplicate them); `unmapped.affidavit.ledger.index` and `seq` give
 * the order.
 */
export class SiemProjector {
  readonly #opts: Required<SiemProjectorOptions>;
  readonly #deps: SiemProjectorDeps;
  readonly #log: Logger;
  readonly #decode: (bytes: Uint8Array) => LedgerRecord;
  readonly #cursors = new Map<string, LogCursor>();
  #positions = new Map<string, number>();
  #loaded = false;
  readonly #abort = new AbortController();
  #running: Promise<void> | undefined;
  readonly #stats: SiemStats = { projected: 0, batches: 0, retries: 0, positions: {}, covered: {} };

  constructor(opts: SiemProjectorOptions, deps: SiemProjectorDeps) {
    this.#opts = { ...DEFAULTS, ...opts } as Required<SiemProjectorOptions>;
    this.#deps = deps;
    this.#log = deps.logger ?? createLogger({ name: 'siem' });
    this.#decode = deps.decode ?? ((b) => codec().decode(b));
  }

  /** stats returns a copy of the counters. */
  stats(): SiemStats {
    return structuredClone(this.#stats);
  }

  /** runOnce projects every checkpoint-covered entry not yet projected, then resolves with how many it published. */
  async runOnce(): Promise<number> {
    if (!this.#loaded) {
      this.#positions = new Map(await this.#deps.positions.load());
      this.#loaded = true;
    }
    // Round robin over the logs, a bounded number of batches each, so one log's backlog does
    // not hold the others' entries back.
    let published = 0;
    for (;;) {
      let round = 0;
      for (const logId of await this.#deps.store.listLogs()) {
        if (this.#abort.signal.aborted) return published;
        round += await this.#projectLog(logId, BATCHES_PER_TURN);
      }
      published += round;
      if (round === 0) return published;
    }
  }

  /** start follows the ledger until stop(); a failure that retrying cannot fix rejects `done`. */
  start(): { done: Promise<void> } {
    this.#running ??= (async () => {
      while (!this.#abort.signal.aborted) {
        let n = 0;
        try {
          n = await this.runOnce();
        } catch (err) {
          // A passing failure (the store busy, a read timing out) is waited out; anything else
          // (a position that does not fit, a refused publish) stops the projector.
          if ((err as { retriable?: boolean }).retriable !== true) throw err;
          this.#log.warn({ err }, 'reading the ledger failed; retrying');
          await sleep(this.#opts.retryMs, this.#abort.signal);
          continue;
        }
        if (n === 0) await sleep(this.#opts.pollMs, this.#abort.signal);
      }
    })();
    return { done: this.#running };
  }

  /** stop lets the batch in flight finish (or give up its retry, uncommitted) and resolves when the loop ended. */
  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#running?.catch(() => {});
  }

  async #cursor(logId: string): Promise<LogCursor> {
    let c = this.#cursors.get(logId);
    if (!c) {
      c = { store: await this.#deps.store.openLog(logId), checkpoints: [], index: new CheckpointIndex([]) };
      this.#cursors.set(logId, c);
    }
    const latest = await c.store.latestCheckpoint();
    if (latest !== undefined && latest !== c.note) {
      // Re-read the list only when a new checkpoint arrived: the ledger writes one per interval.
      // Checkpoints only accumulate (oldest first): parse and verify just the new ones.
      const notes = await c.store.checkpoints();
      for (const note of notes.slice(c.checkpoints.length)) c.checkpoints.push(checkpointOfNote(note, this.#deps.verifier));
      c.index = new CheckpointIndex([...c.checkpoints]);
      c.note = latest;
    }
    return c;
  }

  async #projectLog(logId: string, maxBatches: number): Promise<number> {
    const c = await this.#cursor(logId);
    let pos = this.#positions.get(logId) ?? 0;
    const covered = c.index.size;
    this.#stats.covered[logId] = covered;
    if (pos > covered) {
      const { size } = await c.store.tail();
      if (pos > size) {
        throw new SiemPositionAheadError(
          `the position of log ${logId} is ${pos} but the ledger holds ${size} entries: this ledger is not the one projected before (replaced or rolled back); refusing to continue`,
        );
      }
      return 0;
    }
    let published = 0;
    const batch = (from: number) => {
      if (from >= covered) return undefined;
      // End the batch on a checkpoint when one falls inside it: its entries are then checked
      // against that root without reading past the batch.
      const limit = Math.min(covered, from + this.#opts.batchEntries);
      const p = this.#mapRange(c, logId, from, c.index.boundaryIn(from, limit) ?? limit);
      // Awaited below unless the loop ends first (stop, a refused publish): never unhandled.
      p.catch(() => {});
      return p;
    };
    let next = batch(pos);
    let turns = maxBatches;
    while (next && !this.#abort.signal.aborted) {
      const records = await next;
      const from = pos;
      const commit = async (acknowledged: number) => {
        if (from + acknowledged <= pos) return;
        this.#positions.set(logId, from + acknowledged);
        await this.#deps.positions.commit(this.#positions);
        published += from + acknowledged - pos;
        this.#stats.projected += from + acknowledged - pos;
        this.#stats.positions[logId] = from + acknowledged;
        pos = from + acknowledged;
      };
      const sending = this.#publish(records, commit);
      // Map the following batch while this one is on the wire (started first, so its records are
      // handed to the producer before the mapping takes the thread): the broker's acknowledgement
      // is a wait on I/O that the mapping fills. One batch is published at a time, so positions
      // still commit in order.
      next = --turns > 0 ? batch(from + records.length) : undefined;
      const done = await sending;
      this.#stats.batches++;
      if (!done) break;
    }
    return published;
  }

  async #mapRange(c: LogCursor, logId: string, from: number, to: number): Promise<OutgoingRecord[]> {
    const out: OutgoingRecord[] = [];
    let expected = from;
    // The tree before the batch, from the stored tiles: were they changed, no checkpoint root
    // would come out of them below, so they need no trust of their own.
    const tree: Tree = {
      range: await readCompactRange(
        tileNodeReader((ids) => c.store.readTiles(ids), c.index.size),
        from,
      ),
      from,
      leaves: [],
    };
    for await (const e of c.store.readEntries(from, to)) {
      // The store promises consecutive indexes; a gap would mean a silently skipped entry.
      if (e.index !== expected) throw new SiemPositionAheadError(`log ${logId}: expected entry ${expected}, the store returned ${e.index}`);
      expected++;
      this.#hashInto(c, logId, tree, e.bytes);
      let record: LedgerRecord | undefined;
      let decodeError: { code: string; message: string } | undefined;
      try {
        record = this.#decode(e.bytes);
      } catch (err) {
        decodeError = { code: String((err as { code?: string }).code ?? 'AFF_E_UNKNOWN'), message: (err as Error).message };
      }
      const input: LedgerEntryInput = {
        log: logId,
        index: e.index,
        eventId: e.eventId,
        appendedAt: e.appendedAt,
        bytes: e.bytes,
        record,
        decodeError,
        checkpoint: c.index.covering(e.index)!,
      };
      const ev = mapEntry(input, this.#opts.product);
      let value = Buffer.from(JSON.stringify(ev));
      if (value.length > this.#opts.maxRecordBytes) value = Buffer.from(JSON.stringify(reduce(ev, value.length)));
      out.push({ key: siemKeyOf(input), value });
    }
    if (expected !== to) throw new SiemPositionAheadError(`log ${logId}: the store returned entries up to ${expected}, not ${to}`);
    // The batch ended between checkpoints: hash on to the one covering its last entry.
    const end = c.index.covering(to - 1)?.size ?? to;
    for await (const e of c.store.readEntries(to, end)) {
      if (e.index !== expected) throw new SiemPositionAheadError(`log ${logId}: expected entry ${expected}, the store returned ${e.index}`);
      expected++;
      this.#hashInto(c, logId, tree, e.bytes);
    }
    if (tree.range.size + tree.leaves.length < end)
      throw new SiemPositionAheadError(`log ${logId}: the store returned entries up to ${tree.range.size}, not ${end}`);
    return out;
  }

  /** hashInto appends one entry's leaf hash and, once the tree reaches a checkpoint's size, checks the root it signs. */
  #hashInto(c: LogCursor, logId: string, tree: Tree, bytes: Uint8Array): void {
    tree.leaves.push(hashLeaf(bytes));
    const size = tree.range.size + tree.leaves.length;
    const signed = c.index.rootAt(size);
    if (signed === undefined) return;
    // Leaves join the range a checkpoint interval at a time: one copy of the range per interval.
    tree.range = extendRange(tree.range, tree.leaves);
    tree.leaves = [];
    if (encodeBase64(rangeRoot(tree.range)) !== signed)
      throw new SiemEntryUnverifiedError(
        `log ${logId}: entries ${tree.from} to ${size - 1} do not hash to the root signed for tree size ${size}: the ledger file was changed after that checkpoint; nothing of it is published`,
      );
    tree.from = size;
  }

  /**
   * publish sends the records as concurrent calls (the bus carries them in call order, so per
   * key order holds) and retries only the calls that failed, until every call is acknowledged.
   * After each round it commits the acknowledged prefix (`commit(n)`: the first n records are
   * on the broker), so neither a stop nor a crash during an outage re-sends what was
   * acknowledged. Returns false when stopped before every call was acknowledged.
   */
  async #publish(records: OutgoingRecord[], commit: (acknowledged: number) => Promise<void>): Promise<boolean> {
    const chunks = chunk(records, this.#opts.recordsPerPublish, this.#opts.bytesPerPublish);
    const acked = chunks.map(() => false);
    const prefix = () => {
      let count = 0;
      for (let i = 0; i < chunks.length && acked[i]; i++) count += chunks[i].length;
      return count;
    };
    for (;;) {
      const pending = chunks.flatMap((_, i) => (acked[i] ? [] : [i]));
      const results = await Promise.allSettled(pending.map((i) => this.#deps.bus.publish(this.#opts.topic, chunks[i], { transfer: true })));
      let rejected: unknown;
      results.forEach((r, j) => {
        if (r.status === 'fulfilled') acked[pending[j]] = true;
        else rejected ??= r.reason;
      });
      await commit(prefix());
      if (rejected === undefined) return true;
      const err = rejected as { retriable?: boolean; code?: string; message?: string };
      if (err.retriable !== true) {
        throw new SiemPublishRejectedError(
          `publishing to ${this.#opts.topic} failed and retrying will not help: ${err.code ?? ''} ${err.message ?? String(err)}`,
          {
            cause: rejected,
          },
        );
      }
      this.#stats.retries++;
      this.#log.warn({ err: rejected, calls: acked.filter((a) => !a).length }, 'the broker did not acknowledge; retrying');
      if (this.#abort.signal.aborted) return false;
      await sleep(this.#opts.retryMs, this.#abort.signal);
      if (this.#abort.signal.aborted) return false;
    }
  }
}
