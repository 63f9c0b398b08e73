/**
 * Codec: the LZ4 block format on bytes in linear memory, the compressor of the zip cache.
 * A greedy single-probe compressor (LZ4's "fast" strategy) and a decompressor that is safe on
 * any input, interoperable with the reference liblz4 both ways.
 *
 * Block format: a block is a run of sequences, with no header, size or checksum.
 *
 *   sequence = token [literal length bytes] literals [offset] [match length bytes]
 *
 *   token      1 byte    high nibble L: literal count; low nibble M: match length - 4
 *   L bytes    when L == 15: bytes added to 15 one by one while each is 255 (15+255+3 = 273)
 *   literals   L raw bytes
 *   offset     u16 LE    1..65535: the match copies from `offset` bytes back in the output
 *   M bytes    as for L, when M == 15; a match is at least MIN_MATCH (4) bytes long and may
 *              overlap its own output (offset < length repeats the last `offset` bytes)
 *
 *   +-------+-----------+----------+--------+-----------+   +-------+----------+
 *   | token | L ext ... | literals | offset | M ext ... |...| token | literals | end
 *   +-------+-----------+----------+--------+-----------+   +-------+----------+
 *                                                            last sequence: no match
 *
 * End of block: the last sequence holds literals only; the block ends right after them. A
 * compressor keeps the last LAST_LITERALS (5) bytes as literals and starts no match in the last
 * MF_LIMIT (12) bytes, so that fast decoders (liblz4's) may copy in wide strides. An empty input
 * is the single token 0x00.
 *
 * Hash table (HASH_TABLE, static, cleared at the start of every call): the position (from the
 * input's start) of the last 4-byte sequence seen with each hash.
 *
 *   input <= 64 KiB   2^13 u16 entries (16 KiB)  every position fits u16; offsets <= 65535
 *   larger input      2^14 u32 entries (64 KiB)  candidates more than 65535 back are rejected
 *
 * The entry of a 4-byte sequence s is at hash(s) = (s * 2654435761) >> (32 - log2(entries)).
 * A zeroed entry points at position 0, which is harmless: every candidate is verified.
 *
 * Invariants:
 *   - the compressor writes only inside [dst, dst+dstCap) and reads only inside [src, src+srcLen);
 *     it returns the compressed size, or LZ4_DOES_NOT_FIT as soon as that size is certain to
 *     exceed dstCap, so a size that fits is the same for every dstCap that holds it;
 *   - the decompressor, on any bytes whatsoever, reads only inside [src, src+srcLen), writes only
 *     inside [dst, dst+dstCap), ends (every sequence consumes input), and returns the decoded
 *     size or one negative LZ4_* code naming what is wrong;
 *   - src and dst never overlap (the caller's duty).
 */

import { PAGE_SIZE } from "../ram/memmap";
import { Call, callSetI32 } from "../ram/callctx";

// ---- format --------------------------------------------------------------------------------

const MIN_MATCH: usize = 4;
const LAST_LITERALS: usize = 5;
const MF_LIMIT: usize = 12;
const MAX_OFFSET: usize = 65535;
const RUN_MASK: usize = 15;

// ---- status codes --------------------------------------------------------------------------

/** Compressor: the output would exceed dstCap. */
export const LZ4_DOES_NOT_FIT: i32 = -1;
/** Input ends inside a sequence: in a length, the literals or the offset, or right after a match. */
export const LZ4_TRUNCATED: i32 = -2;
/** A match offset of 0, which the format does not allow. */
export const LZ4_ZERO_OFFSET: i32 = -3;
/** A match offset reaching back before the start of the output. */
export const LZ4_OFFSET_BEFORE_START: i32 = -4;
/** Literals or a match would write past dstCap. */
export const LZ4_OUTPUT_OVERFLOW: i32 = -5;
/** The output is full but input remains. */
export const LZ4_TRAILING: i32 = -6;
/** Batch decompression: a page decoded to fewer than 4096 bytes. */
export const LZ4_SIZE_MISMATCH: i32 = -7;
/** Batch decompression: a compressed size is larger than its slot. */
export const LZ4_BAD_SIZE: i32 = -8;
/** Packed batch decompression: block offsets decrease, or a block reaches past the input. */
export const LZ4_BAD_OFFSETS: i32 = -9;

// ---- compressor tuning ---------------------------------------------------------------------

