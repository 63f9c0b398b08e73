/**
 * The esxtop-style table (src/report/table.ts) and the run summary (src/report/summary.ts),
 * checked against generated runs: every cell reads back as the sample's value, absent fields
 * show '-', a width drops columns and says which, and the summary's figures are recomputed here
 * from the samples by a different route.
 */
import { describe, expect, it } from 'vitest';
import { parseRun, type RunSample } from '../src/report/runfile.js';
import { esxtopLines, hostLines, TABLE_COLUMNS, zipSavedMiB } from '../src/report/table.js';
import { summarizeRun, summaryLines, walkText, intervals } from '../src/report/summary.js';
import { makeRunJson } from './support/runfixture.js';

const HEADER = ['VM', 'MEMSZ', 'GRANT', 'SZTGT', 'TCHD', 'SHRD', 'ZERO', 'SHRDSVD', 'MCTLSZ', 'SWCUR', 'SWR/s', 'SWW/s', 'CACHEUSD', 'ZIP/s', 'UNZIP/s', 'stall'];

/** Table rows split into cells, keyed by VM name. */
function rowsOf(lines: string[]): Map<string, string[]> {
  const h = lines.findIndex((l) => l.startsWith('VM '));
  const out = new Map<string, string[]>();
  for (const l of lines.slice(h + 1)) {
    if (l.startsWith('(') || l.startsWith('...') || l.startsWith('not shown')) break;
    const cells = l.trim().split(/\s+/);
    out.set(cells[0], cells.slice(1));
  }
  return out;
}

describe('esxtop table', () => {
  const run = parseRun(makeRunJson({ vms: 6, duration: 90, seed: 5 }));

  it("has issue 11's columns in order, and each cell is the sample's value", () => {
    expect(TABLE_COLUMNS.map((c) => c.key)).toEqual(HEADER.slice(1));
    for (const s of run.samples.filter((_, i) => i % 9 === 4)) {
      const lines = esxtopLines(s);
      expect(lines.find((l) => l.startsWith('VM '))!.trim().split(/\s+/)).toEqual(HEADER);
      const rows = rowsOf(lines);
      expect([...rows.keys()]).toEqual(Object.keys(s.vms));
      for (const [n, cells] of rows) {
        HEADER.slice(1).forEach((k, i) => {
          const want = s.vms[n][k as 'GRANT'];
          // sizes to 0.05 MiB, rates to 0.005 MiB/s, stall to 0.0005
          const tol = k.endsWith('/s') ? 0.005 : k === 'stall' ? 0.0005 : 0.05;
          expect(Math.abs(Number(cells[i]) - want!), `${n} ${k}`).toBeLessThanOrEqual(tol + 1e-12);
        });
      }
    }
  });

  it('the host lines: state, free, minFree, the thresholds, PSHARE saving, ZIP saved, SWAP current', () => {
    const zsaveOf = (x: RunSample) => Object.values(x.vms).reduce((a, v) => a + v['ZSAVE/MB']!, 0);
    const s = run.samples.find((x) => (x.host.state === 'hard' || x.host.state === 'low') && zsaveOf(x) > 1)!;
    const text = hostLines(s).join('\n');
    expect(text).toContain(`MEM state ${s.host.state}`);
    expect(text).toContain(`free ${s.host.freeMiB.toFixed(1)} MiB of ${s.host.machineMiB!.toFixed(1)} MiB`);
    expect(text).toContain(`minFree ${s.host.minFreeMiB!.toFixed(1)} MiB`);
    expect(text).toContain(`soft ${s.host.thresholds.soft.toFixed(1)}`);
    expect(text).toContain(`PSHARE saving ${s.host.sharedSavedMiB!.toFixed(1)} MiB`);
    const zsave = zsaveOf(s);
    expect(text).toContain(`ZIP saved ${zsave.toFixed(1)} MiB`);
    expect(text).toContain(`SWAP current ${s.host.swapMiB!.toFixed(1)} MiB`);
  });

  it('fields the run does not report show as -', () => {
    const bare = parseRun(makeRunJson({ vms: 2, duration: 5, policy: 'none', omitVm: ['SZTGT', 'TCHD', 'stall'], omitHost: ['sharedSavedMiB'] }));
    const s = bare.samples[4];
    const lines = esxtopLines(s);
    for (const cells of rowsOf(lines).values()) {
      expect(cells[HEADER.indexOf('SZTGT') - 1]).toBe('-');
      expect(cells[HEADER.indexOf('TCHD') - 1]).toBe('-');
      expect(cells[HEADER.indexOf('stall') - 1]).toBe('-');
      expect(cells[HEADER.indexOf('GRANT') - 1]).not.toBe('-');
    }
    expect(lines[0]).toContain('MEM state -');
    expect(lines[0]).toContain('minFree -');
    // PSHARE saving falls back to the VMs' SHRDSVD
    const svd = Object.values(s.vms).reduce((a, v) => a + v.SHRDSVD!, 0);
    expect(lines.join('\n')).toContain(`PSHARE saving ${svd.toFixed(1)} MiB`);
  });

  it('ZIP saved without ZSAVE/MB is ZIP/MB less CACHEUSD; without either it is absent', () => {
    const vms = [{ MEMSZ: 1, GRANT: 1, 'ZIP/MB': 10, CACHEUSD: 4 }, { MEMSZ: 1, GRANT: 1, 'ZIP/MB': 6, CACHEUSD: 1 }];
    expect(zipSavedMiB(vms)).toBe(11);
    expect(zipSavedMiB([{ MEMSZ: 1, GRANT: 1 }])).toBeUndefined();
  });

  it('a width drops columns from the right, says which, and no line is wider', () => {
    const s = run.samples[40];
    for (const width of [60, 80, 100, 200]) {
      const lines = esxtopLines(s, { width });
      for (const l of lines) expect(l.length).toBeLessThanOrEqual(width);
      const head = lines.find((l) => l.startsWith('VM '))!.trim().split(/\s+/);
      expect(head).toEqual(HEADER.slice(0, head.length));
      const at = lines.findIndex((l) => l.startsWith('not shown at this width: '));
      const note = at < 0 ? undefined : lines.slice(at).join(' ');
      if (head.length < HEADER.length) expect(note).toBe(`not shown at this width: ${HEADER.slice(head.length).join(', ')}`);
      else expect(note).toBeUndefined();
    }
    expect(esxtopLines(s, { width: 80 }).find((l) => l.startsWith('VM '))!.split(/\s+/).length).toBeLessThan(HEADER.length);
  });

  it('maxVms shows the first rows and counts the rest', () => {
    const lines = esxtopLines(run.samples[10], { maxVms: 2 });
    expect([...rowsOf(lines).keys()]).toEqual(Object.keys(run.samples[10].vms).slice(0, 2));
    expect(lines).toContain('... 4 more VMs');
  });

  it('is plain text', () => {
    for (const s of run.samples) for (const l of esxtopLines(s, { width: 90 })) expect(l).not.toMatch(/[\x00-\x1f\x7f]/);
  });
});

