/**
 * walk: address translation on a simulated core. One call translates one guest-virtual access:
 *
 *   L1 iTLB / dTLB ──miss──► L2 TLB ──miss──► page walk ──fault──► handler ──► walk again
 *        │hit                  │hit (fills L1)    │done (fills L2 and L1)
 *        ▼                     ▼                  ▼
 *       hPA                   hPA                hPA
 *
 * Walks by mode:
 *   native  the guest tables, g references (tables in guest-physical = physical memory)
 *   ept     the 2D walk: each guest table's gPA and the final gPA go through the nested TLB,
 *           the nested PWC and the EPT: g*(h+1)+h references with every cache off and 4 KiB pages
 *   shadow  the shadow tables (gVA -> hPA), g references; a miss is a hidden fault (shadow.ts)
 *
 * The guest PWC caches non-leaf guest (or shadow) entries keyed by (asid, level, va >> shift of
 * that level); the nested PWC caches non-leaf EPT entries keyed by (vm, level, gpa >> shift). A
 * walk starts below the deepest PWC hit. References counted: one per paging-structure entry read.
 * Accessed and dirty bits are written when a walk completes, folded into the reads (no extra
 * reference). A retried walk is not counted again as an L1 or L2 miss: walks == l2Misses.
 *
 * TLB entry flags (tlb.ts entry +12): TF_W writable, TF_D dirty already set, TF_U user, TF_X
 * executable — each the AND over guest and nested permissions. A hit needs the access's
 * permissions: a write to an entry without TF_D walks again (to set D), as on hardware.
 *
 * Result of a translation (u64): the hPA, or FAULT_BIT | kind << 48 | code (a #PF error code,
 * an EPT exit qualification or a pmap FAULT_* code); the exported entry points leave the faulting
 * address (and the single translation's cycles) in the context's results (cores.ts Res).
 */

import { cacheFind, cacheTouch, cacheFill, cacheOn, cacheLarge } from "./tlb";
import {
  ADDR_MASK, PTE_P, PTE_RW, PTE_US, PTE_NX, PTE_A, PTE_D, EPT_A, EPT_D, PF_P, PF_W, PF_U, PF_RSVD,
  PF_I, EQ_READ, EQ_WRITE, EQ_FETCH, EQ_PERM_SHIFT, EQ_GLA_VALID, EQ_GLA_FINAL, EQ_GLA_USER,
  EQ_GLA_RW, EQ_GLA_NX, EPT_COW, ACC_WRITE, ACC_FETCH, levelIndex, levelShift, clsMask, clsShift, canonical,
  pteReserved, pteLeaf, eptLeaf, eptMisconfigured,
} from "./entries";
import {
  F, cget, cset, cadd, cdesc, ctxAddr, pget, P_MODE, P_GLEVELS, P_HLEVELS, P_FLAGS, P_EPTROOT,
  P_VPID, PF_AD, FL_PWC, FL_NTLB, FL_DEMAND, C_L1I, C_L1D, C_L2, C_GPWC, C_NPWC, C_NTLB,
  SCRATCH_AT, MODE_NATIVE, MODE_EPT, MODE_SHADOW, NONE, flushTlbs, Res,
} from "./cores";
import { ramAt, hostBack, backMpn, backCls, eptInstall, eptFindLeaf, leafAt } from "./ept";
import { FAULT_MIN } from "../reclaim/pmap";
import { pmapFault } from "../reclaim/fault";
import { gosFault } from "./gos";
import { shadowFill, shadowSwitch } from "./shadow";
import {
  S_OK, S_FAULT, S_SHADOW, S_PRESENT, FK_GUEST_PF, FK_EPT_VIOLATION, FK_EPT_MISCONFIG, FK_HOST, FK_NONCANONICAL,
  FK_NO_FRAME, FAULT_BIT, faultKind, faultCode, faultAddr, setFault, faultResult, faultToCtx,
} from "./fault";
import { gPA, gppnOf, gVA, hPA, hpaOf, pageOffset } from "../ram/addr";

// the fault record and statuses live in fault.ts; the module's ABI exports the kinds from here
export { FK_GUEST_PF, FK_EPT_VIOLATION, FK_EPT_MISCONFIG, FK_HOST, FK_GUEST_OOM, FK_NONCANONICAL, FK_NO_FRAME } from "./fault";

/** Batch records (mmuTranslateBatch): an access in, its result out, 16 bytes each. */
export const BATCH_RECORD: u32 = 16;
export const enum BatchIn { Va = 0, Kind = 8 }
export const enum BatchOut { Result = 0, Cycles = 8, Zero = 12 }
/** A faulted record's address (mmuTranslateBatch `addrs`, batchUnpack): u64 per record. */
export const BATCH_ADDR: u32 = 8;