const SMALL_INPUT: u32 = 65536;
const SMALL_HASH_LOG: u32 = 13;
const LARGE_HASH_LOG: u32 = 14;
const HASH_TABLE: usize = memory.data(4 << LARGE_HASH_LOG, 16);
const HASH_PRIME: u32 = 2654435761;
/** Misses before the probe step grows by one byte (64: as LZ4's fast mode, acceleration 1). */
const SKIP_TRIGGER: u32 = 6;
/**
 * A found match extends backwards over at most this many pending literals. Bounding it turns
 * the pending literals beyond it into a certain part of the output, which lets an incompressible
 * input bail out after about dstCap scanned bytes instead of scanning to the end.
 */
const BACK_MAX: usize = 64;

// ---- decompressor tables ---------------------------------------------------------------------

/**
 * Swizzle masks for matches with offset < 16, one row per offset: lane i takes byte i % offset
 * of the 16 bytes loaded at (op - offset), which spreads the period over a whole v128.
 */
const PATTERN_MASKS = memory.data<u8>([
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // 0 (invalid; never used)
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // 1
  0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, // 2
  0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, // 3
  0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, // 4
  0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, // 5
  0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5, 0, 1, 2, 3, // 6
  0, 1, 2, 3, 4, 5, 6, 0, 1, 2, 3, 4, 5, 6, 0, 1, // 7
  0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7, // 8
  0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 2, 3, 4, 5, 6, // 9
  0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5, // 10
  0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0, 1, 2, 3, 4, // 11
  0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0, 1, 2, 3, // 12
  0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0, 1, 2, // 13
  0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 0, 1, // 14
  0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 0, // 15
], 16);
/** Per offset < 16: the largest multiple of the offset <= 16, the stride that keeps the pattern's phase. */
const PATTERN_STEPS = memory.data<u8>([0, 16, 16, 15, 16, 15, 12, 14, 16, 9, 10, 11, 12, 13, 14, 15]);

/** Bytes of input and of output the simple-sequence loop of the decompressor keeps from the ends. */
const QUICK_MARGIN: u32 = 32;


// ---- helpers -------------------------------------------------------------------------------

/** Bytes that encode the extension of a length field holding `n` (0 below 15). */
// @ts-ignore: decorator
@inline function lenBytes(n: usize): usize { return n < RUN_MASK ? 0 : (n - RUN_MASK) / 255 + 1; }

/** Writes the extension bytes of a length `n` >= 15 at `op`; returns the next output position. */
// @ts-ignore: decorator
@inline function putLen(op: usize, n: usize): usize {
  n -= RUN_MASK;
  while (n >= 255) {
    store<u8>(op++, 255);
    n -= 255;
  }
  store<u8>(op, <u8>n);
  return op + 1;
}

/** Copies `n` bytes, 16 at a time, writing (not reading meaningfully) up to 15 bytes past the end. */
// @ts-ignore: decorator
@inline function wideCopy(d: usize, s: usize, n: usize): void {
  const e = d + n;
  do {
    v128.store(d, v128.load(s));
    d += 16;
    s += 16;
  } while (d < e);
}

/** First position from `p` (matched against `r`) where the bytes differ, or `limit`. */
// @ts-ignore: decorator
@inline function matchEnd(p: usize, r: usize, limit: usize): usize {
  while (p + 16 <= limit) {
    const eq = i8x16.bitmask(i8x16.eq(v128.load(p), v128.load(r)));
    if (eq != 0xFFFF) return p + <usize>ctz<u32>(~eq);
    p += 16;
    r += 16;
  }
  while (p < limit && load<u8>(p) == load<u8>(r)) {
    p++;
    r++;
  }
  return p;
}

// ---- compressor ----------------------------------------------------------------------------

/** LZ4 fast compression with a hash table of `T` positions (u16 for small inputs, else u32). */
function compressWith<T>(src: usize, srcLen: u32, dst: usize, dstCap: u32): i32 {
  // an output that holds lz4Bound(srcLen) bytes cannot overflow: no need to watch for it
  return dstCap >= lz4Bound(srcLen)
    ? compressCore<T>(src, srcLen, dst, dstCap, false)
    : compressCore<T>(src, srcLen, dst, dstCap, true);
}

/**
 * The compressor, inlined twice: with `bail` it stops as soon as the output is certain not to
 * fit in dstCap; without, it never checks (the caller made sure the worst case fits).
 */
