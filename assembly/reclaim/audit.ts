/**
 * audit (reclaim/): recounts the pmap, the frames it names, the zip caches, the zpool and the
 * sharing table from scratch and checks their invariants (ram/invariants.ts names them):
 *
 *   VM table        pmap ranges tile the pmap in use (retired VMs' kept for reuse); each VM's
 *                   state counts sum to its size
 *   pmap entries    a known state; no MARK or PENDING left; a resident page names a guest frame
 *                   that is its own (Mapped) or shared in its domain (Shared, Zero: all zeros)
 *   frames          each guest frame's references == the pmap entries naming it (scratch counts)
 *   zip cache       per VM (zipcache.ts zipAudit)
 *   zpool           free lists, frames, counts (zpool.ts zpoolAudit); used slots == Compressed pages
 *   large pages     whole, Mapped, one aligned block in order (large.ts largeAudit)
 *   sharing table   entries, counts, contents, the cap on users (sharing.ts sharingAudit); frames
 *                   marked shared == shared entries
 *
 * `scratch` holds 4 bytes per machine frame. Returns AUDIT_OK or the first broken code.
 */

import { framesTotal, frameKind, frameRefs, frameLink, frameAux, frameAddr, FrameKind } from "../ram/frames";
import { pageIsZero } from "../ram/page";
import { zpoolAudit, zpoolSlotsUsed } from "../ram/zpool";
import {
  AUDIT_OK, AUDIT_VM_RANGES, AUDIT_VM_PAGES_CONSERVED, AUDIT_PMAP_BAD_STATE, AUDIT_PMAP_MARK_LEFT, AUDIT_PMAP_PENDING,
  AUDIT_PMAP_FRAME_NOT_GUEST, AUDIT_PRIVATE_FRAME_OWNER, AUDIT_SHARED_NOT_SHARED, AUDIT_ISOLATION, AUDIT_ZERO_NOT_ZERO,
  AUDIT_VM_STATE_COUNT, AUDIT_FRAME_REFS, AUDIT_ZPOOL_SLOT_OWNERS, AUDIT_SHARE_BAD_ENTRY, AUDIT_SHARE_ENTRY_FRAME,
  AUDIT_SHARE_CONTENT_CHANGED, AUDIT_SHARE_UNREACHABLE, AUDIT_SHARE_COUNTS, AUDIT_SHARE_UNTABLED, AUDIT_SHARE_CAP,
} from "../ram/invariants";
import { largeAudit } from "./large";
import { fail, withCounts, withKind, withState } from "../ram/failure";
import {
  PState, VmF, vmTotal, vmGet, vmPages, vmSalt, vmCount_, pmapAddr, pmapEntries, pstate, pframe, MARK, PENDING, SHARED_OWNER,
} from "./pmap";
import { sharingAudit, sharingAuditMpn, sharedCount, sharingMaxSharing } from "./sharing";
import { zipAudit } from "./zipcache";

const NONE: u32 = 0xFFFFFFFF;
/** Recount of one VM's pages by state. */
const counts = memory.data(<i32>PState.COUNT * 4, 4);
/** sharingAudit's result (1 .. 5) as an invariant. */
const SHARE_CODES: StaticArray<u32> = [
  AUDIT_OK, AUDIT_SHARE_BAD_ENTRY, AUDIT_SHARE_ENTRY_FRAME, AUDIT_SHARE_CONTENT_CHANGED, AUDIT_SHARE_UNREACHABLE, AUDIT_SHARE_COUNTS,
  AUDIT_SHARE_CAP,
];

/**
 * Checks the VM table: pmap ranges (span entries each, a retired VM's kept for reuse) laid end to
 * end from 0 in id order up to the entries in use, each VM's pages within its range.
 */
function rangesAudit(): u32 {
  let next: u32 = 0;
  for (let vm: u32 = 0; vm < vmTotal(); vm++) {
    const base = vmGet(vm, VmF.Base), span = vmGet(vm, VmF.Span);
    if (base != next) return withCounts(fail(AUDIT_VM_RANGES, vm, NONE, NONE), next, base);
    if (vmPages(vm) > span) return withCounts(fail(AUDIT_VM_RANGES, vm, NONE, NONE), span, vmPages(vm));
    next += span;
  }
  if (next != pmapEntries()) return withCounts(fail(AUDIT_VM_RANGES, NONE, NONE, NONE), pmapEntries(), next);
  return AUDIT_OK;
}