// TLB entry flags
export const TF_W: u32 = 1;
export const TF_D: u32 = 2;
export const TF_U: u32 = 4;
export const TF_X: u32 = 8;
// accumulated guest permissions (AND over levels)
const G_RW: u32 = 1;
const G_US: u32 = 2;
const G_X: u32 = 4;
// nested TLB flag: EPT dirty already set
const NT_D: u32 = 8;

// ---- state of the translation in progress ------------------------------------------------------

// The walk in progress counts its references, page-walk-cache hits and cycles in its context
// (F.WalkRefsNow, F.WalkPwcNow, F.WalkCyclesNow); every other result travels in a return value,
// packed below.

/**
 * A guest or shadow walk's outcome in one u64: when complete, the hPA of the page it maps
 * (bits 12-51) with its TLB flags (bits 2-5) and size class (bits 0-1); else WALK_STOP | S_FAULT
 * or S_SHADOW.
 */
type Walked = u64;
const WALK_STOP: u64 = <u64>1 << 63;
// @ts-ignore: decorator
@inline function walked(pfn: u64, cls: u32, flags: u32): Walked { return (pfn << 12) | (<u64>flags << 2) | <u64>cls; }
// @ts-ignore: decorator
@inline function walkPfn(w: Walked): u64 { return w >> 12; }
// @ts-ignore: decorator
@inline function walkCls(w: Walked): u32 { return <u32>w & 3; }
// @ts-ignore: decorator
@inline function walkFlags(w: Walked): u32 { return (<u32>w >> 2) & 0xF; }

// ---- nested translation (ept mode) ----------------------------------------------------------------

const NFAULT: u64 = 0xFFFFFFFFFFFFFFFF;
/** hPA bits of a nested result; above them the EPT leaf's class (52-53), D (54) and RWX (55-57). */
const HPA_BITS: u64 = (<u64>1 << 52) - 1;
// @ts-ignore: decorator
@inline function nestedResult(hpa: hPA, cls: u32, dirty: bool, perm: u32): u64 {
  return hpa | (<u64>cls << 52) | (dirty ? <u64>1 << 54 : 0) | (<u64>perm << 55);
}
// @ts-ignore: decorator
@inline function nestedHpa(r: u64): hPA { return r & HPA_BITS; }
// @ts-ignore: decorator
@inline function nestedCls(r: u64): u32 { return <u32>(r >> 52) & 3; }
// @ts-ignore: decorator
@inline function nestedDirty(r: u64): bool { return ((r >> 54) & 1) != 0; }
// @ts-ignore: decorator
@inline function nestedPerm(r: u64): u32 { return <u32>(r >> 55) & 7; }

/**
 * Translates gPA `gpa` of `vm` through the nested TLB, nested PWC and EPT, counting references.
 * `isPT`: the access reads a guest paging-structure entry. `gperm`: guest permissions of the
 * final translation (for the qualification). Returns the hPA with the EPT leaf's class, dirty
 * state and permissions above it (nestedResult), or NFAULT with the fault set.
 */
