import { encodeEvent } from '@affidavit/schemas';
import type { Actor, ApprovalRefused, Feeder, Source, Target } from '@affidavit/schemas';
import type { EventSink } from '../recording/event-sink.ts';

/** Refusal is one refused attempt to decide a request, before it gets its envelope. */
export type Refusal = {
  requestId: string;
  /** refusedEventId names the refused ApprovalDecided when it reached the bus (and the ledger). */
  refusedEventId: string | null;
  attemptedDecision: string;
  claimedApprover: Actor | null;
  code: string;
  reason: string;
  refusedBy: 'gate' | 'service';
  /** actor is the verified identity that attempted it (the accepting service verified the token); null from the bus. */
  actor: Actor | null;
  /** target is the held statement's target, when the request is known. */
  target: Target | null;
};

/** RecordRefusal records a refusal; it MUST NOT resolve before the event is acknowledged. */
export type RecordRefusal = (r: Refusal) => Promise<void>;

/** UNKNOWN_TARGET stands for the target of a request nobody holds. */
export const UNKNOWN_TARGET: Target = { kind: 'postgres', resource: '(unknown request)', host: '', port: 0, database: null, login: null };

/**
 * approvalRefusedEvent gives a refusal its envelope. Each refusal is its own stream (a fresh id,
 * seq 0): it is the refusing component's act, not a step of the requester's session, and it
 * must be recordable after that session ended.
 */
export function approvalRefusedEvent(
  r: Refusal,
  env: { eventId: string; streamId: string; occurredAt: number; source: Source; feeder: Feeder },
): ApprovalRefused {
  return {
    eventId: env.eventId,
    type: 'ApprovalRefused',
    occurredAt: env.occurredAt,
    sessionId: env.streamId,
    seq: 0,
    actor: r.actor,
    source: env.source,
    target: r.target ?? UNKNOWN_TARGET,
    feeder: env.feeder,
    requestId: r.requestId,
    refusedEventId: r.refusedEventId,
    attemptedDecision: r.attemptedDecision,
    claimedApprover: r.claimedApprover,
    code: r.code,
    reason: r.reason.slice(0, 2048),
    refusedBy: r.refusedBy,
  };
}

/** sinkRefusalRecorder records refusals through an EventSink (the bus, acknowledged). */
export function sinkRefusalRecorder(sink: EventSink, deps: { newId: () => string; nowMicros: () => number; source: Source; feeder: Feeder }): RecordRefusal {
  return async (r) => {
    const eventId = deps.newId();
    const e = approvalRefusedEvent(r, { eventId, streamId: deps.newId(), occurredAt: deps.nowMicros(), source: deps.source, feeder: deps.feeder });
    await sink.publish([{ key: e.sessionId, value: encodeEvent(e), headers: { type: e.type, eventId } }]);
  };
}
