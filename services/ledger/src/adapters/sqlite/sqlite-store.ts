import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import { ShutdownError, validateOptions } from '@affidavit/common';
import { DuplicateEventIdError, ExpectedSizeConflictError, LedgerInputInvalidError, StoreUnreadableError } from '../../store-errors.ts';
import type { AppendBatch, Entry, LedgerStore, LogStore, LogTail, NewEntry, TileId } from '../../ports/ledger-store.ts';
import { sourceKey } from '../../ports/ledger-store.ts';
import { assertAppend, assertEventIds, assertLogId, assertRange, assertTileId } from '../../ports/validate-append.ts';
import { PRAGMAS, checkVersion, migrate } from './sqlite-schema.ts';
import { translateSqliteError } from './sqlite-errors.ts';
import { BUNDLE_WIDTH, eventIdKey, formatUuid, frameEntries, parseBundle, uuidBytesInto } from './entry-bundle.ts';
import type { FramedEntries } from './entry-bundle.ts';

/** DEFAULT_BUSY_TIMEOUT_MS is how long an append waits for another process's write lock before failing (retriable). */
export const DEFAULT_BUSY_TIMEOUT_MS = 5_000;
/**
 * DEFAULT_READ_PAGE is how many entries readEntries fetches per query, rounded up to whole entry
 * bundles of 256: memory stays bounded by one page of bundles.
 */
export const DEFAULT_READ_PAGE = 256;

/** SqliteLedgerStoreOptions configures the embedded store: one SQLite file holding every log. */
export type SqliteLedgerStoreOptions = {
  /** path of the database file; created when missing (its directory must exist). */
  path: string;
  /** readOnly opens an existing file without ever writing to it (export, verify); openLog of an unknown log then fails. */
  readOnly?: boolean;
  busyTimeoutMs?: number;
  readPageSize?: number;
};

/** SQLITE_OPTIONS_SCHEMA validates SqliteLedgerStoreOptions (the worker-backed store checks its options with it on the calling thread). */
export const SQLITE_OPTIONS_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['path'],
  properties: {
    path: { type: 'string', minLength: 1, maxLength: 4096 },
    readOnly: { type: 'boolean', default: false },
    busyTimeoutMs: { type: 'integer', minimum: 0, maximum: 600_000, default: DEFAULT_BUSY_TIMEOUT_MS },
    readPageSize: { type: 'integer', minimum: 1, maximum: 100_000, default: DEFAULT_READ_PAGE },
  },
};

/** ID_CHUNKS are the row counts of the multi-row eventId inserts, largest first; a batch is cut into them greedily. */
const ID_CHUNKS = [128, 16, 1] as const;

/** SCRATCH_MAX bounds the framing buffer a log handle keeps between appends. */
const SCRATCH_MAX = 8 * 1024 * 1024;

/** Statements are prepared once per store and reused on the hot path. */
type Statements = ReturnType<typeof prepare>;

