/** TOPICS are the Kafka topics of the contract (DESIGN.md, data flow). */
export const TOPICS = Object.freeze({
  /** Avro single-object session events from the feeders; key = sessionId. */
  sessionEvents: 'affidavit.session-events.v1',
  /** Raw bytes the ledger could not decode, with headers naming the reason. */
  sessionEventsDlq: 'affidavit.session-events.dlq.v1',
  /** Signed checkpoints (C2SP signed-note text), key = log origin. */
  checkpoints: 'affidavit.checkpoints.v1',
  /** OCSF JSON mirror of the ledger for SIEMs. */
  siemOcsf: 'affidavit.siem.ocsf.v1',
});
