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
 * and EPT tables are never freed while the VM lives, so they stay valid.
 *
 * When a VM is powered off (pagingVmRelease), everything derived from its pmap goes at once: its
 * EPT or shadow tables are freed, every TLB, PWC and nested-TLB entry that names it is dropped on
 * every context, cores running it are left running no VM, and its paging state (the guest OS
 * model's allocator included) and shadow tracking are cleared, so its id can be reused.
 */

import {
  pget, pset, pvm, P_FLAGS, P_MODE, P_COHDROPS, P_VPID, PF_LIVE, MODE_EPT, MODE_SHADOW, NONE, ctxAddr, cget, cset,
  cdesc, mmuCount, flushTlbs, flushFramesAll, gpTrack, pmapBase, F, C_NTLB, C_NPWC,
} from "./cores";
import { eptFindLeaf, eptLargeBacked, leafAt, leafLevel, eptRelease } from "./ept";
import { ADDR_MASK, clsMask } from "./entries";
import { cacheDropTag, cacheFlushAsid } from "./tlb";
import { shadowDropGppn, shadowRelease } from "./shadow";
import { vmPages } from "../reclaim/pmap";
import { PVM_ENTRY } from "../ram/memmap";
import { setBackingHooks } from "../reclaim/hook";
import { gpaOf, GPPN } from "../ram/addr";

/** Installs this module's side of reclaim's hook; called once by init. */
export function coherenceInit(): void { setBackingHooks(dropTranslations, eptLargeBacked); }

/** Drops or downgrades every cached translation of (vm, gppn) (reclaim's backingChanged). */
function dropTranslations(vm: u32, gppn: GPPN): void {
  if ((pget(vm, P_FLAGS) & PF_LIVE) == 0) return; // no paging state: nothing can be cached
  const mode = pget(vm, P_MODE);
  if (mode == MODE_EPT) {
    const f = eptFindLeaf(vm, gpaOf(gppn));
    if (f != 0) {
      const a = leafAt(f);
      const e = load<u64>(a);
      const cls = leafLevel(f) - 1;
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

/**
 * Powers off the paging of `vm`: frees its EPT or shadow tables, drops every cached translation
 * naming it on every context (TLBs and guest PWC of its VPID, nested TLB and nested PWC of its
 * id), detaches the cores running it and clears its paging state and shadow tracking. Called
 * before the pmap releases the VM's frames (reclaim/fault.ts vmRelease). Returns the tables freed.
 */
export function pagingVmRelease(vm: u32): u32 {
  let freed: u32 = 0;
  if (pget(vm, P_FLAGS) & PF_LIVE) {
    const mode = pget(vm, P_MODE);
    if (mode == MODE_EPT) freed = eptRelease(vm);
    else if (mode == MODE_SHADOW) freed = shadowRelease(vm);
  }
  const vpid = pget(vm, P_VPID);
  for (let i: u32 = 0; i < mmuCount(); i++) {
    const c = ctxAddr(i);
    if (cget(c, F.Alive) == 0) continue;
    flushTlbs(c, vpid << 12, 0xFFFFF000);
    cacheFlushAsid(cdesc(c, C_NTLB), vm, 0xFFFFFFFF);
    cacheFlushAsid(cdesc(c, C_NPWC), vm, 0xFFFFFFFF);
    if (<u32>cget(c, F.Vm) == vm) {
      cset(c, F.Vm, NONE);
      cset(c, F.ShadowRoot, NONE);
    }
  }
  const pages = vmPages(vm);
  if (pages) memory.fill(gpTrack(pmapBase(vm), 0), 0, <usize>pages << 3);
  memory.fill(pvm(vm), 0, PVM_ENTRY);
  return freed;
}
