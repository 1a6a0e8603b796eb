// Event times are UTC microseconds; the API shows ISO 8601 with the microseconds kept.
import { ApiInputInvalidError } from '../errors.ts';

const DAY_MS = 86_400_000;
/** days caches each day's `YYYY-MM-DDT` (a page's times fall on few days); cleared when it grows. */
const days = new Map<number, string>();
const pad2 = (n: number) => (n < 10 ? `0${n}` : `${n}`);

/**
 * isoFromMicros renders microseconds since the epoch as `YYYY-MM-DDTHH:MM:SS.ffffffZ`, exactly as
 * Date#toISOString would with three more digits. The date part comes from Date once per day;
 * the time of day is arithmetic (a 50-row page renders a hundred of these).
 */
export function isoFromMicros(us: number): string {
  const ms = Math.floor(us / 1000);
  const day = Math.floor(ms / DAY_MS);
  let prefix = days.get(day);
  if (prefix === undefined) {
    if (days.size >= 4096) days.clear();
    prefix = new Date(day * DAY_MS).toISOString().slice(0, -13);
    days.set(day, prefix);
  }
  let rest = ms - day * DAY_MS;
  const h = Math.floor(rest / 3_600_000);
  rest -= h * 3_600_000;
  const m = Math.floor(rest / 60_000);
  rest -= m * 60_000;
  const s = Math.floor(rest / 1000);
  const fraction = (rest - s * 1000) * 1000 + (us - ms * 1000);
  return `${prefix}${pad2(h)}:${pad2(m)}:${pad2(s)}.${String(fraction).padStart(6, '0')}Z`;
}

/** microsFromIso parses an ISO 8601 time (any precision Date accepts) into microseconds. */
export function microsFromIso(s: string, what: string): number {
  const m = /^(.*?)(?:\.(\d{1,6}))?(Z|[+-]\d{2}:\d{2})$/.exec(s);
  const ms = m ? Date.parse(`${m[1]}${m[3]}`) : Number.NaN;
  if (!m || Number.isNaN(ms)) throw new ApiInputInvalidError(`${what} must be an ISO 8601 time with a zone, e.g. 2026-01-31T12:00:00Z`);
  return ms * 1000 + Number((m[2] ?? '').padEnd(6, '0'));
}
