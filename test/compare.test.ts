/**
 * `memvisor compare` (src/cli/compare.ts, src/report/compare.ts): two run files side by side as
 * text and as an HTML page; a file that is not a run exits 1 naming the field; bad options exit 2.
 */
import { afterAll, describe, expect, it, vi } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { main } from '../src/cli/main.js';
import { runCompare } from '../src/cli/compare.js';
import { compareLines, compareRows } from '../src/report/compare.js';
import { parseRun } from '../src/report/runfile.js';
import { summarizeRun, fmt } from '../src/report/summary.js';
import { renderCompareHtml } from '../src/report/html.js';
import { loadChartJs } from '../src/report/files.js';
import { makeRunJson } from './support/runfixture.js';

const dir = mkdtempSync(join(tmpdir(), 'memvisor-compare-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const esxJson = makeRunJson({ vms: 4, duration: 60, seed: 8, policy: 'esx' });
const kvmJson = makeRunJson({ vms: 4, duration: 60, seed: 8, policy: 'kvm', machineMiB: 2000 });
const fa = join(dir, 'esx.json'), fb = join(dir, 'kvm.json');
writeFileSync(fa, JSON.stringify(esxJson));
writeFileSync(fb, JSON.stringify(kvmJson));

/** A stream that keeps what is written. */
function sink(): Writable & { text: string } {
  const w = new Writable({
    write(chunk, _enc, cb) {
      w.text += String(chunk);
      cb();
    },
  }) as Writable & { text: string };
  w.text = '';
  return w;
}

/** Runs main() with stdout and stderr captured. */
async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '', err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
  try {
    const code = await main(args);
    return { code, out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

describe('memvisor compare', () => {
  it('prints both sides and A, B, B - A per host and per VM', () => {
    const out = sink();
    expect(runCompare([fa, fb], out)).toBe(0);
    const sa = summarizeRun(parseRun(esxJson)), sb = summarizeRun(parseRun(kvmJson));
    const lines = out.text.split('\n');
    expect(lines[0]).toMatch(/^A esx\.json: policy esx, 4 VMs on \d+ MiB \(\d\.\d\dx\), 60 simulated s, verified ok; states high -> /);
    expect(lines[1]).toMatch(/^B kvm\.json: policy kvm, 4 VMs on 2000 MiB/);
    expect(lines).toContain('web-1');
    const a = sa.vms.find((v) => v.name === 'db')!, b = sb.vms.find((v) => v.name === 'db')!;
    const dbAt = lines.indexOf('db');
    const stall = lines.slice(dbAt).find((l) => l.startsWith('  stall, mean (s/s)'))!;
    expect(stall.trim().split(/\s{2,}/)).toEqual(['stall, mean (s/s)', fmt(a.meanStall, 4), fmt(b.meanStall, 4), `${b.meanStall! - a.meanStall! > 0 ? '+' : ''}${(b.meanStall! - a.meanStall!).toFixed(4)}`]);
    const low = lines.find((l) => l.startsWith('  free memory, lowest (MiB)'))!;
    expect(low).toContain(sa.host.lowestFreeMiB.toFixed(1));
    expect(out.text).toEqual(compareLines(sa, sb, ['esx.json', 'kvm.json']).join('\n') + '\n');
  });

  it('rows for every state either run visited; the run without states shows -', () => {
    const rows = compareRows(summarizeRun(parseRun(esxJson)), summarizeRun(parseRun(kvmJson)));
    const states = Object.keys(summarizeRun(parseRun(esxJson)).host.timeInState);
    expect(rows.filter((r) => r.name.startsWith('time in')).map((r) => r.name)).toEqual(states.map((s) => `time in ${s} (s)`));
    for (const r of rows.filter((x) => x.name.startsWith('time in'))) expect(r.b).toBeUndefined();
  });

  it('--html writes the page with both runs', () => {
    const html = join(dir, 'cmp.html');
    const out = sink();
    expect(runCompare([fa, fb, '--html', html], out)).toBe(0);
    expect(out.text).toContain(`wrote ${html}`);
    const page = readFileSync(html, 'utf8');
    expect(page).toContain('memvisor compare: esx.json vs kvm.json');
    expect(page).toContain('Chart.js v4');
  });

  it('reads each file piece by piece and gives the page of the whole runs, rolled up or not', () => {
    // 2500 samples: charted as 2 a point; B is written with its samples before its config
    const long = makeRunJson({ vms: 3, duration: 2500, seed: 2 });
    const { samples, ...head } = kvmJson;
    const la = join(dir, 'long.json'), lb = join(dir, 'first.json'), html = join(dir, 'pieces.html');
    writeFileSync(la, JSON.stringify(long, null, 1));
    writeFileSync(lb, JSON.stringify({ samples, ...head }));
    const out = sink();
    expect(runCompare([la, lb, '--html', html], out)).toBe(0);
    const [a, b] = [parseRun(long), parseRun(kvmJson)];
    expect(out.text).toBe(`${compareLines(summarizeRun(a), summarizeRun(b), ['long.json', 'first.json']).join('\n')}\nwrote ${html}\n`);
    expect(readFileSync(html, 'utf8')).toBe(renderCompareHtml(a, b, { chartJs: loadChartJs(), labels: ['long.json', 'first.json'] }));
    expect(readFileSync(html, 'utf8')).toContain('each the mean of 2 samples');
  });

  it('files of the same name are told apart by their paths', () => {
    const sub = join(dir, 'b');
    rmSync(sub, { recursive: true, force: true });
    writeFileSync(join(dir, 'x.json'), JSON.stringify(esxJson));
    mkdirSync(sub);
    writeFileSync(join(sub, 'x.json'), JSON.stringify(kvmJson));
    const out = sink();
    runCompare([join(dir, 'x.json'), join(sub, 'x.json')], out);
    expect(out.text).toContain(`A ${join(dir, 'x.json')}: `);
  });

  it('through main: help, a file that is not a run (exit 1), bad options (exit 2)', async () => {
    expect((await cli(['compare', '--help'])).out).toMatch(/^usage: memvisor compare/);
    expect((await cli(['help', 'compare'])).out).toMatch(/^usage: memvisor compare/);
    expect((await cli(['--help'])).out).toMatch(/compare <a\.json> <b\.json>/);
    const bad = join(dir, 'bad.json');
    const j = structuredClone(esxJson) as { samples: { vms: Record<string, Record<string, unknown>> }[] };
    j.samples[7].vms.db.SWCUR = 'many';
    writeFileSync(bad, JSON.stringify(j));
    const r = await cli(['compare', fa, bad]);
    expect(r.code).toBe(1);
    expect(r.err).toBe(`memvisor compare: ${bad}: samples[7].vms.db.SWCUR: got "many", expected a number\n`);
    const missing = await cli(['compare', fa, join(dir, 'nope.json')]);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/ENOENT/);
    const one = await cli(['compare', fa]);
    expect(one.code).toBe(2);
    expect(one.err).toMatch(/runs: got ".*esx\.json", expected two run files/);
    expect((await cli(['compare', fa, fb, '--pdf'])).code).toBe(2);
    expect((await cli(['compare', fa, fb, '--html'])).err).toMatch(/--html: got "\(missing\)"/);
  });
});
