// The projector's own position: per ledger log, the index of the next entry to project. It is
// the projector's, not a consumer group's: the ledger is read from its store, not from Kafka.

/** Positions maps a ledger log id to the index of the next entry to project (0 = nothing yet). */
export type Positions = ReadonlyMap<string, number>;

/**
 * PositionStore keeps the projector's positions.
 *
 * - `load` MUST return what the last resolved `commit` wrote, also after a crash or restart.
 * - `commit` MUST be atomic (all logs' positions or none) and MUST NOT resolve before it is
 *   durable. The projector calls it only after the broker acknowledged every record up to the
 *   positions it names, so a position never runs ahead of what Kafka holds.
 * - Only one projector at a time may hold a store (`open` fails with AFF_E_SIEM_POSITION_LOCKED).
 */
export interface PositionStore {
  load(): Promise<Positions>;
  commit(positions: Positions): Promise<void>;
  close(): Promise<void>;
}
