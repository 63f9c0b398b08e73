/**
 * Hashing: XXH64 and XXH3-64 of byte arrays, bit-identical to the reference xxHash, as unsigned
 * 64-bit bigints. Thin typed wrappers over the mechanism in assembly/codec/hash.ts.
 *
 * They run on the utility engine (no machine RAM; src/engine/engine.ts utilityEngine), shared
 * with the one-shot codec functions. `xxh64` and `xxh3` copy their input into its staging region,
 * which grows to the largest input seen. `xxh64Pages` and `xxh3Pages` hash many 4 KiB pages that
 * start in JavaScript at engine speed: the pages cross in chunks of 256 KiB (one copy and one
 * WebAssembly call per chunk, not per page), and the hashes come back as raw u64s, copied once
 * per chunk into the result, so no BigInt is made per page (src/engine/codec.ts hashPages says
 * why 256 KiB). Pages already in machine RAM are hashed by the engine in batches (pagesHash).
 */
import { utilityEngine } from '../engine/engine.js';
import { PAGE } from '../engine/addr.js';
import { ConfigError, checkBytes, checkU64 } from '../errors.js';

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

/**
 * XXH64 with `seed` of each 4 KiB page of `data` (a whole number of pages): one u64 per page.
 * With `into`, the hashes go to its first entries (it needs one per page) and the result is
 * `into` itself, or its first entries when it is longer: no array is allocated per call.
 */
export function xxh64Pages(data: Uint8Array, seed: bigint = 0n, into?: BigUint64Array): BigUint64Array {
  return hashPages('xxh64', data, seed, into);
}

/** XXH3-64 with `seed` (default secret) of each 4 KiB page of `data` (a whole number of pages): one u64 per page, in `into` when given (as xxh64Pages). */
export function xxh3Pages(data: Uint8Array, seed: bigint = 0n, into?: BigUint64Array): BigUint64Array {
  return hashPages('xxh3', data, seed, into);
}

/** The pages of `data` through the engine, chunk by chunk. */
function hashPages(kind: 'xxh64' | 'xxh3', data: Uint8Array, seed: bigint, into: BigUint64Array | undefined): BigUint64Array {
  checkBytes('data', data);
  if (data.length % PAGE !== 0) throw new ConfigError('data', data, `a whole number of ${PAGE}-byte pages`);
  checkU64('seed', seed);
  const n = data.length / PAGE;
  if (into === undefined) return utilityEngine().codec.hashPages(kind, data, seed, new BigUint64Array(n));
  if (!(into instanceof BigUint64Array) || into.length < n) {
    throw new ConfigError('into', into, `a BigUint64Array with room for ${n} hashes (one per page of data)`);
  }
  // hashes written over pages not yet hashed would change them: refuse an `into` inside `data`
  if (into.buffer === data.buffer && into.byteOffset < data.byteOffset + data.length && data.byteOffset < into.byteOffset + n * 8) {
    throw new ConfigError('into', into, 'an array whose bytes do not overlap those of data');
  }
  return utilityEngine().codec.hashPages(kind, data, seed, into.length === n ? into : into.subarray(0, n));
}
