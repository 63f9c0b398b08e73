/**
 * pmap: per-VM table GPPN -> state, the hypervisor's authoritative record of where each guest
 * page lives. Hardware structures (EPT, shadow tables, TLBs) are caches derived from it: they
 * are filled on faults from the pmap, and told through coherence.ts whenever an entry changes.
 *
 * VM table entry (VM_ENTRY = 160 bytes, indexed by VM id, region vmTable):
 *
 *   +0   u32 base       index of the VM's first pmap entry
 *   +4   u32 pages      guest pages (GPPN 0 .. pages-1)
 *   +8   u32 salt       sharing domain
 *   +12  u32 flags      bit 0 ALIVE
 *   +16  u32 limit      most resident pages (Mapped + Shared + Zero) the VM may hold
 *   +20  u32 cacheCap   zip cache capacity, bytes of slots (0: no compression)
 *   +24  u32 lruHead    newest compressed page's slot (zipcache.ts)
 *   +28  u32 lruTail    oldest compressed page's slot
 *   +32  u32 hand       clock hand of the LRU-approximation victim policy
 *   +36  u32 x 7        pages in each PState (indexed by state)
 *   +64  u32 cacheSz    bytes of zip cache slots held (esxtop CACHESZ)
 *   +68  u32 cacheUsd   compressed bytes held in them (esxtop CACHEUSD)
 *   +72  u32 pendEvict  slot bytes of compressed pages selected for swap-out, not yet committed
 *   +80  u64 x 8        cumulative counters (VmCounter)
 *   +144 u32 span       pmap entries of the range at base (>= pages: a reused range keeps its size)
 *   +148 .. +159        reserved
 *
 * pmap entry (u64, region pmap, VM at base + gppn):
 *
 *   63                     32 31        8   7     6      5     4    3    0
 *  +-------------------------+-----------+------+-------+-----+-----+------+
 *  | MPN (Mapped/Shared/Zero)|  unused   | MARK |PENDING|DIRTY| ACC |state |
 *  | slot (Compressed/Swapped)|          |      |       |     |     |      |
 *  +-------------------------+-----------+------+-------+-----+-----+------+
 *
 *   ACCESSED / DIRTY   set by every fault through pmapFault; cleared by the sampler and the
 *                      LRU-approximation victim policy (ACCESSED) and by the sharing scanner
 *                      (DIRTY, to count volatile pages)
 *   PENDING            chosen as a swap victim; the swap write is in flight in TypeScript
 *   MARK               scratch bit of a batch call (duplicate detection); never left set
 *
 * Invariants:
 *   - every GPPN of a live VM is in exactly one state; per-state counts sum to the VM's pages;
 *   - a Mapped entry holds the only reference to a private Guest frame whose link/aux name
 *     (vm, gppn); a Shared/Zero entry holds one reference on a frame in the sharing table;
 *   - a Compressed entry owns one zpool slot, on its VM's LRU list; a Swapped entry owns one
 *     slot of its VM's swap store (allocated and freed by TypeScript);
 *   - VM pmap ranges never overlap, and their bases grow with the VM id (the scanner relies on it).
 *
 * VM lifecycle: vmCreate takes the lowest retired id whose pmap range is large enough, else a
 * new id at the end; vmRelease (power-off) frees everything the VM holds in the pmap and retires
 * the entry (pages 0, not ALIVE, range kept for reuse); retired entries at the end of the table
 * are dropped, giving their pmap range back at any size. A retired entry reads as a VM of 0 pages.
 */

import { Cfg, cfg, Region, regionOffset, PAGE_SHIFT, PAGE_SIZE } from "../ram/memmap";
import {
  frameAlloc, frameAllocOverwrite, framePut, NO_FRAME, FrameKind, frameSetLink, frameSetAux, frameAddr, frameRefs, frameKind,
  frameLink, frameAux, framesTotal, framesFree, framesUsed,
} from "../ram/frames";
import { backingChanged } from "../translate/coherence";
import { pageCopy, pageIsZero } from "../ram/page";
import { sharedRelease, sharedTakeBack, sharingAudit, sharedCount } from "./sharing";
import { zipFetch, zipAudit } from "./zipcache";
import { zpoolAudit, zpoolSlotsUsed, zpoolFrames, zpoolVmFrames } from "../ram/zpool";
import { zipDrop } from "./zipcache";

