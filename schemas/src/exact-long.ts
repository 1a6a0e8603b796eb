import avro from 'avsc';
import type { Type } from 'avsc';

const MAX = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * ExactLongType is the Avro `long` the codec uses: JS numbers in the safe-integer range,
 * encoded and decoded exactly through avsc's 64-bit byte packing.
 *
 * avsc's built-in long computes the zig-zag value 2|n|-1 in float arithmetic, which is not
 * exact past 2^53: -9007199254740990 was written as +9007199254740990 (found by the fastavro
 * cross-check). Values MUST be safe integers; reading a long outside that range throws, which
 * the codec reports as AFF_E_AVRO_MALFORMED.
 */
export const ExactLongType: Type = (avro.types.LongType as unknown as { __with(m: object): Type }).__with({
  fromBuffer(buf: Buffer): number {
    const n = buf.readBigInt64LE();
    if (n > MAX || n < -MAX) throw new Error(`long ${n} is beyond 2^53 and cannot be read exactly`);
    return Number(n);
  },
  toBuffer(n: number): Buffer {
    const buf = Buffer.alloc(8);
    buf.writeBigInt64LE(BigInt(n));
    return buf;
  },
  fromJSON: (v: unknown) => Number(v),
  toJSON: (n: number) => n,
  isValid: (v: unknown) => Number.isSafeInteger(v),
  compare: (a: number, b: number) => (a === b ? 0 : a < b ? -1 : 1),
});

/** exactLongHook is an avsc typeHook that makes every `long` (plain or logical) an ExactLongType. */
export function exactLongHook(schema: unknown): Type | undefined {
  const isLong =
    schema === 'long' || (typeof schema === 'object' && schema !== null && !Array.isArray(schema) && (schema as { type?: unknown }).type === 'long');
  return isLong ? ExactLongType : undefined;
}
