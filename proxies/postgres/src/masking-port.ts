// The masking port the session uses, and its adapter over @affidavit/access's masking module.
// The session only asks "mask this text row" and "collect these cells"; key lookup (async)
// happens once per command in `prepare`, so the per-row path stays synchronous. Originals are
// sealed a chunk at a time (one AES-GCM operation per chunk, masked-value-collector.ts).
import {
  DEFAULT_MAX_MASKED_VALUES,
  MAX_CHUNK_VALUES,
  MaskDataRowMalformedError,
  compileMaskRules,
  createChunkSealer,
  createMaskedValueCollector,
  dataRowMasker,
  maskRow,
  maskRulesFromPolicy,
  withForcedColumns,
  type ChunkSealer,
  type ColumnDescription,
  type DataKey,
  type DataRowMasker,
  type KeyProvider,
  type MaskRowResult,
  type MaskSpec,
  type MaskedAt,
  type MaskedCell,
  type ResultRow,
} from '@affidavit/access';
import type { MaskedValue, SealedOriginals } from '@affidavit/schemas';
import { withheldMessage, type MaskLineage } from './lineage-gate.ts';

/** MaskTally is what ResultMasker masked so far. */
export type MaskTally = {
  /** count is how many values were masked in all. */
  readonly count: number;
  /** sealed are the first of them (at most the port's maxSealed), each with `original` null. */
  readonly sealed: readonly MaskedValue[];
  /** sealedOriginals seal the originals of `sealed`, a chunk at a time; they cover all of it. */
  readonly sealedOriginals: readonly SealedOriginals[];
};

/** ResultMasker masks the rows of one command and seals their originals. */
export type ResultMasker = {
  /** mask MUST return the row itself when nothing is masked. */
  mask(row: ResultRow, columns: readonly ColumnDescription[]): MaskRowResult;
  /**
   * collect counts one row's masked cells (from mask) and keeps the first maxSealed of the
   * command for its DataMasked event, their originals sealed a chunk at a time: a clear
   * original is held only until its chunk is full (or tally), never by the caller after the
   * call. `at` is read during the call only.
   */
  collect(cells: readonly MaskedCell[], at: MaskedAt): void;
  /**
   * dataRow (optional: a masker without it gets rows decoded and passed to mask and seal)
   * masks one DataRow as bytes (`columns` and `formats` from the RowDescription that
   * precedes it; pass the same arrays for every row of a result, the per-column decisions are
   * compiled once per pair). It MUST return `raw` itself when nothing is masked, throws rather
   * than pass on a row it cannot split exactly, counts the masked values and collects the
   * first maxSealed of them as collect does (chunks bound to session, command, place, and
   * each value's column and `at.row`). `at` is read during the call only
   * (MUST NOT be kept): the caller reuses one object for all rows of a command.
   */
  dataRow?(raw: Buffer, columns: readonly ColumnDescription[], formats: readonly number[], at: MaskedAt): Buffer;
  /**
   * dataRows (optional, with dataRow) is dataRow for `count` consecutive DataRows given back to
   * back in `raw` (`at.row` the first one's index): it returns the rows to send, back to back,
   * `raw` itself when none changed. Same guarantees as dataRow. With `inPlace` the caller
   * gives `raw` up: the masked rows may be written over it (DataRowMasker.rewriteRun).
   */
  dataRows?(raw: Buffer, count: number, columns: readonly ColumnDescription[], formats: readonly number[], at: MaskedAt, inPlace?: boolean): Buffer;
  /**
   * tally returns what dataRow and collect masked so far. It first seals the partial chunk, so
   * no clear original is held after it: call it when the command's result ends.
   */
  tally(): MaskTally;
  /**
   * message returns what the client gets for an ErrorResponse or NoticeResponse of this
   * command: `raw` itself, or, when the statement reads masked columns, the message with its
   * texts withheld (SQLSTATE kept), since the server quotes values in them.
   */
  message?(raw: Buffer): Buffer;
};

/**
 * MaskingPort builds a ResultMasker for a policy decision's mask spec; `lineage` (from the
 * lineage gate) adds result positions masked whole whatever their names, and withheld texts.
 */
export type MaskingPort = { prepare(ruleId: string, spec: MaskSpec, lineage?: MaskLineage): Promise<ResultMasker> };

/**
 * createMaskingPort adapts the access masking module: compiled rules are cached per (rule, spec)
 * so a repeated statement does not recompile; `keys.current()` is asked once per command, and
 * the key is imported once per DataKey object (a ChunkSealer, so a provider MUST NOT change a
 * DataKey's bytes after returning it), not per sealed value. `maxSealed` (default
 * DEFAULT_MAX_MASKED_VALUES, the DataMasked event's cap) bounds the originals sealed per
 * command; `sealChunk` (default DEFAULT_SEAL_CHUNK) is how many share one GCM operation.
 */
