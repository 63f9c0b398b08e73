/**
 * paging: the simulated guest's page tables when its VM runs through an MMU core (mmu ept or
 * shadow). The guest allocator (alloc.ts) decides which GPPN holds a virtual page; this file
 * writes that decision into the guest's x86-64 page tables, which live in guest memory (the
 * GPPN range the attached guest OS model owns: its tables come from gosAlloc), and removes it
 * when the guest takes the page away (guest swap-out, release), with the INVLPG a kernel does.
 *
 *   gosMap(c, vm, va, gppn)   walk from CR3, allocate missing tables, write a 4 KiB leaf
 *   gosUnmap(c, vm, va)       walk from CR3, clear the leaf if present, INVLPG
 *
 * Kernel accesses go through kernelAccess (translate/gos.ts): in ept mode the first touch of a
 * table page is an EPT violation, and in shadow mode a write to a shadowed table traps. Either
 * may meet a host fault (a table page swapped out by the host): false, fault globals set.
 */

import { guestWrite, gosAlloc } from "../translate/gos";
import { kernelAccess } from "../translate/kernel";
import { ADDR_MASK, PTE_P, PTE_RW, PTE_US, levelIndex } from "../translate/entries";
import { F, cget, ctxAddr, pget, P_GLEVELS, NONE } from "../translate/cores";
import { setFault, FK_GUEST_OOM } from "../translate/fault";
import { mmuInvlpg } from "../translate/shadow";

/** Maps 4 KiB page `va` of the current address space of context `id` to guest page `gppn`. */
export function gosMap(id: u32, vm: u32, va: u64, gppn: u32): bool {
  const c = ctxAddr(id);
  let table = cget(c, F.Cr3) & ADDR_MASK;
  for (let level = pget(vm, P_GLEVELS); level > 1; level--) {
    const ea = table + (levelIndex(va, level) << 3);
    const a = kernelAccess(c, vm, ea, false);
    if (a == 0) return false;
    const e = load<u64>(a);
    if (e & PTE_P) {
      table = e & ADDR_MASK;
      continue;
    }
    const t = gosAlloc(vm, 0);
    if (t == NONE) { setFault(c, FK_GUEST_OOM, 0, va); return false; }
    if (!guestWrite(c, vm, ea, (<u64>t << 12) | PTE_P | PTE_RW | PTE_US)) return false;
    table = <u64>t << 12;
  }
  return guestWrite(c, vm, table + (levelIndex(va, 1) << 3), (<u64>gppn << 12) | PTE_P | PTE_RW | PTE_US);
}

/** Unmaps 4 KiB page `va` (if mapped) and invalidates it on context `id`. False on a host fault. */
export function gosUnmap(id: u32, vm: u32, va: u64): bool {
  const c = ctxAddr(id);
  let table = cget(c, F.Cr3) & ADDR_MASK;
  for (let level = pget(vm, P_GLEVELS); level >= 1; level--) {
    const ea = table + (levelIndex(va, level) << 3);
    const a = kernelAccess(c, vm, ea, false);
    if (a == 0) return false;
    const e = load<u64>(a);
    if (!(e & PTE_P)) return true;
    if (level == 1) {
      if (!guestWrite(c, vm, ea, 0)) return false;
      mmuInvlpg(id, va);
      return true;
    }
    table = e & ADDR_MASK;
  }
  return true;
}