function nested(c: usize, vm: u32, gpa: gPA, acc: u32, isPT: bool, gperm: u32, va: gVA): u64 {
  const ad = (pget(vm, P_FLAGS) & PF_AD) != 0;
  // with EPT A/D on, reads of guest paging structures count as writes (SDM 29.3.3.2)
  const asWrite = isPT ? ad : acc == ACC_WRITE;
  const need: u64 = isPT ? (ad ? 2 : 1) : acc == ACC_WRITE ? 2 : acc == ACC_FETCH ? 4 : 1;
  const flags = cget(c, F.Flags);
  const nt = cdesc(c, C_NTLB);
  if ((flags & FL_NTLB) && cacheOn(nt)) {
    let e = cacheFind(nt, gpa >> 12, 0, vm);
    let cls: u32 = 0;
    if (e == 0 && cacheLarge(nt) != 0) {
      e = cacheFind(nt, gpa >> 21, 1, vm); cls = 1;
      if (e == 0) { e = cacheFind(nt, gpa >> 30, 2, vm); cls = 2; }
    }
    if (e != 0) {
      const fl = load<u32>(e, 12);
      // without EPT A/D a read-only page-table page goes the long way: it may be copy-on-write (below)
      if ((<u64>fl & need) == need && (!asWrite || !ad || (fl & NT_D) != 0) && (ad || !isPT || (fl & 2) != 0)) {
        cacheTouch(nt, e);
        cadd(c, F.NtlbHits, 1);
        return nestedResult((load<u64>(e, 16) << 12) + (gpa & clsMask(cls)), cls, (fl & NT_D) != 0, fl & 7);
      }
    }
    cadd(c, F.NtlbMisses, 1);
  }
  let level = pget(vm, P_HLEVELS);
  let table = <u64>pget(vm, P_EPTROOT) << 12;
  let perm: u64 = 7;
  const pwc = cdesc(c, C_NPWC);
  const pwcOn = (flags & FL_PWC) != 0 && cacheOn(pwc);
  if (pwcOn) {
    for (let l: u32 = 2; l <= level; l++) {
      const e = cacheFind(pwc, gpa >> levelShift(l), l, vm);
      if (e != 0) {
        cacheTouch(pwc, e);
        table = load<u64>(e, 16) & ADDR_MASK;
        perm = <u64>load<u32>(e, 12);
        level = l - 1;
        cadd(c, F.WalkPwcNow, 1);
        break;
      }
    }
  }
  const accBits: u32 = isPT ? (EQ_READ | (ad ? EQ_WRITE : 0)) : acc == ACC_WRITE ? EQ_WRITE : acc == ACC_FETCH ? EQ_FETCH : EQ_READ;
  const glaBits: u32 = EQ_GLA_VALID | (isPT ? 0 : EQ_GLA_FINAL |
    ((gperm & G_US) ? EQ_GLA_USER : 0) | ((gperm & G_RW) ? EQ_GLA_RW : 0) | ((gperm & G_X) ? 0 : EQ_GLA_NX));
  // the references (one per level read) are counted once, as the walk leaves: top - level + 1
  const top = level;
  for (;;) {
    const a = ramAt(table + (levelIndex(gpa, level) << 3));
    let e = load<u64>(a);
    if ((e & 7) == 0) {
      setFault(c, FK_EPT_VIOLATION, accBits | glaBits, gpa);
      cadd(c, F.WalkRefsNow, top - level + 1);
      return NFAULT;
    }
    const leaf = eptLeaf(e, level);
    if (eptMisconfigured(e, level, leaf)) {
      setFault(c, FK_EPT_MISCONFIG, 0, gpa);
      cadd(c, F.WalkRefsNow, top - level + 1);
      return NFAULT;
    }
    perm &= e & 7;
    if (!leaf) {
      if (ad && !(e & EPT_A)) store<u64>(a, e | EPT_A);
      if (pwcOn) cacheFill(pwc, gpa >> levelShift(level), level, vm, <u32>perm, e);
      table = e & ADDR_MASK;
      level--;
      continue;
    }
    if ((perm & need) != need) {
      setFault(c, FK_EPT_VIOLATION, accBits | glaBits | (<u32>perm << EQ_PERM_SHIFT), gpa);
      cadd(c, F.WalkRefsNow, top - level + 1);
      return NFAULT;
    }
    if (isPT && !ad && (e & EPT_COW) != 0) {
      // the walk sets guest A/D bits in this page-table page, a write, so its copy-on-write
      // sharing must break first (with EPT A/D on, `need` already asked for W)
      setFault(c, FK_EPT_VIOLATION, accBits | EQ_WRITE | glaBits | (<u32>perm << EQ_PERM_SHIFT), gpa);
      cadd(c, F.WalkRefsNow, top - level + 1);
      return NFAULT;
    }
    if (ad) {
      e |= EPT_A | (asWrite ? EPT_D : 0);
      store<u64>(a, e);
    }
    const cls = level - 1;
    const m = clsMask(cls);
    const base = e & ADDR_MASK & ~m;
    const dirty = !ad || (e & EPT_D) != 0;
    if ((flags & FL_NTLB) && cacheOn(nt)) {
      cacheFill(nt, gpa >> clsShift(cls), cls, vm, <u32>perm | (dirty ? NT_D : 0), base >> 12);
    }
    cadd(c, F.WalkRefsNow, top - level + 1);
    return nestedResult(base + (gpa & m), cls, dirty, <u32>perm);
  }
}

// ---- guest walk (native and ept) -------------------------------------------------------------------

/** Where a walk starts: the table's address (4 KiB aligned), its level in bits 0-2, the permissions so far in bits 3-5. */
type Start = u64;
// @ts-ignore: decorator
@inline function startTable(s: Start): u64 { return s & ~<u64>0xFFF; }
// @ts-ignore: decorator
@inline function startLevel(s: Start): u32 { return <u32>s & 7; }
// @ts-ignore: decorator
@inline function startPerm(s: Start): u32 { return (<u32>s >> 3) & 7; }

/**
 * Where the walk of `va` starts: below the deepest hit in the guest page-walk cache `pwc` (with
 * the permissions ANDed down to it), else at `root` with every permission.
 */
