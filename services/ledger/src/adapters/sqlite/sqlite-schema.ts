import type { DatabaseSync } from 'node:sqlite';
import { StoreUnreadableError } from '../../store-errors.ts';

/**
 * SCHEMA_VERSION is the ledger file's schema version. A version 3 file (the partial bundle as one
 * row in `bundles`, rewritten by every append) is upgraded in place by the first writable open
 * (migrate); any other version is refused, never downgraded: versions 1 (one rowid row per entry,
 * text eventIds) and 2 (one WITHOUT ROWID row per entry) predate any deployment.
 */
export const SCHEMA_VERSION = 4;

/** UPGRADABLE_VERSION is the one earlier version migrate() converts. */
const UPGRADABLE_VERSION = 3;

/**
 * PAGE_SIZE of a new ledger file. Entry bundles (up to 256 entries, tens of KiB) spill to
 * overflow pages whatever the page size; 16 KiB pages keep that chain short (a few pages per
 * bundle) and hold hundreds of the small `event_ids` rows per leaf. The raw baseline uses the
 * same pragmas, so the benchmark compares like with like.
 */
export const PAGE_SIZE = 16384;

/** PRAGMAS are the connection settings the ledger and the raw baseline share (so the benchmark compares like with like). */
export const PRAGMAS = [
  // First: page_size only takes effect on a file with no pages yet (switching to WAL writes the header).
  `PRAGMA page_size = ${PAGE_SIZE}`,
  // WAL: readers never block the writer; a commit is one append to the -wal file.
  'PRAGMA journal_mode = WAL',
  // FULL: the WAL is fsynced at every commit, so append() resolves only once the batch survives a
  // power cut (NORMAL in WAL mode may lose the last commits).
  'PRAGMA synchronous = FULL',
  'PRAGMA foreign_keys = ON',
  // 64 MiB page cache: the eventId table is the hot random-access structure.
  'PRAGMA cache_size = -65536',
  // Temporary b-trees (the IN lists of hasEventIds) stay in memory.
  'PRAGMA temp_store = MEMORY',
];

// Layout decision: ONE file holds many logs (one per Kafka partition the instance owns); every table
// carries the log's small integer number (`logs.log`). One shared table set keeps the DDL and the
// triggers static, and a ledger instance owning several partitions keeps a single file and WAL.
// A (log, idx) primary key gives each log its own contiguous key range, so per-log reads are range scans.
//
// Performance (schema version 3): entries are stored 256 to a row as entry bundles (C2SP
// tlog-tiles `tile/entries/N`; framing in entry-bundle.ts), so the per-entry cost of an append is
// one small insert into `event_ids` (the dedupe key) plus its share of one bundle row. The last,
// partial bundle is replaced by a wider one on each append; a full bundle never changes. Schema
// version 2 stored one row per entry plus a (log, event_id) index: two b-tree inserts per entry,
// which can never get within 2x of a raw one-row-per-entry INSERT.
//
// Version 4: only full bundles are rows of `bundles`. The partial bundle after them is kept as
// `bundle_tail` fragments, one per append that added to it, holding only that append's records;
// when the bundle fills, it is inserted whole and its fragments deleted, in the same transaction.
// Version 3 rewrote the partial bundle (tens of KiB, several overflow pages) on every append: a
// sync-recording proxy appends a few entries at a time, and that rewrite was most of each
// commit's cost (bench/ledger.ts, acknowledged appends).
//
// `bundles` is a rowid table, not WITHOUT ROWID: its rows are tens of KiB, and SQLite's guidance
// is WITHOUT ROWID only for rows under ~1/20 of a page. `event_ids` rows are ~25 bytes: WITHOUT
// ROWID, clustered on the key, no separate index. A canonical UUID is stored as its 16 bytes
// (a BLOB), any other id as TEXT; SQLite orders all TEXT before all BLOB, so the forms never
// collide. `event_ids` carries no foreign key to `logs` and no CHECKs: it is an index over
// `bundles` (which has both), written only by the adapter, and each would cost per entry
// (measured: the CHECKs alone ~0.2 us of a ~0.9 us row insert).
//
// Immutability is enforced in the file itself, by triggers, so that a raw sqlite3 shell or a bug
// elsewhere cannot UPDATE or DELETE history by accident. (Someone with write access can still drop
// the triggers: tamper-EVIDENCE is the Merkle tree's and the published checkpoints' job, not this file's.)
// A fragment holds records [first, first + count) of bundle idx, framed as in a bundle; a
// fragment never completes a bundle (the whole bundle is written instead).
const BUNDLE_TAIL_COLUMNS = `
  log INTEGER NOT NULL REFERENCES logs (log),
  idx INTEGER NOT NULL CHECK (idx >= 0),
  first INTEGER NOT NULL CHECK (first BETWEEN 0 AND 254),
  count INTEGER NOT NULL CHECK (count BETWEEN 1 AND 255 - first),
  data BLOB NOT NULL,
  UNIQUE (log, idx, first)
`;

