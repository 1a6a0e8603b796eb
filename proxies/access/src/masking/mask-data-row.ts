// Masking of PostgreSQL DataRow messages as bytes: values no rule touches are copied as byte
// ranges (never decoded), values masked to a constant (`full` on text, NULL on numbers) are
// written from bytes encoded once per result shape, and only values whose mask depends on
// them are decoded. The per-value decisions are maskCell's (mask-row.ts), so this rewriter
// and maskRow cannot disagree (a property test checks it).
// SPEC: https://www.postgresql.org/docs/current/protocol-message-formats.html
// "DataRow (B) Byte1('D') ... Int32 Length of message contents in bytes, including self.
//  Int16 The number of column values that follow (possibly zero). Next, the following pair of
//  fields appear for each column: Int32 The length of the column value, in bytes (this count
//  does not include itself). Can be zero. As a special case, -1 indicates a NULL column value.
//  No value bytes follow in the NULL case. ByteN The value of the column, in the format
//  indicated by the associated format code."
import { MaskDataRowMalformedError, MaskRowShapeError } from './errors.ts';
import { maskCell, type MaskedCell } from './mask-row.ts';
import type { Hasher } from './mask-styles.ts';
import type { ColumnPlan, CompiledMaskRules } from './rules.ts';
import type { ColumnDescription } from './types.ts';

const DATA_ROW = 0x44; // 'D'
const HEADER_BYTES = 7; // type byte, Int32 length, Int16 column count
const SMALL_COPY = 48; // below this many bytes a loop beats Buffer#copy's call overhead
const SLAB_BYTES = 64 * 1024; // rows masked to constants are written into slabs this large

/** FORMAT_BINARY is the format code of a binary-format column in a RowDescription. */
export const FORMAT_BINARY = 1;

/**
 * DataRowMasker masks the DataRows of one result shape (one RowDescription).
 *
 * `rewrite(raw, cells?)`:
 * - MUST return `raw` itself (no copy) when no value of the row is masked;
 * - otherwise returns a new DataRow in which only masked values differ, every length field
 *   (the message's and each value's) recomputed;
 * - MUST throw (MaskDataRowMalformedError, MaskRowShapeError) rather than pass on a row it
 *   cannot split exactly: a mis-split row could carry an unmasked value to the client;
 * - never masks SQL NULL, except in a derived column (plan `nulls`), where it becomes the
 *   column's constant mask (counted in `masked`, but no MaskedCell: nothing to seal);
 * - a masked value of a binary-format column becomes NULL (its type's binary encoding
 *   cannot carry a mask), so the client never receives the original;
 * - when `cells` is given, appends one MaskedCell per masked value, with the clear original
 *   (decoded as UTF-8, binary-format values as latin1, as the text path does): the caller
 *   MUST seal it and MUST NOT keep it. Without `cells`, constant-masked values are never
 *   decoded at all.
 *
 * `masked` counts the values masked by all calls so far. Not thread-safe; one per result.
 */
export type DataRowMasker = {
  readonly masked: number;
  rewrite(raw: Buffer, cells?: MaskedCell[]): Buffer;
  /**
   * rewriteRun is rewrite (without `cells`) for `count` consecutive DataRows given back to back
   * in `raw`: it returns the rows to send back to back, `raw` itself when none changed, and
   * throws as rewrite does for any row that cannot be split exactly (or bytes left over).
   *
   * With `inPlace`, the caller gives `raw` up (it MUST own those bytes, and MUST NOT read them
   * again except through the result): the masked rows are written over it, front to back,
   * and the result is a view of it, as long as no write would overtake the bytes still to
   * be read (masks shorter than the values they replace, the common case); from the first row
   * where one would, the rest goes to a fresh buffer. After a throw, `raw` holds garbage.
   */
  rewriteRun(raw: Buffer, count: number, inPlace?: boolean): Buffer;
};

/**
 * dataRowMasker compiles the per-column decisions for a result shape once: `columns` and
 * `formats` (the RowDescription's format codes; missing = text) are those of the rows that
 * follow.
 */
