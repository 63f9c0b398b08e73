/**
 * accessed: the hypervisor harvesting the accessed / dirty bits that the hardware writes into
 * the tables it walks, so that sampling and LRU victim choice see translated accesses (which
 * hit in the TLB and never reach the pmap).
 *
 *   ept mode     EPT leaf A (bit 8) / D (bit 9), written by the 2D walk (EPTP bit 6 on)
 *   shadow mode  shadow leaf A / D (bits 5 / 6), written by the hardware walk of the shadow tables
 *
 *   pagingSample(vm, first, n, clear, out):
 *     for each GPPN g in [first, first + n):
 *       leaf bits of g ──OR──► pmap ACCESSED / DIRTY of every page the leaf maps; leaf A/D := 0
 *       out[g - first] = pmapSample(vm, g, clear)   (u8: bit 0 accessed, bit 1 dirty)
 *     then every cached translation derived from a leaf whose A was cleared is invalidated
 *
 * Why invalidate: a TLB (or nested-TLB) hit sets no A bit, so after clearing A the next access
 * must walk again to set it. A cached translation exists only while its leaf has A set (every
 * walk that fills a TLB sets A), so only leaves found with A set need it: up to FLUSH_PRECISE of
 * them are invalidated by frame (the TLB entries that reach the leaf's frames, and the leaf's
 * nested-TLB entries), beyond that one INVEPT single-context per core for the VM, as a
 * hypervisor batching its flushes would.
 *
 * Nothing is lost: the leaf bits move into the pmap, so harvesting without `clear` just folds.
 * A large leaf's bits go to every page of its group. Not learned: VMs with EPT A/D off (the
 * hardware writes no bits; the pmap alone answers), and in shadow mode a GPPN mapped by several
 * shadow leaves (rmap "many"): it is reported accessed, conservatively, and its leaves keep their bits.
 */

import { pmapAddr, pmapSample, vmPages, ACCESSED, DIRTY } from "../reclaim/pmap";
import { ADDR_MASK, EPT_A, EPT_D, PTE_A, PTE_D, clsMask } from "./entries";
import { eptFindLeaf, leafAt, leafLevel } from "./ept";
import { shadowLeafOf, shadowLeafLevel, RMAP_MANY_LEAVES } from "./shadow";
import { pget, P_MODE, P_FLAGS, PF_AD, MODE_EPT, MODE_SHADOW, mmuCount, ctxAddr, cdesc, flushFramesAll, C_NTLB, invept } from "./cores";
import { cacheDropTag } from "./tlb";
import { gpaOf, GPPN } from "../ram/addr";

/** Leaves invalidated one by one in a call; beyond that the VM's translations are flushed at once. */
const FLUSH_PRECISE: u32 = 32;

let flushed: u32 = 0;
let flushAll: bool = false;

/** ORs leaf bits `bits` (bit 0 A, bit 1 D) into the pmap entries of GPPNs [g0, g0 + pages) of `vm`. */
function fold(vm: u32, g0: GPPN, pages: u32, bits: u32): void {
  const end = min<u32>(g0 + pages, vmPages(vm));
  const add: u64 = ((bits & 1) ? ACCESSED : 0) | ((bits & 2) ? DIRTY : 0);
  for (let g = g0; g < end; g++) {
    const p = pmapAddr(vm, g);
    store<u64>(p, load<u64>(p) | add);
  }
}

/** Invalidates the translations derived from a leaf of class `cls` on frames from `lo` (and its nested-TLB entries when `gppn` != NONE). */
function invalidate(vm: u32, lo: u64, cls: u32, gppn: GPPN, ept: bool): void {
  if (flushAll) return;
  if (++flushed > FLUSH_PRECISE) { flushAll = true; return; }
  flushFramesAll(lo, lo + (<u64>1 << (9 * cls)));
  if (!ept) return;
  for (let i: u32 = 0; i < mmuCount(); i++) {
    const nt = cdesc(ctxAddr(i), C_NTLB);
    cacheDropTag(nt, <u64>gppn >> (9 * cls), cls, vm);
  }
}

/**
 * Moves the A/D bits (`aBit`, `dBit`) of the leaf at linear address `a`, of class `cls`, which
 * maps GPPN `g` of `vm`, into the pmap; returns the GPPN after the leaf's group.
 */
function take(vm: u32, a: usize, g: GPPN, cls: u32, aBit: u64, dBit: u64, ept: bool): GPPN {
  const pages: u32 = 1 << (9 * cls);
  const g0 = g & ~(pages - 1);
  const e = load<u64>(a);
  const bits = <u32>((e & aBit) ? 1 : 0) | <u32>((e & dBit) ? 2 : 0);
  if (bits == 0) return g0 + pages;
  store<u64>(a, e & ~(aBit | dBit));
  fold(vm, g0, pages, bits);
  if (bits & 1) invalidate(vm, (e & ADDR_MASK & ~clsMask(cls)) >> 12, cls, g0, ept);
  return g0 + pages;
}

/** Harvests the EPT leaf of (vm, g); returns the GPPN after the leaf's group. */
function harvestEpt(vm: u32, g: GPPN): GPPN {
  const f = eptFindLeaf(vm, gpaOf(g));
  return f == 0 ? g + 1 : take(vm, leafAt(f), g, leafLevel(f) - 1, EPT_A, EPT_D, true);
}

/** Harvests the shadow leaf of (vm, g); returns the GPPN after the leaf's group. */
function harvestShadow(vm: u32, g: GPPN): GPPN {
  const a = shadowLeafOf(vm, g);
  if (a == 0) return g + 1;
  if (a == RMAP_MANY_LEAVES) { fold(vm, g, 1, 1); return g + 1; }
  return take(vm, a, g, shadowLeafLevel(a) - 1, PTE_A, PTE_D, false);
}

/**
 * Moves the hardware-written A/D bits of the leaves mapping GPPNs [first, first + n) of `vm` into
 * its pmap (clearing them in the leaves and invalidating what must re-walk), then samples those
 * pages like pmapSample: `out` (0: none) gets one u8 per page, bit 0 accessed, bit 1 dirty;
 * `clear` clears the pmap bits. Returns the number of pages sampled accessed.
 */
export function pagingSample(vm: u32, first: u32, n: u32, clear: bool, out: usize): u32 {
  const pages = vmPages(vm);
  const end = <u32>min<u64>(<u64>first + n, pages);
  if (first >= end) return 0;
  const mode = pget(vm, P_MODE);
  flushed = 0;
  flushAll = false;
  const ept = mode == MODE_EPT && (pget(vm, P_FLAGS) & PF_AD) != 0;
  if (ept || mode == MODE_SHADOW) {
    let g = first;
    while (g < end) g = ept ? harvestEpt(vm, g) : harvestShadow(vm, g);
    if (flushAll) for (let i: u32 = 0; i < mmuCount(); i++) invept(i, 1, vm);
  }
  let hot: u32 = 0;
  for (let g = first; g < end; g++) {
    const s = pmapSample(vm, g, clear);
    if (s & 1) hot++;
    if (out != 0) store<u8>(out + <usize>(g - first), <u8>s);
  }
  return hot;
}
