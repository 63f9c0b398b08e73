/**
 * fault: the hypervisor's fault path over the pmap. How a guest page gets a frame: first touch
 * (a zeroed private frame), a copy-on-write break (a private copy, or the last user taking the
 * shared frame back), decompression out of the zip cache (zipcache.ts zipFetch), a swap-in
 * (the page read by TypeScript); and how a resident page gives its frame back (releaseResident,
 * used by page-out, the zip cache and the balloon), or a whole VM all of its (vmRelease, power-off).
 *
 *   pmapFault(vm, gppn, write)          one page: the MPN, or a FAULT_* code for TypeScript
 *   physAccess(vm, gpa, len, buf, f)    a guest-physical copy, page by page through pmapFault
 *   swapInCommit / swapInList / swapInFrames / swapInFramesCommit     swap-in, one page or a run
 *
 * Every change of a page's backing is told to translation through hook.ts backingChanged.
 */

import { Region, regionOffset, PAGE_SHIFT, PAGE_SIZE } from "../ram/memmap";
import { framePut, frameAddr, frameRefs, frameLink, frameAux, frameSetLink, frameSetAux, framesFree } from "../ram/frames";
import { bytesCopy, pageCopy, pageIsZero } from "../ram/page";
import {
  PState, VmF, VmCounter, vmGet, vmBump, vmPages, vmResident, vmAlive, vmRetire, pmapAddr, pmapSet, pentry, pstate, pframe,
  guestAlloc, ACCESSED, DIRTY, PENDING, MARK, LARGE, SEEN, VM_LARGE_OK, FAULT_RANGE, FAULT_IO, FAULT_MIN,
} from "./pmap";
import { largeBack } from "./large";
import { sharedRelease, sharedTakeBack } from "./sharing";
import { zipFetch, zipDrop } from "./zipcache";
import { backingChanged } from "./hook";
import { GPPN, MPN } from "../ram/addr";
import { Call, callSet } from "../ram/callctx";

/** A swap-in list entry (swapInList): the page and the swap slot it is read from. */
export const SWAPIN_ENTRY: u32 = 8;
export const enum SwapIn { Gppn = 0, Slot = 4 }
/** A frame address of a swap-in batch (swapInFrames): u32, linear address of the frame. */
export const SWAPIN_ADDR: u32 = 4;

/** Drops the frame reference of a resident entry `e` of (vm, gppn) (Mapped, Shared or Zero). */
export function releaseResident(vm: u32, gppn: GPPN, e: u64): void {
  const s = pstate(e);
  const mpn = pframe(e);
  if (s == <u32>PState.Mapped) {
    if (DEBUG) assert(frameRefs(mpn) == 1 && frameLink(mpn) == vm && frameAux(mpn) == gppn, "releaseResident: private frame not owned");
    if (DEBUG) assert(!(e & LARGE), "releaseResident: page of a large group (break the group first)");
    framePut(mpn);
  } else {
    if (DEBUG) assert(s == <u32>PState.Shared || s == <u32>PState.Zero, "releaseResident: not resident");
    sharedRelease(mpn);
  }
}

/** Breaks copy-on-write of Shared/Zero (vm, gppn) for a write: returns the private MPN or a FAULT_*. */
function breakCow(vm: u32, gppn: GPPN, p: usize, e: u64): MPN {
  const old = pframe(e);
  let mpn: MPN;
  if (frameRefs(old) == 1) {
    // the last user takes the frame back: no copy, the sharing table forgets it
    sharedTakeBack(old);
    frameSetLink(old, vm);
    frameSetAux(old, gppn);
    mpn = old;
  } else {
    const shared = pstate(e) == <u32>PState.Shared;
    mpn = guestAlloc(vm, gppn, false, shared);
    if (mpn >= FAULT_MIN) return mpn;
    if (shared) pageCopy(frameAddr(mpn), frameAddr(old)); // a zero frame: the new one is zeroed already
    sharedRelease(old);
  }
  pmapSet(vm, p, e, pentry(PState.Mapped, mpn) | (e & (ACCESSED | DIRTY | SEEN)));
  backingChanged(vm, gppn);
  vmBump(vm, VmCounter.CowBreaks);
  cowBreaks++;
  return mpn;
}

/** Copy-on-write breaks of all VMs. */
let cowBreaks: u64 = 0;
export function pmapCowBreaks(): f64 { return <f64>cowBreaks; }

/**
 * The hypervisor's side of an EPT violation (or shadow fill) on (vm, gppn): makes the page
 * resident and returns its MPN, or a FAULT_* code when TypeScript must act first.
 * A write gets a private frame (breaking copy-on-write); a read of a Shared or Zero page gets
 * the shared frame, to be mapped read-only. Marks the entry accessed, and dirty on a write.
 */
