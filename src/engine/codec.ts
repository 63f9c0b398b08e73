/**
 * codec: hashing and LZ4 in the engine (assembly/codec: hash, lz4). Two forms: over linear
 * addresses, one call per batch (tests and benches that place pages themselves), and over byte
 * arrays, which cross through the staging region for the one-shot functions of src/codec/:
 *
 *   staging: [ src | dst: limit (compress) or decompressed size (decompress) ]
 *
 * each placed by `skewed` against the JavaScript array it is copied from or to (gateway.ts
 * SKEW_ROOM says why), so a copy never meets the slow case of the C library's memmove, and each
 * copied out through `Gateway.copyOut`, which reads the destination's pages first (it says why).
 *
 * LZ4 results are sizes or negative Lz4Status codes; the module's own LZ4_* constants must equal
 * Lz4Status (checked when the engine loads).
 */
import { SKEW_ROOM, skewed, type Bound, type Gateway, type Record_, type RegionInfo } from './gateway.js';
import { ConfigError } from '../errors.js';

/**
 * Status codes of the LZ4 functions (assembly/codec/lz4.ts LZ4_*): >= 0 is a size, < 0 one of these.
 */
export enum Lz4Status {
  /** compression: the output would exceed the limit (not an error: the page is not kept) */
  DoesNotFit = -1,
  Truncated = -2,
  ZeroOffset = -3,
  OffsetBeforeStart = -4,
  OutputOverflow = -5,
  Trailing = -6,
  SizeMismatch = -7,
  BadSize = -8,
  BadOffsets = -9,
}

const LZ4_STATUS_TEXT: Record<number, string> = {
  [Lz4Status.DoesNotFit]: 'the compressed output does not fit in the limit',
  [Lz4Status.Truncated]: 'the input ends inside a sequence (a length, the literals or an offset), or right after a match',
  [Lz4Status.ZeroOffset]: 'a match has offset 0, which the block format does not allow',
  [Lz4Status.OffsetBeforeStart]: 'a match offset reaches back before the start of the output',
  [Lz4Status.OutputOverflow]: 'literals or a match would write past the expected decompressed size',
  [Lz4Status.Trailing]: 'the output reached the expected decompressed size but input bytes remain',
  [Lz4Status.SizeMismatch]: 'the block decodes to fewer bytes than expected',
  [Lz4Status.BadSize]: 'a compressed size is larger than its slot',
  [Lz4Status.BadOffsets]: 'block offsets decrease, or a block reaches past the end of the input',
};

/** What an Lz4Status code means, in words for an error message. */
export function lz4StatusText(code: number): string {
  return LZ4_STATUS_TEXT[code] ?? `unknown LZ4 status ${code}`;
}

/** The module's name of each Lz4Status. */
const LZ4_NAMES = {
  LZ4_DOES_NOT_FIT: Lz4Status.DoesNotFit,
  LZ4_TRUNCATED: Lz4Status.Truncated,
  LZ4_ZERO_OFFSET: Lz4Status.ZeroOffset,
  LZ4_OFFSET_BEFORE_START: Lz4Status.OffsetBeforeStart,
  LZ4_OUTPUT_OVERFLOW: Lz4Status.OutputOverflow,
  LZ4_TRAILING: Lz4Status.Trailing,
  LZ4_SIZE_MISMATCH: Lz4Status.SizeMismatch,
  LZ4_BAD_SIZE: Lz4Status.BadSize,
  LZ4_BAD_OFFSETS: Lz4Status.BadOffsets,
} as const;

const EXPORTS = [
  'xxh64', 'xxh3', 'pagesHash', 'pagesXxh3', 'pagesXxh64', 'xxh64Pages', 'xxh64PagesInCache', 'xxh3Pages', 'xxh64PageList', 'crc32',
  'lz4Compress', 'lz4Decompress', 'lz4Bound', 'lz4CompressPages', 'lz4DecompressPages', 'lz4CompressPacked', 'lz4DecompressPacked',
] as const;

/** Bytes of a page. */
const PAGE = 4096;
/**
 * Pages per chunk of the page batch forms for data in JavaScript: pages cross in copies of
 * 256 KiB, which stay in the core's L2 cache (1 MiB on the dev box) between the copy and the
 * work. Every copy is placed by `skewed`, which keeps glibc's `rep movsb` on its fast path
 * (gateway.ts SKEW_ROOM). Paired runs of bench/paired.ts at 32, 64 and 256 pages per chunk
 * were within their noise of each other; 64 was never the slowest. With copies out warmed
 * (2026-11-29), 8 to 128 pages per chunk decoded the corpus within 2% of each other, 4 pages
 * 5% slower (one process, round-robin).
 */
