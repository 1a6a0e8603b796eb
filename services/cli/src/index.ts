export { runCli } from './main.ts';
export { EXIT, UsageError } from './command.ts';
export type { Command, Io } from './command.ts';
export { startEmbeddedRecording, ledgerDurableSink, SESSION_EVENT_PARTITIONS } from './embedded/embedded-recording.ts';
export type { EmbeddedRecording, EmbeddedRecordingOptions } from './embedded/embedded-recording.ts';
