/**
 * verify: the nothing-lost oracle over a whole run. Every page a simulated guest owns must hold
 * exactly what its guest wrote: kernel and page cache pages their OS image page, virtual pages
 * what pages.ts computes from (kind, key, page, version). The host's view is read without
 * changing it:
 *
 *   pmap state        actual bytes
 *   Unbacked          zeros (a page the host never backed or discarded reads zero)
 *   Mapped / Shared / Zero   the frame
 *   Compressed        decompressed into scratch
 *   Swapped           listed with its slot for TypeScript, which reads the host swap store (simVerifyPages)
 *   Ballooned         wrong: the guest owns the page, the balloon must not
 *
 * Virtual pages in guest swap are listed too (simVerifyGuestList) and compared once TypeScript
 * read them from the guest's swap device (simVerifyVpages). Counts go to the header: bytes
 * compared, pages that differ, and the first GPPN (or virtual page) that differs.
 */

import {
  S, hdr, sget, sset, sadd, ownerAddr, okind, vpAddr, scratch, NONE, NO_LOC, LOC_MASK, FILL, SWAPPED, O_INDEX,
  O_KERNEL, O_CACHE, O_VPAGE, R_DONE, R_MORE, GUEST_SLOT_ENTRY, GuestSlot,
} from "../guest/state";
import { SWAPIN_ENTRY, SwapIn } from "../reclaim/fault";
import { vpageFill, osPageFill } from "./pages";
import { pmapAddr, pstate, pframe, PState } from "../reclaim/pmap";
import { frameAddr } from "../ram/frames";
import { pageEqual, pageIsZero } from "../ram/page";
import { zipDecompress } from "../reclaim/zipcache";
import { PAGE_SIZE } from "../ram/memmap";

/** Records one compared page. */
// @ts-ignore: decorator
@inline function tally(h: usize, equal: bool, which: u32): void {
  sadd(h, S.VerifyBytes, PAGE_SIZE);
  if (!equal) {
    sadd(h, S.VerifyBad, 1);
    if (<u32>sget(h, S.VerifyFirst) == NONE) sset(h, S.VerifyFirst, which);
  }
}

/** Writes what GPPN `g` (owner word `o`) must hold at `dst`; false when the guest does not care (free, balloon, reserved, not yet written). */
function expected(h: usize, o: u32, dst: usize): bool {
  const k = okind(o);
  if (k == O_KERNEL || k == O_CACHE) {
    osPageFill(h, o & O_INDEX, dst);
    return true;
  }
  if (k != O_VPAGE) return false;
  const w = load<u64>(vpAddr(h, o & O_INDEX));
  if (<u32>w & FILL) return false;
  vpageFill(h, o & O_INDEX, <u32>(w >> 32), dst);
  return true;
}

/** Starts a verification of `vm` (zeroes its counts). */
export function simVerifyBegin(vm: u32): void {
  const h = hdr(vm);
  sset(h, S.VerifyBytes, 0);
  sset(h, S.VerifyBad, 0);
  sset(h, S.VerifyFirst, NONE);
  sset(h, S.Cursor, 0);
}

/**
 * Compares every page of `vm` the host does not hold in swap; lists those it does hold in swap
 * at `out` for TypeScript, one SWAPIN_ENTRY each (the GPPN and its host swap slot). R_MORE when `cap` were listed (call again), R_DONE at the end;
 * BatchN: GPPNs listed.
 */
export function simVerify(vm: u32, out: usize, cap: u32): u32 {
  const h = hdr(vm);
  const pages = <u32>sget(h, S.Pages);
  const want = scratch(0), tmp = scratch(1);
  let n: u32 = 0;
  for (let g = <u32>sget(h, S.Cursor); g < pages; g++) {
    const o = load<u32>(ownerAddr(h, g));
    if (!expected(h, o, want)) continue;
    const e = load<u64>(pmapAddr(vm, g));
    const st = pstate(e);
    if (st == <u32>PState.Swapped) {
      if (n == cap) {
        sset(h, S.Cursor, g);
        sset(h, S.BatchN, n);
        return R_MORE;
      }
      const o = out + <usize>(n++) * SWAPIN_ENTRY;
      store<u32>(o + <usize>SwapIn.Gppn, g);
      store<u32>(o + <usize>SwapIn.Slot, pframe(e));
      continue;
    }
    let ok: bool;
    if (st == <u32>PState.Unbacked) ok = pageIsZero(want);
    else if (st == <u32>PState.Mapped || st == <u32>PState.Shared || st == <u32>PState.Zero) ok = pageEqual(want, frameAddr(pframe(e)));
    else if (st == <u32>PState.Compressed) {
      zipDecompress(pframe(e), tmp);
      ok = pageEqual(want, tmp);
    } else ok = false;
    tally(h, ok, g);
  }
  sset(h, S.Cursor, 0);
  sset(h, S.BatchN, n);
  return R_DONE;
}

/** Compares the first `n` pages simVerify listed at `list` with their pages read from the host's swap store at `buf` (4 KiB each). */
export function simVerifyPages(vm: u32, list: usize, n: u32, buf: usize): void {
  const h = hdr(vm);
  const want = scratch(0);
  for (let i: u32 = 0; i < n; i++) {
    const g = load<u32>(list + <usize>i * SWAPIN_ENTRY + <usize>SwapIn.Gppn);
    if (expected(h, load<u32>(ownerAddr(h, g)), want)) tally(h, pageEqual(want, buf + (<usize>i << 12)), g);
  }
}

/**
 * Lists at `out` the virtual pages of `vm` held in guest swap, one GUEST_SLOT_ENTRY each, from the
 * header's Cursor; R_MORE when `cap` were listed, R_DONE at the end; BatchN: entries listed.
 */
export function simVerifyGuestList(vm: u32, out: usize, cap: u32): u32 {
  const h = hdr(vm);
  const n = <u32>sget(h, S.VPages);
  let k: u32 = 0;
  for (let vp = <u32>sget(h, S.Cursor); vp < n; vp++) {
    const lo = load<u32>(vpAddr(h, vp));
    if (!(lo & SWAPPED) || (lo & LOC_MASK) == NO_LOC) continue;
    if (k == cap) {
      sset(h, S.Cursor, vp);
      sset(h, S.BatchN, k);
      return R_MORE;
    }
    const o = out + <usize>k * GUEST_SLOT_ENTRY;
    store<u32>(o + <usize>GuestSlot.Vp, vp);
    store<u32>(o + <usize>GuestSlot.Slot, lo & LOC_MASK);
    k++;
  }
  sset(h, S.Cursor, 0);
  sset(h, S.BatchN, k);
  return R_DONE;
}

/** Compares the first `n` virtual pages simVerifyGuestList listed at `list` with their pages read from guest swap at `buf`. */
export function simVerifyVpages(vm: u32, list: usize, n: u32, buf: usize): void {
  const h = hdr(vm);
  const want = scratch(0);
  for (let i: u32 = 0; i < n; i++) {
    const vp = load<u32>(list + <usize>i * GUEST_SLOT_ENTRY + <usize>GuestSlot.Vp);
    vpageFill(h, vp, <u32>(load<u64>(vpAddr(h, vp)) >> 32), want);
    tally(h, pageEqual(want, buf + (<usize>i << 12)), vp | 0x80000000);
  }
}
