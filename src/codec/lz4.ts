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
 * The one-shot LZ4 functions run on the utility engine (no machine RAM; engine.ts utilityEngine).
 * Data crosses through its staging region, laid out per call as
 *
 *   staging: [ src | pad to 16 | dst: limit (compress) or decompressedSize (decompress) ]
 *
 * Batches of pages should not come through here: the engine's lz4CompressPages and
 * lz4DecompressPages cross into WebAssembly once per batch.
 */
import { deflateSync, inflateSync } from 'fflate';
import { Lz4Status, lz4StatusText, utilityEngine } from '../engine/engine.js';
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


/** Rounds up to 16 so the output starts on a v128 boundary. */
function align16(n: number): number {
  return (n + 15) & ~15;
}

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
  const e = utilityEngine();
  const at = align16(src.length);
  e.stage(at + limit);
  const s = e.stageIn(src, 0);
  const r = e.lz4Compress(s, src.length, s + at, limit);
  if (r === Lz4Status.DoesNotFit) return null;
  if (r < 0) throw new CodecError('lz4', r, lz4StatusText(r));
  return e.u8.slice(s + at, s + at + r);
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
  const e = utilityEngine();
  const at = align16(src.length);
  e.stage(at + decompressedSize);
  const s = e.stageIn(src, 0);
  const r = e.lz4Decompress(s, src.length, s + at, decompressedSize);
  if (r < 0) {
    throw new CodecError('lz4', r, `${lz4StatusText(r)} (block of ${src.length} bytes, decompressedSize ${decompressedSize})`);
  }
  if (r !== decompressedSize) {
    throw new CodecError('lz4', Lz4Status.SizeMismatch, `block decodes to ${r} bytes, expected decompressedSize ${decompressedSize}`);
  }
  return e.u8.slice(s + at, s + at + r);
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
