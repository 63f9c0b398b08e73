/**
 * large: guest memory backed by 2 MiB large pages. While the host allows it (largeAllow, the
 * policy's call: ESX does it in the high state) the first touch of a page in a wholly unbacked,
 * aligned group of 512 GPPNs of a VM that may use them (VM flag LARGE_OK) backs the whole group
 * with one aligned block of 512 frames (frames.ts frameAllocBlock), zeroed:
 *
 *   GPPN   g0 ........................ g0 + 511        (g0 a multiple of 512)
 *   pmap   Mapped|LARGE  Mapped|LARGE ... Mapped|LARGE
 *   MPN    m0            m0 + 1       ... m0 + 511      (m0 a multiple of 512)
 *
 * The pages stay ordinary Mapped pages with private frames (each frame names its own GPPN), so
 * every page loop works on them unchanged; LARGE says the group is one host page. The EPT then
 * maps the group with one 2 MiB leaf (translate/ept.ts hostBack installs a large leaf exactly for
 * LARGE groups of a LARGE_OK VM), the sharing scanner hashes its pages without merging them
 * (sharing.ts: large pages are not shared, as in ESX), and nothing may change one page's backing
 * alone: breaking the group comes first.
 *
 * Breaking (largeBreak) clears LARGE on the 512 entries and drops the large EPT leaf: the frames
 * stay where they are, the pages are small from then on. It happens
 *   - when the policy says so (ESX: in the clear state and below), with `merge`: each page the
 *     scanner hashed while it was large is merged at once with an equal page of its domain
 *     (sharing.ts mergeBrokenPage), without hashing it again;
 *   - before a page of the group is compressed or swapped (pageout.ts), ballooned (balloon.ts)
 *     or discarded: whatever changes one page's backing breaks its group first.
 *
 * Invariants (largeAudit; ram/invariants.ts LARGE_*): a group with LARGE on any entry has it on
 * all 512, lies wholly inside the VM, is Mapped, and maps frames m0 .. m0 + 511 in order with m0
 * aligned to 512; releaseResident never sees a LARGE entry.
 */

import {
  PState, VmF, vmGet, vmSet, vmTotal, vmPages, pmapAddr, pmapSet, pentry, pstate, pframe, vmResident,
  LARGE, HOME_MASK, HOME_SHIFT, VM_LARGE_OK,
} from "./pmap";
import { AUDIT_OK, AUDIT_LARGE_PARTIAL, AUDIT_LARGE_NOT_MAPPED, AUDIT_LARGE_FRAMES } from "../ram/invariants";
import { fail, withState, withCounts } from "../ram/failure";
import { frameAllocBlock, frameSetLink, frameSetAux, BLOCK_FRAMES, NO_FRAME, FrameKind } from "../ram/frames";
import { backingChanged } from "./hook";
import { mergeBrokenPage } from "./sharing";

/** Pages of a large group (2 MiB of 4 KiB pages). */
export const GROUP_PAGES: u32 = BLOCK_FRAMES;
const GROUP_MASK: u32 = GROUP_PAGES - 1;
const NONE: u32 = 0xFFFFFFFF;

let allowed = false;
let allocs: u64 = 0;
let breaks: u64 = 0;
let failed: u64 = 0;
/** Share homes of a group being broken (u32 per page). */
const homes = memory.data(<i32>GROUP_PAGES * 4, 4);

/** Allows (or stops) new large groups host-wide; existing ones stay until broken. */
export function largeAllow(on: bool): void { allowed = on; }
/** True while new large groups are allowed. */
export function largeAllowed(): bool { return allowed; }

/** Lets `vm`'s first touches back large groups (or not). */
export function vmSetLarge(vm: u32, on: bool): void {
  if (vm >= vmTotal()) return;
  const f = vmGet(vm, VmF.Flags);
  vmSet(vm, VmF.Flags, on ? f | VM_LARGE_OK : f & ~VM_LARGE_OK);
}

/** True if (vm, gppn)'s entry says its group is large. */
export function pmapLarge(vm: u32, gppn: u32): bool {
  return gppn < vmPages(vm) && (load<u64>(pmapAddr(vm, gppn)) & LARGE) != 0;
}

/**
 * First touch of Unbacked (vm, gppn): backs its whole group with one block if large groups are
 * allowed, the group lies inside the VM and is wholly Unbacked, the VM's limit has room for 512
 * more resident pages, and a whole block is free. Returns true if it did (the page is Mapped).
 */
