/**
 * alloc: the guest OS model's page allocator and boot. Each simulated VM's GPPNs are owned by
 * the kernel (its image pages, pinned), the page cache (clean OS file pages, droppable), a
 * virtual page of a process (anonymous memory: the OS's, then the workload's), the balloon, the
 * MMU guest OS model's page tables (reserved), or the free list:
 *
 *   GPPN  0 ........ kernel | cache | OS anon | free ...................... | reserved (mmu)
 *         boot layout; afterwards pages move between the free list and the others
 *
 * The free list is LIFO through the owner words (a freed page is the next one handed out, as a
 * buddy allocator's hot list does), starting in ascending GPPN order. Every 2 MiB block counts
 * its free pages and remembers when it became wholly free, for free page reporting.
 *
 * Every batch here that touches guest memory goes through the host's fault path (pmapFault) and
 * is resumable: a host fault returns R_HOST with the header's Cursor where it stopped, and the
 * same call goes on after TypeScript resolved it.
 */

import {
  S, hdr, sget, sset, sadd, setOwner, ownerAddr, okind, oword, vpAddr, blockAddr, simNow, SIM_VM,
  NONE, NIL, NO_LOC, FILL, SWAPPED, LOC_MASK, O_INDEX, O_FREE, O_KERNEL, O_CACHE, O_VPAGE, O_BALLOON,
  O_RESERVED, BLOCK_PAGES, BLOCK_REPORTED, R_DONE, R_HOST, R_MORE,
} from "./state";
import { vmEntry, vmPages, FAULT_MIN, FAULT_NO_FRAME } from "../reclaim/pmap";
import { pmapFault } from "../reclaim/fault";
import { frameAddr } from "../ram/frames";
import { pageIsZero } from "../ram/page";
import { PAGE_SIZE } from "../ram/memmap";
import { vpageFill, osPageFill } from "./pages";
import { imagePage } from "../workload/content";
import { gosUnmap } from "./paging";
import { faultKind, faultCode, faultAddr, faultToCtx, FK_HOST } from "../translate/fault";
import { ctxAddr } from "../translate/cores";

// ---- blocks (free page reporting) ----------------------------------------------------------------

/** One more free page in the block of `gppn`; a block that becomes wholly free starts its age now. */
// @ts-ignore: decorator
@inline function blockInc(h: usize, gppn: u32): void {
  const a = blockAddr(h, gppn / BLOCK_PAGES);
  const w = load<u64>(a);
  const n = (w & 0xFFFF) + 1;
  store<u64>(a, n == <u64>BLOCK_PAGES ? (<u64>simNow() << 32) | n : (w & ~<u64>0xFFFF) | n);
}
/** One free page fewer in the block of `gppn`: the block is in use again (not free, not reported). */
// @ts-ignore: decorator
@inline function blockDec(h: usize, gppn: u32): void {
  const a = blockAddr(h, gppn / BLOCK_PAGES);
  store<u64>(a, (<u64>NONE << 32) | ((load<u64>(a) & 0xFFFF) - 1));
}

// ---- free list -------------------------------------------------------------------------------

/** Takes a page off the free list (its owner word still says free: the caller sets it); NIL when empty. */
export function freePop(h: usize): u32 {
  const g = <u32>sget(h, S.FreeHead);
  if (g == NIL) return NIL;
  sset(h, S.FreeHead, load<u32>(ownerAddr(h, g)) & O_INDEX);
  blockDec(h, g);
  return g;
}

/** Puts `gppn` on the free list. */
export function freePush(h: usize, gppn: u32): void {
  setOwner(h, gppn, oword(O_FREE, <u32>sget(h, S.FreeHead)));
  sset(h, S.FreeHead, gppn);
  blockInc(h, gppn);
}

/** Free pages of the VM. */
// @ts-ignore: decorator
@inline export function freeCount(h: usize): u32 { return <u32>sget(h, <S>(<u32>S.Owned + O_FREE)); }

// ---- setup and boot ----------------------------------------------------------------------------

/**
 * Sets up the guest of `vm`: `kernel` pages (image pages 0..), `cache` pages (the image pages
 * after them), `anon` OS virtual pages at the GPPNs after those, `vpages` virtual pages in all,
 * GPPNs [resLo, resHi) reserved for an attached MMU's page tables, and the rest free. Contents
 * are written by guestBoot. Returns 0, or -1 when it does not fit.
 */
