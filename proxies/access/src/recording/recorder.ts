import { BackpressureError, uuidv7 as defaultId, validateOptions } from '@affidavit/common';
import type { Clock, Logger } from '@affidavit/common';
import { codec as defaultCodec } from '@affidavit/schemas';
import type { Actor, EventCodec, Feeder, SessionEvent, Source, Target } from '@affidavit/schemas';
import type { EncodedEvent, EventSink } from './event-sink.ts';
import { RecorderClosedError, RecordingUnavailableError } from './errors.ts';

/** RecordingMode: `sync` forwards a command only after its event is acknowledged; `async` buffers. */
export type RecordingMode = 'sync' | 'async';

/** RecorderOptions configures a Recorder. */
export type RecorderOptions = {
  /** sync (default) is fail-closed; async answers before the bus acknowledged, within a bounded buffer. */
  mode: RecordingMode;
  /** Events held in memory at most (pending or being retried); past it, record() refuses. */
  maxBuffered: number;
  /** Events per publish call at most. */
  maxBatch: number;
  /** First and largest pause between attempts while the bus is failing. */
  retryInitialMs: number;
  retryMaxMs: number;
  /**
   * lingerMs: how long an event nobody waits for may wait to join others in one publish call
   * (Kafka's linger.ms). 0 publishes once per turn of the event loop. An event someone waits
   * for (sync mode's CommandIssued, flush(), close()) never lingers, and takes every queued
   * event along. Default 2: on the in-process bus a publish (and the consumer's delivery and
   * commit of it per partition) cost about as much as recording a command; once per loop turn
   * that was every few commands of a pgbench run, and a short linger gained throughput
   * (bench/postgres.ts).
   */
  lingerMs: number;
};

/** DEFAULT_RECORDER_OPTIONS are the defaults documented in the README. */
export const DEFAULT_RECORDER_OPTIONS: RecorderOptions = Object.freeze({
  mode: 'sync',
  maxBuffered: 10_000,
  maxBatch: 1_000,
  retryInitialMs: 50,
  retryMaxMs: 2_000,
  lingerMs: 2,
});

const OPTIONS_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    mode: { type: 'string', enum: ['sync', 'async'] },
    maxBuffered: { type: 'integer', minimum: 1, maximum: 10_000_000 },
    maxBatch: { type: 'integer', minimum: 1, maximum: 100_000 },
    retryInitialMs: { type: 'integer', minimum: 1 },
    retryMaxMs: { type: 'integer', minimum: 1 },
    lingerMs: { type: 'integer', minimum: 0, maximum: 1_000 },
  },
  required: ['mode', 'maxBuffered', 'maxBatch', 'retryInitialMs', 'retryMaxMs', 'lingerMs'],
};

/** Envelope is what every event of one session shares. */
export type Envelope = { sessionId: string; actor: Actor | null; source: Source; target: Target; feeder: Feeder };

type EnvelopeField = 'eventId' | 'occurredAt' | 'sessionId' | 'seq' | 'actor' | 'source' | 'target' | 'feeder';
/** EventDraft is an event without its envelope: the recorder fills in ids, time, sequence and parties. */
export type EventDraft = SessionEvent extends infer E ? (E extends SessionEvent ? Omit<E, EnvelopeField> : never) : never;

const RESOLVED: Promise<void> = Promise.resolve();

/** EncodedEnvelope is a session's envelope pre-encoded by the codec (see schemas' envelope-splice.ts). */
type EncodedEnvelope = NonNullable<ReturnType<EventCodec['encodeEnvelope']>>;

type Pending = {
  encoded: EncodedEvent;
  /** The event as an object: built only when a caller wants it back (record) or the encoder needs it. */
  event: SessionEvent | undefined;
  settle?: { resolve: () => void; reject: (e: unknown) => void };
};

/** RecorderStats is a snapshot for metrics and tests. */
export type RecorderStats = { buffered: number; published: number; failedAttempts: number; busDown: boolean };

/**
 * Recorder turns session drafts into events with a gap-free per-session `seq` and delivers them
 * to the bus in order, batching events of all sessions into one publish call (group commit).
 *
 * Guarantees: in `sync` mode `record()` MUST NOT resolve before the bus acknowledged the event,
 * and rejects with RecordingUnavailableError while the bus fails, so the caller refuses the
 * command. An event that failed to publish is never dropped: it stays at the head of the queue
 * and is retried (same eventId, so the ledger drops a duplicate) before any later event, which
 * keeps every session's `seq` gap-free in the log. When `maxBuffered` events are held,
 * `record()` MUST throw BackpressureError instead of dropping anything.
 */
