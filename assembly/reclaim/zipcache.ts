/**
 * zip cache: each VM's compression cache (ESX 4.1+ rules), kept in zpool slots.
 *
 * A page chosen for reclamation is compressed with LZ4 and kept only when it fits a slot:
 * <= 1 KiB -> 1 KiB slot, <= 2 KiB -> 2 KiB slot; otherwise it goes to swap. Each VM may hold
 * at most `cacheCap` bytes of slots (VM table); when a new page does not fit, the least
 * recently compressed pages are decompressed and handed to swap (reclaim.ts).
 *
 * Per-VM LRU list through the zpool slot metadata (prev/next), newest at the head:
 *
 *   vm.lruHead -> [slot] <-> [slot] <-> ... <-> [slot] <- vm.lruTail   (oldest, evicted first)
 *
 * A compressed page is never accessed in place (an access decompresses it into a fresh frame
 * and frees the slot), so compression order is recency order.
 *
 * The cache is a cap, not a reservation: its frames are taken back when another VM or a
 * reservation needs them, by evicting the oldest compressed pages to swap (pageout.ts reclaimEvict).
 *
 * Host-wide pool cap (zswap max_pool_percent, for the kvm policy): with a cap of N frames, a page
 * that needs a new zpool frame while the pool holds N goes to swap instead, and the pool takes
 * no page at all until it has shrunk to ZSWAP_ACCEPT_PERCENT of the cap
 * (Linux zswap: pool_reached_full, accept_threshold_percent 90). 0: no cap (ESX: only the
 * per-VM cap).
 *
 * Invariants:
 *   - a VM's list holds exactly its Compressed pages' slots, each slot's owner is (vm, gppn);
 *   - cacheSz == sum of slot bytes, cacheUsd == sum of compressed lengths over the list;
 *   - the zpool's count of the VM's frames equals the distinct frames of the slots on the list.
 */

import {
  VmF, VmCounter, PState, vmGet, vmSet, vmBump, pmapAddr, pmapSet, pentry, pstate, pframe,
  guestAlloc, vmCount_, FAULT_MIN, FAULT_NO_FRAME, PENDING,
} from "./pmap";
import { zslotAlloc, zslotFree, zslotAddr, zslotLen, zslotClass, zslotBytes, zslotVm, zslotGppn,
  zslotPrev, zslotNext, zslotSetPrev, zslotSetNext, zclassFor, zpoolHasFree, zpoolVmFrames, zpoolVmFramesRecount,
  NO_SLOT } from "../ram/zpool";
import { frameAddr, frameRefs, frameAux, framesFree, framesUsed, FrameKind } from "../ram/frames";
import { pageCopy } from "../ram/page";
import { lz4Compress, lz4Decompress } from "../codec/lz4";
import { backingChanged } from "./hook";
import { PAGE_SIZE } from "../ram/memmap";
import { AUDIT_OK, AUDIT_ZIP_LRU_LIST, AUDIT_ZIP_SLOT_OWNER, AUDIT_ZIP_COUNT, AUDIT_ZIP_BYTES, AUDIT_ZIP_FRAMES } from "../ram/invariants";
import { fail, withCounts, withSlot } from "../ram/failure";
import { GPPN, MPN, ZSlot } from "../ram/addr";

/** Largest compressed page the cache keeps (a 2 KiB slot). */
export const ZIP_MAX: u32 = 2048;
const NONE: u32 = 0xFFFFFFFF;
/** Histogram of compressed sizes: 16 buckets of 256 bytes, then one for pages that did not compress below 4 KiB. */
export const ZIP_HIST_BUCKETS: u32 = 17;
/** The result record of zipSurvey: the histogram (u32 per bucket), then the u32 sum of the sizes. */
export const SURVEY_HISTOGRAM: u32 = 0;
export const SURVEY_BYTES: u32 = ZIP_HIST_BUCKETS << 2;
export const SURVEY_RECORD: u32 = SURVEY_BYTES + 4;

