/**
 * mmu: the state of simulated cores (MMU contexts) and of each VM's paging, their layouts,
 * set-up, and the invalidation instructions (INVLPG, INVVPID, INVEPT, MOV CR3).
 *
 * MMU context (MMU_CTX = 1024 bytes, region mmuCtx, one per simulated core):
 *
 *   0    u64 x 51        configuration, cost model (cycles), the walk in progress,
 *                        counters (to F.COUNT), and the fault in progress, indexed by F
 *   512  CDESC x 6       cache descriptors: L1 iTLB, L1 dTLB, L2 TLB, guest PWC, nested PWC,
 *                        nested TLB (tlb.ts); their entries sit in region mmuCache
 *   768  u64 x 8         scratch: hPAs of the guest entries of the walk in progress (A/D bits)
 *   832  Res             results of the last call on the context, beyond its return value, and
 *                        the trace replay's carried state (TypeScript reads them by name:
 *                        assembly/layout.ts "mmuCtx.*"):
 *          +0  u64 faultAddr     faulting gVA (#PF) or gPA (EPT, host) of the last fault
 *          +8  u32 faultKind     FK_* of the last fault
 *          +12 u32 faultCode     #PF error code, EPT qualification or pmap FAULT_* of the last fault
 *          +16 u32 cycles        cycles of the last translation (mmuTranslate, or a batch's last record)
 *          +20 u32 traceErrorAt  offset, from the chunk start, of the malformed line that stopped lackeyReplay
 *          +24 u64 traceLines    lines of the current text trace seen so far (traceReset zeroes it)
 *          +32 u32 traceEmitted  bytes of binary records the last lackeyReplay wrote (emit mode)
 *          +36 u32 traceSkipping 1 while an overlong line skipped with TRACE_SKIP_BAD goes on
 *                                into the next chunk (state of the trace, not a result)
 *          +40 u32 traceStop     1 when the last replay call stopped for the host (TRACE_HOST_STOP)
 *                                with a record pending; the fault fields say what it needs
 *          +44 u32 pending kind  access kind | part << 8 of the pending record (trace.ts PEND_*)
 *          +48 u64 pending addr  its first byte's gVA        +56 u64 its last byte's gVA
 *
 * Per-VM paging state (PVM_ENTRY = 128 bytes, region pagingVm, indexed by VM id):
 *
 *   +0  mode      0 native, 1 ept, 2 shadow        +4  guest levels (4|5)
 *   +8  host levels (EPT walk length, 4|5)         +12 guest OS page size class
 *   +16 host page size class (EPT / backing)       +20 flags: bit 0 EPT A/D enabled, bit 1 live
 *   +24 EPT root MPN                               +28 guest allocator: next small GPPN (up)
 *   +32 guest allocator: large-page floor (down)   +36 VPID (0: VPID off, flush on switch)
 *   +40 large host pages splintered                +44 shadow tables held
 *   +48 EPT tables held                            +52 full shadow zaps
 *   +56 coherence drops                            +60 guest page-table pages unshadowed
 *   +64 shadow root cache: 4 x { u32 guest root GPPN + 1, u32 shadow root MPN, u64 LRU stamp }
 *
 * gpTrack entry (GPTRACK_ENTRY = 8 bytes, region gpTrack, parallel to the pmap: the entry of
 * (vm, gppn) sits at the same offset in gpTrack as the pmap entry in pmap):
 *
 *   +0 u32 rmap      linear address of the shadow leaf entry mapping this page, 0 none, 1 many
 *   +4 u32 shadowed  MPN + 1 of the shadow table built from this guest page-table page,
 *                    0 none, 0xFFFFFFFF several
 *
 * Invariants: a context's asid is vpid << 12 | pcid of its current VM and CR3; every TLB entry
 * of a context was derived from entries that were present when it was filled and that have not
 * been dropped since without flushing it (coherence.ts keeps this when backing changes).
 */