const DDL = `
CREATE TABLE IF NOT EXISTS affidavit_schema (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS logs (
  log INTEGER PRIMARY KEY,
  log_id TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS topics (
  topic INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS bundles (
  log INTEGER NOT NULL REFERENCES logs (log),
  idx INTEGER NOT NULL CHECK (idx >= 0),
  count INTEGER NOT NULL CHECK (count BETWEEN 1 AND 256),
  data BLOB NOT NULL,
  UNIQUE (log, idx)
);
CREATE TABLE IF NOT EXISTS bundle_tail (${BUNDLE_TAIL_COLUMNS});
CREATE TABLE IF NOT EXISTS event_ids (
  log INTEGER NOT NULL,
  event_id BLOB NOT NULL,
  idx INTEGER NOT NULL,
  PRIMARY KEY (log, event_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sources (
  log INTEGER NOT NULL REFERENCES logs (log),
  topic TEXT NOT NULL,
  partition INTEGER NOT NULL,
  max_offset INTEGER NOT NULL,
  PRIMARY KEY (log, topic, partition)
);
CREATE TABLE IF NOT EXISTS tiles (
  log INTEGER NOT NULL REFERENCES logs (log),
  level INTEGER NOT NULL CHECK (level BETWEEN 0 AND 63),
  idx INTEGER NOT NULL CHECK (idx >= 0),
  width INTEGER NOT NULL CHECK (width BETWEEN 1 AND 256),
  hashes BLOB NOT NULL CHECK (length(hashes) = width * 32),
  PRIMARY KEY (log, level, idx)
);
CREATE TABLE IF NOT EXISTS checkpoints (
  id INTEGER PRIMARY KEY,
  log INTEGER NOT NULL REFERENCES logs (log),
  size INTEGER NOT NULL CHECK (size >= 0),
  note TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS checkpoints_by_log ON checkpoints (log, id);

CREATE TRIGGER IF NOT EXISTS bundles_no_delete BEFORE DELETE ON bundles
BEGIN SELECT RAISE(ABORT, 'AFF_E_LEDGER_IMMUTABLE: ledger entries cannot be deleted'); END;
-- The partial bundle grows (it is replaced by a wider one) but its existing bytes never change, and
-- a full bundle never changes at all.
-- SPEC: https://c2sp.org/tlog-tiles (entry bundles) "This endpoint is immutable": the entries a bundle
-- of width W held stay exactly as they were in every wider version (the same rule as tiles_grow_only below).
CREATE TRIGGER IF NOT EXISTS bundles_grow_only BEFORE UPDATE ON bundles
WHEN NEW.log IS NOT OLD.log OR NEW.idx IS NOT OLD.idx OR OLD.count >= 256 OR NEW.count <= OLD.count
  OR substr(NEW.data, 1, length(OLD.data)) IS NOT OLD.data
BEGIN SELECT RAISE(ABORT, 'AFF_E_LEDGER_IMMUTABLE: ledger entries cannot be updated (a partial bundle may only be replaced by a wider one with its bytes as a prefix)'); END;
-- Only whole bundles are rows of bundles (the partial one is in bundle_tail).
CREATE TRIGGER IF NOT EXISTS bundles_whole_only BEFORE INSERT ON bundles
WHEN NEW.count IS NOT 256
BEGIN SELECT RAISE(ABORT, 'AFF_E_LEDGER_IMMUTABLE: only whole bundles of 256 entries are stored as bundles'); END;
-- Bundles are contiguous: a new bundle N > 0 only after a full bundle N - 1 (once per 256 entries).
CREATE TRIGGER IF NOT EXISTS bundles_contiguous BEFORE INSERT ON bundles
WHEN NEW.idx > 0 AND NOT EXISTS (SELECT 1 FROM bundles WHERE log = NEW.log AND idx = NEW.idx - 1 AND count = 256)
BEGIN SELECT RAISE(ABORT, 'AFF_E_LEDGER_IMMUTABLE: a new bundle must follow a full bundle'); END;
-- A fragment continues the partial bundle exactly where it ends, and only a bundle that follows
-- a full one (or the first) and is not stored whole yet has fragments.
CREATE TRIGGER IF NOT EXISTS bundle_tail_contiguous BEFORE INSERT ON bundle_tail
WHEN NEW.first IS NOT coalesce((SELECT max(first + count) FROM bundle_tail WHERE log = NEW.log AND idx = NEW.idx), 0)
  OR EXISTS (SELECT 1 FROM bundle_tail WHERE log = NEW.log AND idx <> NEW.idx)
  OR EXISTS (SELECT 1 FROM bundles WHERE log = NEW.log AND idx = NEW.idx)
  OR (NEW.idx > 0 AND NOT EXISTS (SELECT 1 FROM bundles WHERE log = NEW.log AND idx = NEW.idx - 1 AND count = 256))
BEGIN SELECT RAISE(ABORT, 'AFF_E_LEDGER_IMMUTABLE: a partial bundle may only grow at its end, after the last full bundle'); END;
CREATE TRIGGER IF NOT EXISTS bundle_tail_no_update BEFORE UPDATE ON bundle_tail
BEGIN SELECT RAISE(ABORT, 'AFF_E_LEDGER_IMMUTABLE: ledger entries cannot be updated'); END;
-- Fragments go only once the bundle they belong to is stored whole.
CREATE TRIGGER IF NOT EXISTS bundle_tail_no_delete BEFORE DELETE ON bundle_tail
WHEN NOT EXISTS (SELECT 1 FROM bundles WHERE log = OLD.log AND idx = OLD.idx AND count = 256)
BEGIN SELECT RAISE(ABORT, 'AFF_E_LEDGER_IMMUTABLE: ledger entries cannot be deleted'); END;
CREATE TRIGGER IF NOT EXISTS event_ids_no_update BEFORE UPDATE ON event_ids
BEGIN SELECT RAISE(ABORT, 'AFF_E_LEDGER_IMMUTABLE: ledger eventIds cannot be updated'); END;
CREATE TRIGGER IF NOT EXISTS event_ids_no_delete BEFORE DELETE ON event_ids
BEGIN SELECT RAISE(ABORT, 'AFF_E_LEDGER_IMMUTABLE: ledger eventIds cannot be deleted'); END;
CREATE TRIGGER IF NOT EXISTS checkpoints_no_update BEFORE UPDATE ON checkpoints
BEGIN SELECT RAISE(ABORT, 'AFF_E_LEDGER_IMMUTABLE: checkpoints cannot be updated'); END;
CREATE TRIGGER IF NOT EXISTS checkpoints_no_delete BEFORE DELETE ON checkpoints
BEGIN SELECT RAISE(ABORT, 'AFF_E_LEDGER_IMMUTABLE: checkpoints cannot be deleted'); END;
CREATE TRIGGER IF NOT EXISTS topics_no_update BEFORE UPDATE ON topics
BEGIN SELECT RAISE(ABORT, 'AFF_E_LEDGER_IMMUTABLE: topics cannot be renamed'); END;
CREATE TRIGGER IF NOT EXISTS topics_no_delete BEFORE DELETE ON topics
BEGIN SELECT RAISE(ABORT, 'AFF_E_LEDGER_IMMUTABLE: topics cannot be deleted'); END;
CREATE TRIGGER IF NOT EXISTS logs_no_update BEFORE UPDATE ON logs
BEGIN SELECT RAISE(ABORT, 'AFF_E_LEDGER_IMMUTABLE: logs cannot be renamed'); END;
CREATE TRIGGER IF NOT EXISTS logs_no_delete BEFORE DELETE ON logs
BEGIN SELECT RAISE(ABORT, 'AFF_E_LEDGER_IMMUTABLE: logs cannot be deleted'); END;
CREATE TRIGGER IF NOT EXISTS tiles_no_delete BEFORE DELETE ON tiles
BEGIN SELECT RAISE(ABORT, 'AFF_E_LEDGER_IMMUTABLE: tiles cannot be deleted'); END;
-- A tile grows (a partial tile is replaced by a wider one) but its existing hashes never change.
-- SPEC: https://c2sp.org/tlog-tiles "a partial tile ... the full tile ... will have the partial tile as a prefix"
CREATE TRIGGER IF NOT EXISTS tiles_grow_only BEFORE UPDATE ON tiles
WHEN NEW.log IS NOT OLD.log OR NEW.level IS NOT OLD.level OR NEW.idx IS NOT OLD.idx
  OR NEW.width < OLD.width OR substr(NEW.hashes, 1, length(OLD.hashes)) IS NOT OLD.hashes
BEGIN SELECT RAISE(ABORT, 'AFF_E_LEDGER_TILE_CONFLICT: a tile may only be replaced by a wider one with the same prefix'); END;
-- The resume point only moves forward.
CREATE TRIGGER IF NOT EXISTS sources_forward_only BEFORE UPDATE ON sources
WHEN NEW.log IS NOT OLD.log OR NEW.topic IS NOT OLD.topic OR NEW.partition IS NOT OLD.partition OR NEW.max_offset < OLD.max_offset
BEGIN SELECT RAISE(ABORT, 'AFF_E_LEDGER_IMMUTABLE: a source offset cannot move backwards'); END;
CREATE TRIGGER IF NOT EXISTS sources_no_delete BEFORE DELETE ON sources
BEGIN SELECT RAISE(ABORT, 'AFF_E_LEDGER_IMMUTABLE: source offsets cannot be deleted'); END;
`;

