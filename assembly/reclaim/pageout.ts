/**
 * reclaim: the page-out mechanism. Chooses victims by the VM's policy, compresses each into the
 * zip cache when it fits, and lists the rest for TypeScript to write to the VM's swap store.
 * Swap I/O is TypeScript's: a victim's frame is released only when `swapCommit` confirms the
 * write, so a failed write leaves the page resident and nothing is lost.
 *
 *   reclaimSelect(vm, count, policy, out, cap, pages)        (one call per batch)
 *        |  victim compresses to <= 2 KiB and the cache has room -> Compressed, done
 *        |  cache full -> oldest compressed pages decompressed into `pages`, listed  \
 *        |  otherwise  -> victim listed, PENDING (still resident)                      > out
 *        v
 *   TypeScript writes every listed page, puts the swap slot (or NO_SLOT on failure) in the list
 *        v
 *   swapCommit(vm, out, n)    listed pages -> Swapped(slot), or back to plain on failure
 *
 * Output list entry (REQ_ENTRY = 8 bytes): u32 gppn, u32 address of the page's 4 KiB (a frame
 * in machine RAM or a page of `pages`); on commit the second word is the swap slot.
 *
 *   reclaimEvict(vm, count, out, cap, pages)   the oldest compressed pages only, listed the same
 *                                              way: a zip cache giving its frames back
 *
 * Victim policies: RANDOM (ESX's default: seeded xorshift, probes then a sweep from a random
 * start) and CLOCK (an LRU approximation: a hand sweeps the VM, clearing ACCESSED bits, and
 * takes the first page found not accessed since the hand last passed).
 *
 * Before a victim is compressed or swapped: its large group, if any, is broken (large.ts: a page
 * of a 2 MiB host page cannot leave alone), and with share-first on (reclaimShareFirst, the ESX
 * policy's "share before swap") the sharing scanner visits it out of order: a victim equal to a
 * page of its domain is merged, which frees its frame without any I/O (callCtx.pageoutShared).
 *
 * Invariants: only Mapped and Shared pages are victims (a Zero page costs no frame of its own;
 * a victim share before swap finds zero stays Zero, as the domain's zero frame when it had none);
 * a PENDING page is not chosen again, and every PENDING bit is cleared by swapCommit.
 */

import {
  VmF, VmCounter, PState, vmGet, vmSet, vmBump, vmPages, vmCount_, pmapAddr, pmapSet, pentry, pstate, pframe, ACCESSED, PENDING, LARGE, SEEN,
} from "./pmap";
import { releaseResident } from "./fault";
import { largeBreak } from "./large";
import { sharePage } from "./sharing";
import { zipCompress, zipCanPlace, zipStore, zipOldest, zipDecompress, zipDrop } from "./zipcache";
import { zclassFor, zslotBytes, zslotClass, zslotGppn, zslotPrev, NO_SLOT } from "../ram/zpool";
import { frameAddr } from "../ram/frames";
import { prngSeed, rand64 } from "../ram/prng";
import { backingChanged } from "./hook";
import { GPPN } from "../ram/addr";
import { Call, callSet } from "../ram/callctx";

export const POLICY_RANDOM: u32 = 0;
export const POLICY_CLOCK: u32 = 1;
/** A page-out request (reclaimSelect and reclaimEvict list, swapCommit reads): the page, and where its 4 KiB are (then its swap slot). */
export const REQ_ENTRY: u32 = 8;
export const enum Req { Gppn = 0, Page = 4, Slot = 4 }
const NONE: u32 = 0xFFFFFFFF;
let shareFirst = false;

/** Makes reclaim visit each private victim with the sharing scanner first (share before swap). */
export function reclaimShareFirst(on: bool): void { shareFirst = on; }


/** Seeds the engine's PRNG (ram/prng.ts), which victim selection and the random scan order share. */
export function reclaimSeed(lo: u32, hi: u32): void { prngSeed(lo, hi); }

/** Why a reclaimSelect stopped (callCtx.pageoutStop): it reclaimed `count`, found no victim, or ran out of `out` entries (swap). */
export const STOP_DONE: u32 = 0;
export const STOP_NO_VICTIM: u32 = 1;
export const STOP_SWAP_FULL: u32 = 2;

/** True if entry `e` may be chosen as a victim. */
// @ts-ignore: decorator
@inline function eligible(e: u64): bool {
  const s = pstate(e);
  return (s == <u32>PState.Mapped || s == <u32>PState.Shared) && !(e & PENDING);
}

