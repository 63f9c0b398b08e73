/**
 * zpool: slots for compressed pages, carved from machine frames (FrameKind.Zpool).
 *
 * Two size classes, as in ESX's compression cache: a page that compresses to <= 1 KiB takes a
 * 1 KiB slot, one that compresses to <= 2 KiB a 2 KiB slot. A frame holds slots of one class.
 *
 *   zpool frame (4 KiB, class 0)      zpool frame (4 KiB, class 1)
 *   +--------+--------+--------+--------+   +-----------------+-----------------+
 *   | sub 0  | sub 1  | sub 2  | sub 3  |   | sub 0           | sub 2           |
 *   +--------+--------+--------+--------+   +-----------------+-----------------+
 *
 * Slot id = MPN << 2 | sub, where sub counts 1 KiB units into the frame; its address is
 * frameAddr(MPN) + sub * 1 KiB. Every possible slot id has a metadata entry (ZSLOT_ENTRY =
 * 16 bytes, region zslots, indexed by slot id):
 *
 *   +0  u32 prev   doubly linked list: the class free list while free, the owner's LRU while used
 *   +4  u32 next
 *   +8  u32 gppn   owner's guest page (used slots)
 *   +12 u16 vm     owner VM (used slots)
 *   +14 u16 len    compressed bytes stored, 1..slot size; 0 while free
 *
 * The frame table entry of a zpool frame holds its class in `link` and its used slots in `aux`.
 * Free slots of each class form a doubly linked list, so alloc and free are O(1), and when a
 * frame's last slot is freed its other slots are unlinked (at most 3) and the frame goes back
 * to the allocator.
 *
 * Per VM, the zpool frames holding at least one of its slots are counted as slots come and go
 * (a frame's siblings are checked, at most 3): what the VM's zip cache costs in machine memory,
 * fragmentation included, so reclaim and reservations can charge it to the VM.
 *
 * Invariants:
 *   - a slot is on its class free list iff len == 0 and its frame is a zpool frame;
 *   - vmFrames[vm] == number of zpool frames with a used slot owned by vm;
 *   - aux of a zpool frame == its used slots, in 1 .. slots per frame (an empty frame is freed);
 *   - slotsUsed[c] == sum of aux over frames of class c; frames[c] * perFrame[c] == used + free.
 */

import { Region, regionOffset } from "./memmap";
import {
  frameAlloc, framePut, frameAddr, frameLink, frameSetLink, frameAux, frameSetAux, frameKind, framesTotal, framesUsed, NO_FRAME, FrameKind,
} from "./frames";
import { AUDIT_OK, AUDIT_ZPOOL_FREE_LIST, AUDIT_ZPOOL_FRAMES, AUDIT_ZPOOL_FRAME, AUDIT_ZPOOL_COUNTS } from "./invariants";
import { fail, withCounts, withSlot } from "./failure";
import { GPPN, ZSlot } from "./addr";

/** Slot ids are MPN << 2 | sub; this one is none. */
export const NO_SLOT: u32 = 0xFFFFFFFF;
/** Size classes: 1 KiB and 2 KiB slots. */
export const ZCLASS_1K: u32 = 0;
export const ZCLASS_2K: u32 = 1;
export const ZCLASSES: u32 = 2;
const NONE: u32 = 0xFFFFFFFF;

const freeHead = memory.data(<i32>ZCLASSES * 4, 4);
const slotsUsed = memory.data(<i32>ZCLASSES * 4, 4);
const framesOf = memory.data(<i32>ZCLASSES * 4, 4);
let storedBytes: u64 = 0;
/** Most VM ids counted (the engine holds at most 4096 VMs: src/engine/engine.ts maxVMs). */
const ZPOOL_MAX_VMS: u32 = 4096;
/** Zpool frames holding a slot of each VM (u32 per VM id). */
const vmFrames = memory.data(<i32>ZPOOL_MAX_VMS * 4, 4);

