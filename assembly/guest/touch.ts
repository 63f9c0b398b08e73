/**
 * touch: the workload's page touches of one simulated step, in one call per batch. TypeScript
 * says how many touches the step asks for and how much simulated time the VM has (simStepBegin);
 * simTouch runs them until both are used up, or until TypeScript must act:
 *
 *   for each touch:  pick a page of the active set (uniform, or Zipf from an alias table)
 *                    and read or write (writeFraction)
 *     virtual page never allocated --> the guest allocates a GPPN    (none free: R_GUEST_FREE)
 *     virtual page in guest swap   -----------------------------------> R_GUEST_SWAPIN
 *     mmu none: the pmap entry       Mapped: a hit; else pmapFault    (must act: R_HOST)
 *     mmu ept / shadow: translate on the VM's core; a guest #PF maps the page (guest tables),
 *                    an EPT violation / shadow fill backs it          (must act: R_HOST)
 *     new page: its content is written; a write stamps the page (a real write: copy-on-write
 *     breaks and volatile pages happen as they would)
 *
 * A touch that stopped for TypeScript stays pending and is retried, not drawn again, so a run
 * is the same whatever TypeScript had to do in between.
 *
 * Time (f64 simulated ns): each completed touch costs the workload's own pace (TauNs, the time
 * between touches when nothing stalls it) plus HitNs, plus what its faults cost (the cost model:
 * guest #PF, VM exit, first-touch zero fill, copy-on-write copy, decompression; swap-in I/O is
 * charged by TypeScript), plus, through an MMU, the core's cycles at the host's clock. Faults
 * are stall; the core's TLB and walk cycles are translation. A touch starts only while the step
 * has time left, so a stalled VM completes fewer touches: lost work.
 */

import {
  S, hdr, sget, sset, sadd, fget, fset, fadd, setOwner, oword, vpAddr, aliasAddr, NONE, NIL, NO_LOC, LOC_MASK, FILL,
  SWAPPED, REF, SEEN, O_VPAGE, R_DONE, R_HOST, R_GUEST_FREE, R_GUEST_SWAPIN, R_ERROR,
} from "../guest/state";
import { freePop, faultStop } from "../guest/alloc";
import { gosMap } from "../guest/paging";
import { nextRand, uniformIndex, zipfIndex, zipfBuild, streamSet, streamGet } from "../workload/sampler";
import { vpageFill } from "./pages";
import { stampOffset, stampValue } from "../workload/content";
import {
  vmEntry, pmapAddr, pstate, pframe, PState, ACCESSED, DIRTY, FAULT_MIN, VmF, VmCounter,
} from "../reclaim/pmap";
import { frameAddr } from "../ram/frames";
import { F, cget, cadd, ctxAddr } from "../translate/cores";
import { pmapFault } from "../reclaim/fault";
import { translate } from "../translate/walk";
import { FAULT_BIT, faultKind, faultCode, FK_GUEST_PF, FK_HOST, FK_NO_FRAME } from "../translate/fault";
import { kernelAccess } from "../translate/kernel";
import { ramAt } from "../translate/ept";
import { ACC_READ, ACC_WRITE, ACC_FETCH, PF_P } from "../translate/entries";

/** A cumulative pmap counter of `vm`. */
// @ts-ignore: decorator
@inline function vmCounter(vm: u32, c: VmCounter): u64 {
  return load<u64>(vmEntry(vm) + <usize>VmF.Counters + (<usize>c << 3));
}

/** Re-reads the counters the loop charges from (anything outside simTouch charged itself). */
function snapshot(vm: u32, h: usize): void {
  sset(h, S.SnapFirst, vmCounter(vm, VmCounter.FirstTouch));
  sset(h, S.SnapCow, vmCounter(vm, VmCounter.CowBreaks));
  sset(h, S.SnapUnzip, vmCounter(vm, VmCounter.Unzip));
  sset(h, S.SnapBalloon, vmCounter(vm, VmCounter.BalloonTouch));
  const ctx = <u32>sget(h, S.Ctx);
  if (ctx == NONE) return;
  const c = ctxAddr(ctx);
  sset(h, S.SnapExits, cget(c, F.VmExits));
  sset(h, S.SnapPf, cget(c, F.GuestPageFaults));
  sset(h, S.SnapEpt, cget(c, F.EptViolations));
  sset(h, S.SnapFills, cget(c, F.ShadowFills));
  sset(h, S.SnapPtw, cget(c, F.PtWriteTraps));
  sset(h, S.SnapCyc, cget(c, F.Cycles));
}

