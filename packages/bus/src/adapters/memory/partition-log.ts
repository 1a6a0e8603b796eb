// One partition of the in-process broker: records kept in segments (Kafka's log segments), so
// that releasing the oldest records drops whole segments in O(1) amortised and never copies
// the records that stay. Pure: no clock, no I/O.
import type { BusRecord } from '../../ports/bus.ts';

/**
 * StoredRecord is a record as the memory broker keeps it: already the BusRecord every group is
 * handed (read-only, shared), so a delivery builds no object per record.
 */
export type StoredRecord = BusRecord;

/**
 * SEGMENT_RECORDS seals a segment after this many records (the unit in which memory is
 * released). Small on purpose: a record lives until its whole segment is consumed, and with
 * 4096 a proxy's audit records outlived two young-generation collections, were promoted and
 * had to be marked and swept as old objects (old-generation GC on every proxied command).
 */
export const SEGMENT_RECORDS = 256;

/** SEGMENT_BYTES seals a segment once it holds this many accounted bytes, so one segment of large records stays small. */
export const SEGMENT_BYTES = 1024 * 1024;

/**
 * RECORD_OVERHEAD_BYTES approximates what a stored record costs on the heap besides its key,
 * value and header bytes (the record object, its bigint offset, the headers object). The byte
 * bounds count it so that a stream of tiny records is bounded too.
 */
export const RECORD_OVERHEAD_BYTES = 128;

type Segment = { readonly base: number; readonly records: StoredRecord[]; bytes: number };

const RELEASED: Segment = Object.freeze({ base: -1, records: [], bytes: 0 }) as Segment;

/** recordBytes is the accounted size of one record: key, value, header bytes and a fixed overhead. */
export function recordBytes(r: Pick<BusRecord, 'key' | 'value' | 'headers'>): number {
  let n = RECORD_OVERHEAD_BYTES + r.key.length + r.value.length;
  for (const k in r.headers) n += k.length + r.headers[k].length;
  return n;
}

/**
 * PartitionLog is one partition's records, offsets absolute from 0. Records below `start` have
 * been released; offsets MUST NOT be reused or renumbered after a release (offset N is always
 * the N-th record ever appended).
 */
export class PartitionLog {
  readonly #topic: string;
  readonly #partition: number;
  /** #segs[#head..] are the live segments, oldest first; the last one takes appends. */
  #segs: Segment[] = [];
  #head = 0;
  #start = 0;
  #end = 0;
  #bytes = 0;

  /** A log of `topic`'s partition `partition`: its records carry both (they are delivered as they are stored). */
  constructor(topic = '', partition = 0) {
    this.#topic = topic;
    this.#partition = partition;
  }

  /** start is the offset of the oldest retained record (= end when nothing is retained). */
  get start(): number {
    return this.#start;
  }

  /** end is the offset the next appended record gets. */
  get end(): number {
    return this.#end;
  }

  /** records is how many records are retained. */
  get records(): number {
    return this.#end - this.#start;
  }

  /** bytes is the accounted size of the retained records (see recordBytes). */
  get bytes(): number {
    return this.#bytes;
  }

  /** segments is how many segments are live (for tests and stats). */
  get segments(): number {
    return this.#segs.length - this.#head;
  }

  /** append stores one record at offset `end`; `bytes` is its recordBytes(). */
  append(key: string, value: Buffer, headers: BusRecord['headers'], timestamp: number, bytes: number): void {
    let seg = this.#segs.length > this.#head ? this.#segs[this.#segs.length - 1] : undefined;
    if (seg === undefined || seg.records.length >= SEGMENT_RECORDS || seg.bytes >= SEGMENT_BYTES) {
      seg = { base: this.#end, records: [], bytes: 0 };
      this.#segs.push(seg);
    }
    seg.records.push({ topic: this.#topic, partition: this.#partition, offset: BigInt(this.#end), key, value, timestamp, headers });
    seg.bytes += bytes;
    this.#bytes += bytes;
    this.#end++;
  }

  /**
   * read returns up to `max` consecutive records from offset `from`; a `from` below `start`
   * reads from `start` (the caller sees where it really starts in the first record's offset).
   */
  read(from: number, max: number): StoredRecord[] {
    if (from < this.#start) from = this.#start;
    if (from >= this.#end || max <= 0) return [];
    let i = this.#segmentOf(from);
    let seg = this.#segs[i];
    const at = from - seg.base;
    // Common case (a consumer near the tail): one slice of one segment, as before segments.
    if (seg.records.length - at >= max || i === this.#segs.length - 1) return seg.records.slice(at, at + max);
    const out = seg.records.slice(at);
    while (out.length < max && ++i < this.#segs.length) {
      seg = this.#segs[i];
      const want = max - out.length;
      for (let j = 0; j < seg.records.length && j < want; j++) out.push(seg.records[j]);
    }
    return out;
  }

  /**
   * releaseBefore drops every SEALED segment whose records all lie below `offset`; returns how
   * many records it dropped. The segment taking appends is kept (it is at most one segment).
   */
  releaseBefore(offset: number): number {
    let dropped = 0;
    while (this.#segs.length - this.#head > 1) {
      const seg = this.#segs[this.#head];
      if (seg.base + seg.records.length > offset) break;
      dropped += this.#dropHead();
    }
    return dropped;
  }

  /** bytesFrom returns the accounted bytes of the retained records at offsets >= `offset` (walks the segments: for the slow path only). */
  bytesFrom(offset: number): number {
    if (offset <= this.#start) return this.#bytes;
    if (offset >= this.#end) return 0;
    const i = this.#segmentOf(offset);
    let n = 0;
    const seg = this.#segs[i];
    for (let j = offset - seg.base; j < seg.records.length; j++) n += recordBytes(seg.records[j]);
    for (let k = i + 1; k < this.#segs.length; k++) n += this.#segs[k].bytes;
    return n;
  }

  /** firstSealedEnd is the offset past the oldest sealed segment, or Infinity when there is none (a cheap "can anything be released?" test). */
  firstSealedEnd(): number {
    if (this.#segs.length - this.#head <= 1) return Infinity;
    const seg = this.#segs[this.#head];
    return seg.base + seg.records.length;
  }

  /** dropOldestSealed drops the oldest sealed segment regardless of consumers; returns the records dropped (0 when only the active segment is left). */
  dropOldestSealed(): number {
    return this.#segs.length - this.#head > 1 ? this.#dropHead() : 0;
  }

  #dropHead(): number {
    const seg = this.#segs[this.#head];
    // The slot is overwritten, not spliced: the segment's records become garbage now.
    this.#segs[this.#head++] = RELEASED;
    this.#bytes -= seg.bytes;
    this.#start = seg.base + seg.records.length;
    // Compact the segment list itself once most of it is released slots (amortised O(1)).
    if (this.#head >= 64 && this.#head * 2 >= this.#segs.length) {
      this.#segs = this.#segs.slice(this.#head);
      this.#head = 0;
    }
    return seg.records.length;
  }

  /** #segmentOf returns the index of the live segment holding `offset` (start <= offset < end). */
  #segmentOf(offset: number): number {
    let hi = this.#segs.length - 1;
    if (this.#segs[hi].base <= offset) return hi;
    let lo = this.#head;
    // Invariant: segs[lo].base <= offset < segs[hi].base.
    while (hi - lo > 1) {
      const mid = (lo + hi) >>> 1;
      if (this.#segs[mid].base <= offset) lo = mid;
      else hi = mid;
    }
    return lo;
  }
}