/** Bytes of a slot of class `c`. */
// @ts-ignore: decorator
@inline export function zslotBytes(c: u32): u32 { return 1024 << c; }
/** Class of the smallest slot that holds `len` compressed bytes (len <= 2048). */
// @ts-ignore: decorator
@inline export function zclassFor(len: u32): u32 { return len <= 1024 ? ZCLASS_1K : ZCLASS_2K; }
/** Metadata entry of slot `s`. */
// @ts-ignore: decorator
@inline function meta(s: ZSlot): usize { return regionOffset(Region.Zslots) + (<usize>s << 4); }
/** Address of the bytes of slot `s`. */
// @ts-ignore: decorator
@inline export function zslotAddr(s: ZSlot): usize { return frameAddr(s >> 2) + (<usize>(s & 3) << 10); }
// @ts-ignore: decorator
@inline function ld(p: usize): u32 { return load<u32>(p); }
// @ts-ignore: decorator
@inline function st(p: usize, v: u32): void { store<u32>(p, v); }

/** Sets up empty free lists; called once by init. */
export function zpoolInit(): void {
  for (let c: u32 = 0; c < ZCLASSES; c++) {
    st(freeHead + (<usize>c << 2), NO_SLOT);
    st(slotsUsed + (<usize>c << 2), 0);
    st(framesOf + (<usize>c << 2), 0);
  }
  storedBytes = 0;
  memory.fill(vmFrames, 0, <usize>ZPOOL_MAX_VMS * 4);
}

/** True if a used slot of frame `mpn` other than `s` belongs to `vm`. */
function frameHasOther(mpn: u32, s: u32, vm: u32): bool {
  const step: u32 = 1 << frameLink(mpn);
  for (let sub: u32 = 0; sub < 4; sub += step) {
    const o = (mpn << 2) | sub;
    if (o != s && load<u16>(meta(o) + 14) != 0 && <u32>load<u16>(meta(o) + 12) == vm) return true;
  }
  return false;
}

/** Adds `d` (+1 / -1) to the zpool frames of `vm`. */
// @ts-ignore: decorator
@inline function vmFramesAdd(vm: u32, d: i32): void {
  if (DEBUG) assert(vm < ZPOOL_MAX_VMS, "zpool: VM id beyond the counted ones");
  const a = vmFrames + (<usize>vm << 2);
  store<u32>(a, <u32>(<i32>load<u32>(a) + d));
}

/** Pushes free slot `s` onto the free list of class `c`. */
function pushFree(c: u32, s: ZSlot): void {
  const h = ld(freeHead + (<usize>c << 2));
  const m = meta(s);
  st(m, NO_SLOT);
  st(m + 4, h);
  store<u16>(m + 14, 0);
  if (h != NO_SLOT) st(meta(h), s);
  st(freeHead + (<usize>c << 2), s);
}

/** Unlinks free slot `s` from the free list of class `c`. */
function unlinkFree(c: u32, s: ZSlot): void {
  const m = meta(s);
  const p = ld(m), n = ld(m + 4);
  if (p != NO_SLOT) st(meta(p) + 4, n); else st(freeHead + (<usize>c << 2), n);
  if (n != NO_SLOT) st(meta(n), p);
}

/** True if a slot of class `c` can be had without taking a new frame. */
export function zpoolHasFree(c: u32): bool { return ld(freeHead + (<usize>c << 2)) != NO_SLOT; }

/**
 * Allocates a slot of class `c` for `len` bytes owned by (vm, gppn); NO_SLOT when the class has
 * no free slot and machine RAM has no free frame. The slot's list links are left to the owner.
 */
export function zslotAlloc(c: u32, len: u32, vm: u32, gppn: GPPN): ZSlot {
  if (DEBUG) assert(c < ZCLASSES && len > 0 && len <= zslotBytes(c), "zslotAlloc: bad class or length");
  let s = ld(freeHead + (<usize>c << 2));
  if (s == NO_SLOT) {
    const mpn = frameAlloc(<u32>FrameKind.Zpool);
    if (mpn == NO_FRAME) return NO_SLOT;
    frameSetLink(mpn, c);
    frameSetAux(mpn, 0);
    const step: u32 = 1 << c;
    // push the higher slots first so the lowest is handed out first
    for (let sub: u32 = 4 - step; sub > 0; sub -= step) pushFree(c, (mpn << 2) | sub);
    st(framesOf + (<usize>c << 2), ld(framesOf + (<usize>c << 2)) + 1);
    s = mpn << 2;
  } else {
    unlinkFree(c, s);
  }
  const mpn = s >> 2;
  if (!frameHasOther(mpn, s, vm)) vmFramesAdd(vm, 1);
  frameSetAux(mpn, frameAux(mpn) + 1);
  const m = meta(s);
  st(m, NO_SLOT);
  st(m + 4, NO_SLOT);
  st(m + 8, gppn);
  store<u16>(m + 12, <u16>vm);
  store<u16>(m + 14, <u16>len);
  st(slotsUsed + (<usize>c << 2), ld(slotsUsed + (<usize>c << 2)) + 1);
  storedBytes += len;
  return s;
}

