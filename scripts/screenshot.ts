// Regenerates docs/report.png, the README's picture of the HTML report: runs the default
// scenario (release module, the whole 150 simulated s), writes its report and photographs the
// top of the page (header, host charts, the VMs' memory) in headless Chromium.
//
//   npm run build && npx tsx scripts/screenshot.ts [out.png]     (default docs/report.png)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Simulation, defaultScenario, parseRun, writeReportHtml } from '../src/node.js';
import { chromiumMissing, launchChromium } from '../test/support/chromium.js';

const out = resolve(process.argv[2] ?? join(import.meta.dirname, '..', 'docs', 'report.png'));
const missing = chromiumMissing();
if (missing) throw new Error(missing);

const sim = await Simulation.create(defaultScenario(), { flavor: 'release' });
const result = sim.run();
sim.close();
const dir = mkdtempSync(join(tmpdir(), 'memvisor-shot-'));
const browser = await launchChromium({ width: 1280, height: 900 });
try {
  const html = join(dir, 'report.html');
  writeReportHtml(html, parseRun(result, 'default scenario'), 'default scenario');
  const page = await browser.context.newPage();
  await page.goto(pathToFileURL(html).href);
  await page.waitForSelector('body[data-charts]', { timeout: 30_000 });
  // down to the end of the VMs' small multiples
  const bottom = await page.evaluate(() => {
    const vms = document.getElementById('vms');
    return vms ? Math.ceil(vms.getBoundingClientRect().bottom + window.scrollY) : 1600;
  });
  await page.screenshot({ path: out, fullPage: true, clip: { x: 0, y: 0, width: 1280, height: Math.min(bottom + 8, 2400) } });
  process.stdout.write(`wrote ${out}\n`);
} finally {
  await browser.close();
  rmSync(dir, { recursive: true, force: true });
}