// @ts-ignore: decorator
@inline function compressCore<T>(src: usize, srcLen: u32, dst: usize, dstCap: u32, bail: bool): i32 {
  const hashLog: u32 = sizeof<T>() == 2 ? SMALL_HASH_LOG : LARGE_HASH_LOG;
  const shift: u32 = 32 - hashLog;
  const iend = src + <usize>srcLen;
  const oend = dst + <usize>dstCap;
  let op = dst;
  let anchor = src;

  if (srcLen > <u32>MF_LIMIT) {
    memory.fill(HASH_TABLE, 0, <usize>1 << (hashLog + alignof<T>()));
    const mflimit = iend - MF_LIMIT; // a match starts at or before this position
    const matchlimit = iend - LAST_LITERALS; // and ends at or before this one
    let ip = src + 1; // position 0 is in the table already: a zeroed entry points at it
    while (true) {
      let limit = mflimit;
      if (bail) {
        // past bailAt, the pending literals alone no longer fit (a match takes back <= BACK_MAX)
        const room = oend - op;
        if (room + BACK_MAX <= iend - anchor) limit = min(mflimit, anchor + room + BACK_MAX - 1);
      }
      let probes: u32 = 1 << SKIP_TRIGGER;
      let ref: usize = 0;
      let found = false;
      while (true) {
        if (ip > limit) {
          if (bail && ip <= mflimit) return LZ4_DOES_NOT_FIT; // stopped at bailAt
          break; // the rest is literals; their exact size is checked below
        }
        const seq = load<u32>(ip);
        const slot = HASH_TABLE + (<usize>((seq * HASH_PRIME) >> shift) << alignof<T>());
        ref = src + <usize>load<T>(slot);
        store<T>(slot, <T>(ip - src));
        if (load<u32>(ref) == seq && (sizeof<T>() == 2 || ip - ref <= MAX_OFFSET)) {
          found = true;
          break;
        }
        ip += <usize>(probes++ >> SKIP_TRIGGER);
      }
      if (!found) break;
      // extend the match backwards over the pending literals (at most BACK_MAX of them)
      const low = ip - anchor > BACK_MAX ? ip - BACK_MAX : anchor;
      while (ip > low) {
        if (ref <= src) break;
        if (load<u8>(ip - 1) != load<u8>(ref - 1)) break;
        ip--;
        ref--;
      }
      const mend = matchEnd(ip + MIN_MATCH, ref + MIN_MATCH, matchlimit);
      const lit = ip - anchor;
      const mlx = mend - ip - MIN_MATCH;
      if (bail && <usize>3 + lit + lenBytes(lit) + lenBytes(mlx) > oend - op) return LZ4_DOES_NOT_FIT;

      const tokenAt = op++;
      let token: u32;
      if (lit >= RUN_MASK) {
        token = <u32>RUN_MASK << 4;
        op = putLen(op, lit);
      } else {
        token = <u32>lit << 4;
      }
      // wide only when the 16-byte tail stays inside both buffers
      if (lit + 16 <= oend - op && lit + 16 <= iend - anchor) wideCopy(op, anchor, lit);
      else memory.copy(op, anchor, lit);
      op += lit;
      store<u16>(op, <u16>(ip - ref));
      op += 2;
      if (mlx >= RUN_MASK) {
        token |= <u32>RUN_MASK;
        op = putLen(op, mlx);
      } else {
        token |= <u32>mlx;
      }
      store<u8>(tokenAt, <u8>token);

      ip = anchor = mend;
      if (ip > mflimit) break;
      // the position two bytes back is likely to start the next repeat: remember it
      const p2 = ip - 2;
      store<T>(HASH_TABLE + (<usize>((load<u32>(p2) * HASH_PRIME) >> shift) << alignof<T>()), <T>(p2 - src));
    }
  }

  const lit = iend - anchor;
  if (<usize>1 + lit + lenBytes(lit) > oend - op) return LZ4_DOES_NOT_FIT;
  if (lit >= RUN_MASK) {
    store<u8>(op, <u8>(RUN_MASK << 4));
    op = putLen(op + 1, lit);
  } else {
    store<u8>(op++, <u8>(lit << 4));
  }
  memory.copy(op, anchor, lit);
  op += lit;
  if (DEBUG) assert(op <= oend, "lz4Compress: wrote past dstCap");
  return <i32>(op - dst);
}

// ---- decompressor --------------------------------------------------------------------------

