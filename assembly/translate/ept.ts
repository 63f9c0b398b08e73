/**
 * ept: the hypervisor's side of nested paging. Each VM's EPT lives in machine frames
 * (FrameKind.PageTable) in the Intel EPT format (paging.ts); it is a cache of the pmap, filled
 * on EPT violations through pmapFault and emptied by coherence.ts.
 *
 *   EPTP ─► level h table ─► ... ─► level 1 (EPT PTE: 4 KiB)
 *                          └► level 2 leaf (large, 2 MiB)   └► level 3 leaf (large, 1 GiB)
 *
 * Host page size: with 2 MiB or 1 GiB host pages, the first touch of a guest page backs its whole
 * aligned group (as a hypervisor backing guest memory with a large page) and installs one large
 * leaf if the group's frames are contiguous and aligned; otherwise it installs a 4 KiB leaf and
 * counts a splinter (fragmented machine memory, or a group partly reclaimed). To make contiguity
 * possible, it first draws frames until the allocator's next frame is aligned, and keeps those
 * pad frames in a pool from which every later page table (EPT or shadow) is taken. A group that
 * free machine memory cannot hold whole, pads included, is not backed: the page alone is, and
 * counts a splinter.
 *
 * A VM whose pmap backs large groups itself (reclaim/large.ts, VM flag LARGE_OK) is mapped as the
 * pmap says instead, whatever its host page size: a large leaf for a LARGE group, 4 KiB leaves
 * for everything else, and only the touched page faulted in (the pmap decides the backing; the
 * EPT mirrors it). A broken group is never mapped large again.
 *
 * Invariants: non-leaf entries are RWX with memory type 0; leaves have memory type WB and are
 * RWX when the pmap holds the page Mapped (private), else R-X with EPT_COW (Shared and Zero
 * frames are copy-on-write: a write must fault so the pmap breaks the sharing first); a large
 * leaf maps only a group of Mapped pages; an EPT table is never freed while its VM lives
 * (nested PWC entries may point at it): eptRelease frees them all when the VM is powered off,
 * with the caches flushed (coherence.ts pagingVmRelease).
 */

import { frameAlloc, frameNext, framesFree, framePut, frameSetLink, frameLink, frameKind, NO_FRAME, FrameKind } from "../ram/frames";
import { Region, regionOffset } from "../ram/memmap";
import { pmapState, pmapFrame, pmapWritable, vmPages, vmGet, VmF, PState, FAULT_MIN, VM_LARGE_OK } from "../reclaim/pmap";
import { pmapFault } from "../reclaim/fault";
import { pmapLarge } from "../reclaim/large";
import {
  ADDR_MASK, EPT_RWX, EPT_R, EPT_X, EPT_COW, EPT_LARGE, EPT_MT_SHIFT, EPT_MT_WB, levelIndex, eptLeaf, clsMask,
} from "./entries";
import { pget, pset, P_EPTROOT, P_HLEVELS, P_HSIZE, P_SPLITS, P_EPTTABLES, P_FLAGS, P_MODE, PF_AD, PF_LIVE, MODE_EPT, NONE } from "./cores";
import { gPA, gpaOf, GPPN, hPA, hpaOf, MPN } from "../ram/addr";

/** Linear address of host-physical address `hpa` in machine RAM. */
// @ts-ignore: decorator
@inline export function ramAt(hpa: hPA): usize { return regionOffset(Region.Ram) + <usize>hpa; }

// ---- page-table frame pool -------------------------------------------------------------------

let poolHead: u32 = NO_FRAME;
let poolCount: u32 = 0;

/** Resets the pool; called once by init. */
export function eptInit(): void { poolHead = NO_FRAME; poolCount = 0; }

/** A zero-filled page-table frame, from the pad pool first; NO_FRAME when machine RAM is full. */
export function ptAlloc(): MPN {
  if (poolHead != NO_FRAME) {
    const m = poolHead;
    poolHead = frameLink(m);
    poolCount--;
    frameSetLink(m, 0);
    return m;
  }
  return frameAlloc(<u32>FrameKind.PageTable);
}

