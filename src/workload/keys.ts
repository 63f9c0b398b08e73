/**
 * Keys: the 64-bit values that seed a run's content and randomness, each derived from the
 * scenario seed and a name (an image, a data set, a VM), so a name means the same bytes in every
 * run with that seed, on every machine.
 */

/** A 64-bit key of `name` under `seed`: FNV-1a over the name's UTF-8, xor the seed times the golden ratio. */
export function nameKey(seed: number, name: string): bigint {
  let h = 0xcbf29ce484222325n;
  for (const ch of new TextEncoder().encode(name)) h = BigInt.asUintN(64, (h ^ BigInt(ch)) * 0x100000001b3n);
  return BigInt.asUintN(64, h ^ (BigInt(seed) * 0x9e3779b97f4a7c15n));
}
