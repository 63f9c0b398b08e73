/**
 * debug: breaks an invariant on purpose, so a test can prove the audit catches it. Compiled only
 * into the debug build: in release `debugCorrupt` refuses (returns -1) and none of the code
 * below it exists. One corruption per invariant, chosen by the invariant's own code (AUDIT_*),
 * each the kind of bug the invariant is there to catch:
 *
 *   frames    a count skewed; a free frame handed out without leaving the list; references
 *             zeroed on a used frame; a count moved from one kind to another
 *   pmap      a VM's range moved onto its neighbour's; counts skewed; a bad state, MARK or
 *             PENDING left behind; a page's frame freed, re-owned or made shared under it; a
 *             page pointed at another domain's shared frame; a zero frame written; a reference added
 *   zip       LRU links broken; a slot's owner changed; a slot dropped from the list; bytes or
 *             the VM's zpool frame count skewed
 *   zpool     a free slot marked used; an orphan zpool frame; a frame's used count skewed; a free
 *             slot leaked; a slot allocated for no page
 *   sharing   an entry's type, frame or place in the table changed; a shared frame written; a
 *             hint no counter knows of; a page made shared with no entry
 *   paging    an EPT table pointer, leaf target or permission rewritten; a shadow leaf's target
 *             or permission rewritten; a table count skewed; orphan page-table and hypervisor frames
 *   policy    a block's free count skewed; a large page's LARGE bit cleared on one entry, one of its
 *             pages given back (freed, Unbacked, counts kept right), two of its frames swapped
 *             (owners kept right); the cap on users per shared frame lowered under a frame
 *
 * The target is (vm, gppn) in the state the corruption needs (Mapped, Shared, Zero, Compressed,
 * with an EPT or shadow leaf), and `arg` a second frame where one is needed. Returns the MPN or
 * slot it touched (0 when none), or -1 when it refused: release build, or a target not in the
 * state needed.
 */

import { Region, regionOffset, regionSize } from "./ram/memmap";
import {
  frameAlloc, frameGet, framePut, frameAux, frameSetAux, frameSetLink, frameLink, frameKind, frameAddr, framesTotal, FrameKind,
  framesDebugSkew, framesDebugTakeFree, framesDebugSetRefs, framesDebugSkewBlock,
} from "./ram/frames";
import {
  zslotAlloc, zslotSetPrev, zpoolDebugFreeHead, zpoolDebugSetLen, zpoolDebugSetVm, zpoolDebugUnlinkFree, zpoolDebugSkewVmFrames,
  NO_SLOT, ZCLASSES,
} from "./ram/zpool";
import { gpaOf, mpnOf } from "./ram/addr";
import * as A from "./ram/invariants";
import {
  PState, VmF, vmTotal, vmEntry, vmGet, vmSet, vmPages, vmSalt, pmapAddr, pmapSet, pstate, pframe, pentry, STATE_MASK, MARK, PENDING,
  SHARED_OWNER, LARGE,
} from "./reclaim/pmap";
import { sharingSetMaxSharing } from "./reclaim/sharing";
import { zipDebugUnlink } from "./reclaim/zipcache";
import { ADDR_MASK, EPT_W, PTE_RW, levelIndex, eptLeaf } from "./translate/entries";
import { pget, pset, P_EPTROOT, P_HLEVELS, P_MODE, P_EPTTABLES, P_SHADOWTABLES, MODE_SHADOW, NONE } from "./translate/cores";
import { ramAt, eptFindLeaf, leafAt, leafLevel } from "./translate/ept";
import { shadowLeafOf, RMAP_MANY_LEAVES } from "./translate/shadow";

const REFUSED: u32 = 0xFFFFFFFF;
/** A VM id above any the engine holds (src/engine/engine.ts maxVMs <= 4096; the zpool counts ids below 4096). */
const NO_VM: u32 = 4095;

/** Breaks invariant `invariant` (an AUDIT_* code) at (vm, gppn), with `arg` as described above. */
export function debugCorrupt(invariant: u32, vm: u32, gppn: u32, arg: u32): f64 {
  if (DEBUG) {
    const r = corrupt(invariant, vm, gppn, arg);
    return r == REFUSED ? -1 : <f64>r;
  }
  return -1;
}

/** pmap entry address of (vm, gppn) if it is in state `s`, else 0. */
function entryIn(vm: u32, gppn: u32, s: PState): usize {
  if (vm >= vmTotal() || gppn >= vmPages(vm)) return 0;
  const p = pmapAddr(vm, gppn);
  return pstate(load<u64>(p)) == <u32>s ? p : 0;
}
/** pmap entry of (vm, gppn) if it is Shared or Zero, else 0. */
function sharedEntry(vm: u32, gppn: u32): usize {
  const p = entryIn(vm, gppn, PState.Shared);
  return p != 0 ? p : entryIn(vm, gppn, PState.Zero);
}