/** Returns a page-table frame to the allocator after clearing it (ptAlloc promises zeros). */
export function ptFree(m: MPN): void {
  framePut(m);
}

/** Frames waiting in the pad pool. */
export function ptPoolCount(): u32 { return poolCount; }
/** First frame of the pad pool (NO_FRAME when empty); the others follow through frame links. */
export function ptPoolHead(): u32 { return poolHead; }

/** Gives every frame of the pad pool back to the allocator (the host needs the memory more than alignment). Returns how many. */
export function ptPoolDrain(): u32 {
  const n = poolCount;
  while (poolHead != NO_FRAME) {
    const m = poolHead;
    poolHead = frameLink(m);
    frameSetLink(m, 0);
    framePut(m);
  }
  poolCount = 0;
  return n;
}

/**
 * Draws pad frames into the pool until the allocator's next frame is a multiple of `n`: none when
 * it already is (drawing first would pad a whole group's worth), at most n - 1 otherwise (from a
 * free list of recycled frames the next may never come out aligned).
 */
function alignAllocator(n: u32): void {
  for (let i: u32 = 1; i < n; i++) {
    const next = frameNext();
    if (next == NO_FRAME || (next & (n - 1)) == 0) return;
    const m = frameAlloc(<u32>FrameKind.PageTable);
    frameSetLink(m, poolHead);
    poolHead = m;
    poolCount++;
  }
}

// ---- host backing ----------------------------------------------------------------------------

/**
 * What hostBack found: the MPN (or a FAULT_* code) in the low 32 bits, the size class of the host
 * mapping above them (0 unless a contiguous large group). One value, so no result waits in a global.
 */
export type Backing = u64;
// @ts-ignore: decorator
@inline export function backMpn(b: Backing): MPN { return <MPN>b; }
// @ts-ignore: decorator
@inline export function backCls(b: Backing): u32 { return <u32>(b >> 32); }
// @ts-ignore: decorator
@inline function backing(mpn: MPN, cls: u32): Backing { return (<u64>cls << 32) | <u64>mpn; }

/**
 * Makes guest page (vm, gppn) resident through the pmap and returns its Backing. With large host
 * pages, backs the page's whole group, with the group's class when it came out contiguous.
 */
export function hostBack(vm: u32, gppn: GPPN, write: bool): Backing {
  const hs = pget(vm, P_HSIZE);
  if (vmGet(vm, VmF.Flags) & VM_LARGE_OK) {
    const m = pmapFault(vm, gppn, write);
    return backing(m, m < FAULT_MIN && pmapLarge(vm, gppn) ? 1 : 0);
  }
  if (hs == 0) return backing(pmapFault(vm, gppn, write), 0);
  const n: u32 = 1 << (9 * hs);
  const base = gppn & ~(n - 1);
  if (<u64>base + n > <u64>vmPages(vm)) return backing(pmapFault(vm, gppn, write), 0);
  // A group that machine memory cannot hold whole (with its pads) is not backed: it would take
  // the frames this fault needs (over a Host, the frames reclaim just freed for it, forever).
  // The page is backed alone, as a hypervisor falls back to small pages when no large one is free.
  const fresh = pmapState(vm, base) == <u32>PState.Unbacked;
  const next = frameNext();
  const pads = fresh && next != NO_FRAME ? (n - (next & (n - 1))) & (n - 1) : 0;
  if (<u64>framesFree() < <u64>pads + n) {
    const m = pmapFault(vm, gppn, write);
    if (m < FAULT_MIN) pset(vm, P_SPLITS, pget(vm, P_SPLITS) + 1);
    return backing(m, 0);
  }
  if (fresh) alignAllocator(n);
  let first: u32 = 0;
  let contiguous = true;
  for (let i: u32 = 0; i < n; i++) {
    const g = base + i;
    let m: u32;
    if (g == gppn) m = pmapFault(vm, g, write);
    else if (pmapState(vm, g) == <u32>PState.Mapped) m = pmapFrame(vm, g);
    else m = pmapFault(vm, g, false);
    if (m >= FAULT_MIN) {
      if (g == gppn) return backing(m, 0);
      contiguous = false;
      continue;
    }
    // a Shared or Zero page in the group must stay read-only: no writable large leaf over it
    if (!pmapWritable(vm, g)) contiguous = false;
    if (i == 0) first = m;
    else if (m != first + i) contiguous = false;
  }
  if (contiguous && (first & (n - 1)) == 0) return backing(first + (gppn - base), hs);
  pset(vm, P_SPLITS, pget(vm, P_SPLITS) + 1);
  return backing(pmapFault(vm, gppn, write), 0);
}

