/**
 * pmap: per-VM table GPPN -> state, the hypervisor's authoritative record of where each guest
 * page lives. Hardware structures (EPT, shadow tables, TLBs) are caches derived from it: they
 * are filled on faults from the pmap, and told through coherence.ts whenever an entry changes.
 *
 * VM table entry (VM_ENTRY = 32 bytes, indexed by VM id, region vmTable):
 *   +0  u32 base    index of the VM's first pmap entry
 *   +4  u32 pages   guest pages (GPPN 0 .. pages-1)
 *   +8  u32 salt    sharing domain
 *   +12 u32 flags   bit 0 ALIVE
 *   +16 .. +31      reserved
 *
 * pmap entry (u64, region pmap, VM at base + gppn):
 *   bits 0-3   state (PState)
 *   bit  4     accessed since last sampling
 *   bit  5     dirty since last sampling
 *   bits 32-63 MPN (Mapped, Shared, Zero) or slot (Compressed, Swapped)
 *
 * Invariants: every GPPN of a live VM is in exactly one state; a Mapped/Shared/Zero entry holds
 * one reference on its frame; VM pmap ranges never overlap.
 */

import { Cfg, cfg, Region, regionOffset } from "./memmap";
import { frameAlloc, NO_FRAME, FrameKind, frameSetLink, frameSetAux } from "./frames";
import { backingChanged } from "./coherence";

export const VM_ENTRY: u32 = 32;
export const PMAP_ENTRY: u32 = 8;

export const enum PState {
  Unbacked = 0,
  Mapped = 1,
  Shared = 2,
  Zero = 3,
  Compressed = 4,
  Swapped = 5,
  Ballooned = 6,
}

const STATE_MASK: u64 = 0xF;
const ACCESSED: u64 = 1 << 4;
const DIRTY: u64 = 1 << 5;
const VM_ALIVE: u32 = 1;

/** Fault results above any valid MPN: TypeScript must act, then retry. */
export const FAULT_NO_FRAME: u32 = NO_FRAME; // machine RAM exhausted: reclaim, then retry
export const FAULT_RANGE: u32 = 0xFFFFFFFE; // GPPN outside the VM
export const FAULT_IO: u32 = 0xFFFFFFFD; // the page is in the swap store: swap it in, then retry

let vmCount: u32 = 0;
let pmapUsed: u32 = 0;

// @ts-ignore: decorator
@inline function vmEntry(vm: u32): usize { return regionOffset(Region.VmTable) + <usize>vm * VM_ENTRY; }
/** Address of the pmap entry of (vm, gppn); the caller has checked the range. */
// @ts-ignore: decorator
@inline export function pmapAddr(vm: u32, gppn: u32): usize {
  return regionOffset(Region.Pmap) + ((<usize>load<u32>(vmEntry(vm)) + <usize>gppn) << 3);
}
/** Guest pages of `vm` (0 for an unknown VM). */
// @ts-ignore: decorator
@inline export function vmPages(vm: u32): u32 { return vm < vmCount ? load<u32>(vmEntry(vm), 4) : 0; }

/** Sets up the empty VM table; called once by init. */
export function pmapInit(): void {
  vmCount = 0;
  pmapUsed = 0;
}

/** Creates a VM of `pages` guest pages, all unbacked. Returns its id, or -1 if the VM table or pmap is full. */
export function vmCreate(pages: u32, salt: u32): i32 {
  if (vmCount >= <u32>cfg(Cfg.MaxVMs) || <u64>pmapUsed + pages > cfg(Cfg.GuestPages)) return -1;
  const vm = vmCount++;
  const e = vmEntry(vm);
  store<u32>(e, pmapUsed);
  store<u32>(e, pages, 4);
  store<u32>(e, salt, 8);
  store<u32>(e, VM_ALIVE, 12);
  memory.fill(regionOffset(Region.Pmap) + (<usize>pmapUsed << 3), 0, <usize>pages << 3);
  pmapUsed += pages;
  return <i32>vm;
}

/** Raw pmap entry of (vm, gppn), as f64-safe halves are not needed: state and MPN/slot only. */
export function pmapState(vm: u32, gppn: u32): u32 {
  return gppn < vmPages(vm) ? <u32>(load<u64>(pmapAddr(vm, gppn)) & STATE_MASK) : 0xFF;
}
/** MPN or slot of (vm, gppn). */
export function pmapFrame(vm: u32, gppn: u32): u32 {
  return gppn < vmPages(vm) ? <u32>(load<u64>(pmapAddr(vm, gppn)) >> 32) : NO_FRAME;
}

/**
 * The hypervisor's side of an EPT violation (or shadow fill) on (vm, gppn): makes the page
 * resident and returns its MPN, or a FAULT_* code when TypeScript must act first.
 * Marks the entry accessed, and dirty on a write.
 */
export function pmapFault(vm: u32, gppn: u32, write: bool): u32 {
  if (gppn >= vmPages(vm)) return FAULT_RANGE;
  const p = pmapAddr(vm, gppn);
  let e = load<u64>(p);
  const state = <u32>(e & STATE_MASK);
  let mpn: u32;
  if (state == <u32>PState.Mapped) {
    mpn = <u32>(e >> 32);
  } else if (state == <u32>PState.Unbacked) {
    mpn = frameAlloc(<u32>FrameKind.Guest);
    if (mpn == NO_FRAME) return FAULT_NO_FRAME;
    frameSetLink(mpn, vm);
    frameSetAux(mpn, gppn);
    e = (<u64>mpn << 32) | <u64>PState.Mapped;
    backingChanged(vm, gppn);
  } else {
    // other states are handled by the reclamation mechanisms (sharing, zip cache, swap, balloon)
    return FAULT_IO;
  }
  e |= ACCESSED;
  if (write) e |= DIRTY;
  store<u64>(p, e);
  return mpn;
}