export const PAGES_CHUNK = 64;

export class Codec {
  private readonly x: Bound<typeof EXPORTS>;
  private readonly call: Record_<'lz4Error'>;
  private readonly callAt: number;
  private readonly sum: Record_<'page' | 'seed' | 'sum'>;
  private readonly sums: RegionInfo;
  private sumsReady = false;

  constructor(private readonly g: Gateway, callCtx: number) {
    this.x = g.bind(EXPORTS);
    const c = g.constantsOf(Object.keys(LZ4_NAMES) as (keyof typeof LZ4_NAMES)[]);
    for (const [name, v] of Object.entries(LZ4_NAMES)) {
      const m = c[name as keyof typeof LZ4_NAMES];
      if (m !== v) throw new ConfigError('module', name, `${v}, as Lz4Status says (the module says ${m}: rebuild it)`);
    }
    this.call = g.record('callCtx', { lz4Error: 4 });
    this.callAt = callCtx;
    this.sum = g.record('pageSum', { page: 4, seed: 4, sum: 8 });
    this.sums = g.windows('staging', ['sums']).sums;
  }

  // ---- swap checksums ----------------------------------------------------------------------

  /**
   * Swap checksums of pages in this engine's memory: XXH64(pages[k], 4096, seeds[k]) for k in
   * [from, to) into out[2k] (low u32) and out[2k + 1] (high u32), without a copy and without a
   * BigInt per page: the pages' addresses and seeds go into a list of pageSum records in the
   * staging window 'sums' (free while a Host's swap I/O runs), one engine call hashes a batch.
   * Returns false, computing nothing, when a page is not a live 4 KiB view of this engine's
   * memory (a JavaScript array: pageSumsCopied takes those).
   */
  pageSums(pages: readonly Uint8Array[], seeds: ArrayLike<number>, from: number, to: number, out: Uint32Array): boolean {
    // the window first: making it may grow linear memory, after which older views read length 0
    if (!this.sumsReady) {
      this.g.stage(this.sums.offset + this.sums.size);
      this.sumsReady = true;
    }
    const buf = this.g.u8.buffer;
    for (let k = from; k < to; k++) if (pages[k].buffer !== buf || pages[k].length !== PAGE) return false;
    const list = this.g.staging + this.sums.offset;
    this.listSums(list, this.sums.size / this.sum.size, (k) => pages[k].byteOffset, seeds, from, to, out);
    return true;
  }

  /**
   * pageSums for 4 KiB pages anywhere (JavaScript arrays): each batch is copied into staging
   * first, the list after it. For an engine whose staging holds nothing else between calls
   * (the utility engine).
   */
  pageSumsCopied(pages: readonly Uint8Array[], seeds: ArrayLike<number>, from: number, to: number, out: Uint32Array): void {
    // a page slot per page, each SKEW_ROOM long, so that every copy can be placed by `skewed`
    const base = this.g.stage(PAGES_CHUNK * (SKEW_ROOM + PAGE) + PAGES_CHUNK * this.sum.size);
    const list = base + PAGES_CHUNK * (SKEW_ROOM + PAGE);
    this.listSums(list, PAGES_CHUNK, (k, i) => {
      const p = pages[k];
      if (p.length !== PAGE) throw new ConfigError(`pages[${k}]`, p, 'a 4 KiB page (a view of engine memory made before linear memory grew reads as 0 bytes)');
      const at = skewed(base + i * (SKEW_ROOM + PAGE), p.byteOffset);
      this.g.u8.set(p, at);
      return at;
    }, seeds, from, to, out);
  }

  /** Lists pages [from, to) at `list` (at most `cap` per call; `addr(k, i)` places page k as entry i), hashes them, copies the sums out. */
  private listSums(list: number, cap: number, addr: (k: number, i: number) => number, seeds: ArrayLike<number>, from: number, to: number, out: Uint32Array): void {
    const { size, page, seed, sum } = this.sum;
    for (let first = from; first < to; first += cap) {
      const m = Math.min(cap, to - first);
      for (let i = 0; i < m; i++) {
        const a = addr(first + i, i);
        const w = this.g.u32;
        w[(list + i * size + page) >>> 2] = a;
        w[(list + i * size + seed) >>> 2] = seeds[first + i];
      }
      this.x.xxh64PageList(list, m);
      const w = this.g.u32;
      for (let i = 0; i < m; i++) {
        const at = (list + i * size + sum) >>> 2;
        out[2 * (first + i)] = w[at];
        out[2 * (first + i) + 1] = w[at + 1];
      }
    }
  }

