/**
 * `memvisor run`: a scenario file in, lines per sample and a summary out, the JSON the issue
 * names with --json; an invalid scenario exits 2 with one line per problem naming the field
 * path; and the built package ships the scenario JSON Schema through its `exports`.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync, rmSync, existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runRun } from '../src/cli/run.js';
import { main } from '../src/cli/main.js';
import { VERSION, readRunFile, Simulation, parseRun, renderReportHtml, loadChartJs, summarizeRun, summaryLines } from '../src/node.js';
import { HOST_FIELDS, VM_FIELDS, GUEST_FIELDS } from '../src/report/fields.js';
import { thresholdName, reclaimedName } from '../src/report/runfile.js';

const root = resolve(import.meta.dirname, '..');

/** A stream that keeps what is written. */
function sink(): NodeJS.WritableStream & { text: string } {
  const s = { text: '', write(chunk: string) { s.text += chunk; return true; } };
  return s as unknown as NodeJS.WritableStream & { text: string };
}

const scenario = {
  $schema: '../node_modules/memvisor/dist/scenario.schema.json',
  duration: 2, seed: 11, content: { source: 'generated' },
  host: { machineMemoryMiB: 64 },
  vms: [{ name: 'web', count: 2, memoryMiB: 48, os: { kernelMiB: 2, cacheMiB: 4, anonMiB: 2 }, workload: { phases: [{ at: 0, activeMiB: 24, touchesPerSecond: 20000 }] } }],
};

