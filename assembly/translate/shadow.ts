/**
 * shadow: shadow paging, the hypervisor's software MMU when nested paging is off. The hardware
 * walks shadow tables (gVA -> hPA, x86-64 format, in FrameKind.PageTable frames) that the
 * hypervisor builds from the guest's own tables:
 *
 *   guest CR3 ─► guest tables (gVA -> gPA, in guest memory)        pmap (gPA -> MPN)
 *        │                         │ software walk on a hidden fault      │
 *        └─ root cache (4 / VM) ─► shadow tables (gVA -> hPA) ◄───────────┘
 *
 * - A shadow miss (not present, or a permission the shadow entry lacks) is a hidden fault: a
 *   VM exit, a software walk of the guest tables (shadowWalkRefs), and either a guest #PF
 *   injected into the guest or the missing shadow entries filled.
 * - Every guest page-table page that a shadow table was built from is write-protected (gpTrack
 *   "shadowed"): a guest write to it traps (a VM exit), and the shadow entry at the written
 *   offset is dropped (with its subtree) in every shadow table mirroring the page, so a stale
 *   shadow entry is never used. gpTrack names one mirror; for several, a sweep of the VM's
 *   shadow trees (every live tree hangs off the root cache) finds them. A write through a user
 *   mapping cannot be emulated entry by entry (the caller writes through the returned hPA), so
 *   the page is unshadowed instead: the tables mirroring it go, and it is shadowed and
 *   write-protected again when a walk needs it. (Still unhandled: a user write to a table page
 *   on the path of its own translation retries until the walk gives up.)
 * - Guest dirty bits: a shadow leaf is writable only once the guest PTE is dirty; the first
 *   write takes a hidden fault that sets D in the guest PTE.
 * - CR3 switches trap and look the root up in a 4-entry LRU cache of shadow roots per VM.
 * - Guest large pages map to large shadow leaves only when the host backing is a contiguous
 *   large group (ept.ts hostBack); otherwise synthetic lower tables hold 4 KiB shadow leaves.
 *
 * Shadow table frames: link = SHADOW_TAG | level << 16 | vm, aux = GPPN of the guest table it
 * mirrors (NONE for synthetic tables). Leaf reverse map (gpTrack rmap): the linear address of
 * the leaf entry that maps a GPPN, or 1 when several do. A stale rmap address is harmless: it
 * is validated against the frame's tag before use, and dropping a shadow leaf only costs a refault.
 *
 * Invariants: every present shadow non-leaf entry points at a live shadow table of the same VM;
 * every present shadow leaf maps the frame the pmap holds for its GPPN (coherence.ts); a guest
 * page that a live shadow table mirrors is write-protected in every shadow leaf.
 */

import { frameKind, frameLink, frameSetLink, frameSetAux, frameAux, NO_FRAME, FrameKind } from "../ram/frames";
import { Region, regionOffset } from "../ram/memmap";
import { vmPages, pmapWritable, pmapState, pmapFrame, PState, FAULT_MIN } from "../reclaim/pmap";
import {
  ADDR_MASK, PTE_P, PTE_RW, PTE_US, PTE_NX, PTE_A, PTE_D, PTE_PS, PF_P, PF_W, PF_U, PF_RSVD, PF_I,
  ACC_WRITE, ACC_FETCH, levelIndex, clsMask, pteLeaf, pteReserved,
} from "./entries";
import { ramAt, ptAlloc, ptFree, hostBack, backMpn, backCls } from "./ept";
import {
  F, cget, cset, cadd, cdesc, ctxAddr, mmuCount, pget, pset, gpTrack, pmapBase, flushTlbs, flushFramesAll, invlpgAsid,
  nextRootStamp, P_GLEVELS, P_VPID, P_ROOTS, ROOT_SLOTS, P_SHADOWTABLES, P_ZAPS, P_UNSHADOWS, P_MODE, MODE_SHADOW,
  C_GPWC, NONE,
} from "./cores";
import { cacheFlushAsid } from "./tlb";
import { kernelAccess } from "./kernel";
import { setFault, FK_GUEST_PF, FK_HOST, FK_NO_FRAME, S_OK, S_FAULT } from "./fault";
import { gPA, GPPN, gppnOf, gVA, hpaOf, MPN, pageOffset } from "../ram/addr";