function walkStart(c: usize, pwc: usize, pwcOn: bool, va: gVA, g: u32, asid: u32, root: u64): Start {
  if (pwcOn) {
    for (let l: u32 = 2; l <= g; l++) {
      const e = cacheFind(pwc, va >> levelShift(l), l, asid);
      if (e != 0) {
        cacheTouch(pwc, e);
        cadd(c, F.WalkPwcNow, 1);
        return (load<u64>(e, 16) & ADDR_MASK) | (<u64>(load<u32>(e, 12) & 7) << 3) | <u64>(l - 1);
      }
    }
  }
  return root | (<u64>(G_RW | G_US | G_X) << 3) | <u64>g;
}

/** The permissions an entry grants (G_RW, G_US, G_X); a walk ANDs them down the levels. */
// @ts-ignore: decorator
@inline function entryPerm(e: u64): u32 {
  return ((e & PTE_RW) ? G_RW : 0) | ((e & PTE_US) ? G_US : 0) | ((e & PTE_NX) ? 0 : G_X);
}

/** True if walk permissions `perm` allow access `acc` (CR0.WP = 1: supervisor writes honour R/W; EFER.NXE = 1). */
// @ts-ignore: decorator
@inline function allowed(perm: u32, acc: u32, user: bool): bool {
  return !((user && !(perm & G_US)) || (acc == ACC_WRITE && !(perm & G_RW)) || (acc == ACC_FETCH && !(perm & G_X)));
}

/** Error code of a #PF for access `acc`. */
// @ts-ignore: decorator
@inline function pfCode(acc: u32, user: bool): u32 {
  return (acc == ACC_WRITE ? PF_W : 0) | (user ? PF_U : 0) | (acc == ACC_FETCH ? PF_I : 0);
}

/** Host address of guest-physical `gpa` for a native walk: the pmap backs it silently (no hypervisor exists). */
function nativeHost(c: usize, vm: u32, gpa: gPA): u64 {
  const m = pmapFault(vm, gppnOf(gpa), false);
  if (m >= FAULT_MIN) { setFault(c, FK_HOST, m, gpa); return NFAULT; }
  return hpaOf(m) | pageOffset(gpa);
}

/**
 * Walks the guest tables of the current address space for `va`; in ept mode every guest-physical
 * reference goes through `nested`. Returns what it mapped, or WALK_STOP | S_FAULT with the fault set.
 */
function guestWalk(c: usize, vm: u32, mode: u32, va: gVA, acc: u32, user: bool): Walked {
  const g = pget(vm, P_GLEVELS);
  const asid = <u32>cget(c, F.Asid);
  const flags = cget(c, F.Flags);
  const pwc = cdesc(c, C_GPWC);
  const pwcOn = (flags & FL_PWC) != 0 && cacheOn(pwc);
  const start = walkStart(c, pwc, pwcOn, va, g, asid, cget(c, F.Cr3) & ADDR_MASK);
  let table = startTable(start);
  let level = startLevel(start);
  let perm = startPerm(start);
  const used = c + SCRATCH_AT;
  let n: u32 = 0;
  for (;;) {
    const ega = table + (levelIndex(va, level) << 3);
    const r = mode == MODE_EPT ? nested(c, vm, ega, 0, true, 0, va) : nativeHost(c, vm, ega);
    if (r == NFAULT) return WALK_STOP | S_FAULT;
    const h = nestedHpa(r);
    cadd(c, F.WalkRefsNow, 1);
    const e = load<u64>(ramAt(h));
    store<u64>(used + (<usize>n << 3), h);
    n++;
    if (!(e & PTE_P)) { setFault(c, FK_GUEST_PF, pfCode(acc, user), va); return WALK_STOP | S_FAULT; }
    if (pteReserved(e, level)) { setFault(c, FK_GUEST_PF, PF_P | PF_RSVD | pfCode(acc, user), va); return WALK_STOP | S_FAULT; }
    perm &= entryPerm(e);
    if (!pteLeaf(e, level)) {
      if (pwcOn) cacheFill(pwc, va >> levelShift(level), level, asid, perm, e);
      table = e & ADDR_MASK;
      level--;
      continue;
    }
    if (!allowed(perm, acc, user)) {
      setFault(c, FK_GUEST_PF, PF_P | pfCode(acc, user), va);
      return WALK_STOP | S_FAULT;
    }
    const cls = level - 1;
    const m = clsMask(cls);
    const dataGpa = (e & ADDR_MASK & ~m) + (va & m);
    let ecls = cls;
    let hpa: hPA;
    let dirtyOk = true;
    let x: u32 = TF_X;
    let w: u32 = TF_W;
    if (mode == MODE_EPT) {
      const r = nested(c, vm, dataGpa, acc, false, perm, va);
      if (r == NFAULT) return WALK_STOP | S_FAULT;
      hpa = nestedHpa(r);
      if (nestedCls(r) < ecls) ecls = nestedCls(r);
      dirtyOk = nestedDirty(r);
      // the combined entry holds the AND of guest and EPT permissions
      if (!(nestedPerm(r) & 2)) w = 0;
      if (!(nestedPerm(r) & 4)) x = 0;
    } else {
      hpa = dataGpa; // native: the physical address is the guest-physical one
    }
    // accessed bits on every entry read, dirty on the leaf for a write
    for (let i: u32 = 0; i < n; i++) {
      const a = ramAt(load<u64>(used + (<usize>i << 3)));
      const v = load<u64>(a);
      const nv = v | PTE_A | (i == n - 1 && acc == ACC_WRITE ? PTE_D : 0);
      if (nv != v) store<u64>(a, nv);
    }
    const dirty = acc == ACC_WRITE || ((e & PTE_D) != 0 && dirtyOk);
    return walked((hpa & ~clsMask(ecls)) >> 12, ecls,
      ((perm & G_RW) ? w : 0) | (dirty ? TF_D : 0) | ((perm & G_US) ? TF_U : 0) | ((perm & G_X) ? x : 0));
  }
}