/** Copies a match of `ml` bytes from `off` back, with room for a 16-byte overrun before `oend`. */
// @ts-ignore: decorator
@inline function wideMatch(op: usize, off: usize, ml: usize): void {
  const e = op + ml;
  if (off >= 16) {
    // each 16-byte load ends at or before the store position: the bytes it reads are final
    let s = op - off;
    do {
      v128.store(op, v128.load(s));
      op += 16;
      s += 16;
    } while (op < e);
  } else {
    // short period: build it once in a v128, then store it at strides that keep its phase
    const v = i8x16.swizzle(v128.load(op - off), v128.load(PATTERN_MASKS + (off << 4)));
    const step = <usize>load<u8>(PATTERN_STEPS + off);
    do {
      v128.store(op, v);
      op += step;
    } while (op < e);
  }
}

/**
 * Decodes the LZ4 block of `srcLen` bytes at `src` into at most `dstCap` bytes at `dst`.
 * Returns the decoded size, or a negative LZ4_* code. Safe on any input (see the invariants).
 */
export function lz4Decompress(src: usize, srcLen: u32, dst: usize, dstCap: u32): i32 {
  return decodeBlock(src, srcLen, dst, dstCap);
}

/**
 * lz4Decompress's body, inlined into the page batch loops as well: a call per page cost those
 * loops 1.4-2% (V8 spills and reloads the decoder's bounds at every entry; measured 2026-11-29,
 * two modules round-robin in one process over the bench corpus in engine memory).
 */
