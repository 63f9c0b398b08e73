/**
 * The browser build: the main entry (src/index.ts, 'memvisor') bundled with esbuild imports no
 * Node module (read from esbuild's metafile; the same check on the Node entry finds its node:
 * imports, so the check can fail), and the bundle runs in headless Chromium (Debian's
 * /usr/bin/chromium via playwright-core): a small overcommitted host on the compiled release
 * module loads pages, shares, pages out to the zip cache and memory swap, and reads every byte
 * back as written; a trace replays over a core of the host; file swap is refused naming the
 * Node entry; a Simulation (two VMs, the esx policy, an overcommitted host) runs to its end with
 * every page verified, and gives the JSON the same scenario gives in Node; a scenario naming a
 * trace file is refused naming the field and the Node entry; the page reports no console error
 * and fetches nothing but its own files.
 * The browser part is skipped, with a note, where Chromium is absent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinModules } from 'node:module';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build, type Metafile } from 'esbuild';
import { chromiumMissing, launchChromium, type Browser } from './support/chromium.js';
import { Simulation } from '../src/index.js';

const ROOT = resolve(import.meta.dirname, '..');
const OUT = join(ROOT, 'test-output', 'browser');
const missing = chromiumMissing();
if (missing) console.warn(`browser.test: ${missing}`);

/** Bundles `entry` for a browser (ESM); Node built-ins left as external imports, so the metafile shows them. */
async function bundle(entry: string): Promise<{ code: string; metafile: Metafile }> {
  const r = await build({
    entryPoints: [join(ROOT, entry)],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    metafile: true,
    logLevel: 'silent',
    external: ['node:*', ...builtinModules],
  });
  return { code: r.outputFiles[0].text, metafile: r.metafile };
}

/** Every import of a Node built-in in the bundle (`node:fs`, or `fs`), with the file that makes it. */
function nodeImports(meta: Metafile): string[] {
  const builtins = new Set(builtinModules);
  const out: string[] = [];
  for (const [file, input] of Object.entries(meta.inputs)) {
    for (const imp of input.imports) if (imp.path.startsWith('node:') || builtins.has(imp.path)) out.push(`${file} -> ${imp.path}`);
  }
  return out.sort();
}

describe('the main entry bundles for a browser', () => {
  it('imports no Node module (esbuild metafile); the Node entry does, which the same check finds', async () => {
    const main = await bundle('src/index.ts');
    expect(nodeImports(main.metafile)).toEqual([]);
    for (const out of Object.values(main.metafile.outputs)) expect(out.imports.filter((i) => i.external)).toEqual([]);
    const node = await bundle('src/node.ts');
    const found = nodeImports(node.metafile);
    for (const m of ['node:fs', 'node:os', 'node:path', 'node:crypto']) expect(found.some((f) => f.endsWith(`-> ${m}`)), m).toBe(true);
    expect(found.some((f) => f.startsWith('src/host/fileswap.ts'))).toBe(true);
    // the simulation's files (OS and file images, trace workloads) are on the Node side
    for (const f of ['src/workload/contentfiles.ts', 'src/workload/trace.ts']) expect(found.some((x) => x.startsWith(f)), f).toBe(true);
    expect(Object.keys(main.metafile.inputs)).toContain('src/sim/simulation.ts');
  });
});