// ---- shadow walk (hardware walking the shadow tables) ----------------------------------------------

/** Walks the shadow tables of the current address space for `va`; WALK_STOP | S_SHADOW on any miss or denied permission. */
function shadowWalk(c: usize, vm: u32, va: gVA, acc: u32, user: bool): Walked {
  const root = <u32>cget(c, F.ShadowRoot);
  if (root == NONE) return WALK_STOP | S_SHADOW;
  const g = pget(vm, P_GLEVELS);
  const asid = <u32>cget(c, F.Asid);
  const pwc = cdesc(c, C_GPWC);
  const pwcOn = (cget(c, F.Flags) & FL_PWC) != 0 && cacheOn(pwc);
  const start = walkStart(c, pwc, pwcOn, va, g, asid, <u64>root << 12);
  let table = startTable(start);
  let level = startLevel(start);
  let perm = startPerm(start);
  for (;;) {
    cadd(c, F.WalkRefsNow, 1);
    const ea = ramAt(table + (levelIndex(va, level) << 3));
    const e = load<u64>(ea);
    if (!(e & PTE_P)) return WALK_STOP | S_SHADOW;
    perm &= entryPerm(e);
    if (!pteLeaf(e, level)) {
      if (pwcOn) cacheFill(pwc, va >> levelShift(level), level, asid, perm, e);
      table = e & ADDR_MASK;
      level--;
      continue;
    }
    if (!allowed(perm, acc, user)) {
      return WALK_STOP | S_SHADOW; // the fill decides: guest #PF, dirty tracking, or write-protected table
    }
    const cls = level - 1;
    // the hardware sets A (and D for a write) in the shadow leaf, which the hypervisor harvests
    // (accessed.ts); fills create leaves with A and D set, so D is clear only after a harvest
    const ne = e | PTE_A | (acc == ACC_WRITE ? PTE_D : 0);
    if (ne != e) store<u64>(ea, ne);
    return walked((e & ADDR_MASK & ~clsMask(cls)) >> 12, cls,
      ((perm & G_RW) ? TF_W : 0) | ((ne & PTE_D) ? TF_D : 0) | ((perm & G_US) ? TF_U : 0) | ((perm & G_X) ? TF_X : 0));
  }
}

// ---- translation ------------------------------------------------------------------------------------

/** True if TLB entry flags `fl` permit access `acc`. */
// @ts-ignore: decorator
@inline function permits(fl: u32, acc: u32, user: bool): bool {
  if (user && !(fl & TF_U)) return false;
  if (acc == ACC_WRITE) return (fl & (TF_W | TF_D)) == (TF_W | TF_D);
  if (acc == ACC_FETCH) return (fl & TF_X) != 0;
  return true;
}

/** The way of TLB `d` holding `va` for `asid` at any page size, or 0. */
// @ts-ignore: decorator
@inline function tlbProbe(d: usize, va: gVA, asid: u32): usize {
  let e = cacheFind(d, va >> 12, 0, asid);
  if (e == 0 && cacheLarge(d) != 0) {
    e = cacheFind(d, va >> 21, 1, asid);
    if (e == 0) e = cacheFind(d, va >> 30, 2, asid);
  }
  return e;
}