/** What the host did for this VM since the snapshot (first touches, copy-on-write, decompression, balloon re-touches), in ns; moves the snapshot. */
function hostEventNs(vm: u32, h: usize): f64 {
  const first = vmCounter(vm, VmCounter.FirstTouch), cow = vmCounter(vm, VmCounter.CowBreaks);
  const unzip = vmCounter(vm, VmCounter.Unzip), bal = vmCounter(vm, VmCounter.BalloonTouch);
  const ns = <f64>(first - sget(h, S.SnapFirst) + bal - sget(h, S.SnapBalloon)) * fget(h, S.FirstTouchNs)
    + <f64>(cow - sget(h, S.SnapCow)) * fget(h, S.CowNs) + <f64>(unzip - sget(h, S.SnapUnzip)) * fget(h, S.UnzipNs);
  sset(h, S.SnapFirst, first);
  sset(h, S.SnapCow, cow);
  sset(h, S.SnapUnzip, unzip);
  sset(h, S.SnapBalloon, bal);
  return ns;
}

/**
 * Sets the active set (pages), skew (0 uniform, else Zipf exponent s; its table covers
 * `tableN` >= active pages, the larger end of a ramp) and write fraction of `vm`'s workload.
 */
export function simWorkload(vm: u32, active: u32, zipfS: f64, writeFraction: f64, tableN: u32): void {
  const h = hdr(vm);
  const room = <u32>sget(h, S.VPages) - <u32>sget(h, S.Anon);
  if (active > room) active = room;
  if (tableN > room) tableN = room;
  if (tableN < active) tableN = active;
  sset(h, S.Active, active);
  sset(h, S.Skew, zipfS > 0 ? 1 : 0);
  if (zipfS > 0 && active > 0) zipfSetup(h, tableN, zipfS);
  const wf = writeFraction <= 0 ? 0.0 : writeFraction >= 1 ? 1.0 : writeFraction;
  sset(h, S.WriteThr, wf >= 1 ? <u64>0x100000000 : <u64>(wf * 4294967296.0));
}

/** Builds `vm`'s Zipf(s) alias table of n entries, unless it holds that one already. */
function zipfSetup(h: usize, n: u32, s: f64): void {
  if (fget(h, S.ZipfS) == s && <u32>sget(h, S.ZipfTable) == n) return;
  fset(h, S.ZipfS, s);
  sset(h, S.ZipfTable, n);
  zipfBuild(aliasAddr(h, 0), n, s);
}

/** Takes the VM's stream from its header. */
// @ts-ignore: decorator
@inline function streamLoad(h: usize): void { streamSet(sget(h, S.Rng)); }
/** Puts the stream back into the VM's header. */
// @ts-ignore: decorator
@inline function streamStore(h: usize): void { sset(h, S.Rng, streamGet()); }

/** Test hook: `n` Zipf(s) draws over `active` pages (table of `tableN`) of `vm`, counted into `counts` (u32 per page). */
export function samplerZipfCounts(vm: u32, seed: u64, active: u32, tableN: u32, s: f64, n: u32, counts: usize): void {
  const h = hdr(vm);
  zipfSetup(h, tableN, s);
  streamSet(seed);
  const table = aliasAddr(h, 0);
  for (let i: u32 = 0; i < n; i++) {
    const k = zipfIndex(table, tableN, active);
    store<u32>(counts + (<usize>k << 2), load<u32>(counts + (<usize>k << 2)) + 1);
  }
}

/** Starts a step of `vm`: `asked` touches within `budgetNs` simulated ns. */
export function simStepBegin(vm: u32, asked: u32, budgetNs: f64): void {
  const h = hdr(vm);
  sset(h, S.Asked, asked);
  sset(h, S.Done, 0);
  fset(h, S.BudgetNs, budgetNs);
  fset(h, S.UsedNs, 0);
  sset(h, S.Pending, 0);
}