function prepare(db: DatabaseSync) {
  return {
    insertLog: db.prepare('INSERT INTO logs (log_id) VALUES (?) ON CONFLICT (log_id) DO NOTHING'),
    selectLog: db.prepare('SELECT log FROM logs WHERE log_id = ?'),
    listLogs: db.prepare('SELECT log_id FROM logs ORDER BY log'),
    // The last whole bundle: the log's size when it has no partial bundle.
    lastBundle: db.prepare('SELECT idx, count FROM bundles WHERE log = ? ORDER BY idx DESC LIMIT 1'),
    selectBundles: db.prepare('SELECT idx, count, data FROM bundles WHERE log = ? AND idx >= ? AND idx < ? ORDER BY idx LIMIT ?'),
    insertBundle: db.prepare('INSERT INTO bundles (log, idx, count, data) VALUES (?, ?, ?, ?)'),
    // The partial bundle's fragments (schema version 4): its index, entry count and byte length,
    // from the (log, idx, first) index and each blob's header, without loading overflow pages.
    tailSummary: db.prepare(
      'SELECT idx, max(first + count) AS count, sum(length(data)) AS len FROM bundle_tail WHERE log = ? GROUP BY idx ORDER BY idx DESC LIMIT 1',
    ),
    selectFragments: db.prepare('SELECT first, count, data FROM bundle_tail WHERE log = ? AND idx = ? ORDER BY first'),
    // Fires bundle_tail_contiguous: refused unless it starts where the partial bundle ends.
    insertFragment: db.prepare('INSERT INTO bundle_tail (log, idx, first, count, data) VALUES (?, ?, ?, ?, ?)'),
    // Fires bundle_tail_no_delete: refused unless the bundle is stored whole.
    deleteFragments: db.prepare('DELETE FROM bundle_tail WHERE log = ? AND idx = ?'),
    // eventIds go in ID_CHUNKS rows per statement: node:sqlite's cost per run() (bind, step, reset,
    // result object) is most of a small row's insert cost, so one statement per entry would cost
    // more than the rest of the append together.
    insertEventIds: ID_CHUNKS.map((rows) =>
      db.prepare(`INSERT INTO event_ids (log, event_id, idx) VALUES ${Array.from({ length: rows }, () => '(?, ?, ?)').join(', ')}`),
    ),
    // A run of UUID keys (the common case) is bound as ONE blob of 16-byte keys cut by substr():
    // cheaper per row than binding a view per key (bench/ledger.ts).
    insertUuids: ID_CHUNKS.map((rows) =>
      db.prepare(
        `INSERT INTO event_ids (log, event_id, idx) VALUES ${Array.from({ length: rows }, (_, j) => `(?1, substr(?2, ${j * 16 + 1}, 16), ?3 + ${j})`).join(', ')}`,
      ),
    ),
    // One query for a whole batch of ids (the port asks for one round trip): two JSON arrays,
    // canonical UUIDs (unhex() drops their dashes) and other ids, expanded by json_each, each
    // value probing the (log, event_id) key.
    hasIds: db.prepare(
      "SELECT event_id FROM event_ids WHERE log = ?1 AND event_id IN (SELECT unhex(value, '-') FROM json_each(?2) UNION ALL SELECT value FROM json_each(?3))",
    ),
    insertTopic: db.prepare('INSERT INTO topics (name) VALUES (?) ON CONFLICT (name) DO NOTHING'),
    selectTopic: db.prepare('SELECT topic FROM topics WHERE name = ?'),
    selectTopicName: db.prepare('SELECT name FROM topics WHERE topic = ?'),
    upsertSource: db.prepare(
      'INSERT INTO sources (log, topic, partition, max_offset) VALUES (?, ?, ?, ?) ' +
        'ON CONFLICT (log, topic, partition) DO UPDATE SET max_offset = excluded.max_offset WHERE excluded.max_offset > sources.max_offset',
    ),
    // Offsets are 64-bit; read them as bigint so nothing past 2^53 is rounded.
    selectSources: bigInts(db.prepare('SELECT topic, partition, max_offset FROM sources WHERE log = ?')),
    // The UPDATE branch fires the tiles_grow_only trigger, which refuses a narrower tile or a changed prefix.
    upsertTile: db.prepare(
      'INSERT INTO tiles (log, level, idx, width, hashes) VALUES (?, ?, ?, ?, ?) ' +
        'ON CONFLICT (log, level, idx) DO UPDATE SET width = excluded.width, hashes = excluded.hashes',
    ),
    selectTile: db.prepare('SELECT width, hashes FROM tiles WHERE log = ? AND level = ? AND idx = ?'),
    insertCheckpoint: db.prepare('INSERT INTO checkpoints (log, size, note) VALUES (?, ?, ?)'),
    selectCheckpoints: db.prepare('SELECT note FROM checkpoints WHERE log = ? ORDER BY id'),
    latestCheckpoint: db.prepare('SELECT note FROM checkpoints WHERE log = ? ORDER BY id DESC LIMIT 1'),
  };
}