export function guestSetup(vm: u32, kernel: u32, cache: u32, anon: u32, vpages: u32, resLo: u32, resHi: u32): i32 {
  const pages = vmPages(vm);
  if (pages == 0 || <u64>kernel + cache + anon > <u64>pages || vpages > pages || anon > vpages || resHi > pages || resLo > resHi) return -1;
  if (resLo < resHi && kernel + cache + anon > resLo) return -1;
  const h = hdr(vm);
  memory.fill(h, 0, SIM_VM);
  sset(h, S.Live, 1);
  sset(h, S.Pages, pages);
  const base = load<u32>(vmEntry(vm));
  sset(h, S.Base, base);
  sset(h, S.BlockBase, (base / BLOCK_PAGES) + vm);
  sset(h, S.VPages, vpages);
  sset(h, S.Anon, anon);
  sset(h, S.Ctx, NONE);
  sset(h, S.FreeHead, NIL);
  sset(h, S.PendGppn, NIL);
  sset(h, S.VerifyFirst, NONE);
  for (let vp: u32 = 0; vp < vpages; vp++) store<u64>(vpAddr(h, vp), <u64>NO_LOC);
  for (let b: u32 = 0; b < (pages + BLOCK_PAGES - 1) / BLOCK_PAGES; b++) store<u64>(blockAddr(h, b), <u64>NONE << 32);
  // every page starts free (unlinked); owners are then assigned, which keeps the counts
  for (let g: u32 = 0; g < pages; g++) store<u32>(ownerAddr(h, g), oword(O_FREE, NIL));
  sset(h, <S>(<u32>S.Owned + O_FREE), pages);
  for (let g: u32 = 0; g < kernel; g++) setOwner(h, g, oword(O_KERNEL, g));
  for (let g: u32 = kernel; g < kernel + cache; g++) setOwner(h, g, oword(O_CACHE, g));
  for (let vp: u32 = 0; vp < anon; vp++) {
    const g = kernel + cache + vp;
    setOwner(h, g, oword(O_VPAGE, vp));
    store<u64>(vpAddr(h, vp), <u64>(g | FILL));
  }
  for (let g = resLo; g < resHi; g++) setOwner(h, g, oword(O_RESERVED, 0));
  // link the free pages so that the lowest GPPN comes out first
  for (let g = pages; g-- > 0;) {
    if (okind(load<u32>(ownerAddr(h, g))) != O_FREE) continue;
    store<u32>(ownerAddr(h, g), oword(O_FREE, <u32>sget(h, S.FreeHead)));
    sset(h, S.FreeHead, g);
    blockInc(h, g);
  }
  return 0;
}

/**
 * Boots the guest of `vm`: writes its kernel and page cache pages (the OS image; all-zero image
 * pages are left alone, as a loader leaves untouched memory) and its OS anonymous pages through
 * the host fault path. Resumable from the header's Cursor (R_HOST on a host fault).
 */
export function guestBoot(vm: u32): u32 {
  const h = hdr(vm);
  const pages = <u32>sget(h, S.Pages);
  for (let g = <u32>sget(h, S.Cursor); g < pages; g++) {
    const o = load<u32>(ownerAddr(h, g));
    const k = okind(o);
    if (k == O_KERNEL || k == O_CACHE) {
      if (pageIsZero(imagePage(<u32>sget(h, S.ImgAt), o & O_INDEX))) continue;
    } else if (k != O_VPAGE) {
      continue;
    } else if (!(<u32>load<u64>(vpAddr(h, o & O_INDEX)) & FILL)) {
      continue;
    }
    const mpn = pmapFault(vm, g, true);
    if (mpn >= FAULT_MIN) {
      sset(h, S.Cursor, g);
      sset(h, S.RGppn, g);
      sset(h, S.RCode, mpn);
      return R_HOST;
    }
    if (k == O_VPAGE) {
      const vp = o & O_INDEX;
      vpageFill(h, vp, 0, frameAddr(mpn));
      store<u64>(vpAddr(h, vp), load<u64>(vpAddr(h, vp)) & ~<u64>FILL);
    } else {
      osPageFill(h, o & O_INDEX, frameAddr(mpn));
    }
  }
  sset(h, S.Cursor, 0);
  return R_DONE;
}

// ---- pages the guest gives up and takes back ---------------------------------------------------

/** Moves `n` GPPNs listed at `list` (u32, owned by the balloon) to the free list: a balloon deflate. */
export function guestFreeBalloon(vm: u32, list: usize, n: u32): u32 {
  const h = hdr(vm);
  let done: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    const g = load<u32>(list + (<usize>i << 2));
    if (g >= <u32>sget(h, S.Pages) || okind(load<u32>(ownerAddr(h, g))) != O_BALLOON) continue;
    freePush(h, g);
    done++;
  }
  return done;
}

