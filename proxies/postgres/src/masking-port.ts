// The masking port the session uses, and its adapter over @affidavit/access's masking module.
// The session only asks "mask this text row" and "seal these cells"; key lookup (async) happens
// once per command in `prepare`, so the per-row path stays synchronous.
import {
  compileMaskRules,
  maskRow,
  maskRulesFromPolicy,
  sealMaskedCells,
  type ColumnDescription,
  type KeyProvider,
  type MaskRowResult,
  type MaskSpec,
  type MaskedCell,
  type ResultRow,
} from '@affidavit/access';
import type { MaskedValue } from '@affidavit/schemas';

/** ResultMasker masks the rows of one command and seals their originals. */
export type ResultMasker = {
  /** mask MUST return the row itself when nothing is masked. */
  mask(row: ResultRow, columns: readonly ColumnDescription[]): MaskRowResult;
  /** seal encrypts the originals of one row's masked cells; the clear values MUST NOT be kept. */
  seal(cells: readonly MaskedCell[], at: { sessionId: string; commandId: string; row: number }): MaskedValue[];
};

/** MaskingPort builds a ResultMasker for a policy decision's mask spec. */
export type MaskingPort = { prepare(ruleId: string, spec: MaskSpec): Promise<ResultMasker> };

/**
 * createMaskingPort adapts the access masking module: compiled rules are cached per (rule, spec)
 * so a repeated statement does not recompile; `keys.current()` is asked once per command.
 */
export function createMaskingPort(deps: { keys: KeyProvider; hashKey?: Uint8Array }): MaskingPort {
  const compiled = new Map<string, ReturnType<typeof compileMaskRules>>();
  return {
    async prepare(ruleId, spec) {
      const cacheKey = JSON.stringify([ruleId, spec.columns, spec.detectors]);
      let rules = compiled.get(cacheKey);
      if (!rules) {
        rules = compileMaskRules(maskRulesFromPolicy(ruleId, spec), deps.hashKey ? { hashKey: deps.hashKey } : {});
        if (compiled.size > 256) compiled.clear();
        compiled.set(cacheKey, rules);
      }
      const key = await deps.keys.current();
      const r = rules;
      return {
        mask: (row, columns) => maskRow(row, columns, r),
        seal: (cells, at) => sealMaskedCells(cells, at, key),
      };
    },
  };
}
