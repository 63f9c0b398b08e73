/**
 * audit: recounts the state of reclaim/ from scratch and checks its invariants.
 */

import { framesTotal, framesFree, framesUsed, frameKind, frameRefs, frameLink, frameAux, frameAddr, FrameKind } from "../ram/frames";
import { pageIsZero } from "../ram/page";
import { zpoolAudit, zpoolSlotsUsed, zpoolFrames } from "../ram/zpool";
import { PState, vmTotal, vmPages, vmSalt, vmCount_, pmapAddr, pstate, pframe, MARK, PENDING, SHARED_OWNER } from "./pmap";
import { sharingAudit, sharedCount } from "./sharing";
import { zipAudit } from "./zipcache";

// ---- conservation audit -----------------------------------------------------------------------

/**
 * Recounts everything from scratch and checks the invariants: frames conserved by kind, each
 * VM's states summing to its size and matching its counts, every frame's reference count equal
 * to the pmap entries naming it, private frames naming their page, shared frames in the table
 * with one salt, zpool slots matching Compressed entries. `scratch` is 4 bytes per machine
 * frame; `deep` also re-hashes every shared frame. Returns 0, or a failure code (and aborts in
 * a debug build).
 */
export function pmapAudit(scratch: usize, deep: bool): u32 {
  const r = audit(scratch, deep);
  auditCode = r;
  if (DEBUG) assert(r == 0, "pmapAudit: invariant broken (pmapAuditCode and pmapAuditDetail tell which)");
  return r;
}

let auditCode: u32 = 0;
let auditDetail: u32 = 0;
/** Code of the last audit (0: consistent), readable after a debug abort. */
export function pmapAuditCode(): u32 { return auditCode; }
/** Detail of the last failed audit (a GPPN, MPN or slot, depending on the code). */
export function pmapAuditDetail(): u32 { return auditDetail; }

function audit(scratch: usize, deep: bool): u32 {
  const total = framesTotal();
  let kinds: u32 = framesFree();
  for (let k: u32 = 1; k < <u32>FrameKind.COUNT; k++) kinds += framesUsed(k);
  if (kinds != total) return 1;
  memory.fill(scratch, 0, <usize>total << 2);
  let compressed: u32 = 0;
  for (let vm: u32 = 0; vm < vmTotal(); vm++) {
    const pages = vmPages(vm);
    let sum: u32 = 0;
    for (let s: u32 = 0; s < <u32>PState.COUNT; s++) sum += vmCount_(vm, s);
    if (sum != pages) return 2;
    const salt = vmSalt(vm);
    let cnt0: u32 = 0, cnt1: u32 = 0, cnt2: u32 = 0, cnt3: u32 = 0, cnt4: u32 = 0, cnt5: u32 = 0;
    for (let g: u32 = 0; g < pages; g++) {
      const e = load<u64>(pmapAddr(vm, g));
      const s = pstate(e);
      const x = pframe(e);
      auditDetail = g;
      if (e & MARK) return 3;
      if (s == <u32>PState.Mapped || s == <u32>PState.Shared || s == <u32>PState.Zero) {
        if (x >= total || frameKind(x) != <u32>FrameKind.Guest) return 4;
        store<u32>(scratch + (<usize>x << 2), load<u32>(scratch + (<usize>x << 2)) + 1);
        if (s == <u32>PState.Mapped) {
          cnt1++;
          if (frameLink(x) != vm || frameAux(x) != g) return 5;
        } else {
          if (s == <u32>PState.Shared) cnt2++; else cnt3++;
          // isolation: a shared frame belongs to exactly one sharing domain
          if (frameLink(x) != SHARED_OWNER || frameAux(x) != salt) return 6;
          if (s == <u32>PState.Zero && !pageIsZero(frameAddr(x))) return 7;
        }
        if (e & PENDING && s == <u32>PState.Zero) return 8;
      } else if (s == <u32>PState.Compressed) {
        cnt4++;
        compressed++;
      } else if (s == <u32>PState.Swapped) {
        cnt5++;
      } else if (s == <u32>PState.Unbacked) {
        cnt0++;
      } else if (s != <u32>PState.Ballooned) {
        return 9;
      }
    }
    auditDetail = vm;
    if (cnt0 != vmCount_(vm, 0) || cnt1 != vmCount_(vm, 1) || cnt2 != vmCount_(vm, 2) || cnt3 != vmCount_(vm, 3)
        || cnt4 != vmCount_(vm, 4) || cnt5 != vmCount_(vm, 5)) return 10;
    const z = zipAudit(vm);
    if (z != 0) return 100 + z;
  }
  let guest: u32 = 0;
  for (let m: u32 = 0; m < total; m++) {
    const want = load<u32>(scratch + (<usize>m << 2));
    auditDetail = m;
    if (frameKind(m) == <u32>FrameKind.Guest) {
      guest++;
      if (frameRefs(m) != want) return 11;
    } else if (want != 0) {
      return 12;
    }
  }
  if (guest != framesUsed(<u32>FrameKind.Guest)) return 13;
  if (compressed != zpoolSlotsUsed(0) + zpoolSlotsUsed(1)) return 14;
  if (zpoolFrames(0) + zpoolFrames(1) != framesUsed(<u32>FrameKind.Zpool)) return 15;
  const zp = zpoolAudit();
  if (zp != 0) return 200 + zp;
  const sh = sharingAudit(deep);
  if (sh != 0) return 300 + sh;
  // every shared frame is in the table exactly once
  let sharedFrames: u32 = 0;
  for (let m: u32 = 0; m < total; m++) {
    if (frameKind(m) == <u32>FrameKind.Guest && frameLink(m) == SHARED_OWNER) sharedFrames++;
  }
  if (sharedFrames != sharedCount()) return 16;
  return 0;
}