/** storedVersion reads the file's schema version: undefined for a file with no table at all (a new file). */
function storedVersion(db: DatabaseSync): number | undefined {
  const hasVersion = db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'affidavit_schema'").get();
  if (!hasVersion) {
    const other = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' LIMIT 1").get();
    if (other) throw new StoreUnreadableError(`the file has tables (${String(other.name)}) but is not an Affidavit ledger`);
    return undefined;
  }
  const row = db.prepare('SELECT version FROM affidavit_schema WHERE id = 1').get();
  return Number(row?.version);
}

/**
 * checkVersion returns true when the file holds an Affidavit ledger of SCHEMA_VERSION, false when
 * it holds no table at all (a new file). It MUST refuse (StoreUnreadableError) a file of another
 * schema version (newer: written by a later build; UPGRADABLE_VERSION: until a writable open
 * upgraded it; older: a pre-release layout this build does not read) and a file that has tables
 * but is not an Affidavit ledger. It never writes.
 */
export function checkVersion(db: DatabaseSync): boolean {
  const version = storedVersion(db);
  if (version === undefined) return false;
  if (version > SCHEMA_VERSION) {
    throw new StoreUnreadableError(`the ledger file has schema version ${version}; this build reads up to ${SCHEMA_VERSION}`);
  }
  if (version === UPGRADABLE_VERSION) {
    throw new StoreUnreadableError(
      `the ledger file has schema version ${version}; it is upgraded to ${SCHEMA_VERSION} the first time it is opened for writing (affidavit start, affidavit ledger run), and read only after that`,
    );
  }
  if (version !== SCHEMA_VERSION) {
    throw new StoreUnreadableError(
      `the ledger file has schema version ${String(version)}, an earlier pre-release layout; this build reads version ${SCHEMA_VERSION} only (the file was left unchanged)`,
    );
  }
  return true;
}

