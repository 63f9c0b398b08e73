/**
 * What a run came to, per host and per VM: the figures of the HTML report's summary table, of
 * `memvisor compare` and of the text after a run. Pure functions of a Run.
 *
 * Time-weighted figures weigh each sample by the interval it closes (t[i] - t[i-1], the first
 * from 0): a sample's rates and stall are averages over that interval.
 */
import type { Run, RunSample, RunVm } from './runfile.js';
import { zipSavedMiB } from './table.js';

export interface VmSummary {
  name: string;
  /** configured memory, MiB (the last sample's MEMSZ) */
  memoryMiB: number;
  reservationMiB?: number;
  shares?: number;
  /** time-weighted mean and peak of GRANT, MiB */
  meanGrantMiB: number;
  peakGrantMiB: number;
  /** peaks, MiB; undefined when the run does not report the field */
  peakSharedSavedMiB?: number;
  peakBalloonMiB?: number;
  peakCompressedMiB?: number;
  peakSwapMiB?: number;
  /** MiB swapped in and out over the run (rates integrated over time) */
  swapInMiB?: number;
  swapOutMiB?: number;
  /** time-weighted mean stall, simulated s lost per s */
  meanStall?: number;
  /** worst interval's slowdown */
  maxSlowdown?: number;
  /** touches completed over touches asked, whole run (1: all the work the workload wanted got done) */
  workDone?: number;
  /** time-weighted mean of |TCHD - trueActiveMiB|, MiB, and relative to the mean true working set */
  estimateErrorMiB?: number;
  estimateErrorPct?: number;
}

export interface HostSummary {
  /** simulated seconds covered */
  duration: number;
  machineMiB?: number;
  /** configured guest memory over machine memory */
  overcommit?: number;
  lowestFreeMiB: number;
  meanFreeMiB: number;
  /** simulated seconds in each memory state, in state order of first appearance */
  timeInState: Record<string, number>;
  /** the states in the order the host went through them, repeats collapsed ('high', 'soft', 'hard', 'soft', 'high') */
  walk: string[];
  peakSharedSavedMiB?: number;
  peakZipSavedMiB?: number;
  peakSwapMiB?: number;
  peakBalloonMiB?: number;
}

export interface RunSummary {
  host: HostSummary;
  vms: VmSummary[];
  policy?: string;
  verified: Run['verified'];
}

/** Interval each sample closes, simulated seconds. */
export function intervals(run: Pick<Run, 'samples'>): number[] {
  return run.samples.map((s, i) => s.t - (i > 0 ? run.samples[i - 1].t : 0));
}

/** Running figures over the samples where a field is present. */
class Acc {
  sum = 0;
  weight = 0;
  peak = -Infinity;
  seen = false;
  add(x: number | undefined, w: number): void {
    if (x === undefined) return;
    this.seen = true;
    this.sum += x * w;
    this.weight += w;
    if (x > this.peak) this.peak = x;
  }
  get mean(): number | undefined {
    return this.seen ? (this.weight > 0 ? this.sum / this.weight : 0) : undefined;
  }
  get max(): number | undefined {
    return this.seen ? this.peak : undefined;
  }
  /** integral over time (for a rate) */
  get total(): number | undefined {
    return this.seen ? this.sum : undefined;
  }
}

/** One VM's running figures (see RunSummarizer). */
class VmAcc {
  grant = new Acc();
  err = new Acc();
  truth = new Acc();
  saved = new Acc();
  balloon = new Acc();
  zip = new Acc();
  swap = new Acc();
  swapIn = new Acc();
  swapOut = new Acc();
  stall = new Acc();
  slowdown = new Acc();
  asked = 0;
  done = 0;
  touches = false;
  last!: RunVm;

  add(v: RunVm, dt: number): void {
    this.grant.add(v.GRANT, dt);
    this.err.add(v.TCHD !== undefined && v.trueActiveMiB !== undefined ? Math.abs(v.TCHD - v.trueActiveMiB) : undefined, dt);
    this.truth.add(v.TCHD !== undefined ? v.trueActiveMiB : undefined, dt);
    this.saved.add(v.SHRDSVD, dt);
    this.balloon.add(v.MCTLSZ, dt);
    this.zip.add(v['ZIP/MB'], dt);
    this.swap.add(v.SWCUR, dt);
    this.swapIn.add(v['SWR/s'], dt);
    this.swapOut.add(v['SWW/s'], dt);
    this.stall.add(v.stall, dt);
    this.slowdown.add(v.slowdown, dt);
    if (v.touchesAsked !== undefined && v.touchesCompleted !== undefined) {
      this.touches = true;
      this.asked += v.touchesAsked;
      this.done += v.touchesCompleted;
    }
    this.last = v;
  }

