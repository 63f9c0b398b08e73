/**
 * The esxtop-style memory screen of one sample, as plain lines (no escape codes): a pure
 * function, used by the live view on every redraw, by `--quiet`'s final table and by tests.
 *
 *   t 125.0 s  MEM state soft   free 310.2 MiB  minFree 245.8 MiB  (high 983.0  clear 245.8 ...)
 *   PSHARE saving 412.3 MiB   ZIP saved 35.1 MiB   SWAP current 120.0 MiB   balloon 230.0 MiB
 *
 *   VM       MEMSZ  GRANT  SZTGT  TCHD  SHRD  ZERO SHRDSVD MCTLSZ SWCUR SWR/s SWW/s CACHEUSD ZIP/s UNZIP/s stall
 *   web-1   1024.0  612.3  ...
 *   (MiB; SWR/s .. UNZIP/s MiB/s; stall: simulated s lost per s)
 *
 * A field the run does not report shows as '-'. Given a width, columns that do not fit are
 * dropped from the right and the last line says which; given maxVms, the rows beyond are
 * summed up in one line.
 */
import type { RunSample, RunVm } from './runfile.js';

type Fmt = (x: number) => string;

/** Sizes: one decimal below 100000 MiB. */
const size: Fmt = (x) => (Math.abs(x) < 1e5 ? x.toFixed(1) : x.toFixed(0));
/** Rates: two decimals. */
const rate: Fmt = (x) => x.toFixed(2);
/** Stall: three decimals. */
const frac: Fmt = (x) => x.toFixed(3);

interface Column {
  key: keyof RunVm;
  fmt: Fmt;
}

/** The per-VM columns, in esxtop's memory-screen order, and the simulator's stall last. */
export const TABLE_COLUMNS: readonly Column[] = [
  { key: 'MEMSZ', fmt: size },
  { key: 'GRANT', fmt: size },
  { key: 'SZTGT', fmt: size },
  { key: 'TCHD', fmt: size },
  { key: 'SHRD', fmt: size },
  { key: 'ZERO', fmt: size },
  { key: 'SHRDSVD', fmt: size },
  { key: 'MCTLSZ', fmt: size },
  { key: 'SWCUR', fmt: size },
  { key: 'SWR/s', fmt: rate },
  { key: 'SWW/s', fmt: rate },
  { key: 'CACHEUSD', fmt: size },
  { key: 'ZIP/s', fmt: rate },
  { key: 'UNZIP/s', fmt: rate },
  { key: 'stall', fmt: frac },
];

export interface TableOptions {
  /** widest line allowed (a terminal's columns); columns that do not fit are left out */
  width?: number;
  /** most VM rows; the rest are counted in one line */
  maxVms?: number;
}

/** `x` formatted, or '-' when the run does not report it. */
function cell(x: unknown, fmt: Fmt): string {
  return typeof x === 'number' && Number.isFinite(x) ? fmt(x) : '-';
}

/** Sum of a VM field over VMs, or undefined when no VM reports it. */
function sumOf(vms: RunVm[], key: keyof RunVm): number | undefined {
  let s: number | undefined;
  for (const v of vms) {
    const x = v[key];
    if (typeof x === 'number') s = (s ?? 0) + x;
  }
  return s;
}

/** Machine memory saved by compression now, MiB: ZSAVE/MB summed, or ZIP/MB less CACHEUSD. */
export function zipSavedMiB(vms: RunVm[]): number | undefined {
  const direct = sumOf(vms, 'ZSAVE/MB');
  if (direct !== undefined) return direct;
  const zip = sumOf(vms, 'ZIP/MB'), used = sumOf(vms, 'CACHEUSD');
  return zip !== undefined && used !== undefined ? zip - used : undefined;
}

/** Joins `parts` with two spaces into lines no wider than `width` (a part wider than it gets a line of its own). */
function wrap(parts: string[], width: number | undefined): string[] {
  if (width === undefined) return [parts.join('  ')];
  const out: string[] = [];
  for (const p of parts) {
    const last = out.length - 1;
    if (last >= 0 && out[last].length + 2 + p.length <= width) out[last] += '  ' + p;
    else out.push(p);
  }
  return out;
}

/** The host's lines: state and free memory against minFree and the thresholds; what each technique holds. */
export function hostLines(s: RunSample, width?: number): string[] {
  const h = s.host;
  const vms = Object.values(s.vms);
  const mib = (x: number | undefined) => (x === undefined ? '-' : `${size(x)} MiB`);
  const levels = Object.entries(h.thresholds).map(([k, v]) => `${k} ${size(v)}`).join(', ');
  const first = [`t ${s.t.toFixed(1)} s`, `MEM state ${h.state ?? '-'}`, `free ${mib(h.freeMiB)}${h.machineMiB !== undefined ? ` of ${mib(h.machineMiB)}` : ''}`, `minFree ${mib(h.minFreeMiB)}`];
  if (levels) first.push(`(${levels})`);
  const second = [
    `PSHARE saving ${mib(h.sharedSavedMiB ?? sumOf(vms, 'SHRDSVD'))}`,
    `ZIP saved ${mib(zipSavedMiB(vms))}`,
    `SWAP current ${mib(h.swapMiB ?? sumOf(vms, 'SWCUR'))}`,
    `balloon ${mib(h.balloonMiB ?? sumOf(vms, 'MCTLSZ'))}`,
  ];
  return [...wrap(first, width), ...wrap(second, width)];
}

/** The esxtop-style screen of one sample (see the module overview). */
export function esxtopLines(s: RunSample, opts: TableOptions = {}): string[] {
  const names = Object.keys(s.vms);
  const shown = opts.maxVms !== undefined && names.length > opts.maxVms ? names.slice(0, Math.max(0, opts.maxVms)) : names;
  const rows = shown.map((n) => [n, ...TABLE_COLUMNS.map((c) => cell(s.vms[n][c.key], c.fmt))]);
  const header = ['VM', ...TABLE_COLUMNS.map((c) => c.key)];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  // columns from the left while the line fits: the name always shows
  let ncols = widths.length;
  if (opts.width !== undefined) {
    let w = widths[0];
    ncols = 1;
    while (ncols < widths.length && w + 1 + widths[ncols] <= opts.width) w += 1 + widths[ncols++];
  }
  const line = (r: string[]) => r.slice(0, ncols).map((x, i) => (i === 0 ? x.padEnd(widths[0]) : x.padStart(widths[i]))).join(' ');
  const out = [...hostLines(s, opts.width), '', line(header), ...rows.map(line)];
  if (shown.length < names.length) out.push(`... ${names.length - shown.length} more VMs`);
  const hidden = header.slice(ncols);
  out.push(...wrap(['(MiB;', 'SWR/s, SWW/s, ZIP/s, UNZIP/s in MiB/s;', 'stall: simulated s lost per s)'], opts.width).map((l) => l.replace(/ {2}/g, ' ')));
  if (hidden.length) out.push(...wrap([`not shown at this width: ${hidden[0]}`, ...hidden.slice(1)].map((h, i, a) => (i < a.length - 1 ? h + ',' : h)), opts.width).map((l) => l.replace(/ {2}/g, ' ')));
  if (opts.width !== undefined) return out.map((l) => (l.length > opts.width! ? l.slice(0, opts.width) : l));
  return out;
}
