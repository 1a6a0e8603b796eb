// The I/O half of pre-login rejections (the decisions are PreloginAggregator's): a session
// asks `note` whether to record its rejection itself, now; summaries of the counted ones are
// recorded here, each as an AuthenticationFailed of its own (code AFF_E_PG_PRELOGIN_REJECTIONS,
// source = the address, reason = the counts per code), when their window ends and on close.
import type { Recorder } from '@affidavit/access';
import type { Clock, Logger } from '@affidavit/common';
import type { Feeder, Target } from '@affidavit/schemas';
import { PRELOGIN_SUMMARY_CODE, PreloginAggregator, summaryReason, type PreloginAggregatorOptions, type RejectionSummary } from './prelogin-rejections.ts';

/** DEFAULT_PRELOGIN_MAX_SOURCES bounds the addresses tracked one by one. */
export const DEFAULT_PRELOGIN_MAX_SOURCES = 10_000;
/** DEFAULT_PRELOGIN_MAX_RECORDS bounds the rejections recorded one by one per window (all sources). */
export const DEFAULT_PRELOGIN_MAX_RECORDS = 1_000;

/** PreloginRecordingDeps are what summaries are recorded with. */
export type PreloginRecordingDeps = {
  readonly recorder: Recorder;
  readonly clock: Clock;
  readonly newId: () => string;
  readonly target: Target;
  readonly feeder: Feeder;
  readonly logger?: Logger;
};

/**
 * PreloginRecording counts pre-login rejections per source and records the summaries. `close`
 * MUST be called on shutdown: it records what is still counted (no count is lost).
 */
export class PreloginRecording {
  readonly #agg: PreloginAggregator;
  readonly #deps: PreloginRecordingDeps;
  readonly #timer: NodeJS.Timeout;

  constructor(o: PreloginAggregatorOptions, deps: PreloginRecordingDeps) {
    this.#agg = new PreloginAggregator(o);
    this.#deps = deps;
    // A summary is due at most a tenth of a window after its window ended.
    this.#timer = setInterval(() => this.#record(this.#agg.flush(deps.clock.now())), Math.max(100, Math.floor(o.windowMs / 10)));
    this.#timer.unref();
  }

  /** note tells the session whether to record this rejection itself now ('record') or that it was counted. */
  note(address: string, code: string, reason: string): 'record' | 'counted' {
    return this.#agg.note(address, code, reason, this.#deps.clock.now());
  }

  /** rejected handles a rejection that has no session of its own (e.g. the listener is full): noted, and recorded here when due. */
  rejected(address: string, port: number | null, code: string, reason: string): void {
    if (this.note(address, code, reason) !== 'record') return;
    this.#open(address, port)
      .record({ type: 'AuthenticationFailed', code, reason: reason.slice(0, 1024), claimedIssuer: null, claimedSubject: null, tokenId: null }, { wait: false })
      .catch((err: unknown) => this.#deps.logger?.error({ err, address }, 'could not record a pre-login rejection'));
  }

  /** close stops the timer and records every pending summary. */
  close(): void {
    clearInterval(this.#timer);
    this.#record(this.#agg.drain());
  }

  #open(address: string, port: number | null) {
    return this.#deps.recorder.openSession({
      sessionId: this.#deps.newId(),
      actor: null,
      source: { address, port, application: null },
      target: this.#deps.target,
      feeder: this.#deps.feeder,
    });
  }

  #record(summaries: RejectionSummary[]): void {
    for (const s of summaries) {
      this.#open(s.address, null)
        .record(
          {
            type: 'AuthenticationFailed',
            code: PRELOGIN_SUMMARY_CODE,
            reason: summaryReason(s).slice(0, 1024),
            claimedIssuer: null,
            claimedSubject: null,
            tokenId: null,
          },
          { wait: false },
        )
        .catch((err: unknown) => this.#deps.logger?.error({ err, address: s.address, count: s.count }, 'could not record a pre-login rejection summary'));
    }
  }
}
