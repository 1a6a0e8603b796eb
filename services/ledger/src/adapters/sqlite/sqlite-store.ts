import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { ShutdownError, validateOptions } from '@affidavit/common';
import { DuplicateEventIdError, ExpectedSizeConflictError, LedgerInputInvalidError, StoreUnreadableError } from '../../store-errors.ts';
import type { AppendBatch, Entry, LedgerStore, LogStore, LogTail, TileId } from '../../ports/ledger-store.ts';
import { sourceKey } from '../../ports/ledger-store.ts';
import { assertAppend, assertEventIds, assertLogId, assertRange, assertTileId } from '../../ports/validate-append.ts';
import { PRAGMAS, checkVersion, migrate } from './sqlite-schema.ts';
import { translateSqliteError } from './sqlite-errors.ts';

/** DEFAULT_BUSY_TIMEOUT_MS is how long an append waits for another process's write lock before failing (retriable). */
export const DEFAULT_BUSY_TIMEOUT_MS = 5_000;
/** DEFAULT_READ_PAGE is how many entries readEntries fetches per query: memory stays bounded by one page. */
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

const optionsSchema = {
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

const KIND_CODE = { event: 0, rejected: 1 } as const;
const KIND_NAME = ['event', 'rejected'] as const;

/** Statements are prepared once per store and reused on the hot path. */
type Statements = ReturnType<typeof prepare>;

function prepare(db: DatabaseSync) {
  const s = {
    insertLog: db.prepare('INSERT INTO logs (log_id) VALUES (?) ON CONFLICT (log_id) DO NOTHING'),
    selectLog: db.prepare('SELECT log FROM logs WHERE log_id = ?'),
    listLogs: db.prepare('SELECT log_id FROM logs ORDER BY log'),
    size: db.prepare('SELECT COALESCE(MAX(idx) + 1, 0) AS size FROM entries WHERE log = ?'),
    insertTopic: db.prepare('INSERT INTO topics (name) VALUES (?) ON CONFLICT (name) DO NOTHING'),
    selectTopic: db.prepare('SELECT topic FROM topics WHERE name = ?'),
    insertEntry: db.prepare(
      'INSERT INTO entries (log, idx, event_id, kind, bytes, src_topic, src_partition, src_offset, appended_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    upsertSource: db.prepare(
      'INSERT INTO sources (log, topic, partition, max_offset) VALUES (?, ?, ?, ?) ' +
        'ON CONFLICT (log, topic, partition) DO UPDATE SET max_offset = excluded.max_offset WHERE excluded.max_offset > sources.max_offset',
    ),
    selectSources: db.prepare('SELECT topic, partition, max_offset FROM sources WHERE log = ?'),
    // The UPDATE branch fires the tiles_grow_only trigger, which refuses a narrower tile or a changed prefix.
    upsertTile: db.prepare(
      'INSERT INTO tiles (log, level, idx, width, hashes) VALUES (?, ?, ?, ?, ?) ' +
        'ON CONFLICT (log, level, idx) DO UPDATE SET width = excluded.width, hashes = excluded.hashes',
    ),
    selectTile: db.prepare('SELECT width, hashes FROM tiles WHERE log = ? AND level = ? AND idx = ?'),
    insertCheckpoint: db.prepare('INSERT INTO checkpoints (log, size, note) VALUES (?, ?, ?)'),
    selectCheckpoints: db.prepare('SELECT note FROM checkpoints WHERE log = ? ORDER BY id'),
    latestCheckpoint: db.prepare('SELECT note FROM checkpoints WHERE log = ? ORDER BY id DESC LIMIT 1'),
    selectEntries: db.prepare(
      'SELECT e.idx, e.event_id, e.kind, e.bytes, t.name AS src_topic, e.src_partition, e.src_offset, e.appended_at ' +
        'FROM entries e LEFT JOIN topics t ON t.topic = e.src_topic WHERE e.log = ? AND e.idx >= ? AND e.idx < ? ORDER BY e.idx LIMIT ?',
    ),
    // One query for a whole batch of ids: the JSON array is expanded by json_each and probes the (log, event_id) index.
    hasIds: db.prepare('SELECT event_id FROM entries WHERE log = ? AND event_id IN (SELECT value FROM json_each(?))'),
  };
  // Offsets are 64-bit; read them as bigint so nothing past 2^53 is rounded.
  s.selectSources.setReadBigInts(true);
  s.selectEntries.setReadBigInts(true);
  return s;
}

const toBuffer = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

/**
 * openSqliteLedgerStore opens (creating when missing) the embedded ledger file: WAL journal,
 * `synchronous=FULL`, schema checked or created. Every log lives in this one file.
 *
 * Durability: each `append` is one `BEGIN IMMEDIATE … COMMIT` transaction and resolves after the
 * commit, which with synchronous=FULL has fsynced the WAL. Fencing: the log's size is read inside
 * that write transaction, so two processes appending to one log cannot both pass the check.
 */
export async function openSqliteLedgerStore(options: SqliteLedgerStoreOptions): Promise<LedgerStore> {
  const opts = validateOptions<Required<SqliteLedgerStoreOptions>>(optionsSchema, options, { name: 'sqlite ledger store options' });
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
  // Topic name -> its row in `topics`; shared by every log of this store. Only committed rows are cached.
  const topicIds = new Map<string, number>();
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
        return sqliteLogStore(db, st, topicIds, logId, Number(row!.log), opts.readPageSize, ensureOpen);
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

function sqliteLogStore(db: DatabaseSync, st: Statements, topicIds: Map<string, number>, logId: string, log: number, page: number, ensureOpen: () => void): LogStore {
  const currentSize = (): number => Number(st.size.get(log)!.size);

  /**
   * registerTopics makes sure every source topic of the batch has its `topics` row, in its own
   * small commit before the batch's transaction: a topic row is harmless if the append then fails,
   * and the in-memory map only ever holds committed rows. After the first batch of a topic this
   * is one map lookup per entry.
   */
  const registerTopics = (batch: AppendBatch): void => {
    let last: string | undefined;
    for (const e of batch.entries) {
      const name = e.source?.topic;
      if (name === undefined || name === last || topicIds.has(name)) continue;
      last = name;
      st.insertTopic.run(name);
      topicIds.set(name, Number(st.selectTopic.get(name)!.topic));
    }
  };

  /** runAppend is the transaction body; it runs between BEGIN IMMEDIATE and COMMIT. */
  const runAppend = (batch: AppendBatch, expectedSize: number): void => {
    const size = currentSize();
    if (size !== expectedSize) {
      throw new ExpectedSizeConflictError(`log ${logId} has ${size} entries, the writer expected ${expectedSize}`);
    }
    const maxOffsets = new Map<string, { topic: string; partition: number; offset: bigint }>();
    let idx = expectedSize;
    const ins: StatementSync = st.insertEntry;
    for (const e of batch.entries) {
      const s = e.source;
      if (s) {
        ins.run(log, idx++, e.eventId, KIND_CODE[e.kind], e.bytes, topicIds.get(s.topic)!, s.partition, s.offset, e.appendedAt);
        const k = sourceKey(s.topic, s.partition);
        const m = maxOffsets.get(k);
        if (!m || s.offset > m.offset) maxOffsets.set(k, s);
      } else {
        ins.run(log, idx++, e.eventId, KIND_CODE[e.kind], e.bytes, null, null, null, e.appendedAt);
      }
    }
    for (const s of maxOffsets.values()) st.upsertSource.run(log, s.topic, s.partition, s.offset);
    for (const t of batch.tiles ?? []) st.upsertTile.run(log, t.id.level, t.id.index, t.id.width, t.data);
    if (batch.checkpoint !== undefined) st.insertCheckpoint.run(log, idx, batch.checkpoint);
  };

  const hasEventIds = (ids: readonly string[]): Set<string> => {
    const found = new Set<string>();
    if (ids.length === 0) return found;
    for (const row of st.hasIds.all(log, JSON.stringify(ids))) found.add(String(row.event_id));
    return found;
  };

  return {
    logId,

    async tail(): Promise<LogTail> {
      ensureOpen();
      try {
        const lastSource = new Map<string, bigint>();
        for (const r of st.selectSources.all(log)) lastSource.set(sourceKey(String(r.topic), Number(r.partition)), r.max_offset as bigint);
        return { size: currentSize(), lastSource };
      } catch (e) {
        throw translateSqliteError(e, `reading the tail of log ${logId}`);
      }
    },

    async append(batch: AppendBatch, expectedSize: number): Promise<void> {
      ensureOpen();
      assertAppend(batch, expectedSize);
      try {
        registerTopics(batch);
        db.exec('BEGIN IMMEDIATE');
      } catch (e) {
        throw translateSqliteError(e, `appending to log ${logId}`);
      }
      try {
        runAppend(batch, expectedSize);
        db.exec('COMMIT');
      } catch (e) {
        if (db.isTransaction) db.exec('ROLLBACK');
        const err = translateSqliteError(e, `appending to log ${logId}`);
        if (err instanceof DuplicateEventIdError) {
          // Name the offending id: SQLite's message only names the index.
          const dup = [...hasEventIds(batch.entries.map((x) => x.eventId))];
          throw new DuplicateEventIdError(`log ${logId} already holds eventId ${dup.slice(0, 3).join(', ')}; nothing was written`, { cause: e });
        }
        throw err;
      }
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

    async *readEntries(from: number, to: number): AsyncIterable<Entry> {
      ensureOpen();
      assertRange(from, to);
      let next = from;
      while (next < to) {
        ensureOpen();
        let rows: Record<string, unknown>[];
        try {
          // A fresh query per page, fully read: no statement stays open across the yields below,
          // so appends on this connection are never blocked by a slow reader.
          rows = st.selectEntries.all(log, next, to, page);
        } catch (e) {
          throw translateSqliteError(e, `reading log ${logId}`);
        }
        if (rows.length === 0) return;
        for (const r of rows) {
          const entry: Entry = {
            index: Number(r.idx),
            eventId: String(r.event_id),
            kind: KIND_NAME[Number(r.kind)],
            bytes: toBuffer(r.bytes as Uint8Array),
            source: r.src_topic === null ? null : { topic: String(r.src_topic), partition: Number(r.src_partition), offset: r.src_offset as bigint },
            appendedAt: Number(r.appended_at),
          };
          yield entry;
        }
        next = Number(rows[rows.length - 1].idx) + 1;
        if (rows.length < page) return;
      }
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