/** Frame link of a shadow table: SHADOW_TAG | level << 16 | vm. */
export const SHADOW_TAG: u32 = 0x5A000000;
const RMAP_MANY: u32 = 1;
const TRACK_MANY: u32 = 0xFFFFFFFF;

/** Tags shadow table `m` of `vm` at `level`, mirroring guest table `gppn` (NONE: synthetic). */
function tagTable(m: MPN, vm: u32, level: u32, gppn: GPPN): void {
  frameSetLink(m, SHADOW_TAG | (level << 16) | vm);
  frameSetAux(m, gppn);
}

/** True if linear address `a` is a present leaf entry in a live shadow table of `vm`. */
function shadowLeafAt(vm: u32, a: usize): bool {
  const ram = regionOffset(Region.Ram);
  if (a < ram) return false;
  const m = <u32>((a - ram) >> 12);
  if (frameKind(m) != <u32>FrameKind.PageTable) return false;
  const link = frameLink(m);
  if ((link & 0xFF000000) != SHADOW_TAG || (link & 0xFFFF) != vm) return false;
  const e = load<u64>(a);
  return (e & PTE_P) != 0 && pteLeaf(e, (link >> 16) & 7);
}

/** Level of shadow table `m`. */
// @ts-ignore: decorator
@inline function tableLevel(m: MPN): u32 { return (frameLink(m) >> 16) & 7; }

/** Records that guest table `gppn` of `vm` is mirrored by shadow table `m` (write-protecting it). */
function track(vm: u32, gppn: GPPN, m: MPN): void {
  if (gppn >= vmPages(vm)) return;
  const t = gpTrack(pmapBase(vm), gppn);
  const cur = load<u32>(t, 4);
  store<u32>(t, cur == 0 || cur == m + 1 ? m + 1 : TRACK_MANY, 4);
  // an existing writable shadow leaf of this page must lose write permission
  const r = load<u32>(t);
  if (r == RMAP_MANY) {
    // several leaves map it: find them by frame in every shadow tree of the VM
    const st = pmapState(vm, gppn);
    if (st != <u32>PState.Mapped && st != <u32>PState.Shared && st != <u32>PState.Zero) return; // no leaf can map it
    const f = <u64>pmapFrame(vm, gppn);
    sweepAll(vm, OP_WRPROTECT, gppn, f, f + 1);
    return;
  }
  if (r != 0 && shadowLeafAt(vm, <usize>r)) {
    const e = load<u64>(<usize>r);
    if (e & PTE_RW) {
      store<u64>(<usize>r, e & ~PTE_RW);
      dropFrames(e, tableLevel(<u32>((<usize>r - regionOffset(Region.Ram)) >> 12)));
    }
  }
}

/** Flushes TLB entries of every context that reach the frames of shadow leaf `e` at `level`. */
function dropFrames(e: u64, level: u32): void {
  const cls = level - 1;
  const lo = (e & ADDR_MASK & ~clsMask(cls)) >> 12;
  flushFramesAll(lo, lo + (<u64>1 << (9 * cls)));
}

/** Notes in the rmap that leaf entry `a` maps guest pages [gppn, gppn + n). */
function rmapSet(vm: u32, gppn: GPPN, n: u32, a: usize): void {
  const base = pmapBase(vm);
  for (let i: u32 = 0; i < n; i++) {
    const t = gpTrack(base, gppn + i);
    const cur = load<u32>(t);
    store<u32>(t, cur == 0 || cur == <u32>a ? <u32>a : RMAP_MANY);
  }
}

