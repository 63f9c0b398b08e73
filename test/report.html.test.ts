/**
 * The HTML report in Node (src/report/charts.ts, html.ts): what each chart draws, checked
 * against the samples; the page self-contained (Chart.js inlined, nothing fetched), escaped,
 * deterministic. The page drawn in a browser is test/report.browser.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { parseRun, vmNames } from '../src/report/runfile.js';
import { runCharts, stateBands, hostFreeChart, vmMemoryChart, reclaimedChart, chartPeak, niceCeil, type ChartSpec } from '../src/report/charts.js';
import { renderReportHtml, renderCompareHtml, esc, scriptJson, inlineScript } from '../src/report/html.js';
import { compareRows, delta } from '../src/report/compare.js';
import { summarizeRun } from '../src/report/summary.js';
import { loadChartJs } from '../src/report/files.js';
import { makeRunJson } from './support/runfixture.js';

const chartJs = loadChartJs();
const esx = parseRun(makeRunJson({ vms: 5, duration: 90, seed: 4 }));

/** The JSON block of a page. */
function dataOf(html: string): { runs: { t: number[] }[]; charts: ChartSpec[] } {
  const m = /<script type="application\/json" id="memvisor-data">([^<]*)<\/script>/.exec(html);
  expect(m).not.toBeNull();
  return JSON.parse(m![1]);
}

const canvasIds = (html: string) => [...html.matchAll(/<canvas id="([^"]+)"/g)].map((m) => m[1]);