// ---- EPT tables ------------------------------------------------------------------------------

/** The EPTP of `vm`: root, walk length - 1, A/D enable, memory type WB. */
export function eptPointer(vm: u32): u64 {
  const root = pget(vm, P_EPTROOT);
  if (root == NONE) return 0;
  return (<u64>root << 12) | (<u64>(pget(vm, P_HLEVELS) - 1) << 3) |
    ((pget(vm, P_FLAGS) & PF_AD) ? 0x40 : 0) | EPT_MT_WB;
}

/** Allocates the EPT root of `vm`; false when machine RAM is full. */
export function eptSetup(vm: u32): bool {
  const r = ptAlloc();
  if (r == NO_FRAME) return false;
  pset(vm, P_EPTROOT, r);
  pset(vm, P_EPTTABLES, 1);
  return true;
}

/**
 * A present EPT leaf as eptFindLeaf finds it: its linear address in the low 32 bits, its level
 * (1 = 4 KiB, 2 = 2 MiB, 3 = 1 GiB) above them; 0 when there is none.
 */
export type FoundLeaf = u64;
// @ts-ignore: decorator
@inline export function leafAt(f: FoundLeaf): usize { return <usize>(f & 0xFFFFFFFF); }
// @ts-ignore: decorator
@inline export function leafLevel(f: FoundLeaf): u32 { return <u32>(f >> 32); }

/** The present EPT leaf mapping gPA `gpa` of `vm`, or 0. */
export function eptFindLeaf(vm: u32, gpa: gPA): FoundLeaf {
  const root = pget(vm, P_EPTROOT);
  if (root == NONE) return 0;
  let table = <u64>root << 12;
  for (let level = pget(vm, P_HLEVELS); level >= 1; level--) {
    const a = ramAt(table + (levelIndex(gpa, level) << 3));
    const e = load<u64>(a);
    if ((e & 7) == 0) return 0;
    if (eptLeaf(e, level)) return (<u64>level << 32) | <u64>a;
    table = e & ADDR_MASK;
  }
  return 0;
}

/**
 * True if guest page (vm, gppn) is mapped by a large EPT leaf now. Page sharing leaves such pages
 * alone (as ESX does with large pages): merging one 4 KiB page would split a 2 MiB or 1 GiB
 * mapping and cost every access to the group a longer walk.
 */
export function eptLargeBacked(vm: u32, gppn: GPPN): bool {
  if ((pget(vm, P_FLAGS) & PF_LIVE) == 0 || pget(vm, P_HSIZE) == 0 || pget(vm, P_MODE) != MODE_EPT) return false;
  return leafLevel(eptFindLeaf(vm, gpaOf(gppn))) > 1;
}

/**
 * Maps gPA page `gppn` of `vm` to frame `mpn` with a leaf of class `cls` (0, 1, 2), allocating
 * missing tables. A large leaf is installed only where no table exists yet; otherwise a 4 KiB
 * leaf. Returns false when no frame is left for a table.
 */
