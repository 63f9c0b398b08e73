/**
 * Hashing: XXH64 and XXH3-64 of the xxHash family, bit-identical to the reference xxHash
 * (doc/xxhash_spec.md in Cyan4973/xxHash), and the page hash that sharing (TPS) computes for
 * every candidate page. Results are u64; TypeScript reads them as signed BigInt and must apply
 * BigInt.asUintN(64, x).
 *
 * XXH64: four u64 lanes v1..v4 in locals, one 32-byte stripe per step, then a merge, the
 * length, a tail of < 32 bytes (8, 4, then 1 byte at a time) and the avalanche.
 *
 * XXH3-64: one algorithm per length class, all with the 192-byte default secret:
 *
 *   len 0        avalanche of seed ^ secret words 56, 64
 *   len 1..3     first, middle, last byte and length in one u32, keyed, XXH64 avalanche
 *   len 4..8     first and last u32, keyed by a seed with its low half byte-swapped in
 *   len 9..16    first and last u64, one 64x64->128 multiply folded to 64 bits
 *   len 17..128  16-byte chunks paired from both ends, each mixed with 16 bytes of secret
 *   len 129..240 8 chunks, an avalanche, the remaining chunks at secret+3, the last at +119
 *   len > 240    the long hash below; a non-zero seed first derives a secret (words at even
 *                indices + seed, odd indices - seed) into DERIVED_SECRET
 *
 * Long hash state: eight u64 accumulators, six in three v128 locals and two in u64 locals, plus
 * three v128 data sums:
 *
 *   a0 = [acc0 acc1]  a1 = [acc2 acc3]  a2 = [acc4 acc5]  acc6  acc7
 *   d0..d2          sums of the raw stripe lanes 0-5 since the last fold, in the same lane order
 *
 *   input  | block 0: 16 stripes x 64 B | block 1 | ... | last block: <= 16 stripes |
 *   stripe n of a block is keyed by secret[8n .. 8n+64); after each full block the
 *   accumulators are scrambled with secret[128 .. 192); the last block stops one stripe
 *   short and the final 64 bytes of input (which may overlap) are keyed by secret[121 ..).
 *
 * Each lane i adds lo32(key_i) * hi32(key_i) (key = data ^ secret) to acc_i, and its raw data
 * to acc_(i^1). For lanes 0-5 the product runs on i64x2.extmul_*_i32x4_u over two keys at once
 * (one shuffle gathers the low halves, one the high halves; lanes 4-5 pair with themselves). The
 * data term is linear, so it is summed unswapped in d0..d2 and folded in (lanes swapped) once per
 * block, not once per stripe. Lanes 6 and 7 run on the integer pipes, which the vector code
 * leaves idle (hashLong says why and what it gained).
 *
 * Page hash: `pageHash` (4 KiB, seed 0) is XXH3-64, the faster of the two on 4 KiB pages.
 * Measured by bench/hash.bench.ts (64 MiB corpus of real pages, 2-core AMD EPYC, Node 20):
 *
 *   pagesHash  XXH3-64 SIMD   26.3 GB/s   (28.5 GB/s on 64 pages hot in cache)
 *   pagesXxh64 XXH64          22.4 GB/s   (22.7 GB/s hot): each of its four chains waits an
 *                                          add, a rotate and a 64-bit multiply per 8 bytes;
 *                                          XXH3 needs one 32x32->64 per 8 bytes, two per SIMD
 *                                          multiply, and no chain through a multiply
 *
 * Tried and dropped: two stripes per loop iteration (XXH3: 5% slower, XXH64: no change).
 *
 * xxh64PagesInCache hashes two neighbouring pages at a time (eight chains in flight): 1.14x on
 * pages in L2, where the JavaScript batch form stages them; over DRAM about 2x slower, so the
 * forms that hash pages where they lie keep one page at a time. Also tried: page i beside page
 * i + n/2 (fine for the prefetcher, but one register more: 1.07x in L2, 0.92x over DRAM), and
 * lane * P2 on the vector side ahead of the scalar chains (i64x2.mul is eight instructions in
 * V8: 0.6-0.86x); one stripe per turn instead of two 1.00x (the earlier 1.05x "not taken").
 *
 * Static memory: DEFAULT_SECRET and DERIVED_SECRET, 192 bytes each (memory.data). Nothing here
 * allocates; DERIVED_SECRET is scratch, valid only during one `xxh3` call (wasm is single-threaded).
 *
 * Invariants:
 *   - every result equals the reference xxHash for every length and seed (test/hash.test.ts);
 *   - input is only read, at any alignment, never past p + len;
 *   - pagesHash(p, n, out) writes exactly pageHash of each page, n u64 at out, nothing else;
 *     xxh64Pages / xxh3Pages(p, n, seed, out) likewise write xxh64 / xxh3(page, 4096, seed), and
 *     xxh64PagesInCache exactly what xxh64Pages writes;
 *     xxh64PageList(list, n) writes only the sum field of its n PAGE_SUM records.
 *
 * Swap checksums: xxh64PageList hashes the pages a swap batch lists wherever they are (frames,
 * staging), each with its own seed (the page's GPPN), in one call: a list of PAGE_SUM records,
 *
 *   +0 u32 page   linear address of the 4 KiB page     +4 u32 seed
 *   +8 u64 sum    XXH64(page, 4096, seed), written here
 */