export class Recorder {
  readonly options: Readonly<RecorderOptions>;
  readonly #sink: EventSink;
  readonly #clock: Clock;
  readonly #newId: (ms: number) => string;
  readonly #codec: EventCodec;
  readonly #log?: Logger;
  // The queue is an array read from #head: acknowledged events are dropped by moving #head
  // (and compacting now and then), not by splicing the array's front on every publish.
  #queue: Pending[] = [];
  #head = 0;
  #flushing = false;
  #scheduled = false;
  #microtaskPending = false;
  #closed = false;
  #busDown = false;
  #published = 0;
  #failedAttempts = 0;
  #retryDelay: number;
  #retryTimer?: NodeJS.Timeout;
  #drainWaiters: Array<() => void> = [];

  constructor(
    sink: EventSink,
    options: Partial<RecorderOptions> = {},
    deps: { clock: Clock; newId?: (ms: number) => string; codec?: EventCodec; logger?: Logger },
  ) {
    this.options = validateOptions<RecorderOptions>(
      OPTIONS_SCHEMA,
      { ...DEFAULT_RECORDER_OPTIONS, ...options },
      {
        name: 'recorder',
        rules: [(o) => (o.retryMaxMs < o.retryInitialMs ? 'recorder.retryMaxMs: must be ≥ retryInitialMs' : undefined)],
      },
    );
    this.#sink = sink;
    this.#clock = deps.clock;
    this.#newId = deps.newId ?? defaultId;
    this.#codec = deps.codec ?? defaultCodec();
    this.#log = deps.logger;
    this.#retryDelay = this.options.retryInitialMs;
  }

  /** openSession starts the sequence of one session at seq 0. */
  openSession(envelope: Envelope): SessionRecording {
    return new SessionRecording(this, { ...envelope });
  }

  /** stats returns counters for metrics and tests. */
  stats(): RecorderStats {
    return { buffered: this.#queue.length - this.#head, published: this.#published, failedAttempts: this.#failedAttempts, busDown: this.#busDown };
  }

  /**
   * @internal build, encode and enqueue one event; returns it (when `wantEvent`) and, when
   * `wait`, a promise of its acknowledgement.
   */
  enqueue(
    envelope: Envelope,
    seq: number,
    draft: EventDraft,
    wait: boolean,
    encodedEnvelope?: EncodedEnvelope,
    wantEvent = true,
  ): { event: SessionEvent | undefined; acked: Promise<void> } {
    const item = this.#enqueue(envelope, seq, draft, encodedEnvelope, !wait, wantEvent);
    let acked: Promise<void> = RESOLVED;
    if (wait) {
      acked = new Promise<void>((resolve, reject) => {
        item.settle = { resolve, reject };
      });
      this.#kick(true);
      if (this.#busDown) {
        // Fail closed at once while the bus is known to be failing; the event itself stays queued.
        item.settle!.reject(new RecordingUnavailableError());
        item.settle = undefined;
        acked.catch(() => {});
      }
    }
    return { event: item.event, acked };
  }

  /** @internal encode and enqueue one event without waiting for it (the async path: no promise); returns its eventId. */
  append(envelope: Envelope, seq: number, draft: EventDraft, encodedEnvelope?: EncodedEnvelope): string {
    return this.#enqueue(envelope, seq, draft, encodedEnvelope, true, false).encoded.headers!.eventId;
  }

  /** @internal validate and pre-encode a session's envelope (undefined when invalid: each event's encode then says why). */
  encodeEnvelope(envelope: Envelope): EncodedEnvelope | undefined {
    return this.#codec.encodeEnvelope(envelope);
  }

  #enqueue(envelope: Envelope, seq: number, draft: EventDraft, encodedEnvelope: EncodedEnvelope | undefined, kick: boolean, wantEvent: boolean): Pending {
    if (this.#closed) throw new RecorderClosedError();
    const held = this.#queue.length - this.#head;
    if (held >= this.options.maxBuffered) {
      throw new BackpressureError(`audit buffer holds ${held} events (maximum ${this.options.maxBuffered}); command refused`);
    }
    const ms = this.#clock.now();
    const eventId = this.#newId(ms);
    const occurredAt = ms * 1000;
    // The hot path writes the event from its parts (no merged object: measured ~1.5 us of object
    // copying per command); anything it does not handle exactly takes the full encoder.
    let value =
      !wantEvent && encodedEnvelope
        ? this.#codec.encodeDraft(
            { eventId, type: draft.type, occurredAt, sessionId: envelope.sessionId, seq },
            draft as unknown as Record<string, unknown>,
            envelope,
            encodedEnvelope,
          )
        : undefined;
    let event: SessionEvent | undefined;
    if (value === undefined) {
      event = { ...draft, eventId, occurredAt, seq, ...envelope } as SessionEvent;
      // Encoding validates: an invalid event throws here, to its caller, and never blocks the queue.
      value = this.#codec.encodeWith(event, encodedEnvelope);
    }
    const encoded: EncodedEvent = { key: envelope.sessionId, value, headers: { type: draft.type, eventId } };
    const item: Pending = { encoded, event };
    this.#queue.push(item);
    if (kick) this.#kick();
    return item;
  }

