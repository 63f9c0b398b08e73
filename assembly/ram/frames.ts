/**
 * Frames: the allocator of machine frames (MPNs), with reference counts and flags.
 *
 * Frame table entry (FRAME_ENTRY = 16 bytes, indexed by MPN, in region frameTable):
 *
 *   +0  u32 refs    references held (0 = free)
 *   +4  u32 flags   bits 0-3 kind (FrameKind), bit 4 ZEROED (known to hold only zeros)
 *   +8  u32 link    next free MPN while free; owner-defined while allocated
 *   +12 u32 aux     previous free MPN while free; owner-defined while allocated (for example
 *                   the GPPN a private frame backs)
 *
 * Free frames form a LIFO list threaded through `link` (recently freed frames are warm in
 * cache), doubly linked through `aux` so that a whole block can be taken out of it. Frames
 * above `watermark` were never handed out: they are zero (fresh linear memory) and not on the
 * list, so `init` costs O(1) however large machine RAM is.
 *
 * Blocks: the frames are also counted free per aligned block of BLOCK_FRAMES (2 MiB), so that a
 * large page (reclaim/large.ts) finds a wholly free, aligned block without a search through the
 * free list: frameAllocBlock takes one (next fit from where the last one was found), unlinking
 * its frames from the list or moving the watermark past it.
 *
 *   frames  |0 ......... 511|512 ....... 1023|1024 ...... 1535| ... |watermark ...... total|
 *   free    |     37        |      512       |      0         | ... | never handed out     |
 *                             ^ a whole block: frameAllocBlock may take it
 *
 * Invariants:
 *   - free + sum over kinds of used[kind] == total, at all times;
 *   - a frame is free iff refs == 0 iff kind == Free;
 *   - blockFree[b] == free frames of block b (on the list or above the watermark), and
 *     wholeBlocks == the blocks with all BLOCK_FRAMES free (framesAudit: FRAME_BLOCKS);
 *   - every frame returned by frameAlloc holds only zeros (as ESX does, so no data leaks
 *     from one VM to another through a recycled frame); frameAllocOverwrite skips the zeroing
 *     only for callers that overwrite the whole frame before it can be read.
 */

import { Region, regionOffset, regionSize, PAGE_SHIFT, PAGE_SIZE } from "./memmap";
import { AUDIT_OK, AUDIT_FRAMES_CONSERVED, AUDIT_FRAME_FREE_LIST, AUDIT_FRAME_REFS_KIND, AUDIT_FRAME_KIND_COUNT, AUDIT_FRAME_BLOCKS } from "./invariants";
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

/** Frames of a block: a 2 MiB large page of 4 KiB frames. */
export const BLOCK_FRAMES: u32 = 512;
const BLOCK_SHIFT: u32 = 9;
/** Most blocks: machine RAM is at most 3.5 GiB (src/engine/engine.ts MAX_MACHINE_MIB), 1792 blocks; room for 4 GiB. */
const MAX_BLOCKS: u32 = 2048;
/** Free frames of each block (u16 per block). */
const blockFree = memory.data(<i32>MAX_BLOCKS * 2, 4);
let blockCursor: u32 = 0;
/** Blocks wholly free now (so a failed search costs nothing when there is none). */
let wholeBlocks: u32 = 0;

// @ts-ignore: decorator
@inline function blockAddr(b: u32): usize { return blockFree + (<usize>b << 1); }
/** Adds `d` (+1 or -1) to the free count of the block of `mpn`. */
// @ts-ignore: decorator
@inline function blockAdd(mpn: u32, d: i32): void {
  const a = blockAddr(mpn >> BLOCK_SHIFT);
  const was = <u32>load<u16>(a);
  const now = <u32>(<i32>was + d);
  store<u16>(a, <u16>now);
  if (was == BLOCK_FRAMES) wholeBlocks--;
  else if (now == BLOCK_FRAMES) wholeBlocks++;
}

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
  assert(total <= MAX_BLOCKS * BLOCK_FRAMES, "framesInit: more machine RAM than the block counts cover");
  blockCursor = 0;
  const blocks = (total + BLOCK_FRAMES - 1) >> BLOCK_SHIFT;
  for (let b: u32 = 0; b < blocks; b++) store<u16>(blockAddr(b), <u16>min<u32>(BLOCK_FRAMES, total - (b << BLOCK_SHIFT)));
  wholeBlocks = total >> BLOCK_SHIFT;
}

/** Allocates a zero-filled frame of `kind`, with one reference; NO_FRAME when none is left. */
export function frameAlloc(kind: u32): MPN { return allocFrame(kind, true); }

/**
 * frameAlloc for a caller that writes all 4 KiB of the frame before anything reads it (a page
 * copy, a swap-in, a decompression): a recycled frame is not zero-filled first.
 */
export function frameAllocOverwrite(kind: u32): MPN { return allocFrame(kind, false); }

/** The MPN the next frameAlloc will return (the free list's head, else the watermark); NO_FRAME when none is left. */
export function frameNext(): MPN { return freeHead != NO_FRAME ? freeHead : watermark < total ? watermark : NO_FRAME; }

/** A frame of `kind` with one reference, zero-filled when `zero`; NO_FRAME when none is left. */
// @ts-ignore: decorator
@inline function allocFrame(kind: u32, zero: bool): MPN {
  if (DEBUG) assert(kind > <u32>FrameKind.Free && kind < <u32>FrameKind.COUNT, "frameAlloc: bad kind");
  let mpn: MPN;
  if (freeHead != NO_FRAME) {
    mpn = freeHead;
    const e = entry(mpn);
    freeHead = load<u32>(e, 8);
    if (freeHead != NO_FRAME) store<u32>(entry(freeHead), NO_FRAME, 12);
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
  blockAdd(mpn, -1);
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
    listPush(mpn);
    blockAdd(mpn, 1);
  }
  return r;
}