/** The page's script: everything runs on the bundle, in the browser. */
const PAGE_SCRIPT = String.raw`
import * as m from './memvisor.js';
const PAGE = 4096;
const log = [];
const check = (name, ok, detail = '') => log.push({ name, ok: !!ok, detail: String(detail) });
try {
  const module = await WebAssembly.compileStreaming(fetch('./release.wasm'));
  // two 8 MiB VMs in one sharing domain on 6 MiB of machine memory: 16 MiB of guest memory
  const host = await m.Host.create({ machineMemoryMiB: 6, module, seed: 5, sharing: { salting: 'host' }, compression: { cachePercent: 10 } });
  const vms = [host.addVM({ name: 'a', memoryMiB: 8 }), host.addVM({ name: 'b', memoryMiB: 8 })];
  // page g of VM v: shared text (same in both VMs), compressible records, or noise (swap only)
  const content = (v, g) => {
    const p = new Uint8Array(PAGE);
    const kind = g % 3;
    let x = (kind === 0 ? g * 7919 + 1 : (v + 1) * 1000003 + g * 2654435761) >>> 0;
    for (let i = 0; i < PAGE; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      p[i] = kind === 1 ? (i % 64 < 48 ? 32 + (g % 64) : x >>> 24) : x >>> 24;
    }
    return p;
  };
  const pages = 2048;
  for (let v = 0; v < 2; v++) for (let g = 0; g < pages; g++) vms[v].writePhys(g * PAGE, content(v, g));
  const scan = host.shareScan();
  check('sharing merged pages', scan.merged > 0, scan.merged);
  for (const vm of vms) vm.pageOut(1024);
  let bad = 0;
  const buf = new Uint8Array(PAGE);
  for (let v = 0; v < 2; v++) for (let g = 0; g < pages; g++) {
    vms[v].readPhys(g * PAGE, PAGE, buf);
    const want = content(v, g);
    for (let i = 0; i < PAGE; i++) if (buf[i] !== want[i]) { bad++; break; }
  }
  check('every byte read back as written', bad === 0, bad + ' pages differ');
  const st = vms.map((vm) => vm.stats());
  check('swapped out to memory swap', st[0].SWW + st[1].SWW > 0, st[0].SWW + st[1].SWW);
  check('swapped back in', st[0].SWR + st[1].SWR > 0, st[0].SWR + st[1].SWR);
  check('compressed into the zip cache', st[0].ZIP + st[1].ZIP > 0, st[0].ZIP + st[1].ZIP);
  check('overcommitted', host.stats().host.machineFrames < 2 * pages, host.stats().host.machineFrames);
  host.audit();
  check('audit holds', true);
  // a trace replayed over a core of the full host: every record translated, the host's faults resolved
  const core = host.mmu();
  core.attach(host.addVM({ name: 'traced', memoryMiB: 8 }));
  const lines = [];
  for (let i = 0; i < 3000; i++) lines.push(' S ' + (0x10000000 + (i % 700) * PAGE + 8).toString(16) + ',8', 'I  ' + (0x400000 + (i % 50) * 4).toString(16) + ',4');
  const r = m.replayBytes(core, new TextEncoder().encode(lines.join('\n') + '\n'));
  check('trace replayed over the host', r.stats.records === 6000 && r.stats.unhandledFaults === 0 && r.stats.hostFaults > 0, JSON.stringify({ records: r.stats.records, unhandled: r.stats.unhandledFaults, hostFaults: r.stats.hostFaults }));
  // the one-shot codecs run on the module given to the host
  const text = new TextEncoder().encode('memvisor in a browser '.repeat(200));
  check('lz4 round trip', m.lz4Decompress(m.lz4Compress(text), text.length).every((b, i) => b === text[i]));
  check('xxh64', m.xxh64(new Uint8Array(0)) === 0xef46db3751d8e999n, m.xxh64(new Uint8Array(0)));
  // what needs Node is refused with the entry to use
  let refused = '';
  try { await m.Host.create({ machineMemoryMiB: 2, swap: { backing: 'file' } }); } catch (e) { refused = e.constructor.name + ': ' + e.message; }
  check('file swap refused', /^ConfigError: swap\.backing: got "file", expected 'memory' in this build: files need Node, and the 'memvisor\/node' entry/.test(refused), refused);
  check('no Node entry names in the bundle', !('replayFile' in m) && !('FileSwapStore' in m) && !('readRunFile' in m) && !('createLiveView' in m));
  host.close();
  // a Simulation (guests, workloads, the esx policy) on an overcommitted host, to its end
  const sim = await m.Simulation.create(SCENARIO, { module });
  const run = sim.run();
  sim.close();
  check('simulation ran to its end', run.samples.length === SCENARIO.duration && run.samples.at(-1).t === SCENARIO.duration, run.samples.map((x) => x.t));
  check('simulation verified', run.verified.ok === true && run.verified.bytes > 0, JSON.stringify(run.verified));
  const last = run.samples.at(-1);
  check('simulation reclaimed under the esx policy', run.config.policy.kind === 'esx' && last.host.zipMiB > 0 && last.host.swapMiB > 0, JSON.stringify(last.host));
  window.__run = JSON.stringify(run);
  // a scenario that names files cannot run without the Node entry: the validator says which field
  let noFiles = '';
  try { m.parseScenario({ ...SCENARIO, vms: [{ ...SCENARIO.vms[0], mmu: 'ept', workload: { trace: 'app.lackey' } }] }); } catch (e) { noFiles = e.constructor.name + ': ' + e.message; }
  check('trace workload refused', /^ScenarioError: [^]*vms\[0\]\.workload\.trace[^]*files need Node: import from 'memvisor\/node'/.test(noFiles), noFiles);
  let noRoots = '';
  try { await m.Simulation.create({ ...SCENARIO, content: { source: 'files' } }, { module }); } catch (e) { noRoots = e.constructor.name + ': ' + e.message; }
  check('OS images from files refused', /^ConfigError: content\.source: got "files", expected 'generated' or 'auto' [^]*'memvisor\/node'/.test(noRoots), noRoots);
} catch (e) {
  check('ran without throwing', false, e && e.stack || e);
}
window.__result = log;
`;