// @ts-ignore: decorator
@inline function decodeBlock(src: usize, srcLen: u32, dst: usize, dstCap: u32): i32 {
  if (srcLen == 0) return LZ4_TRUNCATED;
  if (dstCap > 0x7FFFFFFF) dstCap = 0x7FFFFFFF; // sizes are returned as i32
  const iend = src + <usize>srcLen;
  const oend = dst + <usize>dstCap;
  // fast paths below need 16 readable input bytes / 18 (32 for literals then match) writable
  // output bytes; a bound of 0 disables them for buffers shorter than that
  const ifast: usize = srcLen >= 16 ? iend - 15 : 0;
  const ofast: usize = dstCap >= 32 ? oend - 31 : 0;
  const iquick: usize = srcLen >= QUICK_MARGIN ? iend - <usize>QUICK_MARGIN : 0;
  const oquick: usize = dstCap >= QUICK_MARGIN ? oend - <usize>QUICK_MARGIN : 0;
  let ip = src;
  let op = dst;
  while (true) {
    // The quick loop: sequences with fewer than 15 literals and a match at an offset of 8 or
    // more inside the output, far from both ends of the buffers (reads before iquick + 32,
    // writes before oquick + 32). A sequence is checked before it is copied; one that breaks
    // a rule leaves the loop (a long match found too long is undone first: what it wrote lies
    // in bounds and is written again the same) and is decoded below with the full checks.
    // Its own small loop, so that its few live values stay in registers: measured on the bench
    // corpus, folding the long literal runs in too made the whole decoder slower, not faster.
    while (ip < iquick && op < oquick) {
      const token = <usize>load<u8>(ip);
      const lit = token >> 4;
      let ml = token & RUN_MASK;
      const off = <usize>load<u16>(ip + 1 + lit);
      if (lit == RUN_MASK) break;
      if (off < 8) break;
      if (off > op + lit - dst) break;
      v128.store(op, v128.load(ip, 1));
      op += lit;
      ip += lit + 3;
      const s = op - off;
      if (ml != RUN_MASK) {
        // 8 + 8 + 2 bytes: with an offset of 8 or more every load ends at or before the store
        // position, so it reads only final bytes, however the match overlaps its own output
        store<u64>(op, load<u64>(s));
        store<u64>(op, load<u64>(s, 8), 8);
        store<u16>(op, load<u16>(s, 16), 16);
        op += ml + MIN_MATCH;
      } else {
        let b: usize = 255;
        let q = ip; // the length bytes, consumed only once the match is known to fit
        const room = oquick > op ? oquick - op : 0; // the literals may have passed oquick
        while (b == 255 && q < iquick && ml <= room) { // bounded: ml cannot wrap
          b = <usize>load<u8>(q++);
          ml += b;
        }
        ml += MIN_MATCH;
        if (b == 255 || ml > room) {
          ip -= lit + 3; // undo the literals: the full checks below decode the whole sequence
          op -= lit;
          break;
        }
        ip = q;
        const e = op + ml;
        if (off >= 16) {
          wideCopy(op, s, ml); // 16-byte loads that end at or before their store
        } else {
          let d = op, r = s;
          do {
            store<u64>(d, load<u64>(r));
            d += 8;
            r += 8;
          } while (d < e);
        }
        op = e;
      }
    }
    const token = <usize>load<u8>(ip++);
    let lit = token >> 4;
    if (lit != RUN_MASK && ip < ifast && op < ofast) {
      // short literals, far from both ends: one 16-byte copy; the block cannot end here
      v128.store(op, v128.load(ip));
      ip += lit;
      op += lit;
    } else {
      if (lit == RUN_MASK) {
        let b: usize = 255;
        while (b == 255) {
          if (ip >= iend) return LZ4_TRUNCATED;
          b = <usize>load<u8>(ip++);
          lit += b;
          if (lit > <usize>srcLen) return LZ4_TRUNCATED; // more literals than any input holds
        }
      }
      if (lit > iend - ip) return LZ4_TRUNCATED;
      if (lit > oend - op) return LZ4_OUTPUT_OVERFLOW;
      // long runs go to memory.copy (the engine's memmove copies wider than 16 bytes)
      if (lit < 128 && lit + 16 <= iend - ip && lit + 16 <= oend - op) wideCopy(op, ip, lit);
      else memory.copy(op, ip, lit);
      ip += lit;
      op += lit;
      if (ip == iend) return <i32>(op - dst);
      if (op == oend) return LZ4_TRAILING;
      if (iend - ip < 2) return LZ4_TRUNCATED;
    }

    const off = <usize>load<u16>(ip);
    ip += 2;
    let ml = token & RUN_MASK;
    if (ml != RUN_MASK && off >= 8 && off <= op - dst && op < ofast) {
      // short match (<= 18 bytes) whose source lies 8 or more bytes back: wide copies in which
      // every load ends at or before the store position, so it reads only final bytes
      const s = op - off;
      if (off >= 16) {
        v128.store(op, v128.load(s));
        store<u16>(op + 16, load<u16>(s + 16));
      } else {
        store<u64>(op, load<u64>(s));
        store<u64>(op + 8, load<u64>(s + 8));
        store<u16>(op + 16, load<u16>(s + 16));
      }
      op += ml + MIN_MATCH;
    } else {
      if (off == 0) return LZ4_ZERO_OFFSET;
      if (off > op - dst) return LZ4_OFFSET_BEFORE_START;
      if (ml == RUN_MASK) {
        let b: usize = 255;
        while (b == 255) {
          if (ip >= iend) return LZ4_TRUNCATED;
          b = <usize>load<u8>(ip++);
          ml += b;
          if (ml > <usize>dstCap) return LZ4_OUTPUT_OVERFLOW;
        }
      }
      ml += MIN_MATCH;
      if (ml > oend - op) return LZ4_OUTPUT_OVERFLOW;
      // wide copies may overrun by up to 15 bytes: near the end of the output, copy wide up to
      // 16 bytes before it (a zero page's match ends 5 bytes before), then byte by byte, which
      // is exact and right for any overlap
      let wide = ml;
      if (ml + 16 > oend - op) wide = oend - op > 16 ? oend - op - 16 : 0;
      if (wide) wideMatch(op, off, wide);
      for (let i = wide; i < ml; i++) store<u8>(op + i, load<u8>(op - off + i));
      op += ml;
    }
    if (DEBUG) assert(op <= oend && ip <= iend, "lz4Decompress: past the end of a buffer");
    if (ip >= iend) return LZ4_TRUNCATED; // a block ends with literals, never with a match
  }
  // @ts-ignore: the loop above only returns (the compiler's flow check counts the inner loop's breaks)
  return unreachable();
}

/**
 * LZ4-compresses `srcLen` bytes at `src` into at most `dstCap` bytes at `dst`. Returns the
 * compressed size, or LZ4_DOES_NOT_FIT as soon as the output is certain to exceed dstCap.
 */
export function lz4Compress(src: usize, srcLen: u32, dst: usize, dstCap: u32): i32 {
  if (DEBUG) assert(srcLen <= 0x7FFF0000, "lz4Compress: input over 2 GiB");
  if (dstCap > 0x7FFFFFFF) dstCap = 0x7FFFFFFF; // sizes are returned as i32
  return srcLen <= SMALL_INPUT
    ? compressWith<u16>(src, srcLen, dst, dstCap)
    : compressWith<u32>(src, srcLen, dst, dstCap);
}

/** Largest compressed size of `n` input bytes (incompressible input grows by 1/255, plus a token). */
export function lz4Bound(n: u32): u32 { return n + n / 255 + 16; }

