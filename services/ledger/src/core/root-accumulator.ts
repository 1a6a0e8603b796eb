import { hashChildren } from '@affidavit/tlog';
import type { Hash } from '@affidavit/tlog';

/**
 * RootAccumulator keeps the roots of the perfect subtrees that cover the leaves pushed so far
 * (the binary decomposition of the size), so the RFC 9162 root of every prefix is available in
 * O(log n) while leaves stream past: what `verify` needs to check each checkpoint of a log of
 * millions of entries without holding them.
 */
export class RootAccumulator {
  // stack[i] covers 2^levels[i] leaves; sizes strictly decrease from bottom to top.
  readonly #stack: Hash[] = [];
  readonly #levels: number[] = [];
  #size = 0;

  /** size is how many leaves were pushed. */
  get size(): number {
    return this.#size;
  }

  /** push adds one leaf hash. */
  push(leaf: Hash): void {
    let h = leaf;
    let level = 0;
    while (this.#levels.length > 0 && this.#levels[this.#levels.length - 1] === level) {
      h = hashChildren(this.#stack.pop()!, h);
      this.#levels.pop();
      level++;
    }
    this.#stack.push(h);
    this.#levels.push(level);
    this.#size++;
  }

  /**
   * root is MTH of the leaves pushed so far. SPEC: https://www.rfc-editor.org/rfc/rfc9162#section-2.1.1
   * "MTH(D[n]) = HASH(0x01 || MTH(D[0:k]) || MTH(D[k:n]))" — with the perfect subtrees of the
   * decomposition, that is a fold from the right.
   */
  root(): Hash | undefined {
    if (this.#stack.length === 0) return undefined;
    let r = this.#stack[this.#stack.length - 1];
    for (let i = this.#stack.length - 2; i >= 0; i--) r = hashChildren(this.#stack[i], r);
    return r;
  }
}