import { PAGE_SIZE } from "../ram/memmap";

// ---- constants -----------------------------------------------------------------------------

const P32_1: u64 = 0x9E3779B1;
const P32_2: u64 = 0x85EBCA77;
const P32_3: u64 = 0xC2B2AE3D;
const P64_1: u64 = 0x9E3779B185EBCA87;
const P64_2: u64 = 0xC2B2AE3D27D4EB4F;
const P64_3: u64 = 0x165667B19E3779F9;
const P64_4: u64 = 0x85EBCA77C2B2AE63;
const P64_5: u64 = 0x27D4EB2F165667C5;
const MX1: u64 = 0x165667919E3779F9;
const MX2: u64 = 0x9FB21C651E98DF25;

const SECRET_SIZE: usize = 192;
const STRIPE: usize = 64;
/** Stripes per block: one per 8-byte step of the secret that leaves 64 bytes to read. */
const BLOCK_STRIPES: usize = (SECRET_SIZE - STRIPE) / 8;
const BLOCK: usize = STRIPE * BLOCK_STRIPES;
const BLOCK_SHIFT: usize = 10;
const MIDSIZE_MAX: usize = 240;
/** Secret offsets of the long hash: scramble, last stripe, final merge. */
const SCRAMBLE_AT: usize = SECRET_SIZE - STRIPE;
const LAST_STRIPE_AT: usize = SECRET_SIZE - STRIPE - 7;
const MERGE_AT: usize = 11;