/**
 * migrate creates the schema on a new file, upgrades a version 3 file (its partial bundles
 * become one fragment each), or checks an existing file's version (checkVersion), refusing a
 * file of another version or a foreign database without changing it. All in one transaction.
 */
export function migrate(db: DatabaseSync): void {
  db.exec('BEGIN IMMEDIATE');
  try {
    if (storedVersion(db) === UPGRADABLE_VERSION) upgradeFromV3(db);
    checkVersion(db);
    db.exec(DDL);
    db.prepare('INSERT INTO affidavit_schema (id, version) VALUES (1, ?) ON CONFLICT (id) DO NOTHING').run(SCHEMA_VERSION);
    db.exec('COMMIT');
  } catch (e) {
    if (db.isTransaction) db.exec('ROLLBACK');
    throw e;
  }
}

/**
 * upgradeFromV3 moves each log's partial bundle (a `bundles` row of fewer than 256 entries) into
 * `bundle_tail` as one fragment, byte for byte, inside migrate's transaction. The triggers that
 * keep history from being deleted are dropped for the move and created again by the DDL that
 * migrate runs next, before the same commit.
 */
function upgradeFromV3(db: DatabaseSync): void {
  db.exec(`CREATE TABLE bundle_tail (${BUNDLE_TAIL_COLUMNS})`);
  db.exec('INSERT INTO bundle_tail (log, idx, first, count, data) SELECT log, idx, 0, count, data FROM bundles WHERE count < 256');
  db.exec('DROP TRIGGER IF EXISTS bundles_no_delete');
  db.exec('DELETE FROM bundles WHERE count < 256');
  db.prepare('UPDATE affidavit_schema SET version = ? WHERE id = 1').run(SCHEMA_VERSION);
}
