/**
 * Frames: the allocator of machine frames (MPNs), with reference counts and flags.
 *
 * Frame table entry (FRAME_ENTRY = 16 bytes, indexed by MPN, in region frameTable):
 *
 *   +0  u32 refs    references held (0 = free)
 *   +4  u32 flags   bits 0-3 kind (FrameKind), bit 4 ZEROED (known to hold only zeros)
 *   +8  u32 link    next free MPN while free; owner-defined while allocated
 *   +12 u32 aux     owner-defined (for example the GPPN a private frame backs)
 *
 * Free frames form a LIFO list threaded through `link` (recently freed frames are warm in
 * cache). Frames above `watermark` were never handed out: they are zero (fresh linear memory)
 * and not on the list, so `init` costs O(1) however large machine RAM is.
 *
 * Invariants:
 *   - free + sum over kinds of used[kind] == total, at all times;
 *   - a frame is free iff refs == 0 iff kind == Free;
 *   - every frame returned by frameAlloc holds only zeros (as ESX does, so no data leaks
 *     from one VM to another through a recycled frame); frameAllocOverwrite skips the zeroing
 *     only for callers that overwrite the whole frame before it can be read.
 */

import { Region, regionOffset, regionSize, PAGE_SHIFT, PAGE_SIZE } from "./memmap";
import { AUDIT_OK, AUDIT_FRAMES_CONSERVED, AUDIT_FRAME_FREE_LIST, AUDIT_FRAME_REFS_KIND, AUDIT_FRAME_KIND_COUNT } from "./invariants";
import { fail, withCounts, withKind } from "./failure";
import { MPN } from "./addr";

/** Returned by frameAlloc when machine RAM is exhausted. */
export const NO_FRAME: u32 = 0xFFFFFFFF;
const NONE: u32 = 0xFFFFFFFF;

/** What a frame is used for; the conservation invariant sums these. */
export const enum FrameKind {
  Free = 0,
  /** guest data: private, shared or the zero frame */
  Guest = 1,
  /** compression pool (zip cache slots) */
  Zpool = 2,
  /** EPT, shadow and guest page tables kept by the hypervisor */
  PageTable = 3,
  /** other hypervisor metadata */
  Hypervisor = 4,
  COUNT = 5,
}

const KIND_MASK: u32 = 0xF;
const ZEROED: u32 = 1 << 4;

let total: u32 = 0;
let freeHead: u32 = NO_FRAME;
let freeCount: u32 = 0;
let watermark: u32 = 0;
const used = memory.data(<i32>FrameKind.COUNT * 4, 4);

/** Address of the table entry of `mpn`. */
// @ts-ignore: decorator
@inline function entry(mpn: MPN): usize { return regionOffset(Region.FrameTable) + (<usize>mpn << 4); }

/** Address of the first byte of frame `mpn` in machine RAM. */
// @ts-ignore: decorator
@inline export function frameAddr(mpn: MPN): usize { return regionOffset(Region.Ram) + (<usize>mpn << PAGE_SHIFT); }

/** Sets up an empty allocator over the frames of region ram; called once by init. */
export function framesInit(): void {
  total = <u32>(regionSize(Region.Ram) >> PAGE_SHIFT);
  freeHead = NO_FRAME;
  freeCount = 0;
  watermark = 0;
  memory.fill(used, 0, <usize>FrameKind.COUNT * 4);
}

/** Allocates a zero-filled frame of `kind`, with one reference; NO_FRAME when none is left. */
export function frameAlloc(kind: u32): MPN { return allocFrame(kind, true); }

/**
 * frameAlloc for a caller that writes all 4 KiB of the frame before anything reads it (a page
 * copy, a swap-in, a decompression): a recycled frame is not zero-filled first.
 */
export function frameAllocOverwrite(kind: u32): MPN { return allocFrame(kind, false); }

/** A frame of `kind` with one reference, zero-filled when `zero`; NO_FRAME when none is left. */
// @ts-ignore: decorator
@inline function allocFrame(kind: u32, zero: bool): MPN {
  if (DEBUG) assert(kind > <u32>FrameKind.Free && kind < <u32>FrameKind.COUNT, "frameAlloc: bad kind");
  let mpn: MPN;
  if (freeHead != NO_FRAME) {
    mpn = freeHead;
    const e = entry(mpn);
    freeHead = load<u32>(e, 8);
    freeCount--;
    if (zero && !(load<u32>(e, 4) & ZEROED)) memory.fill(frameAddr(mpn), 0, PAGE_SIZE);
  } else if (watermark < total) {
    mpn = watermark++;
  } else {
    return NO_FRAME;
  }
  const e = entry(mpn);
  if (DEBUG) assert(load<u32>(e) == 0, "frameAlloc: frame on the free list has references");
  store<u32>(e, 1);
  store<u32>(e, kind, 4);
  store<u32>(e, 0, 8);
  store<u32>(e, 0, 12);
  const k = used + (<usize>kind << 2);
  store<u32>(k, load<u32>(k) + 1);
  return mpn;
}

/** Adds a reference to an allocated frame and returns the new count. */
export function frameGet(mpn: MPN): u32 {
  const e = entry(mpn);
  if (DEBUG) assert(mpn < watermark && load<u32>(e) > 0, "frameGet: frame is free");
  const r = load<u32>(e) + 1;
  store<u32>(e, r);
  return r;
}