  // Group commit. Events nobody waits for (async mode, and in sync mode a CommandCompleted or
  // SessionEnded) are published lingerMs after the first of them (a timer), or once per turn of
  // the event loop with lingerMs 0 (setImmediate): everything every session recorded meanwhile
  // goes out in one publish call.
  // An event someone waits for (a sync record, flush()) is published as soon as the current
  // task is done (a microtask), taking every event queued before it along, so a fail-closed
  // command waits for no extra turn of the loop (measured: an extra turn per command cost
  // more than the publish calls it saved); with a sink that acknowledges within the call (an
  // in-process broker) it is published before enqueue returns, and the caller needs no promise.
  // While a publish is in flight (a real broker), new events gather behind it into the next
  // batch either way.
  #kick(urgent = false): void {
    if (this.#flushing || this.#retryTimer !== undefined || this.#queue.length === this.#head) return;
    if (urgent) {
      if (!this.#microtaskPending) {
        this.#microtaskPending = true;
        queueMicrotask(this.#flushFromMicrotask);
      }
    } else if (!this.#scheduled) {
      this.#scheduled = true;
      if (this.options.lingerMs > 0) setTimeout(this.#flushScheduled, this.options.lingerMs);
      else setImmediate(this.#flushScheduled);
    }
  }

  #flushScheduled = (): void => {
    this.#scheduled = false;
    if (!this.#flushing && this.#retryTimer === undefined) void this.#flush();
  };

  #flushFromMicrotask = (): void => {
    this.#microtaskPending = false;
    if (!this.#flushing && this.#retryTimer === undefined) void this.#flush();
  };

  async #flush(): Promise<void> {
    this.#flushing = true;
    try {
      while (this.#queue.length > this.#head) {
        const batch = this.#nextBatch();
        try {
          await this.#sink.publish(batch.encoded);
        } catch (e) {
          return this.#publishFailed(batch.items, e);
        }
        this.#acknowledged(batch.items);
      }
      for (const w of this.#drainWaiters.splice(0)) w();
    } finally {
      this.#flushing = false;
    }
  }

  #nextBatch(): { items: Pending[]; encoded: EncodedEvent[] } {
    const items = this.#queue.slice(this.#head, this.#head + this.options.maxBatch);
    const encoded = new Array<EncodedEvent>(items.length);
    for (let i = 0; i < items.length; i++) encoded[i] = items[i].encoded;
    return { items, encoded };
  }

  // A failed publish keeps its events queued, in order, for the retry; whoever waits for one of
  // them is refused now (fail closed).
  #publishFailed(batch: readonly Pending[], e: unknown): void {
    this.#failedAttempts++;
    if (!this.#busDown) this.#log?.error({ err: e }, 'audit bus publish failed; refusing sync commands until it recovers');
    this.#busDown = true;
    for (const p of batch) {
      p.settle?.reject(new RecordingUnavailableError(undefined, { cause: e }));
      p.settle = undefined;
    }
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#kick(true);
    }, this.#retryDelay);
    this.#retryTimer.unref();
    this.#retryDelay = Math.min(this.#retryDelay * 2, this.options.retryMaxMs);
  }

  #acknowledged(batch: readonly Pending[]): void {
    if (this.#busDown) this.#log?.info({ pending: this.#queue.length }, 'audit bus recovered');
    this.#busDown = false;
    this.#retryDelay = this.options.retryInitialMs;
    this.#head += batch.length;
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (this.#head >= 1024) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    this.#published += batch.length;
    for (const p of batch) p.settle?.resolve();
  }

  /** flush resolves when every buffered event is acknowledged, or rejects after `timeoutMs`. */
  async flush(timeoutMs = 10_000): Promise<void> {
    if (this.#queue.length === this.#head && !this.#flushing) return;
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(
        () => reject(new RecordingUnavailableError(`${this.#queue.length - this.#head} audit events still unacknowledged after ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.#drainWaiters.push(() => {
        clearTimeout(t);
        resolve();
      });
      this.#kick(true);
    });
  }

  /** close refuses new events, then waits (bounded) until the buffered ones are acknowledged. */
  async close(timeoutMs = 10_000): Promise<void> {
    try {
      await this.flush(timeoutMs);
    } finally {
      this.#closed = true;
      clearTimeout(this.#retryTimer);
    }
  }
}

/**
 * SessionRecording records the events of one session. Calls MUST be made in the order the
 * events happened; `seq` is assigned at the call, so it is gap-free and ordered.
 */
export class SessionRecording {
  readonly #recorder: Recorder;
  readonly #envelope: Envelope;
  #seq = 0;
  // The envelope's bytes, encoded once and spliced into every event (undefined: not yet, or invalid).
  #encoded?: EncodedEnvelope;
  #encodedFor = false;

  constructor(recorder: Recorder, envelope: Envelope) {
    this.#recorder = recorder;
    // Own copies: the pre-encoded bytes stay true only while nobody else can change these objects.
    this.#envelope = {
      ...envelope,
      actor: structuredClone(envelope.actor),
      source: structuredClone(envelope.source),
      target: structuredClone(envelope.target),
      feeder: structuredClone(envelope.feeder),
    };
  }

  #encodedEnvelope(): EncodedEnvelope | undefined {
    if (!this.#encodedFor) {
      this.#encoded = this.#recorder.encodeEnvelope(this.#envelope);
      this.#encodedFor = true;
    }
    return this.#encoded;
  }

  /** sessionId of this recording. */
  get sessionId(): string {
    return this.#envelope.sessionId;
  }

  /** envelope returns a copy of what every event of this session carries. */
  envelope(): Envelope {
    return structuredClone(this.#envelope);
  }

  /** setActor binds the verified identity once authentication succeeded. */
  setActor(actor: Actor): void {
    this.#envelope.actor = structuredClone(actor);
    this.#encodedFor = false;
  }

  /**
   * record appends one event. In sync mode (or with `{ wait: true }`) it resolves only after the
   * bus acknowledged it; in async mode it resolves once the event is buffered. Throws
   * BackpressureError when the buffer is full and RecordingUnavailableError when a sync wait fails.
   */
  async record(draft: EventDraft, opts: { wait?: boolean } = {}): Promise<SessionEvent> {
    const wait = opts.wait ?? this.#recorder.options.mode === 'sync';
    const { event, acked } = this.#recorder.enqueue(this.#envelope, this.#seq, draft, wait, this.#encodedEnvelope());
    this.#seq++;
    await acked;
    return event!;
  }

  /**
   * append records one event without waiting for its acknowledgement and without a promise:
   * the async-mode hot path. It throws (synchronously) what record() would reject with:
   * BackpressureError when the buffer is full, RecorderClosedError, or an invalid event. The
   * event is queued, in order, before append returns; it returns the event's eventId.
   */
  append(draft: EventDraft): string {
    const eventId = this.#recorder.append(this.#envelope, this.#seq, draft, this.#encodedEnvelope());
    this.#seq++;
    return eventId;
  }

  /**
   * appendAcknowledged records one event and returns the promise of its acknowledgement by the
   * bus (the sync-mode hot path: no async wrapper around it). Like append, it throws
   * synchronously when the event cannot be queued (BackpressureError, RecorderClosedError, an
   * invalid event), taking no seq; the promise rejects with RecordingUnavailableError when the
   * bus fails. The event stays queued either way (see Recorder).
   */
  appendAcknowledged(draft: EventDraft): Promise<void> {
    const { acked } = this.#recorder.enqueue(this.#envelope, this.#seq, draft, true, this.#encodedEnvelope(), false);
    this.#seq++;
    return acked;
  }

  /** nextSeq is the seq the next event will get. */
  get nextSeq(): number {
    return this.#seq;
  }
}
