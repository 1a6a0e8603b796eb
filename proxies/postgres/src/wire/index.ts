// The PostgreSQL wire codec (protocol 3.0): pure, no sockets. Frontend messages are read by our
// FrontendReader; backend messages by pg-protocol through BackendReader; writers for what the
// proxy sends either way; SCRAM-SHA-256 for the proxy's own upstream login.
export * from './errors.ts';
export * from './frontend-messages.ts';
export { FrontendReader, DEFAULT_MAX_MESSAGE_SIZE, MAX_STARTUP_PACKET_SIZE, SMALL_MESSAGE_LIMIT, MAX_CANCEL_KEY_LENGTH } from './frontend-reader.ts';
export type { FrontendReaderOptions, FrontendReaderPhase } from './frontend-reader.ts';
export * from './frontend-writer.ts';
export * from './backend-writer.ts';
export { BackendReader } from './backend-reader.ts';
export type { BackendFrame, BackendReaderOptions } from './backend-reader.ts';
export { decodeDataRow, rewriteDataRow } from './data-row.ts';
export type { DataRowReplacer } from './data-row.ts';
export { decodePassword, decodeSaslInitialResponse } from './password.ts';
export type { SaslInitialResponse } from './password.ts';
export { createScramClient, randomScramNonce, SCRAM_MECHANISM, MAX_SCRAM_ITERATIONS } from './scram-client.ts';
export type { ScramClient, ScramClientOptions } from './scram-client.ts';