// the sharing table, by its layout (sharing.ts): u64 key, u32 mpn, u32 type (1 shared, 2 hint)
// @ts-ignore: decorator
@inline function tableSize(): u32 { return <u32>(regionSize(Region.ShareTable) >> 4); }
// @ts-ignore: decorator
@inline function tableAt(i: u32): usize { return regionOffset(Region.ShareTable) + (<usize>i << 4); }
/** Index of the shared entry of frame `m`, or NONE. */
function tableEntryOf(m: u32): u32 {
  for (let i: u32 = 0; i < tableSize(); i++) if (load<u32>(tableAt(i), 12) == 1 && load<u32>(tableAt(i), 8) == m) return i;
  return NONE;
}
/** First empty table slot after `i` (cyclically), or NONE. */
function tableEmptyAfter(i: u32): u32 {
  const n = tableSize();
  for (let k: u32 = 1; k < n; k++) {
    const j = (i + k) % n;
    if (load<u32>(tableAt(j), 12) == 0) return j;
  }
  return NONE;
}

/** Address of the level-`level` EPT entry for gPA `gpa` of `vm` if the path to it is tables only, else 0. */
function eptEntryAt(vm: u32, gpa: u64, level: u32): usize {
  const root = pget(vm, P_EPTROOT);
  if (vm >= vmTotal() || root == NONE) return 0;
  let table = <u64>root << 12;
  for (let l = pget(vm, P_HLEVELS); l > level; l--) {
    const e = load<u64>(ramAt(table + (levelIndex(gpa, l) << 3)));
    if ((e & 7) == 0 || eptLeaf(e, l)) return 0;
    table = e & ADDR_MASK;
  }
  return ramAt(table + (levelIndex(gpa, level) << 3));
}
/** Address of the 4 KiB EPT leaf of (vm, gppn), or 0. */
function eptLeaf4k(vm: u32, gppn: u32): usize {
  if (vm >= vmTotal() || pget(vm, P_EPTROOT) == NONE) return 0;
  const f = eptFindLeaf(vm, gpaOf(gppn));
  return leafLevel(f) == 1 ? leafAt(f) : 0;
}
/** Address of the one shadow leaf mapping (vm, gppn), or 0. */
function shadowLeaf(vm: u32, gppn: u32): usize {
  if (vm >= vmTotal() || gppn >= vmPages(vm) || pget(vm, P_MODE) != MODE_SHADOW) return 0;
  const a = shadowLeafOf(vm, gppn);
  return a == RMAP_MANY_LEAVES ? 0 : a;
}
/** Replaces the frame of a leaf entry at `a` by `mpn`, keeping its flags. */
function retarget(a: usize, mpn: u32): void { store<u64>(a, (load<u64>(a) & ~ADDR_MASK) | (<u64>mpn << 12)); }