/** Frees shadow table `m` of `vm` and its subtree. */
function freeTable(vm: u32, m: MPN): void {
  // only a shadow table of this VM may be freed here: anything else would be a frame someone owns
  if (DEBUG) assert(frameKind(m) == <u32>FrameKind.PageTable && (frameLink(m) & 0xFF00FFFF) == (SHADOW_TAG | vm), "freeTable: not a shadow table of this VM");
  const level = tableLevel(m);
  const base = ramAt(hpaOf(m));
  if (level > 1) {
    for (let i: usize = 0; i < 512; i++) {
      const e = load<u64>(base + (i << 3));
      if ((e & PTE_P) && !pteLeaf(e, level)) freeTable(vm, <u32>((e & ADDR_MASK) >> 12));
    }
  }
  const g = frameAux(m);
  if (g != NONE && g < vmPages(vm)) {
    const t = gpTrack(pmapBase(vm), g);
    if (load<u32>(t, 4) == m + 1) store<u32>(t, 0, 4);
  }
  memory.fill(base, 0, 4096); // ptAlloc hands out zeroed frames; the allocator will re-zero too, but the pool may not
  frameSetLink(m, 0);
  ptFree(m);
  pset(vm, P_SHADOWTABLES, pget(vm, P_SHADOWTABLES) - 1);
}

/** Flushes, on every context, the guest PWC entries (and with `tlbs` the TLB entries) of the VPID of `vm`. */
function flushVm(vm: u32, tlbs: bool): void {
  const vpid = pget(vm, P_VPID);
  for (let i: u32 = 0; i < mmuCount(); i++) {
    const c = ctxAddr(i);
    if (tlbs) flushTlbs(c, vpid << 12, 0xFFFFF000);
    else cacheFlushAsid(cdesc(c, C_GPWC), vpid << 12, 0xFFFFF000);
  }
}

/** Drops every shadow table of `vm` and forgets all tracking (`tlbs`: flush its TLB entries too). */
export function shadowZapAll(vm: u32, tlbs: bool): void {
  const slots = ROOT_SLOTS;
  for (let s: u32 = 0; s < slots; s++) {
    const p = pvmRoot(vm, s);
    if (load<u32>(p) != 0) { freeTable(vm, load<u32>(p, 4)); store<u32>(p, 0); }
  }
  const pages = vmPages(vm);
  if (pages) memory.fill(gpTrack(pmapBase(vm), 0), 0, <usize>pages << 3);
  for (let i: u32 = 0; i < mmuCount(); i++) {
    const c = ctxAddr(i);
    if (<u32>cget(c, F.Vm) == vm) cset(c, F.ShadowRoot, NONE);
  }
  flushVm(vm, tlbs);
  pset(vm, P_ZAPS, pget(vm, P_ZAPS) + 1);
}

/**
 * Frees every shadow table of `vm` (they are caches: the next walks rebuild what they need):
 * relief when machine memory is short, and power-off. Returns the tables freed.
 */
export function shadowRelease(vm: u32): u32 {
  const had = pget(vm, P_SHADOWTABLES);
  if (had == 0) return 0;
  shadowZapAll(vm, true);
  return had - pget(vm, P_SHADOWTABLES);
}

// ---- sweeps over every shadow tree of a VM (the rmap names one table or leaf; these find the rest) ----

/** sweep operations */
const OP_GUEST_WRITE: u32 = 0; // drop the entry at sweepIdx of every table mirroring sweepGppn
const OP_UNSHADOW: u32 = 1; // free every table mirroring sweepGppn (with its subtree)
const OP_WRPROTECT: u32 = 2; // clear R/W in every leaf reaching frames [sweepLo, sweepHi)

let sweepGppn: u32 = 0;
let sweepIdx: usize = 0;
let sweepLo: u64 = 0;
let sweepHi: u64 = 0;
/** tables or leaves the sweep changed; tables left mirroring sweepGppn and the last of them */
let sweepHits: u32 = 0;
let sweepMirrors: u32 = 0;
let sweepLast: u32 = 0;
/** a non-leaf entry was dropped: PWC and TLB entries below it must go */
let sweepFreed: bool = false;