/** A victim GPPN of `vm` by `policy`, or NONE when the VM has no eligible page. */
function pickVictim(vm: u32, policy: u32): GPPN {
  const pages = vmPages(vm);
  // none mapped or shared: no sweep (a VM squeezed into its zip cache and swap would pay one
  // over its whole pmap for every page-out asked of it)
  if (pages == 0 || vmCount_(vm, <u32>PState.Mapped) + vmCount_(vm, <u32>PState.Shared) == 0) return NONE;
  if (policy == POLICY_CLOCK) {
    let hand = vmGet(vm, VmF.Hand);
    // two sweeps: the first may only clear ACCESSED bits
    for (let i: u32 = 0; i < 2 * pages; i++) {
      const g = hand;
      hand = hand + 1 == pages ? 0 : hand + 1;
      const p = pmapAddr(vm, g);
      const e = load<u64>(p);
      if (!eligible(e)) continue;
      if (e & ACCESSED) {
        store<u64>(p, (e & ~ACCESSED) | SEEN); // the working-set sampler still learns of the access
        continue;
      }
      vmSet(vm, VmF.Hand, hand);
      return g;
    }
    vmSet(vm, VmF.Hand, hand);
    return NONE;
  }
  for (let i = 0; i < 16; i++) {
    const g = <u32>(rand64() % <u64>pages);
    if (eligible(load<u64>(pmapAddr(vm, g)))) return g;
  }
  // sparse residency: sweep once from a random start so the pick still terminates
  const start = <u32>(rand64() % <u64>pages);
  for (let i: u32 = 0; i < pages; i++) {
    let g = start + i;
    if (g >= pages) g -= pages;
    if (eligible(load<u64>(pmapAddr(vm, g)))) return g;
  }
  return NONE;
}

/**
 * Chooses up to `count` victims of `vm` and reclaims them: into the zip cache when they fit,
 * else listed in `out` (at most `outCap` entries, the swap slots TypeScript has; compressed pages evicted to make room are
 * decompressed into `pages`, 4 KiB each, one per entry). Returns the entries listed; TypeScript
 * must then call swapCommit with them. The call context tells the rest (callCtx.pageout*).
 */
export function reclaimSelect(vm: u32, count: u32, policy: u32, out: usize, outCap: u32, pages: usize): u32 {
  let n: u32 = 0;
  let lastZipped: u32 = 0;
  let lastEvicted: u32 = 0;
  let lastVictims: u32 = 0;
  let lastShared: u32 = 0;
  let lastStop = STOP_DONE;
  while (lastVictims < count) {
    const g = pickVictim(vm, policy);
    if (g == NONE) {
      lastStop = STOP_NO_VICTIM;
      break;
    }
    const p = pmapAddr(vm, g);
    if (load<u64>(p) & LARGE) largeBreak(vm, g, true);
    if (shareFirst && pstate(load<u64>(p)) == <u32>PState.Mapped && sharePage(vm, g)) {
      lastShared++;
      lastVictims++;
      continue;
    }
    const e = load<u64>(p);
    const cap = vmGet(vm, VmF.CacheCap);
    if (cap > 0) {
      const len = zipCompress(frameAddr(pframe(e)));
      if (len > 0) {
        const c = zclassFor(<u32>len);
        const b = zslotBytes(c);
        // evict the oldest compressed pages to swap until the new one fits, keeping one entry
        // of `out` for the victim itself in case it cannot be placed after all
        while (vmGet(vm, VmF.CacheSz) - vmGet(vm, VmF.PendEvict) + b > cap && n + 1 < outCap) {
          const s = zipOldest(vm);
          if (s == NO_SLOT) break;
          listEviction(vm, s, out, pages, n);
          n++;
          lastEvicted++;
        }
        if (vmGet(vm, VmF.CacheSz) - vmGet(vm, VmF.PendEvict) + b <= cap && zipCanPlace(c, e)) {
          releaseResident(vm, g, e); // first: its frame may be the one the slot is carved from
          zipStore(vm, g, p, e, <u32>len);
          lastZipped++;
          lastVictims++;
          continue;
        }
      }
    }
    if (n >= outCap) {
      lastStop = STOP_SWAP_FULL; // the victim stays resident: no swap slot is left for it
      break;
    }
    lastVictims++;
    store<u64>(p, e | PENDING);
    store<u32>(out + <usize>n * REQ_ENTRY + <usize>Req.Gppn, g);
    store<u32>(out + <usize>n * REQ_ENTRY + <usize>Req.Page, <u32>frameAddr(pframe(e)));
    n++;
  }
  callSet(Call.PageoutStop, lastStop);
  callSet(Call.PageoutZipped, lastZipped);
  callSet(Call.PageoutEvicted, lastEvicted);
  callSet(Call.PageoutVictims, lastVictims);
  callSet(Call.PageoutShared, lastShared);
  return n;
}

/**
 * Lists compressed slot `s` of `vm` as entry `n` of `out` for swap-out: decompressed into page
 * `n` of `pages`, PENDING, its slot bytes counted as on their way out of the cache.
 */