/** Drops a reference; the frame returns to the free list when none is left. Returns the new count. */
export function framePut(mpn: MPN): u32 {
  const e = entry(mpn);
  if (DEBUG) assert(mpn < watermark && load<u32>(e) > 0, "framePut: frame is already free");
  const r = load<u32>(e) - 1;
  store<u32>(e, r);
  if (r == 0) {
    const k = used + (<usize>(load<u32>(e, 4) & KIND_MASK) << 2);
    store<u32>(k, load<u32>(k) - 1);
    store<u32>(e, <u32>FrameKind.Free, 4); // not ZEROED: the contents are stale
    store<u32>(e, freeHead, 8);
    freeHead = mpn;
    freeCount++;
  }
  return r;
}

/** Reference count of `mpn` (0 when free). */
export function frameRefs(mpn: MPN): u32 { return mpn < watermark ? load<u32>(entry(mpn)) : 0; }
/** Kind of `mpn` (FrameKind). */
export function frameKind(mpn: MPN): u32 { return mpn < watermark ? load<u32>(entry(mpn), 4) & KIND_MASK : 0; }
/** Owner-defined words of an allocated frame. */
export function frameLink(mpn: MPN): u32 { return load<u32>(entry(mpn), 8); }
export function frameSetLink(mpn: MPN, v: u32): void { store<u32>(entry(mpn), v, 8); }
export function frameAux(mpn: MPN): u32 { return load<u32>(entry(mpn), 12); }
export function frameSetAux(mpn: MPN, v: u32): void { store<u32>(entry(mpn), v, 12); }

/** Frames in machine RAM. */
export function framesTotal(): u32 { return total; }
/** Frames not allocated to anyone. */
export function framesFree(): u32 { return freeCount + (total - watermark); }
/** Frames allocated with `kind`. */
export function framesUsed(kind: u32): u32 { return kind < <u32>FrameKind.COUNT ? load<u32>(used + (<usize>kind << 2)) : 0; }

// ---- audit ---------------------------------------------------------------------------------------

const recount = memory.data(<i32>FrameKind.COUNT * 4, 4);

/**
 * Checks the allocator against its frame table: free + every kind == total; the free list holds
 * exactly the free frames (free count long, no allocated frame, no cycle); refs == 0 iff kind ==
 * Free for every frame handed out; the frames of each kind recounted equal the kind's counter.
 * AUDIT_OK, or the code of the first broken invariant (failure.ts says where).
 */
export function framesAudit(): u32 {
  let sum: u64 = <u64>freeCount + (total - watermark);
  for (let k: u32 = 1; k < <u32>FrameKind.COUNT; k++) sum += load<u32>(used + (<usize>k << 2));
  if (sum != <u64>total) return withCounts(fail(AUDIT_FRAMES_CONSERVED, NONE, NONE, NONE), total, <f64>sum);
  let n: u32 = 0;
  for (let m = freeHead; m != NO_FRAME; m = load<u32>(entry(m), 8)) {
    const k = m < watermark ? load<u32>(entry(m), 4) & KIND_MASK : NONE;
    if (m >= watermark || load<u32>(entry(m)) != 0 || k != <u32>FrameKind.Free) return withKind(fail(AUDIT_FRAME_FREE_LIST, NONE, NONE, m), k);
    if (++n > freeCount) return withCounts(fail(AUDIT_FRAME_FREE_LIST, NONE, NONE, m), freeCount, n); // too long, or a cycle
  }
  if (n != freeCount) return withCounts(fail(AUDIT_FRAME_FREE_LIST, NONE, NONE, NONE), freeCount, n);
  memory.fill(recount, 0, <usize>FrameKind.COUNT * 4);
  for (let m: u32 = 0; m < watermark; m++) {
    const e = entry(m);
    const k = load<u32>(e, 4) & KIND_MASK;
    if ((load<u32>(e) == 0) != (k == <u32>FrameKind.Free) || k >= <u32>FrameKind.COUNT) return withKind(fail(AUDIT_FRAME_REFS_KIND, NONE, NONE, m), k);
    store<u32>(recount + (<usize>k << 2), load<u32>(recount + (<usize>k << 2)) + 1);
  }
  // a free frame missing from the list (a leak) shows as more Free frames than the list holds
  if (load<u32>(recount) != freeCount) return withCounts(fail(AUDIT_FRAME_FREE_LIST, NONE, NONE, NONE), load<u32>(recount), freeCount);
  for (let k: u32 = 1; k < <u32>FrameKind.COUNT; k++) {
    const want = load<u32>(recount + (<usize>k << 2)), have = load<u32>(used + (<usize>k << 2));
    if (want != have) return withKind(withCounts(fail(AUDIT_FRAME_KIND_COUNT, NONE, NONE, NONE), want, have), k);
  }
  return AUDIT_OK;
}

// ---- debug-only corruption (assembly/debug.ts calls these in the debug build only) -----------------

/** Adds `delta` to the allocator's count of frames of `kind`, touching no frame. */
export function framesDebugSkew(kind: u32, delta: i32): void {
  const k = used + (<usize>kind << 2);
  store<u32>(k, load<u32>(k) + <u32>delta);
}
/** Hands out the free-list head as a frame of `kind` without taking it off the list; its MPN or NO_FRAME. */
export function framesDebugTakeFree(kind: u32): u32 {
  const m = freeHead;
  if (m == NO_FRAME) return NO_FRAME;
  store<u32>(entry(m), 1);
  store<u32>(entry(m), kind, 4);
  freeCount--;
  framesDebugSkew(kind, 1);
  return m;
}
/** Overwrites the reference count of `mpn`. */
export function framesDebugSetRefs(mpn: u32, refs: u32): void { store<u32>(entry(mpn), refs); }