export function createMaskingPort(deps: { keys: KeyProvider; hashKey?: Uint8Array; maxSealed?: number; sealChunk?: number }): MaskingPort {
  const compiled = new Map<string, ReturnType<typeof compileMaskRules>>();
  const sealers = new WeakMap<DataKey, ChunkSealer>();
  const maxSealed = deps.maxSealed ?? DEFAULT_MAX_MASKED_VALUES;
  const chunk = deps.sealChunk;
  if (chunk !== undefined && (!Number.isSafeInteger(chunk) || chunk < 1 || chunk > MAX_CHUNK_VALUES))
    throw new RangeError(`sealChunk must be 1 to ${MAX_CHUNK_VALUES}, not ${chunk}`);
  return {
    async prepare(ruleId, spec, lineage) {
      const cacheKey = JSON.stringify([ruleId, spec.columns, spec.detectors]);
      let rules = compiled.get(cacheKey);
      if (!rules) {
        rules = compileMaskRules(maskRulesFromPolicy(ruleId, spec), deps.hashKey ? { hashKey: deps.hashKey } : {});
        if (compiled.size > 256) compiled.clear();
        compiled.set(cacheKey, rules);
      }
      const key = await deps.keys.current();
      let sealer = sealers.get(key);
      if (!sealer) {
        sealer = createChunkSealer(key);
        sealers.set(key, sealer);
      }
      // Positions forced by lineage are masked `full` when derived, in the column style when plain.
      const r = lineage?.forced ? withForcedColumns(rules, lineage.forced, ruleId) : rules;
      const masksMessages = lineage?.masksMessages === true;
      // This command's state: the compiled DataRow shape, counts, and the kept values.
      let shape: { columns: readonly ColumnDescription[]; formats: readonly number[]; masker: DataRowMasker } | undefined;
      let earlier = 0; // values masked under previous shapes (a simple query with several results)
      let collected = 0; // values counted through collect (the decoding path)
      const kept = createMaskedValueCollector({ sealer, maxValues: maxSealed, ...(chunk !== undefined ? { chunkSize: chunk } : {}) });
      const cells: MaskedCell[] = [];
      const dataRow = (raw: Buffer, columns: readonly ColumnDescription[], formats: readonly number[], at: MaskedAt): Buffer => {
        if (shape === undefined || shape.columns !== columns || shape.formats !== formats) {
          earlier += shape?.masker.masked ?? 0;
          shape = { columns, formats, masker: dataRowMasker(columns, formats, r) };
        }
        if (kept.full) return shape.masker.rewrite(raw);
        try {
          const out = shape.masker.rewrite(raw, cells);
          if (cells.length > 0) kept.add(cells, at);
          return out;
        } finally {
          cells.length = 0; // the clear originals are dropped here, even when the row was refused
        }
      };
      return {
        mask: (row, columns) => maskRow(row, columns, r),
        collect(c, at) {
          collected += c.length;
          kept.add(c, at);
        },
        dataRow,
        dataRows(raw, count, columns, formats, at, inPlace) {
          if (shape !== undefined && shape.columns === columns && shape.formats === formats && kept.full) return shape.masker.rewriteRun(raw, count, inPlace);
          // Originals still to seal (or a new shape): row by row, as dataRow.
          const out: Buffer[] = [];
          let changed = false;
          let o = 0;
          const first = at.row;
          for (let k = 0; k < count; k++) {
            if (raw.length - o < 5) throw new MaskDataRowMalformedError('a DataRow of the run is cut short');
            const end = o + 1 + raw.readInt32BE(o + 1);
            if (end <= o || end > raw.length) throw new MaskDataRowMalformedError('the DataRow length field does not match the message');
            const row = raw.subarray(o, end);
            const r = dataRow(row, columns, formats, { sessionId: at.sessionId, commandId: at.commandId, row: first + k });
            if (r !== row) changed = true;
            out.push(r);
            o = end;
          }
          if (o !== raw.length) throw new MaskDataRowMalformedError('bytes follow the last DataRow of the run');
          return changed ? Buffer.concat(out) : raw;
        },
        message: (raw) => (masksMessages ? withheldMessage(raw, ruleId) : raw),
        tally() {
          kept.flush();
          return { count: earlier + (shape?.masker.masked ?? 0) + collected, sealed: kept.masks, sealedOriginals: kept.sealedOriginals };
        },
      };
    },
  };
}