export function eptInstall(vm: u32, gppn: GPPN, mpn: MPN, cls: u32): bool {
  const gpa = gpaOf(gppn);
  let table = <u64>pget(vm, P_EPTROOT) << 12;
  let level = pget(vm, P_HLEVELS);
  for (; level > 1; level--) {
    const a = ramAt(table + (levelIndex(gpa, level) << 3));
    const e = load<u64>(a);
    if (level == cls + 1 && (e & 7) == 0) break; // room for the large leaf
    if ((e & 7) != 0 && !eptLeaf(e, level)) { table = e & ADDR_MASK; continue; }
    if ((e & 7) != 0) {
      // a large leaf already covers this page: it stays (it maps the same contiguous group)
      return true;
    }
    const t = ptAlloc();
    if (t == NO_FRAME) return false;
    pset(vm, P_EPTTABLES, pget(vm, P_EPTTABLES) + 1);
    store<u64>(a, (<u64>t << 12) | EPT_RWX);
    table = <u64>t << 12;
  }
  const leafCls = level - 1;
  if (DEBUG) assert(leafCls == 0 || leafCls == cls, "eptInstall: large leaf at the wrong level");
  const base = leafCls > 0 ? hpaOf(mpn) & ~clsMask(leafCls) : hpaOf(mpn);
  // hostBack gives a large class only to a group of Mapped pages, so only a 4 KiB leaf can be copy-on-write
  const perm = leafCls > 0 || pmapWritable(vm, gppn) ? EPT_RWX : EPT_R | EPT_X | EPT_COW;
  const leaf = base | perm | (EPT_MT_WB << EPT_MT_SHIFT) | (leafCls > 0 ? EPT_LARGE : 0);
  store<u64>(ramAt(table + (levelIndex(gpa, level) << 3)), leaf);
  return true;
}

/** Frees EPT table `t` at `level` and every table below it; returns the tables freed. */
function freeEptTree(t: u32, level: u32): u32 {
  // a test may have poked a bogus entry (eptPoke): only page-table frames are tables to free
  if (frameKind(t) != <u32>FrameKind.PageTable) return 0;
  let n: u32 = 1;
  if (level > 1) {
    const base = ramAt(<u64>t << 12);
    for (let i: usize = 0; i < 512; i++) {
      const e = load<u64>(base + (i << 3));
      if ((e & 7) != 0 && !eptLeaf(e, level)) n += freeEptTree(<u32>((e & ADDR_MASK) >> 12), level - 1);
    }
  }
  ptFree(t);
  return n;
}

/** Frees every EPT table of `vm`, root included (power-off; the caller flushes what cached them). Returns the tables freed. */
export function eptRelease(vm: u32): u32 {
  const root = pget(vm, P_EPTROOT);
  if (root == NONE) return 0;
  const n = freeEptTree(root, pget(vm, P_HLEVELS));
  pset(vm, P_EPTROOT, NONE);
  pset(vm, P_EPTTABLES, 0);
  return n;
}

/** Writes raw EPT entry `value` at `level` for `gpa` of `vm` (tests build misconfigurations with it). Returns false if the path is missing. */
export function eptPoke(vm: u32, gpa: f64, level: u32, value: u64): bool {
  const g = <u64>gpa;
  let table = <u64>pget(vm, P_EPTROOT) << 12;
  for (let l = pget(vm, P_HLEVELS); l > level; l--) {
    const e = load<u64>(ramAt(table + (levelIndex(g, l) << 3)));
    if ((e & 7) == 0 || eptLeaf(e, l)) return false;
    table = e & ADDR_MASK;
  }
  store<u64>(ramAt(table + (levelIndex(g, level) << 3)), value);
  return true;
}

/** Raw EPT entry at `level` for `gpa` of `vm` (0 when the path is missing). */
export function eptPeek(vm: u32, gpa: f64, level: u32): u64 {
  const g = <u64>gpa;
  let table = <u64>pget(vm, P_EPTROOT) << 12;
  for (let l = pget(vm, P_HLEVELS); l > level; l--) {
    const e = load<u64>(ramAt(table + (levelIndex(g, l) << 3)));
    if ((e & 7) == 0 || eptLeaf(e, l)) return 0;
    table = e & ADDR_MASK;
  }
  return load<u64>(ramAt(table + (levelIndex(g, level) << 3)));
}
