// Pre-login rejections (protocol garbage, oversized or malformed startup packets, TLS
// required, login timeouts, bad tokens, connection limits) are evidence too: a scan or a
// password spray is exactly what an auditor wants to see. But each one costs the attacker
// one TCP connection and would cost the ledger one event, so they are aggregated per source
// address: in each window, the first `recordsPerSource` rejections from a source are recorded
// at once (each with its own reason and claimed identity, so a few failed logins stay fully
// visible), later ones are counted and one summary per source is recorded when the window ends. Memory and events per window are bounded: past maxSources
// tracked addresses the oldest is folded into one "other sources" bucket, and past
// maxRecordsPerWindow immediate records every new source is counted instead.
// Pure: the caller passes the time; the I/O is in prelogin-recording.ts.

import { defineError } from '@affidavit/common';

/** PgPreloginRejectionsError names a summary event: rejections before login from one source, counted, not recorded one by one. */
export const PgPreloginRejectionsError = defineError('AFF_E_PG_PRELOGIN_REJECTIONS', 'pre-login rejections from one source were counted into a summary');
/** PgPreloginProtocolError: a connection was refused before login for a reason whose message carries no code of its own. */
export const PgPreloginProtocolError = defineError('AFF_E_PG_PRELOGIN_PROTOCOL', 'the connection was refused before login');
/** PgLoginTimeoutError: the login did not complete within authTimeoutMs. */
export const PgLoginTimeoutError = defineError('AFF_E_PG_LOGIN_TIMEOUT', 'the login did not complete in time');

/** PRELOGIN_SUMMARY_CODE is the AuthenticationFailed code of a summary of counted rejections. */
export const PRELOGIN_SUMMARY_CODE = 'AFF_E_PG_PRELOGIN_REJECTIONS';
/** PRELOGIN_PROTOCOL_CODE names a refusal before login whose message carries no code (e.g. a malformed packet). */
export const PRELOGIN_PROTOCOL_CODE = 'AFF_E_PG_PRELOGIN_PROTOCOL';
/** PRELOGIN_LOGIN_TIMEOUT_CODE: the login did not complete within authTimeoutMs. */
export const PRELOGIN_LOGIN_TIMEOUT_CODE = 'AFF_E_PG_LOGIN_TIMEOUT';
/** OTHER_SOURCES is the address of the bucket that holds counts of sources no longer tracked one by one. */
export const OTHER_SOURCES = '*';

/** PreloginAggregatorOptions: window length and the two bounds (see the header). */
export type PreloginAggregatorOptions = {
  readonly windowMs: number;
  readonly recordsPerSource: number;
  readonly maxSources: number;
  readonly maxRecordsPerWindow: number;
};

/** RejectionSummary is what one summary event says: rejections counted, not recorded one by one. */
export type RejectionSummary = {
  readonly address: string;
  readonly count: number;
  /** byCode counts the rejections per AFF_E_* code. */
  readonly byCode: Readonly<Record<string, number>>;
  /** firstAt and lastAt bound the counted rejections (ms since epoch, as passed in). */
  readonly firstAt: number;
  readonly lastAt: number;
  readonly lastReason: string;
};

type SourceWindow = {
  windowStart: number;
  recorded: number;
  count: number;
  byCode: Record<string, number>;
  firstAt: number;
  lastAt: number;
  lastReason: string;
};

const emptyWindow = (now: number): SourceWindow => ({ windowStart: now, recorded: 0, count: 0, byCode: {}, firstAt: now, lastAt: now, lastReason: '' });

/**
 * PreloginAggregator decides, per rejection, whether it is recorded now or counted. It MUST
 * NOT lose a count: every counted rejection ends up in exactly one summary (from `flush` once
 * its window ended, or from `drain`).
 */
export class PreloginAggregator {
  readonly #o: PreloginAggregatorOptions;
  readonly #sources = new Map<string, SourceWindow>();
  #other: SourceWindow | undefined;
  #globalStart = -Infinity;
  #recordedInWindow = 0;
  readonly #ready: RejectionSummary[] = [];