function listEviction(vm: u32, s: u32, out: usize, pages: usize, n: u32): void {
  const g = zslotGppn(s);
  const p = pmapAddr(vm, g);
  store<u64>(p, load<u64>(p) | PENDING);
  const dst = pages + (<usize>n << 12);
  zipDecompress(s, dst);
  store<u32>(out + <usize>n * REQ_ENTRY + <usize>Req.Gppn, g);
  store<u32>(out + <usize>n * REQ_ENTRY + <usize>Req.Page, <u32>dst);
  vmSet(vm, VmF.PendEvict, vmGet(vm, VmF.PendEvict) + zslotBytes(zslotClass(s)));
}

/**
 * Lists up to min(`count`, `outCap`) of the oldest compressed pages of `vm` for swap-out, as
 * reclaimSelect lists the pages it evicts (decompressed into `pages`, 4 KiB each): the zip cache
 * gives frames back when another VM or a reservation needs them. TypeScript writes the listed
 * pages and calls swapCommit, which frees their slots (a zpool frame is freed with its last
 * slot). Returns the entries listed; the call context tells the same (callCtx.pageoutEvicted,
 * pageoutStop STOP_NO_VICTIM when fewer were left than asked for).
 */
export function reclaimEvict(vm: u32, count: u32, out: usize, outCap: u32, pages: usize): u32 {
  let lastStop = STOP_DONE;
  const most = min<u32>(count, outCap);
  let n: u32 = 0;
  // from the oldest towards the newest, past pages already on their way out
  let s = vmGet(vm, VmF.LruTail);
  while (n < most && s != NO_SLOT) {
    const prev = zslotPrev(s);
    if (!(load<u64>(pmapAddr(vm, zslotGppn(s))) & PENDING)) {
      listEviction(vm, s, out, pages, n);
      n++;
    }
    s = prev;
  }
  if (n < most) lastStop = STOP_NO_VICTIM;
  callSet(Call.PageoutStop, lastStop);
  callSet(Call.PageoutZipped, 0);
  callSet(Call.PageoutEvicted, n);
  callSet(Call.PageoutVictims, 0);
  callSet(Call.PageoutShared, 0);
  return n;
}

/**
 * Completes the swap-out of the `n` entries of `list` (gppn, slot): a slot moves the page to
 * Swapped(slot) and frees its frame or zip slot; NO_SLOT (the write failed or the store is
 * full) leaves it where it was. Returns the pages swapped out.
 */
export function swapCommit(vm: u32, list: usize, n: u32): u32 {
  let done: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    const g = load<u32>(list + <usize>i * REQ_ENTRY + <usize>Req.Gppn);
    const slot = load<u32>(list + <usize>i * REQ_ENTRY + <usize>Req.Slot);
    const p = pmapAddr(vm, g);
    const e = load<u64>(p);
    assert(g < vmPages(vm) && (e & PENDING), "swapCommit: entry was not selected");
    const s = pstate(e);
    if (s == <u32>PState.Compressed) {
      vmSet(vm, VmF.PendEvict, vmGet(vm, VmF.PendEvict) - zslotBytes(zslotClass(pframe(e))));
    }
    if (slot == NO_SLOT) {
      store<u64>(p, e & ~PENDING);
      continue;
    }
    if (s == <u32>PState.Compressed) {
      zipDrop(vm, pframe(e));
      vmBump(vm, VmCounter.ZipEvict);
    } else {
      releaseResident(vm, g, e);
    }
    pmapSet(vm, p, e, pentry(PState.Swapped, slot));
    vmBump(vm, VmCounter.SwapOut);
    backingChanged(vm, g);
    done++;
  }
  return done;
}

/**
 * Drops up to `count` Zero pages of `vm` (mapped to the shared zero frame) to Unbacked, lowest
 * GPPN first; returns how many. Their contents stay what they were: an Unbacked page reads as
 * zeros and its next touch gets a zeroed frame. This is what a VM at its limit can still give
 * when every page it holds is a zero page: they cost the host no frame, but they count as resident.
 */
export function zeroDrop(vm: u32, count: u32): u32 {
  const pages = vmPages(vm);
  let n: u32 = 0;
  if (vmCount_(vm, <u32>PState.Zero) == 0) return 0;
  for (let g: u32 = 0; g < pages && n < count; g++) {
    const p = pmapAddr(vm, g);
    const e = load<u64>(p);
    if (pstate(e) != <u32>PState.Zero || (e & PENDING)) continue;
    releaseResident(vm, g, e);
    pmapSet(vm, p, e, pentry(PState.Unbacked, 0));
    backingChanged(vm, g);
    n++;
  }
  return n;
}
