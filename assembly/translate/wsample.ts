/**
 * wsample: the working-set sampler's mechanism (ESX statistical sampling, Waldspurger OSDI 2002
 * §5.3). One call per VM per sample period counts how many of the pages armed last period were
 * touched since, then arms a new random set:
 *
 *   wsSample(vm, list, nOld, nNew, seedLo, seedHi)
 *     count  for each of the nOld GPPNs at `list`: move the hardware's accessed bit of its EPT or
 *            shadow leaf into the pmap (translate/accessed.ts), touched if ACCESSED or SEEN
 *     arm    nNew GPPNs drawn uniformly (with replacement) from a PRNG seeded by the call,
 *            written over `list`; for each: leaf bits moved into the pmap, the leaf's accessed bit
 *            cleared and every cached translation derived from it dropped (so the next touch
 *            walks, or faults, and is seen), then ACCESSED and SEEN cleared in the pmap entry
 *     returns the pages counted touched
 *
 * A VM without an MMU touches its pmap entry directly (every touch sets ACCESSED), so clearing
 * the bit is all arming takes. Other users of ACCESSED (the LRU clock, pmapSample) set SEEN when
 * they clear it, so they cannot hide a touch from the sampler; DIRTY is left alone (the sharing
 * scanner counts volatile pages with it). A page whose backing changes state in between keeps
 * its bits where the pmap keeps them (sharing, copy-on-write); a page swapped out loses them,
 * and counts as touched only if it was touched again after (a swap-in sets ACCESSED).
 */

import { vmPages, pmapAddr, ACCESSED, SEEN } from "../reclaim/pmap";
import { pagingSample } from "./accessed";
import { xorshift64, xorshift64Star } from "../ram/prng";

let state: u64 = 1;

/** Next pseudo-random u64 of the call's own stream (xorshift64*). */
// @ts-ignore: decorator
@inline function next(): u64 {
  state = xorshift64(state);
  return xorshift64Star(state);
}

/** Moves the leaf bits of (vm, g) into the pmap and drops what cached its translation. */
// @ts-ignore: decorator
@inline function harvest(vm: u32, g: u32): void {
  pagingSample(vm, g, 1, false, 0);
}

/**
 * Counts the touched pages among the `nOld` GPPNs (u32) at `list`, then writes `nNew` freshly
 * armed random GPPNs there (the list must hold max(nOld, nNew) entries). The PRNG is seeded from
 * (seedLo, seedHi), so the same seed arms the same pages. Returns the touched count.
 */
export function wsSample(vm: u32, list: usize, nOld: u32, nNew: u32, seedLo: u32, seedHi: u32): u32 {
  const pages = vmPages(vm);
  let touched: u32 = 0;
  for (let i: u32 = 0; i < nOld; i++) {
    const g = load<u32>(list + (<usize>i << 2));
    if (g >= pages) continue;
    harvest(vm, g);
    if (load<u64>(pmapAddr(vm, g)) & (ACCESSED | SEEN)) touched++;
  }
  if (pages == 0) return touched;
  state = ((<u64>seedHi << 32) | <u64>seedLo) ^ 0x9E3779B97F4A7C15;
  if (state == 0) state = 1;
  for (let i: u32 = 0; i < nNew; i++) {
    const g = <u32>(next() % <u64>pages);
    store<u32>(list + (<usize>i << 2), g);
    harvest(vm, g);
    const p = pmapAddr(vm, g);
    store<u64>(p, load<u64>(p) & ~(ACCESSED | SEEN));
  }
  return touched;
}