/** Runs the step's touches of `vm` until done (R_DONE) or TypeScript must act (R_HOST, R_GUEST_FREE, R_GUEST_SWAPIN, R_ERROR). */
export function simTouch(vm: u32): u32 {
  const h = hdr(vm);
  snapshot(vm, h);
  return sget(h, S.Ctx) == NONE ? touchPhys(vm, h) : touchMmu(vm, h);
}

/** Keeps the touch in progress for a retry and returns `why`. */
// @ts-ignore: decorator
@inline function pend(h: usize, vp: u32, write: bool, why: u32): u32 {
  sset(h, S.Pending, 1);
  sset(h, S.PendVp, vp);
  sset(h, S.PendWrite, write ? 1 : 0);
  if (why == R_GUEST_SWAPIN) sset(h, S.RVp, vp);
  return why;
}

/** The touches of a VM without translation: straight to its pmap. */
function touchPhys(vm: u32, h: usize): u32 {
  const asked = <u32>sget(h, S.Asked);
  const budget = fget(h, S.BudgetNs);
  const active = <u32>sget(h, S.Active);
  const anon = <u32>sget(h, S.Anon);
  const thr = sget(h, S.WriteThr);
  const zipf = sget(h, S.Skew) != 0;
  const pace = fget(h, S.TauNs) + fget(h, S.HitNs);
  const guestPf = fget(h, S.GuestPfNs), exitNs = fget(h, S.ExitNs), newPage = fget(h, S.NewPageNs);
  const vmKey = sget(h, S.VmKey);
  const vp0 = vpAddr(h, 0);
  const p0 = pmapAddr(vm, 0);
  const table = aliasAddr(h, 0), tableN = <u32>sget(h, S.ZipfTable);
  let pending = sget(h, S.Pending) != 0;
  let done = <u32>sget(h, S.Done);
  let used = fget(h, S.UsedNs);
  let stall = 0.0, inherent = 0.0;
  let writes: u64 = 0, fresh: u64 = 0, faults: u64 = 0;
  let why = R_DONE;
  streamLoad(h);
  while (done < asked && used < budget) {
    let vp: u32;
    let write: bool;
    if (pending) {
      vp = <u32>sget(h, S.PendVp);
      write = sget(h, S.PendWrite) != 0;
    } else {
      if (active == 0) break;
      const r = nextRand();
      vp = anon + (zipf ? zipfIndex(table, tableN, active) : uniformIndex(r, active));
      write = (r & 0xFFFFFFFF) < thr;
    }
    const a = vp0 + (<usize>vp << 3);
    const w = load<u64>(a);
    let lo = <u32>w;
    if (lo & SWAPPED) { why = pend(h, vp, write, R_GUEST_SWAPIN); break; }
    let g = lo & LOC_MASK;
    if (g == NO_LOC) {
      g = freePop(h);
      if (g == NIL) { why = pend(h, vp, write, R_GUEST_FREE); break; }
      setOwner(h, g, oword(O_VPAGE, vp));
      lo = g | FILL;
      store<u32>(a, lo);
      fresh++;
      used += guestPf;
      stall += guestPf;
      inherent += newPage;
    }
    const fill = (lo & FILL) != 0;
    const p = p0 + (<usize>g << 3);
    const e = load<u64>(p);
    let mpn: u32;
    if (pstate(e) == <u32>PState.Mapped) {
      mpn = pframe(e);
      const need = ACCESSED | (write || fill ? DIRTY : 0);
      if ((e & need) != need) store<u64>(p, e | need);
    } else {
      mpn = pmapFault(vm, g, write || fill);
      if (mpn >= FAULT_MIN) {
        sset(h, S.RGppn, g);
        sset(h, S.RCode, mpn);
        why = pend(h, vp, write, R_HOST);
        break;
      }
      const ns = exitNs + hostEventNs(vm, h);
      used += ns;
      stall += ns;
      faults++;
    }
    const fa = frameAddr(mpn);
    let ver = <u32>(w >> 32);
    if (fill) {
      vpageFill(h, vp, ver, fa);
      lo &= ~FILL;
    }
    const nlo = lo | REF | SEEN;
    if (write) {
      ver++;
      store<u64>(fa + stampOffset(vp), stampValue(vmKey, vp, ver));
      store<u64>(a, (<u64>ver << 32) | <u64>nlo);
      writes++;
    } else if (nlo != <u32>w) {
      store<u32>(a, nlo);
    }
    if (pending) {
      sset(h, S.Pending, 0);
      pending = false;
    }
    done++;
    used += pace;
  }
  streamStore(h);
  return finish(h, why, done, used, stall, 0.0, inherent, writes, fresh, faults);
}