/** Drops entry `idx` of shadow table `m` (at `level`) with its subtree, flushing the TLB entries of a leaf. */
function dropEntry(vm: u32, m: MPN, level: u32, idx: usize): void {
  const a = ramAt(hpaOf(m) + (idx << 3));
  const e = load<u64>(a);
  if (!(e & PTE_P)) return;
  store<u64>(a, 0);
  if (pteLeaf(e, level)) dropFrames(e, level);
  else { freeTable(vm, <u32>((e & ADDR_MASK) >> 12)); sweepFreed = true; }
}

/** Applies sweep operation `op` to shadow table `m` of `vm` and the tables below it. */
function sweep(vm: u32, m: MPN, op: u32): void {
  const level = tableLevel(m);
  if (frameAux(m) == sweepGppn) {
    sweepMirrors++;
    sweepLast = m;
    if (op == OP_GUEST_WRITE) { dropEntry(vm, m, level, sweepIdx); sweepHits++; }
  }
  const base = ramAt(hpaOf(m));
  for (let i: usize = 0; i < 512; i++) {
    const a = base + (i << 3);
    const e = load<u64>(a);
    if (!(e & PTE_P)) continue;
    if (pteLeaf(e, level)) {
      if (op == OP_WRPROTECT && (e & PTE_RW)) {
        const cls = level - 1;
        const lo = (e & ADDR_MASK & ~clsMask(cls)) >> 12;
        if (lo < sweepHi && lo + (<u64>1 << (9 * cls)) > sweepLo) {
          store<u64>(a, e & ~PTE_RW);
          dropFrames(e, level);
          sweepHits++;
        }
      }
      continue;
    }
    const child = <u32>((e & ADDR_MASK) >> 12);
    if (op == OP_UNSHADOW && frameAux(child) == sweepGppn) {
      store<u64>(a, 0);
      freeTable(vm, child);
      sweepFreed = true;
      sweepHits++;
      continue;
    }
    sweep(vm, child, op);
  }
}

/**
 * Runs sweep `op` over every shadow tree of `vm` (the root cache holds every live tree), then
 * flushes what freed tables may have left in the PWCs and TLBs. Returns the number of changes.
 */
function sweepAll(vm: u32, op: u32, gppn: GPPN, lo: u64, hi: u64): u32 {
  sweepGppn = gppn;
  sweepLo = lo;
  sweepHi = hi;
  sweepHits = 0;
  sweepMirrors = 0;
  sweepLast = 0;
  sweepFreed = false;
  for (let s: u32 = 0; s < ROOT_SLOTS; s++) {
    const p = pvmRoot(vm, s);
    if (load<u32>(p) == 0) continue;
    const root = load<u32>(p, 4);
    if (op == OP_UNSHADOW && frameAux(root) == gppn) {
      // the guest root itself: the tree goes, and the cores running it build a new one
      for (let i: u32 = 0; i < mmuCount(); i++) {
        const c = ctxAddr(i);
        if (<u32>cget(c, F.Vm) == vm && <u32>cget(c, F.ShadowRoot) == root) cset(c, F.ShadowRoot, NONE);
      }
      freeTable(vm, root);
      store<u32>(p, 0);
      sweepFreed = true;
      sweepHits++;
      continue;
    }
    sweep(vm, root, op);
  }
  if (sweepFreed) flushVm(vm, true); // PWC entries into freed tables, TLB entries of their leaves
  if (gppn < vmPages(vm) && op != OP_WRPROTECT) {
    // the reverse map again names exactly the tables left mirroring the page
    store<u32>(gpTrack(pmapBase(vm), gppn), sweepMirrors == 0 ? 0 : sweepMirrors == 1 ? sweepLast + 1 : TRACK_MANY, 4);
  }
  return sweepHits;
}