export function dataRowMasker(columns: readonly ColumnDescription[], formats: readonly number[], rules: CompiledMaskRules): DataRowMasker {
  return new ShapeMasker(columns, formats, rules);
}

// What rewrite does with one column, decided once per shape.
const KEEP = 0; // no rule: copy the bytes
const CONSTANT = 1; // every value masks to `constants[i]`
const COMPUTE = 2; // decode the value and ask maskCell

class ShapeMasker implements DataRowMasker {
  masked = 0;
  readonly #columns: readonly ColumnDescription[];
  readonly #plans: readonly ColumnPlan[];
  readonly #hasher: Hasher | undefined;
  readonly #n: number;
  readonly #action: Uint8Array;
  readonly #binary: Uint8Array;
  /** nulls[i] = 1: column i's NULLs are masked to its constant too (a derived column). */
  readonly #nulls: Uint8Array;
  /** constants[i] is the encoded constant mask of column i (null = SQL NULL). */
  readonly #constants: (Buffer | null)[];
  /**
   * cellViews[i] views constants[i] as a whole DataRow value: its Int32 length (-1: NULL), then
   * its bytes; cellLengths[i] is that value's length (DataView#byteLength is a call).
   */
  readonly #cellViews: DataView[];
  readonly #cellLengths: Int32Array;
  // Scratch space reused by every row: where each value's length field starts, what replaces
  // the value (`changed[i]` = 1), and the replacement's bytes.
  readonly #at: Int32Array;
  readonly #changed: Uint8Array;
  readonly #replacement: (Buffer | null)[];
  /** constantOnly: no column needs its value decoded (every masked column is CONSTANT). */
  readonly #constantOnly: boolean;
  /** growth bounds how much longer than its input a constant-only row can get. */
  readonly #growth: number;
  // Rows of the constant-only path are written one after the other into a slab and handed out
  // as views of it; a view is never written again (`#off` only grows; a full slab is replaced).
  #slab: Buffer = Buffer.alloc(0);
  #slabView: DataView = viewOf(Buffer.alloc(0));
  #off = 0;

