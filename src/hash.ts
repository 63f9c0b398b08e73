/**
 * Hashing: XXH64 and XXH3-64 of byte arrays, bit-identical to the reference xxHash, as unsigned
 * 64-bit bigints. Thin typed wrappers over the mechanism in assembly/hash.ts.
 *
 * They share one utility engine (no machine RAM), created on first use; the input is copied
 * into its staging region, which grows to the largest input seen. For hashing pages already in
 * machine RAM, call the engine's batch methods (`pagesHash`) instead: one call per batch.
 */
import { Engine } from './engine.js';
import { checkBytes, checkU64 } from './errors.js';

let shared: Engine | null = null;

/** The shared utility engine, created on first use. */
function engine(): Engine {
  return (shared ??= Engine.create({ machineMemoryMiB: 0 }));
}

/** XXH64 of `data` with `seed` (an unsigned 64-bit bigint, default 0). */
export function xxh64(data: Uint8Array, seed: bigint = 0n): bigint {
  checkBytes('data', data);
  checkU64('seed', seed);
  const e = engine();
  return e.xxh64(e.stageIn(data), data.length, seed);
}

/** XXH3-64 of `data` with `seed` (an unsigned 64-bit bigint, default 0) and the default secret. */
export function xxh3(data: Uint8Array, seed: bigint = 0n): bigint {
  checkBytes('data', data);
  checkU64('seed', seed);
  const e = engine();
  return e.xxh3(e.stageIn(data), data.length, seed);
}
