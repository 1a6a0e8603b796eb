// SPEC: https://avro.apache.org/docs/1.11.1/specification/#schema-fingerprints
// "The 64-bit Rabin fingerprint ... EMPTY = 0xc15d213aa4d7a795"
const EMPTY = 0xc15d213aa4d7a795n;
const MASK = 0xffffffffffffffffn;

const TABLE: bigint[] = (() => {
  const t: bigint[] = [];
  for (let i = 0; i < 256; i++) {
    let fp = BigInt(i);
    for (let j = 0; j < 8; j++) fp = (fp >> 1n) ^ (EMPTY & -(fp & 1n));
    t.push(fp & MASK);
  }
  return t;
})();

/**
 * crc64Avro returns the CRC-64-AVRO (Rabin) fingerprint of the bytes, as 8 bytes in
 * little-endian order, the layout single-object encoding puts after C3 01.
 */
export function crc64Avro(bytes: Uint8Array): Buffer {
  let fp = EMPTY;
  for (const b of bytes) fp = (fp >> 8n) ^ TABLE[Number((fp ^ BigInt(b)) & 0xffn)];
  const out = Buffer.alloc(8);
  out.writeBigUInt64LE(fp & MASK);
  return out;
}
