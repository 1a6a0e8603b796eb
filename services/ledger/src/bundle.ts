import { defineError } from '@affidavit/common';
import { decodeBase64Strict, encodeBase64, HASH_SIZE, TILE_WIDTH } from '@affidavit/tlog';
import type { LogStore } from './ports/index.ts';
import type { VerifyEntry } from './core/verify-log.ts';
import { jsonDepthExceeds, MAX_JSON_DEPTH } from './core/json-depth.ts';
import { LineTooLong, readBoundedLines } from './bounded-lines.ts';
import { MAX_ENTRY_BYTES } from './ports/validate-append.ts';

/** BundleMalformedError: a bundle file is not in the affidavit-bundle/1 format. */
export const BundleMalformedError = defineError('AFF_E_LEDGER_BUNDLE_MALFORMED', 'the bundle file is malformed');

/** BUNDLE_FORMAT names the export format: JSON lines, a header, checkpoints, then entries. */
export const BUNDLE_FORMAT = 'affidavit-bundle/1';

/** BundleHeader is the first line of a bundle. */
export type BundleHeader = { format: typeof BUNDLE_FORMAT; log: string; origin: string; size: number; from: number; to: number };

/**
 * exportBundle yields the lines of a bundle of one log: the header, every stored checkpoint,
 * then entries [0, to) with their exact bytes and the leaf hash recorded (in the level-0 tile)
 * when they were appended, so `verify` can name an altered entry. Streams: memory stays bounded.
 * Entries start at 0 because verify proves inclusion by recomputing the tree.
 */
export async function* exportBundle(log: LogStore, opts: { origin: string; to?: number }): AsyncIterable<string> {
  const tail = await log.tail();
  const to = Math.min(opts.to ?? tail.size, tail.size);
  const header: BundleHeader = { format: BUNDLE_FORMAT, log: log.logId, origin: opts.origin, size: tail.size, from: 0, to };
  yield `${JSON.stringify(header)}\n`;
  for (const note of await log.checkpoints()) {
    const size = Number(note.split('\n')[1]);
    if (size <= to) yield `${JSON.stringify({ checkpoint: note })}\n`;
  }
  for await (const page of entriesWithRecordedLeaves(log, to)) {
    for (const e of page) {
      yield `${JSON.stringify({ i: e.index, b: Buffer.from(e.bytes).toString('base64'), ...(e.recordedLeaf ? { l: encodeBase64(e.recordedLeaf) } : {}) })}\n`;
    }
  }
}

/**
 * entriesWithRecordedLeaves streams entries [0, to) of a log, each with the leaf hash the
 * ledger recorded in the level-0 tile when it appended the entry: comparing it with a fresh
 * hash of the bytes names an altered entry exactly. Reads one tile per 256 entries, and yields
 * the entries of one tile together (a page of at most 256, in index order), so a consumer such
 * as `verifyLog` runs one async step per page instead of one per entry.
 */
export async function* entriesWithRecordedLeaves(log: LogStore, to = Number.MAX_SAFE_INTEGER): AsyncIterable<VerifyEntry[]> {
  const { size } = await log.tail();
  let tile: Uint8Array | undefined;
  let tileIndex = -1;
  let page: VerifyEntry[] = [];
  for await (const e of log.readEntries(0, Math.min(to, size))) {
    const ti = Math.floor(e.index / TILE_WIDTH);
    if (ti !== tileIndex) {
      if (page.length > 0) {
        yield page;
        page = [];
      }
      [tile] = await log.readTiles([{ level: 0, index: ti, width: Math.min(TILE_WIDTH, size - ti * TILE_WIDTH) }]);
      tileIndex = ti;
    }
    const off = (e.index % TILE_WIDTH) * HASH_SIZE;
    const leaf = tile && tile.length >= off + HASH_SIZE ? tile.subarray(off, off + HASH_SIZE) : undefined;
    page.push(leaf ? { index: e.index, bytes: e.bytes, recordedLeaf: leaf } : { index: e.index, bytes: e.bytes });
  }
  if (page.length > 0) yield page;
}

/** OpenedBundle is a bundle being read: header and checkpoints up front, entries streamed. */
export type OpenedBundle = { header: BundleHeader; checkpoints: string[]; entries: AsyncIterable<VerifyEntry> };