describe('memvisor run', () => {
  const dir = mkdtempSync(join(tmpdir(), 'memvisor-run-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs a scenario: a line per sample, a summary, and with --json the run as JSON', async () => {
    const file = join(dir, 's.json');
    writeFileSync(file, JSON.stringify(scenario));
    const out = sink(), err = sink();
    const code = await runRun([file, '--json', join(dir, 'out.json')], out, err);
    expect(err.text).toBe('');
    expect(code).toBe(0);
    // not a terminal: one plain line per sample, no escape code; then the final table and the summary
    expect(out.text).toMatch(/^t=1\.0s state=\w+ free=[\d.]+ minFree=[\d.]+ PSHARE=/m);
    expect(out.text).toMatch(/^t=2\.0s state=/m);
    expect(out.text).not.toContain('\u001b');
    expect(out.text).toMatch(/^t 2\.0 s {2}MEM state \w+/m);
    expect(out.text).toMatch(/^web-2 +48\.0 /m);
    expect(out.text).toMatch(/^states: /m);
    expect(out.text).toMatch(/^verified: ok, [\d.]+ MiB of guest memory compared/m);
    expect(out.text).toMatch(/^wrote .*out\.json$/m);
    const r = JSON.parse(readFileSync(join(dir, 'out.json'), 'utf8'));
    expect(Object.keys(r)).toEqual(['config', 'seed', 'version', 'samples', 'verified']);
    expect(r.version).toBe(VERSION);
    expect(r.seed).toBe(11);
    expect(r.config.content.source).toBe('generated');
    expect(r.config.vms[0].os.balloon.inflateMiBps).toBe(64);
    expect(r.samples.map((s: { t: number }) => s.t)).toEqual([1, 2]);
    const v = r.samples[1].vms['web-2'];
    for (const k of ['MEMSZ', 'GRANT', 'SZTGT', 'TCHD', 'SHRD', 'ZERO', 'SHRDSVD', 'MCTLSZ', 'MCTLTGT', 'SWCUR', 'SWTGT', 'SWR/s', 'SWW/s', 'CACHESZ', 'CACHEUSD', 'ZIP/s', 'UNZIP/s', 'trueActiveMiB', 'stall', 'slowdown']) {
      expect(typeof v[k], k).toBe('number');
    }
    expect(Object.keys(v.guest)).toEqual(['freeMiB', 'cacheMiB', 'anonMiB', 'swapMiB', 'oomEvents']);
    expect(typeof r.samples[0].host.freeMiB).toBe('number');
    expect(r.verified).toEqual({ ok: true, bytes: expect.any(Number) });
    // the reports read it as a run, and every field a sample holds is one the reports know
    const read = readRunFile(join(dir, 'out.json'));
    expect(read.samples.length).toBe(2);
    // every field the reports know is there (those of other policies aside), and nothing they do not know
    const vmKeys = Object.keys(v).filter((k) => k !== 'guest');
    expect(vmKeys.every((k) => VM_FIELDS.some((f) => f.key === k))).toBe(true);
    expect(VM_FIELDS.filter((f) => !vmKeys.includes(f.key)).map((f) => f.key)).toEqual([]);
    expect(Object.keys(v.guest).sort()).toEqual(GUEST_FIELDS.map((f) => f.key).sort());
    // the host: the fields the reports know, and the policy's levels and reclaim figures, which they read by pattern
    const hostKeys = Object.keys(r.samples[0].host);
    expect(hostKeys.filter((k) => !HOST_FIELDS.some((f) => f.key === k) && thresholdName(k) === null && reclaimedName(k) === null)).toEqual([]);
    expect(HOST_FIELDS.filter((f) => f.key !== 'kswapd' && !hostKeys.includes(f.key)).map((f) => f.key)).toEqual([]);
    // --json - writes the same JSON to stdout, nothing else
    const out2 = sink();
    expect(await runRun([file, '--json', '-'], out2, sink())).toBe(0);
    expect(JSON.parse(out2.text)).toEqual(r);
  });

  it('--quiet prints only the final table and the verdict; --html writes the report; a terminal gets the live screen', async () => {
    const file = join(dir, 'q.json');
    writeFileSync(file, JSON.stringify(scenario));
    const out = sink();
    expect(await runRun([file, '--quiet', '--html', join(dir, 'r.html')], out, sink())).toBe(0);
    const lines = out.text.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^t 2\.0 s {2}MEM state/);
    expect(out.text).not.toMatch(/^t=/m);
    expect(out.text).not.toMatch(/^states: /m);
    expect(lines.at(-2)).toMatch(/^verified: ok, /);
    expect(lines.at(-1)).toBe(`wrote ${join(dir, 'r.html')}`);
    const html = readFileSync(join(dir, 'r.html'), 'utf8');
    expect(html).toMatch(/^<!doctype html>/i);
    expect(html).toContain('memvisor report: q.json');
    expect(html).not.toMatch(/<script[^>]+src=/);
    // a terminal: cursor movement and the progress bar in simulated seconds, redrawn; the final table plain
    const tty = Object.assign(sink(), { isTTY: true, columns: 150, rows: 40 });
    expect(await runRun([file], tty, sink())).toBe(0);
    expect(tty.text).toContain('\u001b[');
    expect(tty.text).toMatch(/of 2 simulated s \| ETA/);
    expect(tty.text).toMatch(/^t 2\.0 s {2}MEM state/m);
  });

  it('keeps no sample: a run with more samples than a chart has points writes the JSON, summary and report the run held in memory gives', async () => {
    // 2101 samples: the charts roll up two samples a point (1051 points), the last point from one
    const long = {
      ...scenario, duration: 2101, sampleInterval: 1, step: 1,
      vms: [{ ...scenario.vms[0], workload: { phases: [{ at: 0, activeMiB: 8, touchesPerSecond: 300 }, { at: 1000, activeMiB: 16, touchesPerSecond: 300 }] } }],
    };
    const file = join(dir, 'long.json');
    writeFileSync(file, JSON.stringify(long));
    const out = sink();
    expect(await runRun([file, '--json', join(dir, 'long-out.json'), '--html', join(dir, 'long.html')], out, sink())).toBe(0);
    const sim = await Simulation.create(long);
    expect(sim.sampleCount).toBe(2101);
    const whole = sim.run();
    sim.close();
    expect(whole.samples.length).toBe(2101);
    expect(readFileSync(join(dir, 'long-out.json'), 'utf8')).toBe(JSON.stringify(whole, null, 1) + '\n');
    const run = parseRun(JSON.parse(JSON.stringify(whole)), 'long.json');
    const html = readFileSync(join(dir, 'long.html'), 'utf8');
    expect(html).toContain('charts: 1051 points, each the mean of 2 samples (2 simulated s); the summary reads all 2101');
    expect(html).toBe(renderReportHtml(run, { chartJs: loadChartJs(), label: 'long.json' }));
    expect(out.text).toContain(summaryLines(summarizeRun(run)).join('\n'));
    expect(readdirSync(dir).filter((f) => f.endsWith('.partial'))).toEqual([]);
  });

  it('without a file it runs the default scenario (checked before it runs); --policy overrides the kind', async () => {
    const err = sink();
    expect(await runRun(['--policy', 'nope'], sink(), err)).toBe(2);
    expect(err.text).toBe(`memvisor run: default scenario: policy.kind: got "nope", expected one of 'esx', 'kvm', 'basic'\n`);
    // --policy applies to a file too, and the resolved config says which ran
    const file = join(dir, 'k.json');
    writeFileSync(file, JSON.stringify(scenario));
    const out = sink();
    expect(await runRun([file, '--policy', 'kvm', '--json', '-'], out, sink())).toBe(0);
    const r = JSON.parse(out.text);
    expect(r.config.policy.kind).toBe('kvm');
    expect(r.samples[0].host.kswapd).toMatch(/^(awake|asleep)$/);
    expect(await main(['run', '--html', '-'])).toBe(2);
    expect(await main(['run', '--json'])).toBe(2);
  });

  it('an invalid scenario exits 2 with one line per problem naming the field path', async () => {
    const file = join(dir, 'bad.json');
    const bad = structuredClone(scenario) as Record<string, unknown> & typeof scenario;
    (bad.vms[0].workload.phases[0] as Record<string, unknown>).activeMiB = 5000;
    (bad.host as Record<string, unknown>).machineMemoryMiB = -4;
    writeFileSync(file, JSON.stringify(bad));
    const err = sink();
    expect(await runRun([file], sink(), err)).toBe(2);
    expect(err.text.trim().split('\n')).toEqual([
      `memvisor run: ${file}: host.machineMemoryMiB: got -4, expected at least 1`,
    ]);
    // once fields pass, the checks across fields report
    bad.host.machineMemoryMiB = 64;
    writeFileSync(file, JSON.stringify(bad));
    const err2 = sink();
    expect(await runRun([file], sink(), err2)).toBe(2);
    expect(err2.text).toBe(`memvisor run: ${file}: vms[0].workload.phases[0].activeMiB: got 5000, expected at most 46 (memoryMiB 48 less os.anonMiB 2)\n`);
  });

  it('a missing file, a file that is not JSON and a bad option are usage errors (exit 2)', async () => {
    writeFileSync(join(dir, 'nojson.json'), '{ nope');
    expect(await main(['run', join(dir, 'missing.json')])).toBe(2);
    expect(await main(['run', join(dir, 'nojson.json')])).toBe(2);
    expect(await main(['run', join(dir, 'nojson.json'), '--speed'])).toBe(2);
  });

  it('--set PATH=VALUE runs the scenario with those fields changed: the run of the edited file', async () => {
    const file = join(dir, 'set.json');
    writeFileSync(file, JSON.stringify(scenario));
    const sets = ['--set', 'seed=5', '--set', 'duration=1', '--set', 'vms[0].workload.phases[0].activeMiB=8', '--set', 'host.swap.tier=hdd', '--set', 'vms[1]={"name":"extra","memoryMiB":32,"os":{"kernelMiB":2,"cacheMiB":4,"anonMiB":2}}'];
    expect(await runRun([file, '--quiet', '--json', join(dir, 'set-out.json'), ...sets], sink(), sink())).toBe(0);
    const edited = structuredClone(scenario) as typeof scenario & { vms: unknown[]; host: Record<string, unknown> };
    Object.assign(edited, { seed: 5, duration: 1 });
    edited.vms[0].workload.phases[0].activeMiB = 8;
    edited.host.swap = { tier: 'hdd' };
    edited.vms.push({ name: 'extra', memoryMiB: 32, os: { kernelMiB: 2, cacheMiB: 4, anonMiB: 2 } });
    writeFileSync(join(dir, 'edited.json'), JSON.stringify(edited));
    expect(await runRun([join(dir, 'edited.json'), '--quiet', '--json', join(dir, 'edited-out.json')], sink(), sink())).toBe(0);
    const got = readFileSync(join(dir, 'set-out.json'), 'utf8');
    expect(got).toBe(readFileSync(join(dir, 'edited-out.json'), 'utf8'));
    expect(JSON.parse(got).config.host.swap.tier).toBe('hdd');
    expect(Object.keys(JSON.parse(got).samples[0].vms)).toEqual(['web-1', 'web-2', 'extra']);
  });

  it('a --set that names no field, or cannot be put, is a usage error (exit 2) naming it; nothing reaches a prototype', async () => {
    const file = join(dir, 'set-bad.json');
    writeFileSync(file, JSON.stringify(scenario));
    const cases: [string, RegExp][] = [
      ['vms[3].count=1', /--set: got "vms\[3\]\.count=1", expected an index of vms up to 1 \(it has 1 item\)/],
      ['x..y=1', /expected PATH=VALUE, a path of names and \[indexes\]/],
      ['vms.[0]count=1', /expected PATH=VALUE/],
      ['[0]=1', /expected PATH=VALUE/],
      ['=3', /expected PATH=VALUE/],
      ['vms[0]count=1', /expected PATH=VALUE/],
      ['__proto__.polluted=1', /expected a path without __proto__/],
      ['host.machineMemoryMiB.x=1', /expected a path through objects and arrays \(host\.machineMemoryMiB is 64\)/],
      ['host.nosuch=1', /host\.nosuch: got 1, expected no such field/],
      ['seed=07', /seed: got "07"/],
    ];
    for (const [arg, message] of cases) {
      // a bad option throws (main prints it and exits 2); a bad scenario field is printed, exit 2
      const err = sink();
      const said = await runRun([file, '--set', arg], sink(), err).then((code) => `${code} ${err.text}`, (e: Error) => `${e.constructor.name} ${e.message}`);
      expect(said, arg).toMatch(/^(UsageError|2) /);
      expect(said, arg).toMatch(message);
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('an output that cannot be written is a usage error naming the option, before the run, and leaves nothing behind', async () => {
    const file = join(dir, 'out-check.json');
    writeFileSync(file, JSON.stringify(scenario));
    for (const [option, target] of [['--json', join(dir, 'no', 'such', 'dir', 'x.json')], ['--html', join(dir, 'no', 'r.html')]]) {
      const out = sink();
      await expect(runRun([file, option, target], out, sink())).rejects.toThrow(`${option}: got "${target}", expected a file memvisor can write (ENOENT)`);
      expect(out.text).not.toMatch(/^t=/m); // no sample ran
    }
    expect(readdirSync(dir).filter((f) => f.includes('.partial'))).toEqual([]);
  });

  it('the built package ships the scenario JSON Schema (exports: memvisor/scenario.schema.json)', () => {
    expect(existsSync(join(root, 'dist/scenario.schema.json')), 'run `npm run build` first').toBe(true);
    const consumer = mkdtempSync(join(tmpdir(), 'memvisor-schema-'));
    try {
      mkdirSync(join(consumer, 'node_modules'));
      symlinkSync(root, join(consumer, 'node_modules', 'memvisor'), 'dir');
      writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'c', type: 'module', private: true }));
      writeFileSync(join(consumer, 'main.js'), `import { createRequire } from 'node:module';
const s = createRequire(import.meta.url)('memvisor/scenario.schema.json');
console.log(JSON.stringify({ title: s.title, required: s.required, vm: Object.keys(s.properties.vms.items.properties) }));`);
      const got = JSON.parse(execFileSync(process.execPath, ['main.js'], { cwd: consumer, encoding: 'utf8' }));
      expect(got.title).toBe('memvisor scenario');
      expect(got.required).toEqual(['duration', 'host', 'vms']);
      expect(got.vm).toEqual(expect.arrayContaining(['name', 'count', 'memoryMiB', 'mmu', 'os', 'workload']));
    } finally {
      rmSync(consumer, { recursive: true, force: true });
    }
  });
});
