// PositionStore on one small JSON file beside the ledger. A commit writes a temporary file,
// fsyncs it, renames it over the old one and fsyncs the folder: after a crash the file is the
// old positions or the new ones, never half of each. A lock file (O_EXCL, holding the pid) keeps
// a second projector off the same positions: two would each publish every entry.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { SiemPositionLockedError, SiemPositionMismatchError, SiemPositionUnreadableError } from '../errors.ts';
import type { PositionStore, Positions } from '../ports/position-store.ts';

/** POSITION_FORMAT names the file's format; another value is refused, not guessed at. */
export const POSITION_FORMAT = 'affidavit-siem-position/1';

/** MAX_POSITION_FILE_BYTES bounds what is read: the file holds one number per ledger log. */
const MAX_POSITION_FILE_BYTES = 1024 * 1024;

type PositionFile = { format: string; topic: string; logs: Record<string, number> };

function parse(path: string, text: string, topic: string): Map<string, number> {
  let doc: PositionFile;
  try {
    doc = JSON.parse(text) as PositionFile;
  } catch (e) {
    throw new SiemPositionUnreadableError(`${path} is not JSON: ${(e as Error).message}`);
  }
  if (doc === null || typeof doc !== 'object' || doc.format !== POSITION_FORMAT || typeof doc.logs !== 'object' || doc.logs === null) {
    throw new SiemPositionUnreadableError(`${path} is not an ${POSITION_FORMAT} file`);
  }
  if (doc.topic !== topic) {
    throw new SiemPositionMismatchError(
      `${path} holds positions for topic ${JSON.stringify(doc.topic)}, not ${JSON.stringify(topic)}; give each topic its own --position file`,
    );
  }
  const out = new Map<string, number>();
  for (const [log, n] of Object.entries(doc.logs)) {
    if (!Number.isSafeInteger(n) || n < 0) throw new SiemPositionUnreadableError(`${path}: position of log ${log} is not a whole number >= 0`);
    out.set(log, n);
  }
  return out;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists but belongs to someone else, which still means the lock is held.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function takeLock(lockPath: string): void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockPath, 'wx', 0o600);
      writeSync(fd, `${process.pid}\n`);
      fsyncSync(fd);
      closeSync(fd);
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const pid = Number.parseInt(readFileSync(lockPath, 'utf8'), 10);
      if (Number.isSafeInteger(pid) && pid > 0 && (pid === process.pid || processAlive(pid))) {
        throw new SiemPositionLockedError(`process ${pid} holds ${lockPath}; stop it first (or remove the lock file if that process is not a projector)`);
      }
      // The holder is gone (a crash): the lock is stale.
      unlinkSync(lockPath);
    }
  }
  throw new SiemPositionLockedError(`could not take ${lockPath}`);
}

/**
 * openPositionFile opens (or starts) the position file at `path` for `topic`, taking its lock.
 * It fails with AFF_E_SIEM_POSITION_LOCKED when a live process holds the lock,
 * AFF_E_SIEM_POSITION_UNREADABLE when the file is not a position file, and
 * AFF_E_SIEM_POSITION_MISMATCH when it was written for another topic.
 */
export async function openPositionFile(path: string, topic: string): Promise<PositionStore> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const lockPath = `${path}.lock`;
  takeLock(lockPath);
  let closed = false;
  try {
    // Read once now, so a bad file fails the start rather than the first commit.
    let current = new Map<string, number>();
    if (existsSync(path)) {
      const raw = readFileSync(path);
      if (raw.length > MAX_POSITION_FILE_BYTES) throw new SiemPositionUnreadableError(`${path} is larger than ${MAX_POSITION_FILE_BYTES} bytes`);
      current = parse(path, raw.toString('utf8'), topic);
    }
    const tmp = `${path}.tmp`;
    return {
      async load() {
        return new Map(current);
      },
      async commit(positions: Positions) {
        if (closed) throw new SiemPositionUnreadableError('the position file is closed');
        const doc: PositionFile = { format: POSITION_FORMAT, topic, logs: Object.fromEntries([...positions].sort(([a], [b]) => (a < b ? -1 : 1))) };
        // Asynchronous on purpose: the fsyncs wait on the disk, and the projector maps its next
        // batch meanwhile.
        const file = await open(tmp, 'w', 0o600);
        try {
          await file.writeFile(`${JSON.stringify(doc)}\n`);
          await file.sync();
        } finally {
          await file.close();
        }
        await rename(tmp, path);
        const dir = await open(dirname(path), 'r');
        try {
          await dir.sync();
        } finally {
          await dir.close();
        }
        current = new Map(positions);
      },
      async close() {
        if (closed) return;
        closed = true;
        unlinkSync(lockPath);
      },
    };
  } catch (e) {
    unlinkSync(lockPath);
    throw e;
  }
}