  // ---- hashes ------------------------------------------------------------------------------
  // u64 results are unsigned; a seed of 2^63 or more crosses as is (the i64 parameter wraps modulo 2^64).

  /** XXH64 of `len` bytes at `addr` with `seed`. */
  xxh64(addr: number, len: number, seed = 0n): bigint { return this.x.xxh64(addr, len, seed); }
  /** XXH3-64 of `len` bytes at `addr` with `seed` (default secret). */
  xxh3(addr: number, len: number, seed = 0n): bigint { return this.x.xxh3(addr, len, seed); }
  /** XXH64 of `data` (copied into staging). */
  xxh64Bytes(data: Uint8Array, seed: bigint): bigint { return this.x.xxh64(this.g.stageIn(data), data.length, seed); }
  /** XXH3-64 of `data` (copied into staging). */
  xxh3Bytes(data: Uint8Array, seed: bigint): bigint { return this.x.xxh3(this.g.stageIn(data), data.length, seed); }
  /** Writes the page hash (sharing's; XXH3-64, seed 0) of `n` pages at `addr` as u64 at `out`. */
  pagesHash(addr: number, n: number, out: number): void { this.x.pagesHash(addr, n, out); }
  /** Writes XXH3-64 (seed 0) of `n` pages at `addr` as u64 at `out`. */
  pagesXxh3(addr: number, n: number, out: number): void { this.x.pagesXxh3(addr, n, out); }
  /** Writes XXH64 (seed 0) of `n` pages at `addr` as u64 at `out`. */
  pagesXxh64(addr: number, n: number, out: number): void { this.x.pagesXxh64(addr, n, out); }
  /** Writes XXH64 with `seed` of `n` pages at `addr` as u64 at `out`. */
  xxh64Pages(addr: number, n: number, seed: bigint, out: number): void { this.x.xxh64Pages(addr, n, seed, out); }
  /** As xxh64Pages, two neighbouring pages at a time: for pages in cache (faster there, slower over DRAM). */
  xxh64PagesInCache(addr: number, n: number, seed: bigint, out: number): void { this.x.xxh64PagesInCache(addr, n, seed, out); }
  /** Writes XXH3-64 with `seed` (default secret) of `n` pages at `addr` as u64 at `out`. */
  xxh3Pages(addr: number, n: number, seed: bigint, out: number): void { this.x.xxh3Pages(addr, n, seed, out); }

  /**
   * XXH64 or XXH3-64 with `seed` of each 4 KiB page of `data` (a whole number of pages) into
   * `out` (one u64 per page; returned): the pages cross in chunks and the hashes come back as
   * raw u64s, copied once per chunk, so no BigInt is made per page.
   *
   *   staging: [ PAGES_CHUNK u64 hashes | PAGES_CHUNK pages, placed by `skewed` ]
   */
  hashPages(kind: 'xxh64' | 'xxh3', data: Uint8Array, seed: bigint, out: BigUint64Array): BigUint64Array {
    const n = data.length / PAGE;
    const hashes = this.g.stage(PAGES_CHUNK * 8 + SKEW_ROOM + PAGES_CHUNK * PAGE);
    const at = skewed(hashes + PAGES_CHUNK * 8, data.byteOffset);
    for (let first = 0; first < n; first += PAGES_CHUNK) {
      const k = Math.min(PAGES_CHUNK, n - first);
      const u8 = this.g.u8;
      u8.set(data.subarray(first * PAGE, (first + k) * PAGE), at);
      // the chunk was just copied in and sits in L2: XXH64 two pages at a time pays there
      if (kind === 'xxh64') this.x.xxh64PagesInCache(at, k, seed, hashes);
      else this.x.xxh3Pages(at, k, seed, hashes);
      out.set(new BigUint64Array(u8.buffer, hashes, k), first);
    }
    return out;
  }

  /** CRC-32 (gzip's) of `len` bytes at `addr`, continuing from `crc` (the CRC of the bytes before; 0 to start). */
  crc32(addr: number, len: number, crc = 0): number { return this.x.crc32(addr, len, crc); }
  /** CRC-32 of `data` (copied into staging), continuing from `crc`. */
  crc32Bytes(data: Uint8Array, crc = 0): number { return this.x.crc32(this.g.stageIn(data), data.length, crc); }

