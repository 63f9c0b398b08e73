/**
 * The ESXi host memory policy (the default kind, 'esx'): memory states from free memory against
 * minFree, allocation targets from reservations, limits, shares and sampled active memory with
 * the idle memory tax, and per state the technique that moves each VM toward its target. Built
 * from the pure decisions beside it; the mechanisms are the engine's.
 *
 *   every policy.period (1 s)                          every policy.samplePeriod (60 s)
 *   ─────────────────────────                          ─────────────────────────────────
 *   free memory ─► state (states.ts, hysteresis)       per VM: count the armed pages touched,
 *     high   large pages allowed                       arm samplePages new ones (wsample.ts);
 *     clear+ large pages broken (and merged at once),  estimate = max(fast, slow) (sampling.ts)
 *            sharing scans 4x its rule's rate               └──► activeEstimate (TCHD)
 *   targets (targets.ts): every balancePeriod (15 s), on a state change, or when free memory
 *     moved by a quarter of minFree since the last ─► sizeTarget (SZTGT)
 *   plan per VM (reclaim.ts): soft: balloon target (MCTLTGT); hard, low: compress and swap the
 *     excess now (SWTGT); low: no VM may grow past its target, so one at or above it is blocked
 *     from taking frames (a touch that needs one pages out from the VM itself)
 *
 *   a fault finds no frame ─► relieve: page out from the VM furthest above its target
 *   a blocked VM at its block ─► relieve: the VM pages out from itself
 *
 * Share before swap is on: reclaim visits each private victim with the sharing scanner first
 * (assembly/reclaim/pageout.ts). Victims are random unless the scenario asks for LRU.
 */
import type { PageOutResult } from '../../host/vm.js';
import type { Policy, PolicyContext, PolicyVm } from '../policy.js';
import { resolvePolicyConfig, type PolicyConfig } from '../config.js';
import { ActiveEstimator } from '../sampling.js';
import { minFreePages } from './minfree.js';
import { levelOf, nextState, stateActions, thresholdPages, type MemState } from './states.js';
import { allocationTargets, demandPages, targetBudget, idleCost, sharesPerPage, type TargetInput } from './targets.js';
import { reclaimPlan } from './reclaim.js';

/** The sharing scanner's rate in the clear state and below, times its rule's rate (ours: ESX says only that TPS is "actively called" there). */
export const ACTIVE_SCAN_BOOST = 4;
/** Pages a relief (a fault that found no frame, or a blocked VM) pages out at once. */
export const RELIEF_BATCH = 32;
/** Targets are recomputed early when free memory moved by this fraction of minFree since the last balance. */
export const REBALANCE_FRACTION = 1 / 4;
/**
 * Fewest pages a block leaves a VM (low state): what one access may hold at once (a walk's four
 * guest page-table pages and the data page, with room). A target of 0 (a VM whose pages all sit
 * in the zip cache or swap) would leave it no page to run on at all.
 */
export const BLOCK_FLOOR = 8;
/** Batches a 'limit' relief may issue beyond two per page of the VM (a guard: see relieve). */
export const LIMIT_RELIEF_ROUNDS = 16;

interface VmState {
  est: ActiveEstimator;
  armed: Uint32Array | null;
  /** pages the plan asked to compress or swap at the last tick (SWTGT beyond SWCUR) */
  swapPlan: number;
  /** at or above its target in the low state: it can take no frame */
  blocked: boolean;
  /** its resident pages are capped at its target (low state) */
  capped: boolean;
  /** the cap (pages) while capped */
  cap: number;
}

export class EsxPolicy implements Policy {
  readonly kind = 'esx';
  readonly config: PolicyConfig;
  /** the memory state now */
  state: MemState = 'high';
  /** minFree, pages */
  minFree = 0;
  private readonly per = new Map<PolicyVm, VmState>();
  private lastBalance = -Infinity;
  private freeAtBalance = 0;

  constructor(config: Partial<PolicyConfig> = {}) {
    this.config = resolvePolicyConfig(config);
  }