import { Region, regionOffset, regionSize, cfg, Cfg, MMU_CTX, PVM_ENTRY } from "../ram/memmap";
import { CDESC, CENTRY, cacheSetup, cacheFlushAsid, cacheFlushFrames, cacheDropTagMasked, cacheLarge, cacheOn } from "./tlb";
import { clsShift } from "./entries";
import { vmPages, vmGet, VmF } from "../reclaim/pmap";
import { GPPN, gVA } from "../ram/addr";

export const NONE: u32 = 0xFFFFFFFF;

export const MODE_NATIVE: u32 = 0;
export const MODE_EPT: u32 = 1;
export const MODE_SHADOW: u32 = 2;

/** u64 slots of a context. Counters start at F.Records and run to F.COUNT. */
export const enum F {
  Alive = 0, Vm = 1, Asid = 2, Cr3 = 3, Flags = 4, ShadowRoot = 5, Mode = 6, GLevels = 7,
  CostL1Hit = 8, CostL2Hit = 9, CostWalkRef = 10, CostPwcHit = 11, CostVmExit = 12,
  CostGuestPf = 13, CostEptViolation = 14, CostShadowFill = 15, CostPtWrite = 16,
  // the walk in progress (scratch, not counters): references made, page-walk-cache hits, and
  // the cycles of the miss path so far (walks, fills, faults handled)
  WalkRefsNow = 17, WalkPwcNow = 18, WalkCyclesNow = 19,
  Records = 20, Translations = 21, L1iAccesses = 22, L1dAccesses = 23, L1iMisses = 24,
  L1dMisses = 25, L2Misses = 26, Walks = 27, WalkRefs = 28, FaultWalkRefs = 29,
  GuestPageFaults = 30, EptViolations = 31, EptMisconfigs = 32, VmExits = 33, Cycles = 34,
  PwcHits = 35, NtlbHits = 36, NtlbMisses = 37, ShadowFills = 38, ShadowWalkRefs = 39,
  PtWriteTraps = 40, Invlpgs = 41, Cr3Switches = 42, ShadowRootMisses = 43, UnhandledFaults = 44,
  BadLines = 45, Lines = 46, TraceBytes = 47, HostFaults = 48,
  COUNT = 49,
  // past the counters, scratch: the fault of the operation in progress (kind << 32 | code, and
  // its address), copied to the results (Res) only when the call returns it (fault.ts)
  FaultNow = 49, FaultAddrNow = 50,
}
// TypeScript reads the counters and writes the costs by name: assembly/layout.ts "mmuCtx.counters.*", "mmuCtx.costs.*"

/** Context flag bits. */
export const FL_PWC: u64 = 1;
export const FL_NTLB: u64 = 2;
/** the built-in guest OS model maps a page on a not-present #PF (else the fault is returned) */
export const FL_DEMAND: u64 = 4;

/** Cache descriptor indices within a context. */
export const C_L1I: u32 = 0;
export const C_L1D: u32 = 1;
export const C_L2: u32 = 2;
export const C_GPWC: u32 = 3;
export const C_NPWC: u32 = 4;
export const C_NTLB: u32 = 5;
const CACHES_AT: usize = 512;
export const SCRATCH_AT: usize = 768;
/** Byte offsets (from the context) of the results of the last call on it. */
export const enum Res {
  FaultAddr = 832,
  FaultKind = 840,
  FaultCode = 844,
  Cycles = 848,
  TraceErrorAt = 852,
  TraceLines = 856,
  TraceEmitted = 864,
  TraceSkipping = 868,
  TraceStop = 872,
  TracePendKind = 876,
  TracePendAddr = 880,
  TracePendLast = 888,
  END = 896,
}

// per-VM field offsets
export const P_MODE: usize = 0;
export const P_GLEVELS: usize = 4;
export const P_HLEVELS: usize = 8;
export const P_GSIZE: usize = 12;
export const P_HSIZE: usize = 16;
export const P_FLAGS: usize = 20;
export const P_EPTROOT: usize = 24;
export const P_SMALL: usize = 28;
export const P_LARGE: usize = 32;
export const P_VPID: usize = 36;
export const P_SPLITS: usize = 40;
export const P_SHADOWTABLES: usize = 44;
export const P_EPTTABLES: usize = 48;
export const P_ZAPS: usize = 52;
export const P_COHDROPS: usize = 56;
export const P_UNSHADOWS: usize = 60;
export const P_ROOTS: usize = 64;
export const ROOT_SLOTS: u32 = 4;
export const PF_AD: u32 = 1;
export const PF_LIVE: u32 = 2;