describe('run summary', () => {
  const run = parseRun(makeRunJson({ vms: 4, duration: 120, seed: 9 }));
  const sum = summarizeRun(run);

  it('time in each state adds up to the run, and the walk follows the samples', () => {
    const total = Object.values(sum.host.timeInState).reduce((a, b) => a + b, 0);
    expect(total).toBeCloseTo(run.samples[run.samples.length - 1].t, 9);
    const states = run.samples.map((s) => s.host.state!);
    expect(sum.host.walk).toEqual(states.filter((x, i) => i === 0 || states[i - 1] !== x));
    expect(sum.host.walk.length).toBeGreaterThan(2);
    for (const [st, secs] of Object.entries(sum.host.timeInState)) expect(secs).toBe(states.filter((x) => x === st).length);
  });

  it('per VM figures recomputed from the samples', () => {
    const dts = intervals(run);
    expect(dts.every((d) => d === 1)).toBe(true);
    for (const v of sum.vms) {
      const ss = run.samples.map((s) => s.vms[v.name]);
      expect(v.peakGrantMiB).toBe(Math.max(...ss.map((x) => x.GRANT)));
      expect(v.meanGrantMiB).toBeCloseTo(ss.reduce((a, x) => a + x.GRANT, 0) / ss.length, 9);
      expect(v.swapInMiB).toBeCloseTo(ss.reduce((a, x) => a + x['SWR/s']!, 0), 9);
      expect(v.maxSlowdown).toBe(Math.max(...ss.map((x) => x.slowdown!)));
      expect(v.workDone).toBeCloseTo(ss.reduce((a, x) => a + x.touchesCompleted!, 0) / ss.reduce((a, x) => a + x.touchesAsked!, 0), 12);
      expect(v.estimateErrorMiB).toBeCloseTo(ss.reduce((a, x) => a + Math.abs(x.TCHD! - x.trueActiveMiB!), 0) / ss.length, 9);
    }
    expect(sum.host.overcommit).toBeCloseTo(sum.vms.reduce((a, v) => a + v.memoryMiB, 0) / sum.host.machineMiB!, 12);
    expect(sum.vms.find((v) => v.name === 'resv')!.reservationMiB).toBeGreaterThan(0);
  });

  it('a run without stall, touches or states leaves those figures out', () => {
    const bare = summarizeRun(parseRun(makeRunJson({ duration: 10, policy: 'none', omitVm: ['stall', 'touchesAsked', 'TCHD'] })));
    expect(bare.host.walk).toEqual([]);
    expect(bare.vms[0].meanStall).toBeUndefined();
    expect(bare.vms[0].workDone).toBeUndefined();
    expect(bare.vms[0].estimateErrorMiB).toBeUndefined();
    const text = summaryLines(bare).join('\n');
    expect(text).not.toMatch(/states:/);
    expect(text).toMatch(/verified: ok/);
  });

  it('text lines name the walk and every VM', () => {
    const text = summaryLines(sum);
    expect(text.some((l) => l.startsWith('states: '))).toBe(true);
    for (const v of sum.vms) expect(text.some((l) => l.startsWith(v.name + ' '))).toBe(true);
    expect(walkText(['a', 'b'])).toBe('a -> b');
    const long = Array.from({ length: 20 }, (_, i) => `s${i}`);
    expect(walkText(long)).toBe('s0 -> s1 -> s2 -> s3 -> s4 -> s5 -> ... (9 more) -> s15 -> s16 -> s17 -> s18 -> s19');
  });
});

/** Samples are plain data: the table of a sample is a pure function of it. */
it('esxtopLines is pure', () => {
  const s: RunSample = parseRun(makeRunJson({ duration: 3 })).samples[2];
  const before = JSON.stringify(s);
  expect(esxtopLines(s)).toEqual(esxtopLines(structuredClone(s)));
  expect(JSON.stringify(s)).toBe(before);
});