export function pmapFault(vm: u32, gppn: GPPN, write: bool): MPN {
  if (gppn >= vmPages(vm)) return FAULT_RANGE;
  const p = pmapAddr(vm, gppn);
  let e = load<u64>(p);
  const state = pstate(e);
  let mpn: MPN;
  if (state == <u32>PState.Mapped) {
    mpn = pframe(e);
  } else if (state == <u32>PState.Shared || state == <u32>PState.Zero) {
    mpn = pframe(e);
    if (write) {
      mpn = breakCow(vm, gppn, p, e);
      if (mpn >= FAULT_MIN) return mpn;
      e = load<u64>(p);
    }
  } else if (state == <u32>PState.Unbacked && (vmGet(vm, VmF.Flags) & VM_LARGE_OK) && largeBack(vm, gppn)) {
    // the whole 2 MiB group is backed by one block now (large.ts)
    e = load<u64>(p);
    mpn = pframe(e);
    vmBump(vm, VmCounter.FirstTouch);
  } else if (state == <u32>PState.Unbacked || state == <u32>PState.Ballooned) {
    mpn = guestAlloc(vm, gppn, true);
    if (mpn >= FAULT_MIN) return mpn;
    // a touched balloon page reads zero, as the guest's balloon driver never filled it
    vmBump(vm, state == <u32>PState.Ballooned ? VmCounter.BalloonTouch : VmCounter.FirstTouch);
    const n = pentry(PState.Mapped, mpn);
    pmapSet(vm, p, e, n);
    e = n;
    backingChanged(vm, gppn);
  } else if (state == <u32>PState.Compressed) {
    mpn = zipFetch(vm, gppn, p, e);
    if (mpn >= FAULT_MIN) return mpn;
    e = load<u64>(p);
  } else {
    if (DEBUG) assert(state == <u32>PState.Swapped, "pmapFault: unknown state");
    return FAULT_IO;
  }
  if (DEBUG) assert(!(e & PENDING), "pmapFault: page has a swap write in flight");
  e |= ACCESSED;
  if (write) e |= DIRTY;
  store<u64>(p, e);
  return mpn;
}

// ---- guest-physical access, batched ---------------------------------------------------------

/** Status of physAccess: done, or a FAULT_* code at page callCtx.physGppn after callCtx.physDone bytes. */
export const PHYS_OK: u32 = 0;
/** physAccess flag: write (else read). */
export const PHYS_WRITE: u32 = 1;
/** physAccess flag: a whole zero page written over an unbacked page leaves it unbacked. */
export const PHYS_SKIP_ZERO: u32 = 2;

/**
 * Copies `len` bytes between guest-physical address `gpa` of `vm` and `buf`, page by page
 * through pmapFault. Returns PHYS_OK, or the FAULT_* code that stopped it: TypeScript acts and
 * calls again with the remaining range (the call context says how many bytes were moved, and at
 * which GPPN it stopped).
 */
export function physAccess(vm: u32, gpa: f64, len: u32, buf: usize, flags: u32): u32 {
  const write = (flags & PHYS_WRITE) != 0;
  let a = <u64>gpa;
  let done: u32 = 0;
  while (done < len) {
    const gppn = <u32>(a >> PAGE_SHIFT);
    const off = <u32>(a & (PAGE_SIZE - 1));
    const n = min<u32>(PAGE_SIZE - off, len - done);
    if ((flags & PHYS_SKIP_ZERO) && n == PAGE_SIZE && gppn < vmPages(vm)
        && pstate(load<u64>(pmapAddr(vm, gppn))) == <u32>PState.Unbacked && pageIsZero(buf + done)) {
      done += n;
      a += n;
      continue;
    }
    const mpn = pmapFault(vm, gppn, write);
    if (mpn >= FAULT_MIN) {
      callSet(Call.PhysDone, done);
      callSet(Call.PhysGppn, gppn);
      return mpn;
    }
    if (write) bytesCopy(frameAddr(mpn) + off, buf + done, n);
    else bytesCopy(buf + done, frameAddr(mpn) + off, n);
    done += n;
    a += n;
  }
  callSet(Call.PhysDone, done);
  return PHYS_OK;
}

/**
 * Makes Swapped (vm, gppn) resident with the page at `src` (read from the swap store and
 * verified by TypeScript, which frees the slot). Returns the MPN or a FAULT_* code.
 */
export function swapInCommit(vm: u32, gppn: GPPN, src: usize): MPN {
  if (gppn >= vmPages(vm)) return FAULT_RANGE;
  const p = pmapAddr(vm, gppn);
  const e = load<u64>(p);
  if (DEBUG) assert(pstate(e) == <u32>PState.Swapped, "swapInCommit: page is not swapped");
  const mpn = guestAlloc(vm, gppn, true, true);
  if (mpn >= FAULT_MIN) return mpn;
  pageCopy(frameAddr(mpn), src);
  pmapSet(vm, p, e, pentry(PState.Mapped, mpn) | ACCESSED);
  vmBump(vm, VmCounter.SwapIn);
  backingChanged(vm, gppn);
  return mpn;
}