/** Frees used slot `s` (already unlinked from its owner's list); frees its frame when it empties. */
export function zslotFree(s: ZSlot): void {
  const mpn = s >> 2;
  const c = frameLink(mpn);
  const m = meta(s);
  if (DEBUG) assert(load<u16>(m + 14) != 0, "zslotFree: slot is already free");
  const vm = <u32>load<u16>(m + 12);
  if (!frameHasOther(mpn, s, vm)) vmFramesAdd(vm, -1);
  storedBytes -= load<u16>(m + 14);
  st(slotsUsed + (<usize>c << 2), ld(slotsUsed + (<usize>c << 2)) - 1);
  const used = frameAux(mpn) - 1;
  frameSetAux(mpn, used);
  if (used == 0) {
    const step: u32 = 1 << c;
    for (let sub: u32 = 0; sub < 4; sub += step) {
      const o = (mpn << 2) | sub;
      if (o != s) unlinkFree(c, o);
    }
    store<u16>(m + 14, 0);
    st(framesOf + (<usize>c << 2), ld(framesOf + (<usize>c << 2)) - 1);
    framePut(mpn);
  } else {
    pushFree(c, s);
  }
}

/** Compressed bytes stored in slot `s` (0 when free). */
export function zslotLen(s: ZSlot): u32 { return load<u16>(meta(s) + 14); }
/** Class of slot `s`. */
export function zslotClass(s: ZSlot): u32 { return frameLink(s >> 2); }
/** Owner of used slot `s`. */
export function zslotVm(s: ZSlot): u32 { return load<u16>(meta(s) + 12); }
export function zslotGppn(s: ZSlot): u32 { return ld(meta(s) + 8); }
/** Owner-list links of used slot `s`. */
export function zslotPrev(s: ZSlot): u32 { return ld(meta(s)); }
export function zslotNext(s: ZSlot): u32 { return ld(meta(s) + 4); }
export function zslotSetPrev(s: ZSlot, v: u32): void { st(meta(s), v); }
export function zslotSetNext(s: ZSlot, v: u32): void { st(meta(s) + 4, v); }

/** Used slots of class `c`. */
export function zpoolSlotsUsed(c: u32): u32 { return c < ZCLASSES ? ld(slotsUsed + (<usize>c << 2)) : 0; }
/** Frames of class `c`. */
export function zpoolFrames(c: u32): u32 { return c < ZCLASSES ? ld(framesOf + (<usize>c << 2)) : 0; }
/** Zpool frames holding at least one slot of `vm` (its zip cache's machine memory, fragmentation included). */
export function zpoolVmFrames(vm: u32): u32 { return vm < ZPOOL_MAX_VMS ? load<u32>(vmFrames + (<usize>vm << 2)) : 0; }
/** Recounts the zpool frames holding a slot of `vm` from the slots of the list starting at `head` (linked by next); for the audit. */
export function zpoolVmFramesRecount(vm: u32, head: u32): u32 {
  let n: u32 = 0;
  for (let s = head; s != NO_SLOT; s = zslotNext(s)) {
    // count each frame once: at the lowest of its slots that this VM owns
    const mpn = s >> 2;
    let lower = false;
    for (let sub: u32 = 0; sub < (s & 3); sub += <u32>1 << frameLink(mpn)) {
      const o = (mpn << 2) | sub;
      if (load<u16>(meta(o) + 14) != 0 && <u32>load<u16>(meta(o) + 12) == vm) { lower = true; break; }
    }
    if (!lower) n++;
  }
  return n;
}
/** Compressed bytes stored in all slots. */
export function zpoolStoredBytes(): f64 { return <f64>storedBytes; }
/** Bytes of zpool frames not holding compressed data (slot tails and free slots). */
export function zpoolWastedBytes(): f64 {
  return <f64>((<u64>(zpoolFrames(0) + zpoolFrames(1)) << 12) - storedBytes);
}

const recount = memory.data(<i32>ZCLASSES * 8, 4);

