import { open, stat } from 'node:fs/promises';
import { defineError } from '@affidavit/common';
import { readBoundedLines, LineTooLong } from './bounded-lines.ts';
import { parseCheckpointFeed } from './core/checkpoint-feed.ts';
import type { LabeledNote } from './core/verify-log.ts';
import { MAX_CHECKPOINT_BYTES } from './ports/ledger-store.ts';

/** VerifyInputMissingError: a file or directory named on verify's command line does not exist. */
export const VerifyInputMissingError = defineError('AFF_E_LEDGER_VERIFY_INPUT_MISSING', 'a file named on the command line does not exist');

/** VerifyInputUnreadableError: a file named on verify's command line exists but cannot be read (permissions, a directory where a file is expected, too large). */
export const VerifyInputUnreadableError = defineError('AFF_E_LEDGER_VERIFY_INPUT_UNREADABLE', 'a file named on the command line cannot be read');

/** CheckpointFeedMalformedError: a --checkpoints-from file is not a sequence of signed notes. */
export const CheckpointFeedMalformedError = defineError('AFF_E_LEDGER_CHECKPOINTS_MALFORMED', 'the file of published checkpoints is malformed');

/** InputKind is what verify was given. */
export type InputKind = 'dir' | 'sqlite' | 'bundle';

const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1');

function translate(e: unknown, path: string, what: string): Error {
  const code = (e as { code?: string }).code;
  if (code === 'ENOENT') return new VerifyInputMissingError(`${what} ${path} does not exist`, { cause: e });
  if (code === 'ENOTDIR') return new VerifyInputMissingError(`${what} ${path} does not exist (a part of its path is not a directory)`, { cause: e });
  return new VerifyInputUnreadableError(`${what} ${path} cannot be read: ${(e as Error).message}`, { cause: e });
}

/**
 * detectInput tells a data directory, a SQLite ledger file and a bundle apart by the first 16
 * bytes, read through a file handle: never the whole file, so a file of any size (over 2 GiB
 * too) is recognised. Missing → VerifyInputMissingError; unreadable → VerifyInputUnreadableError.
 */
export async function detectInput(path: string): Promise<InputKind> {
  try {
    if ((await stat(path)).isDirectory()) return 'dir';
    const fh = await open(path, 'r');
    try {
      const head = Buffer.alloc(16);
      const { bytesRead } = await fh.read(head, 0, 16, 0);
      return bytesRead === 16 && head.equals(SQLITE_MAGIC) ? 'sqlite' : 'bundle';
    } finally {
      await fh.close();
    }
  } catch (e) {
    throw translate(e, path, 'input');
  }
}

/** assertReadableFile throws the typed errors above unless `path` is a readable regular file. */
export async function assertReadableFile(path: string, what: string): Promise<void> {
  try {
    const s = await stat(path);
    if (!s.isFile()) throw new VerifyInputUnreadableError(`${what} ${path} is not a regular file`);
    await (await open(path, 'r')).close();
  } catch (e) {
    if ((e as { code?: string }).code?.startsWith('AFF_E_')) throw e;
    throw translate(e, path, what);
  }
}

/** readCheckpointFile reads one signed checkpoint (--checkpoint FILE), at most MAX_CHECKPOINT_BYTES. */
export async function readCheckpointFile(path: string): Promise<LabeledNote> {
  try {
    const s = await stat(path);
    if (!s.isFile()) throw new VerifyInputUnreadableError(`checkpoint ${path} is not a regular file`);
    if (s.size > MAX_CHECKPOINT_BYTES)
      throw new VerifyInputUnreadableError(`checkpoint ${path} is ${s.size} bytes; a checkpoint is at most ${MAX_CHECKPOINT_BYTES}`);
    const fh = await open(path, 'r');
    try {
      // A note ends with exactly one newline; files often carry one more (echo, kcat '%s\n').
      return { label: `--checkpoint ${path}`, note: (await fh.readFile()).toString('utf8').replace(/\n+$/, '\n') };
    } finally {
      await fh.close();
    }
  } catch (e) {
    if ((e as { code?: string }).code?.startsWith('AFF_E_')) throw e;
    throw translate(e, path, 'checkpoint');
  }
}

/** MAX_FEED_NOTES bounds the notes of one --checkpoints-from file (each is held in memory until its log is verified). */
export const MAX_FEED_NOTES = 1_000_000;

/**
 * readCheckpointFeed reads a file of published checkpoints (see parseCheckpointFeed for the
 * format), streamed, lines bounded to MAX_CHECKPOINT_BYTES. Each note is labeled
 * `--checkpoints-from FILE:LINE`, so a failure names where it came from.
 */
export async function readCheckpointFeed(path: string): Promise<LabeledNote[]> {
  await assertReadableFile(path, 'checkpoints file');
  const lines: string[] = [];
  try {
    for await (const l of readBoundedLines(path, MAX_CHECKPOINT_BYTES)) lines.push(l.toString('utf8'));
  } catch (e) {
    if (e instanceof LineTooLong)
      throw new CheckpointFeedMalformedError(`${path}:${e.lineNo}: line longer than ${e.max} bytes: not a file of signed checkpoints`);
    throw translate(e, path, 'checkpoints file');
  }
  const notes = parseCheckpointFeed(lines, (m) => new CheckpointFeedMalformedError(`${path}: ${m}`));
  if (notes.length > MAX_FEED_NOTES) throw new CheckpointFeedMalformedError(`${path} holds ${notes.length} checkpoints; at most ${MAX_FEED_NOTES} per file`);
  return notes.map((n) => ({ label: `--checkpoints-from ${path}:${n.line}`, note: n.note }));
}
