/**
 * audit (translate/): walks every VM's EPT and shadow trees from their roots and checks that
 * the page tables are accounted for and that no leaf can reach a frame the pmap does not give
 * the VM (ram/invariants.ts names each check):
 *
 *   EPT tree      every table a page-table frame, reached once; the VM's count of EPT tables;
 *                 each leaf maps its GPPNs to exactly the frames the pmap holds (resident), and
 *                 grants write only to Mapped (private) pages
 *   shadow trees  (from the root cache, which holds every live tree) every table a shadow table
 *                 of the VM at its level, reached once; the VM's count of shadow tables; each
 *                 leaf reaches only guest frames of the VM or shared frames of its domain, and a
 *                 writable leaf only private frames that no shadow table mirrors
 *   frames        page-table frames == EPT tables + shadow tables + the pad pool
 *
 * A shadow leaf maps a gVA, so its GPPN is known only through the guest's tables; the check is
 * on the frames it reaches, which is what isolation and "nothing lost" need. `scratch` (4 bytes
 * per frame) marks the tables visited. Returns AUDIT_OK or the first broken code.
 */

import { framesTotal, framesUsed, frameKind, frameLink, frameAux, FrameKind, NO_FRAME } from "../ram/frames";
import { gpaOf, gppnOf, mpnOf, GPPN, gPA, MPN } from "../ram/addr";
import {
  AUDIT_OK, AUDIT_PT_TABLE_FRAME, AUDIT_PT_TABLE_COUNT, AUDIT_EPT_LEAF_STALE, AUDIT_EPT_LEAF_WRITABLE,
  AUDIT_SHADOW_LEAF_FRAME, AUDIT_SHADOW_LEAF_WRITABLE, AUDIT_PT_FRAMES,
} from "../ram/invariants";
import { fail, withCounts, withKind, withState } from "../ram/failure";
import { PState, vmTotal, vmPages, vmSalt, pmapAddr, pstate, pframe, SHARED_OWNER } from "../reclaim/pmap";
import { ADDR_MASK, PTE_P, PTE_RW, EPT_W, levelShift, clsMask, eptLeaf, pteLeaf } from "./entries";
import {
  pget, pvm, gpTrack, pmapBase, P_FLAGS, P_MODE, P_EPTROOT, P_HLEVELS, P_GLEVELS, P_EPTTABLES, P_SHADOWTABLES, P_ROOTS,
  ROOT_SLOTS, PF_LIVE, MODE_SHADOW, NONE,
} from "./cores";
import { ramAt, ptPoolHead } from "./ept";
import { SHADOW_TAG } from "./shadow";

/** Tables visited in the tree being walked. */
let walked: u32 = 0;

/** Marks page-table frame `m` visited; false if it is outside RAM, not a page table, or seen before. */
function visit(scratch: usize, m: MPN): bool {
  if (m >= framesTotal() || frameKind(m) != <u32>FrameKind.PageTable) return false;
  const p = scratch + (<usize>m << 2);
  if (load<u32>(p) != 0) return false;
  store<u32>(p, 1);
  walked++;
  return true;
}

/** Checks the EPT leaf `e` at `level` that maps gPA `gpa` of `vm` against the pmap. */
function eptLeafAudit(vm: u32, e: u64, level: u32, gpa: gPA): u32 {
  const cls = level - 1;
  const n: u32 = 1 << (9 * cls);
  const g0: GPPN = gppnOf(gpa);
  const base: MPN = mpnOf(e & ADDR_MASK & ~clsMask(cls));
  const pages = vmPages(vm);
  for (let i: u32 = 0; i < n; i++) {
    const g = g0 + i;
    if (g >= pages) return withCounts(fail(AUDIT_EPT_LEAF_STALE, vm, g, base + i), pages, g);
    const pe = load<u64>(pmapAddr(vm, g));
    const s = pstate(pe);
    const resident = s == <u32>PState.Mapped || s == <u32>PState.Shared || s == <u32>PState.Zero;
    if (!resident || pframe(pe) != base + i) {
      return withState(withCounts(fail(AUDIT_EPT_LEAF_STALE, vm, g, base + i), resident ? <f64>pframe(pe) : -1.0, base + i), s);
    }
    if ((e & EPT_W) != 0 && s != <u32>PState.Mapped) return withState(fail(AUDIT_EPT_LEAF_WRITABLE, vm, g, base + i), s);
  }
  return AUDIT_OK;
}

/** Walks the EPT table `t` of `vm` at `level`, which maps gPAs from `gpa`. */
function eptTree(scratch: usize, vm: u32, t: MPN, level: u32, gpa: gPA): u32 {
  if (!visit(scratch, t) || (frameLink(t) & 0xFF000000) == SHADOW_TAG) {
    return withKind(fail(AUDIT_PT_TABLE_FRAME, vm, NONE, t), t < framesTotal() ? frameKind(t) : NONE);
  }
  const base = ramAt(<u64>t << 12);
  for (let i: u32 = 0; i < 512; i++) {
    const e = load<u64>(base + (<usize>i << 3));
    if ((e & 7) == 0) continue;
    const a = gpa | (<u64>i << levelShift(level));
    const r = eptLeaf(e, level) ? eptLeafAudit(vm, e, level, a) : eptTree(scratch, vm, mpnOf(e & ADDR_MASK), level - 1, a);
    if (r != AUDIT_OK) return r;
  }
  return AUDIT_OK;
}