/** Writes back what a call of the loop did. */
function finish(h: usize, why: u32, done: u32, used: f64, stall: f64, transl: f64, inherent: f64, writes: u64, fresh: u64, faults: u64): u32 {
  const before = <u32>sget(h, S.Done);
  sset(h, S.Done, done);
  fadd(h, S.WorkNs, fget(h, S.TauNs) * <f64>(done - before));
  fset(h, S.UsedNs, used);
  fadd(h, S.StallNs, stall);
  fadd(h, S.TranslateNs, transl);
  fadd(h, S.InherentNs, inherent);
  sadd(h, S.Touches, done - before);
  sadd(h, S.Writes, writes);
  sadd(h, S.NewPages, fresh);
  sadd(h, S.HostFaults, faults);
  return why;
}

/**
 * The touches of a VM through its MMU core: every touch is a translation of its gVA (with the
 * core's TLBs, walks and exits, in cycles), and the guest's page tables say where it lands.
 */
function touchMmu(vm: u32, h: usize): u32 {
  const id = <u32>sget(h, S.Ctx);
  const c = ctxAddr(id);
  const asked = <u32>sget(h, S.Asked);
  const budget = fget(h, S.BudgetNs);
  const active = <u32>sget(h, S.Active);
  const anon = <u32>sget(h, S.Anon);
  const thr = sget(h, S.WriteThr);
  const zipf = sget(h, S.Skew) != 0;
  const pace = fget(h, S.TauNs) + fget(h, S.HitNs);
  const newPage = fget(h, S.NewPageNs), nsc = fget(h, S.NsPerCycle);
  const vmKey = sget(h, S.VmKey);
  const vaBase = sget(h, S.VaBase);
  const vp0 = vpAddr(h, 0);
  const cExit = cget(c, F.CostVmExit), cPf = cget(c, F.CostGuestPf), cEpt = cget(c, F.CostEptViolation);
  const cFill = cget(c, F.CostShadowFill), cPtw = cget(c, F.CostPtWrite);
  const table = aliasAddr(h, 0), tableN = <u32>sget(h, S.ZipfTable);
  let pending = sget(h, S.Pending) != 0;
  let done = <u32>sget(h, S.Done);
  let used = fget(h, S.UsedNs);
  let stall = 0.0, transl = 0.0, inherent = 0.0;
  let writes: u64 = 0, fresh: u64 = 0, faults: u64 = 0;
  let why = R_DONE;
  streamLoad(h);
  while (done < asked && used < budget) {
    let vp: u32;
    let write: bool;
    if (pending) {
      vp = <u32>sget(h, S.PendVp);
      write = sget(h, S.PendWrite) != 0;
    } else {
      if (active == 0) break;
      const r = nextRand();
      vp = anon + (zipf ? zipfIndex(table, tableN, active) : uniformIndex(r, active));
      write = (r & 0xFFFFFFFF) < thr;
    }
    const a = vp0 + (<usize>vp << 3);
    const w = load<u64>(a);
    let lo = <u32>w;
    if (lo & SWAPPED) { why = pend(h, vp, write, R_GUEST_SWAPIN); break; }
    let g = lo & LOC_MASK;
    if (g == NO_LOC) {
      g = freePop(h);
      if (g == NIL) { why = pend(h, vp, write, R_GUEST_FREE); break; }
      setOwner(h, g, oword(O_VPAGE, vp));
      lo = g | FILL;
      store<u32>(a, lo);
      fresh++;
      inherent += newPage;
    }
    let ok = true;
    if (lo & FILL) {
      // the guest initializes the page it just allocated (a kernel write: the host backs it)
      const k = kernelAccess(c, vm, <u64>g << 12, true);
      if (k == 0) {
        ok = false;
      } else {
        vpageFill(h, vp, <u32>(w >> 32), k);
        lo &= ~FILL;
        store<u32>(a, lo);
      }
    }
    const va = vaBase + (<u64>vp << 12) + stampOffset(vp);
    let r: u64 = FAULT_BIT;
    for (let tries = 0; ok && tries < 4; tries++) {
      r = translate(c, va, write ? ACC_WRITE : ACC_READ, true);
      if (!(r & FAULT_BIT)) break;
      if (faultKind(c) == FK_GUEST_PF && (faultCode(c) & PF_P) == 0) {
        // the guest's #PF handler maps the virtual page where the allocator put it
        if (!gosMap(id, vm, va & ~<u64>0xFFF, g)) ok = false;
        continue;
      }
      ok = false;
    }
    // charge the core's cycles and what the host did, whether or not the touch completed
    const cyc = cget(c, F.Cycles);
    const ex = cget(c, F.VmExits), pf = cget(c, F.GuestPageFaults);
    let faultCyc: u64 = 0;
    if (ex != sget(h, S.SnapExits) || pf != sget(h, S.SnapPf) || cget(c, F.PtWriteTraps) != sget(h, S.SnapPtw)) {
      const ept = cget(c, F.EptViolations), fills = cget(c, F.ShadowFills), ptw = cget(c, F.PtWriteTraps);
      faultCyc = (ex - sget(h, S.SnapExits)) * cExit + (pf - sget(h, S.SnapPf)) * cPf + (ept - sget(h, S.SnapEpt)) * cEpt
        + (fills - sget(h, S.SnapFills)) * cFill + (ptw - sget(h, S.SnapPtw)) * cPtw;
      sset(h, S.SnapExits, ex);
      sset(h, S.SnapPf, pf);
      sset(h, S.SnapEpt, ept);
      sset(h, S.SnapFills, fills);
      sset(h, S.SnapPtw, ptw);
      faults++;
    }
    const allCyc = cyc - sget(h, S.SnapCyc);
    sset(h, S.SnapCyc, cyc);
    if (faultCyc > allCyc) faultCyc = allCyc;
    const hostNs = hostEventNs(vm, h);
    const faultNs = <f64>faultCyc * nsc + hostNs;
    used += <f64>allCyc * nsc + hostNs;
    stall += faultNs;
    transl += <f64>(allCyc - faultCyc) * nsc;
    if (!ok) {
      const k = faultKind(c);
      if (k == FK_HOST || k == FK_NO_FRAME) why = pend(h, vp, write, faultStop(h));
      else why = pend(h, vp, write, R_ERROR);
      sset(h, S.RVp, vp);
      break;
    }
    if (write) {
      const ver = <u32>(w >> 32) + 1;
      store<u64>(ramAt(r), stampValue(vmKey, vp, ver));
      store<u64>(a, (<u64>ver << 32) | <u64>(lo | REF | SEEN));
      writes++;
    } else if ((lo | REF | SEEN) != <u32>w) {
      store<u32>(a, lo | REF | SEEN);
    }
    if (pending) {
      sset(h, S.Pending, 0);
      pending = false;
    }
    done++;
    used += pace;
  }
  streamStore(h);
  return finish(h, why, done, used, stall, transl, inherent, writes, fresh, faults);
}

