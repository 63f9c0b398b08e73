/**
 * pmap: per-VM table GPPN -> state, the hypervisor's authoritative record of where each guest
 * page lives. Hardware structures (EPT, shadow tables, TLBs) are caches derived from it: they
 * are filled on faults from the pmap, and told through hook.ts whenever an entry changes. This
 * file holds the tables and their accessors; the fault path that moves pages between states is
 * fault.ts, the checks of every invariant below are audit.ts.
 *
 * VM table entry (VM_ENTRY = 160 bytes, indexed by VM id, region vmTable):
 *
 *   +0   u32 base       index of the VM's first pmap entry
 *   +4   u32 pages      guest pages (GPPN 0 .. pages-1)
 *   +8   u32 salt       sharing domain
 *   +12  u32 flags      bit 0 ALIVE, bit 1 LARGE_OK (first touches may back 2 MiB groups, large.ts)
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
 *   63                     32 31       10   9     8     7     6      5     4    3    0
 *  +-------------------------+-----------+-----+-----+------+-------+-----+-----+------+
 *  | MPN (Mapped/Shared/Zero)| share home| SEEN|LARGE| MARK |PENDING|DIRTY| ACC |state |
 *  | slot (Compressed/Swapped)|          |     |     |      |       |     |     |      |
 *  +-------------------------+-----------+-----+-----+------+-------+-----+-----+------+
 *
 *   ACCESSED / DIRTY   set by every fault through pmapFault; cleared by the sampler and the
 *                      LRU-approximation victim policy (ACCESSED) and by the sharing scanner
 *                      (DIRTY, to count volatile pages)
 *   PENDING            chosen as a swap victim; the swap write is in flight in TypeScript
 *   MARK               scratch bit of a batch call (duplicate detection); never left set
 *   LARGE              the page is one of a 2 MiB group backed by one aligned block of frames
 *                      (large.ts): all 512 entries of the group have it, Mapped, in frame order
 *   SEEN               ACCESSED was cleared by someone other than the working-set sampler (the
 *                      LRU clock, pmapSample) since the sampler armed the page (wsample.ts)
 *   share home         on a LARGE page: the sharing table slot where the scanner's hash of it
 *                      starts its probe (0: not hashed), so that breaking the group merges the
 *                      page without hashing it again (sharing.ts)
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
 * new id at the end; vmRelease (power-off, fault.ts) frees everything the VM holds in the pmap and
 * vmRetire retires the entry (pages 0, not ALIVE, range kept for reuse); retired entries at the end of the table
 * are dropped, giving their pmap range back at any size. A retired entry reads as a VM of 0 pages.
 */

import { Cfg, cfg, Region, regionOffset, PAGE_SHIFT, PAGE_SIZE, VM_ENTRY } from "../ram/memmap";
import { frameAlloc, frameAllocOverwrite, NO_FRAME, FrameKind, frameSetLink, frameSetAux, frameRefs } from "../ram/frames";
import { zpoolVmFrames } from "../ram/zpool";
import { GPPN, MPN } from "../ram/addr";


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
export const LARGE: u64 = 1 << 8;
export const SEEN: u64 = 1 << 9;
/** Bits of the share home slot of a LARGE page (22 bits: the sharing table has at most 2^22 slots). */
export const HOME_SHIFT: u64 = 10;
export const HOME_MASK: u64 = 0x3FFFFF << 10;
const VM_ALIVE: u32 = 1;
export const VM_LARGE_OK: u32 = 2;

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
@inline export function pmapAddr(vm: u32, gppn: GPPN): usize {
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
 * Retires `vm`'s table entry once fault.ts vmRelease has given back everything its pages held:
 * its pmap range is zeroed and kept for vmCreate to reuse (pages 0, not ALIVE), and retired
 * entries at the end of the table are dropped, giving their ranges back at any size.
 */
export function vmRetire(vm: u32): void {
  if (DEBUG) assert(zpoolVmFrames(vm) == 0, "vmRetire: zip frames left");
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
}

/** Changes the resident-page limit of `vm`. */
export function vmSetLimit(vm: u32, limit: u32): void { if (vm < vmCount) vmSet(vm, VmF.Limit, limit); }
/** Changes the zip cache capacity of `vm` (bytes); an over-full cache shrinks on the next page-out. */
export function vmSetCacheCap(vm: u32, bytes: u32): void { if (vm < vmCount) vmSet(vm, VmF.CacheCap, bytes); }

/** pmap state of (vm, gppn) (PState), 0xFF when out of range. */
export function pmapState(vm: u32, gppn: GPPN): u32 {
  return gppn < vmPages(vm) ? pstate(load<u64>(pmapAddr(vm, gppn))) : 0xFF;
}
/** MPN or slot of (vm, gppn). */
export function pmapFrame(vm: u32, gppn: GPPN): u32 {
  return gppn < vmPages(vm) ? pframe(load<u64>(pmapAddr(vm, gppn))) : NO_FRAME;
}
/** True if a translation of (vm, gppn) may be writable (Mapped); Shared and Zero map read-only. */
export function pmapWritable(vm: u32, gppn: GPPN): bool { return pmapState(vm, gppn) == <u32>PState.Mapped; }
/** ACCESSED and DIRTY bits of (vm, gppn) (bit 0 accessed, bit 1 dirty); clears them when `clear`. */
export function pmapSample(vm: u32, gppn: GPPN, clear: bool): u32 {
  if (gppn >= vmPages(vm)) return 0;
  const p = pmapAddr(vm, gppn);
  const e = load<u64>(p);
  // the working-set sampler still learns of the access (SEEN)
  if (clear) store<u64>(p, (e & ~(ACCESSED | DIRTY)) | (e & ACCESSED ? SEEN : 0));
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
export function guestAlloc(vm: u32, gppn: GPPN, grows: bool, overwrite: bool = false): MPN {
  if (grows && vmResident(vm) >= vmGet(vm, VmF.Limit)) return FAULT_LIMIT;
  const mpn = overwrite ? frameAllocOverwrite(<u32>FrameKind.Guest) : frameAlloc(<u32>FrameKind.Guest);
  if (mpn == NO_FRAME) return FAULT_NO_FRAME;
  frameSetLink(mpn, vm);
  frameSetAux(mpn, gppn);
  return mpn;
}

/** Pages of `vm` saved by sharing (esxtop SHRDSVD): sum over its Shared/Zero pages of 1 - 1/refs. */
export function vmSharedSaved(vm: u32): f64 {
  if (vmCount_(vm, <u32>PState.Shared) + vmCount_(vm, <u32>PState.Zero) == 0) return 0;
  let saved: f64 = 0;
  let p = pmapAddr(vm, 0);
  const end = p + (<usize>vmPages(vm) << 3);
  // runs of pages on one frame (the zero frame above all) reuse its term: the same value added
  // in the same order, so the sum is the one a division per page gives, at a sample's every call
  let lastMpn: u32 = NO_FRAME, term: f64 = 0;
  for (; p < end; p += 8) {
    const e = load<u64>(p);
    const s = pstate(e);
    if (s == <u32>PState.Shared || s == <u32>PState.Zero) {
      const mpn = pframe(e);
      if (mpn != lastMpn) {
        lastMpn = mpn;
        term = 1.0 - 1.0 / <f64>frameRefs(mpn);
      }
      saved += term;
    }
  }
  return saved;
}