/**
 * The workload frees its virtual pages [from, to) (a process exits or unmaps memory): resident
 * ones go to the free list (their GPPNs listed at `freed` for zeroing), guest-swapped ones give
 * their swap slots back (listed at `slots`), and every page reads as never written again.
 * Resumable: R_MORE when `cap` entries filled either list (BatchN freed, BatchM slots), R_HOST
 * when unmapping met a host fault (the lists kept for the call that resumes); R_DONE at `to`.
 */
export function guestRelease(vm: u32, from: u32, to: u32, freed: usize, slots: usize, cap: u32): u32 {
  const h = hdr(vm);
  const ctx = <u32>sget(h, S.Ctx);
  // after a host stop the lists go on where they stopped (TypeScript has not read them yet);
  // TypeScript empties them (BatchN, BatchM = 0) when it has read them, after R_MORE or R_DONE
  let nf = <u32>sget(h, S.BatchN), ns = <u32>sget(h, S.BatchM);
  let vp = max<u32>(from, <u32>sget(h, S.Cursor));
  if (to > <u32>sget(h, S.VPages)) to = <u32>sget(h, S.VPages);
  for (; vp < to; vp++) {
    if (nf >= cap || ns >= cap) {
      sset(h, S.Cursor, vp);
      sset(h, S.BatchN, nf);
      sset(h, S.BatchM, ns);
      return R_MORE;
    }
    const a = vpAddr(h, vp);
    const w = load<u64>(a);
    const loc = <u32>w & LOC_MASK;
    if (loc == NO_LOC) {
      store<u64>(a, <u64>NO_LOC);
      continue;
    }
    if (<u32>w & SWAPPED) {
      store<u32>(slots + (<usize>(ns++) << 2), loc);
      sset(h, S.SwapHeld, sget(h, S.SwapHeld) - 1);
    } else {
      if (ctx != NONE && !gosUnmap(ctx, vm, sget(h, S.VaBase) + (<u64>vp << 12))) {
        sset(h, S.Cursor, vp);
        sset(h, S.BatchN, nf);
        sset(h, S.BatchM, ns);
        return faultStop(h);
      }
      freePush(h, loc);
      store<u32>(freed + (<usize>(nf++) << 2), loc);
    }
    store<u64>(a, <u64>NO_LOC);
    sadd(h, S.Released, 1);
  }
  sset(h, S.Cursor, 0);
  sset(h, S.BatchN, nf);
  sset(h, S.BatchM, ns);
  return R_DONE;
}

/**
 * R_HOST for the translation fault just recorded on the VM's core (a page the host must bring
 * back, or a frame for a table): its GPPN and pmap code go to the header, and the fault itself
 * to the core's results (mmuCtx.fault*), as the MMU's own entry points leave it.
 */
export function faultStop(h: usize): u32 {
  const c = ctxAddr(<u32>sget(h, S.Ctx));
  faultToCtx(c);
  sset(h, S.RGppn, faultAddr(c) >> 12);
  sset(h, S.RCode, faultKind(c) == FK_HOST ? faultCode(c) : FAULT_NO_FRAME);
  return R_HOST;
}

/**
 * The guest zeroes the `n` GPPNs listed at `list` (free pages; Windows' zero page thread does,
 * Linux with init_on_free): a write of zeros through the host's fault path, which backs an
 * unbacked page with a zeroed frame and breaks a shared one. Resumable from Cursor.
 */
export function guestZero(vm: u32, list: usize, n: u32): u32 {
  const h = hdr(vm);
  for (let i = <u32>sget(h, S.Cursor); i < n; i++) {
    const g = load<u32>(list + (<usize>i << 2));
    const mpn = pmapFault(vm, g, true);
    if (mpn >= FAULT_MIN) {
      sset(h, S.Cursor, i);
      sset(h, S.RGppn, g);
      sset(h, S.RCode, mpn);
      return R_HOST;
    }
    memory.fill(frameAddr(mpn), 0, PAGE_SIZE);
    sadd(h, S.Zeroed, 1);
  }
  sset(h, S.Cursor, 0);
  return R_DONE;
}