let ctxCount: u32 = 0;
let cacheUsed: usize = 0;
let rootClock: u64 = 0;

/** Address of context `id`. */
// @ts-ignore: decorator
@inline export function ctxAddr(id: u32): usize { return regionOffset(Region.MmuCtx) + <usize>id * MMU_CTX; }
/** Reads u64 slot `f` of context `c`. */
// @ts-ignore: decorator
@inline export function cget(c: usize, f: F): u64 { return load<u64>(c + (<usize>f << 3)); }
/** Writes u64 slot `f` of context `c`. */
// @ts-ignore: decorator
@inline export function cset(c: usize, f: F, v: u64): void { store<u64>(c + (<usize>f << 3), v); }
/** Adds `v` to counter `f` of context `c`. */
// @ts-ignore: decorator
@inline export function cadd(c: usize, f: F, v: u64): void { store<u64>(c + (<usize>f << 3), load<u64>(c + (<usize>f << 3)) + v); }
/** Descriptor of cache `i` of context `c`. */
// @ts-ignore: decorator
@inline export function cdesc(c: usize, i: u32): usize { return c + CACHES_AT + <usize>i * CDESC; }
/** Address of the paging state of `vm`. */
// @ts-ignore: decorator
@inline export function pvm(vm: u32): usize { return regionOffset(Region.PagingVm) + <usize>vm * PVM_ENTRY; }
// @ts-ignore: decorator
@inline export function pget(vm: u32, off: usize): u32 { return load<u32>(pvm(vm) + off); }
// @ts-ignore: decorator
@inline export function pset(vm: u32, off: usize, v: u32): void { store<u32>(pvm(vm) + off, v); }
/** Address of the gpTrack entry of (vm, gppn): parallel to its pmap entry. */
// @ts-ignore: decorator
@inline export function gpTrack(base: u32, gppn: GPPN): usize { return regionOffset(Region.GpTrack) + ((<usize>base + gppn) << 3); }
/** Number of contexts created. */
export function mmuCount(): u32 { return ctxCount; }

/** Sets up empty context and paging tables; called once by init. */
export function mmuInit(): void {
  ctxCount = 0;
  cacheUsed = 0;
  rootClock = 0;
  memory.fill(regionOffset(Region.PagingVm), 0, regionSize(Region.PagingVm));
}

/** Next LRU stamp of the shadow-root caches. */
export function nextRootStamp(): u64 { return ++rootClock; }

/** Linear address of context `id` (TypeScript reads counters and results and writes costs there). */
export function mmuCtxAddr(id: u32): f64 { return <f64>ctxAddr(id); }

/**
 * Sets up the paging state of `vm` (created by vmCreate): its mode, guest and host levels, page
 * size classes, VPID and EPT A/D. Allocates the EPT root in ept mode. Returns 0, or 1 when no
 * frame is left for the root.
 */
export function pagingVmSetup(vm: u32, mode: u32, gLevels: u32, hLevels: u32, gSize: u32, hSize: u32, vpid: u32, ad: u32): i32 {
  const p = pvm(vm);
  memory.fill(p, 0, PVM_ENTRY);
  store<u32>(p + P_MODE, mode);
  store<u32>(p + P_GLEVELS, gLevels);
  store<u32>(p + P_HLEVELS, hLevels);
  store<u32>(p + P_GSIZE, gSize);
  store<u32>(p + P_HSIZE, hSize);
  store<u32>(p + P_FLAGS, PF_LIVE | (ad ? PF_AD : 0));
  store<u32>(p + P_VPID, vpid);
  store<u32>(p + P_EPTROOT, NONE);
  store<u32>(p + P_SMALL, 1); // GPPN 0 stays unused so that a zero gPA never names a table
  store<u32>(p + P_LARGE, vmPages(vm));
  const pages = vmPages(vm);
  if (pages) memory.fill(gpTrack(pmapBase(vm), 0), 0, <usize>pages << 3);
  return 0;
}

