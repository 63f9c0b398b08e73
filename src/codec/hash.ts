/**
 * Hashing: XXH64 and XXH3-64 of byte arrays, bit-identical to the reference xxHash, as unsigned
 * 64-bit bigints. Thin typed wrappers over the mechanism in assembly/codec/hash.ts.
 *
 * They run on the utility engine (no machine RAM; src/engine/engine.ts utilityEngine), shared
 * with the one-shot codec functions; the input is copied into its staging region, which grows to
 * the largest input seen. Pages already in machine RAM are hashed by the engine in batches
 * (src/engine/codec.ts pagesHash): one call per batch.
 */
import { utilityEngine } from '../engine/engine.js';
import { checkBytes, checkU64 } from '../errors.js';

/** XXH64 of `data` with `seed` (an unsigned 64-bit bigint, default 0). */
export function xxh64(data: Uint8Array, seed: bigint = 0n): bigint {
  checkBytes('data', data);
  checkU64('seed', seed);
  return utilityEngine().codec.xxh64Bytes(data, seed);
}

/** XXH3-64 of `data` with `seed` (an unsigned 64-bit bigint, default 0) and the default secret. */
export function xxh3(data: Uint8Array, seed: bigint = 0n): bigint {
  checkBytes('data', data);
  checkU64('seed', seed);
  return utilityEngine().codec.xxh3Bytes(data, seed);
}