/** Puts free frame `mpn` at the head of the free list. */
function listPush(mpn: u32): void {
  const e = entry(mpn);
  store<u32>(e, freeHead, 8);
  store<u32>(e, NO_FRAME, 12);
  if (freeHead != NO_FRAME) store<u32>(entry(freeHead), mpn, 12);
  freeHead = mpn;
  freeCount++;
}

/** Takes free frame `mpn` out of the free list, wherever it is. */
function listUnlink(mpn: u32): void {
  const e = entry(mpn);
  const next = load<u32>(e, 8), prev = load<u32>(e, 12);
  if (prev != NO_FRAME) store<u32>(entry(prev), next, 8); else freeHead = next;
  if (next != NO_FRAME) store<u32>(entry(next), prev, 12);
  freeCount--;
}

/**
 * Allocates a whole aligned block of BLOCK_FRAMES free frames of `kind`, zero-filled, each with
 * one reference (owner words 0): a 2 MiB large page. Returns its first MPN, or NO_FRAME when no
 * block is wholly free. Blocks are searched next fit from the last one taken.
 */
export function frameAllocBlock(kind: u32): u32 {
  if (DEBUG) assert(kind > <u32>FrameKind.Free && kind < <u32>FrameKind.COUNT, "frameAllocBlock: bad kind");
  if (wholeBlocks == 0) return NO_FRAME;
  const blocks = total >> BLOCK_SHIFT; // a partial last block is never whole
  let b: u32 = NO_FRAME;
  for (let i: u32 = 0; i < blocks; i++) {
    let c = blockCursor + i;
    if (c >= blocks) c -= blocks;
    if (<u32>load<u16>(blockAddr(c)) == BLOCK_FRAMES) { b = c; break; }
  }
  if (b == NO_FRAME) return NO_FRAME;
  blockCursor = b;
  const first = b << BLOCK_SHIFT, end = first + BLOCK_FRAMES;
  // frames between the watermark and the block were never handed out: they join the list, zero
  for (let m = watermark; m < first; m++) {
    store<u32>(entry(m), <u32>FrameKind.Free | ZEROED, 4);
    listPush(m);
  }
  for (let m = first; m < end; m++) {
    const e = entry(m);
    if (m < watermark) {
      listUnlink(m);
      if (!(load<u32>(e, 4) & ZEROED)) memory.fill(frameAddr(m), 0, PAGE_SIZE);
    }
    store<u32>(e, 1);
    store<u32>(e, kind, 4);
    store<u32>(e, 0, 8);
    store<u32>(e, 0, 12);
  }
  if (watermark < end) watermark = end;
  store<u16>(blockAddr(b), 0);
  wholeBlocks--;
  const k = used + (<usize>kind << 2);
  store<u32>(k, load<u32>(k) + BLOCK_FRAMES);
  return first;
}

/** Free frames of block `b` (the count kept as frames come and go). */
export function frameBlockFree(b: u32): u32 { return b < MAX_BLOCKS ? <u32>load<u16>(blockAddr(b)) : 0; }

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
  let prev = NO_FRAME;
  for (let m = freeHead; m != NO_FRAME; m = load<u32>(entry(m), 8)) {
    const k = m < watermark ? load<u32>(entry(m), 4) & KIND_MASK : NONE;
    if (m >= watermark || load<u32>(entry(m)) != 0 || k != <u32>FrameKind.Free) return withKind(fail(AUDIT_FRAME_FREE_LIST, NONE, NONE, m), k);
    // the list is doubly linked (frameAllocBlock unlinks from its middle)
    if (load<u32>(entry(m), 12) != prev) return withCounts(fail(AUDIT_FRAME_FREE_LIST, NONE, NONE, m), prev, load<u32>(entry(m), 12));
    if (++n > freeCount) return withCounts(fail(AUDIT_FRAME_FREE_LIST, NONE, NONE, m), freeCount, n); // too long, or a cycle
    prev = m;
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
  // the free frames of each 2 MiB block, and the blocks wholly free, as large pages find them
  const blocks = (total + BLOCK_FRAMES - 1) >> BLOCK_SHIFT;
  let whole: u32 = 0;
  for (let b: u32 = 0; b < blocks; b++) {
    const lo = b << BLOCK_SHIFT, hi = min<u32>(total, lo + BLOCK_FRAMES);
    let free: u32 = 0;
    for (let m = lo; m < hi; m++) if (m >= watermark || load<u32>(entry(m)) == 0) free++;
    const kept = <u32>load<u16>(blockAddr(b));
    if (free != kept) return withCounts(fail(AUDIT_FRAME_BLOCKS, NONE, NONE, lo), free, kept);
    if (free == BLOCK_FRAMES) whole++;
  }
  if (whole != wholeBlocks) return withCounts(fail(AUDIT_FRAME_BLOCKS, NONE, NONE, NONE), whole, wholeBlocks);
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
/** Adds `delta` to the kept free count of the block of `mpn`, touching no frame. */
export function framesDebugSkewBlock(mpn: u32, delta: i32): void {
  const a = blockAddr(mpn >> BLOCK_SHIFT);
  store<u16>(a, <u16>(<i32>load<u16>(a) + delta));
}
