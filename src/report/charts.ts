/**
 * The charts of the HTML report as data: which series each chart draws, in what colour, on
 * which axis, with which state bands. Pure functions of a Run, so what the page shows is
 * decided (and tested) here; the page's script (client.ts) only hands these specs to Chart.js.
 *
 *   Run ──▶ hostFreeChart   free memory, thresholds (dashed), state bands behind
 *       ──▶ hostUseChart    machine memory by use (stacked)
 *       ──▶ reclaimedChart  reclaimed by technique, as the policy reports it
 *       ──▶ vmMemoryChart   one per VM: private, shared, ballooned, compressed, swapped (stacked), MEMSZ and SZTGT lines
 *       ──▶ ratesChart, stallChart, slowdownChart, workingSetChart, guestChart
 *                           with a view per VM and one of all VMs (the page's VM picker)
 *
 * A field the run does not report gives no series; a chart left without series is not drawn
 * (the page says so). Series hold one value per sample (null: the VM is absent then).
 */
import { vmNames, type Run, type RunVm } from './runfile.js';
import { STATES } from './fields.js';

export interface Series {
  label: string;
  data: (number | null)[];
  /** line colour */
  color: string;
  /** area fill colour: the series is stacked with the chart's other areas */
  fill?: string;
  dash?: boolean;
  /** drawn as steps (levels that change at a sample) */
  step?: boolean;
  axis?: 'y' | 'y2';
  width?: number;
}

/** A memory state holding over (from, to], simulated seconds. */
export interface Band {
  from: number;
  to: number;
  state: string;
}

export interface ChartSpec {
  /** the canvas id */
  id: string;
  /** index of the run in the report (compare has two) */
  run: number;
  title: string;
  /** one sentence under the chart: how to read it */
  caption: string;
  yLabel: string;
  y2Label?: string;
  /** upper end of the y axis (shared across small multiples and compared runs) */
  yMax?: number;
  series: Series[];
  /** the VM picker's views: 'all' and one per VM; `series` is the view shown first */
  views?: Record<string, Series[]>;
  bands?: Band[];
  /** a small multiple */
  small?: boolean;
  /** charts of one sync group share the y axis' upper end (compare) */
  sync?: string;
}

/** Colours of the memory states (bands and the threshold lines at their lower bounds). */
export const STATE_COLORS: Record<string, string> = { high: '#2e7d32', clear: '#0277bd', soft: '#f9a825', hard: '#ef6c00', low: '#c62828' };
const OTHER_STATE = '#757575';
export const stateColor = (s: string): string => STATE_COLORS[s] ?? OTHER_STATE;

/** Colours of the ways a VM's memory is held. */
const MEM_COLORS = {
  private: ['#1565c0', 'rgba(21,101,192,0.55)'],
  shared: ['#2e7d32', 'rgba(46,125,50,0.55)'],
  ballooned: ['#f9a825', 'rgba(249,168,37,0.6)'],
  compressed: ['#6a1b9a', 'rgba(106,27,154,0.55)'],
  swapped: ['#c62828', 'rgba(198,40,40,0.55)'],
} as const;

/** A distinct colour for the i-th VM (golden-angle hues). */
export function vmColor(i: number): string {
  return `hsl(${Math.round((i * 137.508) % 360)}, 65%, 42%)`;
}

/** The x values of a run: simulated seconds of each sample. */
export function times(run: Run): number[] {
  return run.samples.map((s) => s.t);
}

type Num = number | null;

/** `f` of each sample (null where it gives undefined). */
function col(run: Run, f: (s: Run['samples'][number]) => number | undefined): Num[] {
  return run.samples.map((s) => {
    const x = f(s);
    return x === undefined || !Number.isFinite(x) ? null : x;
  });
}

/** A VM field per sample; null where the VM or the field is absent. */
export function vmSeries(run: Run, vm: string, f: (v: RunVm) => number | undefined): Num[] {
  return col(run, (s) => (s.vms[vm] ? f(s.vms[vm]) : undefined));
}

/** A VM field summed over VMs per sample; null where no VM reports it. */
function vmSum(run: Run, f: (v: RunVm) => number | undefined): Num[] {
  return col(run, (s) => {
    let sum: number | undefined;
    for (const v of Object.values(s.vms)) {
      const x = f(v);
      if (x !== undefined) sum = (sum ?? 0) + x;
    }
    return sum;
  });
}

const present = (d: Num[]) => d.some((x) => x !== null);
/** Keeps the series that hold at least one value. */
const keep = (ss: Series[]) => ss.filter((s) => present(s.data));

