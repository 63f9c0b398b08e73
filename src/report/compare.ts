/**
 * Two runs compared: the rows of A, B and B - A that `memvisor compare` prints and the compare
 * page's table shows. Host rows first (free memory, time in each state, what each technique
 * held at its peak), then all VMs, then each VM by name (a VM only one run has shows '-').
 */
import { fmt, walkText, type RunSummary, type VmSummary } from './summary.js';

export interface CompareRow {
  /** 'host', 'all VMs' or a VM's name */
  section: string;
  name: string;
  a?: number;
  b?: number;
  /** decimals to show */
  digits: number;
}

/** Rows of the comparison table: a figure of A and B and the difference B - A. */
export function compareRows(a: RunSummary, b: RunSummary): CompareRow[] {
  const rows: CompareRow[] = [];
  const host = (name: string, f: (s: RunSummary) => number | undefined, digits = 1) => rows.push({ section: 'host', name, a: f(a), b: f(b), digits });
  host('free memory, lowest (MiB)', (s) => s.host.lowestFreeMiB);
  host('free memory, mean (MiB)', (s) => s.host.meanFreeMiB);
  const states = [...new Set([...Object.keys(a.host.timeInState), ...Object.keys(b.host.timeInState)])];
  for (const st of states) host(`time in ${st} (s)`, (s) => (Object.keys(s.host.timeInState).length ? s.host.timeInState[st] ?? 0 : undefined));
  host('PSHARE saving, peak (MiB)', (s) => s.host.peakSharedSavedMiB);
  host('ZIP saved, peak (MiB)', (s) => s.host.peakZipSavedMiB);
  host('ballooned, peak (MiB)', (s) => s.host.peakBalloonMiB);
  host('swapped, peak (MiB)', (s) => s.host.peakSwapMiB);
  const names = [...new Set([...a.vms.map((v) => v.name), ...b.vms.map((v) => v.name)])];
  const all = (f: (v: VmSummary) => number | undefined) => (s: RunSummary) => {
    const xs = s.vms.map(f).filter((x): x is number => x !== undefined);
    return xs.length ? xs : undefined;
  };
  const mean = (xs?: number[]) => (xs ? xs.reduce((p, q) => p + q, 0) / xs.length : undefined);
  rows.push({ section: 'all VMs', name: 'stall, mean over VMs (s/s)', a: mean(all((v) => v.meanStall)(a)), b: mean(all((v) => v.meanStall)(b)), digits: 4 });
  rows.push({ section: 'all VMs', name: 'slowdown, worst (x)', a: Math.max(...(all((v) => v.maxSlowdown)(a) ?? [NaN])), b: Math.max(...(all((v) => v.maxSlowdown)(b) ?? [NaN])), digits: 3 });
  rows.push({ section: 'all VMs', name: 'swapped in (MiB)', a: all((v) => v.swapInMiB)(a)?.reduce((p, q) => p + q, 0), b: all((v) => v.swapInMiB)(b)?.reduce((p, q) => p + q, 0), digits: 1 });
  for (const n of names) {
    const va = a.vms.find((v) => v.name === n), vb = b.vms.find((v) => v.name === n);
    const vm = (name: string, f: (v: VmSummary) => number | undefined, digits: number) => rows.push({ section: n, name, a: va ? f(va) : undefined, b: vb ? f(vb) : undefined, digits });
    vm('stall, mean (s/s)', (v) => v.meanStall, 4);
    vm('slowdown, max (x)', (v) => v.maxSlowdown, 3);
    vm('work done (%)', (v) => (v.workDone === undefined ? undefined : 100 * v.workDone), 1);
    vm('GRANT, mean (MiB)', (v) => v.meanGrantMiB, 1);
    vm('swapped in (MiB)', (v) => v.swapInMiB, 1);
  }
  return rows.map((r) => ({ ...r, a: Number.isFinite(r.a) ? r.a : undefined, b: Number.isFinite(r.b) ? r.b : undefined }));
}

/** B - A with its sign, or '-' when either is absent. */
export function delta(a: number | undefined, b: number | undefined, digits: number): string {
  if (a === undefined || b === undefined) return '-';
  const d = b - a;
  return `${d > 0 ? '+' : ''}${d.toFixed(digits)}`;
}

/** The comparison as text: what ran on each side, then a table of A, B and B - A. */
export function compareLines(a: RunSummary, b: RunSummary, labels: [string, string]): string[] {
  const side = (tag: string, label: string, s: RunSummary) =>
    `${tag} ${label}: policy ${s.policy ?? '-'}, ${s.vms.length} VMs on ${fmt(s.host.machineMiB, 0)} MiB${s.host.overcommit !== undefined ? ` (${s.host.overcommit.toFixed(2)}x)` : ''}, ${s.host.duration.toFixed(0)} simulated s, verified ${s.verified.ok ? 'ok' : 'FAILED'}${s.host.walk.length ? `; states ${walkText(s.host.walk)}` : ''}`;
  const rows = compareRows(a, b);
  const table: string[][] = [['', `A: ${labels[0]}`, `B: ${labels[1]}`, 'B - A']];
  let section = '';
  for (const r of rows) {
    if (r.section !== section) table.push([r.section, '', '', '']);
    section = r.section;
    table.push([`  ${r.name}`, fmt(r.a, r.digits), fmt(r.b, r.digits), delta(r.a, r.b, r.digits)]);
  }
  const w = [0, 1, 2, 3].map((i) => Math.max(...table.map((r) => r[i].length)));
  return [side('A', labels[0], a), side('B', labels[1], b), '', ...table.map((r) => r.map((x, i) => (i === 0 ? x.padEnd(w[0]) : x.padStart(w[i]))).join('  ').trimEnd())];
}