/**
 * Checks the pool: each class's free list (back links, only free slots of its class in zpool
 * frames, no cycle); the pool's frame count against the frames of kind zpool; every zpool frame's
 * used-slot count (frame aux) against its slots' lengths; and per class, frames and used slots
 * recounted against the counters, free + used == frames x slots per frame. AUDIT_OK, or the code
 * of the first broken invariant (failure.ts says where).
 */
export function zpoolAudit(): u32 {
  const total = framesTotal();
  for (let c: u32 = 0; c < ZCLASSES; c++) {
    let free: u32 = 0;
    let prev = NO_SLOT;
    for (let s = ld(freeHead + (<usize>c << 2)); s != NO_SLOT; s = ld(meta(s) + 4)) {
      const m = s >> 2;
      if (m >= total || frameKind(m) != <u32>FrameKind.Zpool || ld(meta(s)) != prev || load<u16>(meta(s) + 14) != 0 || frameLink(m) != c) {
        return withSlot(fail(AUDIT_ZPOOL_FREE_LIST, NONE, NONE, m < total ? m : NONE), s);
      }
      prev = s;
      if (++free > zpoolFrames(c) * 4) return withSlot(fail(AUDIT_ZPOOL_FREE_LIST, NONE, NONE, m), s); // a cycle
    }
    store<u32>(recount + (<usize>c << 3), free);
  }
  const frames = zpoolFrames(0) + zpoolFrames(1);
  if (frames != framesUsed(<u32>FrameKind.Zpool)) return withCounts(fail(AUDIT_ZPOOL_FRAMES, NONE, NONE, NONE), framesUsed(<u32>FrameKind.Zpool), frames);
  let used0: u32 = 0, used1: u32 = 0, frames0: u32 = 0, frames1: u32 = 0;
  // the frames of kind zpool are as many as the pool counts (above): stop at the last one
  for (let m: u32 = 0; m < total && frames0 + frames1 < frames; m++) {
    if (frameKind(m) != <u32>FrameKind.Zpool) continue;
    const c = frameLink(m);
    if (c >= ZCLASSES) return withCounts(fail(AUDIT_ZPOOL_FRAME, NONE, NONE, m), ZCLASSES - 1, c);
    let n: u32 = 0;
    for (let sub: u32 = 0; sub < 4; sub += 1 << c) if (load<u16>(meta((m << 2) | sub) + 14) != 0) n++;
    if (n == 0 || n != frameAux(m)) return withCounts(fail(AUDIT_ZPOOL_FRAME, NONE, NONE, m), n, frameAux(m));
    if (c == 0) { used0 += n; frames0++; } else { used1 += n; frames1++; }
  }
  for (let c: u32 = 0; c < ZCLASSES; c++) {
    const usedRe = c == 0 ? used0 : used1, framesRe = c == 0 ? frames0 : frames1;
    if (framesRe != zpoolFrames(c)) return withCounts(fail(AUDIT_ZPOOL_COUNTS, NONE, NONE, NONE), framesRe, zpoolFrames(c));
    if (usedRe != zpoolSlotsUsed(c)) return withCounts(fail(AUDIT_ZPOOL_COUNTS, NONE, NONE, NONE), usedRe, zpoolSlotsUsed(c));
    const free = load<u32>(recount + (<usize>c << 3));
    if (free + usedRe != framesRe * (4 >> c)) return withCounts(fail(AUDIT_ZPOOL_COUNTS, NONE, NONE, NONE), framesRe * (4 >> c), free + usedRe);
  }
  return AUDIT_OK;
}

// ---- debug-only corruption (assembly/debug.ts calls these in the debug build only) -----------------

/** Head of the free list of class `c` (NO_SLOT when empty). */
export function zpoolDebugFreeHead(c: u32): u32 { return ld(freeHead + (<usize>c << 2)); }
/** Overwrites the stored length of slot `s`. */
export function zpoolDebugSetLen(s: ZSlot, len: u32): void { store<u16>(meta(s) + 14, <u16>len); }
/** Overwrites the owner VM of slot `s`. */
export function zpoolDebugSetVm(s: ZSlot, vm: u32): void { store<u16>(meta(s) + 12, <u16>vm); }
/** Adds `delta` to the count of zpool frames holding a slot of `vm`. */
export function zpoolDebugSkewVmFrames(vm: u32, delta: i32): void { vmFramesAdd(vm, delta); }
/** Takes free slot `s` of class `c` off its free list and nowhere else (a leaked slot). */
export function zpoolDebugUnlinkFree(c: u32, s: ZSlot): void { unlinkFree(c, s); }
