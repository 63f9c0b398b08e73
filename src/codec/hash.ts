/**
 * Hashing: XXH64 and XXH3-64 of byte arrays, bit-identical to the reference xxHash, as unsigned
 * 64-bit bigints. Thin typed wrappers over the mechanism in assembly/codec/hash.ts.
 *
 * They run on the utility engine (no machine RAM; engine.ts utilityEngine), shared with the
 * one-shot codec functions. `xxh64` and `xxh3` copy their input into its staging region, which
 * grows to the largest input seen. `xxh64Pages` and `xxh3Pages` hash many 4 KiB pages that
 * start in JavaScript at engine speed: the pages cross in chunks (one copy and one WebAssembly
 * call per chunk, not per page), and the hashes come back as raw u64s, copied once per chunk
 * into the result, so no BigInt is made per page:
 *
 *   staging: [ PAGES_CHUNK pages (1 MiB) | PAGES_CHUNK u64 hashes ]
 *
 * A chunk (1 MiB of pages) stays in the core's L2 cache between the copy and the hash, and is
 * copied in one piece of at least 512 KiB: below that, glibc's memmove copies with `rep movsb`,
 * which on the AMD EPYC dev box runs at a fifth of its speed (2 vs 10 GB/s) when source and
 * destination sit at certain offsets from each other within a page, as a JavaScript array
 * and the staging region often do.
 * For pages already in machine RAM, call the engine's batch methods (`pagesHash`) instead.
 */
import { PAGE, utilityEngine } from '../engine/engine.js';
import { ConfigError, checkBytes, checkU64 } from '../errors.js';

/** Pages per chunk of xxh64Pages / xxh3Pages. */
const PAGES_CHUNK = 256;

/** XXH64 of `data` with `seed` (an unsigned 64-bit bigint, default 0). */
export function xxh64(data: Uint8Array, seed: bigint = 0n): bigint {
  checkBytes('data', data);
  checkU64('seed', seed);
  const e = utilityEngine();
  return e.xxh64(e.stageIn(data), data.length, seed);
}

/** XXH3-64 of `data` with `seed` (an unsigned 64-bit bigint, default 0) and the default secret. */
export function xxh3(data: Uint8Array, seed: bigint = 0n): bigint {
  checkBytes('data', data);
  checkU64('seed', seed);
  const e = utilityEngine();
  return e.xxh3(e.stageIn(data), data.length, seed);
}

/** XXH64 with `seed` of each 4 KiB page of `data` (a whole number of pages): one u64 per page. */
export function xxh64Pages(data: Uint8Array, seed: bigint = 0n): BigUint64Array {
  return hashPages('xxh64', data, seed);
}

/** XXH3-64 with `seed` (default secret) of each 4 KiB page of `data` (a whole number of pages): one u64 per page. */
export function xxh3Pages(data: Uint8Array, seed: bigint = 0n): BigUint64Array {
  return hashPages('xxh3', data, seed);
}

/** The pages of `data` through the engine, chunk by chunk (see the overview). */
function hashPages(kind: 'xxh64' | 'xxh3', data: Uint8Array, seed: bigint): BigUint64Array {
  checkBytes('data', data);
  if (data.length % PAGE !== 0) throw new ConfigError('data', data, `a whole number of ${PAGE}-byte pages`);
  checkU64('seed', seed);
  const n = data.length / PAGE;
  const out = new BigUint64Array(n);
  const e = utilityEngine();
  const at = e.stage(PAGES_CHUNK * (PAGE + 8));
  const hashes = at + PAGES_CHUNK * PAGE;
  for (let first = 0; first < n; first += PAGES_CHUNK) {
    const k = Math.min(PAGES_CHUNK, n - first);
    const u8 = e.u8;
    u8.set(data.subarray(first * PAGE, (first + k) * PAGE), at);
    if (kind === 'xxh64') e.xxh64Pages(at, k, seed, hashes);
    else e.xxh3Pages(at, k, seed, hashes);
    out.set(new BigUint64Array(u8.buffer, hashes, k), first);
  }
  return out;
}