/** Compressor output (ZIP_MAX fits; the spare room is for the compressor's own margin). */
const ZBUF = memory.data(4096 + 512, 16);
/** A decompressed page, when no frame is free until its slot is gone. */
const PBUF = memory.data(4096, 16);
const hist = memory.data(<i32>ZIP_HIST_BUCKETS * 8, 8);

/** Pages whose compressed size fell in bucket `b` (cumulative). */
export function zipHistogram(b: u32): f64 { return b < ZIP_HIST_BUCKETS ? <f64>load<u64>(hist + (<usize>b << 3)) : 0; }

/** Compresses the page at `src` into ZBUF; returns its length, or -1 when it exceeds ZIP_MAX. */
export function zipCompress(src: usize): i32 {
  // one pass without the ZIP_MAX cap: the histogram wants the true size even above ZIP_MAX, and a
  // size that fits a cap is produced identically under any larger cap (codec.ts invariants), so
  // this is the block a ZIP_MAX-capped call would have written, without compressing twice
  const n = lz4Compress(src, PAGE_SIZE, ZBUF, 4096 + 512);
  const b: u32 = n < 0 || <u32>n >= PAGE_SIZE ? 16 : <u32>n >> 8;
  const h = hist + (<usize>b << 3);
  store<u64>(h, load<u64>(h) + 1);
  return n >= 0 && <u32>n <= ZIP_MAX ? n : -1;
}

/**
 * Compression survey: LZ4-compresses every resident private page of GPPNs [first, first + n) of
 * `vm` (Mapped state; shared and zero frames are not compressed by the cache) without changing
 * anything, and writes to `out` a survey record: ZIP_HIST_BUCKETS u32 counters (the buckets of
 * zipHistogram), then the u32 sum of the compressed sizes (a page that does not compress below
 * 4 KiB counts 4096).
 * Returns the pages surveyed. At most 2^20 pages per call, so the sum fits. What the zip cache
 * would keep, before anything is reclaimed.
 */
export function zipSurvey(vm: u32, first: u32, n: u32, out: usize): u32 {
  if (DEBUG) assert(n <= 1 << 20, "zipSurvey: at most 2^20 pages per call");
  memory.fill(out, 0, SURVEY_RECORD);
  let done: u32 = 0;
  let sum: u32 = 0;
  for (let g = first; g < first + n; g++) {
    const e = load<u64>(pmapAddr(vm, g));
    if (pstate(e) != <u32>PState.Mapped) continue;
    const c = lz4Compress(frameAddr(pframe(e)), PAGE_SIZE, ZBUF, 4096 + 512);
    const size: u32 = c < 0 || <u32>c >= PAGE_SIZE ? PAGE_SIZE : <u32>c;
    const b: usize = size >= PAGE_SIZE ? 16 : <usize>(size >> 8);
    const h = out + SURVEY_HISTOGRAM + (b << 2);
    store<u32>(h, load<u32>(h) + 1);
    sum += size;
    done++;
  }
  store<u32>(out + SURVEY_BYTES, sum);
  return done;
}

/** Pushes used slot `s` at the head (newest end) of `vm`'s LRU list. */
function lruPush(vm: u32, s: ZSlot): void {
  const h = vmGet(vm, VmF.LruHead);
  zslotSetPrev(s, NO_SLOT);
  zslotSetNext(s, h);
  if (h != NO_SLOT) zslotSetPrev(h, s); else vmSet(vm, VmF.LruTail, s);
  vmSet(vm, VmF.LruHead, s);
}

/** Unlinks slot `s` from `vm`'s LRU list. */
function lruUnlink(vm: u32, s: ZSlot): void {
  const p = zslotPrev(s), n = zslotNext(s);
  if (p != NO_SLOT) zslotSetNext(p, n); else vmSet(vm, VmF.LruHead, n);
  if (n != NO_SLOT) zslotSetPrev(n, p); else vmSet(vm, VmF.LruTail, p);
}

/** Oldest slot of `vm` whose page is not already on its way to swap; NO_SLOT if none. */
export function zipOldest(vm: u32): ZSlot {
  let s = vmGet(vm, VmF.LruTail);
  while (s != NO_SLOT && (load<u64>(pmapAddr(vm, zslotGppn(s))) & PENDING)) s = zslotPrev(s);
  return s;
}

