// A deliberately naive RFC 9162 reference used only by tests: the MTH, PATH and PROOF definitions of
// RFC 9162 §2.1.1, §2.1.3.1 and §2.1.4.1 transcribed literally over an array of leaf hashes, so the
// optimized code in src/ can be compared against the spec text itself.
import type { Hash } from '../hash.ts';
import { EMPTY_ROOT, hashChildren } from '../hash.ts';

function k(n: number): number {
  let p = 1;
  while (p * 2 < n) p *= 2;
  return p;
}

/** refMth is MTH(D[n]) over leaf hashes. */
export function refMth(d: readonly Hash[]): Hash {
  if (d.length === 0) return EMPTY_ROOT;
  if (d.length === 1) return d[0];
  const s = k(d.length);
  return hashChildren(refMth(d.slice(0, s)), refMth(d.slice(s)));
}

/** refPath is PATH(m, D[n]). */
export function refPath(m: number, d: readonly Hash[]): Hash[] {
  if (d.length === 1) return [];
  const s = k(d.length);
  return m < s ? [...refPath(m, d.slice(0, s)), refMth(d.slice(s))] : [...refPath(m - s, d.slice(s)), refMth(d.slice(0, s))];
}

function subproof(m: number, d: readonly Hash[], b: boolean): Hash[] {
  if (m === d.length) return b ? [] : [refMth(d)];
  const s = k(d.length);
  return m <= s ? [...subproof(m, d.slice(0, s), b), refMth(d.slice(s))] : [...subproof(m - s, d.slice(s), false), refMth(d.slice(0, s))];
}

/** refProof is PROOF(m, D[n]) = SUBPROOF(m, D[n], true). */
export function refProof(m: number, d: readonly Hash[]): Hash[] {
  return subproof(m, d, true);
}