/** The state bands of a run: consecutive samples in one state merged; [] without states. */
export function stateBands(run: Run): Band[] {
  const out: Band[] = [];
  run.samples.forEach((s, i) => {
    const st = s.host.state;
    const from = i > 0 ? run.samples[i - 1].t : 0;
    if (st === undefined) return;
    const last = out[out.length - 1];
    if (last && last.state === st && last.to === from) last.to = s.t;
    else out.push({ from, to: s.t, state: st });
  });
  return out;
}

/** Threshold names of a run, most free memory first for ESXi's states, then the rest by name. */
function thresholdNames(run: Run): string[] {
  const names = new Set<string>();
  for (const s of run.samples) for (const k of Object.keys(s.host.thresholds)) names.add(k);
  const rank = (n: string) => {
    const i = (STATES as readonly string[]).indexOf(n);
    return i < 0 ? STATES.length : i;
  };
  return [...names].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

/** Colours of Linux's watermarks: reclaim is direct below min, kswapd wakes below low and sleeps above high. */
const WMARK_COLORS: Record<string, string> = { min: '#c62828', low: '#ef6c00', high: '#2e7d32' };
const OTHER_LEVELS = ['#6d4c41', '#00838f', '#5e35b1'];

export function hostFreeChart(run: Run, ri = 0): ChartSpec {
  const series: Series[] = [{ label: 'free', data: col(run, (s) => s.host.freeMiB), color: '#111', width: 2 }];
  const names = thresholdNames(run);
  const minFree = col(run, (s) => s.host.minFreeMiB);
  const clear = names.includes('clear') ? col(run, (s) => s.host.thresholds.clear) : null;
  // minFree is the clear threshold on ESXi: drawn once
  if (present(minFree) && !(clear && clear.every((x, i) => x === minFree[i]))) series.push({ label: 'minFree', data: minFree, color: '#455a64', dash: true, step: true });
  const bands = stateBands(run);
  // with memory states the levels are the states' thresholds; without, they are watermarks
  names.forEach((n, i) => {
    const bare = n.replace(/^wmark /, '');
    const state = bands.length && (STATES as readonly string[]).includes(n) ? n : null;
    const label = state ? `${n} threshold${n === 'clear' && present(minFree) ? ' (minFree)' : ''}` : n !== bare || WMARK_COLORS[bare] ? `${bare} watermark` : n;
    const color = state ? stateColor(state) : WMARK_COLORS[bare] ?? OTHER_LEVELS[i % OTHER_LEVELS.length];
    series.push({ label, data: col(run, (s) => s.host.thresholds[n]), color, dash: true, step: true });
  });
  return {
    id: `host-free-${ri}`,
    run: ri,
    title: 'Host free memory against the state thresholds',
    caption: bands.length
      ? 'Free machine memory (black) against the free-memory levels the policy acts at (dashed); the background is the memory state the host was in.'
      : "Free machine memory (black) against the policy's free-memory levels (dashed, where it reports any); this run reports no memory state.",
    yLabel: 'MiB',
    series: keep(series),
    bands,
  };
}

export function hostUseChart(run: Run, ri = 0): ChartSpec {
  const h = (f: (x: Run['samples'][number]['host']) => number | undefined) => col(run, (s) => f(s.host));
  const parts: Series[] = keep([
    { label: 'guest pages', data: h((x) => x.guestMiB), color: '#1565c0', fill: 'rgba(21,101,192,0.5)' },
    { label: 'zip caches', data: h((x) => x.zipMiB), color: '#6a1b9a', fill: 'rgba(106,27,154,0.5)' },
    { label: 'page tables', data: h((x) => x.pageTablesMiB), color: '#00838f', fill: 'rgba(0,131,143,0.5)' },
  ]);
  const other = h((x) => (x.machineMiB !== undefined && x.guestMiB !== undefined ? Math.max(0, x.machineMiB - x.freeMiB - (x.guestMiB ?? 0) - (x.zipMiB ?? 0) - (x.pageTablesMiB ?? 0)) : undefined));
  if (present(other)) parts.push({ label: 'hypervisor and other', data: other, color: '#757575', fill: 'rgba(117,117,117,0.45)' });
  parts.push({ label: 'free', data: h((x) => x.freeMiB), color: '#9e9e9e', fill: 'rgba(224,224,224,0.6)' });
  const lines = keep([{ label: 'saved by sharing', data: h((x) => x.sharedSavedMiB), color: '#2e7d32', dash: true, width: 2 }]);
  return {
    id: `host-use-${ri}`,
    run: ri,
    title: 'Host machine memory by use',
    caption: 'Where machine memory went (stacked); the dashed line is the memory page sharing saves, which is why guest pages can sum to more than the host holds.',
    yLabel: 'MiB',
    series: [...parts, ...lines],
  };
}

// 'shared before swap' is a path of sharing: its own colour, so it is told from the scanner's merges
const TECHNIQUE_COLORS: Record<string, string> = {
  share: '#2e7d32', sharing: '#2e7d32', 'shared before swap': '#00838f', balloon: '#f9a825', ballooned: '#f9a825',
  zip: '#6a1b9a', compress: '#6a1b9a', compressed: '#6a1b9a', compression: '#6a1b9a', swap: '#c62828', swapped: '#c62828',
  kswapd: '#1565c0', direct: '#ef6c00',
};

/** Memory reclaimed by technique, or null when the policy reports none. */
export function reclaimedChart(run: Run, ri = 0): ChartSpec | null {
  const names = new Set<string>();
  for (const s of run.samples) for (const k of Object.keys(s.host.reclaimed)) names.add(k);
  if (!names.size) return null;
  return {
    id: `reclaimed-${ri}`,
    run: ri,
    title: 'Memory reclaimed by technique',
    caption: 'Memory the policy reclaimed, by technique or path, as it reports it (its own counters: cumulative where the policy counts so).',
    yLabel: 'MiB',
    series: keep([...names].map((n, i) => ({ label: n, data: col(run, (s) => s.host.reclaimed[n]), color: TECHNIQUE_COLORS[n] ?? vmColor(i), width: 2 }))),
  };
}

/** The memory of one VM by where it is held, for the small multiples. */
export function vmMemoryChart(run: Run, vm: string, index: number, ri = 0, yMax?: number): ChartSpec {
  const f = (g: (v: RunVm) => number | undefined) => vmSeries(run, vm, g);
  const area = (label: keyof typeof MEM_COLORS, data: Num[]): Series => ({ label, data, color: MEM_COLORS[label][0], fill: MEM_COLORS[label][1] });
  const series = keep([
    area('private', f((v) => (v.SHRD !== undefined ? Math.max(0, v.GRANT - v.SHRD) : v.GRANT))),
    area('shared', f((v) => v.SHRD)),
    area('ballooned', f((v) => v.MCTLSZ)),
    area('compressed', f((v) => v['ZIP/MB'])),
    area('swapped', f((v) => v.SWCUR)),
    { label: 'MEMSZ', data: f((v) => v.MEMSZ), color: '#424242', dash: true, width: 1 },
    { label: 'SZTGT (target)', data: f((v) => v.SZTGT), color: '#000', dash: true, width: 1.5 },
  ]);
  return {
    id: `vm-mem-${ri}-${index}`,
    run: ri,
    title: vm,
    caption: '',
    yLabel: 'MiB',
    yMax,
    series,
    small: true,
  };
}

/** Views for the VM picker: all VMs (`all`), then each VM by name. */
function views(run: Run, all: Series[], one: (vm: string, i: number) => Series[]): Record<string, Series[]> {
  const out: Record<string, Series[]> = { all: keep(all) };
  vmNames(run).forEach((n, i) => (out[`vm:${n}`] = keep(one(n, i))));
  return out;
}

function withViews(spec: Omit<ChartSpec, 'series'>, v: Record<string, Series[]>): ChartSpec | null {
  if (!Object.values(v).some((s) => s.length)) return null;
  return { ...spec, series: v.all, views: v };
}

const RATE_FIELDS: [keyof RunVm, string, boolean][] = [['SWR/s', '#c62828', false], ['SWW/s', '#c62828', true], ['ZIP/s', '#6a1b9a', true], ['UNZIP/s', '#6a1b9a', false]];

export function ratesChart(run: Run, ri = 0): ChartSpec | null {
  const mk = (g: (k: keyof RunVm) => Num[]) => RATE_FIELDS.map(([k, c, dash]) => ({ label: k, data: g(k), color: c, dash, width: 2 }));
  return withViews(
    { id: `rates-${ri}`, run: ri, title: 'Swap and zip cache rates', caption: 'MiB per simulated second swapped in (SWR/s) and out (SWW/s), compressed into (ZIP/s) and decompressed out of (UNZIP/s) the zip cache; "all VMs" sums them.', yLabel: 'MiB/s' },
    views(run, mk((k) => vmSum(run, (v) => v[k] as number | undefined)), (n) => mk((k) => vmSeries(run, n, (v) => v[k] as number | undefined))),
  );
}

/** One line per VM in the "all" view, the VM's own line in its view. */
function perVm(run: Run, f: (v: RunVm) => number | undefined): Record<string, Series[]> {
  const names = vmNames(run);
  const line = (n: string, i: number): Series => ({ label: n, data: vmSeries(run, n, f), color: vmColor(i), width: names.length > 8 ? 1 : 1.5 });
  return views(run, names.map(line), (n, i) => [{ ...line(n, i), width: 2 }]);
}

export function stallChart(run: Run, ri = 0): ChartSpec | null {
  return withViews(
    { id: `stall-${ri}`, run: ri, title: 'Stall', caption: 'Simulated seconds each VM lost to memory faults per simulated second (0: never waited; 1: did nothing else).', yLabel: 'stall (s/s)' },
    perVm(run, (v) => v.stall),
  );
}

export function slowdownChart(run: Run, ri = 0): ChartSpec | null {
  return withViews(
    { id: `slowdown-${ri}`, run: ri, title: 'Slowdown', caption: 'Time each VM took for its work over the time it would take unconstrained (1: no slower).', yLabel: 'slowdown (x)' },
    perVm(run, (v) => v.slowdown),
  );
}

export function workingSetChart(run: Run, ri = 0): ChartSpec | null {
  const pair = (tchd: Num[], truth: Num[]): Series[] => [
    { label: 'TCHD (estimate)', data: tchd, color: '#1565c0', width: 2 },
    { label: 'true working set', data: truth, color: '#ef6c00', dash: true, width: 2 },
  ];
  return withViews(
    { id: `ws-${ri}`, run: ri, title: 'Estimated against true working set', caption: "The policy's active-memory estimate (TCHD, from sampling) against the pages the workload really touched (trueActiveMiB); \"all VMs\" sums them.", yLabel: 'MiB' },
    views(run, pair(vmSum(run, (v) => v.TCHD), vmSum(run, (v) => v.trueActiveMiB)), (n) => pair(vmSeries(run, n, (v) => v.TCHD), vmSeries(run, n, (v) => v.trueActiveMiB))),
  );
}

const GUEST_PARTS: [keyof NonNullable<RunVm['guest']>, string, string][] = [
  ['anonMiB', '#1565c0', 'rgba(21,101,192,0.5)'],
  ['cacheMiB', '#00838f', 'rgba(0,131,143,0.45)'],
  ['freeMiB', '#9e9e9e', 'rgba(200,200,200,0.55)'],
  ['swapMiB', '#c62828', 'rgba(198,40,40,0.45)'],
];

export function guestChart(run: Run, ri = 0): ChartSpec | null {
  const mk = (g: (k: (typeof GUEST_PARTS)[number][0]) => Num[]) => GUEST_PARTS.map(([k, c, fill]) => ({ label: k.replace('MiB', ''), data: g(k), color: c, fill }));
  return withViews(
    { id: `guest-${ri}`, run: ri, title: "The guests' own view", caption: "Guest memory as each guest OS sees it: anonymous, page cache, free (stacked) and what it swapped to its own swap device; the balloon's pages are outside these.", yLabel: 'MiB' },
    views(run, mk((k) => vmSum(run, (v) => v.guest?.[k])), (n) => mk((k) => vmSeries(run, n, (v) => v.guest?.[k]))),
  );
}

/** Largest stacked total of a chart's areas, or largest line value: a shared y-axis end. */
export function chartPeak(spec: ChartSpec): number {
  let peak = 0;
  for (const ss of spec.views ? Object.values(spec.views) : [spec.series]) {
    const areas = ss.filter((s) => s.fill), lines = ss.filter((s) => !s.fill && (s.axis ?? 'y') === 'y');
    const n = Math.max(0, ...ss.map((s) => s.data.length));
    for (let i = 0; i < n; i++) {
      let sum = 0;
      for (const a of areas) sum += a.data[i] ?? 0;
      peak = Math.max(peak, sum, ...lines.map((l) => l.data[i] ?? 0));
    }
  }
  return peak;
}

/** A round number at or above `x` for an axis end (1, 2, 2.5, 5 x 10^k). */
export function niceCeil(x: number): number {
  if (!(x > 0)) return 1;
  const e = Math.pow(10, Math.floor(Math.log10(x)));
  for (const m of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * e >= x) return m * e;
  return 10 * e;
}

/** Every chart of one run's report, in page order: host charts, the small multiples, the picker's charts. */
export function runCharts(run: Run, ri = 0): { host: ChartSpec[]; vms: ChartSpec[]; picked: ChartSpec[] } {
  const names = vmNames(run);
  // a loop, not Math.max(...all): spreading a long run's values overflows the call stack
  let memMax = -Infinity;
  for (const s of run.samples) for (const v of Object.values(s.vms)) memMax = Math.max(memMax, v.MEMSZ);
  memMax = niceCeil(memMax);
  return {
    host: [hostFreeChart(run, ri), hostUseChart(run, ri), reclaimedChart(run, ri)].filter((c): c is ChartSpec => c !== null),
    vms: names.map((n, i) => vmMemoryChart(run, n, i, ri, memMax)),
    picked: [ratesChart(run, ri), stallChart(run, ri), slowdownChart(run, ri), workingSetChart(run, ri), guestChart(run, ri)].filter((c): c is ChartSpec => c !== null),
  };
}