  constructor(o: PreloginAggregatorOptions) {
    this.#o = o;
  }

  /** tracked is the number of source addresses held one by one. */
  get tracked(): number {
    return this.#sources.size;
  }

  /** note takes one rejection and says whether to record it now ('record') or that it was counted. */
  note(address: string, code: string, reason: string, now: number): 'record' | 'counted' {
    if (now - this.#globalStart >= this.#o.windowMs) {
      this.#globalStart = now;
      this.#recordedInWindow = 0;
    }
    let w = this.#sources.get(address);
    if (w && now - w.windowStart >= this.#o.windowMs) {
      this.#close(address, w);
      w = undefined;
    }
    if (!w) {
      if (this.#sources.size >= this.#o.maxSources) this.#evictOldest(now);
      w = emptyWindow(now);
      this.#sources.set(address, w);
    }
    if (w.recorded < this.#o.recordsPerSource && this.#recordedInWindow < this.#o.maxRecordsPerWindow) {
      w.recorded++;
      this.#recordedInWindow++;
      return 'record';
    }
    count(w, code, reason, now);
    return 'counted';
  }

  /** flush returns the summaries of windows that ended by `now` (each at most once). */
  flush(now: number): RejectionSummary[] {
    for (const [address, w] of this.#sources) if (now - w.windowStart >= this.#o.windowMs) this.#close(address, w);
    if (this.#other && now - this.#other.windowStart >= this.#o.windowMs) {
      if (this.#other.count > 0) this.#ready.push(summary(OTHER_SOURCES, this.#other));
      this.#other = undefined;
    }
    return this.#ready.splice(0);
  }

  /** drain returns every pending summary, ended or not (shutdown). */
  drain(): RejectionSummary[] {
    for (const [address, w] of this.#sources) this.#close(address, w);
    if (this.#other && this.#other.count > 0) this.#ready.push(summary(OTHER_SOURCES, this.#other));
    this.#other = undefined;
    return this.#ready.splice(0);
  }

  #close(address: string, w: SourceWindow): void {
    this.#sources.delete(address);
    if (w.count > 0) this.#ready.push(summary(address, w));
  }

  // Map order is insertion order and a renewed window is re-inserted, so the first is the oldest.
  #evictOldest(now: number): void {
    const first = this.#sources.entries().next();
    if (first.done) return;
    const [address, w] = first.value;
    this.#sources.delete(address);
    if (w.count === 0) return;
    const o = (this.#other ??= emptyWindow(now));
    if (o.count === 0) o.firstAt = w.firstAt;
    o.count += w.count;
    for (const [c, n] of Object.entries(w.byCode)) o.byCode[c] = (o.byCode[c] ?? 0) + n;
    o.firstAt = Math.min(o.firstAt, w.firstAt);
    o.lastAt = Math.max(o.lastAt, w.lastAt);
    o.lastReason = w.lastReason;
  }
}

function count(w: SourceWindow, code: string, reason: string, now: number): void {
  if (w.count === 0) w.firstAt = now;
  w.count++;
  w.byCode[code] = (w.byCode[code] ?? 0) + 1;
  w.lastAt = now;
  w.lastReason = reason;
}

function summary(address: string, w: SourceWindow): RejectionSummary {
  return { address, count: w.count, byCode: { ...w.byCode }, firstAt: w.firstAt, lastAt: w.lastAt, lastReason: w.lastReason };
}

/** summaryReason is the human text of a summary event (the codes sorted by count). */
export function summaryReason(s: RejectionSummary): string {
  const codes = Object.entries(s.byCode)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([c, n]) => `${n} × ${c}`)
    .join(', ');
  const who = s.address === OTHER_SOURCES ? 'other sources' : s.address;
  return `${s.count} more pre-login rejection(s) from ${who} between ${new Date(s.firstAt).toISOString()} and ${new Date(s.lastAt).toISOString()} were counted, not recorded one by one: ${codes}; last: ${s.lastReason}`;
}