/**
 * Lists for one batched swap-in the run of Swapped pages of `vm` that starts at Swapped `gppn`
 * and ends before `end` or at the first page in another state: one SWAPIN_ENTRY per page at
 * `out`, at most `cap`, and no more than can become resident without reclaiming (free frames,
 * the VM's limit), but at least `gppn` itself. Returns the entries listed (0: `gppn` not Swapped).
 */
export function swapInList(vm: u32, gppn: GPPN, end: u32, out: usize, cap: u32): u32 {
  const pages = vmPages(vm);
  if (gppn >= pages || cap == 0) return 0;
  if (end > pages) end = pages;
  const limit = vmGet(vm, VmF.Limit), resident = vmResident(vm);
  let room = min<u32>(framesFree(), limit > resident ? limit - resident : 0);
  if (room == 0) room = 1; // the single-page path asks TypeScript to reclaim, as pmapFault does
  const most = min<u32>(cap, room);
  let n: u32 = 0;
  for (let g = gppn; g < end && n < most; g++) {
    const e = load<u64>(pmapAddr(vm, g));
    if (pstate(e) != <u32>PState.Swapped) break;
    const o = out + <usize>n * SWAPIN_ENTRY;
    store<u32>(o + <usize>SwapIn.Gppn, g);
    store<u32>(o + <usize>SwapIn.Slot, pframe(e));
    n++;
  }
  return n;
}

/**
 * First half of a batched swap-in straight into machine frames: gives each of the `n` entries of
 * a swapInList a private frame for its page, not zeroed (the swap read fills it whole), and
 * writes the frames' addresses at `addrs` (u32 each). All or nothing: returns n, or 0 with nothing
 * allocated when free RAM or the VM's limit cannot take them all (TypeScript then goes page by
 * page). The frames belong to the batch in flight until swapInFramesCommit, which must come next.
 */
export function swapInFrames(vm: u32, list: usize, n: u32, addrs: usize): u32 {
  const limit = vmGet(vm, VmF.Limit), resident = vmResident(vm);
  if (n > framesFree() || resident >= limit || n > limit - resident) return 0;
  for (let i: u32 = 0; i < n; i++) {
    const mpn = guestAlloc(vm, load<u32>(list + <usize>i * SWAPIN_ENTRY + <usize>SwapIn.Gppn), false, true);
    if (DEBUG) assert(mpn < FAULT_MIN, "swapInFrames: a free frame vanished");
    store<u32>(addrs + <usize>i * SWAPIN_ADDR, <u32>frameAddr(mpn));
  }
  return n;
}

/**
 * Second half: the first `done` of the `n` pages were read and verified into their frames and
 * become Mapped (as swapInCommit does, in list order); the frames of the others are freed and
 * those pages stay Swapped.
 */
export function swapInFramesCommit(vm: u32, list: usize, n: u32, done: u32, addrs: usize): void {
  const ram = regionOffset(Region.Ram);
  for (let i: u32 = 0; i < n; i++) {
    const mpn = <u32>((<usize>load<u32>(addrs + <usize>i * SWAPIN_ADDR) - ram) >> PAGE_SHIFT);
    if (i >= done) {
      framePut(mpn);
      continue;
    }
    const g = load<u32>(list + <usize>i * SWAPIN_ENTRY + <usize>SwapIn.Gppn);
    const p = pmapAddr(vm, g);
    const e = load<u64>(p);
    if (DEBUG) assert(pstate(e) == <u32>PState.Swapped && frameLink(mpn) == vm && frameAux(mpn) == g, "swapInFramesCommit: entry and frame do not match");
    pmapSet(vm, p, e, pentry(PState.Mapped, mpn) | ACCESSED);
    vmBump(vm, VmCounter.SwapIn);
    backingChanged(vm, g);
  }
}

/**
 * Powers `vm` off in the pmap: every frame reference is dropped (a private frame is freed, a
 * shared one loses a user), every zip slot freed, and the VM table entry retired (pmap.ts
 * vmRetire: pages 0, its pmap range kept for vmCreate to reuse). Swap slots are TypeScript's: it
 * discards the VM's store whole. Paging state derived from the pmap must be gone first
 * (translate/coherence.ts pagingVmRelease), so nothing can reach a freed frame. Returns the
 * frames freed outright.
 */
export function vmRelease(vm: u32): u32 {
  if (!vmAlive(vm)) return 0;
  const before = framesFree();
  const pages = vmPages(vm);
  for (let g: u32 = 0; g < pages; g++) {
    const p = pmapAddr(vm, g);
    const e = load<u64>(p);
    if (DEBUG) assert(!(e & (PENDING | MARK)), "vmRelease: a batch is in flight");
    const s = pstate(e);
    // the whole VM goes: its large groups need no breaking, only the bit gone
    if (s == <u32>PState.Mapped || s == <u32>PState.Shared || s == <u32>PState.Zero) releaseResident(vm, g, e & ~LARGE);
    else if (s == <u32>PState.Compressed) zipDrop(vm, pframe(e));
  }
  vmRetire(vm);
  return framesFree() - before;
}
