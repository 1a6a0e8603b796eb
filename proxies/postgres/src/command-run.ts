// CommandRun follows one forwarded command through its results: it hashes the result rows
// exactly as sent to the client, counts them, masks them when policy says so, keeps a capped
// capture, and at the end yields the audit drafts (DataMasked, ResultCaptured, CommandCompleted).
import type { ColumnDescription, EventDraft } from '@affidavit/access';
import type { CommandChannel } from '@affidavit/schemas';
import { ResultDigest } from './result-digest.ts';
import { parseCommandTagAt, parseErrorFields, parseRowDescription, tagRows } from './backend-messages.ts';
import type { ResultMasker } from './masking-port.ts';
import { dataRow, decodeDataRow } from './wire/index.ts';

/** MAX_MASKED_VALUES_PER_COMMAND caps the sealed values one DataMasked event carries (the masker's maxSealed enforces it). */
export const MAX_MASKED_VALUES_PER_COMMAND = 1000;

const latin1 = (b: Buffer) => b.toString('latin1');

/** CommandRunInit names the command and what to do with its results. */
export type CommandRunInit = {
  readonly id: string;
  readonly sessionId: string;
  readonly text: string;
  readonly channel: CommandChannel;
  readonly masker?: ResultMasker;
  readonly maskRuleId?: string;
  /** captureBytes > 0 keeps up to that many bytes of rows for ResultCaptured. */
  readonly captureBytes?: number;
  readonly startedAt: number;
};

/** CommandRun accumulates one command's results (not thread-safe; one per command). */
export class CommandRun {
  readonly id: string;
  readonly text: string;
  readonly channel: CommandChannel;
  readonly startedAt: number;
  readonly #sessionId: string;
  readonly #masker?: ResultMasker;
  readonly #digest = new ResultDigest();
  #columns: readonly ColumnDescription[] = [];
  #formats: readonly number[] = [];
  #dataRows = 0;
  #tagRows: number | undefined;
  #tag: string | null = null;
  #errorCode: string | null = null;
  #errorMessage: string | null = null;
  #captureLeft: number;
  #at?: { sessionId: string; commandId: string; row: number };
  #capture?: { columns: string[]; rows: (string | null)[][]; truncated: boolean };