function bigInts(s: StatementSync): StatementSync {
  s.setReadBigInts(true);
  return s;
}

const toBuffer = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

/**
 * openSqliteLedgerStore opens (creating when missing) the embedded ledger file: WAL journal,
 * `synchronous=FULL`, schema checked or created (a version 3 file upgraded). Every log lives in
 * this one file, its entries 256 to a row as entry bundles, the last partial bundle as one
 * fragment per append (entry-bundle.ts; layout in sqlite-schema.ts).
 *
 * Cost per appended entry: its share of one bundle row (written once, as a fragment, and once
 * more in its whole bundle), plus one small `event_ids` row inserted in multi-row statements;
 * the log's size is two index seeks, and the partial bundle is kept in memory per log handle
 * (checked against the file inside every write transaction).
 *
 * Durability: each `append` is one `BEGIN IMMEDIATE … COMMIT` transaction and resolves after the
 * commit, which with synchronous=FULL has fsynced the WAL. Fencing: the log's size is read inside
 * that write transaction, so two processes appending to one log cannot both pass the check.
 */
export async function openSqliteLedgerStore(options: SqliteLedgerStoreOptions): Promise<LedgerStore> {
  const opts = validateOptions<Required<SqliteLedgerStoreOptions>>(SQLITE_OPTIONS_SCHEMA, options, { name: 'sqlite ledger store options' });
  let db: DatabaseSync;
  let st: Statements;
  try {
    db = new DatabaseSync(opts.path, { timeout: opts.busyTimeoutMs, readOnly: opts.readOnly });
  } catch (e) {
    throw translateSqliteError(e, `opening ${opts.path}`);
  }
  try {
    if (!opts.readOnly) {
      for (const p of PRAGMAS) db.exec(p);
      migrate(db);
    } else if (!checkVersion(db)) {
      throw new StoreUnreadableError(`${opts.path} holds no Affidavit ledger`);
    }
    st = prepare(db);
  } catch (e) {
    db.close();
    throw translateSqliteError(e, `opening ${opts.path}`);
  }
  let closed = false;
  const topics = topicCache(st);
  const ensureOpen = () => {
    if (closed) throw new ShutdownError('the ledger store is closed');
  };
  return {
    async openLog(logId: string): Promise<LogStore> {
      ensureOpen();
      assertLogId(logId);
      try {
        if (!opts.readOnly) st.insertLog.run(logId);
        const row = st.selectLog.get(logId);
        if (!row) throw new LedgerInputInvalidError(`no log ${logId} in ${opts.path}`);
        return sqliteLogStore(db, st, topics, logId, Number(row!.log), Math.ceil(opts.readPageSize / BUNDLE_WIDTH), ensureOpen);
      } catch (e) {
        throw translateSqliteError(e, `opening log ${logId}`);
      }
    },
    async listLogs(): Promise<string[]> {
      ensureOpen();
      return (st.listLogs.all() as { log_id: string }[]).map((r) => r.log_id);
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      db.close();
    },
  };
}

/** TopicCache maps source topic names to their `topics` row ids and back; shared by every log of a store. */
type TopicCache = ReturnType<typeof topicCache>;