export function largeBack(vm: u32, gppn: u32): bool {
  if (!allowed) return false;
  const g0 = gppn & ~GROUP_MASK;
  if (<u64>g0 + GROUP_PAGES > <u64>vmPages(vm)) return false;
  if (<u64>vmResident(vm) + GROUP_PAGES > <u64>vmGet(vm, VmF.Limit)) return false;
  for (let i: u32 = 0; i < GROUP_PAGES; i++) {
    if (load<u64>(pmapAddr(vm, g0 + i)) != 0) return false; // Unbacked, no flag: entry 0
  }
  const m0 = frameAllocBlock(<u32>FrameKind.Guest);
  if (m0 == NO_FRAME) {
    failed++;
    return false;
  }
  for (let i: u32 = 0; i < GROUP_PAGES; i++) {
    frameSetLink(m0 + i, vm);
    frameSetAux(m0 + i, g0 + i);
    const p = pmapAddr(vm, g0 + i);
    pmapSet(vm, p, 0, pentry(PState.Mapped, m0 + i) | LARGE);
  }
  backingChanged(vm, gppn);
  allocs++;
  return true;
}

/**
 * Breaks the large group of `vm` that holds GPPN `g`: its pages become small (the frames stay),
 * the large EPT leaf goes. With `merge`, every page the scanner hashed while large is merged at
 * once with an equal page of its domain. Returns false if the group was not large.
 */
export function largeBreak(vm: u32, g: u32, merge: bool): bool {
  const g0 = g & ~GROUP_MASK;
  if (!pmapLarge(vm, g0)) return false;
  for (let i: u32 = 0; i < GROUP_PAGES; i++) {
    const p = pmapAddr(vm, g0 + i);
    const e = load<u64>(p);
    store<u32>(homes + (<usize>i << 2), <u32>((e & HOME_MASK) >> HOME_SHIFT));
    store<u64>(p, e & ~(LARGE | HOME_MASK));
  }
  backingChanged(vm, g0); // the large leaf covering the group
  breaks++;
  if (merge) {
    for (let i: u32 = 0; i < GROUP_PAGES; i++) {
      const h = load<u32>(homes + (<usize>i << 2));
      if (h != 0) mergeBrokenPage(vm, g0 + i, h);
    }
  }
  return true;
}

/** Breaks up to `maxGroups` large groups of `vm` (lowest GPPNs first); returns how many. */
export function largeBreakAll(vm: u32, maxGroups: u32, merge: bool): u32 {
  const pages = vmPages(vm);
  let n: u32 = 0;
  for (let g0: u32 = 0; g0 + GROUP_PAGES <= pages && n < maxGroups; g0 += GROUP_PAGES) {
    if (largeBreak(vm, g0, merge)) n++;
  }
  return n;
}

/** Large groups `vm` holds now. */
export function largeGroups(vm: u32): u32 {
  const pages = vmPages(vm);
  let n: u32 = 0;
  for (let g0: u32 = 0; g0 + GROUP_PAGES <= pages; g0 += GROUP_PAGES) {
    if (load<u64>(pmapAddr(vm, g0)) & LARGE) n++;
  }
  return n;
}

/** Large groups backed, broken, and first touches that found no whole free block, host-wide (cumulative). */
export function largeAllocs(): f64 { return <f64>allocs; }
export function largeBreaks(): f64 { return <f64>breaks; }
export function largeFailed(): f64 { return <f64>failed; }

/**
 * Checks `vm`'s large groups: whole (all 512 entries LARGE, inside the VM), Mapped, frames in
 * order from an aligned first frame (PENDING and MARK are the pmap audit's). AUDIT_OK, or the
 * code of the first broken invariant (failure.ts says where).
 */
export function largeAudit(vm: u32): u32 {
  const pages = vmPages(vm);
  for (let g0: u32 = 0; g0 < pages; g0 += GROUP_PAGES) {
    const first = load<u64>(pmapAddr(vm, g0));
    const end = min<u32>(pages, g0 + GROUP_PAGES);
    let large = (first & LARGE) != 0;
    if (!large) {
      // a group whose first entry lost the bit: any other entry with it makes it partial
      for (let g = g0 + 1; g < end; g++) if (load<u64>(pmapAddr(vm, g)) & LARGE) return fail(AUDIT_LARGE_PARTIAL, vm, g0, NONE);
      continue;
    }
    if (end - g0 != GROUP_PAGES) return fail(AUDIT_LARGE_PARTIAL, vm, g0, NONE);
    const m0 = pframe(first);
    for (let g = g0; g < end; g++) {
      const e = load<u64>(pmapAddr(vm, g));
      if (!(e & LARGE)) return fail(AUDIT_LARGE_PARTIAL, vm, g, NONE);
      if (pstate(e) != <u32>PState.Mapped) return withState(fail(AUDIT_LARGE_NOT_MAPPED, vm, g, NONE), pstate(e));
      const want = m0 + (g - g0);
      if ((m0 & GROUP_MASK) != 0 || pframe(e) != want) return withCounts(fail(AUDIT_LARGE_FRAMES, vm, g, pframe(e)), want, pframe(e));
    }
  }
  return AUDIT_OK;
}