const DEFAULT_SECRET: usize = memory.data<u8>([
  0xb8, 0xfe, 0x6c, 0x39, 0x23, 0xa4, 0x4b, 0xbe, 0x7c, 0x01, 0x81, 0x2c, 0xf7, 0x21, 0xad, 0x1c,
  0xde, 0xd4, 0x6d, 0xe9, 0x83, 0x90, 0x97, 0xdb, 0x72, 0x40, 0xa4, 0xa4, 0xb7, 0xb3, 0x67, 0x1f,
  0xcb, 0x79, 0xe6, 0x4e, 0xcc, 0xc0, 0xe5, 0x78, 0x82, 0x5a, 0xd0, 0x7d, 0xcc, 0xff, 0x72, 0x21,
  0xb8, 0x08, 0x46, 0x74, 0xf7, 0x43, 0x24, 0x8e, 0xe0, 0x35, 0x90, 0xe6, 0x81, 0x3a, 0x26, 0x4c,
  0x3c, 0x28, 0x52, 0xbb, 0x91, 0xc3, 0x00, 0xcb, 0x88, 0xd0, 0x65, 0x8b, 0x1b, 0x53, 0x2e, 0xa3,
  0x71, 0x64, 0x48, 0x97, 0xa2, 0x0d, 0xf9, 0x4e, 0x38, 0x19, 0xef, 0x46, 0xa9, 0xde, 0xac, 0xd8,
  0xa8, 0xfa, 0x76, 0x3f, 0xe3, 0x9c, 0x34, 0x3f, 0xf9, 0xdc, 0xbb, 0xc7, 0xc7, 0x0b, 0x4f, 0x1d,
  0x8a, 0x51, 0xe0, 0x4b, 0xcd, 0xb4, 0x59, 0x31, 0xc8, 0x9f, 0x7e, 0xc9, 0xd9, 0x78, 0x73, 0x64,
  0xea, 0xc5, 0xac, 0x83, 0x34, 0xd3, 0xeb, 0xc3, 0xc5, 0x81, 0xa0, 0xff, 0xfa, 0x13, 0x63, 0xeb,
  0x17, 0x0d, 0xdd, 0x51, 0xb7, 0xf0, 0xda, 0x49, 0xd3, 0x16, 0x55, 0x26, 0x29, 0xd4, 0x68, 0x9e,
  0x2b, 0x16, 0xbe, 0x58, 0x7d, 0x47, 0xa1, 0xfc, 0x8f, 0xf8, 0xb8, 0xd1, 0x7a, 0xd0, 0x31, 0xce,
  0x45, 0xcb, 0x3a, 0x8f, 0x95, 0x16, 0x04, 0x28, 0xaf, 0xd7, 0xfb, 0xca, 0xbb, 0x4b, 0x40, 0x7e,
], 16);
const DERIVED_SECRET: usize = memory.data(<i32>SECRET_SIZE, 16);

// ---- XXH64 ---------------------------------------------------------------------------------

/** One XXH64 round: folds the 8-byte `lane` into accumulator `acc`. */
// @ts-ignore: decorator
@inline function round64(acc: u64, lane: u64): u64 { return rotl<u64>(acc + lane * P64_2, 31) * P64_1; }

/** Merges a lane accumulator into the converged hash `h`. */
// @ts-ignore: decorator
@inline function merge64(h: u64, acc: u64): u64 { return (h ^ round64(0, acc)) * P64_1 + P64_4; }

/** XXH64's final mix (also used by XXH3 for inputs of 0..3 bytes). */
// @ts-ignore: decorator
@inline function avalanche64(h: u64): u64 {
  h = (h ^ (h >> 33)) * P64_2;
  h = (h ^ (h >> 29)) * P64_3;
  return h ^ (h >> 32);
}

/** XXH64's four lane accumulators converged into one hash (before the length and the tail). */
// @ts-ignore: decorator
@inline function converge64(v1: u64, v2: u64, v3: u64, v4: u64): u64 {
  let h = rotl<u64>(v1, 1) + rotl<u64>(v2, 7) + rotl<u64>(v3, 12) + rotl<u64>(v4, 18);
  h = merge64(h, v1);
  h = merge64(h, v2);
  h = merge64(h, v3);
  return merge64(h, v4);
}

/** The end of XXH64 over one whole 4 KiB page: converged, length added, avalanche (no tail). */
// @ts-ignore: decorator
@inline function xxh64PageEnd(v1: u64, v2: u64, v3: u64, v4: u64): u64 {
  return avalanche64(converge64(v1, v2, v3, v4) + <u64>PAGE_SIZE);
}

/** XXH64 of `len` bytes at `p`; inlined so that a constant `len` drops the tail code. */
// @ts-ignore: decorator
@inline function xxh64At(p: usize, len: usize, seed: u64): u64 {
  let h: u64;
  if (len >= 32) {
    let v1 = seed + P64_1 + P64_2;
    let v2 = seed + P64_2;
    let v3 = seed;
    let v4 = seed - P64_1;
    // count stripes rather than compare pointers: p + len may wrap at the end of 4 GiB
    let n = len >> 5;
    for (; n; n--) {
      v1 = round64(v1, load<u64>(p));
      v2 = round64(v2, load<u64>(p, 8));
      v3 = round64(v3, load<u64>(p, 16));
      v4 = round64(v4, load<u64>(p, 24));
      p += 32;
    }
    h = converge64(v1, v2, v3, v4);
  } else {
    h = seed + P64_5;
  }
  h += <u64>len;
  let r = len & 31;
  for (; r >= 8; r -= 8, p += 8) h = rotl<u64>(h ^ round64(0, load<u64>(p)), 27) * P64_1 + P64_4;
  if (r >= 4) {
    h = rotl<u64>(h ^ (<u64>load<u32>(p) * P64_1), 23) * P64_2 + P64_3;
    p += 4;
    r -= 4;
  }
  for (; r; r--, p++) h = rotl<u64>(h ^ (<u64>load<u8>(p) * P64_5), 11) * P64_1;
  return avalanche64(h);
}