/**
 * Free page reporting: lists at `out` the GPPNs of every 2 MiB block of `vm` wholly free for at
 * least `delayMs` simulated ms and not reported since it became free, and marks them reported
 * (the host then discards their backing: pagesDiscard). At most `cap` pages (whole blocks);
 * R_MORE when more remain. BatchN: pages listed.
 */
export function guestReport(vm: u32, delayMs: u32, out: usize, cap: u32): u32 {
  const h = hdr(vm);
  const blocks = <u32>sget(h, S.Pages) / BLOCK_PAGES;
  const now = simNow();
  let n: u32 = 0;
  for (let b = <u32>sget(h, S.Cursor); b < blocks; b++) {
    const a = blockAddr(h, b);
    const w = load<u64>(a);
    const since = <u32>(w >> 32);
    if ((w & 0xFFFF) != <u64>BLOCK_PAGES || (w & BLOCK_REPORTED) || since == NONE || now - since < delayMs) continue;
    if (n + BLOCK_PAGES > cap) {
      sset(h, S.Cursor, b);
      sset(h, S.BatchN, n);
      return R_MORE;
    }
    for (let g = b * BLOCK_PAGES; g < (b + 1) * BLOCK_PAGES; g++) store<u32>(out + (<usize>(n++) << 2), g);
    store<u64>(a, w | BLOCK_REPORTED);
    sadd(h, S.Reported, BLOCK_PAGES);
  }
  sset(h, S.Cursor, 0);
  sset(h, S.BatchN, n);
  return R_DONE;
}

export { NONE, NIL, SWAPPED, FILL, O_KERNEL, O_CACHE, O_VPAGE, O_BALLOON, O_RESERVED, R_HOST, R_DONE, R_MORE };

const AUDIT_COUNTS = memory.data(8 * 4, 4);

/**
 * Recounts the guest model of `vm` and checks its invariants: per-kind counts match the owner
 * words; the free list holds exactly the free pages, once each; every GPPN a virtual page
 * names is owned by that virtual page and the other way round; SwapHeld counts the swapped
 * virtual pages. Returns 0, or a failure code (with the GPPN, kind or virtual page in the
 * header's VerifyFirst), and aborts a debug build.
 */
export function guestAudit(vm: u32): u32 {
  const r = auditGuest(vm);
  if (DEBUG) assert(r == 0, "guestAudit: guest model invariant broken");
  return r;
}

function auditGuest(vm: u32): u32 {
  const h = hdr(vm);
  const pages = <u32>sget(h, S.Pages);
  const vpages = <u32>sget(h, S.VPages);
  memory.fill(AUDIT_COUNTS, 0, 32);
  for (let g: u32 = 0; g < pages; g++) {
    const o = load<u32>(ownerAddr(h, g));
    const k = okind(o);
    if (k > O_RESERVED) { sset(h, S.VerifyFirst, g); return 1; }
    store<u32>(AUDIT_COUNTS + (<usize>k << 2), load<u32>(AUDIT_COUNTS + (<usize>k << 2)) + 1);
    if (k == O_VPAGE) {
      const vp = o & O_INDEX;
      if (vp >= vpages || (load<u32>(vpAddr(h, vp)) & (LOC_MASK | SWAPPED)) != g) { sset(h, S.VerifyFirst, g); return 2; }
    }
  }
  for (let k: u32 = 0; k <= O_RESERVED; k++) {
    if (load<u32>(AUDIT_COUNTS + (<usize>k << 2)) != <u32>sget(h, <S>(<u32>S.Owned + k))) { sset(h, S.VerifyFirst, k); return 3; }
  }
  const free = load<u32>(AUDIT_COUNTS);
  let n: u32 = 0;
  for (let g = <u32>sget(h, S.FreeHead); g != NIL; g = load<u32>(ownerAddr(h, g)) & O_INDEX) {
    if (g >= pages || okind(load<u32>(ownerAddr(h, g))) != O_FREE || ++n > free) { sset(h, S.VerifyFirst, g); return 4; }
  }
  if (n != free) return 5;
  let swapped: u32 = 0;
  for (let vp: u32 = 0; vp < vpages; vp++) {
    const lo = load<u32>(vpAddr(h, vp));
    const loc = lo & LOC_MASK;
    if (loc == NO_LOC) continue;
    if (lo & SWAPPED) { swapped++; continue; }
    if (loc >= pages || load<u32>(ownerAddr(h, loc)) != oword(O_VPAGE, vp)) { sset(h, S.VerifyFirst, vp); return 6; }
  }
  if (swapped != <u32>sget(h, S.SwapHeld)) return 7;
  return 0;
}