function topicCache(st: Statements) {
  // Only committed rows are cached; a topic row is never renamed or deleted (triggers), so the
  // cache never goes stale.
  const ids = new Map<string, number>();
  const names = new Map<number, string>();
  return {
    /** ref returns a registered topic's id (register() ran for it first). */
    ref: (name: string): number => ids.get(name)!,
    /** name returns the topic of a row id, or undefined when `topics` has no such row. */
    name: (ref: number): string | undefined => {
      let n = names.get(ref);
      if (n === undefined) {
        const row = st.selectTopicName.get(ref);
        if (row === undefined) return undefined;
        n = String(row.name);
        names.set(ref, n);
        ids.set(n, ref);
      }
      return n;
    },
    /**
     * register makes sure every source topic of the batch has its `topics` row, in its own small
     * commit before the batch's transaction: a topic row is harmless if the append then fails.
     * After the first batch of a topic this is one map lookup per entry.
     */
    register: (batch: AppendBatch): void => {
      let last: string | undefined;
      for (const e of batch.entries) {
        const name = e.source?.topic;
        if (name === undefined || name === last || ids.has(name)) continue;
        last = name;
        st.insertTopic.run(name);
        const ref = Number(st.selectTopic.get(name)!.topic);
        ids.set(name, ref);
        names.set(ref, name);
      }
    },
  };
}

/**
 * TailBundle is the log's last, partial bundle as this handle last saw it committed: bundle
 * `idx` holding `count` (0..255) entries framed in `data`; `size` = idx * 256 + count. When the
 * last stored bundle is full, the tail is the empty bundle after it.
 */
type TailBundle = { readonly size: number; readonly idx: number; readonly count: number; readonly data: Buffer };

const EMPTY = Buffer.alloc(0);