function corrupt(code: u32, vm: u32, gppn: u32, arg: u32): u32 {
  const total = framesTotal();
  if (code == A.AUDIT_FRAMES_CONSERVED) { framesDebugSkew(<u32>FrameKind.Hypervisor, 1); return 0; }
  if (code == A.AUDIT_FRAME_FREE_LIST) return framesDebugTakeFree(<u32>FrameKind.Guest);
  if (code == A.AUDIT_FRAME_KIND_COUNT) { framesDebugSkew(<u32>FrameKind.Guest, -1); framesDebugSkew(<u32>FrameKind.Zpool, 1); return 0; }
  if (code == A.AUDIT_ZPOOL_FRAMES) return frameAlloc(<u32>FrameKind.Zpool);
  if (code == A.AUDIT_PT_FRAMES) return frameAlloc(<u32>FrameKind.PageTable);
  if (code == A.AUDIT_HV_FRAMES) return frameAlloc(<u32>FrameKind.Hypervisor);
  // a block's free count one too high: the block of frame 0 (the watermark's region counts too)
  if (code == A.AUDIT_FRAME_BLOCKS) { framesDebugSkewBlock(0, -1); return 0; }
  // a cap of 2 users under frames the scanner gave more (a domain's zero frame)
  if (code == A.AUDIT_SHARE_CAP) { sharingSetMaxSharing(2); return 0; }
  // a slot allocated for no page, owned by an id no VM has (so no VM's zip-cache counts change)
  if (code == A.AUDIT_ZPOOL_SLOT_OWNERS) return zslotAlloc(0, 1, NO_VM, 0);
  if (code == A.AUDIT_ZPOOL_FREE_LIST || code == A.AUDIT_ZPOOL_COUNTS) {
    for (let c: u32 = 0; c < ZCLASSES; c++) {
      const s = zpoolDebugFreeHead(c);
      if (s == NO_SLOT) continue;
      if (code == A.AUDIT_ZPOOL_FREE_LIST) zpoolDebugSetLen(s, 1); // looks used, still on the list
      else zpoolDebugUnlinkFree(c, s); // free, on no list: leaked
      return s;
    }
    return REFUSED;
  }
  if (code == A.AUDIT_SHARE_COUNTS) {
    const j = tableEmptyAfter(0);
    if (j == NONE) return REFUSED;
    store<u64>(tableAt(j), 1);
    store<u32>(tableAt(j), NONE, 8);
    store<u32>(tableAt(j), 2, 12); // a hint the table's counter does not know of
    return 0;
  }
  if (vm >= vmTotal()) return REFUSED;
  const ve = vmEntry(vm);
  if (code == A.AUDIT_VM_RANGES) {
    if (vm == 0) return REFUSED;
    vmSet(vm, VmF.Base, vmGet(vm - 1, VmF.Base)); // on top of the previous VM's range
    return 0;
  }
  if (code == A.AUDIT_VM_PAGES_CONSERVED) {
    const c = ve + <usize>VmF.Counts + (<usize>PState.Mapped << 2);
    store<u32>(c, load<u32>(c) + 1);
    return 0;
  }
  if (code == A.AUDIT_VM_STATE_COUNT) {
    const u = ve + <usize>VmF.Counts + (<usize>PState.Unbacked << 2), b = ve + <usize>VmF.Counts + (<usize>PState.Ballooned << 2);
    if (load<u32>(u) == 0) return REFUSED;
    store<u32>(u, load<u32>(u) - 1); // the sum still matches the VM's size
    store<u32>(b, load<u32>(b) + 1);
    return 0;
  }
  if (code == A.AUDIT_ZIP_BYTES) { vmSet(vm, VmF.CacheUsd, vmGet(vm, VmF.CacheUsd) + 1); return 0; }
  if (code == A.AUDIT_ZIP_FRAMES) { zpoolDebugSkewVmFrames(vm, 1); return 0; }
  if (code == A.AUDIT_PT_TABLE_COUNT) {
    const f = pget(vm, P_MODE) == MODE_SHADOW ? P_SHADOWTABLES : P_EPTTABLES;
    pset(vm, f, pget(vm, f) + 1);
    return 0;
  }
  if (gppn >= vmPages(vm)) return REFUSED;
  const p = pmapAddr(vm, gppn);
  const e = load<u64>(p);
  if (code == A.AUDIT_PMAP_BAD_STATE) { store<u64>(p, (e & ~STATE_MASK) | 9); return 0; }
  if (e & LARGE) {
    const m = pframe(e);
    if (code == A.AUDIT_LARGE_PARTIAL) { store<u64>(p, e & ~LARGE); return m; }
    if (code == A.AUDIT_LARGE_NOT_MAPPED) {
      // the page given back as if ballooned out of a broken group: frame freed, counts right, LARGE kept
      framePut(m);
      pmapSet(vm, p, e, pentry(PState.Unbacked, 0) | LARGE);
      return m;
    }
    if (code == A.AUDIT_LARGE_FRAMES) {
      // this page and the next trade frames; each frame's owner follows, so only the order is wrong
      const g2 = gppn ^ 1;
      const p2 = pmapAddr(vm, g2);
      const e2 = load<u64>(p2);
      const m2 = pframe(e2);
      store<u64>(p, (e & 0xFFFFFFFF) | (<u64>m2 << 32));
      store<u64>(p2, (e2 & 0xFFFFFFFF) | (<u64>m << 32));
      frameSetAux(m, g2);
      frameSetAux(m2, gppn);
      return m2;
    }
  }
  if (code == A.AUDIT_PMAP_MARK_LEFT) { store<u64>(p, e | MARK); return 0; }
  if (code == A.AUDIT_PMAP_PENDING) { store<u64>(p, e | PENDING); return 0; }
  const m = pframe(e);
  if (entryIn(vm, gppn, PState.Mapped) != 0) {
    if (code == A.AUDIT_FRAME_REFS_KIND) { framesDebugSetRefs(m, 0); return m; }
    if (code == A.AUDIT_PMAP_FRAME_NOT_GUEST) { framePut(m); return m; } // freed under the page
    if (code == A.AUDIT_PRIVATE_FRAME_OWNER) { frameSetAux(m, gppn ^ 1); return m; }
    if (code == A.AUDIT_SHARED_NOT_SHARED) { pmapSet(vm, p, e, (e & ~STATE_MASK) | <u64>PState.Shared); return m; }
    if (code == A.AUDIT_FRAME_REFS) { frameGet(m); return m; }
    if (code == A.AUDIT_SHARE_UNTABLED) {
      frameSetLink(m, SHARED_OWNER);
      frameSetAux(m, vmSalt(vm));
      pmapSet(vm, p, e, (e & ~STATE_MASK) | <u64>PState.Shared);
      return m;
    }
  }
  if (sharedEntry(vm, gppn) != 0) {
    if (code == A.AUDIT_ISOLATION) {
      // another domain's shared frame
      if (arg >= total || frameKind(arg) != <u32>FrameKind.Guest || frameLink(arg) != SHARED_OWNER || frameAux(arg) == vmSalt(vm)) return REFUSED;
      store<u64>(p, (e & 0xFFFFFFFF) | (<u64>arg << 32));
      return arg;
    }
    if (code == A.AUDIT_ZERO_NOT_ZERO) {
      if (pstate(e) != <u32>PState.Zero) return REFUSED;
      store<u8>(frameAddr(m) + 100, 1);
      return m;
    }
    const i = tableEntryOf(m);
    if (i == NONE) return REFUSED;
    if (code == A.AUDIT_SHARE_BAD_ENTRY) { store<u32>(tableAt(i), 7, 12); return m; }
    if (code == A.AUDIT_SHARE_ENTRY_FRAME) {
      if (arg >= total) return REFUSED;
      store<u32>(tableAt(i), arg, 8);
      return arg;
    }
    if (code == A.AUDIT_SHARE_CONTENT_CHANGED) {
      if (pstate(e) != <u32>PState.Shared) return REFUSED; // a zero frame's content is checked by ZERO_NOT_ZERO first
      store<u8>(frameAddr(m) + 100, load<u8>(frameAddr(m) + 100) ^ 0xFF);
      return m;
    }
    if (code == A.AUDIT_SHARE_UNREACHABLE) {
      // a copy past the end of its cluster: probing from its key's home stops before reaching it
      const j = tableEmptyAfter(i);
      if (j == NONE) return REFUSED;
      memory.copy(tableAt(j), tableAt(i), 16);
      return m;
    }
  }
  if (entryIn(vm, gppn, PState.Compressed) != 0) {
    const s = m;
    if (code == A.AUDIT_ZIP_LRU_LIST) { zslotSetPrev(s, s); return s; }
    if (code == A.AUDIT_ZIP_SLOT_OWNER) { zpoolDebugSetVm(s, vm + 1); return s; }
    if (code == A.AUDIT_ZIP_COUNT) { zipDebugUnlink(vm, s); return s; }
    if (code == A.AUDIT_ZPOOL_FRAME) { frameSetAux(s >> 2, frameAux(s >> 2) + 1); return s >> 2; }
  }
  if (code == A.AUDIT_PT_TABLE_FRAME) {
    // the level-2 entry above the page points at a guest frame instead of a table
    const a = eptEntryAt(vm, gpaOf(gppn), 2);
    if (a == 0 || (load<u64>(a) & 7) == 0 || arg >= total) return REFUSED;
    retarget(a, arg);
    return arg;
  }
  if (code == A.AUDIT_EPT_LEAF_STALE || code == A.AUDIT_EPT_LEAF_WRITABLE) {
    const a = eptLeaf4k(vm, gppn);
    if (a == 0) return REFUSED;
    if (code == A.AUDIT_EPT_LEAF_WRITABLE) { store<u64>(a, load<u64>(a) | EPT_W); return mpnOf(load<u64>(a) & ADDR_MASK); }
    if (arg >= total) return REFUSED;
    retarget(a, arg);
    return arg;
  }
  if (code == A.AUDIT_SHADOW_LEAF_FRAME || code == A.AUDIT_SHADOW_LEAF_WRITABLE) {
    const a = shadowLeaf(vm, gppn);
    if (a == 0) return REFUSED;
    if (code == A.AUDIT_SHADOW_LEAF_WRITABLE) { store<u64>(a, load<u64>(a) | PTE_RW); return mpnOf(load<u64>(a) & ADDR_MASK); }
    if (arg >= total) return REFUSED;
    retarget(a, arg);
    return arg;
  }
  return REFUSED;
}