// ---- XXH3-64: helpers ----------------------------------------------------------------------

/** XXH3's own final mix, cheaper than XXH64's. */
// @ts-ignore: decorator
@inline function avalanche3(h: u64): u64 {
  h = (h ^ (h >> 37)) * MX1;
  return h ^ (h >> 32);
}

/** The 128-bit product of `a` and `b`, its two halves xored (wasm has no 64x64->128). */
// @ts-ignore: decorator
@inline function mulFold(a: u64, b: u64): u64 {
  const al = a & 0xFFFFFFFF, ah = a >> 32;
  const bl = b & 0xFFFFFFFF, bh = b >> 32;
  const ll = al * bl, hl = ah * bl, lh = al * bh, hh = ah * bh;
  // lh <= (2^32-1)^2 and the other two terms are < 2^32 each, so the sum fits in 64 bits
  const cross = (ll >> 32) + (hl & 0xFFFFFFFF) + lh;
  const hi = (hl >> 32) + (cross >> 32) + hh;
  const lo = (cross << 32) | (ll & 0xFFFFFFFF);
  return lo ^ hi;
}

/** Mixes 16 bytes of input at `p` with 16 bytes of secret at `s` and the seed. */
// @ts-ignore: decorator
@inline function mix16(p: usize, s: usize, seed: u64): u64 {
  return mulFold(load<u64>(p) ^ (load<u64>(s) + seed), load<u64>(p, 8) ^ (load<u64>(s, 8) - seed));
}

// ---- XXH3-64: short and medium inputs ------------------------------------------------------

/** XXH3-64 of 0..16 bytes. */
function xxh3Short(p: usize, len: usize, seed: u64): u64 {
  const s = DEFAULT_SECRET;
  if (len > 8) {
    const lo = load<u64>(p) ^ ((load<u64>(s, 24) ^ load<u64>(s, 32)) + seed);
    const hi = load<u64>(p + len - 8) ^ ((load<u64>(s, 40) ^ load<u64>(s, 48)) - seed);
    return avalanche3(<u64>len + bswap<u64>(lo) + hi + mulFold(lo, hi));
  }
  if (len >= 4) {
    const sd = seed ^ (<u64>bswap<u32>(<u32>seed) << 32);
    const both = <u64>load<u32>(p + len - 4) | (<u64>load<u32>(p) << 32);
    let h = both ^ ((load<u64>(s, 8) ^ load<u64>(s, 16)) - sd);
    h ^= rotl<u64>(h, 49) ^ rotl<u64>(h, 24);
    h *= MX2;
    h ^= (h >> 35) + <u64>len;
    h *= MX2;
    return h ^ (h >> 28);
  }
  if (len > 0) {
    const c = <u32>load<u8>(p + len - 1) | (<u32>len << 8) | (<u32>load<u8>(p) << 16) | (<u32>load<u8>(p + (len >> 1)) << 24);
    return avalanche64(<u64>c ^ (<u64>(load<u32>(s) ^ load<u32>(s, 4)) + seed));
  }
  return avalanche64(seed ^ load<u64>(s, 56) ^ load<u64>(s, 64));
}