/** Index of the first pmap entry of `vm` (the gpTrack entries use the same index). */
// @ts-ignore: decorator
@inline export function pmapBase(vm: u32): u32 { return vmGet(vm, VmF.Base); }

/**
 * Creates a context (a simulated core) with the given cache geometry (sets x ways each; 0 sets
 * turns a cache off) and flags. Returns its id, or -1 when the context table or cache region is full.
 */
export function mmuCreate(
  l1iSets: u32, l1iWays: u32, l1dSets: u32, l1dWays: u32, l2Sets: u32, l2Ways: u32,
  gpwcSets: u32, gpwcWays: u32, npwcSets: u32, npwcWays: u32, ntlbSets: u32, ntlbWays: u32, flags: u32,
): i32 {
  if (ctxCount >= <u32>cfg(Cfg.MaxMmus)) return -1;
  const need = (<usize>l1iSets * l1iWays + <usize>l1dSets * l1dWays + <usize>l2Sets * l2Ways +
    <usize>gpwcSets * gpwcWays + <usize>npwcSets * npwcWays + <usize>ntlbSets * ntlbWays) * CENTRY;
  if (cacheUsed + need > regionSize(Region.MmuCache)) return -1;
  const id = ctxCount++;
  const c = ctxAddr(id);
  memory.fill(c, 0, MMU_CTX);
  let at = regionOffset(Region.MmuCache) + cacheUsed;
  cacheSetup(cdesc(c, C_L1I), at, l1iSets, l1iWays); at += <usize>l1iSets * l1iWays * CENTRY;
  cacheSetup(cdesc(c, C_L1D), at, l1dSets, l1dWays); at += <usize>l1dSets * l1dWays * CENTRY;
  cacheSetup(cdesc(c, C_L2), at, l2Sets, l2Ways); at += <usize>l2Sets * l2Ways * CENTRY;
  cacheSetup(cdesc(c, C_GPWC), at, gpwcSets, gpwcWays); at += <usize>gpwcSets * gpwcWays * CENTRY;
  cacheSetup(cdesc(c, C_NPWC), at, npwcSets, npwcWays); at += <usize>npwcSets * npwcWays * CENTRY;
  cacheSetup(cdesc(c, C_NTLB), at, ntlbSets, ntlbWays);
  cacheUsed += need;
  cset(c, F.Alive, 1);
  cset(c, F.Vm, NONE);
  cset(c, F.Flags, flags);
  cset(c, F.ShadowRoot, NONE);
  return <i32>id;
}

/** Flushes the TLBs and guest PWC entries whose asid & mask == match. */
export function flushTlbs(c: usize, match: u32, mask: u32): void {
  cacheFlushAsid(cdesc(c, C_L1I), match, mask);
  cacheFlushAsid(cdesc(c, C_L1D), match, mask);
  cacheFlushAsid(cdesc(c, C_L2), match, mask);
  cacheFlushAsid(cdesc(c, C_GPWC), match, mask);
}

/** Drops, on every context, the TLB entries that reach page frames [lo, hi). */
export function flushFramesAll(lo: u64, hi: u64): void {
  for (let i: u32 = 0; i < ctxCount; i++) {
    const c = ctxAddr(i);
    if (cget(c, F.Alive) == 0) continue;
    cacheFlushFrames(cdesc(c, C_L1I), lo, hi);
    cacheFlushFrames(cdesc(c, C_L1D), lo, hi);
    cacheFlushFrames(cdesc(c, C_L2), lo, hi);
  }
}

/** Drops the TLB entries of `va` whose asid & mask == match, at every page size, from cache `d`. */
function dropVa(d: usize, va: gVA, match: u32, mask: u32): void {
  if (!cacheOn(d)) return;
  cacheDropTagMasked(d, va >> 12, 0, match, mask);
  if (cacheLarge(d) != 0) {
    cacheDropTagMasked(d, va >> clsShift(1), 1, match, mask);
    cacheDropTagMasked(d, va >> clsShift(2), 2, match, mask);
  }
}