/** Percent of the pool cap below which a full pool takes pages again (Linux zswap accept_threshold_percent). */
export const ZSWAP_ACCEPT_PERCENT: u32 = 90;
let poolCap: u32 = 0;
let poolFull = false;
let poolRejects: u64 = 0;

/** Sets the host-wide cap on zpool frames (0: none). */
export function zipSetPoolCap(frames: u32): void {
  poolCap = frames;
  poolFull = false;
}
/** The host-wide cap on zpool frames (0: none). */
export function zipPoolCap(): u32 { return poolCap; }
/** Pages refused by the full pool and sent to swap instead (cumulative). */
export function zipPoolRejects(): f64 { return <f64>poolRejects; }

/**
 * True if the host-wide cap lets a slot of class `c` be placed: the pool becomes full when a page
 * needs a new frame at the cap, and then takes nothing (not even into a free slot) until it has
 * shrunk to ZSWAP_ACCEPT_PERCENT of the cap.
 */
function poolRoom(c: u32): bool {
  if (poolCap == 0) return true;
  const used = framesUsed(<u32>FrameKind.Zpool);
  if (poolFull && <u64>used * 100 <= <u64>poolCap * ZSWAP_ACCEPT_PERCENT) poolFull = false;
  if (!poolFull && used >= poolCap && !zpoolHasFree(c)) poolFull = true;
  if (poolFull) poolRejects++;
  return !poolFull;
}

/**
 * True if a slot of class `c` can be had once resident entry `e` releases its frame (a free
 * slot, a free frame, or the victim's own frame coming free), within the host-wide pool cap.
 */
export function zipCanPlace(c: u32, e: u64): bool {
  if (!poolRoom(c)) return false;
  if (zpoolHasFree(c) || framesFree() > 0) return true;
  return pstate(e) == <u32>PState.Mapped || frameRefs(pframe(e)) == 1;
}

/**
 * Moves (vm, gppn), whose resident entry `e` the caller has just released (its frame may be the
 * one the slot is carved from), into a slot holding the `len` bytes in ZBUF (zipCanPlace said yes).
 */
export function zipStore(vm: u32, gppn: GPPN, p: usize, e: u64, len: u32): void {
  const c = zclassFor(len);
  const s = zslotAlloc(c, len, vm, gppn);
  if (DEBUG) assert(s != NO_SLOT, "zipStore: no slot although zipCanPlace");
  memory.copy(zslotAddr(s), ZBUF, len);
  lruPush(vm, s);
  vmSet(vm, VmF.CacheSz, vmGet(vm, VmF.CacheSz) + zslotBytes(c));
  vmSet(vm, VmF.CacheUsd, vmGet(vm, VmF.CacheUsd) + len);
  pmapSet(vm, p, e, pentry(PState.Compressed, s));
  vmBump(vm, VmCounter.Zip);
  backingChanged(vm, gppn);
}

/** Decompresses slot `s` into the page at `dst`. */
export function zipDecompress(s: ZSlot, dst: usize): void {
  const n = lz4Decompress(zslotAddr(s), zslotLen(s), dst, PAGE_SIZE);
  // slots are written only by zipStore from the compressor's output: a failure is a bug
  assert(n == <i32>PAGE_SIZE, "zipDecompress: slot does not decode to a page");
}

/** Frees the slot of Compressed page of `vm` (its owner's entry is being overwritten). */
export function zipDrop(vm: u32, s: ZSlot): void {
  lruUnlink(vm, s);
  vmSet(vm, VmF.CacheSz, vmGet(vm, VmF.CacheSz) - zslotBytes(zslotClass(s)));
  vmSet(vm, VmF.CacheUsd, vmGet(vm, VmF.CacheUsd) - zslotLen(s));
  zslotFree(s);
}