/** XXH3-64 of 17..240 bytes. */
function xxh3Mid(p: usize, len: usize, seed: u64): u64 {
  const s = DEFAULT_SECRET;
  let acc = <u64>len * P64_1;
  if (len <= 128) {
    // pairs (chunk i from the start, chunk i from the end) until they cover the input
    const pairs = ((len - 1) >> 5) + 1;
    for (let i: usize = 0; i < pairs; i++) {
      acc += mix16(p + (i << 4), s + (i << 5), seed);
      acc += mix16(p + len - 16 - (i << 4), s + (i << 5) + 16, seed);
    }
    return avalanche3(acc);
  }
  for (let i: usize = 0; i < 8; i++) acc += mix16(p + (i << 4), s + (i << 4), seed);
  acc = avalanche3(acc);
  const chunks = len >> 4;
  // chunks 8.. reuse the secret from offset 3, so that they are not keyed like chunks 0..
  for (let i: usize = 8; i < chunks; i++) acc += mix16(p + (i << 4), s + ((i - 8) << 4) + 3, seed);
  acc += mix16(p + len - 16, s + 119, seed);
  return avalanche3(acc);
}

// ---- XXH3-64: long inputs (SIMD) -----------------------------------------------------------

/** Low 32-bit halves of the two u64 lanes of `x`, then of `y`. */
// @ts-ignore: decorator
@inline function lows(x: v128, y: v128): v128 { return i32x4.shuffle(x, y, 0, 2, 4, 6); }
/** High 32-bit halves of the two u64 lanes of `x`, then of `y`. */
// @ts-ignore: decorator
@inline function highs(x: v128, y: v128): v128 { return i32x4.shuffle(x, y, 1, 3, 5, 7); }

/** Scrambles one accumulator pair with 16 bytes of secret at `s`. */
// @ts-ignore: decorator
@inline function scramble(a: v128, s: usize): v128 {
  a = v128.xor(v128.xor(a, i64x2.shr_u(a, 47)), v128.load(s));
  return i64x2.mul(a, i64x2.splat(P32_1));
}

/** Scrambles one scalar accumulator with its 8 bytes of secret `key`, as `scramble` does a pair. */
// @ts-ignore: decorator
@inline function scramble64(a: u64, key: u64): u64 { return (a ^ (a >> 47) ^ key) * P32_1; }

/** Adds the data sum `d` to accumulator pair `a`, each u64 into its neighbour's lane. */
// @ts-ignore: decorator
@inline function fold(a: v128, d: v128): v128 { return i64x2.add(a, i64x2.shuffle(d, d, 1, 0)); }

/** Folds the 128-bit products of one accumulator pair (keyed by secret at `s`) into `h`. */
// @ts-ignore: decorator
@inline function mergePair(h: u64, a: v128, s: usize): u64 {
  return h + mulFold(<u64>i64x2.extract_lane(a, 0) ^ load<u64>(s), <u64>i64x2.extract_lane(a, 1) ^ load<u64>(s, 8));
}

/**
 * XXH3-64 of `len` > 240 bytes at `p` keyed by the 192-byte `secret`. Inlined: with a constant
 * `len` and secret (pageHash) the block count and secret addresses become constants.
 *
 * The input is walked as runs of stripes: one run per full block (scrambled after it), the
 * stripes of the last block but its last, then the final 64 bytes alone. One copy of the
 * stripe code serves all three.
 *
 * Lanes 0-5 run in v128 locals, lanes 6 and 7 in two u64 locals: the stripe loop is bound by the
 * vector µops V8 issues for it (about eight per 16 bytes: each 32x32->64 multiply is two unpacks
 * and a vpmuludq), while the integer pipes stand idle. Moving one pair of lanes to them took
 * 4 KiB pages from about 22 to 26 GB/s (kernel over 64 pages in cache); moving two pairs was
 * slower (21 GB/s), and so was pairing the odd vector with the next stripe's (24 GB/s).
 */
