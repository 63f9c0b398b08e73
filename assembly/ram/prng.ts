/**
 * prng: the engine's one seeded pseudo-random stream (xorshift64*). Every random choice of the
 * mechanisms draws from it in call order (page-out victims, the sharing scanner's random pass
 * order), so the same seed and the same calls give the same run. It lives at the bottom layer
 * because both reclaim/pageout.ts and reclaim/sharing.ts draw from it and neither owns it.
 */

/** Replaces a zero seed: xorshift never leaves zero. */
const ZERO_SEED: u64 = 0x9E3779B97F4A7C15;

let state: u64 = ZERO_SEED;

/** Seeds the stream (two u32 halves; zero is replaced by a fixed odd value). */
export function prngSeed(lo: u32, hi: u32): void {
  state = (<u64>hi << 32) | <u64>lo;
  if (state == 0) state = ZERO_SEED;
}

/** The xorshift64 state after `x` (a stream of its own keeps its state and calls this). */
// @ts-ignore: decorator
@inline export function xorshift64(x: u64): u64 {
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  return x;
}

/** The xorshift64* output of state `x`. */
// @ts-ignore: decorator
@inline export function xorshift64Star(x: u64): u64 {
  return x * 0x2545F4914F6CDD1D;
}

/** Next pseudo-random u64 (xorshift64*). */
// @ts-ignore: decorator
@inline export function rand64(): u64 {
  state = xorshift64(state);
  return xorshift64Star(state);
}
