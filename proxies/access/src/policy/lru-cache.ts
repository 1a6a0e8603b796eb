/**
 * LruCache is a bounded least-recently-used map. Map keeps insertion order, so the first
 * key is the least recently used once every hit re-inserts its key.
 */
export class LruCache<K, V> {
  readonly #max: number;
  readonly #map = new Map<K, V>();

  constructor(max: number) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`LruCache size must be a positive integer, got ${max}`);
    this.#max = max;
  }

  /** get returns the value and marks it most recently used. */
  get(key: K): V | undefined {
    const v = this.#map.get(key);
    if (v === undefined) return undefined;
    this.#map.delete(key);
    this.#map.set(key, v);
    return v;
  }

  /** set stores a value, evicting the least recently used entry when full. */
  set(key: K, value: V): void {
    this.#map.delete(key);
    if (this.#map.size >= this.#max) this.#map.delete(this.#map.keys().next().value as K);
    this.#map.set(key, value);
  }

  /** size is the number of entries held. */
  get size(): number {
    return this.#map.size;
  }
}