/** INVLPG semantics for one address space: the TLB entries of `va`, and all guest PWC entries of `asid`. */
export function invlpgAsid(c: usize, va: gVA, asid: u32): void {
  dropVa(cdesc(c, C_L1I), va, asid, 0xFFFFFFFF);
  dropVa(cdesc(c, C_L1D), va, asid, 0xFFFFFFFF);
  dropVa(cdesc(c, C_L2), va, asid, 0xFFFFFFFF);
  // the SDM lets INVLPG drop any paging-structure-cache entries; dropping all of this asid is simple and safe
  cacheFlushAsid(cdesc(c, C_GPWC), asid, 0xFFFFFFFF);
}

/**
 * INVVPID on context `id`: type 0 individual address (vpid, va), 1 single context (vpid),
 * 2 all contexts, 3 single context retaining globals (same as 1 here: no
 * global pages are modelled).
 */
export function invvpid(id: u32, type: u32, vpid: u32, va: f64): void {
  const c = ctxAddr(id);
  if (type == 0) {
    // the instruction names no PCID: every PCID of the vpid
    dropVa(cdesc(c, C_L1I), <u64>va, vpid << 12, 0xFFFFF000);
    dropVa(cdesc(c, C_L1D), <u64>va, vpid << 12, 0xFFFFF000);
    dropVa(cdesc(c, C_L2), <u64>va, vpid << 12, 0xFFFFF000);
    cacheFlushAsid(cdesc(c, C_GPWC), vpid << 12, 0xFFFFF000);
  } else if (type == 2) {
    flushTlbs(c, 0, 0);
  } else {
    flushTlbs(c, vpid << 12, 0xFFFFF000);
  }
}

/**
 * INVEPT on context `id` for `vm` (type 1 single context) or for every VM (type 2): drops the
 * nested TLB, the nested PWC and the combined gVA -> hPA TLB entries derived from the EPT.
 */
export function invept(id: u32, type: u32, vm: u32): void {
  const c = ctxAddr(id);
  if (type == 2) {
    cacheFlushAsid(cdesc(c, C_NTLB), 0, 0);
    cacheFlushAsid(cdesc(c, C_NPWC), 0, 0);
    flushTlbs(c, 0, 0);
    return;
  }
  cacheFlushAsid(cdesc(c, C_NTLB), vm, 0xFFFFFFFF);
  cacheFlushAsid(cdesc(c, C_NPWC), vm, 0xFFFFFFFF);
  flushTlbs(c, pget(vm, P_VPID) << 12, 0xFFFFF000);
}

// Per-VM paging statistics as TypeScript reads them: by name, never by offset.
const PAGING_STAT_NAMES: StaticArray<string> = [
  "largePageSplinters", "shadowTables", "eptTables", "shadowZaps", "coherenceDrops", "unshadows",
];
const PAGING_STAT_AT: StaticArray<usize> = [P_SPLITS, P_SHADOWTABLES, P_EPTTABLES, P_ZAPS, P_COHDROPS, P_UNSHADOWS];

/** Number of named per-VM paging statistics. */
export function pagingStatCount(): u32 { return <u32>PAGING_STAT_NAMES.length; }
/** Name of per-VM paging statistic `i` (a static string). */
export function pagingStatName(i: u32): string { return unchecked(PAGING_STAT_NAMES[i]); }
/** Per-VM paging statistic `i` of `vm` (a count). */
export function pagingStat(vm: u32, i: u32): u32 { return i < <u32>PAGING_STAT_AT.length ? pget(vm, unchecked(PAGING_STAT_AT[i])) : 0; }

/** Zeroes the counters of context `id`. */
export function mmuResetCounters(id: u32): void {
  const c = ctxAddr(id);
  memory.fill(c + (<usize>F.Records << 3), 0, (<usize>F.COUNT - <usize>F.Records) << 3);
}
