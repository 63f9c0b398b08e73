/**
 * Codecs: page compressors behind one interface, so users can compare them as zram users do.
 *
 *   lz4Codec          LZ4 block format, in WebAssembly (assembly/codec/lz4.ts) through the engine
 *   deflateCodec()    raw deflate (fflate), level 0..9, default 1
 *
 * `compress(src, limit)` returns null when the output would exceed `limit` bytes (the zip cache
 * keeps only pages that compress to <= 2048 bytes); `decompress(src, size)` returns exactly
 * `size` bytes or throws a CodecError that says what is wrong with the input.
 *
 * The one-shot LZ4 functions run on the utility engine (no machine RAM; src/engine/engine.ts
 * utilityEngine); data crosses through its staging region (src/engine/codec.ts lays it out).
 *
 * The into-buffer forms (`lz4CompressInto`, `lz4DecompressInto`) write into the caller's
 * array and allocate nothing per call. Many 4 KiB pages that start in JavaScript go through the
 * page batch forms, which cross in chunks of 64 pages (one copy in, one WebAssembly call and one
 * copy out per chunk, not per page; src/engine/codec.ts):
 *
 *   lz4CompressPagesInto(pages, dst, offsets)    pages -> blocks packed back to back in dst,
 *   lz4DecompressPagesInto(src, offsets, dst)    block i = [offsets[i], offsets[i+1]) -> page i
 *
 * Pages already in machine RAM are compressed by the engine in batches, one call per batch.
 */
import { deflateSync, inflateSync } from 'fflate';
import { utilityEngine } from '../engine/engine.js';
import { Lz4Status, lz4StatusText } from '../engine/codec.js';
import { PAGE } from '../engine/addr.js';
import { CodecError, ConfigError, checkBytes, checkInt, checkKeys } from '../errors.js';

/** A page compressor. */
export interface Codec {
  /** short name for reports, e.g. 'lz4', 'deflate-1' */
  readonly name: string;
  /** Compresses `src`; null when the output would exceed `limit` bytes (default: no limit). */
  compress(src: Uint8Array, limit?: number): Uint8Array | null;
  /** Decompresses `src` to exactly `size` bytes; throws CodecError on malformed input. */
  decompress(src: Uint8Array, size: number): Uint8Array;
}

/** Largest input (and decompressed size) the one-shot functions take: staging holds it twice. */
export const MAX_CODEC_INPUT = 1 << 30;



/** Checks an input buffer of a codec call and returns it. */
function checkInput(field: string, value: unknown): Uint8Array {
  const src = checkBytes(field, value);
  if (src.length > MAX_CODEC_INPUT) throw new ConfigError(field, src, `at most ${MAX_CODEC_INPUT} bytes`);
  return src;
}

/** Largest LZ4 block that `n` input bytes compress to (incompressible input grows by 1/255). */
export function lz4Bound(n: number): number {
  return n + Math.floor(n / 255) + 16;
}

/** LZ4 with an output limit: the block, or null when it would exceed `limit`. */
function lz4CompressLimited(src: Uint8Array, limit: number): Uint8Array | null {
  const r = utilityEngine().codec.lz4CompressBytes(src, limit);
  if (typeof r === 'number') throw new CodecError('lz4', r, lz4StatusText(r));
  return r;
}

/** Compresses `src` into one LZ4 block (the format liblz4's LZ4_decompress_safe reads). */
export function lz4Compress(src: Uint8Array): Uint8Array {
  checkInput('src', src);
  return lz4CompressLimited(src, lz4Bound(src.length))!;
}

/**
 * Decodes the LZ4 block `src`, which must decode to exactly `decompressedSize` bytes; throws
 * CodecError naming what is wrong otherwise (truncated, bad offset, overflow, trailing bytes).
 */
