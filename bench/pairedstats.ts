/**
 * How bench/paired.ts judges its rounds: the ratio of each target per round, the median of those
 * ratios against the goal, and whether the rounds were steady enough to count. Kept apart from
 * the script (which measures as it loads) so that test/pairedstats.test.ts can show each rule
 * fires on rounds made up for it.
 */

/** A target: contender `of` over peer `over` (throughput ratio = peer time / contender time), at least `min`. */
export interface PairedTarget {
  label: string;
  of: string;
  over: string;
  min: number;
}

export interface PairedResult extends PairedTarget {
  /** median over the rounds of (peer's time / contender's time) in that round */
  median: number;
  p10: number;
  p90: number;
  met: boolean;
  /** both sides ran their median round at STEADY or more of their best */
  steady: boolean;
}

/**
 * A contender's median round over its best is steady at STEADY or more. On the dev box a busy
 * neighbour showed as medians at 0.6-0.8 of the best (the C programs slowed more than memvisor,
 * so every ratio rose over its goal), while quiet runs kept every contender at 0.89 or more.
 */
export const STEADY = 0.85;

export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1];
export const quantile = (xs: number[], q: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))];

/** Best round over median round: 1 when every round took as long as the best. */
export const steadiness = (ts: number[]): number => Math.min(...ts) / median(ts);

/** Each target whose two sides were both timed, judged over the rounds (round i of one against round i of the other). */
export function judge(times: Record<string, number[]>, targets: PairedTarget[]): PairedResult[] {
  return targets
    .filter((t) => times[t.of] && times[t.over])
    .map((t) => {
      const of = times[t.of], over = times[t.over];
      if (of.length !== over.length || of.length === 0) throw new Error(`${t.label}: ${of.length} rounds of ${t.of} against ${over.length} of ${t.over}`);
      const ratios = of.map((x, i) => over[i] / x);
      const m = median(ratios);
      return {
        ...t,
        median: m,
        p10: quantile(ratios, 0.1),
        p90: quantile(ratios, 0.9),
        met: m >= t.min,
        steady: Math.min(steadiness(of), steadiness(over)) >= STEADY,
      };
    });
}

/** The line that names the targets whose rounds were not steady, or null when all were. */
export function unsteadyNote(results: PairedResult[]): string | null {
  const unsteady = results.filter((t) => !t.steady);
  if (!unsteady.length) return null;
  return `Not steady: ${unsteady.map((t) => t.label).join('; ')}. A side of each ran its median round at under ${STEADY} of its best: the box was busy during these rounds, and their ratios are not a figure to claim. Run again when it is quiet.`;
}
