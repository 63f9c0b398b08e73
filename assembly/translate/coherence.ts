/**
 * Coherence between the pmap and the translation caches derived from it.
 *
 * The pmap calls `backingChanged` (reclaim/hook.ts, installed here by coherenceInit) whenever the frame behind (vm, gppn) changes, goes away, or
 * loses write permission (a page is shared copy-on-write, compressed, swapped, ballooned, or a
 * copy-on-write break gives it a private frame). Every EPT entry, shadow entry and TLB entry
 * that maps that guest page must be dropped or downgraded before the pmap's caller goes on, so
 * a stale translation never reaches an old frame.
 *
 *   ept mode     the EPT leaf covering the page is dropped (a large leaf: the whole group; the
 *                next fault re-backs it, splintered if no longer contiguous); the nested-TLB
 *                entries of the page (every size) and every TLB entry whose target frames
 *                overlap the old leaf's frames are dropped on every context.
 *   shadow mode  the shadow leaf found through the rmap is dropped with the TLB entries that
 *                reach its frames; with several leaves, every shadow table of the VM goes.
 *   native       translations end at guest-physical addresses, which do not change: nothing.
 *
 * Dropping is always correct: the next access re-faults through pmapFault (with write=true for
 * a write to a page that became read-only). Nested PWC entries hold only non-leaf EPT entries,
 * and EPT tables are never freed, so they stay valid.
 */

import { pget, pset, P_FLAGS, P_MODE, P_COHDROPS, PF_LIVE, MODE_EPT, MODE_SHADOW, ctxAddr, cdesc, mmuCount, flushFramesAll, C_NTLB } from "./cores";
import { eptFindLeaf, eptLargeBacked, foundLevel } from "./ept";
import { setBackingHooks } from "../reclaim/hook";
import { ADDR_MASK, clsMask } from "./entries";
import { cacheDropTag } from "./tlb";
import { shadowDropGppn } from "./shadow";
import { gpaOf, GPPN } from "../ram/addr";

/** Installs this module's side of reclaim's hook; called once by init. */
export function coherenceInit(): void { setBackingHooks(dropTranslations, eptLargeBacked); }

/** Drops or downgrades every cached translation of (vm, gppn) (reclaim's backingChanged). */
function dropTranslations(vm: u32, gppn: GPPN): void {
  if ((pget(vm, P_FLAGS) & PF_LIVE) == 0) return; // no paging state: nothing can be cached
  const mode = pget(vm, P_MODE);
  if (mode == MODE_EPT) {
    const a = eptFindLeaf(vm, gpaOf(gppn));
    if (a != 0) {
      const e = load<u64>(a);
      const cls = foundLevel - 1;
      store<u64>(a, 0);
      const lo = (e & ADDR_MASK & ~clsMask(cls)) >> 12;
      flushFramesAll(lo, lo + (<u64>1 << (9 * cls)));
      pset(vm, P_COHDROPS, pget(vm, P_COHDROPS) + 1);
    }
    for (let i: u32 = 0; i < mmuCount(); i++) {
      const nt = cdesc(ctxAddr(i), C_NTLB);
      cacheDropTag(nt, <u64>gppn, 0, vm);
      cacheDropTag(nt, <u64>gppn >> 9, 1, vm);
      cacheDropTag(nt, <u64>gppn >> 18, 2, vm);
    }
  } else if (mode == MODE_SHADOW) {
    shadowDropGppn(vm, gppn);
  }
}