/**
 * Counts the virtual pages of `vm` touched since the last count (the true working set of the
 * interval) and clears their SEEN bits when `clear`.
 */
export function simSeen(vm: u32, clear: bool): u32 {
  const h = hdr(vm);
  const n = <u32>sget(h, S.VPages);
  const vp0 = vpAddr(h, 0);
  let k: u32 = 0;
  for (let vp: u32 = 0; vp < n; vp++) {
    const a = vp0 + (<usize>vp << 3);
    const lo = load<u32>(a);
    if (lo & SEEN) {
      k++;
      if (clear) store<u32>(a, lo & ~SEEN);
    }
  }
  return k;
}

export { R_GUEST_FREE, R_GUEST_SWAPIN, R_HOST, R_ERROR, R_DONE };

/**
 * A trace workload's step: replays the binary trace records (translate/trace.ts format) at
 * [p, p + len) on the VM's MMU core from the header's Cursor (bytes), until the step's records
 * (Asked) or time (BudgetNs) are used up or the chunk ends (R_DONE; Cursor: bytes consumed), or
 * a record's translation needs the host (R_HOST; the record is retried). The guest OS model of
 * the core maps pages on first touch (demand paging). Costs as touchMmu: the workload's pace per
 * record, the core's cycles, what the host did.
 */