function sqliteLogStore(
  db: DatabaseSync,
  st: Statements,
  topics: TopicCache,
  logId: string,
  log: number,
  bundlePage: number,
  ensureOpen: () => void,
): LogStore {
  const where = (idx: number) => `log ${logId} entry bundle ${idx} (entries from ${idx * BUNDLE_WIDTH})`;

  /**
   * fence reads the stored tail in two index seeks (no bundle data): the log's size and the
   * partial bundle's index, count and byte length (the sum over its fragments).
   */
  const fence = (): { size: number; idx: number; count: number; len: number } => {
    const t = st.tailSummary.get(log);
    if (t !== undefined) {
      const idx = Number(t.idx);
      const count = Number(t.count);
      return { size: idx * BUNDLE_WIDTH + count, idx, count, len: Number(t.len) };
    }
    const row = st.lastBundle.get(log);
    if (row === undefined) return { size: 0, idx: 0, count: 0, len: 0 };
    const idx = Number(row.idx) + 1;
    return { size: (idx - 1) * BUNDLE_WIDTH + Number(row.count), idx, count: 0, len: 0 };
  };

  /**
   * partialData reads bundle idx's fragments, checked to be contiguous from record 0 and to hold
   * `count` records in all (when given), and returns their bytes back to back: the bundle's data.
   */
  const partialData = (idx: number, count?: number): { data: Buffer; count: number } => {
    const rows = st.selectFragments.all(log, idx);
    const parts: Buffer[] = [];
    let n = 0;
    for (const r of rows) {
      if (Number(r.first) !== n || !(r.data instanceof Uint8Array))
        throw new StoreUnreadableError(`${where(idx)} is malformed: its fragments do not follow each other (the ledger file was altered or is corrupt)`);
      n += Number(r.count);
      parts.push(toBuffer(r.data));
    }
    if (count !== undefined && n !== count) throw new StoreUnreadableError(`${where(idx)} changed while it was being read`);
    return { data: parts.length === 1 ? parts[0] : Buffer.concat(parts), count: n };
  };

  /** loadTail reads the partial bundle from the file, strictly parsed, so an append never extends a malformed bundle. */
  const loadTail = (idx: number, count: number): TailBundle => {
    if (count === 0) return { size: idx * BUNDLE_WIDTH, idx, count, data: EMPTY };
    const { data } = partialData(idx, count);
    parseBundle(data, count, where(idx), topics.name);
    // Copied: node:sqlite's blob may be a view the next query reuses, and the handle keeps this.
    return { size: idx * BUNDLE_WIDTH + count, idx, count, data: Buffer.from(data) };
  };

  // The tail as of this handle's last commit (or load). Single writer per log: it saves reading
  // the partial bundle back on every append. It is trusted only while the stored size and the
  // partial bundle's byte length match it (checked inside the write transaction); otherwise
  // (another writer appended, or a commit's outcome is unknown) it is reloaded from the file.
  // Stored bytes never change (bundles_grow_only), so equal size and length means equal bytes.
  let cached: TailBundle | undefined;

  // The buffer an append frames its batch into, reused (mapping fresh memory for every batch
  // showed in profiles); a batch over SCRATCH_MAX gets its own buffer, so one huge batch does not
  // pin memory for the life of the handle.
  let scratchBuf = Buffer.alloc(0);
  const scratch = (size: number): Buffer => {
    if (size > SCRATCH_MAX) return Buffer.allocUnsafe(size);
    if (scratchBuf.length < size) scratchBuf = Buffer.allocUnsafe(Math.min(SCRATCH_MAX, Math.max(size, scratchBuf.length * 2)));
    return scratchBuf.subarray(0, size);
  };

  const idArgs: unknown[] = new Array(ID_CHUNKS[0] * 3);
  /** insertEventIds inserts every entry's eventId key with its index, in multi-row statements; a duplicate is named. */
  const insertEventIds = (f: FramedEntries, entries: readonly NewEntry[], first: number): void => {
    const n = entries.length;
    let i = 0;
    for (let c = 0; c < ID_CHUNKS.length; c++) {
      const rows = ID_CHUNKS[c];
      for (; n - i >= rows; i += rows) {
        let uuids = true;
        for (let j = 0; j < rows && uuids; j++) uuids = f.isUuid[i + j] === 1;
        try {
          if (uuids) {
            st.insertUuids[c].run(log, f.uuids.subarray(i * 16, (i + rows) * 16), first + i);
          } else {
            const args = rows === ID_CHUNKS[0] ? idArgs : new Array(rows * 3);
            for (let j = 0; j < rows; j++) {
              args[3 * j] = log;
              args[3 * j + 1] = eventIdKey(f, entries, i + j);
              args[3 * j + 2] = first + i + j;
            }
            st.insertEventIds[c].run(...(args as SQLInputValue[]));
          }
        } catch (e) {
          const err = translateSqliteError(e, `appending to log ${logId}`);
          if (!(err instanceof DuplicateEventIdError)) throw err;
          // The failed statement wrote nothing, and the batch has no repeated id (assertAppend),
          // so the stored duplicates are exactly those of this chunk the log already holds.
          const dup = [...hasEventIds(entries.slice(i, i + rows).map((x) => x.eventId))];
          throw new DuplicateEventIdError(`log ${logId} already holds eventId ${dup.slice(0, 3).join(', ')}; nothing was written`, { cause: e });
        }
      }
    }
  };

  /**
   * runAppend is the transaction body; it runs between BEGIN IMMEDIATE and COMMIT and returns the
   * new tail, which becomes `cached` only once COMMIT succeeded.
   */
  const runAppend = (batch: AppendBatch, expectedSize: number): TailBundle | undefined => {
    const f = fence();
    if (f.size !== expectedSize) {
      throw new ExpectedSizeConflictError(`log ${logId} has ${f.size} entries, the writer expected ${expectedSize}`);
    }
    const entries = batch.entries;
    const n = entries.length;
    let next: TailBundle | undefined = cached;
    if (n > 0) {
      const tail = cached !== undefined && cached.size === f.size && cached.data.length === f.len ? cached : loadTail(f.idx, f.count);
      // Frame the batch right after a copy of the partial bundle: the grown bundle is one slice.
      const framed = frameEntries(entries, topics.ref, tail.data, scratch);
      // eventIds first: a duplicate fails the batch before any bundle is written.
      insertEventIds(framed, entries, expectedSize);
      // Each bundle the batch completes is written whole (its fragments, if any, deleted); what
      // is left after the last one becomes a fragment holding only this batch's records.
      let idx = tail.idx;
      let count = tail.count;
      let start = 0; // first entry of the batch not yet written
      let bundleFrom = 0; // where, in framed.data, the bundle being written begins
      let to = 0;
      while (start < n) {
        const take = Math.min(n - start, BUNDLE_WIDTH - count);
        const partFrom = start === 0 ? tail.data.length : framed.ends[start - 1];
        bundleFrom = start === 0 ? 0 : partFrom;
        to = framed.ends[start + take - 1];
        if (count + take === BUNDLE_WIDTH) {
          st.insertBundle.run(log, idx, BUNDLE_WIDTH, framed.data.subarray(bundleFrom, to));
          if (count > 0) st.deleteFragments.run(log, idx);
          idx++;
          count = 0;
        } else {
          st.insertFragment.run(log, idx, count, take, framed.data.subarray(partFrom, to));
          count += take;
        }
        start += take;
      }
      // The scratch buffer is reused by the next append: the cache keeps its own copy.
      next =
        count === 0
          ? { size: idx * BUNDLE_WIDTH, idx, count: 0, data: EMPTY }
          : { size: idx * BUNDLE_WIDTH + count, idx, count, data: Buffer.from(framed.data.subarray(bundleFrom, to)) };
    }
    // The highest offset per source partition; consecutive entries mostly share one partition.
    const maxOffsets = new Map<string, { topic: string; partition: number; offset: bigint }>();
    let last: { topic: string; partition: number; offset: bigint } | undefined;
    for (const e of entries) {
      const s = e.source;
      if (s === null) continue;
      if (last !== undefined && s.topic === last.topic && s.partition === last.partition) {
        if (s.offset > last.offset) last.offset = s.offset;
        continue;
      }
      const k = sourceKey(s.topic, s.partition);
      last = maxOffsets.get(k);
      if (last === undefined) maxOffsets.set(k, (last = { topic: s.topic, partition: s.partition, offset: s.offset }));
      else if (s.offset > last.offset) last.offset = s.offset;
    }
    for (const s of maxOffsets.values()) st.upsertSource.run(log, s.topic, s.partition, s.offset);
    for (const t of batch.tiles ?? []) st.upsertTile.run(log, t.id.level, t.id.index, t.id.width, t.data);
    if (batch.checkpoint !== undefined) st.insertCheckpoint.run(log, expectedSize + n, batch.checkpoint);
    return next;
  };

  const probe = new Uint8Array(16);
  const hasEventIds = (ids: readonly string[]): Set<string> => {
    const found = new Set<string>();
    if (ids.length === 0) return found;
    const uuids: string[] = [];
    const texts: string[] = [];
    for (const id of ids) (uuidBytesInto(id, probe, 0) ? uuids : texts).push(id);
    for (const row of st.hasIds.all(log, JSON.stringify(uuids), JSON.stringify(texts))) {
      const v = row.event_id;
      found.add(typeof v === 'string' ? v : formatUuid(v as Uint8Array));
    }
    return found;
  };

  /** readEntryPages yields a log's entries one stored bundle at a time (see LogStore.readEntryPages). */
  async function* readEntryPages(from: number, to: number): AsyncIterable<readonly Entry[]> {
    ensureOpen();
    assertRange(from, to);
    let next = Math.floor(from / BUNDLE_WIDTH);
    const end = Math.ceil(to / BUNDLE_WIDTH); // bundles [next, end) hold the range
    while (next < end) {
      ensureOpen();
      let rows: { idx: number; count: number; data: unknown }[];
      try {
        // A fresh query per page of bundles, fully read: no statement stays open across the
        // yields below, so appends on this connection are never blocked by a slow reader.
        rows = st.selectBundles.all(log, next, end, bundlePage).map((r) => ({ idx: Number(r.idx), count: Number(r.count), data: r.data }));
        // The last page also takes the partial bundle from its fragments, in the same step: an
        // append between the two reads could otherwise complete it unseen.
        if (rows.length < bundlePage) {
          const t = st.tailSummary.get(log);
          const idx = t === undefined ? -1 : Number(t.idx);
          if (idx >= next && idx < end && (rows.length === 0 || idx > rows[rows.length - 1].idx)) rows.push({ idx, ...partialData(idx) });
        }
      } catch (e) {
        throw translateSqliteError(e, `reading log ${logId}`);
      }
      if (rows.length === 0) return;
      for (const r of rows) {
        const base = r.idx * BUNDLE_WIDTH;
        // Entries are numbered by their place in the bundle: a bundle short of 256 before the
        // last one shows as a gap in the indexes (and fails verify), never as silent renumbering.
        const all = parseBundle(r.data, r.count, where(r.idx), topics.name, base);
        const page = from <= base && base + all.length <= to ? all : all.slice(Math.max(0, from - base), Math.max(0, to - base));
        if (page.length > 0) yield page;
      }
      if (rows.length < bundlePage) return;
      next = rows[rows.length - 1].idx + 1;
    }
  }

  return {
    logId,
    // Every call runs to completion synchronously inside: call order is execution order.
    ordersAppends: true,

    async tail(): Promise<LogTail> {
      ensureOpen();
      try {
        const lastSource = new Map<string, bigint>();
        for (const r of st.selectSources.all(log)) lastSource.set(sourceKey(String(r.topic), Number(r.partition)), r.max_offset as bigint);
        return { size: fence().size, lastSource };
      } catch (e) {
        throw translateSqliteError(e, `reading the tail of log ${logId}`);
      }
    },

    async append(batch: AppendBatch, expectedSize: number): Promise<void> {
      ensureOpen();
      assertAppend(batch, expectedSize);
      try {
        topics.register(batch);
        db.exec('BEGIN IMMEDIATE');
      } catch (e) {
        throw translateSqliteError(e, `appending to log ${logId}`);
      }
      let next: TailBundle | undefined;
      try {
        next = runAppend(batch, expectedSize);
        db.exec('COMMIT');
      } catch (e) {
        if (db.isTransaction) db.exec('ROLLBACK');
        // `cached` still describes the last commit this handle made; the fence re-checks it anyway.
        throw translateSqliteError(e, `appending to log ${logId}`);
      }
      cached = next;
    },

    async hasEventIds(ids: readonly string[]): Promise<Set<string>> {
      ensureOpen();
      assertEventIds(ids);
      try {
        return hasEventIds(ids);
      } catch (e) {
        throw translateSqliteError(e, `looking up eventIds in log ${logId}`);
      }
    },

    readEntryPages,

    async *readEntries(from: number, to: number): AsyncIterable<Entry> {
      for await (const page of readEntryPages(from, to)) yield* page;
    },

    async readTiles(ids: readonly TileId[]): Promise<(Uint8Array | undefined)[]> {
      ensureOpen();
      ids.forEach(assertTileId);
      try {
        return ids.map((id) => {
          const row = st.selectTile.get(log, id.level, id.index);
          if (!row || Number(row.width) < id.width) return undefined;
          const h = row.hashes as Uint8Array;
          return toBuffer(h.subarray(0, id.width * 32));
        });
      } catch (e) {
        throw translateSqliteError(e, `reading tiles of log ${logId}`);
      }
    },

    async checkpoints(): Promise<string[]> {
      ensureOpen();
      try {
        return st.selectCheckpoints.all(log).map((r) => String(r.note));
      } catch (e) {
        throw translateSqliteError(e, `reading checkpoints of log ${logId}`);
      }
    },

    async latestCheckpoint(): Promise<string | undefined> {
      ensureOpen();
      try {
        const r = st.latestCheckpoint.get(log);
        return r === undefined ? undefined : String(r.note);
      } catch (e) {
        throw translateSqliteError(e, `reading checkpoints of log ${logId}`);
      }
    },
  };
}