/** Checks the frames shadow leaf `e` at `level` of `vm` reaches. */
function shadowLeafAudit(vm: u32, e: u64, level: u32): u32 {
  const cls = level - 1;
  const n: u32 = 1 << (9 * cls);
  const lo: MPN = mpnOf(e & ADDR_MASK & ~clsMask(cls));
  const total = framesTotal();
  const salt = vmSalt(vm);
  for (let i: u32 = 0; i < n; i++) {
    const f = lo + i;
    if (f >= total || frameKind(f) != <u32>FrameKind.Guest) return withKind(fail(AUDIT_SHADOW_LEAF_FRAME, vm, NONE, f), f < total ? frameKind(f) : NONE);
    const link = frameLink(f);
    const own = link == vm;
    if (!own && !(link == SHARED_OWNER && frameAux(f) == salt)) return fail(AUDIT_SHADOW_LEAF_FRAME, vm, NONE, f);
    if (e & PTE_RW) {
      if (!own) return fail(AUDIT_SHADOW_LEAF_WRITABLE, vm, NONE, f);
      // a private frame's aux is its GPPN: a guest page-table page a shadow table mirrors must stay write-protected
      const g = frameAux(f);
      if (g < vmPages(vm) && load<u32>(gpTrack(pmapBase(vm), g), 4) != 0) return fail(AUDIT_SHADOW_LEAF_WRITABLE, vm, g, f);
    }
  }
  return AUDIT_OK;
}

/** Walks shadow table `t` of `vm` at `level`. */
function shadowTree(scratch: usize, vm: u32, t: MPN, level: u32): u32 {
  if (!visit(scratch, t) || frameLink(t) != (SHADOW_TAG | (level << 16) | vm)) {
    return withKind(fail(AUDIT_PT_TABLE_FRAME, vm, NONE, t), t < framesTotal() ? frameKind(t) : NONE);
  }
  const base = ramAt(<u64>t << 12);
  for (let i: u32 = 0; i < 512; i++) {
    const e = load<u64>(base + (<usize>i << 3));
    if (!(e & PTE_P)) continue;
    const r = pteLeaf(e, level) ? shadowLeafAudit(vm, e, level) : shadowTree(scratch, vm, mpnOf(e & ADDR_MASK), level - 1);
    if (r != AUDIT_OK) return r;
  }
  return AUDIT_OK;
}

/** Checks the paging state of every VM and the page-table frames (see the overview). */
export function pagingAudit(scratch: usize): u32 {
  const total = framesTotal();
  memory.fill(scratch, 0, <usize>total << 2);
  let tables: u32 = 0;
  for (let vm: u32 = 0; vm < vmTotal(); vm++) {
    if ((pget(vm, P_FLAGS) & PF_LIVE) == 0) continue;
    const root = pget(vm, P_EPTROOT);
    if (root != NONE) {
      walked = 0;
      const r = eptTree(scratch, vm, root, pget(vm, P_HLEVELS), 0);
      if (r != AUDIT_OK) return r;
      if (walked != pget(vm, P_EPTTABLES)) return withCounts(fail(AUDIT_PT_TABLE_COUNT, vm, NONE, NONE), walked, pget(vm, P_EPTTABLES));
      tables += walked;
    }
    if (pget(vm, P_MODE) == MODE_SHADOW) {
      walked = 0;
      for (let s: u32 = 0; s < ROOT_SLOTS; s++) {
        const p = pvm(vm) + P_ROOTS + <usize>s * 16;
        if (load<u32>(p) == 0) continue;
        const r = shadowTree(scratch, vm, load<u32>(p, 4), pget(vm, P_GLEVELS));
        if (r != AUDIT_OK) return r;
      }
      if (walked != pget(vm, P_SHADOWTABLES)) return withCounts(fail(AUDIT_PT_TABLE_COUNT, vm, NONE, NONE), walked, pget(vm, P_SHADOWTABLES));
      tables += walked;
    }
  }
  walked = 0;
  for (let m = ptPoolHead(); m != NO_FRAME && walked <= total; m = frameLink(m)) {
    if (!visit(scratch, m)) return withKind(fail(AUDIT_PT_TABLE_FRAME, NONE, NONE, m), m < total ? frameKind(m) : NONE);
  }
  const held = framesUsed(<u32>FrameKind.PageTable);
  if (tables + walked != held) return withCounts(fail(AUDIT_PT_FRAMES, NONE, NONE, NONE), tables + walked, held);
  return AUDIT_OK;
}
