// How many of something per key are recorded in the ledger each minute (refused tokens per
// address, forbidden attempts per caller): what any caller can make the API write is bounded.

/**
 * perMinuteBudget answers whether one more of `key` may be recorded in the current minute: at
 * most `perMinute` per key, and at most `maxKeys` keys a minute (the map stays bounded; a key
 * beyond them is refused until the next minute).
 */
export function perMinuteBudget(perMinute: number, clock: { now(): number }, maxKeys: number): (key: string) => boolean {
  let minute = -1;
  const used = new Map<string, number>();
  return (key) => {
    const m = Math.floor(clock.now() / 60_000);
    if (m !== minute) {
      minute = m;
      used.clear();
    }
    const n = used.get(key) ?? 0;
    if (n >= perMinute || (n === 0 && used.size >= maxKeys)) return false;
    used.set(key, n + 1);
    return true;
  };
}