export function lz4Decompress(src: Uint8Array, decompressedSize: number): Uint8Array {
  checkInput('src', src);
  checkInt('decompressedSize', decompressedSize, 0, MAX_CODEC_INPUT);
  const r = utilityEngine().codec.lz4DecompressBytes(src, decompressedSize);
  if (typeof r === 'number') {
    throw new CodecError('lz4', r, `${lz4StatusText(r)} (block of ${src.length} bytes, decompressedSize ${decompressedSize})`);
  }
  if (r.length !== decompressedSize) {
    throw new CodecError('lz4', Lz4Status.SizeMismatch, `block decodes to ${r.length} bytes, expected decompressedSize ${decompressedSize}`);
  }
  return r;
}

/**
 * Compresses `src` into one LZ4 block written at the start of `dst`; returns its size in bytes.
 * Throws a CodecError (Lz4Status.DoesNotFit) when the block would not fit in `dst`.
 */
export function lz4CompressInto(src: Uint8Array, dst: Uint8Array): number {
  checkInput('src', src);
  checkBytes('dst', dst);
  // the block never exceeds the bound, so a larger dst needs no more staging than that
  const cap = Math.min(dst.length, lz4Bound(src.length));
  const r = utilityEngine().codec.lz4CompressTo(src, dst, cap);
  if (r === Lz4Status.DoesNotFit) {
    throw new CodecError('lz4', r, `${lz4StatusText(r)}: dst holds ${dst.length} bytes (a block of ${src.length} input bytes needs up to ${lz4Bound(src.length)})`);
  }
  if (r < 0) throw new CodecError('lz4', r, lz4StatusText(r));
  return r;
}

/**
 * Decodes the LZ4 block `src` into the start of `dst`; returns the decoded size (which may be
 * less than dst.length). Throws a CodecError naming what is wrong when the block is malformed
 * or decodes to more than dst.length bytes.
 */
export function lz4DecompressInto(src: Uint8Array, dst: Uint8Array): number {
  checkInput('src', src);
  checkBytes('dst', dst);
  // an input byte decodes to at most 255 output bytes (a length byte of 255), so a huge dst
  // needs no more staging than that
  const cap = Math.min(dst.length, MAX_CODEC_INPUT, 255 * src.length + 64);
  const r = utilityEngine().codec.lz4DecompressTo(src, dst, cap);
  if (r < 0) throw new CodecError('lz4', r, `${lz4StatusText(r)} (block of ${src.length} bytes, dst of ${dst.length} bytes)`);
  return r;
}

/** Checks a page buffer: a Uint8Array of a whole number of 4 KiB pages; returns the page count. */
function checkPages(field: string, value: unknown): number {
  const b = checkBytes(field, value);
  if (b.length % PAGE !== 0) throw new ConfigError(field, b, `a whole number of ${PAGE}-byte pages`);
  return b.length / PAGE;
}

/** Checks an offsets array for `n` blocks: a Uint32Array of n + 1 entries or more. */
function checkOffsets(value: unknown, n: number): Uint32Array {
  if (!(value instanceof Uint32Array) || value.length < n + 1) {
    throw new ConfigError('offsets', value, `a Uint32Array of at least ${n + 1} entries (one more than the pages)`);
  }
  return value;
}

/**
 * Compresses each 4 KiB page of `pages` into one LZ4 block, the blocks packed back to back from
 * the start of `dst`; block i is dst[offsets[i] .. offsets[i+1]) (offsets[0] = 0, n + 1 entries
 * written). Returns the bytes written to dst. Throws a CodecError (Lz4Status.DoesNotFit) naming
 * the first page that does not fit in what is left of dst; n * lz4Bound(4096) bytes always fit.
 */
export function lz4CompressPagesInto(pages: Uint8Array, dst: Uint8Array, offsets: Uint32Array): number {
  const n = checkPages('pages', pages);
  checkBytes('dst', dst);
  checkOffsets(offsets, n);
  const { written, failed } = utilityEngine().codec.lz4CompressPagesTo(pages, n, dst, offsets);
  if (failed !== null) {
    throw new CodecError('lz4', Lz4Status.DoesNotFit,
      `${lz4StatusText(Lz4Status.DoesNotFit)}: page ${failed} of ${n} does not fit in the ${dst.length - written} bytes left of dst (${dst.length} bytes)`);
  }
  return written;
}