export const VM_ENTRY: u32 = 160;
export const PMAP_ENTRY: u32 = 8;

export const enum PState {
  Unbacked = 0,
  Mapped = 1,
  Shared = 2,
  Zero = 3,
  Compressed = 4,
  Swapped = 5,
  Ballooned = 6,
  COUNT = 7,
}

/** Byte offsets of the VM table entry's fields. */
export const enum VmF {
  Base = 0,
  Pages = 4,
  Salt = 8,
  Flags = 12,
  Limit = 16,
  CacheCap = 20,
  LruHead = 24,
  LruTail = 28,
  Hand = 32,
  Counts = 36,
  CacheSz = 64,
  CacheUsd = 68,
  PendEvict = 72,
  Counters = 80,
  Span = 144,
}

/** Cumulative per-VM counters (u64, at VmF.Counters + 8 * counter). */
export const enum VmCounter {
  /** pages compressed into the zip cache */
  Zip = 0,
  /** pages decompressed out of the zip cache */
  Unzip = 1,
  /** copy-on-write breaks (private copy or ownership taken back) */
  CowBreaks = 2,
  /** guest touches of ballooned pages, answered with a zero page */
  BalloonTouch = 3,
  /** pages written to the swap store */
  SwapOut = 4,
  /** pages read back from the swap store */
  SwapIn = 5,
  /** first-touch faults (unbacked page given a zeroed frame) */
  FirstTouch = 6,
  /** compressed pages evicted from the full zip cache to swap */
  ZipEvict = 7,
  COUNT = 8,
}
// the counters must end inside the VM entry
if (DEBUG) assert(<u32>VmF.Counters + 8 * <u32>VmCounter.COUNT <= VM_ENTRY);

export const STATE_MASK: u64 = 0xF;
export const ACCESSED: u64 = 1 << 4;
export const DIRTY: u64 = 1 << 5;
export const PENDING: u64 = 1 << 6;
export const MARK: u64 = 1 << 7;
const VM_ALIVE: u32 = 1;

/** Fault results above any valid MPN: TypeScript must act, then retry. */
export const FAULT_NO_FRAME: u32 = NO_FRAME; // machine RAM exhausted: reclaim, then retry
export const FAULT_RANGE: u32 = 0xFFFFFFFE; // GPPN outside the VM
export const FAULT_IO: u32 = 0xFFFFFFFD; // the page is in the swap store: swap it in, then retry
export const FAULT_LIMIT: u32 = 0xFFFFFFFC; // the VM holds its limit of resident pages: reclaim from it, then retry
export const FAULT_MIN: u32 = 0xFFFFFFFC;
/** Frame link of a frame in the sharing table (private frames hold their VM id there). */
export const SHARED_OWNER: u32 = 0xFFFFFFFF;

let vmCount: u32 = 0;
let pmapUsed: u32 = 0;

// @ts-ignore: decorator
@inline export function vmEntry(vm: u32): usize { return regionOffset(Region.VmTable) + <usize>vm * VM_ENTRY; }
/** Reads / writes a u32 field of the VM table entry. */
// @ts-ignore: decorator
@inline export function vmGet(vm: u32, f: VmF): u32 { return load<u32>(vmEntry(vm) + <usize>f); }
// @ts-ignore: decorator
@inline export function vmSet(vm: u32, f: VmF, v: u32): void { store<u32>(vmEntry(vm) + <usize>f, v); }
/** Adds one to cumulative counter `c` of `vm`. */
// @ts-ignore: decorator
@inline export function vmBump(vm: u32, c: VmCounter): void {
  const a = vmEntry(vm) + <usize>VmF.Counters + (<usize>c << 3);
  store<u64>(a, load<u64>(a) + 1);
}
/** Address of the pmap entry of (vm, gppn); the caller has checked the range. */
// @ts-ignore: decorator
@inline export function pmapAddr(vm: u32, gppn: u32): usize {
  return regionOffset(Region.Pmap) + ((<usize>load<u32>(vmEntry(vm)) + <usize>gppn) << 3);
}
/** Guest pages of `vm` (0 for an unknown VM). */
// @ts-ignore: decorator
@inline export function vmPages(vm: u32): u32 { return vm < vmCount ? load<u32>(vmEntry(vm), 4) : 0; }
/** Sharing domain of `vm`. */
// @ts-ignore: decorator
@inline export function vmSalt(vm: u32): u32 { return load<u32>(vmEntry(vm), 8); }
/** State of a pmap entry. */
// @ts-ignore: decorator
@inline export function pstate(e: u64): u32 { return <u32>(e & STATE_MASK); }
/** MPN or slot of a pmap entry. */
// @ts-ignore: decorator
@inline export function pframe(e: u64): u32 { return <u32>(e >> 32); }
/** A pmap entry in `state` holding `x` (MPN or slot), flags clear. */
// @ts-ignore: decorator
@inline export function pentry(state: PState, x: u32): u64 { return (<u64>x << 32) | <u64>state; }
/** Pages of `vm` in state `s`. */
// @ts-ignore: decorator
@inline export function vmCount_(vm: u32, s: u32): u32 { return load<u32>(vmEntry(vm) + <usize>VmF.Counts + (<usize>s << 2)); }

