/**
 * The HTML report opened in headless Chromium (Debian's /usr/bin/chromium via playwright-core):
 * the page loads with no console error and fetches nothing; every canvas holds a Chart whose
 * datasets have points and whose plot area has ink (pixels read back; a chart with no data is
 * shown to read as blank); the VM picker redraws; 1, 5 and 32 VMs, a run of 40,000 samples
 * (charted rolled up), runs without policy fields,
 * and compare; then real runs: the default scenario (shortened) under esx, its report, and its
 * compare page against kvm. Screenshots are kept in test-output/ (docs/report.png, the README's,
 * comes from scripts/screenshot.ts).
 * Skipped, with a note, where Chromium is absent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Page } from 'playwright-core';
import { parseRun } from '../src/report/runfile.js';
import { renderReportHtml, renderCompareHtml } from '../src/report/html.js';
import { loadChartJs } from '../src/report/files.js';
import { makeRunJson, type FixtureOptions } from './support/runfixture.js';
import { esxVsKvm, type EsxKvmResult } from '../examples/esx-vs-kvm.js';
import { chromiumMissing, launchChromium, type Browser } from './support/chromium.js';

const OUT = resolve(import.meta.dirname, '..', 'test-output');
const missing = chromiumMissing();
if (missing) console.warn(`report.browser.test: ${missing}`);

interface Drawn {
  id: string;
  chart: boolean;
  datasets: number;
  points: number;
  /** pixels of the plot area (and 2 px below, where a line at 0 runs) that change when the datasets are hidden */
  ink: number;
  area: number;
}

/**
 * Reads every canvas of the page back: its Chart, datasets, points, and the ink its datasets
 * put in the plot area: the pixels that differ between the chart as drawn and the same chart
 * redrawn with its datasets hidden on the same scales (axes, grid, bands and title stay equal).
 * With `emptyCheck`, first adds a Chart without data (id 'empty-check'), which must read as blank.
 */
async function drawn(page: Page, emptyCheck = false): Promise<Drawn[]> {
  return page.evaluate((emptyCheck) => {
    type C = any;
    const ChartJs = (window as unknown as { Chart: C }).Chart;
    if (emptyCheck) {
      const box = document.createElement('div');
      box.style.cssText = 'position:relative;width:600px;height:300px';
      const c = document.createElement('canvas');
      c.id = 'empty-check';
      box.appendChild(c);
      document.body.appendChild(box);
      new ChartJs(c, { type: 'line', data: { datasets: [{ label: 'nothing', data: [] }] }, options: { animation: false, responsive: true, maintainAspectRatio: false, scales: { x: { type: 'linear', min: 0, max: 10 } }, plugins: { title: { display: true, text: 'empty' } } } });
    }
    const inkOf = (chart: C) => {
      const c = chart.canvas as HTMLCanvasElement, r = chart.currentDevicePixelRatio, a = chart.chartArea;
      const x = Math.floor(a.left * r), y = Math.floor(a.top * r);
      const w = Math.min(c.width - x, Math.ceil((a.right - a.left) * r)), h = Math.min(c.height - y, Math.ceil((a.bottom - a.top + 2) * r));
      const ctx = c.getContext('2d')!;
      const shown = ctx.getImageData(x, y, w, h).data;
      const vis = chart.data.datasets.map((_: unknown, i: number) => chart.isDatasetVisible(i));
      const saved = ['x', 'y'].map((k) => [k, chart.options.scales[k].min, chart.options.scales[k].max]);
      for (const k of ['x', 'y']) {
        chart.options.scales[k].min = chart.scales[k].min;
        chart.options.scales[k].max = chart.scales[k].max;
      }
      vis.forEach((_: unknown, i: number) => chart.setDatasetVisibility(i, false));
      chart.update('none');
      const hidden = ctx.getImageData(x, y, w, h).data;
      vis.forEach((v: boolean, i: number) => chart.setDatasetVisibility(i, v));
      for (const [k, min, max] of saved) {
        chart.options.scales[k].min = min;
        chart.options.scales[k].max = max;
      }
      chart.update('none');
      let ink = 0;
      for (let i = 0; i < shown.length; i += 4) {
        if (Math.abs(shown[i] - hidden[i]) + Math.abs(shown[i + 1] - hidden[i + 1]) + Math.abs(shown[i + 2] - hidden[i + 2]) + Math.abs(shown[i + 3] - hidden[i + 3]) > 24) ink++;
      }
      return { ink, area: w * h };
    };
    return [...document.querySelectorAll('canvas')].map((c) => {
      const chart = ChartJs.getChart(c);
      if (!chart) return { id: c.id, chart: false, datasets: 0, points: 0, ink: 0, area: 0 };
      const points = chart.data.datasets.reduce((a: number, _: unknown, i: number) => a + chart.getDatasetMeta(i).data.length, 0);
      return { id: c.id, chart: true, datasets: chart.data.datasets.length, points, ...inkOf(chart) };
    });
  }, emptyCheck);
}

