/**
 * codec: hashing and LZ4 in the engine (assembly/codec: hash, lz4). Two forms: over linear
 * addresses, one call per batch (tests and benches that place pages themselves), and over byte
 * arrays, which cross through the staging region for the one-shot functions of src/codec/:
 *
 *   staging: [ src | pad to 16 | dst: limit (compress) or decompressed size (decompress) ]
 *
 * LZ4 results are sizes or negative Lz4Status codes; the module's own LZ4_* constants must equal
 * Lz4Status (checked when the engine loads).
 */
import type { Bound, Gateway, Record_ } from './gateway.js';
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
} as const;

const EXPORTS = [
  'xxh64', 'xxh3', 'pagesHash', 'pagesXxh3', 'pagesXxh64', 'crc32',
  'lz4Compress', 'lz4Decompress', 'lz4Bound', 'lz4CompressPages', 'lz4DecompressPages',
] as const;

/** Rounds up to 16 so an output starts on a v128 boundary. */
function align16(n: number): number {
  return (n + 15) & ~15;
}

export class Codec {
  private readonly x: Bound<typeof EXPORTS>;
  private readonly call: Record_<'lz4Error'>;
  private readonly callAt: number;

  constructor(private readonly g: Gateway, callCtx: number) {
    this.x = g.bind(EXPORTS);
    const c = g.constantsOf(Object.keys(LZ4_NAMES) as (keyof typeof LZ4_NAMES)[]);
    for (const [name, v] of Object.entries(LZ4_NAMES)) {
      const m = c[name as keyof typeof LZ4_NAMES];
      if (m !== v) throw new ConfigError('module', name, `${v}, as Lz4Status says (the module says ${m}: rebuild it)`);
    }
    this.call = g.record('callCtx', { lz4Error: 4 });
    this.callAt = callCtx;
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
  /** The Lz4Status of the page at which the last lz4DecompressPages stopped (0 if none). */
  lz4LastError(): number {
    return this.g.view.getInt32(this.callAt + this.call.lz4Error, true);
  }

  /** `src` compressed into one LZ4 block of at most `limit` bytes, or null when it does not fit. */
  lz4CompressBytes(src: Uint8Array, limit: number): Uint8Array | number | null {
    const at = align16(src.length);
    this.g.stage(at + limit);
    const s = this.g.stageIn(src, 0);
    const r = this.x.lz4Compress(s, src.length, s + at, limit);
    if (r === Lz4Status.DoesNotFit) return null;
    if (r < 0) return r;
    return this.g.u8.slice(s + at, s + at + r);
  }

  /** The LZ4 block `src` decoded into at most `size` bytes, or a negative Lz4Status. */
  lz4DecompressBytes(src: Uint8Array, size: number): Uint8Array | number {
    const at = align16(src.length);
    this.g.stage(at + size);
    const s = this.g.stageIn(src, 0);
    const r = this.x.lz4Decompress(s, src.length, s + at, size);
    if (r < 0) return r;
    return this.g.u8.slice(s + at, s + at + r);
  }
}