  constructor(init: CommandRunInit) {
    this.id = init.id;
    this.text = init.text;
    this.channel = init.channel;
    this.startedAt = init.startedAt;
    this.#sessionId = init.sessionId;
    this.#masker = init.masker;
    this.#captureLeft = init.captureBytes ?? 0;
    if (this.#captureLeft > 0) this.#capture = { columns: [], rows: [], truncated: false };
  }

  /** masking tells whether DataRows may be rewritten (the relay then needs their shape). */
  get masking(): boolean {
    return this.#masker !== undefined;
  }

  /** rewrites tells whether dataRow does more than digest and count (masking or capture): without it, rows may go through dataRows. */
  get rewrites(): boolean {
    return this.#masker !== undefined || this.#capture !== undefined;
  }

  /**
   * dataRows digests and counts `count` consecutive DataRows forwarded unchanged, given as one
   * buffer (their bytes back to back, exactly as sent). It MUST NOT be used while `rewrites`.
   */
  dataRows(raw: Buffer, count: number): void {
    this.#dataRows += count;
    this.#digest.update(raw);
  }

  /** masksRuns tells whether rows may go through maskedRows (masking as bytes, no capture). */
  get masksRuns(): boolean {
    return this.#masker?.dataRows !== undefined && this.#capture === undefined;
  }

  /**
   * maskedRows is dataRow for `count` consecutive DataRows given back to back in `raw`: it
   * returns the bytes to send for all of them (`raw` itself when nothing changed) and hashes
   * them. Only while `masksRuns`. With `inPlace` the caller gives `raw` up: the masked rows
   * may be written over it (the session passes the rows of a read it owns).
   */
  maskedRows(raw: Buffer, count: number, inPlace = false): Buffer {
    const at = (this.#at ??= { sessionId: this.#sessionId, commandId: this.id, row: 0 });
    at.row = this.#dataRows;
    const out = this.#masker!.dataRows!(raw, count, this.#columns, this.#formats, at, inPlace);
    this.#dataRows += count;
    this.#digest.update(out);
    return out;
  }

  /**
   * message returns what the client gets for an ErrorResponse or NoticeResponse of this
   * command (type byte included): its texts withheld when the masker says the statement reads
   * masked columns, else `raw` itself. Call it before error(), so the record holds what the
   * client saw.
   */
  message(raw: Buffer): Buffer {
    return this.#masker?.message?.(raw) ?? raw;
  }

  /** failed tells whether an ErrorResponse was seen. */
  get failed(): boolean {
    return this.#errorCode !== null;
  }

  /** rowDescription takes the shape of the next rows (simple query inline, or a hidden Describe). */
  rowDescription(raw: Buffer): void {
    if (!this.#masker && !this.#capture) return;
    const shape = parseRowDescription(raw);
    this.#columns = shape.columns;
    this.#formats = shape.formats;
    if (this.#capture && this.#capture.columns.length === 0) this.#capture.columns = shape.columns.map((c) => c.name);
  }

  /** dataRow returns the bytes to send for one DataRow (the same buffer when nothing changed) and hashes them. */
  dataRow(raw: Buffer): Buffer {
    let out = raw;
    const rowIndex = this.#dataRows++;
    if (this.#masker?.dataRow && !this.#capture) {
      // Masking without capture rewrites the DataRow as bytes (masking-port.ts): unmasked values
      // are copied, never decoded; the masker counts and seals, and finish() takes its tally.
      // One MaskedAt per command, its row updated: the masker reads it during the call only.
      const at = (this.#at ??= { sessionId: this.#sessionId, commandId: this.id, row: 0 });
      at.row = rowIndex;
      out = this.#masker.dataRow(raw, this.#columns, this.#formats, at);
    } else if (this.#masker || this.#capture) {
      const values = decodeDataRow(raw);
      const fmt = this.#formats;
      // Binary-format values are shown to detectors as latin1 and captured as hex.
      const text = values.map((v, i) => (v === null ? null : fmt[i] === 1 ? latin1(v) : v.toString('utf8')));
      let sent: (string | null)[] = text;
      if (this.#masker && values.length === this.#columns.length) {
        const res = this.#masker.mask(text, this.#columns);
        // A derived column's NULL is masked too, with no cell to collect (nothing to seal).
        if (res.masked.length > 0 || res.row !== text) {
          const maskedAt = new Set(res.masked.map((c) => c.column));
          for (let i = 0; i < text.length; i++) if (text[i] === null && res.row[i] !== null) maskedAt.add(i);
          // A masked binary-format value cannot be rewritten in its type's binary encoding, so
          // it is sent as SQL NULL: the client never receives the original.
          out = dataRow(values.map((v, i) => (!maskedAt.has(i) ? v : fmt[i] === 1 ? null : res.row[i])));
          sent = res.row.map((v, i) => (maskedAt.has(i) && fmt[i] === 1 ? null : v));
          if (res.masked.length > 0) {
            // The masker counts them and seals the originals of the first ones a chunk at a time.
            const at = (this.#at ??= { sessionId: this.#sessionId, commandId: this.id, row: 0 });
            at.row = rowIndex;
            this.#masker.collect(res.masked, at);
          }
        }
      }
      if (this.#capture && !this.#capture.truncated) {
        const row = sent.map((v, i) => (v !== null && fmt[i] === 1 && values[i] ? `\\x${values[i].toString('hex')}` : v));
        const size = row.reduce((n, v) => n + (v === null ? 1 : v.length + 1), 8);
        if (size > this.#captureLeft) this.#capture.truncated = true;
        else {
          this.#captureLeft -= size;
          this.#capture.rows.push(row);
        }
      }
    }
    this.#digest.update(out);
    return out;
  }

  /** copyData hashes one CopyData message of COPY TO STDOUT as sent to the client. */
  copyData(raw: Buffer): void {
    this.#digest.update(raw);
  }

  /** commandComplete takes a CommandComplete ('C') at raw[at, end); a simple query may hold several. */
  commandComplete(raw: Buffer, at = 0, end = raw.length): void {
    const tag = parseCommandTagAt(raw, at, end);
    this.#tag = tag;
    const n = tagRows(tag);
    if (n !== undefined) this.#tagRows = (this.#tagRows ?? 0) + n;
  }

  /** error takes an ErrorResponse; the first one is the command's error. */
  error(raw: Buffer): void {
    if (this.#errorCode !== null) return;
    const e = parseErrorFields(raw);
    this.#errorCode = /^[0-9A-Z]{5}$/.test(e.code) ? e.code : 'XX000';
    this.#errorMessage = e.message.slice(0, 4096);
  }

  /** skipped marks a command the server never ran: an earlier message of its pipeline failed. */
  skipped(): void {
    if (this.#errorCode !== null) return;
    this.#errorCode = '25P02';
    this.#errorMessage = 'not run: an earlier message of the same pipeline failed, so the server skipped it';
  }

  /** suspended marks a PortalSuspended (Execute with a row limit). */
  suspended(): void {
    this.#tag ??= null;
  }

  /** finish returns the drafts to record, in order, with the duration measured to `now` (ms). */
  finish(now: number): EventDraft[] {
    const drafts: EventDraft[] = [];
    const digest = this.#digest.hex();
    // tally seals the last partial chunk: no clear original outlives the result.
    const tally = this.#masker?.tally();
    if (tally && tally.count > 0) {
      drafts.push({
        type: 'DataMasked',
        commandId: this.id,
        count: tally.count,
        masks: [...tally.sealed],
        truncated: tally.count > tally.sealed.length,
        sealedOriginals: [...tally.sealedOriginals],
      });
    }
    if (this.#capture && (this.#capture.rows.length > 0 || this.#capture.columns.length > 0)) {
      drafts.push({
        type: 'ResultCaptured',
        commandId: this.id,
        columns: this.#capture.columns,
        rows: this.#capture.rows,
        truncated: this.#capture.truncated,
        resultDigest: digest,
      });
    }
    const outcome = this.#errorCode === null ? 'ok' : this.#errorCode === '57014' ? 'cancelled' : 'error';
    drafts.push({
      type: 'CommandCompleted',
      commandId: this.id,
      outcome,
      tag: this.#tag,
      rows: this.#tagRows ?? (this.#dataRows > 0 ? this.#dataRows : null),
      durationMicros: Math.max(0, Math.round((now - this.startedAt) * 1000)),
      errorCode: this.#errorCode,
      errorMessage: this.#errorMessage,
      resultDigest: this.#digest.empty ? null : digest,
    });
    return drafts;
  }
}
