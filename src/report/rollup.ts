/**
 * Long runs charted at a bounded number of points. A chart cannot show more points than it has
 * pixels, and a page that carries every sample of a day-long run of many VMs weighs hundreds of
 * MiB and stalls the browser. So a run of more than MAX_CHART_POINTS samples is charted from a
 * rolled-up copy, as vCenter rolls its real-time samples up for longer ranges:
 *
 *   samples   s1 s2 s3 | s4 s5 s6 | s7 s8      consecutive groups of `per` samples (the last
 *   points       p1    |    p2    |  p3       may be shorter), one point per group
 *
 *   t        the group's last sample time (a sample reports the interval that ends at its t)
 *   numbers  the mean of the group's values (a field absent from a sample is left out)
 *   strings  the value the group holds most often (the memory state it spent most of it in)
 *   objects  the same, field by field; anything else: the group's last value
 *
 * Summaries and the run file always keep every sample; only the charts read the roll-up.
 */
import type { Run, RunSample } from './runfile.js';

/** Most points a chart of one run shows. */
export const MAX_CHART_POINTS = 2000;

export interface RolledUp {
  /** the run to chart: `run` itself when it has at most `maxPoints` samples */
  run: Run;
  /** samples per point (1: not rolled up) */
  per: number;
}

/** Samples per point for a run of `n` samples charted at `maxPoints` points at most. */
export function samplesPerPoint(n: number, maxPoints = MAX_CHART_POINTS): number {
  if (!(maxPoints >= 1)) throw new RangeError(`rollUp: maxPoints must be at least 1, got ${maxPoints}`);
  return n <= maxPoints ? 1 : Math.ceil(n / maxPoints);
}

/**
 * The roll-up made one sample at a time, for a run whose samples are not kept (`memvisor run`):
 * `per` comes from the number of samples the run will take, so the points are those rollUp
 * makes of the whole run. Holds one group and the points made.
 */
export class RollUpStream {
  readonly points: RunSample[] = [];
  private group: RunSample[] = [];

  constructor(readonly per: number) {
    if (!(Number.isInteger(per) && per >= 1)) throw new RangeError(`rollUp: per must be a whole number >= 1, got ${per}`);
  }

  add(s: RunSample): void {
    if (this.per === 1) {
      this.points.push(s);
      return;
    }
    this.group.push(s);
    if (this.group.length === this.per) this.flush();
  }

  /** The points, the last group closed however short. */
  finish(): RunSample[] {
    if (this.group.length) this.flush();
    return this.points;
  }

  private flush(): void {
    const point = meanOf(this.group) as RunSample;
    point.t = this.group[this.group.length - 1].t;
    this.points.push(point);
    this.group = [];
  }
}

/** `run` with its samples rolled up into at most `maxPoints` points (see the overview). */
export function rollUp(run: Run, maxPoints = MAX_CHART_POINTS): RolledUp {
  const per = samplesPerPoint(run.samples.length, maxPoints);
  if (per === 1) return { run, per: 1 };
  const r = new RollUpStream(per);
  for (const s of run.samples) r.add(s);
  return { run: { ...run, samples: r.finish() }, per };
}

/** What a group holds at one place of the sample shape, gathered in one pass. */
interface Acc {
  sum: number;
  nums: number;
  counts: Map<string, number> | null;
  /** the group's last string (ties of the most frequent go to it) */
  lastString: string;
  /** the group's last value of any other kind (booleans, arrays, null) */
  last: unknown;
  fields: Map<string, Acc> | null;
}

const newAcc = (): Acc => ({ sum: 0, nums: 0, counts: null, lastString: '', last: undefined, fields: null });

function add(a: Acc, x: unknown): void {
  if (typeof x === 'number') {
    a.sum += x;
    a.nums++;
  } else if (typeof x === 'string') {
    a.counts ??= new Map();
    a.counts.set(x, (a.counts.get(x) ?? 0) + 1);
    a.lastString = x;
  } else if (x !== null && typeof x === 'object' && !Array.isArray(x)) {
    a.fields ??= new Map();
    const o = x as Record<string, unknown>;
    for (const k in o) {
      let f = a.fields.get(k);
      if (!f) a.fields.set(k, (f = newAcc()));
      add(f, o[k]);
    }
  } else if (x !== undefined) {
    a.last = x;
  }
}

/** The group value (see the overview); undefined when nothing was present. */
function value(a: Acc): unknown {
  if (a.fields) {
    const out: Record<string, unknown> = {};
    for (const [k, f] of a.fields) {
      const v = value(f);
      if (v !== undefined) out[k] = v;
    }
    return out;
  }
  if (a.nums > 0) return a.sum / a.nums;
  if (a.counts) {
    // the most frequent; a tie goes to the value the group ends in, or else to the one seen first
    let best = a.lastString, most = a.counts.get(best)!;
    for (const [s, c] of a.counts) if (c > most) (best = s), (most = c);
    return best;
  }
  return a.last;
}

/** The group value of `xs`. */
function meanOf(xs: readonly unknown[]): unknown {
  const a = newAcc();
  for (const x of xs) add(a, x);
  return value(a);
}