// ---- batches of 4 KiB pages ----------------------------------------------------------------

/**
 * Compresses `n` consecutive 4 KiB pages at `src`, page i into the slot of `slotBytes` at
 * dst + i * slotBytes; writes each size (i32, or LZ4_DOES_NOT_FIT) to `sizes`. Returns how
 * many pages fit in their slot.
 */
export function lz4CompressPages(src: usize, n: u32, dst: usize, slotBytes: u32, sizes: usize): u32 {
  let fit: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    const r = lz4Compress(src + (<usize>i << 12), PAGE_SIZE, dst + <usize>i * slotBytes, slotBytes);
    store<i32>(sizes + (<usize>i << 2), r);
    fit += <u32>(r >= 0);
  }
  return fit;
}

/**
 * Decompresses `n` pages: slot i (src + i * slotBytes, sizes[i] bytes) into the 4 KiB
 * page at dst + i * 4096. A negative size (a page that did not fit) is skipped. Returns n, or
 * the index of the first page that failed; its LZ4_* code is then in callCtx.lz4Error.
 */
export function lz4DecompressPages(src: usize, slotBytes: u32, sizes: usize, n: u32, dst: usize): u32 {
  callSetI32(Call.Lz4Error, 0);
  for (let i: u32 = 0; i < n; i++) {
    const size = load<i32>(sizes + (<usize>i << 2));
    if (size < 0) continue;
    if (<u32>size > slotBytes) {
      callSetI32(Call.Lz4Error, LZ4_BAD_SIZE);
      return i;
    }
    const r = decodeBlock(src + <usize>i * slotBytes, <u32>size, dst + (<usize>i << 12), PAGE_SIZE);
    if (r != <i32>PAGE_SIZE) {
      callSetI32(Call.Lz4Error, r < 0 ? r : LZ4_SIZE_MISMATCH);
      return i;
    }
  }
  return n;
}

/**
 * Compresses `n` consecutive 4 KiB pages at `src` into blocks packed back to back from `dst`,
 * using at most `dstCap` bytes; writes the end of block i as `base` + its offset from `dst`
 * (u32) at ends + 4i, so that a caller that packs in chunks gets offsets into its whole output.
 * Returns how many pages were compressed: n, or the index of the first page whose block does
 * not fit in what is left of dstCap.
 */
export function lz4CompressPacked(src: usize, n: u32, dst: usize, dstCap: u32, base: u32, ends: usize): u32 {
  let op = dst;
  const oend = dst + <usize>dstCap;
  for (let i: u32 = 0; i < n; i++) {
    const r = lz4Compress(src + (<usize>i << 12), PAGE_SIZE, op, <u32>(oend - op));
    if (r < 0) return i;
    op += <usize>r;
    store<u32>(ends + (<usize>i << 2), base + <u32>(op - dst));
  }
  return n;
}

/**
 * Decodes `n` packed blocks into 4 KiB pages at `dst`: block i spans offsets[i] .. offsets[i+1]
 * (n + 1 u32 at `offsets`, relative to offsets[0], which sits at `src`; `srcLen` bytes there).
 * Returns n, or the index of the first block that failed; its LZ4_* code is then in
 * callCtx.lz4Error (LZ4_BAD_OFFSETS, LZ4_BAD_SIZE for a block longer than any 4 KiB page's,
 * LZ4_SIZE_MISMATCH, or what the block itself got wrong).
 */
export function lz4DecompressPacked(src: usize, srcLen: u32, offsets: usize, n: u32, dst: usize): u32 {
  callSetI32(Call.Lz4Error, 0);
  const first = load<u32>(offsets);
  const bound = lz4Bound(<u32>PAGE_SIZE);
  let start: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    const end = load<u32>(offsets + (<usize>(i + 1) << 2)) - first;
    if (end < start || end > srcLen) {
      callSetI32(Call.Lz4Error, LZ4_BAD_OFFSETS);
      return i;
    }
    if (end - start > bound) {
      callSetI32(Call.Lz4Error, LZ4_BAD_SIZE);
      return i;
    }
    const r = decodeBlock(src + <usize>start, end - start, dst + (<usize>i << 12), PAGE_SIZE);
    if (r != <i32>PAGE_SIZE) {
      callSetI32(Call.Lz4Error, r < 0 ? r : LZ4_SIZE_MISMATCH);
      return i;
    }
    start = end;
  }
  return n;
}

