// The AuthFailureRecorder the composition root wires: each refused API token becomes an
// AuthenticationFailed event (one-event session, as the proxy records a refused login) published
// through the access core's EventSink, so it lands in the ledger like any other event.
import { authenticationFailedEvent, type EventSink } from '@affidavit/access';
import { uuidv7, type Clock } from '@affidavit/common';
import { encodeEvent, type Feeder } from '@affidavit/schemas';
import type { AuthFailureRecorder } from '../ports.ts';

/** ApiTarget names the API as the target of a refused request (`resource` is matched by nothing; it is for readers). */
export type AuthFailureRecorderOptions = {
  readonly feeder: Feeder;
  readonly resource: string;
  readonly host: string;
  readonly port: number | null;
  readonly clock: Clock;
};

/** eventSinkAuthFailureRecorder publishes an AuthenticationFailed event per refused token; it never throws. */
export function eventSinkAuthFailureRecorder(sink: EventSink, o: AuthFailureRecorderOptions): AuthFailureRecorder {
  return async (failure, origin) => {
    const sessionId = uuidv7(o.clock.now());
    const event = authenticationFailedEvent(failure, {
      eventId: uuidv7(o.clock.now()),
      sessionId,
      seq: 0,
      source: { address: origin.address, port: origin.port, application: origin.userAgent },
      // The API is not a PostgreSQL or SSH target; 'postgres' is the closest kind the contract has.
      target: { kind: 'postgres', resource: o.resource, host: o.host, port: o.port, database: null, login: null },
      feeder: o.feeder,
    });
    await sink.publish([{ key: sessionId, value: encodeEvent(event), headers: { type: event.type, eventId: event.eventId } }]);
  };
}