  start(ctx: PolicyContext): void {
    this.minFree = minFreePages(ctx.machinePages, this.config.minFreeMiB);
    this.state = levelOf(ctx.freePages(), this.minFree);
    ctx.host.setShareBeforeSwap(true);
    for (const v of ctx.vms) {
      this.per.set(v, { est: new ActiveEstimator(), armed: null, swapPlan: 0, blocked: false, capped: false, cap: 0 });
      v.activeEstimate = v.resident;
    }
    this.apply(ctx, true);
    ctx.every(this.config.period, () => this.tick(ctx));
    ctx.every(this.config.samplePeriod, () => this.sample(ctx));
  }

  /** The state, the targets and the plan, once per policy period. */
  tick(ctx: PolicyContext): void {
    const prev = this.state;
    this.state = nextState(prev, ctx.freePages(), this.minFree);
    this.apply(ctx, this.state !== prev);
  }

  private apply(ctx: PolicyContext, changed: boolean): void {
    const a = stateActions(this.state);
    ctx.host.allowLargePages(this.config.largePages && a.largePagesAllowed);
    if (a.breakLargePages) ctx.host.breakLargePages({ merge: true });
    ctx.setScanRate(a.activeSharing ? ctx.scanRuleRate() * ACTIVE_SCAN_BOOST : null);
    const free = ctx.freePages();
    const moved = Math.abs(free - this.freeAtBalance) >= this.minFree * REBALANCE_FRACTION;
    if (changed || moved || ctx.now - this.lastBalance >= this.config.balancePeriod) this.balance(ctx, free);
    for (const v of ctx.vms) {
      const s = this.state_(v);
      const current = v.resident;
      const plan = reclaimPlan(this.state, {
        current, target: v.sizeTarget, ballooned: v.ballooned, balloonTarget: v.balloonTarget, balloonMax: v.vm.balloonMaxPages,
      });
      v.balloonTarget = plan.balloonTarget;
      s.swapPlan = plan.pageOut;
      if (plan.pageOut > 0) {
        const r = ctx.pageOut(v, plan.pageOut);
        s.swapPlan = Math.max(0, plan.pageOut - r.compressed - r.swapped - r.shared);
      }
      // low: no VM may grow past its target (one above it is held where it is)
      const cap = Math.max(v.sizeTarget, v.reservationPages, BLOCK_FLOOR);
      if (a.blockAboveTarget) ctx.host.blockAbove(v.vm, cap);
      else if (s.capped) ctx.host.blockAbove(v.vm, null);
      s.blocked = a.blockAboveTarget && (plan.pageOut > 0 ? v.resident : current) >= cap;
      s.capped = a.blockAboveTarget;
      s.cap = cap;
    }
  }

  /** New allocation targets (SZTGT) from the VMs' shares, bounds and active estimates. */
  private balance(ctx: PolicyContext, free: number): void {
    // a ballooned VM wants its balloon pages back: with memory to spare its target rises above
    // what it holds and the plan deflates its balloon (ESX gives balloon memory back in high)
    const input: TargetInput[] = ctx.vms.map((v) => {
      const t = { shares: v.shares, reservation: v.reservationPages, limit: v.limitPages, current: v.resident, active: v.activeEstimate };
      return { ...t, upper: Math.min(v.limitPages, Math.max(demandPages(t), v.resident + v.ballooned)) };
    });
    const t = allocationTargets(input, targetBudget(input, free, this.minFree), this.config.idleTax);
    ctx.vms.forEach((v, i) => (v.sizeTarget = t[i]));
    this.lastBalance = ctx.now;
    this.freeAtBalance = free;
  }

  /** One sample period: every VM's sampled pages counted and re-armed, estimates updated. */
  sample(ctx: PolicyContext): void {
    for (const v of ctx.vms) {
      const s = this.state_(v);
      const seed = Math.floor(ctx.random() * 2 ** 32);
      const r = v.vm.sampleWorkingSet(s.armed, this.config.samplePages, seed);
      s.armed = r.armed;
      if (r.sampled > 0) s.est.update(r.touched, r.sampled);
      v.activeEstimate = s.est.activePages(v.memoryPages, v.resident);
    }
  }

