/**
 * reclaim (guest side): how the guest OS model finds pages when its balloon driver inflates or
 * its processes need memory, in the order a Linux guest does:
 *
 *   1. free pages             guestTake(.., TAKE_FREE)      off the free list
 *   2. the page cache         guestTake(.., TAKE_CACHE)     clean: dropped, nothing written
 *                             guestDropCache               (to the free list, for allocations)
 *   3. guest swap             guestSwapSelect -> TypeScript writes the listed pages to the
 *                             guest's swap device -> guestSwapCommit frees (or balloons) them
 *
 * Swap victims come from a clock over GPPNs owned by virtual pages: a page whose REF bit is set
 * (touched since the hand last passed) gets a second chance. Reading a victim goes through the
 * host's fault path: a victim the host had already swapped out (or compressed) must first come
 * back in before the guest can write it out: double paging, counted (DoublePaging).
 *
 * guestSwapIn brings a virtual page back from guest swap into a free GPPN (TypeScript read it).
 */

import {
  S, hdr, sget, sset, sadd, setOwner, ownerAddr, okind, oword, vpAddr, NONE, NIL, LOC_MASK, REF, FILL,
  SWAPPED, O_INDEX, O_CACHE, O_VPAGE, O_BALLOON, R_DONE, R_HOST, R_GUEST_FREE, R_MORE, VICTIM_ENTRY, Victim,
} from "./state";
import { freePop, freePush, faultStop } from "./alloc";
import { gosUnmap } from "./paging";
import { pmapAddr, pstate, PState, FAULT_MIN } from "../reclaim/pmap";
import { pmapFault } from "../reclaim/fault";
import { frameAddr } from "../ram/frames";
import { PAGE_SIZE } from "../ram/memmap";

export const TAKE_FREE: u32 = 0;
export const TAKE_CACHE: u32 = 1;

/**
 * Takes up to `n` pages for the balloon (owner O_BALLOON) from the free list (TAKE_FREE) or by
 * dropping page cache pages (TAKE_CACHE), listing their GPPNs (u32) at `out`. Returns how many.
 */
export function guestTake(vm: u32, n: u32, what: u32, out: usize): u32 {
  const h = hdr(vm);
  let k: u32 = 0;
  if (what == TAKE_FREE) {
    while (k < n) {
      const g = freePop(h);
      if (g == NIL) break;
      setOwner(h, g, oword(O_BALLOON, 0));
      store<u32>(out + (<usize>(k++) << 2), g);
    }
    return k;
  }
  const pages = <u32>sget(h, S.Pages);
  let g = <u32>sget(h, S.CacheHand);
  for (let seen: u32 = 0; seen < pages && k < n; seen++, g = g + 1 < pages ? g + 1 : 0) {
    if (okind(load<u32>(ownerAddr(h, g))) != O_CACHE) continue;
    setOwner(h, g, oword(O_BALLOON, 0));
    store<u32>(out + (<usize>(k++) << 2), g);
    sadd(h, S.CacheDropped, 1);
  }
  sset(h, S.CacheHand, g);
  return k;
}

/** Drops up to `n` page cache pages to the free list (the guest needs memory); returns how many. */
export function guestDropCache(vm: u32, n: u32): u32 {
  const h = hdr(vm);
  const pages = <u32>sget(h, S.Pages);
  let g = <u32>sget(h, S.CacheHand);
  let k: u32 = 0;
  for (let seen: u32 = 0; seen < pages && k < n; seen++, g = g + 1 < pages ? g + 1 : 0) {
    if (okind(load<u32>(ownerAddr(h, g))) != O_CACHE) continue;
    freePush(h, g);
    sadd(h, S.CacheDropped, 1);
    k++;
  }
  sset(h, S.CacheHand, g);
  return k;
}

/** Lists up to `n` ballooned GPPNs at `out` (u32) for a deflate; their owner stays O_BALLOON until guestFreeBalloon. */
export function guestDeflateSelect(vm: u32, n: u32, out: usize): u32 {
  const h = hdr(vm);
  const pages = <u32>sget(h, S.Pages);
  let g = <u32>sget(h, S.BalloonHand);
  let k: u32 = 0;
  for (let seen: u32 = 0; seen < pages && k < n; seen++, g = g + 1 < pages ? g + 1 : 0) {
    if (okind(load<u32>(ownerAddr(h, g))) != O_BALLOON) continue;
    store<u32>(out + (<usize>(k++) << 2), g);
  }
  sset(h, S.BalloonHand, g);
  return k;
}

/** True if `g` is among the first `k` victims listed at `out`. */
function listed(out: usize, k: u32, g: u32): bool {
  for (let i: u32 = 0; i < k; i++) if (load<u32>(out + <usize>i * VICTIM_ENTRY + <usize>Victim.Gppn) == g) return true;
  return false;
}

/**
 * Chooses up to `n` guest swap victims (clock over GPPNs held by virtual pages, second chance
 * for REF) and copies each one's 4 KiB into `buf` + 4096 i, listing one VICTIM_ENTRY per page
 * at `out`. Reading a victim goes through the host fault path: R_HOST when the host must act first
 * (resumable; BatchN holds the pages listed so far). A victim the host holds swapped or
 * compressed is counted as double paging. R_DONE with BatchN victims (fewer: no more candidates).
 * The hand visits each GPPN at most twice per batch (BatchM counts the visits across calls).
 */