export function simTraceRun(vm: u32, p: usize, len: u32): u32 {
  const h = hdr(vm);
  const c = ctxAddr(<u32>sget(h, S.Ctx));
  const asked = <u32>sget(h, S.Asked);
  const budget = fget(h, S.BudgetNs);
  const pace = fget(h, S.TauNs) + fget(h, S.HitNs);
  const nsc = fget(h, S.NsPerCycle);
  const cExit = cget(c, F.CostVmExit), cPf = cget(c, F.CostGuestPf), cEpt = cget(c, F.CostEptViolation);
  const cFill = cget(c, F.CostShadowFill), cPtw = cget(c, F.CostPtWrite);
  snapshot(vm, h);
  let done = <u32>sget(h, S.Done);
  let used = fget(h, S.UsedNs);
  let stall = 0.0, transl = 0.0, writes: u64 = 0, faults: u64 = 0;
  let s = p + <usize>sget(h, S.Cursor);
  const end = p + len;
  let why = R_DONE;
  while (done < asked && used < budget && s + 8 <= end) {
    const w = load<u64>(s);
    let size = w >> 58;
    let next = s + 8;
    if (size == 0) {
      if (next + 8 > end) break;
      size = load<u64>(next);
      next += 8;
    }
    const kind = <u32>(w >> 56) & 3;
    const addr = w & 0x00FFFFFFFFFFFFFF;
    const acc = kind == 0 ? ACC_FETCH : kind == 1 ? ACC_READ : ACC_WRITE;
    let r = translate(c, addr, acc, true);
    const last = addr + size - 1;
    if (!(r & FAULT_BIT) && ((last ^ addr) >> 12) != 0) r = translate(c, last, acc, true);
    let hostStop = false;
    if (r & FAULT_BIT) {
      const k = faultKind(c);
      if (k == FK_HOST || k == FK_NO_FRAME) hostStop = true;
      else cadd(c, F.UnhandledFaults, 1);
    }
    const cyc = cget(c, F.Cycles);
    const ex = cget(c, F.VmExits), pf = cget(c, F.GuestPageFaults);
    let faultCyc: u64 = 0;
    if (ex != sget(h, S.SnapExits) || pf != sget(h, S.SnapPf) || cget(c, F.PtWriteTraps) != sget(h, S.SnapPtw)) {
      const ept = cget(c, F.EptViolations), fills = cget(c, F.ShadowFills), ptw = cget(c, F.PtWriteTraps);
      faultCyc = (ex - sget(h, S.SnapExits)) * cExit + (pf - sget(h, S.SnapPf)) * cPf + (ept - sget(h, S.SnapEpt)) * cEpt
        + (fills - sget(h, S.SnapFills)) * cFill + (ptw - sget(h, S.SnapPtw)) * cPtw;
      sset(h, S.SnapExits, ex);
      sset(h, S.SnapPf, pf);
      sset(h, S.SnapEpt, ept);
      sset(h, S.SnapFills, fills);
      sset(h, S.SnapPtw, ptw);
      faults++;
    }
    const allCyc = cyc - sget(h, S.SnapCyc);
    sset(h, S.SnapCyc, cyc);
    if (faultCyc > allCyc) faultCyc = allCyc;
    const hostNs = hostEventNs(vm, h);
    used += <f64>allCyc * nsc + hostNs;
    stall += <f64>faultCyc * nsc + hostNs;
    transl += <f64>(allCyc - faultCyc) * nsc;
    if (hostStop) {
      why = faultStop(h);
      break;
    }
    if (acc == ACC_WRITE) writes++;
    done++;
    used += pace;
    s = next;
  }
  sset(h, S.Cursor, <u64>(s - p));
  return finish(h, why, done, used, stall, transl, 0.0, writes, 0, faults);
}
