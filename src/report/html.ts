/**
 * The HTML report: one self-contained file (Chart.js inlined, no network, no wall-clock value),
 * for one run or two side by side. Pure: the Chart.js source comes in as a string (files.ts
 * reads it from node_modules in Node), so the same code can render in a browser.
 *
 *   header      what ran: host, VMs, overcommit, policy, simulated time, seed, version, verified
 *   Host        free memory against the thresholds with the state as a band; memory by use;
 *               reclaimed by technique (when the policy reports it)
 *   VM memory   one small chart per VM: private, shared, ballooned, compressed, swapped (stacked)
 *   Pressure    a VM picker over: swap and zip rates, stall, slowdown, TCHD against the true
 *               working set, the guests' own view
 *   Summary     the host's walk through the states, a table per VM (summary.ts)
 *
 * Compare puts run A and run B in two columns, each chart next to its twin with a shared y axis,
 * and a table of A, B and B - A first.
 */
import { vmNames, type Run } from './runfile.js';
import { runCharts, STATE_COLORS, stateColor, type ChartSpec } from './charts.js';
import { summarizeRun, walkText, fmt, VM_SUMMARY_COLUMNS, type RunSummary, type VmSummary } from './summary.js';
import { CLIENT_SCRIPT } from './client.js';
import { compareRows, delta } from './compare.js';
import { rollUp, type RolledUp } from './rollup.js';

export interface HtmlOptions {
  /** the Chart.js UMD build's source (files.ts loadChartJs) */
  chartJs: string;
  /** what to call the run (a file name) */
  label?: string;
}