export function guestSwapSelect(vm: u32, n: u32, out: usize, buf: usize): u32 {
  const h = hdr(vm);
  const pages = <u32>sget(h, S.Pages);
  let k = <u32>sget(h, S.BatchN);
  let g = <u32>sget(h, S.Hand);
  let cand = <u32>sget(h, S.PendGppn); // a victim whose read met a host fault: read it first
  let scanned = <u32>sget(h, S.BatchM); // across the calls of one batch (a host fault ends a call)
  while (k < n) {
    if (cand == NIL) {
      if (scanned++ >= 2 * pages) break;
      const o = load<u32>(ownerAddr(h, g));
      const here = g;
      g = g + 1 < pages ? g + 1 : 0;
      if (okind(o) != O_VPAGE) continue;
      // past one round the hand meets pages it listed already (they stay the guest's until the commit)
      if (scanned > pages && listed(out, k, here)) continue;
      const a = vpAddr(h, o & O_INDEX);
      const w = load<u32>(a);
      if (w & FILL) continue;
      if (w & REF) {
        store<u32>(a, w & ~REF);
        continue;
      }
      const st = pstate(load<u64>(pmapAddr(vm, here)));
      if (st == <u32>PState.Swapped || st == <u32>PState.Compressed) sadd(h, S.DoublePaging, 1);
      cand = here;
    }
    const mpn = pmapFault(vm, cand, false);
    if (mpn >= FAULT_MIN) {
      sset(h, S.Hand, g);
      sset(h, S.PendGppn, cand);
      sset(h, S.BatchN, k);
      sset(h, S.BatchM, scanned);
      sset(h, S.RGppn, cand);
      sset(h, S.RCode, mpn);
      return R_HOST;
    }
    memory.copy(buf + (<usize>k << 12), frameAddr(mpn), PAGE_SIZE);
    const o = out + <usize>k * VICTIM_ENTRY;
    store<u32>(o + <usize>Victim.Gppn, cand);
    store<u32>(o + <usize>Victim.Vp, load<u32>(ownerAddr(h, cand)) & O_INDEX);
    k++;
    cand = NIL;
  }
  sset(h, S.PendGppn, NIL);
  sset(h, S.Hand, g);
  sset(h, S.BatchN, k);
  sset(h, S.BatchM, 0);
  return R_DONE;
}

/**
 * Commits `n` victims listed by guestSwapSelect whose pages TypeScript wrote to guest swap:
 * slot i (u32 at `slots`; NONE: the write failed, the page stays) becomes the virtual page's
 * location, and the GPPN goes to the balloon (`toBalloon`) or the free list. With an MMU the
 * page is unmapped first (resumable: R_HOST from Cursor). Pages of a balloon commit are listed
 * at `out` (u32); BatchN counts them.
 */
export function guestSwapCommit(vm: u32, list: usize, slots: usize, n: u32, toBalloon: bool, out: usize): u32 {
  const h = hdr(vm);
  const ctx = <u32>sget(h, S.Ctx);
  let k = <u32>sget(h, S.BatchN);
  for (let i = <u32>sget(h, S.Cursor); i < n; i++) {
    const slot = load<u32>(slots + (<usize>i << 2));
    if (slot == NONE) continue;
    const e = list + <usize>i * VICTIM_ENTRY;
    const g = load<u32>(e + <usize>Victim.Gppn);
    const vp = load<u32>(e + <usize>Victim.Vp);
    if (ctx != NONE && !gosUnmap(ctx, vm, sget(h, S.VaBase) + (<u64>vp << 12))) {
      sset(h, S.Cursor, i);
      sset(h, S.BatchN, k);
      return faultStop(h);
    }
    const a = vpAddr(h, vp);
    store<u32>(a, (load<u32>(a) & ~(LOC_MASK | REF)) | SWAPPED | slot);
    if (toBalloon) {
      setOwner(h, g, oword(O_BALLOON, 0));
      store<u32>(out + (<usize>(k++) << 2), g);
    } else {
      freePush(h, g);
    }
    sadd(h, S.SwapHeld, 1);
    sadd(h, S.GuestSwapOut, 1);
  }
  sset(h, S.Cursor, 0);
  sset(h, S.BatchN, k);
  return R_DONE;
}

/**
 * Brings virtual page `vp` back from guest swap: its 4 KiB (read and verified by TypeScript) at
 * `src` goes into a free GPPN through the host fault path. R_GUEST_FREE when no page is free
 * (TypeScript reclaims, then calls again), R_HOST on a host fault (the GPPN stays reserved in
 * PendGppn), R_DONE with the page resident (TypeScript frees the slot).
 */
export function guestSwapIn(vm: u32, vp: u32, src: usize): u32 {
  const h = hdr(vm);
  let g = <u32>sget(h, S.PendGppn);
  if (g == NIL) {
    g = freePop(h);
    if (g == NIL) return R_GUEST_FREE;
    setOwner(h, g, oword(O_VPAGE, vp));
    sset(h, S.PendGppn, g);
  }
  const mpn = pmapFault(vm, g, true);
  if (mpn >= FAULT_MIN) {
    sset(h, S.RGppn, g);
    sset(h, S.RCode, mpn);
    return R_HOST;
  }
  memory.copy(frameAddr(mpn), src, PAGE_SIZE);
  const a = vpAddr(h, vp);
  store<u32>(a, (load<u32>(a) & ~(LOC_MASK | SWAPPED)) | REF | g);
  sset(h, S.PendGppn, NIL);
  sset(h, S.SwapHeld, sget(h, S.SwapHeld) - 1);
  sadd(h, S.GuestSwapIn, 1);
  return R_DONE;
}

/** Resets the resumable state of a batch (before a new select or commit). */
export function guestBatchReset(vm: u32): void {
  const h = hdr(vm);
  sset(h, S.Cursor, 0);
  sset(h, S.BatchN, 0);
  sset(h, S.BatchM, 0);
  sset(h, S.PendGppn, NIL);
}

export { R_MORE };