/** Number of VMs created. */
export function vmTotal(): u32 { return vmCount; }
/** pmap entries in use by all VMs (the scanner's index space). */
export function pmapEntries(): u32 { return pmapUsed; }

/** Sets up the empty VM table; called once by init. */
export function pmapInit(): void {
  vmCount = 0;
  pmapUsed = 0;
}

/**
 * Creates a VM of `pages` guest pages, all unbacked, holding at most `limit` resident pages and
 * `cacheCap` bytes of zip cache. Returns its id, or -1 if the VM table or pmap is full. A retired
 * id whose pmap range holds `pages` is reused (the lowest such), else the VM goes at the end.
 */
export function vmCreate(pages: u32, salt: u32, limit: u32, cacheCap: u32): i32 {
  let vm: u32 = 0xFFFFFFFF;
  for (let v: u32 = 0; v < vmCount; v++) {
    if (!(vmGet(v, VmF.Flags) & VM_ALIVE) && vmGet(v, VmF.Span) >= pages) { vm = v; break; }
  }
  let base: u32, span: u32;
  if (vm != 0xFFFFFFFF) {
    base = vmGet(vm, VmF.Base);
    span = vmGet(vm, VmF.Span);
  } else {
    if (vmCount >= <u32>cfg(Cfg.MaxVMs) || <u64>pmapUsed + pages > cfg(Cfg.GuestPages)) return -1;
    vm = vmCount++;
    base = pmapUsed;
    span = pages;
    pmapUsed += pages;
  }
  const e = vmEntry(vm);
  memory.fill(e, 0, VM_ENTRY);
  store<u32>(e, base);
  store<u32>(e, pages, 4);
  store<u32>(e, salt, 8);
  store<u32>(e, VM_ALIVE, 12);
  vmSet(vm, VmF.Span, span);
  vmSet(vm, VmF.Limit, limit);
  vmSet(vm, VmF.CacheCap, cacheCap);
  vmSet(vm, VmF.LruHead, 0xFFFFFFFF);
  vmSet(vm, VmF.LruTail, 0xFFFFFFFF);
  vmSet(vm, VmF.Counts, pages); // all Unbacked
  memory.fill(regionOffset(Region.Pmap) + (<usize>base << 3), 0, <usize>span << 3);
  return <i32>vm;
}

/** True if `vm` is a live VM (created and not released). */
export function vmAlive(vm: u32): bool { return vm < vmCount && (vmGet(vm, VmF.Flags) & VM_ALIVE) != 0; }