/** Text for HTML content and attribute values. */
export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** JSON that can sit inside a <script> element: no '<' (so no '</script>'), no line separators. */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/** A library's source made safe to inline: no closing script tag, no source-map URL (it would be fetched). */
export function inlineScript(src: string): string {
  return src.replace(/<\/(script)/gi, '<\\/$1').replace(/^\/\/# sourceMappingURL=.*$/gm, '');
}

const CSS = `
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#222;margin:0;background:#fafafa}
header,main,footer{max-width:1400px;margin:0 auto;padding:0 20px}
header{padding-top:16px}
h1{font-size:22px;margin:8px 0 4px}
h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.meta{color:#444;margin:2px 0}
.ok{color:#2e7d32;font-weight:600}.bad{color:#c62828;font-weight:600}
.chart{background:#fff;border:1px solid #e0e0e0;border-radius:6px;margin:0 0 14px;padding:8px 10px}
.chart .box{position:relative;height:300px}
.chart.small .box{height:190px}
.chart.small{margin:0}
figcaption{color:#555;font-size:12.5px;margin-top:4px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:10px}
.pair{display:grid;grid-template-columns:1fr 1fr;gap:14px}
.pair>div>h3{font-size:14px;margin:4px 0 6px;color:#333}
.legend{display:flex;flex-wrap:wrap;gap:12px;font-size:12.5px;margin:6px 0}
.legend span:before{content:"";display:inline-block;width:12px;height:12px;margin-right:5px;vertical-align:-2px;background:var(--c);border-radius:2px}
.picker{margin:6px 0 12px}
select{font:inherit;padding:2px 6px}
table{border-collapse:collapse;background:#fff;font-variant-numeric:tabular-nums;margin:6px 0 12px}
th,td{border:1px solid #e0e0e0;padding:3px 8px;text-align:right}
th{background:#f1f1f1;font-weight:600}
td:first-child,th:first-child{text-align:left}
.unit{font-weight:400;color:#666;font-size:11.5px}
.note{color:#666;font-size:12.5px}
[data-failed]:after{content:"chart failed: " attr(data-failed);color:#c62828}
footer{color:#777;font-size:12px;padding:24px 20px}
`;

/** The page's JSON block: each run's sample times, the chart specs, the state colours. */
function dataBlock(runs: Run[], charts: ChartSpec[]): string {
  return scriptJson({ runs: runs.map((r) => ({ t: r.samples.map((s) => s.t) })), charts, stateColors: STATE_COLORS });
}

function figure(spec: ChartSpec): string {
  return `<figure class="chart${spec.small ? ' small' : ''}"><div class="box"><canvas id="${esc(spec.id)}" role="img" aria-label="${esc(spec.title)}"></canvas></div>${spec.caption ? `<figcaption>${esc(spec.caption)}</figcaption>` : ''}</figure>`;
}

/** Swatches for the states a chart's bands show. */
function stateLegend(spec: ChartSpec): string {
  const seen = [...new Set((spec.bands ?? []).map((b) => b.state))];
  if (!seen.length) return '';
  return `<div class="legend">memory state: ${seen.map((s) => `<span style="--c:${stateColor(s)}">${esc(s)}</span>`).join('')}</div>`;
}

const MEM_LEGEND = `<div class="legend"><span style="--c:#1565c0">private</span><span style="--c:#2e7d32">shared</span><span style="--c:#f9a825">ballooned</span><span style="--c:#6a1b9a">compressed</span><span style="--c:#c62828">swapped</span><span style="--c:repeating-linear-gradient(90deg,#424242 0 4px,#fff 4px 6px)">MEMSZ</span><span style="--c:repeating-linear-gradient(90deg,#000 0 4px,#fff 4px 6px)">SZTGT (target)</span></div>`;

function picker(names: string[]): string {
  const opts = [`<option value="all">all VMs</option>`, ...names.map((n) => `<option value="vm:${esc(n)}">${esc(n)}</option>`)];
  return `<div class="picker"><label>VM: <select data-picker>${opts.join('')}</select></label></div>`;
}

/** One line about a run: host, VMs, overcommit, policy, time, seed, version. */
function metaText(run: Pick<Run, 'seed' | 'version'>, sampleCount: number, s: RunSummary): string {
  const h = s.host;
  const configured = s.vms.reduce((a, v) => a + v.memoryMiB, 0);
  const parts = [
    `${s.vms.length} VM${s.vms.length === 1 ? '' : 's'}, ${configured.toFixed(0)} MiB configured on a ${fmt(h.machineMiB, 0)} MiB host${h.overcommit !== undefined ? ` (${h.overcommit.toFixed(2)}x overcommitted)` : ''}`,
    `policy ${s.policy ?? '-'}`,
    `${h.duration.toFixed(0)} simulated s, ${sampleCount} samples`,
    `seed ${run.seed}`,
    `memvisor ${run.version}`,
  ];
  return esc(parts.join(' · '));
}

/** What the charts of a long run show (rollup.ts); '' when they show every sample. */
function rollUpText(r: RolledUp, sampleInterval: number | undefined, sampleCount: number): string {
  if (r.per === 1) return '';
  const span = sampleInterval !== undefined ? ` (${+(r.per * sampleInterval).toPrecision(6)} simulated s)` : '';
  return `charts: ${r.run.samples.length} points, each the mean of ${r.per} samples${span}; the summary reads all ${sampleCount}`;
}

function verifiedHtml(run: Pick<Run, 'verified'>): string {
  const mib = (run.verified.bytes / 1048576).toFixed(1);
  return run.verified.ok ? `<span class="ok">verified: ${mib} MiB of guest memory read back, all as the guests wrote it</span>` : `<span class="bad">verification FAILED: guest memory differs from what the guests wrote (${mib} MiB compared)</span>`;
}

function hostTable(s: RunSummary): string {
  const h = s.host;
  const rows: [string, string][] = [
    ['free memory, lowest', fmt(h.lowestFreeMiB, 1, ' MiB')],
    ['free memory, mean', fmt(h.meanFreeMiB, 1, ' MiB')],
    ...Object.entries(h.timeInState).map(([k, v]): [string, string] => [`time in ${k}`, `${v.toFixed(1)} s (${((100 * v) / (h.duration || 1)).toFixed(0)}%)`]),
    ['PSHARE saving, peak', fmt(h.peakSharedSavedMiB, 1, ' MiB')],
    ['ZIP saved, peak', fmt(h.peakZipSavedMiB, 1, ' MiB')],
    ['ballooned, peak', fmt(h.peakBalloonMiB, 1, ' MiB')],
    ['swapped, peak', fmt(h.peakSwapMiB, 1, ' MiB')],
  ];
  return `<table class="host-summary"><tbody>${rows.map(([k, v]) => `<tr><td>${esc(k)}</td><td>${esc(v)}</td></tr>`).join('')}</tbody></table>`;
}

function vmTable(vms: VmSummary[]): string {
  const head = `<tr><th>VM</th>${VM_SUMMARY_COLUMNS.map((c) => `<th title="${esc(c.title)}">${esc(c.head)}<br><span class="unit">${esc(c.unit)}</span></th>`).join('')}</tr>`;
  const body = vms.map((v) => `<tr><td>${esc(v.name)}</td>${VM_SUMMARY_COLUMNS.map((c) => `<td>${esc(c.value(v))}</td>`).join('')}</tr>`).join('');
  return `<table class="vm-summary"><thead>${head}</thead><tbody>${body}</tbody></table>`;
}

function page(title: string, body: string, runs: Run[], charts: ChartSpec[], chartJs: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${CSS}</style>
</head>
<body>
${body}
<footer>memvisor report. Every figure is in simulated time; the page needs no network (Chart.js ${esc(/Chart\.js v([\w.]+)/.exec(chartJs)?.[1] ?? '')} is inlined).</footer>
<script>${inlineScript(chartJs)}</script>
<script type="application/json" id="memvisor-data">${dataBlock(runs, charts)}</script>
<script>${CLIENT_SCRIPT}</script>
</body>
</html>
`;
}

/** Titles of the picker charts a run cannot draw, for a note. */
function missingNote(picked: ChartSpec[]): string {
  const all: [string, string][] = [['rates', 'swap and zip cache rates'], ['stall', 'stall'], ['slowdown', 'slowdown'], ['ws', 'estimated against true working set'], ['guest', "the guests' own view"]];
  const have = new Set(picked.map((c) => c.id.replace(/-\d+$/, '')));
  const missing = all.filter(([id]) => !have.has(id)).map(([, t]) => t);
  return missing.length ? `<p class="note">Not reported by this run: ${esc(missing.join(', '))}.</p>` : '';
}

/** The report of one run as one self-contained HTML page. */
export function renderReportHtml(run: Run, opts: HtmlOptions): string {
  return renderReportParts(reportParts(run), opts);
}

/**
 * What a report is made of, for a run whose samples were not kept (`memvisor run` builds them
 * as it goes: RunSummarizer, RollUpStream): the points charted (`shown.run`: the run's config,
 * seed, version and verdict with the rolled-up samples), how many samples the run took, and the
 * summary of all of them.
 */
export interface ReportParts {
  shown: RolledUp;
  sampleCount: number;
  summary: RunSummary;
}

/** The report page of a run from its parts (see renderReportHtml). */
export function renderReportParts(parts: ReportParts, opts: HtmlOptions): string {
  const { shown, sampleCount, summary: s } = parts;
  const run = shown.run;
  const c = runCharts(run, 0);
  const label = opts.label ?? 'run';
  const rolled = rollUpText(shown, run.config.sampleInterval, sampleCount);
  const hostFree = c.host[0];
  const body = `<header>
<h1>memvisor report: ${esc(label)}</h1>
<p class="meta">${metaText(run, sampleCount, s)}</p>
${rolled ? `<p class="meta">${esc(rolled)}</p>` : ''}
<p class="meta">${verifiedHtml(run)}</p>
${s.host.walk.length ? `<p class="meta">memory states: ${esc(walkText(s.host.walk))}</p>` : ''}
</header>
<main>
<section id="host"><h2>Host</h2>
${figure(hostFree)}${stateLegend(hostFree)}
${c.host.slice(1).map(figure).join('\n')}
</section>
<section id="vms"><h2>VM memory</h2>
<p class="note">Each VM's configured memory by where it is held now (stacked, MiB): backed by a frame of its own (private) or a shared one, held by the balloon driver, compressed in the zip cache, swapped; the rest is untouched. One y scale for all.</p>
${MEM_LEGEND}
<div class="grid">${c.vms.map(figure).join('')}</div>
</section>
<section id="pressure"><h2>What memory pressure cost</h2>
${picker(s.vms.map((v) => v.name))}
${c.picked.map(figure).join('\n')}
${missingNote(c.picked)}
</section>
<section id="summary"><h2>Summary</h2>
${hostTable(s)}
${vmTable(s.vms)}
</section>
</main>`;
  return page(`memvisor report: ${label}`, body, [run], [...c.host, ...c.vms, ...c.picked], opts.chartJs);
}

// ---- compare ---------------------------------------------------------------------------------

export interface CompareOptions {
  chartJs: string;
  /** names of run A and run B (file names) */
  labels: [string, string];
}

/** Charts of a run for the compare page: ids and sync groups that pair each chart with its twin. */
function compareCharts(run: Run, ri: number, names: string[]): { host: ChartSpec[]; vms: Map<string, ChartSpec>; picked: ChartSpec[] } {
  const c = runCharts(run, ri);
  const sync = (x: ChartSpec) => ({ ...x, sync: x.id.replace(/-\d+(-\d+)?$/, '') });
  const vms = new Map<string, ChartSpec>();
  const own = vmNames(run);
  for (const n of names) {
    const i = own.indexOf(n);
    if (i >= 0) vms.set(n, { ...c.vms[i], id: `vm-mem-${ri}-${names.indexOf(n)}`, sync: `vm-mem-${names.indexOf(n)}` });
  }
  return { host: c.host.map(sync), vms, picked: c.picked.map(sync) };
}

/** Two runs side by side as one self-contained HTML page. */
export function renderCompareHtml(a: Run, b: Run, opts: CompareOptions): string {
  return renderCompareParts(reportParts(a), reportParts(b), opts);
}

/** The parts of a whole run's report (see ReportParts). */
export function reportParts(run: Run): ReportParts {
  return { shown: rollUp(run), sampleCount: run.samples.length, summary: summarizeRun(run) };
}

/** The compare page of two runs from their parts (see renderCompareHtml; files.ts readRunParts reads them from files of any length). */
export function renderCompareParts(pa: ReportParts, pb: ReportParts, opts: CompareOptions): string {
  const [la, lb] = opts.labels;
  const sa = pa.summary, sb = pb.summary;
  const a = pa.shown.run, b = pb.shown.run;
  // names in order of first appearance, as the summaries list them (the roll-up keeps that order too)
  const names = [...new Set([...sa.vms.map((v) => v.name), ...sb.vms.map((v) => v.name)])];
  const ca = compareCharts(a, 0, names), cb = compareCharts(b, 1, names);
  const rolled = (p: ReportParts) => (p.shown.per > 1 ? ` ${esc(rollUpText(p.shown, p.shown.run.config.sampleInterval, p.sampleCount))}.` : '');
  const rows = compareRows(sa, sb);
  let section = '';
  const table = rows
    .map((r) => {
      const head = r.section !== section ? `<tr><th colspan="4">${esc(r.section)}</th></tr>` : '';
      section = r.section;
      return `${head}<tr><td>${esc(r.name)}</td><td>${esc(fmt(r.a, r.digits))}</td><td>${esc(fmt(r.b, r.digits))}</td><td>${esc(delta(r.a, r.b, r.digits))}</td></tr>`;
    })
    .join('');
  const col = (label: string, inner: string) => `<div><h3>${esc(label)}</h3>${inner}</div>`;
  /** The twin of `spec` (same sync group) in B, or a note. */
  const twinRow = (x: ChartSpec | undefined, y: ChartSpec | undefined, legend = false) =>
    `<div class="pair">${col(la, x ? figure(x) + (legend ? stateLegend(x) : '') : '<p class="note">not in this run</p>')}${col(lb, y ? figure(y) + (legend ? stateLegend(y) : '') : '<p class="note">not in this run</p>')}</div>`;
  const bySync = (list: ChartSpec[], key: string) => list.find((x) => x.sync === key);
  const hostKeys = [...new Set([...ca.host, ...cb.host].map((x) => x.sync!))];
  const pickedKeys = [...new Set([...ca.picked, ...cb.picked].map((x) => x.sync!))];
  const body = `<header>
<h1>memvisor compare: ${esc(la)} vs ${esc(lb)}</h1>
<p class="meta"><b>A</b> ${esc(la)}: ${metaText(a, pa.sampleCount, sa)}.${rolled(pa)} ${verifiedHtml(a)}</p>
<p class="meta"><b>B</b> ${esc(lb)}: ${metaText(b, pb.sampleCount, sb)}.${rolled(pb)} ${verifiedHtml(b)}</p>
${sa.host.walk.length ? `<p class="meta">A's memory states: ${esc(walkText(sa.host.walk))}</p>` : ''}
${sb.host.walk.length ? `<p class="meta">B's memory states: ${esc(walkText(sb.host.walk))}</p>` : ''}
</header>
<main>
<section id="summary"><h2>A against B</h2>
<table class="compare"><thead><tr><th></th><th>A: ${esc(la)}</th><th>B: ${esc(lb)}</th><th>B - A</th></tr></thead><tbody>${table}</tbody></table>
</section>
<section id="host"><h2>Host</h2>
${hostKeys.map((k) => twinRow(bySync(ca.host, k), bySync(cb.host, k), k.startsWith('host-free'))).join('\n')}
</section>
<section id="vms"><h2>VM memory</h2>
${MEM_LEGEND}
${names.map((n) => twinRow(ca.vms.get(n), cb.vms.get(n))).join('\n')}
</section>
<section id="pressure"><h2>What memory pressure cost</h2>
${picker(names)}
${pickedKeys.map((k) => twinRow(bySync(ca.picked, k), bySync(cb.picked, k))).join('\n')}
</section>
<section id="vm-summary"><h2>Per VM</h2>
<h3>A: ${esc(la)}</h3>${vmTable(sa.vms)}
<h3>B: ${esc(lb)}</h3>${vmTable(sb.vms)}
</section>
</main>`;
  const charts = [...ca.host, ...cb.host, ...ca.vms.values(), ...cb.vms.values(), ...ca.picked, ...cb.picked];
  return page(`memvisor compare: ${la} vs ${lb}`, body, [a, b], charts, opts.chartJs);
}
