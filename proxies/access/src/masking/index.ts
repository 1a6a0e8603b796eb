// Masking: value detectors, column rules, type-aware masking of result rows, and sealed
// (AES-256-GCM) originals that only a key holder can open. Re-exported from src/index.ts.
export {
  MaskRuleInvalidError,
  MaskKeyUnknownError,
  MaskKeyInvalidError,
  MaskContextMismatchError,
  MaskTamperedError,
  MaskRevealInvalidError,
  MaskRowShapeError,
  MaskDataRowMalformedError,
  MaskSealedMalformedError,
} from './errors.ts';
export { MASK_STYLES } from './types.ts';
export type { MaskStyle, Span, Detector, ColumnDescription, ResultRow } from './types.ts';
export { cardNumberDetector, luhnValid, knownIin, CARD_MIN_DIGITS, CARD_MAX_DIGITS } from './detectors/card-number.ts';
export type { CardNumberOptions } from './detectors/card-number.ts';
export { emailDetector } from './detectors/email.ts';
export { ibanDetector, ibanChecksumValid, IBAN_LENGTHS } from './detectors/iban.ts';
export { usSsnDetector, ssnValid } from './detectors/us-ssn.ts';
export { jwtDetector } from './detectors/jwt.ts';
export { awsAccessKeyIdDetector, githubTokenDetector, slackTokenDetector, stripeKeyDetector } from './detectors/api-keys.ts';
export { privateKeyDetector } from './detectors/private-key.ts';
export { BUILTIN_DETECTORS, DETECTOR_GROUPS, expandDetectorNames, findSpans } from './detectors/registry.ts';
export { PG_OID, typeClassOf } from './pg-types.ts';
export type { TypeClass } from './pg-types.ts';
export { FULL_MASK, HASH_PREFIX, hmacHasher, keepLast4, maskEmail, hashToken, maskText, maskTyped, maskSpans } from './mask-styles.ts';
export type { Hasher } from './mask-styles.ts';
export { compileMaskRules, columnMatches, constantMask, maskRulesFromPolicy, withForcedColumns } from './rules.ts';
export type { MaskRule, MaskRulesOptions, CompiledMaskRules, ColumnPlan, ForcedLineage } from './rules.ts';
export { analyseLineage, forcedColumns, SIDE_CHANNEL_FUNCTIONS, SAFE_CAST_TYPES } from './lineage.ts';
export type { Lineage, MaskedSource, OutputSlot, StatementLineage, LineageVerdict, LineageCatalog, LineageSpec, ForcedColumn } from './lineage.ts';
export { maskRow, maskCell } from './mask-row.ts';
export type { CellMask, MaskedCell, MaskRowResult } from './mask-row.ts';
export { dataRowMasker, FORMAT_BINARY } from './mask-data-row.ts';
export type { DataRowMasker } from './mask-data-row.ts';
export { KEY_BYTES, KEY_ID_PATTERN, checkDataKey, staticKeyProvider } from './key-provider.ts';
export type { DataKey, KeyProvider } from './key-provider.ts';
export { loadKeyFile, parseKeyFile, generateKeyFile, rotateKeyFile } from './adapters/key-file.ts';
export type { KeyFileOptions, KeyFileProvider, GenerateKeyFileOptions } from './adapters/key-file.ts';
export {
  aadFor,
  createSealer,
  sealOriginal,
  openOriginal,
  AAD_VERSION,
  NONCE_BYTES,
  TAG_BYTES,
  chunkAadFor,
  createChunkSealer,
  openSealedOriginals,
  CHUNK_AAD_VERSION,
  MAX_CHUNK_VALUES,
} from './seal.ts';
export type { SealContext, EncryptedOriginal, Sealer, ChunkContext, ChunkSealer, MaskPosition } from './seal.ts';
export { sealMaskedCells, dataMaskedEvent, NULL_TEXT, DEFAULT_MAX_MASKED_VALUES } from './data-masked-event.ts';
export type { MaskedAt, DataMaskedEnvelope } from './data-masked-event.ts';
export { createMaskedValueCollector, DEFAULT_SEAL_CHUNK } from './masked-value-collector.ts';
export type { MaskedValueCollector } from './masked-value-collector.ts';
export { revealMaskedValue, maskedValueOpenedEvent, MAX_REASON_LENGTH } from './reveal.ts';
export type { RevealRequest, RevealAudit, RevealResult, MaskedValueOpenedEnvelope } from './reveal.ts';
export { maskedValueRevealService } from './reveal-service.ts';
export type { MaskedValueRevealService, RevealAsk, Revealed, RevealServiceDeps } from './reveal-service.ts';