/** MAX_BUNDLE_LINE_BYTES bounds one bundle line: an entry of MAX_ENTRY_BYTES (16 MiB) is about 22 MiB of base64. */
export const MAX_BUNDLE_LINE_BYTES = 32 * 1024 * 1024;

const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;

/**
 * readBundle parses a bundle file as a stream: memory stays bounded whatever its size. A line
 * over MAX_BUNDLE_LINE_BYTES, nesting deeper than MAX_JSON_DEPTH (refused before JSON.parse),
 * a line that is not a JSON object, a header whose fields are not of their types, and entries
 * without {i, b} raise BundleMalformedError naming the line. Whether the header's claims agree
 * with the content is the verifier's question (verifyLedger), not the parser's.
 */
export async function readBundle(path: string, maxLineBytes = MAX_BUNDLE_LINE_BYTES): Promise<OpenedBundle> {
  const lines = readBoundedLines(path, maxLineBytes)[Symbol.asyncIterator]();
  let lineNo = 0;
  const next = async (): Promise<IteratorResult<Buffer>> => {
    try {
      const n = await lines.next();
      if (!n.done) lineNo++;
      return n;
    } catch (e) {
      if (e instanceof LineTooLong)
        throw new BundleMalformedError(
          `${path}:${e.lineNo}: line longer than ${e.max} bytes (a bundle line holds one entry of at most ${MAX_ENTRY_BYTES} bytes)`,
        );
      throw e;
    }
  };
  const parse = (line: Buffer): Record<string, unknown> => {
    if (jsonDepthExceeds(line))
      throw new BundleMalformedError(`${path}:${lineNo}: JSON nested deeper than ${MAX_JSON_DEPTH} levels (a bundle line is a flat object)`);
    try {
      const v = JSON.parse(line.toString('utf8'));
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
      return v;
    } catch (e) {
      throw new BundleMalformedError(`${path}:${lineNo}: not a JSON object (${(e as Error).message.slice(0, 200)})`);
    }
  };
  const first = await next();
  if (first.done) throw new BundleMalformedError(`${path} is empty`);
  const h = parse(first.value);
  if (h.format !== BUNDLE_FORMAT) throw new BundleMalformedError(`${path}: not an ${BUNDLE_FORMAT} bundle`);
  if (typeof h.log !== 'string' || typeof h.origin !== 'string' || h.origin === '' || !isCount(h.size) || !isCount(h.from) || !isCount(h.to)) {
    throw new BundleMalformedError(`${path}:1: the header needs log and origin (strings) and size, from, to (whole numbers >= 0)`);
  }
  const header: BundleHeader = { format: BUNDLE_FORMAT, log: h.log, origin: h.origin, size: h.size, from: h.from, to: h.to };
  const checkpoints: string[] = [];
  let pending: Record<string, unknown> | undefined;
  let pendingLine = 0;
  for (;;) {
    const n = await next();
    if (n.done) break;
    if (n.value.length === 0) continue;
    const v = parse(n.value);
    if (typeof v.checkpoint === 'string') {
      checkpoints.push(v.checkpoint);
      continue;
    }
    pending = v;
    pendingLine = lineNo;
    break;
  }
  const decode = (v: Record<string, unknown>, at: number): VerifyEntry => {
    if (!isCount(v.i) || typeof v.b !== 'string') throw new BundleMalformedError(`${path}:${at}: expected an entry {i, b, l?}`);
    // Strict base64: Node's decoder skips junk, which would let an edited line pass as the original.
    const bytes = decodeBase64Strict(v.b);
    const leaf = typeof v.l === 'string' ? decodeBase64Strict(v.l) : undefined;
    if (!bytes || (typeof v.l === 'string' && !leaf)) throw new BundleMalformedError(`${path}:${at}: entry ${v.i}: invalid base64`);
    return { index: v.i, bytes, ...(leaf ? { recordedLeaf: leaf } : {}) };
  };
  async function* entries(): AsyncIterable<VerifyEntry> {
    if (pending) yield decode(pending, pendingLine);
    for (;;) {
      const n = await next();
      if (n.done) return;
      if (n.value.length === 0) continue;
      const v = parse(n.value);
      if (typeof v.checkpoint === 'string')
        throw new BundleMalformedError(`${path}:${lineNo}: a checkpoint after the first entry (checkpoints come before entries)`);
      yield decode(v, lineNo);
    }
  }
  return { header, checkpoints, entries: entries() };
}