// @ts-ignore: decorator
@inline function hashLong(p: usize, len: usize, secret: usize): u64 {
  let a0 = i64x2(<i64>P32_3, <i64>P64_1);
  let a1 = i64x2(<i64>P64_2, <i64>P64_3);
  let a2 = i64x2(<i64>P64_4, <i64>P32_2);
  let acc6: u64 = P64_5, acc7: u64 = P32_1;
  const blocks = (len - 1) >> BLOCK_SHIFT;
  const lastStripes = ((len - 1) & (BLOCK - 1)) >> 6;
  for (let run: usize = 0; run <= blocks + 1; run++) {
    let dp: usize, sp: usize, n: usize;
    if (run < blocks) {
      dp = p + (run << BLOCK_SHIFT); sp = secret; n = BLOCK_STRIPES;
    } else if (run == blocks) {
      dp = p + (run << BLOCK_SHIFT); sp = secret; n = lastStripes;
    } else {
      dp = p + len - STRIPE; sp = secret + LAST_STRIPE_AT; n = 1;
    }
    let d0 = i64x2.splat(0), d1 = d0, d2 = d0;
    for (; n; n--, dp += STRIPE, sp += 8) {
      const x0 = v128.load(dp), x1 = v128.load(dp, 16), x2 = v128.load(dp, 32);
      const k0 = v128.xor(x0, v128.load(sp)), k1 = v128.xor(x1, v128.load(sp, 16));
      const k2 = v128.xor(x2, v128.load(sp, 32));
      const l01 = lows(k0, k1), h01 = highs(k0, k1), l2 = lows(k2, k2), h2 = highs(k2, k2);
      a0 = i64x2.add(a0, i64x2.extmul_low_i32x4_u(l01, h01));
      a1 = i64x2.add(a1, i64x2.extmul_high_i32x4_u(l01, h01));
      a2 = i64x2.add(a2, i64x2.extmul_low_i32x4_u(l2, h2));
      d0 = i64x2.add(d0, x0); d1 = i64x2.add(d1, x1); d2 = i64x2.add(d2, x2);
      const x6 = load<u64>(dp, 48), x7 = load<u64>(dp, 56);
      const k6 = x6 ^ load<u64>(sp, 48), k7 = x7 ^ load<u64>(sp, 56);
      acc6 += (k6 & 0xFFFFFFFF) * (k6 >> 32) + x7;
      acc7 += (k7 & 0xFFFFFFFF) * (k7 >> 32) + x6;
    }
    a0 = fold(a0, d0); a1 = fold(a1, d1); a2 = fold(a2, d2);
    if (run < blocks) {
      const s = secret + SCRAMBLE_AT;
      a0 = scramble(a0, s); a1 = scramble(a1, s + 16); a2 = scramble(a2, s + 32);
      acc6 = scramble64(acc6, load<u64>(s, 48));
      acc7 = scramble64(acc7, load<u64>(s, 56));
    }
  }
  const s = secret + MERGE_AT;
  let h = <u64>len * P64_1;
  h = mergePair(h, a0, s);
  h = mergePair(h, a1, s + 16);
  h = mergePair(h, a2, s + 32);
  h += mulFold(acc6 ^ load<u64>(s, 48), acc7 ^ load<u64>(s, 56));
  return avalanche3(h);
}

/** Derives the secret of a non-zero seed into DERIVED_SECRET and returns its address. */
function deriveSecret(seed: u64): usize {
  const plusMinus = i64x2(<i64>seed, -<i64>seed);
  for (let i: usize = 0; i < SECRET_SIZE; i += 16) {
    v128.store(DERIVED_SECRET + i, i64x2.add(v128.load(DEFAULT_SECRET + i), plusMinus));
  }
  return DERIVED_SECRET;
}

/** XXH3-64 of more than 240 bytes: its own function, so that `xxh3` stays small. */
function xxh3Long(p: usize, len: usize, seed: u64): u64 {
  return hashLong(p, len, seed ? deriveSecret(seed) : DEFAULT_SECRET);
}

// ---- exported ABI --------------------------------------------------------------------------

/** True if `len` bytes at `p` lie within linear memory (for debug assertions). */
// @ts-ignore: decorator
@inline function inMemory(p: usize, len: u64): bool { return <u64>p + len <= (<u64>memory.size() << 16); }

/** XXH64 of `len` bytes at `p` with `seed`. */
export function xxh64(p: usize, len: usize, seed: u64): u64 {
  if (DEBUG) assert(inMemory(p, len), "xxh64: input past the end of linear memory");
  return xxh64At(p, len, seed);
}