/** Fault on Compressed (vm, gppn): decompresses into a fresh frame; returns the MPN or a FAULT_*. */
export function zipFetch(vm: u32, gppn: GPPN, p: usize, e: u64): MPN {
  const s = pframe(e);
  // the decompressed page (or its copy) fills the whole frame: no zero-fill first
  let mpn = guestAlloc(vm, gppn, true, true);
  if (mpn == FAULT_NO_FRAME && frameAux(s >> 2) == 1) {
    // RAM is full but this slot is its frame's last: decompress aside, free the slot, retry
    zipDecompress(s, PBUF);
    zipDrop(vm, s);
    mpn = guestAlloc(vm, gppn, true, true);
    if (DEBUG) assert(mpn < FAULT_MIN, "zipFetch: freed zpool frame not reusable");
    pageCopy(frameAddr(mpn), PBUF);
  } else {
    if (mpn >= FAULT_MIN) return mpn;
    zipDecompress(s, frameAddr(mpn));
    zipDrop(vm, s);
  }
  pmapSet(vm, p, e, pentry(PState.Mapped, mpn));
  vmBump(vm, VmCounter.Unzip);
  backingChanged(vm, gppn);
  return mpn;
}

/**
 * Checks `vm`'s LRU list against its Compressed pages: back links, tail and length (no cycle);
 * each slot owned by `vm` and named by the Compressed entry of the GPPN it records; as many slots
 * as Compressed pages; CACHESZ and CACHEUSD equal to the slots' sizes and lengths; the zpool's
 * count of the VM's frames equal to the distinct frames of its slots. AUDIT_OK, or the code of
 * the first broken invariant (failure.ts says where).
 */
export function zipAudit(vm: u32): u32 {
  let n: u32 = 0, sz: u32 = 0, usd: u32 = 0;
  let prev = NO_SLOT;
  const pages = vmGet(vm, VmF.Pages);
  for (let s = vmGet(vm, VmF.LruHead); s != NO_SLOT; s = zslotNext(s)) {
    if (zslotPrev(s) != prev || ++n > pages) return withSlot(fail(AUDIT_ZIP_LRU_LIST, vm, NONE, s >> 2), s); // n > pages: a cycle
    const g = zslotGppn(s);
    if (zslotVm(s) != vm || g >= pages) return withSlot(fail(AUDIT_ZIP_SLOT_OWNER, vm, g < pages ? g : NONE, s >> 2), s);
    const e = load<u64>(pmapAddr(vm, g));
    if (pstate(e) != <u32>PState.Compressed || pframe(e) != s) return withSlot(fail(AUDIT_ZIP_SLOT_OWNER, vm, g, s >> 2), s);
    sz += zslotBytes(zslotClass(s));
    usd += zslotLen(s);
    prev = s;
  }
  if (prev != vmGet(vm, VmF.LruTail)) return withSlot(fail(AUDIT_ZIP_LRU_LIST, vm, NONE, NONE), vmGet(vm, VmF.LruTail));
  const want = vmCount_(vm, <u32>PState.Compressed);
  if (n != want) return withCounts(fail(AUDIT_ZIP_COUNT, vm, NONE, NONE), want, n);
  if (sz != vmGet(vm, VmF.CacheSz)) return withCounts(fail(AUDIT_ZIP_BYTES, vm, NONE, NONE), sz, vmGet(vm, VmF.CacheSz));
  if (usd != vmGet(vm, VmF.CacheUsd)) return withCounts(fail(AUDIT_ZIP_BYTES, vm, NONE, NONE), usd, vmGet(vm, VmF.CacheUsd));
  const frames = zpoolVmFramesRecount(vm, vmGet(vm, VmF.LruHead));
  if (frames != zpoolVmFrames(vm)) return withCounts(fail(AUDIT_ZIP_FRAMES, vm, NONE, NONE), frames, zpoolVmFrames(vm));
  return AUDIT_OK;
}

/** Debug-only corruption (assembly/debug.ts): takes slot `s` off `vm`'s LRU list and nowhere else. */
export function zipDebugUnlink(vm: u32, s: ZSlot): void { lruUnlink(vm, s); }
