import type { Bus } from '@affidavit/bus';
import { TOPICS } from '@affidavit/schemas';
import type { EventSink } from './event-sink.ts';

/**
 * busEventSink publishes audit events to the session-events topic, key = sessionId, so one
 * session's events stay in one partition, in order. It resolves only when the bus does,
 * i.e. after the broker acknowledged (acks=all).
 */
export function busEventSink(bus: Bus, topic: string = TOPICS.sessionEvents): EventSink {
  // The recorder never touches an encoded event after handing it over: an in-process bus may keep it.
  return { publish: (events) => bus.publish(topic, events, { transfer: true }) };
}