  summary(name: string, config: Run['config']): VmSummary {
    const cfg = config.vms?.find((c) => c.name === name || (c.count !== undefined && c.count > 1 && name.startsWith(`${c.name}-`)));
    const estimateErrorMiB = this.err.mean;
    const meanTruth = this.truth.mean;
    return {
      name,
      memoryMiB: this.last.MEMSZ,
      reservationMiB: cfg?.reservationMiB,
      shares: cfg?.shares,
      meanGrantMiB: this.grant.mean ?? 0,
      peakGrantMiB: this.grant.max ?? 0,
      peakSharedSavedMiB: this.saved.max,
      peakBalloonMiB: this.balloon.max,
      peakCompressedMiB: this.zip.max,
      peakSwapMiB: this.swap.max,
      swapInMiB: this.swapIn.total,
      swapOutMiB: this.swapOut.total,
      meanStall: this.stall.mean,
      maxSlowdown: this.slowdown.max,
      workDone: this.touches ? (this.asked > 0 ? this.done / this.asked : 1) : undefined,
      estimateErrorMiB,
      estimateErrorPct: estimateErrorMiB !== undefined && meanTruth !== undefined && meanTruth > 0 ? (100 * estimateErrorMiB) / meanTruth : undefined,
    };
  }
}

/**
 * The summary built one sample at a time, so a run too long to hold in memory is summarized as
 * it runs (`memvisor run` keeps no samples); summarizeRun gives the same figures from a whole run.
 */
export class RunSummarizer {
  private readonly free = new Acc();
  private readonly saved = new Acc();
  private readonly zip = new Acc();
  private readonly swap = new Acc();
  private readonly balloon = new Acc();
  private readonly timeInState: Record<string, number> = {};
  private readonly walk: string[] = [];
  /** per VM, in order of first appearance (vmNames) */
  private readonly vms = new Map<string, VmAcc>();
  private lowestFree = Infinity;
  private last: RunSample | null = null;
  /** samples added */
  count = 0;

  /** Adds the next sample (samples come in time order). */
  add(s: RunSample): void {
    const dt = s.t - (this.last ? this.last.t : 0);
    const h = s.host;
    const vms = Object.values(s.vms);
    this.free.add(h.freeMiB, dt);
    this.saved.add(h.sharedSavedMiB, dt);
    this.zip.add(zipSavedMiB(vms), dt);
    this.swap.add(h.swapMiB, dt);
    this.balloon.add(h.balloonMiB, dt);
    if (h.state !== undefined) {
      this.timeInState[h.state] = (this.timeInState[h.state] ?? 0) + dt;
      if (this.walk[this.walk.length - 1] !== h.state) this.walk.push(h.state);
    }
    this.lowestFree = Math.min(this.lowestFree, h.freeMiB);
    for (const name in s.vms) {
      let a = this.vms.get(name);
      if (!a) this.vms.set(name, (a = new VmAcc()));
      a.add(s.vms[name], dt);
    }
    this.last = s;
    this.count++;
  }

  /**
   * The summary of the samples added, with the run's verdict and config (taken here, as a run
   * file may hold them after its samples). At least one sample must have been added.
   */
  finish(verified: Run['verified'], config: Run['config']): RunSummary {
    const last = this.last;
    if (!last) throw new RangeError('a run summary needs at least one sample');
    const machineMiB = last.host.machineMiB ?? config.host?.machineMemoryMiB;
    const vms = [...this.vms].map(([n, a]) => a.summary(n, config));
    const configured = vms.reduce((a, v) => a + v.memoryMiB, 0);
    return {
      host: {
        duration: last.t,
        machineMiB,
        overcommit: machineMiB ? configured / machineMiB : undefined,
        lowestFreeMiB: this.lowestFree,
        meanFreeMiB: this.free.mean ?? 0,
        timeInState: { ...this.timeInState },
        walk: [...this.walk],
        peakSharedSavedMiB: this.saved.max,
        peakZipSavedMiB: this.zip.max,
        peakSwapMiB: this.swap.max,
        peakBalloonMiB: this.balloon.max,
      },
      vms,
      policy: config.policy?.kind,
      verified,
    };
  }
}

/** The summary of a run (see the module overview). */
export function summarizeRun(run: Run): RunSummary {
  const s = new RunSummarizer();
  for (const x of run.samples) s.add(x);
  return s.finish(run.verified, run.config);
}

/** A figure for a text or HTML table: '-' when absent. */
export function fmt(x: number | undefined, digits = 1, suffix = ''): string {
  return x === undefined || !Number.isFinite(x) ? '-' : `${x.toFixed(digits)}${suffix}`;
}