  // ---- LZ4 ---------------------------------------------------------------------------------

  /** LZ4-compresses `srcLen` bytes at `src` into at most `dstCap` bytes at `dst`: size, or Lz4Status.DoesNotFit. */
  lz4Compress(src: number, srcLen: number, dst: number, dstCap: number): number { return this.x.lz4Compress(src, srcLen, dst, dstCap); }
  /** Decodes the LZ4 block at `src` into at most `dstCap` bytes at `dst`: decoded size, or a negative Lz4Status. */
  lz4Decompress(src: number, srcLen: number, dst: number, dstCap: number): number { return this.x.lz4Decompress(src, srcLen, dst, dstCap); }
  /** Largest LZ4 block that `n` input bytes compress to. */
  lz4Bound(n: number): number { return this.x.lz4Bound(n); }
  /** Compresses `n` pages at `src` into slots of `slotBytes` at `dst`, sizes (i32) at `sizes`; returns how many fit. */
  lz4CompressPages(src: number, n: number, dst: number, slotBytes: number, sizes: number): number {
    return this.x.lz4CompressPages(src, n, dst, slotBytes, sizes);
  }
  /** Decompresses `n` slotted pages into 4 KiB pages at `dst`; returns n, or the index of the page that failed (lz4LastError says why). */
  lz4DecompressPages(src: number, slotBytes: number, sizes: number, n: number, dst: number): number {
    return this.x.lz4DecompressPages(src, slotBytes, sizes, n, dst);
  }
  /** Compresses `n` pages at `src` into blocks packed from `dst` (at most `dstCap` bytes), the end of block i (`base` + its offset) as u32 at `ends` + 4i; n, or the first page that did not fit. */
  lz4CompressPacked(src: number, n: number, dst: number, dstCap: number, base: number, ends: number): number {
    return this.x.lz4CompressPacked(src, n, dst, dstCap, base, ends);
  }
  /** Decodes `n` packed blocks (n + 1 u32 offsets at `offsets`, the first block at `src`, `srcLen` bytes) into pages at `dst`; n, or the failed index (lz4LastError says why). */
  lz4DecompressPacked(src: number, srcLen: number, offsets: number, n: number, dst: number): number {
    return this.x.lz4DecompressPacked(src, srcLen, offsets, n, dst);
  }
  /** The Lz4Status of the page at which the last lz4DecompressPages or lz4DecompressPacked stopped (0 if none). */
  lz4LastError(): number {
    return this.g.view.getInt32(this.callAt + this.call.lz4Error, true);
  }

  /** `src` compressed into one LZ4 block of at most `limit` bytes, or null when it does not fit. */
  lz4CompressBytes(src: Uint8Array, limit: number): Uint8Array | number | null {
    const { s, o } = this.stagePair(src, limit, 0);
    const r = this.x.lz4Compress(s, src.length, o, limit);
    if (r === Lz4Status.DoesNotFit) return null;
    if (r < 0) return r;
    return this.g.u8.slice(o, o + r);
  }

  /**
   * Copies `src` into staging and makes room for `outCap` bytes of output after it, each placed
   * by `skewed` (the output against `outOffset`, the byteOffset of the array it goes to).
   */
  private stagePair(src: Uint8Array, outCap: number, outOffset: number): { s: number; o: number } {
    const base = this.g.stage(2 * SKEW_ROOM + src.length + outCap);
    const s = skewed(base, src.byteOffset);
    this.g.u8.set(src, s);
    return { s, o: skewed(s + src.length, outOffset) };
  }

  /** `src` compressed into one LZ4 block of at most `cap` bytes written at the start of `dst`: its size, or a negative Lz4Status (DoesNotFit). */
  lz4CompressTo(src: Uint8Array, dst: Uint8Array, cap: number): number {
    const { s, o } = this.stagePair(src, cap, dst.byteOffset);
    const r = this.x.lz4Compress(s, src.length, o, cap);
    if (r >= 0) this.g.copyOut(dst, 0, o, r);
    return r;
  }

  /** The LZ4 block `src` decoded into at most `cap` bytes at the start of `dst`: the decoded size, or a negative Lz4Status. */
  lz4DecompressTo(src: Uint8Array, dst: Uint8Array, cap: number): number {
    const { s, o } = this.stagePair(src, cap, dst.byteOffset);
    const r = this.x.lz4Decompress(s, src.length, o, cap);
    if (r >= 0) this.g.copyOut(dst, 0, o, r);
    return r;
  }

