// Keyset pagination (no OFFSET): a page continues strictly after the last row's sort key, which
// the cursor carries. Cursors are opaque base64url JSON; anything this API did not issue is
// refused rather than interpreted.
import { ApiCursorInvalidError, ApiInputInvalidError } from '../../errors.ts';

/** MAX_PAGE bounds `first`: a page is never more rows than this. */
export const MAX_PAGE = 500;

/** KeyValue is one component of a sort key. */
export type KeyValue = string | number;

/** encodeCursor renders a sort key as an opaque cursor. */
export function encodeCursor(key: readonly KeyValue[]): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

/** decodeCursor parses a cursor whose key has the given component types, or throws ApiCursorInvalidError. */
export function decodeCursor(cursor: string, types: readonly ('string' | 'number')[]): KeyValue[] {
  let v: unknown;
  try {
    if (cursor.length > 1024 || !/^[A-Za-z0-9_-]*$/.test(cursor)) throw new Error('shape');
    v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new ApiCursorInvalidError();
  }
  if (!Array.isArray(v) || v.length !== types.length) throw new ApiCursorInvalidError();
  v.forEach((x, i) => {
    if (types[i] === 'number' ? !Number.isSafeInteger(x) : typeof x !== 'string') throw new ApiCursorInvalidError();
  });
  return v as KeyValue[];
}

/** checkFirst validates a page size. */
export function checkFirst(first: number): number {
  if (!Number.isSafeInteger(first) || first < 1 || first > MAX_PAGE) throw new ApiInputInvalidError(`first must be an integer from 1 to ${MAX_PAGE}`);
  return first;
}
