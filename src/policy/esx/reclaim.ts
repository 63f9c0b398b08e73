/**
 * Reclamation toward the targets, per memory state: the balloon target each guest's driver
 * moves toward (esxtop MCTLTGT), and the pages the host compresses or swaps (SWTGT beyond what
 * is swapped). Pure: the policy (esx/policy.ts) applies the plan.
 *
 *   state        balloon target (MCTLTGT)                         host compress + swap
 *   high, clear  deflate by what the target leaves room for       none
 *   soft         ballooned + (held - target), capped              none
 *   hard, low    unchanged: ballooning stops                      held - target
 *
 * "held" is the VM's resident pages (its allocation, esxtop GRANT less what sharing saves is
 * not subtracted: a shared page still holds a frame reference). The balloon cap is
 * balloonMaxPercent of the VM (ESX Mem.CtlMaxPercent, 65%). Compression takes only pages that
 * compress to 2 KiB or less, into the zip cache up to its cap; the rest go to swap (the
 * mechanism decides, assembly/reclaim/pageout.ts).
 */
import { stateActions, type MemState } from './states.js';

/** One VM as the plan sees it. Units: pages. */
export interface ReclaimInput {
  /** pages held now (resident) */
  current: number;
  /** its allocation target */
  target: number;
  /** pages ballooned now (MCTLSZ) */
  ballooned: number;
  /** the balloon target in force (MCTLTGT) */
  balloonTarget: number;
  /** most pages the balloon may hold */
  balloonMax: number;
}

export interface ReclaimPlan {
  /** new balloon target (MCTLTGT), pages */
  balloonTarget: number;
  /** pages the host should compress or swap now */
  pageOut: number;
}

/** The plan for one VM in `state`. */
export function reclaimPlan(state: MemState, v: ReclaimInput): ReclaimPlan {
  const a = stateActions(state);
  const over = v.current - v.target;
  const cap = Math.max(0, v.balloonMax);
  if (a.balloon) {
    // the balloon closes the gap to the target; a VM below it gets balloon pages back
    return { balloonTarget: clamp(v.ballooned + over, 0, cap), pageOut: 0 };
  }
  if (a.compressAndSwap) {
    // ballooning stops: no new balloon pages, none given back while memory is this short
    return { balloonTarget: clamp(Math.min(v.balloonTarget, v.ballooned), 0, cap), pageOut: Math.max(0, over) };
  }
  // plenty: a VM below its target gets balloon pages back, as many as the target leaves room for
  const give = Math.max(0, -over);
  return { balloonTarget: clamp(Math.min(v.balloonTarget, v.ballooned - give), 0, cap), pageOut: 0 };
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.max(lo, Math.min(hi, Math.round(x)));
}
