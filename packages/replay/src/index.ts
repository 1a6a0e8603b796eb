// @affidavit/replay: forensic replay of recorded sessions. Pure: the session timeline, the scan
// that finds a session's entries (through an injected store), and the replay bundle's plaintext
// format with its offline verification. Terminal rendering, the web page and encryption live
// with their callers (the CLI and the API).
export { buildTimeline, timelineEvents } from './timeline.ts';
export type { Timeline, Step, CommandStep, SessionStep, StepEvent, ApprovalNote, MaskedSummary, Position, PositionedRecord } from './timeline.ts';
export {
  scanSession,
  newSessionScan,
  sessionEnded,
  MAX_REPLAY_ENTRIES,
  ReplayTooLargeError,
  ReplaySessionNotFoundError,
  ReplayLedgerGapError,
} from './session-entries.ts';
export type { EntrySource, SourceLog, SourceEntry, SessionEntry, SessionScan } from './session-entries.ts';
export {
  replayBundleLines,
  openReplayBundle,
  keyLabel,
  REPLAY_BUNDLE_FORMAT,
  MAX_REPLAY_LINE_BYTES,
  ReplayBundleMalformedError,
  ReplayBundleUnverifiedError,
  ReplayNotCoveredError,
} from './replay-bundle.ts';
export type { ProofLog, OpenedReplayBundle, VerifiedCheckpoint } from './replay-bundle.ts';
export { entriesFromReplayData, REPLAY_DATA_FORMAT, ReplayDataMalformedError } from './replay-data.ts';
export type { ReplayData, ReplayDataEntry, ReplayDataProof } from './replay-data.ts';