/**
 * Powers `vm` off in the pmap: every frame reference is dropped (a private frame is freed, a
 * shared one loses a user), every zip slot freed, and the VM table entry retired (pages 0, its
 * pmap range kept for vmCreate to reuse). Swap slots are TypeScript's: it discards the VM's
 * store whole. Paging state derived from the pmap must be gone first (coherence.ts
 * pagingVmRelease), so nothing can reach a freed frame. Returns the frames freed outright.
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
    if (s == <u32>PState.Mapped || s == <u32>PState.Shared || s == <u32>PState.Zero) releaseResident(vm, g, e);
    else if (s == <u32>PState.Compressed) zipDrop(vm, pframe(e));
  }
  if (DEBUG) assert(zpoolVmFrames(vm) == 0, "vmRelease: zip frames left");
  const base = vmGet(vm, VmF.Base), span = vmGet(vm, VmF.Span);
  memory.fill(regionOffset(Region.Pmap) + (<usize>base << 3), 0, <usize>span << 3);
  const e = vmEntry(vm);
  memory.fill(e, 0, VM_ENTRY);
  store<u32>(e, base);
  vmSet(vm, VmF.Span, span);
  vmSet(vm, VmF.LruHead, 0xFFFFFFFF);
  vmSet(vm, VmF.LruTail, 0xFFFFFFFF);
  // retired entries at the end give their range back, so any size fits there again
  while (vmCount > 0 && !(vmGet(vmCount - 1, VmF.Flags) & VM_ALIVE)) {
    vmCount--;
    pmapUsed = vmGet(vmCount, VmF.Base);
  }
  return framesFree() - before;
}

/** Changes the resident-page limit of `vm`. */
export function vmSetLimit(vm: u32, limit: u32): void { if (vm < vmCount) vmSet(vm, VmF.Limit, limit); }
/** Changes the zip cache capacity of `vm` (bytes); an over-full cache shrinks on the next page-out. */
export function vmSetCacheCap(vm: u32, bytes: u32): void { if (vm < vmCount) vmSet(vm, VmF.CacheCap, bytes); }

/** pmap state of (vm, gppn) (PState), 0xFF when out of range. */
export function pmapState(vm: u32, gppn: u32): u32 {
  return gppn < vmPages(vm) ? pstate(load<u64>(pmapAddr(vm, gppn))) : 0xFF;
}
/** MPN or slot of (vm, gppn). */
export function pmapFrame(vm: u32, gppn: u32): u32 {
  return gppn < vmPages(vm) ? pframe(load<u64>(pmapAddr(vm, gppn))) : NO_FRAME;
}
/** True if a translation of (vm, gppn) may be writable (Mapped); Shared and Zero map read-only. */
export function pmapWritable(vm: u32, gppn: u32): bool { return pmapState(vm, gppn) == <u32>PState.Mapped; }
/** ACCESSED and DIRTY bits of (vm, gppn) (bit 0 accessed, bit 1 dirty); clears them when `clear`. */
export function pmapSample(vm: u32, gppn: u32, clear: bool): u32 {
  if (gppn >= vmPages(vm)) return 0;
  const p = pmapAddr(vm, gppn);
  const e = load<u64>(p);
  if (clear) store<u64>(p, e & ~(ACCESSED | DIRTY));
  return <u32>((e >> 4) & 3);
}

/** Pages of `vm` in state `s`. */
export function vmStateCount(vm: u32, s: u32): u32 { return vm < vmCount && s < <u32>PState.COUNT ? vmCount_(vm, s) : 0; }

// Per-VM statistics as TypeScript reads them: by name, so no byte offset crosses the boundary.
// Order: the pmap states (PState order), the cumulative counters (VmCounter order), then fields.
const VM_STAT_NAMES: StaticArray<string> = [
  "unbacked", "mapped", "shared", "zero", "compressed", "swapped", "ballooned",
  "zip", "unzip", "cowBreaks", "balloonTouches", "swapOut", "swapIn", "firstTouches", "zipEvictions",
  "cacheCapBytes", "cacheBytes", "cacheUsedBytes", "zipFrames",
];
const STAT_COUNTERS: u32 = <u32>PState.COUNT;
const STAT_FIELDS: u32 = STAT_COUNTERS + <u32>VmCounter.COUNT;

