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

/** Copies up to this many bytes in SIMD (bytesCopy); longer copies go to memory.copy. */
const SMALL_COPY: usize = 256;

/**
 * Copies `n` bytes from `src` to `dst` (they must not overlap). Short copies stay in the
 * module: V8 runs memory.copy as a call to the C library's memmove, which costs a call, and
 * which, right after JavaScript has copied a typed array with the same memmove, took 100-400 ns
 * for 64 bytes on the dev box of 2026-11-29 (AVX-512 memmove; the engine's whole guest read takes
 * 20-30 ns). A byte may be written twice, from the source both times (the overlapping tail).
 */
export function bytesCopy(dst: usize, src: usize, n: usize): void {
  if (n > SMALL_COPY) {
    memory.copy(dst, src, n);
  } else if (n >= 16) {
    let i: usize = 0;
    for (; i + 16 <= n; i += 16) v128.store(dst + i, v128.load(src + i));
    if (i < n) v128.store(dst + n - 16, v128.load(src + n - 16));
  } else if (n >= 8) {
    store<u64>(dst, load<u64>(src));
    store<u64>(dst + n - 8, load<u64>(src + n - 8));
  } else if (n >= 4) {
    store<u32>(dst, load<u32>(src));
    store<u32>(dst + n - 4, load<u32>(src + n - 4));
  } else {
    for (let i: usize = 0; i < n; i++) store<u8>(dst + i, load<u8>(src + i));
  }
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