/**
 * Decodes packed LZ4 blocks into 4 KiB pages: block i is src[offsets[i] .. offsets[i+1]) and
 * becomes page i of `dst` (n = offsets.length - 1 pages; dst holds at least n * 4096 bytes).
 * Returns the pages written. Throws a CodecError naming the first block that is malformed,
 * does not decode to exactly 4096 bytes, or whose offsets decrease or leave src.
 */
export function lz4DecompressPagesInto(src: Uint8Array, offsets: Uint32Array, dst: Uint8Array): number {
  checkBytes('src', src);
  if (!(offsets instanceof Uint32Array) || offsets.length < 1) throw new ConfigError('offsets', offsets, 'a Uint32Array of at least 1 entry (one more than the blocks)');
  const n = offsets.length - 1;
  checkBytes('dst', dst);
  if (dst.length < n * PAGE) throw new ConfigError('dst', dst, `at least ${n * PAGE} bytes (${n} pages of ${PAGE})`);
  const r = utilityEngine().codec.lz4DecompressPagesTo(src, offsets, n, dst);
  if (r) throw new CodecError('lz4', r.code, `block ${r.failed} of ${n} (src[${offsets[r.failed]} .. ${offsets[r.failed + 1]}]): ${lz4StatusText(r.code)}`);
  return n;
}

/** The LZ4 codec, in WebAssembly. */
export const lz4Codec: Codec = Object.freeze({
  name: 'lz4',
  compress(src: Uint8Array, limit?: number): Uint8Array | null {
    checkInput('src', src);
    const bound = lz4Bound(src.length);
    const cap = limit === undefined ? bound : Math.min(checkInt('limit', limit, 0, Number.MAX_SAFE_INTEGER), bound);
    return lz4CompressLimited(src, cap);
  },
  decompress(src: Uint8Array, size: number): Uint8Array {
    return lz4Decompress(src, size);
  },
});

export type DeflateLevel = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9;

export interface DeflateOptions {
  /** 0 (store) .. 9 (smallest); default 1, the fast level page compressors use */
  level?: number;
}

/** A raw deflate codec (RFC 1951, no zlib or gzip header), by fflate. */
export function deflateCodec(options: DeflateOptions = {}): Codec {
  if (options === null || typeof options !== 'object') throw new ConfigError('options', options, 'an object { level? }');
  checkKeys('', options, ['level']);
  const level = checkInt('level', options.level ?? 1, 0, 9) as DeflateLevel;
  const name = `deflate-${level}`;
  return Object.freeze({
    name,
    compress(src: Uint8Array, limit?: number): Uint8Array | null {
      checkInput('src', src);
      if (limit !== undefined) checkInt('limit', limit, 0, Number.MAX_SAFE_INTEGER);
      const out = deflateSync(src, { level });
      return limit !== undefined && out.length > limit ? null : out;
    },
    decompress(src: Uint8Array, size: number): Uint8Array {
      checkInput('src', src);
      checkInt('size', size, 0, MAX_CODEC_INPUT);
      // one spare byte: fflate stops silently at the end of a given buffer, so a stream that
      // decodes to more than `size` shows up as size + 1 bytes
      let out: Uint8Array;
      try {
        out = inflateSync(src, { out: new Uint8Array(size + 1) });
      } catch (err) {
        const e = err as { code?: number; message?: string };
        throw new CodecError(name, e.code ?? -1, `malformed raw deflate stream: ${e.message ?? String(err)}`);
      }
      if (out.length !== size) {
        throw new CodecError(name, -1, `stream decodes to ${out.length > size ? `more than ${size}` : out.length} bytes, expected size ${size}`);
      }
      return out;
    },
  });
}

/** Codecs by name, for configurations and the CLI: 'lz4', or 'deflate' with an optional level. */
export function codecByName(name: string, options: DeflateOptions = {}): Codec {
  if (name === 'lz4') return lz4Codec;
  if (name === 'deflate') return deflateCodec(options);
  throw new ConfigError('codec', name, "'lz4' or 'deflate'");
}
