// Collects one command's masked values for its DataMasked event and seals their originals a
// chunk at a time, as each chunk fills. Pure apart from the injected ChunkSealer.
import type { MaskedValue, SealedOriginals } from '@affidavit/schemas';
import { DEFAULT_MAX_MASKED_VALUES, NULL_TEXT, type MaskedAt } from './data-masked-event.ts';
import type { MaskedCell } from './mask-row.ts';
import { MAX_CHUNK_VALUES, type ChunkSealer, type MaskPosition } from './seal.ts';

/** DEFAULT_SEAL_CHUNK is how many originals one chunk seals (one AES-GCM operation each). */
export const DEFAULT_SEAL_CHUNK = 256;

/** MaskedValueCollector gathers one command's masked values (createMaskedValueCollector). */
export type MaskedValueCollector = {
  /**
   * add takes one row's masked cells (`at` read during the call only). It keeps the first
   * `maxValues` values of the command as MaskedValue entries with `original` null, and holds
   * their clear originals only until their chunk is full: then it seals the chunk and drops
   * them, so at most `chunkSize - 1` clear originals are held between calls. Cells past the
   * cap are ignored (the caller counts them). All cells of one collector MUST come from one
   * session and command (a TypeError otherwise).
   */
  add(cells: readonly MaskedCell[], at: MaskedAt): void;
  /** flush seals the partial chunk, if any; call it when the command's result ends. */
  flush(): void;
  /** masks are the values kept so far, in order. */
  readonly masks: readonly MaskedValue[];
  /** sealedOriginals are the chunks sealed so far; after flush they cover every entry of masks. */
  readonly sealedOriginals: readonly SealedOriginals[];
  /** full tells that maxValues values are kept: add ignores any more. */
  readonly full: boolean;
};

/**
 * createMaskedValueCollector returns a collector for one command that seals with `sealer`.
 * `maxValues` defaults to DEFAULT_MAX_MASKED_VALUES, `chunkSize` to DEFAULT_SEAL_CHUNK
 * (1 to MAX_CHUNK_VALUES).
 */
export function createMaskedValueCollector(opts: {
  readonly sealer: ChunkSealer;
  readonly maxValues?: number;
  readonly chunkSize?: number;
}): MaskedValueCollector {
  const max = opts.maxValues ?? DEFAULT_MAX_MASKED_VALUES;
  const chunk = opts.chunkSize ?? DEFAULT_SEAL_CHUNK;
  if (!Number.isSafeInteger(max) || max < 0) throw new RangeError(`maxValues must be a count, not ${max}`);
  if (!Number.isSafeInteger(chunk) || chunk < 1 || chunk > MAX_CHUNK_VALUES) throw new RangeError(`chunkSize must be 1 to ${MAX_CHUNK_VALUES}, not ${chunk}`);
  const sealer = opts.sealer;
  const masks: MaskedValue[] = [];
  const sealed: SealedOriginals[] = [];
  let sessionId: string | undefined;
  let commandId: string | undefined;
  // The open chunk: clear originals and their positions, from masks[first].
  let first = 0;
  let originals: string[] = [];
  let positions: MaskPosition[] = [];

  const sealOpen = (): void => {
    if (originals.length === 0) return;
    const clear = originals;
    const where = positions;
    originals = [];
    positions = [];
    try {
      sealed.push(sealer.seal(clear, { sessionId: sessionId!, commandId: commandId!, first, positions: where }));
    } finally {
      clear.length = 0; // drop the clear originals even when sealing threw
      first = masks.length;
    }
  };

  return {
    add(cells, at) {
      if (cells.length === 0 || masks.length >= max) return;
      if (sessionId === undefined) {
        sessionId = at.sessionId;
        commandId = at.commandId;
      } else if (at.sessionId !== sessionId || at.commandId !== commandId) {
        throw new TypeError(`masked cells of ${at.sessionId}/${at.commandId} given to the collector of ${sessionId}/${commandId}`);
      }
      const row = at.row;
      for (let i = 0; i < cells.length && masks.length < max; i++) {
        const c = cells[i];
        masks.push({ column: c.columnName, row, ruleId: c.ruleId, detector: c.detector, masked: c.masked ?? NULL_TEXT, original: null });
        originals.push(c.original);
        positions.push({ column: c.columnName, row });
        if (originals.length >= chunk) sealOpen();
      }
      if (masks.length >= max) sealOpen(); // nothing more will join the open chunk
    },
    flush: sealOpen,
    masks,
    sealedOriginals: sealed,
    get full() {
      return masks.length >= max;
    },
  };
}