/** Number of named per-VM statistics. */
export function vmStatCount(): u32 { return <u32>VM_STAT_NAMES.length; }
/** Name of per-VM statistic `i` (a static string). */
export function vmStatName(i: u32): string { return unchecked(VM_STAT_NAMES[i]); }
/** Per-VM statistic `i` of `vm` (pages, pages cumulative, or bytes; as f64: exact to 2^53). */
export function vmStat(vm: u32, i: u32): f64 {
  if (vm >= vmCount) return 0;
  if (i < STAT_COUNTERS) return <f64>vmCount_(vm, i);
  if (i < STAT_FIELDS) return <f64>load<u64>(vmEntry(vm) + <usize>VmF.Counters + (<usize>(i - STAT_COUNTERS) << 3));
  if (i == STAT_FIELDS) return <f64>vmGet(vm, VmF.CacheCap);
  if (i == STAT_FIELDS + 1) return <f64>vmGet(vm, VmF.CacheSz);
  if (i == STAT_FIELDS + 2) return <f64>vmGet(vm, VmF.CacheUsd);
  if (i == STAT_FIELDS + 3) return <f64>zpoolVmFrames(vm);
  return 0;
}
/** Resident pages of `vm`: they hold a frame reference. */
// @ts-ignore: decorator
@inline export function vmResident(vm: u32): u32 {
  return vmCount_(vm, <u32>PState.Mapped) + vmCount_(vm, <u32>PState.Shared) + vmCount_(vm, <u32>PState.Zero);
}

/** Moves (vm, gppn) from the state of `old` to entry `e`, keeping the per-state counts. */
// @ts-ignore: decorator
@inline export function pmapSet(vm: u32, p: usize, old: u64, e: u64): void {
  const a = pstate(old), b = pstate(e);
  if (a != b) {
    const c = vmEntry(vm) + <usize>VmF.Counts;
    store<u32>(c + (<usize>a << 2), load<u32>(c + (<usize>a << 2)) - 1);
    store<u32>(c + (<usize>b << 2), load<u32>(c + (<usize>b << 2)) + 1);
  }
  store<u64>(p, e);
}

/**
 * Allocates a private zeroed frame for (vm, gppn); FAULT_LIMIT when the VM holds its limit of
 * resident pages and `grows` (the page becomes resident), FAULT_NO_FRAME when RAM is full.
 * `overwrite`: the caller writes the whole frame at once, so it need not be zeroed first.
 */
export function guestAlloc(vm: u32, gppn: u32, grows: bool, overwrite: bool = false): u32 {
  if (grows && vmResident(vm) >= vmGet(vm, VmF.Limit)) return FAULT_LIMIT;
  const mpn = overwrite ? frameAllocOverwrite(<u32>FrameKind.Guest) : frameAlloc(<u32>FrameKind.Guest);
  if (mpn == NO_FRAME) return FAULT_NO_FRAME;
  frameSetLink(mpn, vm);
  frameSetAux(mpn, gppn);
  return mpn;
}

/** Drops the frame reference of a resident entry `e` of (vm, gppn) (Mapped, Shared or Zero). */
export function releaseResident(vm: u32, gppn: u32, e: u64): void {
  const s = pstate(e);
  const mpn = pframe(e);
  if (s == <u32>PState.Mapped) {
    if (DEBUG) assert(frameRefs(mpn) == 1 && frameLink(mpn) == vm && frameAux(mpn) == gppn, "releaseResident: private frame not owned");
    framePut(mpn);
  } else {
    if (DEBUG) assert(s == <u32>PState.Shared || s == <u32>PState.Zero, "releaseResident: not resident");
    sharedRelease(mpn);
  }
}