/**
 * The scenario the page runs: two VMs of 48 MiB (36 MiB active each, OS 8 MiB) on 64 MiB, for a
 * few simulated seconds under the esx policy; the same scenario runs in Node for comparison.
 */
const SCENARIO = {
  duration: 4, seed: 3, content: { source: 'generated' }, host: { machineMemoryMiB: 64 }, policy: { kind: 'esx' },
  vms: [{ name: 'web', count: 2, memoryMiB: 48, os: { kernelMiB: 2, cacheMiB: 4, anonMiB: 2 }, workload: { phases: [{ at: 0, activeMiB: 36, touchesPerSecond: 20_000 }] } }],
};

describe.skipIf(missing !== null)('the browser bundle in headless Chromium', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
  });

  it('loads pages on an overcommitted host, shares, pages out (zip cache, memory swap), reads every byte back; runs a Simulation to its end as Node does; no console error', async () => {
    const { code } = await bundle('src/index.ts');
    mkdirSync(OUT, { recursive: true });
    const files: Record<string, { body: Buffer | string; type: string }> = {
      'index.html': { body: '<!doctype html><meta charset="utf-8"><title>memvisor</title><script type="module" src="./main.js"></script>', type: 'text/html' },
      'main.js': { body: `const SCENARIO = ${JSON.stringify(SCENARIO)};\n${PAGE_SCRIPT}`, type: 'text/javascript' },
      'memvisor.js': { body: code, type: 'text/javascript' },
      'release.wasm': { body: readFileSync(join(ROOT, 'build/release.wasm')), type: 'application/wasm' },
    };
    for (const [name, f] of Object.entries(files)) if (name !== 'release.wasm') writeFileSync(join(OUT, name), f.body);
    const page = await browser.context.newPage();
    const errors: string[] = [];
    const fetched: string[] = [];
    page.on('console', (msg) => {
      if (msg.type() === 'error') errors.push(`console error: ${msg.text()}`);
    });
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    // an origin of its own, served from memory: nothing else is fetched
    await page.route('**/*', (route) => {
      const url = new URL(route.request().url());
      fetched.push(url.href);
      const f = url.origin === 'http://memvisor.test' ? files[url.pathname.slice(1)] : undefined;
      return f ? route.fulfill({ status: 200, contentType: f.type, body: f.body }) : route.abort();
    });
    await page.goto('http://memvisor.test/index.html');
    await page.waitForFunction(() => (window as unknown as { __result?: unknown }).__result !== undefined, null, { timeout: 90_000 });
    const result = (await page.evaluate(() => (window as unknown as { __result: { name: string; ok: boolean; detail: string }[] }).__result));
    const browserRun = await page.evaluate(() => (window as unknown as { __run?: string }).__run);
    await page.close();
    expect(errors).toEqual([]);
    expect(fetched.sort()).toEqual(['index.html', 'main.js', 'memvisor.js', 'release.wasm'].map((f) => `http://memvisor.test/${f}`));
    for (const r of result) expect(r.ok, `${r.name}: ${r.detail}`).toBe(true);
    expect(result.map((r) => r.name)).toEqual([
      'sharing merged pages', 'every byte read back as written', 'swapped out to memory swap', 'swapped back in',
      'compressed into the zip cache', 'overcommitted', 'audit holds', 'trace replayed over the host', 'lz4 round trip', 'xxh64',
      'file swap refused', 'no Node entry names in the bundle',
      'simulation ran to its end', 'simulation verified', 'simulation reclaimed under the esx policy', 'trace workload refused', 'OS images from files refused',
    ]);
    // the same scenario and seed in Node (the same release module) give the same run, byte for byte
    const sim = await Simulation.create(SCENARIO, { flavor: 'release' });
    const nodeRun = JSON.stringify(sim.run());
    sim.close();
    expect(browserRun).toBe(nodeRun);
  }, 180_000);
});