describe('charts', () => {
  it('state bands cover the run without gaps and follow the samples', () => {
    const bands = stateBands(esx);
    expect(bands[0].from).toBe(0);
    expect(bands[bands.length - 1].to).toBe(esx.samples[esx.samples.length - 1].t);
    for (let i = 1; i < bands.length; i++) {
      expect(bands[i].from).toBe(bands[i - 1].to);
      expect(bands[i].state).not.toBe(bands[i - 1].state);
    }
    for (const s of esx.samples) expect(bands.find((b) => b.from < s.t && s.t <= b.to)!.state).toBe(s.host.state);
    expect(new Set(bands.map((b) => b.state)).size).toBeGreaterThanOrEqual(3);
  });

  it('host free memory: the free line, each threshold dashed, minFree drawn once', () => {
    const c = hostFreeChart(esx);
    expect(c.series.map((s) => s.label)).toEqual(['free', 'high threshold', 'clear threshold (minFree)', 'soft threshold', 'hard threshold']);
    expect(c.series[0].data).toEqual(esx.samples.map((s) => s.host.freeMiB));
    expect(c.series[3].data).toEqual(esx.samples.map((s) => s.host.thresholds.soft));
    expect(c.series.slice(1).every((s) => s.dash && s.step)).toBe(true);
    expect(c.bands!.length).toBeGreaterThan(2);
  });

  it('without a policy state: no band, no threshold, and the caption says so', () => {
    const none = parseRun(makeRunJson({ policy: 'none', duration: 20, omitHost: ['minFreeMiB'] }));
    const c = hostFreeChart(none);
    expect(c.bands).toEqual([]);
    expect(c.series.map((s) => s.label)).toEqual(['free']);
    expect(c.caption).toMatch(/reports no memory state/);
    expect(reclaimedChart(none)).toBeNull();
    const kvm = hostFreeChart(parseRun(makeRunJson({ policy: 'kvm', duration: 20 })));
    expect(kvm.series.map((s) => s.label)).toEqual(['free', 'high watermark', 'low watermark', 'min watermark']);
    expect(kvm.series.map((s) => s.color).slice(1)).toEqual(['#2e7d32', '#ef6c00', '#c62828']);
  });

  it("a VM's memory: private + shared = GRANT, then ballooned, compressed, swapped, as the samples say", () => {
    vmNames(esx).forEach((n, i) => {
      const c = vmMemoryChart(esx, n, i);
      const by = Object.fromEntries(c.series.map((s) => [s.label, s.data]));
      expect(Object.keys(by)).toEqual(['private', 'shared', 'ballooned', 'compressed', 'swapped', 'MEMSZ', 'SZTGT (target)']);
      esx.samples.forEach((s, k) => {
        const v = s.vms[n];
        expect(by.private[k]! + by.shared[k]!).toBeCloseTo(v.GRANT, 9);
        expect(by.ballooned[k]).toBe(v.MCTLSZ);
        expect(by.compressed[k]).toBe(v['ZIP/MB']);
        expect(by.swapped[k]).toBe(v.SWCUR);
      });
      expect(c.series.filter((s) => s.fill).map((s) => s.label)).toEqual(['private', 'shared', 'ballooned', 'compressed', 'swapped']);
    });
  });

  it('the picker views: all VMs and each VM; per-VM lines in "all" for stall and slowdown, sums for rates', () => {
    const { picked } = runCharts(esx);
    const names = vmNames(esx);
    const stall = picked.find((c) => c.id === 'stall-0')!;
    expect(Object.keys(stall.views!)).toEqual(['all', ...names.map((n) => `vm:${n}`)]);
    expect(stall.views!.all.map((s) => s.label)).toEqual(names);
    expect(stall.views![`vm:${names[1]}`][0].data).toEqual(esx.samples.map((s) => s.vms[names[1]].stall));
    const rates = picked.find((c) => c.id === 'rates-0')!;
    const swr = rates.views!.all.find((s) => s.label === 'SWR/s')!;
    esx.samples.forEach((s, k) => expect(swr.data[k]).toBeCloseTo(Object.values(s.vms).reduce((a, v) => a + v['SWR/s']!, 0), 9));
    const ws = picked.find((c) => c.id === 'ws-0')!;
    expect(ws.views![`vm:${names[0]}`].map((s) => s.label)).toEqual(['TCHD (estimate)', 'true working set']);
  });

  it('charts of absent fields are left out', () => {
    const bare = parseRun(makeRunJson({ duration: 10, policy: 'none', omitVm: ['stall', 'slowdown', 'SWR/s', 'SWW/s', 'ZIP/s', 'UNZIP/s', 'guest', 'SZTGT', 'ZIP/MB'] }));
    const c = runCharts(bare);
    expect(c.picked.map((x) => x.id)).toEqual(['ws-0']);
    expect(c.vms[0].series.map((s) => s.label)).toEqual(['private', 'shared', 'ballooned', 'swapped', 'MEMSZ']);
  });

  it('axis ends: the peak of stacked areas, rounded up', () => {
    const c = vmMemoryChart(esx, vmNames(esx)[0], 0);
    const areas = c.series.filter((s) => s.fill);
    const peak = Math.max(...esx.samples.map((_, k) => areas.reduce((a, s) => a + (s.data[k] ?? 0), 0)), ...esx.samples.map((s) => s.vms[vmNames(esx)[0]].MEMSZ));
    expect(chartPeak(c)).toBeCloseTo(Math.max(peak, ...c.series.filter((s) => !s.fill).flatMap((s) => s.data.map((x) => x ?? 0))), 9);
    expect([niceCeil(0), niceCeil(7), niceCeil(1024), niceCeil(1100), niceCeil(0.03)]).toEqual([1, 8, 1200, 1200, 0.03]);
  });
});

