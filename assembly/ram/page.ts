/**
 * Page primitives on 4 KiB pages in linear memory, with WASM SIMD: zero test, compare, copy,
 * and their batch forms (one call per batch, never one per page from TypeScript).
 * Pages need not be aligned; v128 loads are unaligned-safe.
 */

import { PAGE_SIZE } from "./memmap";

/** True if the 4 KiB page at `p` holds only zero bytes. */
export function pageIsZero(p: usize): bool {
  for (let i: usize = 0; i < PAGE_SIZE; i += 64) {
    const x = v128.or(
      v128.or(v128.load(p + i), v128.load(p + i, 16)),
      v128.or(v128.load(p + i, 32), v128.load(p + i, 48)));
    // test per 64 bytes: a non-zero page almost always differs in its first line
    if (v128.any_true(x)) return false;
  }
  return true;
}

/** True if the 4 KiB pages at `a` and `b` are byte-identical. */
export function pageEqual(a: usize, b: usize): bool {
  for (let i: usize = 0; i < PAGE_SIZE; i += 64) {
    const d = v128.or(
      v128.or(v128.xor(v128.load(a + i), v128.load(b + i)), v128.xor(v128.load(a + i, 16), v128.load(b + i, 16))),
      v128.or(v128.xor(v128.load(a + i, 32), v128.load(b + i, 32)), v128.xor(v128.load(a + i, 48), v128.load(b + i, 48))));
    if (v128.any_true(d)) return false;
  }
  return true;
}

/** Copies the 4 KiB page at `src` to `dst` (they must not overlap). */
// @ts-ignore: decorator
@inline export function pageCopy(dst: usize, src: usize): void { memory.copy(dst, src, PAGE_SIZE); }

/** Counts the zero pages among `n` consecutive pages at `p`. */
export function pagesCountZero(p: usize, n: u32): u32 {
  let c: u32 = 0;
  for (let i: u32 = 0; i < n; i++) c += <u32>pageIsZero(p + (<usize>i << 12));
  return c;
}

/** Compares `n` consecutive pages at `a` with those at `b`; returns how many are equal. */
export function pagesCountEqual(a: usize, b: usize, n: u32): u32 {
  let c: u32 = 0;
  for (let i: u32 = 0; i < n; i++) c += <u32>pageEqual(a + (<usize>i << 12), b + (<usize>i << 12));
  return c;
}

/** Copies `n` consecutive pages from `src` to `dst`, page by page (as a page-copy path does). */
export function pagesCopy(dst: usize, src: usize, n: u32): void {
  for (let i: u32 = 0; i < n; i++) pageCopy(dst + (<usize>i << 12), src + (<usize>i << 12));
}
