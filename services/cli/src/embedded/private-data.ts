// The embedded data directory holds the ledger (captured results carry personal data, even
// masked rows are evidence), the signing, issuer and masking keys, and the demo database: none
// of it is anyone else's business on the machine. So the folders are 0700 and the files 0600.
// Choice for what already exists with looser modes (an older version, a copy, a careless
// umask): tighten it and warn loudly, naming each path and both modes; a path this user cannot
// chmod (another owner) stops the start with a clear error rather than run exposed.
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '@affidavit/common';
import { ConfigInvalidError } from '@affidavit/common';

/** PRIVATE_DIR_MODE is the mode of every folder under the data directory (and itself). */
export const PRIVATE_DIR_MODE = 0o700;
/** PRIVATE_FILE_MODE is the mode of the ledger, its -wal/-shm and every key file. */
export const PRIVATE_FILE_MODE = 0o600;
/** PRIVATE_UMASK makes whatever the embedded process creates private to its user. */
export const PRIVATE_UMASK = 0o077;

/** PrivatePaths are the paths privateDataDir secures. */
export type PrivatePaths = { readonly dataDir: string; readonly keysDir: string; readonly ledgerFile: string };

/** Tightened reports one path whose mode was looser than it must be. */
export type Tightened = { readonly path: string; readonly from: number; readonly to: number };

function tighten(path: string, mode: number, logger: Logger, out: Tightened[]): void {
  const st = statSync(path);
  const current = st.mode & 0o777;
  if ((current & ~mode) === 0) return;
  try {
    chmodSync(path, current & mode);
  } catch (err) {
    throw new ConfigInvalidError(`${path} is readable by other users (mode ${current.toString(8)}) and cannot be made private: ${(err as Error).message}`, {
      cause: err,
    });
  }
  out.push({ path, from: current, to: current & mode });
  logger.warn(
    { path, from: current.toString(8), to: (current & mode).toString(8) },
    `SECURITY: ${path} was readable by other users (mode ${current.toString(8)}); tightened to ${(current & mode).toString(8)}`,
  );
}

function privateDir(dir: string, logger: Logger, out: Tightened[]): void {
  mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  tighten(dir, PRIVATE_DIR_MODE, logger, out);
}

// Key files are private; public keys and certificates may stay readable, their folder is not anyway.
const isPublic = (name: string) => name.endsWith('.pub') || name.endsWith('.crt');

function privateFilesUnder(dir: string, logger: Logger, out: Tightened[]): void {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      tighten(p, PRIVATE_DIR_MODE, logger, out);
      privateFilesUnder(p, logger, out);
    } else if (e.isFile() && !isPublic(e.name)) tighten(p, PRIVATE_FILE_MODE, logger, out);
  }
}

/**
 * privateDataDir MUST run before anything under the data directory is created or opened: it
 * sets the process umask to PRIVATE_UMASK, makes the data and keys folders 0700, creates the
 * ledger file empty with 0600 when missing (SQLite gives its -wal and -shm the database file's
 * mode) and tightens whatever already exists. It returns what it had to tighten.
 */
export function privateDataDir(p: PrivatePaths, logger: Logger): Tightened[] {
  process.umask(PRIVATE_UMASK);
  const out: Tightened[] = [];
  privateDir(p.dataDir, logger, out);
  privateDir(p.keysDir, logger, out);
  // An empty file is a valid empty SQLite database.
  if (!existsSync(p.ledgerFile)) closeSync(openSync(p.ledgerFile, 'a', PRIVATE_FILE_MODE));
  privateFiles(p, logger, out);
  return out;
}

/**
 * privateFiles tightens the ledger file, its -wal/-shm and the key files; run again once every
 * component created its files, so a library that chose its own mode is caught too.
 */
export function privateFiles(p: PrivatePaths, logger: Logger, out: Tightened[] = []): Tightened[] {
  for (const f of [p.ledgerFile, `${p.ledgerFile}-wal`, `${p.ledgerFile}-shm`]) if (existsSync(f)) tighten(f, PRIVATE_FILE_MODE, logger, out);
  privateFilesUnder(p.keysDir, logger, out);
  return out;
}