/** hPA of `va` through TLB way `e`. */
// @ts-ignore: decorator
@inline function viaEntry(e: usize, va: gVA): u64 {
  const cls = (<u32>load<u64>(e) >> 1) & 7;
  return (load<u64>(e, 16) << 12) + (va & clsMask(cls));
}

/**
 * Translates `va` for access `acc` (ACC_READ, ACC_WRITE, ACC_FETCH) on context `c`; `user`
 * for a user-mode access. Returns the hPA or a fault result; its cost in cycles goes to the
 * context's results (Res.Cycles).
 */
export function translate(c: usize, va: gVA, acc: u32, user: bool): u64 {
  const asid = <u32>cget(c, F.Asid);
  const fetch = acc == ACC_FETCH;
  const l1 = cdesc(c, fetch ? C_L1I : C_L1D);
  cadd(c, F.Translations, 1);
  cadd(c, fetch ? F.L1iAccesses : F.L1dAccesses, 1);
  let cyc = cget(c, F.CostL1Hit);
  if (cacheOn(l1)) {
    const e = tlbProbe(l1, va, asid);
    if (e != 0 && permits(load<u32>(e, 12), acc, user)) {
      cacheTouch(l1, e);
      store<u32>(c + <usize>Res.Cycles, <u32>cyc);
      cadd(c, F.Cycles, cyc);
      return viaEntry(e, va);
    }
  }
  cadd(c, fetch ? F.L1iMisses : F.L1dMisses, 1);
  const l2 = cdesc(c, C_L2);
  cyc += cget(c, F.CostL2Hit);
  if (cacheOn(l2)) {
    const e = tlbProbe(l2, va, asid);
    if (e != 0 && permits(load<u32>(e, 12), acc, user)) {
      cacheTouch(l2, e);
      const k = load<u64>(e);
      if (cacheOn(l1)) cacheFill(l1, k >> 4, (<u32>k >> 1) & 7, asid, load<u32>(e, 12), load<u64>(e, 16));
      store<u32>(c + <usize>Res.Cycles, <u32>cyc);
      cadd(c, F.Cycles, cyc);
      return viaEntry(e, va);
    }
  }
  cadd(c, F.L2Misses, 1);
  const r = walkAndFill(c, va, acc, user, asid, l1, l2);
  // a stop the host side must resolve before the access can be retried (over a Host it is)
  if ((r & FAULT_BIT) && (faultKind(c) == FK_HOST || faultKind(c) == FK_NO_FRAME)) cadd(c, F.HostFaults, 1);
  cyc += cget(c, F.WalkCyclesNow);
  store<u32>(c + <usize>Res.Cycles, <u32>min<u64>(cyc, 0xFFFFFFFF));
  cadd(c, F.Cycles, cyc);
  return r;
}