describe.skipIf(missing !== null)('HTML report in Chromium', () => {
  let browser: Browser;
  const chartJs = loadChartJs();

  beforeAll(async () => {
    mkdirSync(OUT, { recursive: true });
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
  });

  /** Writes `html` to test-output/<name>.html and opens it, recording console errors and requests. */
  async function open(html: string, name: string) {
    const file = join(OUT, `${name}.html`);
    writeFileSync(file, html);
    const page = await browser.context.newPage();
    const errors: string[] = [];
    const requests: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(`console error: ${m.text()}`);
    });
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    await page.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith('file:')) return route.continue();
      requests.push(url);
      return route.abort();
    });
    await page.goto(pathToFileURL(file).href);
    await page.waitForSelector('body[data-charts]', { timeout: 30_000 });
    return { page, errors, requests };
  }

  /** Every canvas is a Chart with points and ink, and the page says it drew them all. */
  async function expectAllDrawn(page: Page, expectCharts: number): Promise<Drawn[]> {
    const d = await drawn(page);
    expect(d).toHaveLength(expectCharts);
    expect(await page.getAttribute('body', 'data-charts')).toBe(String(expectCharts));
    for (const c of d) {
      expect(c.chart, c.id).toBe(true);
      expect(c.datasets, c.id).toBeGreaterThan(0);
      expect(c.points, c.id).toBeGreaterThan(0);
      // a line across the plot area changes about 1% of it, even a line at 0; an empty chart none
      expect(c.ink / c.area, `${c.id}: ink ${c.ink} of ${c.area}`).toBeGreaterThan(0.004);
    }
    expect(await page.locator('[data-failed]').count()).toBe(0);
    return d;
  }

  const report = (o: FixtureOptions, label: string) => renderReportHtml(parseRun(makeRunJson(o)), { chartJs, label });

  it('the default-shaped run: loads clean, every chart drawn, nothing fetched; screenshot kept', async () => {
    const { page, errors, requests } = await open(report({ vms: 5, duration: 120, seed: 1 }, 'esx run (fixture)'), 'report');
    try {
      expect(errors).toEqual([]);
      expect(requests).toEqual([]);
      const d = await expectAllDrawn(page, 13);
      expect(d.map((c) => c.id)).toContain('host-free-0');
      // the state bands are drawn: the plot area of the free-memory chart holds band colours
      const bandPixels = await page.evaluate(() => {
        const c = document.getElementById('host-free-0') as HTMLCanvasElement;
        const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 3; i < d.length; i += 4) if (d[i] > 20 && d[i] < 60) n++;
        return n;
      });
      expect(bandPixels).toBeGreaterThan(10_000);
      const shot = join(OUT, 'report.png');
      await page.screenshot({ path: shot, fullPage: true });
      console.log(`report screenshot: ${shot}`);
    } finally {
      await page.close();
    }
  });

  it('a run of 40,000 samples: charted at 2,000 points each, loads clean, every chart drawn', async () => {
    const base = parseRun(makeRunJson({ vms: 5, duration: 400, seed: 1 }));
    const long = { ...base, samples: Array.from({ length: 40_000 }, (_, i) => ({ ...base.samples[i % base.samples.length], t: i + 1 })) };
    const { page, errors, requests } = await open(renderReportHtml(long, { chartJs, label: 'long run' }), 'report-long');
    try {
      expect(errors).toEqual([]);
      expect(requests).toEqual([]);
      const d = await expectAllDrawn(page, 13);
      for (const c of d) expect(c.points, c.id).toBeLessThanOrEqual(2000 * c.datasets);
      expect(await page.textContent('header')).toContain('charts: 2000 points, each the mean of 20 samples');
    } finally {
      await page.close();
    }
  });

  it('the ink check fires on a chart without data', async () => {
    const { page } = await open(report({ vms: 1, duration: 10 }, 'blank check'), 'blank-check');
    try {
      const d = await drawn(page, true);
      const empty = d.find((c) => c.id === 'empty-check')!;
      expect(empty.chart).toBe(true);
      expect(empty.area).toBeGreaterThan(10_000);
      expect(empty.ink).toBe(0);
      expect(d.filter((c) => c.id !== 'empty-check').every((c) => c.ink > 0)).toBe(true);
    } finally {
      await page.close();
    }
  });

  it('the VM picker swaps the datasets and the charts redraw', async () => {
    const { page, errors } = await open(report({ vms: 4, duration: 60, seed: 2 }, 'picker'), 'picker');
    try {
      const labels = () => page.evaluate(() => (window as unknown as { memvisorCharts: Record<string, { data: { datasets: { label: string }[] } }> }).memvisorCharts['stall-0'].data.datasets.map((d) => d.label));
      expect(await labels()).toEqual(['web-1', 'db', 'batch', 'resv']);
      const before = (await drawn(page)).find((c) => c.id === 'stall-0')!;
      await page.selectOption('select[data-picker]', 'vm:db');
      expect(await labels()).toEqual(['db']);
      const after = await expectAllDrawn(page, 4 + 2 + 5 + 0 + 1);
      expect(after.find((c) => c.id === 'stall-0')!.ink).not.toBe(before.ink);
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('one VM without policy fields, zip cache or guest view: drawn, no band, nothing missing breaks', async () => {
    const html = report({ vms: 1, duration: 30, policy: 'none', omitVm: ['SZTGT', 'TCHD', 'MCTLTGT', 'ZIP/MB', 'ZIP/s', 'UNZIP/s', 'guest'] }, 'bare');
    const { page, errors } = await open(html, 'report-bare');
    try {
      expect(errors).toEqual([]);
      // host free, host use, one VM, rates (swap only), stall, slowdown, the true working set alone
      const d = await expectAllDrawn(page, 7);
      expect(d.map((c) => c.id)).toContain('ws-0');
      const ws = await page.evaluate(() => (window as unknown as { memvisorCharts: Record<string, { data: { datasets: { label: string }[] } }> }).memvisorCharts['ws-0'].data.datasets.map((x) => x.label));
      expect(ws).toEqual(['true working set']);
      expect(await page.locator('.legend', { hasText: 'memory state' }).count()).toBe(0);
      expect(await page.textContent('#pressure')).toMatch(/Not reported by this run: the guests' own view\./);
    } finally {
      await page.close();
    }
  });

  it('32 VMs: every small multiple drawn', async () => {
    const { page, errors } = await open(report({ vms: 32, duration: 60, seed: 3, machineMiB: 12288 }, '32 VMs'), 'report-32');
    try {
      expect(errors).toEqual([]);
      const d = await expectAllDrawn(page, 3 + 32 + 5);
      expect(d.filter((c) => c.id.startsWith('vm-mem-'))).toHaveLength(32);
      await page.screenshot({ path: join(OUT, 'report-32.png'), fullPage: true });
    } finally {
      await page.close();
    }
  });

  it('compare: two runs side by side, twins on one y scale; screenshot kept', async () => {
    const a = parseRun(makeRunJson({ vms: 4, duration: 90, seed: 6, policy: 'esx' }));
    const b = parseRun(makeRunJson({ vms: 4, duration: 90, seed: 6, policy: 'kvm', machineMiB: 2200 }));
    const { page, errors, requests } = await open(renderCompareHtml(a, b, { chartJs, labels: ['esx.json', 'kvm.json'] }), 'compare');
    try {
      expect(errors).toEqual([]);
      expect(requests).toEqual([]);
      // host free, host use, reclaimed (x2), 4 VMs (x2), 5 picker charts (x2)
      await expectAllDrawn(page, 3 * 2 + 4 * 2 + 5 * 2);
      const ends = await page.evaluate(() => {
        const cs = (window as unknown as { memvisorCharts: Record<string, { scales: { y: { max: number } } }> }).memvisorCharts;
        return { a: cs['host-free-0'].scales.y.max, b: cs['host-free-1'].scales.y.max, va: cs['vm-mem-0-1'].scales.y.max, vb: cs['vm-mem-1-1'].scales.y.max };
      });
      expect(ends.a).toBe(ends.b);
      expect(ends.va).toBe(ends.vb);
      await page.selectOption('select[data-picker]', 'vm:web-1');
      await expectAllDrawn(page, 24);
      const shot = join(OUT, 'compare.png');
      await page.screenshot({ path: shot, fullPage: true });
      console.log(`compare screenshot: ${shot}`);
    } finally {
      await page.close();
    }
  });

  describe('real runs: the default scenario (60 simulated s) under esx and kvm', () => {
    let real: EsxKvmResult;
    beforeAll(async () => {
      real = await esxVsKvm({ outDir: join(OUT, 'real'), duration: 60, flavor: 'release' });
    }, 300_000);

    it('its report loads clean, every chart drawn; the states and every technique show; screenshot kept', async () => {
      const run = real.runs.esx;
      // the run reached the states and techniques the charts are there to show
      expect(real.summaries.esx.host.walk).toEqual(expect.arrayContaining(['high', 'clear', 'soft', 'hard']));
      const { page, errors, requests } = await open(renderReportHtml(run, { chartJs, label: 'default scenario (esx, 60 s)' }), 'real-report');
      try {
        expect(errors).toEqual([]);
        expect(requests).toEqual([]);
        // host free, host use, reclaimed by technique; 6 VMs; rates, stall, slowdown, working set, guest view
        const d = await expectAllDrawn(page, 3 + 6 + 5);
        const charts = await page.evaluate(() => {
          const cs = (window as unknown as { memvisorCharts: Record<string, { data: { datasets: { label: string; data: unknown[] }[] } }> }).memvisorCharts;
          return Object.fromEntries(Object.entries(cs).map(([id, c]) => [id, c.data.datasets.map((x) => x.label)]));
        });
        expect(d.map((c) => c.id)).toEqual(expect.arrayContaining(['host-free-0', 'ws-0', 'stall-0']));
        // each reclaim technique has its dataset on the reclaimed-by-technique chart
        const reclaimed = Object.entries(charts).find(([id]) => id.startsWith('reclaimed-'))?.[1] ?? [];
        for (const t of ['balloon', 'sharing', 'compress', 'swap']) expect(reclaimed.join(' ').toLowerCase(), t).toContain(t);
        expect(await page.textContent('header')).toMatch(/memory states: high -> clear -> soft -> hard/);
        await page.screenshot({ path: join(OUT, 'real-report.png'), fullPage: true });
      } finally {
        await page.close();
      }
    });

    it('the compare page of esx against kvm loads clean, every chart drawn; screenshot kept', async () => {
      const html = readFileSync(real.files.html, 'utf8');
      const { page, errors, requests } = await open(html, 'real-compare');
      try {
        expect(errors).toEqual([]);
        expect(requests).toEqual([]);
        // per side: host free, host use (+ reclaimed by technique where the policy reports it), 6 VMs, 5 picker charts
        const d = await drawn(page);
        expect(d.length).toBeGreaterThanOrEqual(2 * (2 + 6 + 5));
        await expectAllDrawn(page, d.length);
        await page.screenshot({ path: join(OUT, 'real-compare.png'), fullPage: true });
      } finally {
        await page.close();
      }
    });
  });
});
