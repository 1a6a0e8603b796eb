export { Recorder, SessionRecording, DEFAULT_RECORDER_OPTIONS } from './recorder.ts';
export type { RecorderOptions, RecordingMode, Envelope, EventDraft, RecorderStats } from './recorder.ts';
export type { EventSink, EncodedEvent } from './event-sink.ts';
export { RecordingUnavailableError, RecorderClosedError } from './errors.ts';
export { busEventSink } from './bus-event-sink.ts';