/** Checks every pmap entry of `vm` and its state counts, adding the frames it names to `scratch`. */
function vmAudit(vm: u32, scratch: usize): u32 {
  const pages = vmPages(vm);
  let sum: u32 = 0;
  for (let s: u32 = 0; s < <u32>PState.COUNT; s++) sum += vmCount_(vm, s);
  if (sum != pages) return withCounts(fail(AUDIT_VM_PAGES_CONSERVED, vm, NONE, NONE), pages, sum);
  const salt = vmSalt(vm);
  const total = framesTotal();
  memory.fill(counts, 0, <usize>PState.COUNT * 4);
  for (let g: u32 = 0; g < pages; g++) {
    const e = load<u64>(pmapAddr(vm, g));
    const s = pstate(e);
    const x = pframe(e);
    if (s >= <u32>PState.COUNT) return withState(fail(AUDIT_PMAP_BAD_STATE, vm, g, NONE), s);
    if (e & MARK) return withState(fail(AUDIT_PMAP_MARK_LEFT, vm, g, NONE), s);
    // PENDING lives only between reclaimSelect and swapCommit, inside one page-out
    if (e & PENDING) return withState(fail(AUDIT_PMAP_PENDING, vm, g, NONE), s);
    if (s == <u32>PState.Mapped || s == <u32>PState.Shared || s == <u32>PState.Zero) {
      if (x >= total || frameKind(x) != <u32>FrameKind.Guest) {
        return withKind(withState(fail(AUDIT_PMAP_FRAME_NOT_GUEST, vm, g, x), s), x < total ? frameKind(x) : NONE);
      }
      store<u32>(scratch + (<usize>x << 2), load<u32>(scratch + (<usize>x << 2)) + 1);
      if (s == <u32>PState.Mapped) {
        if (frameLink(x) != vm || frameAux(x) != g) return fail(AUDIT_PRIVATE_FRAME_OWNER, vm, g, x);
      } else {
        if (frameLink(x) != SHARED_OWNER) return withState(fail(AUDIT_SHARED_NOT_SHARED, vm, g, x), s);
        // isolation: a shared frame belongs to exactly one sharing domain, its mappers' salt
        if (frameAux(x) != salt) return withCounts(fail(AUDIT_ISOLATION, vm, g, x), salt, frameAux(x));
        if (s == <u32>PState.Zero && !pageIsZero(frameAddr(x))) return fail(AUDIT_ZERO_NOT_ZERO, vm, g, x);
      }
    }
    store<u32>(counts + (<usize>s << 2), load<u32>(counts + (<usize>s << 2)) + 1);
  }
  for (let s: u32 = 0; s < <u32>PState.COUNT; s++) {
    const n = load<u32>(counts + (<usize>s << 2));
    if (n != vmCount_(vm, s)) return withState(withCounts(fail(AUDIT_VM_STATE_COUNT, vm, NONE, NONE), n, vmCount_(vm, s)), s);
  }
  return zipAudit(vm);
}

/** Checks reclaim/'s invariants (see the overview); `deep` also re-hashes every shared frame. */
export function reclaimAudit(scratch: usize, deep: bool): u32 {
  const total = framesTotal();
  let r = rangesAudit();
  if (r != AUDIT_OK) return r;
  memory.fill(scratch, 0, <usize>total << 2);
  let compressed: u32 = 0;
  for (let vm: u32 = 0; vm < vmTotal(); vm++) {
    r = vmAudit(vm, scratch);
    if (r != AUDIT_OK) return r;
    r = largeAudit(vm);
    if (r != AUDIT_OK) return r;
    compressed += vmCount_(vm, <u32>PState.Compressed);
  }
  let sharedFrames: u32 = 0;
  for (let m: u32 = 0; m < total; m++) {
    // a frame named by a pmap entry is a guest frame (vmAudit), so only guest frames have counts
    if (frameKind(m) != <u32>FrameKind.Guest) continue;
    const want = load<u32>(scratch + (<usize>m << 2));
    if (frameRefs(m) != want) return withCounts(fail(AUDIT_FRAME_REFS, NONE, NONE, m), want, frameRefs(m));
    if (frameLink(m) == SHARED_OWNER) sharedFrames++;
  }
  r = zpoolAudit();
  if (r != AUDIT_OK) return r;
  const slots = zpoolSlotsUsed(0) + zpoolSlotsUsed(1);
  if (compressed != slots) return withCounts(fail(AUDIT_ZPOOL_SLOT_OWNERS, NONE, NONE, NONE), compressed, slots);
  const sh = sharingAudit(deep);
  if (sh != 0) {
    r = sh < <u32>SHARE_CODES.length ? unchecked(SHARE_CODES[sh]) : AUDIT_SHARE_BAD_ENTRY;
    if (r == AUDIT_SHARE_CAP) return withCounts(fail(r, NONE, NONE, sharingAuditMpn), sharingMaxSharing(), frameRefs(sharingAuditMpn));
    return fail(r, NONE, NONE, r == AUDIT_SHARE_COUNTS ? NONE : sharingAuditMpn);
  }
  // every frame marked shared has its one entry in the table (sharingAudit: each entry one frame)
  if (sharedFrames != sharedCount()) return withCounts(fail(AUDIT_SHARE_UNTABLED, NONE, NONE, NONE), sharedCount(), sharedFrames);
  return AUDIT_OK;
}
