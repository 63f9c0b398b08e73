/**
 * Phases: what a workload does at a simulated time. A phase holds from its `at` until the next
 * one's; with `ramp` > 0 its active set and rate move linearly from the previous phase's over
 * the first `ramp` seconds; before the first phase the workload is idle. A spike is a short
 * phase; an idle phase has activeMiB 0 (its pages stay allocated unless it `release`s them).
 */
import { mibPages, type PhaseScenario } from '../sim/scenario.js';

/** The workload's parameters at one instant. */
export interface WorkloadNow {
  /** index of the phase in force, -1 before the first */
  phase: number;
  activePages: number;
  touchesPerSecond: number;
  writeFraction: number;
  /** Zipf exponent, 0 for uniform */
  zipfS: number;
  /** pages a Zipf table must cover while this phase holds: the larger end of its ramp */
  tablePages: number;
}

export const IDLE: WorkloadNow = Object.freeze({ phase: -1, activePages: 0, touchesPerSecond: 0, writeFraction: 0, zipfS: 0, tablePages: 0 });

/** The workload of `phases` at simulated second `t`. */
export function workloadAt(phases: readonly PhaseScenario[], t: number): WorkloadNow {
  let i = -1;
  for (let k = 0; k < phases.length && phases[k].at <= t; k++) i = k;
  if (i < 0) return IDLE;
  const p = phases[i];
  const zipfS = p.skew === 'uniform' ? 0 : p.skew.zipf;
  let active = mibPages(p.activeMiB), rate = p.touchesPerSecond, table = active;
  if (p.ramp > 0 && i > 0 && t < p.at + p.ramp) {
    const q = phases[i - 1];
    const f = (t - p.at) / p.ramp;
    table = Math.max(active, mibPages(q.activeMiB));
    active = Math.round(mibPages(q.activeMiB) + (active - mibPages(q.activeMiB)) * f);
    rate = q.touchesPerSecond + (rate - q.touchesPerSecond) * f;
  }
  return { phase: i, activePages: active, touchesPerSecond: rate, writeFraction: p.writeFraction, zipfS, tablePages: table };
}

/** Pages the workload's address space needs: its largest active set. */
export function workloadPages(phases: readonly PhaseScenario[]): number {
  return phases.reduce((a, p) => Math.max(a, mibPages(p.activeMiB)), 0);
}