/**
 * The guest wrote guest page-table page `gppn` of `vm` through a user mapping (its shadow leaf
 * is write-protected because shadow tables mirror the page): the page stops being shadowed.
 * Every shadow table mirroring it is freed (with the entries pointing at it, found by a sweep)
 * and the next walk that needs it builds and write-protects it again. Returns the tables freed.
 */
function unshadow(vm: u32, gppn: GPPN): u32 {
  const n = sweepAll(vm, OP_UNSHADOW, gppn, 0, 0);
  pset(vm, P_UNSHADOWS, pget(vm, P_UNSHADOWS) + 1);
  return n;
}

/** Address of root-cache slot `s` of `vm`: u32 guest root GPPN + 1, u32 shadow root MPN, u64 stamp. */
// @ts-ignore: decorator
@inline function pvmRoot(vm: u32, s: u32): usize {
  return regionOffset(Region.PagingVm) + <usize>vm * 128 + P_ROOTS + <usize>s * 16;
}

/** Points context `c` at the shadow root for its guest CR3, building one (evicting the LRU root) on a miss. False if no frame is left. */
function rootFor(c: usize, vm: u32): bool {
  const groot = <u32>((cget(c, F.Cr3) & ADDR_MASK) >> 12);
  let victim: usize = 0;
  let oldest: u64 = 0xFFFFFFFFFFFFFFFF;
  for (let s: u32 = 0; s < ROOT_SLOTS; s++) {
    const p = pvmRoot(vm, s);
    const g1 = load<u32>(p);
    if (g1 == groot + 1) {
      store<u64>(p, nextRootStamp(), 8);
      cset(c, F.ShadowRoot, load<u32>(p, 4));
      return true;
    }
    const st = g1 == 0 ? 0 : load<u64>(p, 8);
    if (st < oldest) { oldest = st; victim = p; }
  }
  cadd(c, F.ShadowRootMisses, 1);
  if (load<u32>(victim) != 0) {
    const old = load<u32>(victim, 4);
    for (let i: u32 = 0; i < mmuCount(); i++) {
      const o = ctxAddr(i);
      if (<u32>cget(o, F.Vm) == vm && <u32>cget(o, F.ShadowRoot) == old) cset(o, F.ShadowRoot, NONE);
    }
    freeTable(vm, old);
    store<u32>(victim, 0);
    flushVm(vm, false); // PWC entries may point into the freed tree
  }
  const r = ptAlloc();
  if (r == NO_FRAME) return false;
  const g = pget(vm, P_GLEVELS);
  tagTable(r, vm, g, groot);
  pset(vm, P_SHADOWTABLES, pget(vm, P_SHADOWTABLES) + 1);
  track(vm, groot, r);
  store<u32>(victim, groot + 1);
  store<u32>(victim, r, 4);
  store<u64>(victim, nextRootStamp(), 8);
  cset(c, F.ShadowRoot, r);
  return true;
}

/** A CR3 load on context `c`: for a guest MOV to CR3 (`trapped`) a VM exit; then the root-cache lookup. */
export function shadowSwitch(c: usize, vm: u32, trapped: bool): void {
  if (trapped) {
    cadd(c, F.VmExits, 1);
    cadd(c, F.Cycles, cget(c, F.CostVmExit));
  }
  rootFor(c, vm);
}

/**
 * The hidden fault for `va` on context `c`: a VM exit and a software walk of the guest tables.
 * Returns S_OK when the shadow entries are filled (walk again), or S_FAULT with a guest #PF to
 * inject (or a host fault).
 */