/** The miss path of `translate`: walks, handles faults, walks again, fills the TLBs. */
function walkAndFill(c: usize, va: gVA, acc: u32, user: bool, asid: u32, l1: usize, l2: usize): u64 {
  const vm = <u32>cget(c, F.Vm);
  const mode = pget(vm, P_MODE);
  cset(c, F.WalkCyclesNow, 0);
  if (!canonical(va, pget(vm, P_GLEVELS))) {
    setFault(c, FK_NONCANONICAL, 0, va);
    return faultResult(c);
  }
  const costRef = cget(c, F.CostWalkRef);
  const costPwc = cget(c, F.CostPwcHit);
  for (let tries = 0; tries < 16; tries++) {
    cset(c, F.WalkRefsNow, 0);
    cset(c, F.WalkPwcNow, 0);
    const w = mode == MODE_SHADOW ? shadowWalk(c, vm, va, acc, user) : guestWalk(c, vm, mode, va, acc, user);
    const refs = cget(c, F.WalkRefsNow), pwcHits = cget(c, F.WalkPwcNow);
    cadd(c, F.WalkCyclesNow, refs * costRef + pwcHits * costPwc);
    cadd(c, F.PwcHits, pwcHits);
    if (!(w & WALK_STOP)) {
      const cls = walkCls(w), pfn = walkPfn(w);
      if (DEBUG) assert(cls <= 2 && (mode != MODE_EPT || refs > 0 || pwcHits > 0 || (cget(c, F.Flags) & FL_NTLB) != 0), "walk: impossible result");
      cadd(c, F.Walks, 1);
      cadd(c, F.WalkRefs, refs);
      const tag = va >> clsShift(cls);
      if (cacheOn(l2)) cacheFill(l2, tag, cls, asid, walkFlags(w), pfn);
      if (cacheOn(l1)) cacheFill(l1, tag, cls, asid, walkFlags(w), pfn);
      return (pfn << 12) + (va & clsMask(cls));
    }
    let st = <u32>w;
    cadd(c, F.FaultWalkRefs, refs);
    if (st == S_SHADOW) {
      const before = cget(c, F.Cycles);
      st = shadowFill(c, vm, va, acc, user);
      cadd(c, F.WalkCyclesNow, cget(c, F.Cycles) - before);
      cset(c, F.Cycles, before); // charged through F.WalkCyclesNow, once
      if (st == S_OK) continue;
    }
    if (faultKind(c) == FK_GUEST_PF) {
      cadd(c, F.GuestPageFaults, 1);
      cadd(c, F.WalkCyclesNow, cget(c, F.CostGuestPf));
      if ((faultCode(c) & PF_P) == 0 && (cget(c, F.Flags) & FL_DEMAND) != 0) {
        const before = cget(c, F.Cycles);
        const saved = faultCode(c);
        const r = gosFault(c, vm, va);
        cadd(c, F.WalkCyclesNow, cget(c, F.Cycles) - before);
        cset(c, F.Cycles, before);
        if (r == S_OK) continue;
        if (r == S_PRESENT) setFault(c, FK_GUEST_PF, saved, va);
      }
      return faultResult(c);
    }
    if (faultKind(c) == FK_EPT_VIOLATION) {
      cadd(c, F.VmExits, 1);
      cadd(c, F.EptViolations, 1);
      cadd(c, F.WalkCyclesNow, cget(c, F.CostVmExit) + cget(c, F.CostEptViolation));
      const gppn = gppnOf(faultAddr(c));
      if ((faultCode(c) >> EQ_PERM_SHIFT) & 7) {
        // a present entry that denies the access is not a first touch: the caller decides,
        // unless it is the hypervisor's own copy-on-write protection (ept.ts EPT_COW)
        if ((faultCode(c) & EQ_WRITE) == 0) return faultResult(c);
        const leaf = eptFindLeaf(vm, faultAddr(c));
        if (leaf == 0 || (load<u64>(leafAt(leaf)) & EPT_COW) == 0) return faultResult(c);
      }
      const b = hostBack(vm, gppn, (faultCode(c) & EQ_WRITE) != 0);
      const mpn = backMpn(b);
      if (mpn >= FAULT_MIN) { setFault(c, FK_HOST, mpn, faultAddr(c)); return faultResult(c); }
      if (!eptInstall(vm, gppn, mpn, backCls(b))) { setFault(c, FK_NO_FRAME, 0, faultAddr(c)); return faultResult(c); }
      continue;
    }
    if (faultKind(c) == FK_EPT_MISCONFIG) {
      cadd(c, F.VmExits, 1);
      cadd(c, F.EptMisconfigs, 1);
      cadd(c, F.WalkCyclesNow, cget(c, F.CostVmExit));
    }
    return faultResult(c);
  }
  return faultResult(c);
}

// ---- exported ABI --------------------------------------------------------------------------------

/**
 * Points context `id` at `vm` with guest CR3 `cr3` (a gPA) and PCID `pcid`. Switching to another
 * VM is a VM entry: entries of VPID 0 are flushed, tagged ones stay. Within the same VM it is a
 * guest MOV to CR3: with PCID 0 the address space's entries are flushed; in shadow mode it traps
 * (a VM exit) and looks the shadow root up in the VM's root cache.
 */
export function mmuSwitch(id: u32, vm: u32, cr3: f64, pcid: u32): void {
  const c = ctxAddr(id);
  const vpid = pget(vm, P_VPID);
  const asid = (vpid << 12) | (pcid & 0xFFF);
  const sameVm = <u32>cget(c, F.Vm) == vm;
  if (!sameVm && vpid == 0) flushTlbs(c, 0, 0xFFFFF000); // VM entry without VPID flushes VPID 0
  cset(c, F.Vm, vm);
  cset(c, F.Asid, asid);
  cset(c, F.Cr3, <u64>cr3);
  cset(c, F.Mode, pget(vm, P_MODE));
  cset(c, F.GLevels, pget(vm, P_GLEVELS));
  if (sameVm) {
    // a guest MOV to CR3: without PCIDs it flushes the (non-global) entries of the address space
    cadd(c, F.Cr3Switches, 1);
    if (pcid == 0) flushTlbs(c, asid, 0xFFFFFFFF);
  }
  cset(c, F.ShadowRoot, NONE);
  if (pget(vm, P_MODE) == MODE_SHADOW) shadowSwitch(c, vm, sameVm);
}

