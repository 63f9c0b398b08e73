/**
 * The ESXi memory states: free machine memory measured against minFree (minfree.ts), and what
 * the host does in each (vSphere 6+; sources: the vSphere Resource Management guide, "Memory
 * states"; D. Epping, "What happens at which vSphere memory state?", 2015).
 *
 *   free / minFree   state   actions
 *   >= 400%          high    sharing at its normal rate; guest memory on large pages
 *   >= 100%          clear   break large pages, sharing scans actively
 *   >=  64%          soft    as clear, and balloon toward the allocation targets
 *   >=  32%          hard    ballooning stops; compress and swap toward the targets
 *   <   32%          low     as hard, and VMs above their target are blocked from allocating
 *
 * Hysteresis. A drop below a threshold takes effect at once (the host must react before it
 * runs out). Going back up, the host leaves a state only once free memory exceeds the
 * threshold above it by a quarter of the state's own band:
 *
 *   low -> hard    at 32% + 8%   (band of low: 0..32%)
 *   hard -> soft   at 64% + 8%   (band of hard: 32..64%)
 *   soft -> clear  at 100% + 9%  (band of soft: 64..100%)
 *   clear -> high  at 400% + 75% (band of clear: 100..400%)
 *
 * Why a quarter: reclamation works in batches (a balloon step, a page-out batch) and guests
 * allocate between two looks at free memory, so free memory jitters around a threshold by
 * about one period's worth of either; without a margin the host would flip between states
 * every period, starting and stopping ballooning or swapping each time. A quarter of the band
 * absorbs that jitter (on a 2 GiB host minFree is 122 MiB, so 8% is 10 MiB, about two seconds
 * of a guest touching new memory at 5 MiB/s) and still leaves three quarters of every band where
 * the reported state is exactly the level's. The allocation targets aim at the same exit point
 * (targets.ts RECLAIM_GOAL_PERCENT), so reclaiming toward them ends just inside the next state
 * up instead of on the edge.
 */

export type MemState = 'high' | 'clear' | 'soft' | 'hard' | 'low';

/** States from the most free memory to the least. */
export const STATES: readonly MemState[] = ['high', 'clear', 'soft', 'hard', 'low'];

/** Lower bound of each state, percent of minFree (low has none). */
export const STATE_THRESHOLD_PERCENT: Readonly<Record<Exclude<MemState, 'low'>, number>> = Object.freeze({
  high: 400,
  clear: 100,
  soft: 64,
  hard: 32,
});

/** Fraction of a state's band that free memory must clear, above the next threshold up, to leave it upward. */
export const HYSTERESIS_FRACTION = 1 / 4;

/** Rank of a state: 0 high .. 4 low. */
export const stateRank = (s: MemState): number => STATES.indexOf(s);

/** Lower bound of `s` in percent of minFree (0 for low). */
export function lowerPercent(s: MemState): number {
  return s === 'low' ? 0 : STATE_THRESHOLD_PERCENT[s];
}

/** Percent of minFree free memory must reach to leave `s` for the state above it (Infinity for high). */
export function exitPercent(s: MemState): number {
  const r = stateRank(s);
  if (r === 0) return Infinity;
  const up = lowerPercent(STATES[r - 1]);
  return up + HYSTERESIS_FRACTION * (up - lowerPercent(s));
}

/** The state of `free` pages against `minFree` pages, without hysteresis. */
export function levelOf(free: number, minFree: number): MemState {
  const pct = minFree > 0 ? (free * 100) / minFree : Infinity;
  for (const s of STATES) if (s === 'low' || pct >= STATE_THRESHOLD_PERCENT[s]) return s;
  return 'low';
}

/**
 * The state after `prev` when `free` pages are free and minFree is `minFree` pages: down at
 * once to the level, up only through exits that free memory clears (see the module overview).
 */
export function nextState(prev: MemState, free: number, minFree: number): MemState {
  const level = levelOf(free, minFree);
  if (stateRank(level) >= stateRank(prev)) return level;
  const pct = minFree > 0 ? (free * 100) / minFree : Infinity;
  let s = prev;
  while (stateRank(s) > stateRank(level) && pct >= exitPercent(s)) s = STATES[stateRank(s) - 1];
  return s;
}

/** Each threshold in pages for `minFree` pages: what a sample reports. */
export function thresholdPages(minFree: number): Record<Exclude<MemState, 'low'>, number> {
  const t = (p: number) => Math.round((minFree * p) / 100);
  return { high: t(400), clear: t(100), soft: t(64), hard: t(32) };
}

/** What the host does in a state. */
export interface StateActions {
  /** new guest memory may be backed by large pages */
  largePagesAllowed: boolean;
  /** existing large pages are broken into small ones (so sharing can collapse them) */
  breakLargePages: boolean;
  /** the sharing scanner runs faster than its normal rate */
  activeSharing: boolean;
  /** balloon targets may grow (the guests' drivers inflate) */
  balloon: boolean;
  /** the host compresses and swaps toward the targets */
  compressAndSwap: boolean;
  /** VMs above their target may not take free frames */
  blockAboveTarget: boolean;
}

const ACTIONS: Readonly<Record<MemState, Readonly<StateActions>>> = Object.freeze({
  high: { largePagesAllowed: true, breakLargePages: false, activeSharing: false, balloon: false, compressAndSwap: false, blockAboveTarget: false },
  clear: { largePagesAllowed: false, breakLargePages: true, activeSharing: true, balloon: false, compressAndSwap: false, blockAboveTarget: false },
  soft: { largePagesAllowed: false, breakLargePages: true, activeSharing: true, balloon: true, compressAndSwap: false, blockAboveTarget: false },
  hard: { largePagesAllowed: false, breakLargePages: true, activeSharing: true, balloon: false, compressAndSwap: true, blockAboveTarget: false },
  low: { largePagesAllowed: false, breakLargePages: true, activeSharing: true, balloon: false, compressAndSwap: true, blockAboveTarget: true },
});

/** The actions of state `s`. */
export function stateActions(s: MemState): Readonly<StateActions> {
  return ACTIONS[s];
}