/** XXH3-64 of `len` bytes at `p` with `seed` and the default secret. */
export function xxh3(p: usize, len: usize, seed: u64): u64 {
  if (DEBUG) assert(inMemory(p, len), "xxh3: input past the end of linear memory");
  if (len <= 16) return xxh3Short(p, len, seed);
  if (len <= MIDSIZE_MAX) return xxh3Mid(p, len, seed);
  return xxh3Long(p, len, seed);
}

/** XXH3-64 (seed 0) of the 4 KiB page at `addr`. */
// @ts-ignore: decorator
@inline export function pageXxh3(addr: usize): u64 { return hashLong(addr, PAGE_SIZE, DEFAULT_SECRET); }

/** XXH64 (seed 0) of the 4 KiB page at `addr`. */
// @ts-ignore: decorator
@inline export function pageXxh64(addr: usize): u64 { return xxh64At(addr, PAGE_SIZE, 0); }

/** The page hash of sharing: the faster of the two above on 4 KiB pages (see the overview). */
// @ts-ignore: decorator
@inline export function pageHash(addr: usize): u64 { return pageXxh3(addr); }

/** Writes the page hash of `n` consecutive 4 KiB pages at `p` to `n` u64 at `out`. */
export function pagesHash(p: usize, n: u32, out: usize): void {
  if (DEBUG) assert(inMemory(p, <u64>n << 12) && inMemory(out, <u64>n << 3), "pagesHash: pages or output past the end of linear memory");
  for (let i: u32 = 0; i < n; i++) store<u64>(out + (<usize>i << 3), pageHash(p + (<usize>i << 12)));
}

/** Writes the XXH3-64 (seed 0) of `n` consecutive 4 KiB pages at `p` to `n` u64 at `out`. */
export function pagesXxh3(p: usize, n: u32, out: usize): void {
  if (DEBUG) assert(inMemory(p, <u64>n << 12) && inMemory(out, <u64>n << 3), "pagesXxh3: pages or output past the end of linear memory");
  for (let i: u32 = 0; i < n; i++) store<u64>(out + (<usize>i << 3), pageXxh3(p + (<usize>i << 12)));
}

/** Writes the XXH64 (seed 0) of `n` consecutive 4 KiB pages at `p` to `n` u64 at `out`. */
export function pagesXxh64(p: usize, n: u32, out: usize): void {
  if (DEBUG) assert(inMemory(p, <u64>n << 12) && inMemory(out, <u64>n << 3), "pagesXxh64: pages or output past the end of linear memory");
  for (let i: u32 = 0; i < n; i++) store<u64>(out + (<usize>i << 3), pageXxh64(p + (<usize>i << 12)));
}

/** Writes the XXH64 with `seed` of `n` consecutive 4 KiB pages at `p` to `n` u64 at `out`. */
export function xxh64Pages(p: usize, n: u32, seed: u64, out: usize): void {
  if (DEBUG) assert(inMemory(p, <u64>n << 12) && inMemory(out, <u64>n << 3), "xxh64Pages: pages or output past the end of linear memory");
  for (let i: u32 = 0; i < n; i++) store<u64>(out + (<usize>i << 3), xxh64At(p + (<usize>i << 12), PAGE_SIZE, seed));
}

/**
 * XXH64 with `seed` of the two 4 KiB pages at `p` and `p + 4096`, into out and out + 8. One
 * XXH64 is four chains of rotl(acc + lane * P2, 31) * P1, each a round's latency deep; two
 * pages side by side keep eight in flight and use the multipliers one page leaves idle.
 */