/**
 * Translates one access on context `id` (kind: 0 read, 1 write, 2 fetch; bit 2: supervisor).
 * The context's results get its cycles and, when it faulted, the fault (kind, code, address).
 */
export function mmuTranslate(id: u32, va: gVA, kind: u32): u64 {
  const c = ctxAddr(id);
  const r = translate(c, va, kind & 3, (kind & 4) == 0);
  if (r & FAULT_BIT) faultToCtx(c);
  return r;
}

/**
 * Batch translation on context `id`: `n` BATCH_RECORDs at `inp` (BatchIn: u64 gVA, u32 kind as
 * in mmuTranslate) produce `n` at `out` (BatchOut: u64 hPA or fault result, u32 cycles, u32 0).
 * With `addrs` != 0, a faulted record i also gets its faulting address (gVA for a #PF, gPA for
 * an EPT or host fault) at addrs + BATCH_ADDR * i; other slots are not written, so the no-fault
 * path costs nothing more. The context's results get the batch's last fault. Returns the number
 * of faulted records.
 */
export function mmuTranslateBatch(id: u32, inp: usize, out: usize, n: u32, addrs: usize): u32 {
  const c = ctxAddr(id);
  let faults: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    const r = inp + <usize>i * BATCH_RECORD;
    const kind = load<u32>(r + <usize>BatchIn.Kind);
    const res = translate(c, load<u64>(r + <usize>BatchIn.Va), kind & 3, (kind & 4) == 0);
    const o = out + <usize>i * BATCH_RECORD;
    store<u64>(o + <usize>BatchOut.Result, res);
    store<u32>(o + <usize>BatchOut.Cycles, load<u32>(c + <usize>Res.Cycles));
    store<u32>(o + <usize>BatchOut.Zero, 0);
    if (res & FAULT_BIT) {
      faults++;
      if (addrs != 0) store<u64>(addrs + <usize>i * BATCH_ADDR, faultAddr(c));
    }
  }
  if (faults != 0) faultToCtx(c);
  return faults;
}

/**
 * Lists (u32 indices at `list`) the records among `n` results at `out` whose fault the host must
 * resolve (FK_HOST: swap-in, no frame, VM at its limit; FK_NO_FRAME: no frame for a table), so
 * the host's retry loop visits only those. Returns how many.
 */
export function batchHostFaults(out: usize, n: u32, list: usize): u32 {
  let k: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    const word = load<u64>(out + <usize>i * BATCH_RECORD + <usize>BatchOut.Result);
    if (!(word & FAULT_BIT)) continue;
    const kind = <u32>(word >> 48) & 0x7F;
    if (kind == FK_HOST || kind == FK_NO_FRAME) store<u32>(list + (<usize>(k++) << 2), i);
  }
  return k;
}

/**
 * Builds `n` batch records at `inp` from separate arrays: gVAs (u64 at `vas`) and kinds (u8 or
 * u32 at `kinds`, per `kindBytes`), so a caller with plain arrays copies them in bulk and never
 * interleaves them record by record in JavaScript.
 */
export function batchPack(inp: usize, vas: usize, kinds: usize, kindBytes: u32, n: u32): void {
  for (let i: u32 = 0; i < n; i++) {
    const r = inp + <usize>i * BATCH_RECORD;
    store<u64>(r + <usize>BatchIn.Va, load<u64>(vas + (<usize>i << 3)));
    store<u32>(r + <usize>BatchIn.Kind, kindBytes == 1 ? <u32>load<u8>(kinds + <usize>i) : load<u32>(kinds + (<usize>i << 2)));
  }
}

/**
 * Splits `n` batch results at `out` into results (u64 at `res`) and cycles (u32 at `cyc`, none
 * when 0); for each faulted record copies its fault address from `addrs` to `faOut` (when both
 * are given), leaving the other entries of `faOut` as they were.
 */
export function batchUnpack(out: usize, res: usize, cyc: usize, addrs: usize, faOut: usize, n: u32): void {
  for (let i: u32 = 0; i < n; i++) {
    const o = out + <usize>i * BATCH_RECORD;
    const word = load<u64>(o + <usize>BatchOut.Result);
    store<u64>(res + (<usize>i << 3), word);
    if (cyc != 0) store<u32>(cyc + (<usize>i << 2), load<u32>(o + <usize>BatchOut.Cycles));
    if (faOut != 0 && addrs != 0 && (word & FAULT_BIT)) store<u64>(faOut + (<usize>i << 3), load<u64>(addrs + <usize>i * BATCH_ADDR));
  }
}

/** A record of a guest-physical page's backing change was applied: the counter of coherence drops of `vm`. */
export function mmuVpid(vm: u32): u32 { return pget(vm, P_VPID); }