/** Breaks copy-on-write of Shared/Zero (vm, gppn) for a write: returns the private MPN or a FAULT_*. */
function breakCow(vm: u32, gppn: u32, p: usize, e: u64): u32 {
  const old = pframe(e);
  let mpn: u32;
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
  pmapSet(vm, p, e, pentry(PState.Mapped, mpn) | (e & (ACCESSED | DIRTY)));
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
export function pmapFault(vm: u32, gppn: u32, write: bool): u32 {
  if (gppn >= vmPages(vm)) return FAULT_RANGE;
  const p = pmapAddr(vm, gppn);
  let e = load<u64>(p);
  const state = pstate(e);
  let mpn: u32;
  if (state == <u32>PState.Mapped) {
    mpn = pframe(e);
  } else if (state == <u32>PState.Shared || state == <u32>PState.Zero) {
    mpn = pframe(e);
    if (write) {
      mpn = breakCow(vm, gppn, p, e);
      if (mpn >= FAULT_MIN) return mpn;
      e = load<u64>(p);
    }
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

/** Status of physAccess: done, or a FAULT_* code at page `physGppn` after `physDone` bytes. */
export const PHYS_OK: u32 = 0;
/** physAccess flag: write (else read). */
export const PHYS_WRITE: u32 = 1;
/** physAccess flag: a whole zero page written over an unbacked page leaves it unbacked. */
export const PHYS_SKIP_ZERO: u32 = 2;

let physDone: u32 = 0;
let physGppn: u32 = 0;
/** Bytes the last physAccess call moved before it returned. */
export function physAccessDone(): u32 { return physDone; }
/** GPPN at which the last physAccess call stopped. */
export function physAccessGppn(): u32 { return physGppn; }

/**
 * Copies `len` bytes between guest-physical address `gpa` of `vm` and `buf`, page by page
 * through pmapFault. Returns PHYS_OK, or the FAULT_* code that stopped it: TypeScript acts and
 * calls again with the remaining range (physAccessDone bytes were moved).
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
      physDone = done;
      physGppn = gppn;
      return mpn;
    }
    if (write) memory.copy(frameAddr(mpn) + off, buf + done, n);
    else memory.copy(buf + done, frameAddr(mpn) + off, n);
    done += n;
    a += n;
  }
  physDone = done;
  return PHYS_OK;
}

/**
 * Makes Swapped (vm, gppn) resident with the page at `src` (read from the swap store and
 * verified by TypeScript, which frees the slot). Returns the MPN or a FAULT_* code.
 */
export function swapInCommit(vm: u32, gppn: u32, src: usize): u32 {
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
 * and ends before `end` or at the first page in another state: (u32 gppn, u32 slot) per entry
 * at `out`, at most `cap`, and no more than can become resident without reclaiming (free frames,
 * the VM's limit), but at least `gppn` itself. Returns the entries listed (0: `gppn` not Swapped).
 */
export function swapInList(vm: u32, gppn: u32, end: u32, out: usize, cap: u32): u32 {
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
    store<u32>(out + (<usize>n << 3), g);
    store<u32>(out + (<usize>n << 3), pframe(e), 4);
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
    const mpn = guestAlloc(vm, load<u32>(list + (<usize>i << 3)), false, true);
    if (DEBUG) assert(mpn < FAULT_MIN, "swapInFrames: a free frame vanished");
    store<u32>(addrs + (<usize>i << 2), <u32>frameAddr(mpn));
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
    const mpn = <u32>((<usize>load<u32>(addrs + (<usize>i << 2)) - ram) >> PAGE_SHIFT);
    if (i >= done) {
      framePut(mpn);
      continue;
    }
    const g = load<u32>(list + (<usize>i << 3));
    const p = pmapAddr(vm, g);
    const e = load<u64>(p);
    if (DEBUG) assert(pstate(e) == <u32>PState.Swapped && frameLink(mpn) == vm && frameAux(mpn) == g, "swapInFramesCommit: entry and frame do not match");
    pmapSet(vm, p, e, pentry(PState.Mapped, mpn) | ACCESSED);
    vmBump(vm, VmCounter.SwapIn);
    backingChanged(vm, g);
  }
}

/** Pages of `vm` saved by sharing (esxtop SHRDSVD): sum over its Shared/Zero pages of 1 - 1/refs. */
export function vmSharedSaved(vm: u32): f64 {
  let saved: f64 = 0;
  const n = vmPages(vm);
  for (let g: u32 = 0; g < n; g++) {
    const e = load<u64>(pmapAddr(vm, g));
    const s = pstate(e);
    if (s == <u32>PState.Shared || s == <u32>PState.Zero) saved += 1.0 - 1.0 / <f64>frameRefs(pframe(e));
  }
  return saved;
}

// ---- conservation audit -----------------------------------------------------------------------

/**
 * Recounts everything from scratch and checks the invariants: frames conserved by kind, each
 * VM's states summing to its size and matching its counts, every frame's reference count equal
 * to the pmap entries naming it, private frames naming their page, shared frames in the table
 * with one salt, zpool slots matching Compressed entries. `scratch` is 4 bytes per machine
 * frame; `deep` also re-hashes every shared frame. Returns 0, or a failure code (and aborts in
 * a debug build).
 */
export function pmapAudit(scratch: usize, deep: bool): u32 {
  const r = audit(scratch, deep);
  auditCode = r;
  if (DEBUG) assert(r == 0, "pmapAudit: invariant broken (pmapAuditCode and pmapAuditDetail tell which)");
  return r;
}

let auditCode: u32 = 0;
let auditDetail: u32 = 0;
/** Code of the last audit (0: consistent), readable after a debug abort. */
export function pmapAuditCode(): u32 { return auditCode; }
/** Detail of the last failed audit (a GPPN, MPN or slot, depending on the code). */
export function pmapAuditDetail(): u32 { return auditDetail; }

function audit(scratch: usize, deep: bool): u32 {
  const total = framesTotal();
  let kinds: u32 = framesFree();
  for (let k: u32 = 1; k < <u32>FrameKind.COUNT; k++) kinds += framesUsed(k);
  if (kinds != total) return 1;
  memory.fill(scratch, 0, <usize>total << 2);
  let compressed: u32 = 0;
  for (let vm: u32 = 0; vm < vmCount; vm++) {
    const pages = vmPages(vm);
    let sum: u32 = 0;
    for (let s: u32 = 0; s < <u32>PState.COUNT; s++) sum += vmCount_(vm, s);
    if (sum != pages) return 2;
    const salt = vmSalt(vm);
    let cnt0: u32 = 0, cnt1: u32 = 0, cnt2: u32 = 0, cnt3: u32 = 0, cnt4: u32 = 0, cnt5: u32 = 0;
    for (let g: u32 = 0; g < pages; g++) {
      const e = load<u64>(pmapAddr(vm, g));
      const s = pstate(e);
      const x = pframe(e);
      auditDetail = g;
      if (e & MARK) return 3;
      if (s == <u32>PState.Mapped || s == <u32>PState.Shared || s == <u32>PState.Zero) {
        if (x >= total || frameKind(x) != <u32>FrameKind.Guest) return 4;
        store<u32>(scratch + (<usize>x << 2), load<u32>(scratch + (<usize>x << 2)) + 1);
        if (s == <u32>PState.Mapped) {
          cnt1++;
          if (frameLink(x) != vm || frameAux(x) != g) return 5;
        } else {
          if (s == <u32>PState.Shared) cnt2++; else cnt3++;
          // isolation: a shared frame belongs to exactly one sharing domain
          if (frameLink(x) != SHARED_OWNER || frameAux(x) != salt) return 6;
          if (s == <u32>PState.Zero && !pageIsZero(frameAddr(x))) return 7;
        }
        if (e & PENDING && s == <u32>PState.Zero) return 8;
      } else if (s == <u32>PState.Compressed) {
        cnt4++;
        compressed++;
      } else if (s == <u32>PState.Swapped) {
        cnt5++;
      } else if (s == <u32>PState.Unbacked) {
        cnt0++;
      } else if (s != <u32>PState.Ballooned) {
        return 9;
      }
    }
    auditDetail = vm;
    if (cnt0 != vmCount_(vm, 0) || cnt1 != vmCount_(vm, 1) || cnt2 != vmCount_(vm, 2) || cnt3 != vmCount_(vm, 3)
        || cnt4 != vmCount_(vm, 4) || cnt5 != vmCount_(vm, 5)) return 10;
    const z = zipAudit(vm);
    if (z != 0) return 100 + z;
  }
  let guest: u32 = 0;
  for (let m: u32 = 0; m < total; m++) {
    const want = load<u32>(scratch + (<usize>m << 2));
    auditDetail = m;
    if (frameKind(m) == <u32>FrameKind.Guest) {
      guest++;
      if (frameRefs(m) != want) return 11;
    } else if (want != 0) {
      return 12;
    }
  }
  if (guest != framesUsed(<u32>FrameKind.Guest)) return 13;
  if (compressed != zpoolSlotsUsed(0) + zpoolSlotsUsed(1)) return 14;
  if (zpoolFrames(0) + zpoolFrames(1) != framesUsed(<u32>FrameKind.Zpool)) return 15;
  const zp = zpoolAudit();
  if (zp != 0) return 200 + zp;
  const sh = sharingAudit(deep);
  if (sh != 0) return 300 + sh;
  // every shared frame is in the table exactly once
  let sharedFrames: u32 = 0;
  for (let m: u32 = 0; m < total; m++) {
    if (frameKind(m) == <u32>FrameKind.Guest && frameLink(m) == SHARED_OWNER) sharedFrames++;
  }
  if (sharedFrames != sharedCount()) return 16;
  return 0;
}