  constructor(columns: readonly ColumnDescription[], formats: readonly number[], rules: CompiledMaskRules) {
    this.#columns = columns;
    this.#plans = rules.planFor(columns);
    this.#hasher = rules.hasher;
    const n = columns.length;
    this.#n = n;
    this.#action = new Uint8Array(n);
    this.#binary = new Uint8Array(n);
    this.#nulls = new Uint8Array(n);
    this.#constants = new Array<Buffer | null>(n).fill(null);
    this.#at = new Int32Array(n + 1);
    this.#changed = new Uint8Array(n);
    this.#replacement = new Array<Buffer | null>(n).fill(null);
    for (let i = 0; i < n; i++) {
      // A missing format code counts as text: a binary value masked as text reaches the
      // client as bytes its type cannot parse, never as the original.
      this.#binary[i] = formats[i] === FORMAT_BINARY ? 1 : 0;
      const plan = this.#plans[i];
      if (plan.kind === 'none') this.#action[i] = KEEP;
      else if (plan.kind === 'whole' && (plan.constant !== undefined || this.#binary[i] === 1)) {
        this.#action[i] = CONSTANT;
        const v = this.#binary[i] === 1 || plan.constant === undefined ? null : plan.constant.value;
        this.#constants[i] = v === null ? null : Buffer.from(v, 'utf8');
        if (v !== null && plan.nulls === true) this.#nulls[i] = 1;
      } else this.#action[i] = COMPUTE;
    }
    this.#constantOnly = !this.#action.includes(COMPUTE);
    this.#growth = this.#constants.reduce((g, c) => g + (c?.length ?? 0), 0);
    const cells = this.#constants.map((c) => {
      const cell = Buffer.alloc(4 + (c?.length ?? 0));
      cell.writeInt32BE(c === null ? -1 : c.length, 0);
      c?.copy(cell, 4);
      return cell;
    });
    this.#cellViews = cells.map(viewOf);
    this.#cellLengths = Int32Array.from(cells, (c) => c.length);
  }

  rewrite(raw: Buffer, cells?: MaskedCell[]): Buffer {
    return cells === undefined && this.#constantOnly ? this.#constantRun(raw, 1, false) : this.#rewriteAny(raw, cells);
  }

  /**
   * rewriteRun masks `count` consecutive DataRows given back to back in `raw` and returns the
   * rows to send, back to back (`raw` itself when none changed); without originals wanted.
   * Same checks and same bytes as calling rewrite on each row (a test compares them); a run
   * of constant-only rows costs no object per row.
   */
  rewriteRun(raw: Buffer, count: number, inPlace = false): Buffer {
    return this.#constantOnly ? this.#constantRun(raw, count, inPlace) : this.#eachRow(raw, count);
  }

  // #constantRun is the common case (whole columns masked to `********` or NULL, no originals
  // wanted) for `count` rows back to back, in one pass: runs of unchanged bytes and the
  // constants are copied to the output, lengths read and bytes copied four at a time through
  // DataViews (byte loops over two Buffers cost about a third more per row). Same checks and
  // same bytes as #rewriteAny (a property test compares them).
  //
  // The output is a slab, or with `inPlace` `raw` itself: no slab then (an ArrayBuffer per
  // 64 KiB read, which the GC counts as external memory, and fresh pages to fault in). Writes
  // go front to back and stay behind the reads: `o` (the next byte written) never passes `run`
  // (the first byte not yet copied), because a constant is written over `raw` only where it
  // ends at or before the end of the value it replaces. The first constant that would not fit
  // moves what was written so far to a slab, and the run continues there.
  #constantRun(raw: Buffer, count: number, inPlace: boolean): Buffer {
    const end = raw.length;
    const view = viewOf(raw);
    const n = this.#n;
    const action = this.#action;
    const cells = this.#cellViews;
    const cellLengths = this.#cellLengths;
    const nulls = this.#nulls;
    let dst = raw;
    let out = view;
    let base = 0; // where the output starts in dst
    if (!inPlace) {
      // Every row fits in its length + growth bytes (masked values only shrink or become a constant).
      const room = end + count * this.#growth;
      if (this.#off + room > this.#slab.length) this.#newSlab(room);
      dst = this.#slab;
      out = this.#slabView;
      base = this.#off;
    }
    let o = base;
    let at = 0;
    const before = this.masked;
    for (let k = 0; k < count; k++) {
      if (end - at < HEADER_BYTES || raw[at] !== DATA_ROW) throw new MaskDataRowMalformedError('not a DataRow message');
      const rowEnd = at + 1 + view.getInt32(at + 1);
      if (rowEnd <= at || rowEnd > end) throw new MaskDataRowMalformedError('the DataRow length field does not match the message');
      const cols = view.getUint16(at + 5);
      if (cols !== n) throw new MaskRowShapeError(`the DataRow has ${cols} values but ${n} columns are described`);
      let start = o;
      let pos = at + HEADER_BYTES;
      let run = at;
      let masked = 0;
      for (let i = 0; i < n; i++) {
        if (pos + 4 > rowEnd) throw new MaskDataRowMalformedError(`value ${i} of the DataRow runs past its end`);
        const cell = pos;
        const len = view.getInt32(pos);
        pos += 4;
        if (len === -1) {
          if (nulls[i] === 0) continue; // NULL is masked only in derived columns
        } else {
          if (len < 0 || len > rowEnd - pos) throw new MaskDataRowMalformedError(`value ${i} of the DataRow has an invalid length ${len}`);
          pos += len;
          if (action[i] === KEEP) continue;
        }
        o = copyView(raw, view, run, cell, dst, out, o);
        const size = cellLengths[i];
        if (dst === raw && o + size > pos) {
          // This constant would overwrite bytes not read yet: the output so far (this row's
          // first part included) moves to a slab with room for everything still to come.
          const room = o + (end - cell) + (count - k) * this.#growth;
          if (this.#off + room > this.#slab.length) this.#newSlab(room);
          base = this.#off;
          raw.copy(this.#slab, base, 0, o);
          dst = this.#slab;
          out = this.#slabView;
          start += base;
          o += base;
        }
        o = copyWords(cells[i], 0, size, out, o);
        run = pos;
        masked++;
      }
      if (pos !== rowEnd) throw new MaskDataRowMalformedError(`the DataRow has ${rowEnd - pos} bytes after its last value`);
      o = copyView(raw, view, run, rowEnd, dst, out, o);
      if (masked > 0) out.setInt32(start + 1, o - start - 1);
      this.masked += masked;
      at = rowEnd;
    }
    if (at !== end) throw new MaskDataRowMalformedError(`${end - at} bytes follow the last DataRow`);
    // Nothing masked: `raw` is as it was (each row was copied onto itself), and slab space is reused.
    if (this.masked === before) return raw;
    if (dst === raw) return raw.subarray(0, o);
    this.#off = o;
    return this.#slab.subarray(base, o);
  }

  // #eachRow is rewriteRun for shapes that decode values: one rewrite per row.
  #eachRow(raw: Buffer, count: number): Buffer {
    const out: Buffer[] = [];
    let changed = false;
    let at = 0;
    for (let k = 0; k < count; k++) {
      if (raw.length - at < HEADER_BYTES) throw new MaskDataRowMalformedError('not a DataRow message');
      const rowEnd = at + 1 + int32At(raw, at + 1);
      if (rowEnd <= at || rowEnd > raw.length) throw new MaskDataRowMalformedError('the DataRow length field does not match the message');
      const row = raw.subarray(at, rowEnd);
      const r = this.#rewriteAny(row, undefined);
      if (r !== row) changed = true;
      out.push(r);
      at = rowEnd;
    }
    if (at !== raw.length) throw new MaskDataRowMalformedError(`${raw.length - at} bytes follow the last DataRow of the run`);
    return changed ? Buffer.concat(out) : raw;
  }

  #newSlab(room: number): void {
    this.#slab = Buffer.allocUnsafe(Math.max(SLAB_BYTES, room));
    this.#slabView = viewOf(this.#slab);
    this.#off = 0;
  }

  #rewriteAny(raw: Buffer, cells: MaskedCell[] | undefined): Buffer {
    const end = raw.length;
    if (end < HEADER_BYTES || raw[0] !== DATA_ROW) throw new MaskDataRowMalformedError('not a DataRow message');
    if (int32At(raw, 1) !== end - 1) throw new MaskDataRowMalformedError('the DataRow length field does not match the message');
    const n = this.#n;
    const count = (raw[5] << 8) | raw[6]; // Int16: a count >= 32768 is negative there, and never equals n
    if (count !== n) throw new MaskRowShapeError(`the DataRow has ${count} values but ${n} columns are described`);
    const at = this.#at;
    const changed = this.#changed;
    const action = this.#action;
    let pos = HEADER_BYTES;
    let size = end;
    let any = 0;
    for (let i = 0; i < n; i++) {
      at[i] = pos;
      if (pos + 4 > end) throw new MaskDataRowMalformedError(`value ${i} of the DataRow runs past its end`);
      const len = int32At(raw, pos);
      pos += 4;
      changed[i] = 0;
      if (len === -1) {
        // NULL is masked only in derived columns (to their constant); no original to collect.
        if (this.#nulls[i] === 0) continue;
        changed[i] = 1;
        any++;
        const c = this.#constants[i];
        this.#replacement[i] = c;
        size += c === null ? 0 : c.length;
        continue;
      }
      if (len < 0 || len > end - pos) throw new MaskDataRowMalformedError(`value ${i} of the DataRow has an invalid length ${len}`);
      const start = pos;
      pos += len;
      const act = action[i];
      if (act === KEEP) continue;
      let bytes: Buffer | null;
      if (act === CONSTANT && cells === undefined) bytes = this.#constants[i];
      else {
        const col = this.#columns[i];
        const original = this.#binary[i] === 1 ? raw.toString('latin1', start, pos) : raw.toString('utf8', start, pos);
        if (act === CONSTANT) {
          bytes = this.#constants[i];
          const plan = this.#plans[i] as Extract<ColumnPlan, { kind: 'whole' }>;
          cells?.push(
            Object.freeze({
              column: i,
              columnName: col.name,
              ruleId: plan.ruleId,
              detector: null,
              original,
              masked: bytes === null ? null : bytes.toString('utf8'),
            }),
          );
        } else {
          const m = maskCell(this.#plans[i], original, col, this.#hasher);
          if (m === undefined) continue;
          // A binary-format value cannot carry a mask in its type's encoding: NULL instead.
          const sent = this.#binary[i] === 1 ? null : m.masked;
          bytes = sent === null ? null : Buffer.from(sent, 'utf8');
          cells?.push(Object.freeze({ column: i, columnName: col.name, ruleId: m.ruleId, detector: m.detector, original, masked: sent }));
        }
      }
      changed[i] = 1;
      any++;
      this.#replacement[i] = bytes;
      size += (bytes === null ? 0 : bytes.length) - len;
    }
    if (pos !== end) throw new MaskDataRowMalformedError(`the DataRow has ${end - pos} bytes after its last value`);
    if (any === 0) return raw;
    this.masked += any;
    at[n] = end;
    const out = Buffer.allocUnsafe(size);
    // Copy each run of unchanged values (length fields included) as one byte range; the
    // header's type byte and column count are part of the first run.
    let o = 0;
    let run = 0;
    for (let i = 0; i < n; i++) {
      if (changed[i] === 0) continue;
      o = copy(raw, run, at[i], out, o);
      const r = this.#replacement[i];
      this.#replacement[i] = null;
      if (r === null) o = putInt32(out, o, -1);
      else o = copy(r, 0, r.length, out, putInt32(out, o, r.length));
      run = at[i + 1];
    }
    o = copy(raw, run, end, out, o);
    putInt32(out, 1, size - 1);
    return out;
  }
}