export function shadowFill(c: usize, vm: u32, va: gVA, acc: u32, user: bool): u32 {
  cadd(c, F.VmExits, 1);
  cadd(c, F.ShadowFills, 1);
  cadd(c, F.Cycles, cget(c, F.CostVmExit) + cget(c, F.CostShadowFill));
  const g = pget(vm, P_GLEVELS);
  const code: u32 = (acc == ACC_WRITE ? PF_W : 0) | (user ? PF_U : 0) | (acc == ACC_FETCH ? PF_I : 0);
  // software walk of the guest tables, keeping each level's entry and its address
  const ents = c + 832; // scratch: 6 x u64 guest entries, 6 x u64 their linear addresses, 6 x u64 their gPAs
  let table = cget(c, F.Cr3) & ADDR_MASK;
  let level = g;
  let perm: u64 = PTE_RW | PTE_US;
  let nx: u64 = 0;
  let e: u64 = 0;
  for (;;) {
    const ega = table + (levelIndex(va, level) << 3);
    const a = kernelAccess(c, vm, ega, false);
    if (a == 0) return S_FAULT;
    cadd(c, F.ShadowWalkRefs, 1);
    e = load<u64>(a);
    store<u64>(ents + (<usize>level << 3), e);
    store<u64>(ents + 48 + (<usize>level << 3), <u64>a);
    store<u64>(ents + 96 + (<usize>level << 3), ega);
    if (!(e & PTE_P)) { setFault(c, FK_GUEST_PF, code, va); return S_FAULT; }
    if (pteReserved(e, level)) { setFault(c, FK_GUEST_PF, PF_P | PF_RSVD | code, va); return S_FAULT; }
    perm &= e;
    nx |= e & PTE_NX;
    if (pteLeaf(e, level)) break;
    table = e & ADDR_MASK;
    level--;
  }
  if ((user && !(perm & PTE_US)) || (acc == ACC_WRITE && !(perm & PTE_RW)) || (acc == ACC_FETCH && nx != 0)) {
    setFault(c, FK_GUEST_PF, PF_P | code, va);
    return S_FAULT;
  }
  const leafLevel = level;
  // guest accessed / dirty bits, as the hardware walk would have set them
  for (let l = g; l >= leafLevel; l--) {
    let a = <usize>load<u64>(ents + 48 + (<usize>l << 3));
    const v = load<u64>(a);
    const nv = v | PTE_A | (l == leafLevel && acc == ACC_WRITE ? PTE_D : 0);
    if (nv != v) {
      // the address came from a read: a copy-on-write page-table page gets its private frame first
      if (!pmapWritable(vm, <u32>(load<u64>(ents + 96 + (<usize>l << 3)) >> 12))) {
        a = kernelAccess(c, vm, load<u64>(ents + 96 + (<usize>l << 3)), true);
        if (a == 0) return S_FAULT;
      }
      store<u64>(a, nv);
      store<u64>(ents + (<usize>l << 3), nv);
    }
  }
  if (<u32>cget(c, F.ShadowRoot) == NONE && !rootFor(c, vm)) { setFault(c, FK_NO_FRAME, 0, va); return S_FAULT; }
  // mirror the guest's non-leaf entries
  let st = <u32>cget(c, F.ShadowRoot);
  for (let l = g; l > leafLevel; l--) {
    const sa = ramAt((<u64>st << 12) + (levelIndex(va, l) << 3));
    const se = load<u64>(sa);
    if ((se & PTE_P) && !pteLeaf(se, l)) { st = <u32>((se & ADDR_MASK) >> 12); continue; }
    if (se & PTE_P) dropFrames(se, l); // a large shadow leaf gives way to a table
    const ge = load<u64>(ents + (<usize>l << 3));
    const child = ptAlloc();
    if (child == NO_FRAME) { setFault(c, FK_NO_FRAME, 0, va); return S_FAULT; }
    const childG = <u32>((ge & ADDR_MASK) >> 12);
    tagTable(child, vm, l - 1, childG);
    pset(vm, P_SHADOWTABLES, pget(vm, P_SHADOWTABLES) + 1);
    store<u64>(sa, (<u64>child << 12) | PTE_P | PTE_A | (ge & (PTE_RW | PTE_US | PTE_NX)));
    track(vm, childG, child);
    if (<u32>cget(c, F.ShadowRoot) == NONE) return S_OK; // tracking zapped everything: start over
    st = child;
  }
  // the leaf: back the guest page and pick the shadow page size
  const ge = load<u64>(ents + (<usize>leafLevel << 3));
  const gcls = leafLevel - 1;
  const dataGpa = (ge & ADDR_MASK & ~clsMask(gcls)) + (va & clsMask(gcls));
  const gppn = gppnOf(dataGpa);
  const b = hostBack(vm, gppn, acc == ACC_WRITE);
  const mpn = backMpn(b);
  if (mpn >= FAULT_MIN) { setFault(c, FK_HOST, mpn, dataGpa); return S_FAULT; }
  const scls = min<u32>(gcls, backCls(b));
  for (let l = leafLevel; l > scls + 1; l--) {
    // synthetic tables: the guest maps a large page the host cannot map as one
    const sa = ramAt((<u64>st << 12) + (levelIndex(va, l) << 3));
    const se = load<u64>(sa);
    if ((se & PTE_P) && !pteLeaf(se, l)) { st = <u32>((se & ADDR_MASK) >> 12); continue; }
    if (se & PTE_P) dropFrames(se, l); // a large shadow leaf gives way to a table
    const child = ptAlloc();
    if (child == NO_FRAME) { setFault(c, FK_NO_FRAME, 0, va); return S_FAULT; }
    tagTable(child, vm, l - 1, NONE);
    pset(vm, P_SHADOWTABLES, pget(vm, P_SHADOWTABLES) + 1);
    store<u64>(sa, (<u64>child << 12) | PTE_P | PTE_RW | PTE_US | PTE_A);
    st = child;
  }
  const leafAt = ramAt((<u64>st << 12) + (levelIndex(va, scls + 1) << 3));
  const pages: u32 = 1 << (9 * scls);
  const g0 = gppn & ~(pages - 1);
  const t = gpTrack(pmapBase(vm), g0);
  let isTable = false;
  for (let i: u32 = 0; i < pages; i++) if (load<u32>(gpTrack(pmapBase(vm), g0 + i), 4) != 0) { isTable = true; break; }
  if (isTable && acc == ACC_WRITE) {
    // the guest writes a page-table page through a user mapping: a trapped page-table write;
    // stop shadowing that page (only the tables mirroring it go) and walk again
    cadd(c, F.PtWriteTraps, 1);
    cadd(c, F.Cycles, cget(c, F.CostPtWrite));
    for (let i: u32 = 0; i < pages; i++) if (load<u32>(gpTrack(pmapBase(vm), g0 + i), 4) != 0) unshadow(vm, g0 + i);
    return S_OK;
  }
  const hpa = (hpaOf(mpn) | pageOffset(dataGpa)) - (dataGpa & clsMask(scls));
  // a Shared or Zero page maps read-only (copy-on-write); a large leaf covers only Mapped pages (ept.ts hostBack)
  const writable = (perm & PTE_RW) != 0 && (acc == ACC_WRITE || (ge & PTE_D) != 0) && !isTable && (scls > 0 || pmapWritable(vm, gppn));
  const leaf = hpa | PTE_P | PTE_A | PTE_D | (perm & PTE_US) | (writable ? PTE_RW : 0) | nx | (scls > 0 ? PTE_PS : 0);
  const old = load<u64>(leafAt);
  if ((old & PTE_P) && !pteLeaf(old, scls + 1)) freeTable(vm, <u32>((old & ADDR_MASK) >> 12));
  store<u64>(leafAt, leaf);
  rmapSet(vm, g0, pages, leafAt);
  return S_OK;
}

