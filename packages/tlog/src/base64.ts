/**
 * decodeBase64Strict decodes standard, padded base64 (RFC 4648 §4) or returns undefined.
 * Node's decoder is lenient (it skips bad characters and accepts missing padding), so the
 * result is re-encoded and compared: only the canonical encoding of some bytes is accepted.
 */
export function decodeBase64Strict(s: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 !== 0) return undefined;
  const bytes = Buffer.from(s, 'base64');
  if (bytes.toString('base64') !== s) return undefined;
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** encodeBase64 encodes bytes as standard, padded base64. */
export function encodeBase64(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');
}