// int32At reads a big-endian Int32 (the caller checked the bounds); `|` keeps the sign.
function int32At(b: Buffer, at: number): number {
  return (b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3];
}

// putInt32 writes a big-endian Int32 at `at` and returns the offset after it.
function putInt32(b: Buffer, at: number, v: number): number {
  b[at] = v >>> 24;
  b[at + 1] = v >>> 16;
  b[at + 2] = v >>> 8;
  b[at + 3] = v;
  return at + 4;
}

const viewOf = (b: Buffer): DataView => new DataView(b.buffer, b.byteOffset, b.length);

// copyWords writes src[from, to) into dst at `o`, four bytes at a time, and returns the offset after it.
function copyWords(src: DataView, from: number, to: number, dst: DataView, o: number): number {
  let len = to - from;
  for (; len >= 4; len -= 4, from += 4, o += 4) dst.setUint32(o, src.getUint32(from));
  for (; len > 0; len--) dst.setUint8(o++, src.getUint8(from++));
  return o;
}

// copyView is copy for a source and destination that also have DataViews (rewriteRun's).
function copyView(src: Buffer, srcView: DataView, from: number, to: number, dst: Buffer, dstView: DataView, o: number): number {
  if (to - from >= SMALL_COPY) return o + src.copy(dst, o, from, to);
  return copyWords(srcView, from, to, dstView, o);
}

// copy writes src[from, to) into dst at `o` and returns the offset after it.
function copy(src: Buffer, from: number, to: number, dst: Buffer, o: number): number {
  const len = to - from;
  if (len < SMALL_COPY) {
    for (let k = 0; k < len; k++) dst[o + k] = src[from + k];
  } else src.copy(dst, o, from, to);
  return o + len;
}