/**
 * The guest kernel wrote guest-physical `gpa` of `vm` on context `c`. If a shadow table mirrors
 * that page, the write traps (a VM exit) and the shadow entry at the written offset is dropped.
 */
export function shadowGuestWrote(c: usize, vm: u32, gpa: gPA): void {
  const gppn = gppnOf(gpa);
  if (gppn >= vmPages(vm)) return;
  const s = load<u32>(gpTrack(pmapBase(vm), gppn), 4);
  if (s == 0) return;
  cadd(c, F.VmExits, 1);
  cadd(c, F.PtWriteTraps, 1);
  cadd(c, F.Cycles, cget(c, F.CostVmExit) + cget(c, F.CostPtWrite));
  if (s == TRACK_MANY) {
    // several shadow tables mirror the page: emulate the write in each of them
    sweepIdx = <usize>((gpa & 0xFF8) >> 3);
    sweepAll(vm, OP_GUEST_WRITE, gppn, 0, 0);
    return;
  }
  const m = s - 1;
  const level = tableLevel(m);
  const a = ramAt(hpaOf(m) + (gpa & 0xFF8));
  const e = load<u64>(a);
  if (!(e & PTE_P)) return;
  store<u64>(a, 0);
  if (pteLeaf(e, level)) {
    dropFrames(e, level);
  } else {
    freeTable(vm, <u32>((e & ADDR_MASK) >> 12));
    flushVm(vm, true); // PWC entries into the freed subtree, TLB entries of its leaves
  }
}

