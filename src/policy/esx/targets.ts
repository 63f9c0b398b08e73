/**
 * Allocation targets (esxtop SZTGT): how much machine memory each VM should hold, from its
 * reservation, limit, shares and estimated active memory, with the idle memory tax
 * (C. Waldspurger, "Memory Resource Management in VMware ESX Server", OSDI 2002, §5).
 *
 * A VM's claim on memory is its shares-per-page ratio, where idle pages count k times:
 *
 *   rho = S / (P (f + k (1 - f)))      k = 1 / (1 - tax)
 *
 * S shares, P pages allocated, f the active fraction of them. With the default tax of 75%,
 * k = 4: an idle page costs as much as four active ones. Memory is taken first from the VM with
 * the lowest rho; taking pages raises its rho, so taking continues until the rhos of every VM
 * still giving are equal (water-filling). Writing a = f P for the active pages:
 *
 *   P (f + k (1 - f)) = Q(P) = P             for P <= a   (every page active)
 *                            = a + k (P - a)  for P >  a   (idle pages taxed)
 *
 * For a level lambda each VM holds the P with S / Q(P) = lambda, clamped to [reservation, upper];
 * sum(P) falls as lambda rises, and the level is found by bisection so that sum(P) = budget.
 *
 *   two VMs, 1000 shares and 1000 pages each, one wholly active (a = 1000) one idle (a = 0),
 *   budget 1500 pages, tax 75% (k = 4):
 *     rho_active = 1000 / 1000 = 1        rho_idle = 1000 / (4 P)
 *     the idle VM gives until 1000 / (4 P) = 1, i.e. P = 250, before the active one gives a page:
 *     here the budget is met at P_idle = 500 (rho 0.5) and the active VM keeps all 1000.
 *   with tax 0 (k = 1) both have rho = 1000 / P and each keeps 750.
 *
 * Bounds: a target never falls below the reservation (it is guaranteed: admission control made
 * the reservations fit) nor rises above the limit. The upper bound is also what the VM would
 * use: its current allocation, or more if its active memory says it is growing (DEMAND_HEADROOM
 * above the estimate); a VM is never given pages it does not want, so with enough memory every
 * target is its upper bound. The budget is what keeps free memory at the reclaim goal: the
 * pages the VMs hold now plus free memory above the goal (RECLAIM_GOAL_PERCENT of minFree).
 */

/** One VM as the target computation sees it. Units: pages. */
export interface TargetInput {
  /** proportional share */
  shares: number;
  /** guaranteed pages */
  reservation: number;
  /** most pages it may hold */
  limit: number;
  /** pages it holds now (resident) */
  current: number;
  /** estimated active pages (TCHD) */
  active: number;
  /** most pages it would use unconstrained (default: demandPages) */
  upper?: number;
}

/** Free memory the targets leave, percent of minFree: the exit from soft into clear (states.ts). */
export const RECLAIM_GOAL_PERCENT = 109;
/** A VM may grow to its active estimate plus this fraction of it (ours: room to grow by a quarter per balance period). */
export const DEMAND_HEADROOM = 0.25;

/** k = 1 / (1 - tax) for an idle tax in percent (0 .. 99). */
export function idleCost(taxPercent: number): number {
  if (!(taxPercent >= 0 && taxPercent < 100)) throw new RangeError(`idleTax: got ${taxPercent}, expected a percent in [0, 100)`);
  return 1 / (1 - taxPercent / 100);
}

/** Idle-adjusted pages Q(P) of a VM holding `p` pages of which `active` are active. */
export function adjustedPages(p: number, active: number, k: number): number {
  const a = Math.min(Math.max(0, active), p);
  return a + k * (p - a);
}

/** Adjusted shares-per-page ratio rho of a VM (Infinity when it holds nothing). */
export function sharesPerPage(shares: number, p: number, active: number, k: number): number {
  const q = adjustedPages(p, active, k);
  return q > 0 ? shares / q : Infinity;
}

/** Pages P at which the VM's adjusted pages reach `q` (the inverse of adjustedPages). */
function pagesForAdjusted(q: number, active: number, k: number): number {
  const a = Math.max(0, active);
  return q <= a ? q : a + (q - a) / k;
}

/** Most pages the VM would use: what it holds, or its active estimate plus headroom, within its limit. */
export function demandPages(v: Pick<TargetInput, 'current' | 'active' | 'limit'>): number {
  return Math.min(v.limit, Math.max(v.current, Math.ceil(v.active * (1 + DEMAND_HEADROOM))));
}

/** Pages the VMs may hold in all so that `free` free pages stay at the goal for `minFree`. */
export function targetBudget(vms: readonly Pick<TargetInput, 'current'>[], free: number, minFree: number): number {
  const held = vms.reduce((a, v) => a + v.current, 0);
  return Math.max(0, held + free - Math.ceil((minFree * RECLAIM_GOAL_PERCENT) / 100));
}

/**
 * The allocation target of each VM (pages, integers) for `budget` pages in all, with the idle
 * tax `taxPercent`: reservation <= target <= min(limit, upper), and the budget shared by
 * water-filling the idle-adjusted shares-per-page ratios (see the module overview). When even
 * the reservations exceed the budget, every VM gets its reservation.
 */
export function allocationTargets(vms: readonly TargetInput[], budget: number, taxPercent: number): number[] {
  const k = idleCost(taxPercent);
  const lo = vms.map((v) => Math.max(0, Math.min(v.reservation, v.limit)));
  const hi = vms.map((v, i) => Math.max(lo[i], Math.min(v.limit, v.upper ?? demandPages(v))));
  const sum = (xs: number[]) => xs.reduce((a, x) => a + x, 0);
  if (sum(hi) <= budget) return hi.map(Math.floor);
  if (sum(lo) >= budget) return lo.map(Math.ceil);
  const at = (lambda: number) => vms.map((v, i) => Math.min(hi[i], Math.max(lo[i], pagesForAdjusted(v.shares / lambda, v.active, k))));
  // bisection on log(lambda): sum(at(lambda)) falls from sum(hi) to sum(lo) as lambda rises
  let a = 1e-12, b = 1e12;
  for (let it = 0; it < 200; it++) {
    const m = Math.sqrt(a * b);
    if (sum(at(m)) > budget) a = m;
    else b = m;
    if (b / a < 1 + 1e-13) break;
  }
  const p = at(b);
  // integers: round down, then hand the pages left over to the largest remainders (ties: first VM)
  const out = p.map((x, i) => Math.max(lo[i], Math.floor(x + 1e-9)));
  let left = Math.floor(budget + 1e-9) - sum(out);
  const order = p.map((x, i) => ({ i, r: x - out[i] })).sort((x, y) => y.r - x.r || x.i - y.i);
  for (const { i } of order) {
    if (left <= 0) break;
    if (out[i] < hi[i]) {
      out[i]++;
      left--;
    }
  }
  return out;
}

/** Each VM's target and adjusted shares-per-page ratio at that target (for reports and tests). */
export function targetRatios(vms: readonly TargetInput[], targets: readonly number[], taxPercent: number): number[] {
  const k = idleCost(taxPercent);
  return vms.map((v, i) => sharesPerPage(v.shares, targets[i], v.active, k));
}