// @ts-ignore: decorator
@inline function xxh64TwoAt(p: usize, seed: u64, out: usize): void {
  let v1 = seed + P64_1 + P64_2, v2 = seed + P64_2, v3 = seed, v4 = seed - P64_1;
  let w1 = v1, w2 = v2, w3 = v3, w4 = v4;
  // two stripes of each page per turn: with one, V8 spends a register on a turn counter and
  // spills accumulators (1.00x against one page at a time instead of 1.14x). `end` cannot wrap
  // at 4 GiB as xxh64At's pointer could: the second page lies past it.
  const end = p + PAGE_SIZE;
  for (let q = p; q != end; q += 64) {
    v1 = round64(v1, load<u64>(q)); v2 = round64(v2, load<u64>(q, 8));
    v3 = round64(v3, load<u64>(q, 16)); v4 = round64(v4, load<u64>(q, 24));
    w1 = round64(w1, load<u64>(q, 4096)); w2 = round64(w2, load<u64>(q, 4104));
    w3 = round64(w3, load<u64>(q, 4112)); w4 = round64(w4, load<u64>(q, 4120));
    v1 = round64(v1, load<u64>(q, 32)); v2 = round64(v2, load<u64>(q, 40));
    v3 = round64(v3, load<u64>(q, 48)); v4 = round64(v4, load<u64>(q, 56));
    w1 = round64(w1, load<u64>(q, 4128)); w2 = round64(w2, load<u64>(q, 4136));
    w3 = round64(w3, load<u64>(q, 4144)); w4 = round64(w4, load<u64>(q, 4152));
  }
  store<u64>(out, xxh64PageEnd(v1, v2, v3, v4));
  store<u64>(out, xxh64PageEnd(w1, w2, w3, w4), 8);
}

/**
 * `xxh64Pages` for pages already in cache: the same hashes, two neighbouring pages at a time.
 * On a 64-page chunk in L2 (the staged chunks of the JavaScript batch form) 1.14x faster; over
 * pages in DRAM about 2x slower (two neighbouring pages read side by side defeat the hardware
 * prefetcher here, in C as in WebAssembly), so everything that hashes pages where they lie
 * (pagesXxh64, xxh64Pages, xxh64PageList) keeps one page at a time.
 */
export function xxh64PagesInCache(p: usize, n: u32, seed: u64, out: usize): void {
  if (DEBUG) assert(inMemory(p, <u64>n << 12) && inMemory(out, <u64>n << 3), "xxh64PagesInCache: pages or output past the end of linear memory");
  let i: u32 = 0;
  for (; i + 1 < n; i += 2) xxh64TwoAt(p + (<usize>i << 12), seed, out + (<usize>i << 3));
  if (i < n) store<u64>(out + (<usize>i << 3), xxh64At(p + (<usize>i << 12), PAGE_SIZE, seed));
}

/**
 * Writes the XXH3-64 with `seed` of `n` consecutive 4 KiB pages at `p` to `n` u64 at `out`.
 * The seed's secret is derived once per call, not once per page; seed 0 keeps the constant one.
 */
export function xxh3Pages(p: usize, n: u32, seed: u64, out: usize): void {
  if (DEBUG) assert(inMemory(p, <u64>n << 12) && inMemory(out, <u64>n << 3), "xxh3Pages: pages or output past the end of linear memory");
  if (seed == 0) {
    for (let i: u32 = 0; i < n; i++) store<u64>(out + (<usize>i << 3), pageXxh3(p + (<usize>i << 12)));
    return;
  }
  const secret = deriveSecret(seed);
  for (let i: u32 = 0; i < n; i++) store<u64>(out + (<usize>i << 3), hashLong(p + (<usize>i << 12), PAGE_SIZE, secret));
}

/** Bytes of a swap checksum record (see the overview); the fields by offset. */
export const PAGE_SUM: u32 = 16;
export const enum PageSum { Page = 0, Seed = 4, Sum = 8 }

/** Writes into each of the `n` PAGE_SUM records at `list` the XXH64 of its 4 KiB page with its seed. */
export function xxh64PageList(list: usize, n: u32): void {
  if (DEBUG) assert(inMemory(list, <u64>n * PAGE_SUM), "xxh64PageList: list past the end of linear memory");
  for (let i: u32 = 0; i < n; i++) {
    const r = list + <usize>i * PAGE_SUM;
    const page = <usize>load<u32>(r + <usize>PageSum.Page);
    if (DEBUG) assert(inMemory(page, PAGE_SIZE), "xxh64PageList: a page past the end of linear memory");
    store<u64>(r + <usize>PageSum.Sum, xxh64At(page, PAGE_SIZE, <u64>load<u32>(r + <usize>PageSum.Seed)));
  }
}
