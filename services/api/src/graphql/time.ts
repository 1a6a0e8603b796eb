// Event times are UTC microseconds; the API shows ISO 8601 with the microseconds kept.
import { ApiInputInvalidError } from '../errors.ts';

/** isoFromMicros renders microseconds since the epoch as `YYYY-MM-DDTHH:MM:SS.ffffffZ`. */
export function isoFromMicros(us: number): string {
  const ms = Math.floor(us / 1000);
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, -1)}${String(us - ms * 1000).padStart(3, '0')}Z`;
}

/** microsFromIso parses an ISO 8601 time (any precision Date accepts) into microseconds. */
export function microsFromIso(s: string, what: string): number {
  const m = /^(.*?)(?:\.(\d{1,6}))?(Z|[+-]\d{2}:\d{2})$/.exec(s);
  const ms = m ? Date.parse(`${m[1]}${m[3]}`) : Number.NaN;
  if (!m || Number.isNaN(ms)) throw new ApiInputInvalidError(`${what} must be an ISO 8601 time with a zone, e.g. 2026-01-31T12:00:00Z`);
  return ms * 1000 + Number((m[2] ?? '').padEnd(6, '0'));
}