describe('report page', () => {
  const html = renderReportHtml(esx, { chartJs, label: 'esx.json' });

  it('is self-contained: Chart.js inlined, no URL to fetch, no source map', () => {
    expect(html).toContain('Chart.js v4');
    expect(html).not.toMatch(/<(script|img|link|iframe)[^>]+(src|href)=/i);
    expect(html).not.toMatch(/sourceMappingURL/);
    expect(html).not.toMatch(/@import|url\(/);
    expect(html.match(/<\/script>/g)!.length).toBe(3);
  });

  it('one canvas per chart spec, every VM a small multiple, every section present', () => {
    const ids = canvasIds(html);
    const data = dataOf(html);
    expect(ids).toEqual(data.charts.map((c) => c.id));
    expect(new Set(ids).size).toBe(ids.length);
    expect(data.charts.filter((c) => c.small)).toHaveLength(5);
    expect(data.runs[0].t).toEqual(esx.samples.map((s) => s.t));
    for (const id of ['host', 'vms', 'pressure', 'summary']) expect(html).toContain(`<section id="${id}">`);
    for (const n of vmNames(esx)) expect(html).toContain(`<option value="vm:${n}">${n}</option>`);
    for (const c of data.charts) if (!c.small) expect(c.yLabel).toMatch(/MiB|s\/s|x\)/);
  });

  it('the summary table holds each VM and the host figures', () => {
    const s = summarizeRun(esx);
    for (const v of s.vms) expect(html).toContain(`<tr><td>${v.name}</td><td>${v.memoryMiB.toFixed(0)}</td>`);
    expect(html).toContain(`<td>free memory, lowest</td><td>${s.host.lowestFreeMiB.toFixed(1)} MiB</td>`);
    for (const [st, secs] of Object.entries(s.host.timeInState)) expect(html).toContain(`<td>time in ${st}</td><td>${secs.toFixed(1)} s`);
  });

  it('is the same for the same run, and holds no date', () => {
    expect(renderReportHtml(parseRun(makeRunJson({ vms: 5, duration: 90, seed: 4 })), { chartJs, label: 'esx.json' })).toBe(html);
    expect(html.replace(chartJs.slice(0, 200), '')).not.toMatch(/20[2-9]\d-\d\d-\d\d/);
  });

  it('escapes names: a VM called <img> stays text', () => {
    const evil = parseRun(makeRunJson({ vms: 2, duration: 4, names: ['<img src=x onerror=alert(1)>', '</script><b>'] }));
    const page = renderReportHtml(evil, { chartJs, label: '"><i>' });
    expect(page).not.toContain('<img src=x');
    expect(page).not.toContain('</script><b>');
    expect(page).not.toContain('"><i>');
    expect(dataOf(page).charts.some((c) => c.title === '</script><b>')).toBe(true);
    expect(esc(`<a href="x">&'`)).toBe('&lt;a href=&quot;x&quot;&gt;&amp;&#39;');
    expect(scriptJson({ a: '</script>\u2028' })).toBe('{"a":"\\u003c/script>\\u2028"}');
    expect(inlineScript('x</SCRIPT>y\n//# sourceMappingURL=a.map')).toBe('x<\\/SCRIPT>y\n');
  });

  it('a failed verification is shown as such', () => {
    const bad = { ...esx, verified: { ok: false, bytes: 1048576 } };
    expect(renderReportHtml(bad, { chartJs })).toContain('verification FAILED');
  });
});

describe('compare page', () => {
  const kvm = parseRun(makeRunJson({ vms: 5, duration: 90, seed: 4, policy: 'kvm' }));

  it('pairs every chart with its twin, synced', () => {
    const html = renderCompareHtml(esx, kvm, { chartJs, labels: ['esx.json', 'kvm.json'] });
    const data = dataOf(html);
    expect(canvasIds(html).sort()).toEqual(data.charts.map((c) => c.id).sort());
    expect(data.runs).toHaveLength(2);
    const groups = new Map<string, number[]>();
    for (const c of data.charts) groups.set(c.sync!, [...(groups.get(c.sync!) ?? []), c.run]);
    for (const [g, runs] of groups) expect(runs.sort(), g).toEqual([0, 1]);
  });

  it('the table: A, B and B - A', () => {
    const rows = compareRows(summarizeRun(esx), summarizeRun(kvm));
    const stall = rows.find((r) => r.section === 'web-1' && r.name.startsWith('stall'))!;
    expect(stall.a).toBe(summarizeRun(esx).vms.find((v) => v.name === 'web-1')!.meanStall);
    // kvm reports no states: time in a state is absent for B
    const soft = rows.find((r) => r.name === 'time in soft (s)');
    if (soft) expect(soft.b).toBeUndefined();
    expect(delta(1, 1.5, 2)).toBe('+0.50');
    expect(delta(2, 1.5, 1)).toBe('-0.5');
    expect(delta(undefined, 1, 1)).toBe('-');
  });

  it('runs with different VMs or charts: the missing side says so', () => {
    const small = parseRun(makeRunJson({ vms: 2, duration: 90, seed: 4 }));
    const html = renderCompareHtml(esx, small, { chartJs, labels: ['five', 'two'] });
    expect((html.match(/not in this run/g) ?? []).length).toBe(3);
    const none = parseRun(makeRunJson({ vms: 5, duration: 90, seed: 4, policy: 'none' }));
    const groups = new Map<string, number[]>();
    for (const c of dataOf(renderCompareHtml(esx, none, { chartJs, labels: ['esx', 'none'] })).charts) groups.set(c.sync!, [...(groups.get(c.sync!) ?? []), c.run]);
    expect(groups.get('reclaimed')).toEqual([0]);
  });
});
