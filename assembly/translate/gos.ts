/**
 * gos: a minimal guest OS model, enough to replay a trace of one guest process through the whole
 * stack. It owns a guest-physical page allocator and a demand-paging #PF handler that maps a page
 * on first touch, writing the PTEs into the guest's page tables in guest memory. (A later issue
 * brings a full guest OS model in src/guest.)
 *
 *   GPPN 0        unused (a zero gPA never names a table)
 *   1 ..          4 KiB pages, bump-allocated upward: page-table pages and 4 KiB data pages
 *   ..  pages-1   large data pages (2 MiB / 1 GiB), allocated downward, aligned
 *
 * That is the whole VM for a standalone Mmu. On a Host's VM the guest OS model owns only the
 * GPPN range [lo, hi) given by gosAttach (the rest is the user's, written through writePhys),
 * and the same layout holds inside it: 4 KiB pages upward from lo, large pages downward from hi.
 *
 * Kernel accesses to guest memory (PTE writes, reads while handling a fault) go through
 * kernel.ts, which charges them as the hardware would; in shadow mode a write to a shadowed
 * page-table page also traps (shadow.ts).
 *
 * Invariants: pages are never freed or reused, so a newly allocated page reads zero; mappings are
 * user, writable and executable (a trace's guest process has no protections to honour).
 */

import { pmapState, pmapFrame, vmPages, PState } from "../reclaim/pmap";
import { frameAddr } from "../ram/frames";
import { pageIsZero } from "../ram/page";
import { ADDR_MASK, PTE_P, PTE_RW, PTE_US, PTE_PS, levelIndex, pteLeaf } from "./entries";
import { F, Res, cget, pget, pset, ctxAddr, P_MODE, P_GLEVELS, P_GSIZE, P_SMALL, P_LARGE, MODE_SHADOW, NONE } from "./cores";
import { setFault, faultToCtx, FK_GUEST_OOM, S_OK, S_FAULT, S_PRESENT } from "./fault";
import { kernelAccess } from "./kernel";
import { shadowGuestWrote } from "./shadow";
import { gPA, GPPN, gVA } from "../ram/addr";

/** The guest kernel writes u64 `value` at `gpa` (trapping if it is a shadowed page table). False on failure. */
export function guestWrite(c: usize, vm: u32, gpa: gPA, value: u64): bool {
  const a = kernelAccess(c, vm, gpa, true);
  if (a == 0) return false;
  store<u64>(a, value);
  if (pget(vm, P_MODE) == MODE_SHADOW) shadowGuestWrote(c, vm, gpa);
  return true;
}

/** Allocates a guest page of size class `cls` (0, 1, 2); returns its GPPN or NONE when guest memory is full. */
export function gosAlloc(vm: u32, cls: u32): GPPN {
  const small = pget(vm, P_SMALL);
  const large = pget(vm, P_LARGE);
  if (cls == 0) {
    if (small >= large) return NONE;
    pset(vm, P_SMALL, small + 1);
    return small;
  }
  const n: u32 = 1 << (9 * cls);
  const top = large & ~(n - 1);
  if (top < n || top - n < small) return NONE;
  pset(vm, P_LARGE, top - n);
  return top - n;
}

/**
 * The guest's #PF handler for a not-present fault at `va` on context `c`: allocates missing
 * page-table pages and the data page, and writes their entries. Returns S_OK, S_PRESENT when
 * the translation exists (a protection fault this model does not handle), or S_FAULT.
 */
export function gosFault(c: usize, vm: u32, va: gVA): u32 {
  const levels = pget(vm, P_GLEVELS);
  const gsize = pget(vm, P_GSIZE);
  const leafLevel = gsize + 1;
  let table = cget(c, F.Cr3) & ADDR_MASK;
  for (let level = levels; level >= 1; level--) {
    const ea = table + (levelIndex(va, level) << 3);
    const a = kernelAccess(c, vm, ea, false);
    if (a == 0) return S_FAULT;
    const e = load<u64>(a);
    if (e & PTE_P) {
      if (pteLeaf(e, level)) return S_PRESENT;
      table = e & ADDR_MASK;
      continue;
    }
    if (level > leafLevel) {
      const t = gosAlloc(vm, 0);
      if (t == NONE) { setFault(c, FK_GUEST_OOM, 0, va); return S_FAULT; }
      if (!guestWrite(c, vm, ea, (<u64>t << 12) | PTE_P | PTE_RW | PTE_US)) return S_FAULT;
      table = <u64>t << 12;
      continue;
    }
    const d = gosAlloc(vm, gsize);
    if (d == NONE) { setFault(c, FK_GUEST_OOM, 0, va); return S_FAULT; }
    const leaf = (<u64>d << 12) | PTE_P | PTE_RW | PTE_US | (gsize > 0 ? PTE_PS : 0);
    return guestWrite(c, vm, ea, leaf) ? S_OK : S_FAULT;
  }
  return S_PRESENT;
}

/** Allocates a zeroed top-level table for a new guest address space of `vm`; its gPA, or -1 when guest memory is full. */
export function gosNewRoot(vm: u32): f64 {
  const t = gosAlloc(vm, 0);
  return t == NONE ? -1 : <f64>(<u64>t << 12);
}

/**
 * Guest kernel write of `value` at `gpa` through context `id` (tests build tables with it).
 * False on failure; the context's results then hold the fault (a host fault: the caller may
 * have the host resolve it and call again).
 */
export function guestWrite64(id: u32, gpa: f64, value: u64): bool {
  const c = ctxAddr(id);
  if (guestWrite(c, <u32>cget(c, F.Vm), <u64>gpa, value)) return true;
  faultToCtx(c);
  return false;
}

/**
 * Guest kernel read of the u64 at `gpa` through context `id`: 0 on failure, when the context's
 * results hold the fault (their fault kind is 0 after a read that succeeded).
 */
export function guestRead64(id: u32, gpa: f64): u64 {
  const c = ctxAddr(id);
  const a = kernelAccess(c, <u32>cget(c, F.Vm), <u64>gpa, false);
  if (a != 0) {
    store<u32>(c + <usize>Res.FaultKind, 0);
    return load<u64>(a);
  }
  faultToCtx(c);
  return 0;
}

/**
 * The first GPPN of [lo, hi) of `vm` that holds data, or NONE when the whole range reads zero (a
 * range the guest OS model may take: it assumes a newly allocated page reads zero). Unbacked,
 * Zero and all-zero resident pages read zero; compressed and swapped pages count as data;
 * ballooned ones belong to the balloon. Changes nothing, so it can run before any setup.
 */
export function gosRangeBusy(vm: u32, lo: GPPN, hi: GPPN): GPPN {
  if (hi > vmPages(vm) || lo >= hi) return lo;
  for (let g = lo; g < hi; g++) {
    const s = pmapState(vm, g);
    if (s == <u32>PState.Unbacked || s == <u32>PState.Zero) continue;
    if ((s == <u32>PState.Mapped || s == <u32>PState.Shared) && pageIsZero(frameAddr(pmapFrame(vm, g)))) continue;
    return g;
  }
  return NONE;
}

/** Confines the guest OS model of `vm` (after pagingVmSetup) to GPPNs [lo, hi), checked by gosRangeBusy. */
export function gosAttach(vm: u32, lo: GPPN, hi: GPPN): void {
  if (DEBUG) assert(gosRangeBusy(vm, lo, hi) == NONE, "gosAttach: the range holds data");
  pset(vm, P_SMALL, max<u32>(lo, 1)); // GPPN 0 stays unused: a zero gPA never names a table
  pset(vm, P_LARGE, hi);
}