  /**
   * A fault found no free frame ('noFrame'): the state drops to what free memory says (low), and
   * the VMs furthest above their targets page out (lowest idle-adjusted shares per page first),
   * then, if none gave, any VM above its reservation in the same order. A blocked VM at its block ('limit'): it pages
   * out from itself. Returns false to leave the rest to the host's own relief.
   */
  relieve(ctx: PolicyContext, vm: PolicyVm, why: 'noFrame' | 'limit'): boolean {
    if (why === 'limit') {
      const s = this.state_(vm);
      if (!s.capped) return false;
      // until the VM is below its block, as long as a batch moves anything (a block may fall far
      // below what the VM holds): a victim share-before-swap merged frees a frame but stays
      // resident (zeroed pages merge into the zero page), so a batch of merges alone is not room.
      // Each batch that moves a page leaves fewer resident or fewer private; the bound is a guard
      const room = () => vm.resident < Math.min(s.cap, vm.limitPages);
      let moved = false;
      for (let n = 0; n < (2 * vm.memoryPages) / RELIEF_BATCH + LIMIT_RELIEF_ROUNDS && !room(); n++) {
        if (!this.progress(ctx.pageOut(vm, RELIEF_BATCH))) break;
        moved = true;
      }
      return moved;
    }
    // a fault found no frame: free memory is below every threshold now, whatever the last period said
    this.state = nextState(this.state, ctx.freePages(), this.minFree);
    const k = idleCost(this.config.idleTax);
    const rho = (v: PolicyVm) => sharesPerPage(v.shares, v.resident, v.activeEstimate, k);
    const byRho = (vs: PolicyVm[]) => vs.sort((a, b) => rho(a) - rho(b) || a.name.localeCompare(b.name));
    // first the VMs above their targets, then any above its reservation (the targets lag the load)
    for (const floor of [(v: PolicyVm) => Math.max(v.sizeTarget, v.reservationPages), (v: PolicyVm) => v.reservationPages]) {
      for (const v of byRho(ctx.vms.filter((x) => x.resident > floor(x)))) {
        if (this.progress(ctx.pageOut(v, Math.min(RELIEF_BATCH, v.resident - floor(v))))) return true;
      }
    }
    return false;
  }

  /**
   * Host fields of a sample: the state, minFree and each threshold; what each technique holds
   * back now (balloon, sharing, compression net of its pool, swap), and the victims share before
   * swap merged so far, by any page-out (this policy's, the host's relief, vm.pageOut).
   */
  hostFields(ctx: PolicyContext): Record<string, number | string> {
    const t = thresholdPages(this.minFree);
    const mib = (p: number) => p / 256;
    const held = ctx.host.heldBack();
    return {
      state: this.state,
      minFreeMiB: mib(this.minFree),
      highMiB: mib(t.high),
      clearMiB: mib(t.clear),
      softMiB: mib(t.soft),
      hardMiB: mib(t.hard),
      reclaimedBalloonMiB: mib(held.balloon),
      reclaimedSharingMiB: mib(held.sharing),
      reclaimedCompressedMiB: mib(held.compression),
      reclaimedSwappedMiB: mib(held.swap),
      reclaimedSharedBeforeSwapMiB: mib(ctx.host.pagesSharedBeforeSwap),
    };
  }

  /** Per-VM fields: SWTGT (swapped, plus what the plan still wants compressed or swapped) and, while it is blocked, the most it may hold (blockMiB; 0 otherwise). */
  vmFields(_ctx: PolicyContext, vm: PolicyVm): Record<string, number | string> {
    const s = this.state_(vm);
    return { SWTGT: (vm.vm.stats().SWCUR + s.swapPlan) / 256, blockMiB: s.blocked ? Math.max(vm.sizeTarget, vm.reservationPages) / 256 : 0 };
  }

  private state_(v: PolicyVm): VmState {
    let s = this.per.get(v);
    if (!s) {
      s = { est: new ActiveEstimator(), armed: null, swapPlan: 0, blocked: false, capped: false, cap: 0 };
      this.per.set(v, s);
    }
    return s;
  }

  private progress(r: PageOutResult): boolean {
    return r.compressed + r.swapped + r.shared + r.evicted > 0;
  }
}
