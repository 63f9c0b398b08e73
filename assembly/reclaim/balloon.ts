/**
 * balloon (host side): the guest's balloon driver hands over GPPNs it has pinned; the host
 * frees whatever backs them and records them Ballooned. Deflating gives them back unbacked.
 * A guest touch of a Ballooned page gets a fresh zero page (pmapFault counts it).
 *
 *   list (u32 GPPNs, in staging) --balloonInflate--> pass 1: validate all, MARK each
 *                                                    pass 2: release backing, -> Ballooned
 *                                  swap slots freed  --> `slots` (u32 each) for TypeScript
 *
 * Every call validates the whole list before it changes anything: a GPPN outside the VM, a GPPN
 * listed twice (detected with the MARK bit), or one in the wrong state fails the call with the
 * index of the first bad entry, and the pmap is as before. A page of a large group breaks its
 * group first (large.ts), without merging, so no other entry of the list changes state.
 */

import { PState, vmPages, pmapAddr, pmapSet, pentry, pstate, pframe, MARK, PENDING, LARGE } from "./pmap";
import { releaseResident } from "./fault";
import { largeBreak } from "./large";
import { zipDrop } from "./zipcache";
import { backingChanged } from "./hook";
import { Call, callSet } from "../ram/callctx";

/** Result codes (negative) of balloonInflate / balloonDeflate. */
export const BALLOON_BAD_RANGE: i32 = -1;
export const BALLOON_DUPLICATE: i32 = -2;
export const BALLOON_BAD_STATE: i32 = -3;


/** Clears MARK on the first `n` entries of `list`. */
function unmark(vm: u32, list: usize, n: u32): void {
  for (let i: u32 = 0; i < n; i++) {
    const p = pmapAddr(vm, load<u32>(list + (<usize>i << 2)));
    store<u64>(p, load<u64>(p) & ~MARK);
  }
}

/** Validates `list`: in range, no duplicates, state allowed by `inflate`; MARKs all on success. */
function validate(vm: u32, list: usize, n: u32, inflate: bool): i32 {
  const pages = vmPages(vm);
  for (let i: u32 = 0; i < n; i++) {
    const g = load<u32>(list + (<usize>i << 2));
    let r: i32 = 0;
    if (g >= pages) {
      r = BALLOON_BAD_RANGE;
    } else {
      const p = pmapAddr(vm, g);
      const e = load<u64>(p);
      if (e & MARK) r = BALLOON_DUPLICATE;
      else if ((pstate(e) == <u32>PState.Ballooned) == inflate || (e & PENDING)) r = BALLOON_BAD_STATE;
      else store<u64>(p, e | MARK);
    }
    if (r != 0) {
      callSet(Call.BalloonBadIndex, i);
      unmark(vm, list, i);
      return r;
    }
  }
  return 0;
}

/**
 * Balloons the `n` GPPNs of `list` (u32 each): frees their frames, zip slots and swap slots (the
 * latter written to `slots` for TypeScript to free; callCtx.balloonSlotsFreed says how many).
 * Returns n, or a BALLOON_* code with nothing changed (callCtx.balloonBadIndex names the entry).
 */
export function balloonInflate(vm: u32, list: usize, n: u32, slots: usize): i32 {
  let slotsOut: u32 = 0;
  callSet(Call.BalloonSlotsFreed, 0);
  const r = validate(vm, list, n, true);
  if (r != 0) return r;
  for (let i: u32 = 0; i < n; i++) {
    const g = load<u32>(list + (<usize>i << 2));
    const p = pmapAddr(vm, g);
    // a page of a large group leaves alone only once the group is broken (large.ts); MARKs stay
    if (load<u64>(p) & LARGE) largeBreak(vm, g, false);
    const e = load<u64>(p) & ~MARK;
    const s = pstate(e);
    if (s == <u32>PState.Mapped || s == <u32>PState.Shared || s == <u32>PState.Zero) {
      releaseResident(vm, g, e);
    } else if (s == <u32>PState.Compressed) {
      zipDrop(vm, pframe(e));
    } else if (s == <u32>PState.Swapped) {
      store<u32>(slots + (<usize>slotsOut << 2), pframe(e));
      slotsOut++;
    }
    pmapSet(vm, p, e, pentry(PState.Ballooned, 0));
    if (s != <u32>PState.Unbacked) backingChanged(vm, g);
  }
  callSet(Call.BalloonSlotsFreed, slotsOut);
  return <i32>n;
}

/** Returns the `n` Ballooned GPPNs of `list` to the guest, unbacked. Returns n, or a BALLOON_* code with nothing changed. */
export function balloonDeflate(vm: u32, list: usize, n: u32): i32 {
  const r = validate(vm, list, n, false);
  if (r != 0) return r;
  for (let i: u32 = 0; i < n; i++) {
    const p = pmapAddr(vm, load<u32>(list + (<usize>i << 2)));
    pmapSet(vm, p, load<u64>(p), pentry(PState.Unbacked, 0));
  }
  return <i32>n;
}

/**
 * Free page reporting (virtio-balloon VIRTIO_BALLOON_F_REPORTING): the guest reports `n` GPPNs
 * listed at `list` (u32) as free, and the host discards what backs them (frames, zip slots; swap
 * slots listed at `slots` for TypeScript to free), leaving them Unbacked: unlike a balloon, the
 * guest keeps the pages and its next touch gets a zeroed frame. Ballooned and pending pages are
 * left alone. Returns the swap slots listed.
 */
export function pagesDiscard(vm: u32, list: usize, n: u32, slots: usize): u32 {
  const pages = vmPages(vm);
  let k: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    const g = load<u32>(list + (<usize>i << 2));
    if (g >= pages) continue;
    const p = pmapAddr(vm, g);
    // a page of a large page leaves alone only once its group is broken (large.ts)
    if (load<u64>(p) & LARGE) largeBreak(vm, g, false);
    const e = load<u64>(p);
    const s = pstate(e);
    if (s == <u32>PState.Unbacked || s == <u32>PState.Ballooned || (e & PENDING)) continue;
    if (s == <u32>PState.Mapped || s == <u32>PState.Shared || s == <u32>PState.Zero) releaseResident(vm, g, e);
    else if (s == <u32>PState.Compressed) zipDrop(vm, pframe(e));
    else if (s == <u32>PState.Swapped) store<u32>(slots + (<usize>(k++) << 2), pframe(e));
    pmapSet(vm, p, e, pentry(PState.Unbacked, 0));
    backingChanged(vm, g);
  }
  return k;
}