/** The VM summary columns: header, unit, value. One list for the text and the HTML table. */
export const VM_SUMMARY_COLUMNS: readonly { head: string; unit: string; value: (v: VmSummary) => string; title: string }[] = [
  { head: 'MEMSZ', unit: 'MiB', value: (v) => fmt(v.memoryMiB, 0), title: 'configured memory' },
  { head: 'resv', unit: 'MiB', value: (v) => fmt(v.reservationMiB, 0), title: 'reservation' },
  { head: 'GRANT mean', unit: 'MiB', value: (v) => fmt(v.meanGrantMiB), title: 'time-weighted mean of granted memory' },
  { head: 'GRANT peak', unit: 'MiB', value: (v) => fmt(v.peakGrantMiB), title: 'most memory granted' },
  { head: 'SHRDSVD peak', unit: 'MiB', value: (v) => fmt(v.peakSharedSavedMiB), title: 'most memory saved by sharing' },
  { head: 'MCTLSZ peak', unit: 'MiB', value: (v) => fmt(v.peakBalloonMiB), title: 'most memory ballooned' },
  { head: 'ZIP peak', unit: 'MiB', value: (v) => fmt(v.peakCompressedMiB), title: 'most memory held compressed' },
  { head: 'SWCUR peak', unit: 'MiB', value: (v) => fmt(v.peakSwapMiB), title: 'most memory swapped' },
  { head: 'swap-in', unit: 'MiB', value: (v) => fmt(v.swapInMiB), title: 'memory swapped in over the run' },
  { head: 'stall mean', unit: 's/s', value: (v) => fmt(v.meanStall, 4), title: 'time-weighted mean of simulated seconds lost to faults per second' },
  { head: 'slowdown max', unit: 'x', value: (v) => fmt(v.maxSlowdown, 3), title: "worst interval's slowdown" },
  { head: 'work done', unit: '%', value: (v) => fmt(v.workDone === undefined ? undefined : 100 * v.workDone, 1), title: 'touches completed over touches asked' },
  { head: 'TCHD error', unit: 'MiB', value: (v) => fmt(v.estimateErrorMiB), title: 'time-weighted mean |TCHD - trueActiveMiB|' },
];

/** The walk through the states, at most 12 steps shown: 'high -> soft -> ... (9 more) -> high'. */
export function walkText(walk: string[]): string {
  if (walk.length <= 12) return walk.join(' -> ');
  return [...walk.slice(0, 6), `... (${walk.length - 11} more)`, ...walk.slice(-5)].join(' -> ');
}

/** The summary as text lines: the host's walk through the states, then a table per VM. */
export function summaryLines(s: RunSummary): string[] {
  const h = s.host;
  const states = Object.entries(h.timeInState).map(([k, v]) => `${k} ${v.toFixed(0)} s`).join(', ');
  const out = [
    `host: ${fmt(h.machineMiB, 0, ' MiB')}${h.overcommit !== undefined ? `, ${h.overcommit.toFixed(2)}x overcommitted` : ''}, policy ${s.policy ?? '-'}, ${h.duration.toFixed(0)} simulated s; free memory lowest ${fmt(h.lowestFreeMiB)} MiB, mean ${fmt(h.meanFreeMiB)} MiB`,
  ];
  if (h.walk.length) out.push(`states: ${walkText(h.walk)} (${states})`);
  out.push(`peaks: PSHARE saving ${fmt(h.peakSharedSavedMiB, 1, ' MiB')}, ZIP saved ${fmt(h.peakZipSavedMiB, 1, ' MiB')}, ballooned ${fmt(h.peakBalloonMiB, 1, ' MiB')}, swapped ${fmt(h.peakSwapMiB, 1, ' MiB')}`);
  const head = ['VM', ...VM_SUMMARY_COLUMNS.map((c) => c.head)];
  const units = ['', ...VM_SUMMARY_COLUMNS.map((c) => c.unit)];
  const rows = s.vms.map((v) => [v.name, ...VM_SUMMARY_COLUMNS.map((c) => c.value(v))]);
  const w = head.map((x, i) => Math.max(x.length, units[i].length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((x, i) => (i === 0 ? x.padEnd(w[0]) : x.padStart(w[i]))).join('  ');
  out.push('', line(head), line(units), ...rows.map(line));
  out.push(`verified: ${s.verified.ok ? 'ok' : 'FAILED'}, ${(s.verified.bytes / 1048576).toFixed(1)} MiB of guest memory compared with what the guests wrote`);
  return out;
}