/** Rmap answer of shadowLeafOf for a GPPN mapped by several shadow leaves. */
export const RMAP_MANY_LEAVES: usize = 1;

/** Linear address of the live shadow leaf mapping (vm, gppn), RMAP_MANY_LEAVES when several do, or 0. */
export function shadowLeafOf(vm: u32, gppn: GPPN): usize {
  const r = load<u32>(gpTrack(pmapBase(vm), gppn));
  if (r == RMAP_MANY) return RMAP_MANY_LEAVES;
  return r != 0 && shadowLeafAt(vm, <usize>r) ? <usize>r : 0;
}

/** Level of the shadow table holding entry address `a`. */
export function shadowLeafLevel(a: usize): u32 {
  return tableLevel(<u32>((a - regionOffset(Region.Ram)) >> 12));
}

/** Drops the shadow leaf that maps (vm, gppn), if any (coherence). */
export function shadowDropGppn(vm: u32, gppn: GPPN): void {
  const t = gpTrack(pmapBase(vm), gppn);
  const r = load<u32>(t);
  if (r == 0) return;
  if (r == RMAP_MANY) { shadowZapAll(vm, true); return; }
  store<u32>(t, 0);
  if (shadowLeafAt(vm, <usize>r)) {
    const e = load<u64>(<usize>r);
    store<u64>(<usize>r, 0);
    dropFrames(e, tableLevel(<u32>((<usize>r - regionOffset(Region.Ram)) >> 12)));
  }
}

/** Guest INVLPG of `va` on context `id`: a VM exit in shadow mode (dropping the shadow leaf), then the TLB flush. */
export function mmuInvlpg(id: u32, va: gVA): void {
  const c = ctxAddr(id);
  const vm = <u32>cget(c, F.Vm);
  cadd(c, F.Invlpgs, 1);
  if (pget(vm, P_MODE) == MODE_SHADOW) {
    cadd(c, F.VmExits, 1);
    cadd(c, F.Cycles, cget(c, F.CostVmExit));
    const root = <u32>cget(c, F.ShadowRoot);
    if (root != NONE) {
      let st = root;
      for (let l = pget(vm, P_GLEVELS); l >= 1; l--) {
        const sa = ramAt((<u64>st << 12) + (levelIndex(va, l) << 3));
        const se = load<u64>(sa);
        if (!(se & PTE_P)) break;
        if (pteLeaf(se, l)) { store<u64>(sa, 0); dropFrames(se, l); break; }
        st = <u32>((se & ADDR_MASK) >> 12);
      }
    }
  }
  invlpgAsid(c, va, <u32>cget(c, F.Asid));
}