  /**
   * Staging of one chunk of the page batch forms: offsets, then room for the pages and for the
   * blocks (lz4Bound(4096) each), each placed by `skewed` chunk by chunk.
   */
  private pageChunks(): { offsets: number; pages: number; blocks: number; bound: number } {
    const bound = this.x.lz4Bound(PAGE);
    const offsets = this.g.stage((PAGES_CHUNK + 1) * 4 + 2 * SKEW_ROOM + PAGES_CHUNK * (PAGE + bound));
    const pages = offsets + (PAGES_CHUNK + 1) * 4;
    return { offsets, pages, blocks: pages + SKEW_ROOM + PAGES_CHUNK * PAGE, bound };
  }

  /**
   * Compresses the `n` 4 KiB pages of `pages` into LZ4 blocks packed back to back from the start
   * of `dst`, block i at dst[offsets[i] .. offsets[i+1]) (offsets[0] = 0), chunk by chunk:
   *
   *   staging: [ PAGES_CHUNK + 1 u32 offsets | PAGES_CHUNK pages | PAGES_CHUNK blocks (lz4Bound(4096) each) ]
   *
   * Returns the bytes written, and the first page that did not fit in what was left of dst (null
   * when all did).
   */
  lz4CompressPagesTo(pages: Uint8Array, n: number, dst: Uint8Array, offsets: Uint32Array): { written: number; failed: number | null } {
    const c = this.pageChunks();
    offsets[0] = 0;
    let written = 0;
    for (let first = 0; first < n; first += PAGES_CHUNK) {
      const k = Math.min(PAGES_CHUNK, n - first);
      const p = skewed(c.pages, pages.byteOffset + first * PAGE);
      const b = skewed(c.blocks, dst.byteOffset + written);
      this.g.u8.set(pages.subarray(first * PAGE, (first + k) * PAGE), p);
      const cap = Math.min(k * c.bound, dst.length - written);
      const done = this.x.lz4CompressPacked(p, k, b, cap, written, c.offsets);
      const u8 = this.g.u8;
      offsets.set(new Uint32Array(u8.buffer, c.offsets, done), first + 1);
      const end = done > 0 ? offsets[first + done] : written;
      this.g.copyOut(dst, written, b, end - written);
      written = end;
      if (done < k) return { written, failed: first + done };
    }
    return { written, failed: null };
  }

  /**
   * Decodes the `n` packed LZ4 blocks of `src` (block i = src[offsets[i] .. offsets[i+1])) into
   * 4 KiB pages of `dst`, chunk by chunk (staging as lz4CompressPagesTo). Returns the first block
   * that failed and its Lz4Status, or null when all decoded to whole pages.
   */
  lz4DecompressPagesTo(src: Uint8Array, offsets: Uint32Array, n: number, dst: Uint8Array): { failed: number; code: number } | null {
    const c = this.pageChunks();
    for (let first = 0; first < n; first += PAGES_CHUNK) {
      const k = Math.min(PAGES_CHUNK, n - first);
      const from = offsets[first];
      if (from > src.length) return { failed: first, code: Lz4Status.BadOffsets };
      // with offsets that only grow and blocks no longer than the bound, a chunk fits its room;
      // past it, the module finds the first block that breaks one of the two
      const len = Math.min(Math.max(offsets[first + k] - from, 0), src.length - from, k * c.bound);
      const b = skewed(c.blocks, src.byteOffset + from);
      const p = skewed(c.pages, dst.byteOffset + first * PAGE);
      const u8 = this.g.u8;
      u8.set(src.subarray(from, from + len), b);
      u8.set(new Uint8Array(offsets.buffer, offsets.byteOffset + first * 4, (k + 1) * 4), c.offsets);
      const done = this.x.lz4DecompressPacked(b, len, c.offsets, k, p);
      this.g.copyOut(dst, first * PAGE, p, done * PAGE);
      if (done < k) return { failed: first + done, code: this.lz4LastError() };
    }
    return null;
  }

  /** The LZ4 block `src` decoded into at most `size` bytes, or a negative Lz4Status. */
  lz4DecompressBytes(src: Uint8Array, size: number): Uint8Array | number {
    const { s, o } = this.stagePair(src, size, 0);
    const r = this.x.lz4Decompress(s, src.length, o, size);
    if (r < 0) return r;
    return this.g.u8.slice(o, o + r);
  }
}
