/**
 * Long runs: a run file written in pieces (writeRunJson: byte for byte what JSON.stringify would
 * write, past the longest string JavaScript makes), a run file too long to read refused with a
 * RunFileError, and the report of a run with more samples than a chart has points (rollup.ts:
 * charts from means of consecutive samples; the summary from every sample).
 */
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mkdtempSync, openSync, ftruncateSync, closeSync, readFileSync, readdirSync, rmSync, statSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseRun, writeRunJson, MAX_RUN_TEXT, RunFileError, type Run } from '../src/report/runfile.js';
import { readRunFile, writeRunFile, RunFileSink } from '../src/report/files.js';
import { rollUp, MAX_CHART_POINTS } from '../src/report/rollup.js';
import { runCharts } from '../src/report/charts.js';
import { renderReportHtml, renderCompareHtml } from '../src/report/html.js';
import { summarizeRun } from '../src/report/summary.js';
import { makeRunJson } from './support/runfixture.js';

const dir = mkdtempSync(join(tmpdir(), 'memvisor-long-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function written(result: object): { text: string; pieces: number } {
  const pieces: string[] = [];
  writeRunJson(result, (c) => pieces.push(c));
  return { text: pieces.join(''), pieces: pieces.length };
}

describe('writeRunJson', () => {
  it('writes what JSON.stringify(result, null, 1) writes, for any JSON object with or without samples', () => {
    const value = fc.option(fc.jsonValue({ maxDepth: 3 }), { nil: undefined });
    const result = fc.record(
      { config: value, seed: value, samples: fc.oneof(fc.array(fc.jsonValue({ maxDepth: 4 }), { maxLength: 6 }), fc.jsonValue({ maxDepth: 2 })), last: value },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fc.dictionary(fc.string({ maxLength: 6 }), value, { maxKeys: 4 }), result, (extra, r) => {
        const o = { ...extra, ...r };
        expect(written(o).text).toBe(JSON.stringify(o, null, 1));
      }),
      { seed: 7, numRuns: 400 },
    );
  });

  it('a run file: the same bytes as before, with the newline, and it reads back', () => {
    const json = makeRunJson({ vms: 4, duration: 60, seed: 2 });
    const path = join(dir, 'run.json');
    writeRunFile(path, json);
    expect(readFileSync(path, 'utf8')).toBe(JSON.stringify(json, null, 1) + '\n');
    expect(readRunFile(path).samples.length).toBe(60);
  });

  it('a run file is put in place whole: a failed run leaves the old file and no partial one; a device is written in place', () => {
    const path = join(dir, 'kept.json');
    writeFileSync(path, 'old');
    const failed = new RunFileSink(path);
    failed.write('{"config": ');
    expect(readFileSync(path, 'utf8')).toBe('old');
    failed.abort();
    expect(readFileSync(path, 'utf8')).toBe('old');
    const done = new RunFileSink(path);
    done.write('{}');
    expect(readdirSync(dir).filter((f) => f.startsWith('kept.json.'))).toEqual([`kept.json.${process.pid}.partial`]);
    done.commit();
    expect(readFileSync(path, 'utf8')).toBe('{}\n');
    expect(readdirSync(dir).filter((f) => f.startsWith('kept.json.'))).toEqual([]);
    // not a regular file (a pipe, /dev/stdout): no file beside it, nothing renamed over it
    const dev = new RunFileSink('/dev/null');
    dev.write('{}');
    dev.commit();
    expect(statSync('/dev/null').isCharacterDevice()).toBe(true);
    expect(existsSync(`/dev/null.${process.pid}.partial`)).toBe(false);
  });

  it('a run longer than the longest string still writes, in pieces of about 1 MiB', () => {
    const mib = 'x'.repeat(1 << 20);
    const n = Math.ceil(MAX_RUN_TEXT / (1 << 20)) + 8;
    const small = { config: { a: 1 }, seed: 1, samples: Array.from({ length: n }, () => ({ t: 1, blob: 'x' })) };
    const big = { ...small, samples: small.samples.map(() => ({ t: 1, blob: mib })) };
    let total = 0, largest = 0, pieces = 0, head = '', tail = '';
    writeRunJson(big, (c) => {
      if (pieces === 0) head = c.slice(0, 64);
      tail = (tail + c).slice(-64);
      total += c.length;
      largest = Math.max(largest, c.length);
      pieces++;
    });
    const expected = written(small);
    expect(total).toBe(expected.text.length + n * ((1 << 20) - 1));
    expect(total).toBeGreaterThan(MAX_RUN_TEXT);
    expect(largest).toBeLessThan(2 * (1 << 20) + 64);
    expect(pieces).toBeGreaterThan(n / 2);
    expect(head).toBe(expected.text.slice(0, 64));
    const at = expected.text.lastIndexOf('"x"');
    expect(tail).toBe((expected.text.slice(0, at) + JSON.stringify(mib) + expected.text.slice(at + 3)).slice(-64));
  });
});

describe('readRunFile', () => {
  it('refuses a file longer than the longest string before reading it, saying what to change', () => {
    const path = join(dir, 'huge.json');
    const fd = openSync(path, 'w');
    ftruncateSync(fd, MAX_RUN_TEXT + 1); // sparse: no disk space
    closeSync(fd);
    expect(() => readRunFile(path)).toThrow(RunFileError);
    expect(() => readRunFile(path)).toThrow(`huge.json: (file): got "${MAX_RUN_TEXT + 1} bytes of JSON", expected at most ${MAX_RUN_TEXT} bytes (just under 512 MiB), the longest string JavaScript makes (readRunParts reads a run file of any length`);
  });
});

/** `run` stretched to `n` samples, one per second, cycling through its samples. */
function stretched(run: Run, n: number): Run {
  return { ...run, config: { ...run.config, sampleInterval: 1 }, samples: Array.from({ length: n }, (_, i) => ({ ...run.samples[i % run.samples.length], t: i + 1 })) };
}

describe('rollUp', () => {
  const host = (freeMiB: number, state: string, extra: Record<string, number> = {}) => ({ freeMiB, state, thresholds: { soft: 40 }, reclaimed: {}, ...extra });
  const vm = (MEMSZ: number, GRANT: number, extra: Record<string, number> = {}) => ({ MEMSZ, GRANT, ...extra });
  const run: Run = {
    config: { sampleInterval: 0.5 },
    seed: 1,
    version: 'test',
    verified: { ok: true, bytes: 0 },
    samples: [
      { t: 0.5, host: host(100, 'high'), vms: { a: vm(64, 10) } },
      { t: 1.0, host: host(80, 'soft', { swapMiB: 3 }), vms: { a: vm(64, 20, { SWCUR: 4 }) } },
      { t: 1.5, host: host(60, 'soft'), vms: { a: vm(64, 30), b: vm(32, 8) } },
      { t: 2.0, host: host(40, 'hard'), vms: { a: vm(64, 40), b: vm(32, 16) } },
      { t: 2.5, host: host(20, 'low'), vms: { a: vm(64, 50) } },
    ],
  };

  it('a run within the limit is charted as it is', () => {
    expect(rollUp(run, 5)).toEqual({ run, per: 1 });
    expect(rollUp(run, 5).run).toBe(run);
  });

  it('groups consecutive samples: last time, mean of the values present, the state held longest', () => {
    const r = rollUp(run, 2);
    expect(r.per).toBe(3);
    expect(r.run.samples).toEqual([
      { t: 1.5, host: { freeMiB: 80, state: 'soft', thresholds: { soft: 40 }, reclaimed: {}, swapMiB: 3 }, vms: { a: { MEMSZ: 64, GRANT: 20, SWCUR: 4 }, b: { MEMSZ: 32, GRANT: 8 } } },
      { t: 2.5, host: { freeMiB: 30, state: 'low', thresholds: { soft: 40 }, reclaimed: {} }, vms: { a: { MEMSZ: 64, GRANT: 45 }, b: { MEMSZ: 32, GRANT: 16 } } },
    ]);
    expect(run.samples[0].host.freeMiB).toBe(100); // the run itself is left as it was
    expect(rollUp(run, 1).run.samples).toHaveLength(1);
    expect(() => rollUp(run, 0)).toThrow(RangeError);
    // a field that holds strings and, later, another kind: the most frequent string still wins
    const mixed = { ...run, samples: run.samples.slice(0, 3).map((x, i) => ({ ...x, host: { ...x.host, state: ['soft', 'soft', true][i] as string } })) };
    expect(rollUp(mixed, 1).run.samples[0].host.state).toBe('soft');
  });

  it('a run of 150,000 samples: the report charts 2,000 points, the summary reads every sample', () => {
    const base = parseRun(makeRunJson({ vms: 1, duration: 200, seed: 3 }));
    const long = stretched(base, 150_000);
    const s = summarizeRun(long);
    expect(s.host.lowestFreeMiB).toBe(Math.min(...base.samples.map((x) => x.host.freeMiB)));
    const shown = rollUp(long);
    expect(shown.per).toBe(75);
    expect(shown.run.samples).toHaveLength(MAX_CHART_POINTS);
    const c = runCharts(shown.run);
    for (const chart of [...c.host, ...c.vms, ...c.picked]) for (const d of chart.series) expect(d.data).toHaveLength(MAX_CHART_POINTS);
    const html = renderReportHtml(long, { chartJs: '' });
    expect(html.length).toBeLessThan(8 << 20);
    expect(html).toContain('charts: 2000 points, each the mean of 75 samples (75 simulated s); the summary reads all 150000');
    const cmp = renderCompareHtml(long, base, { chartJs: '', labels: ['long', 'short'] });
    expect(cmp).toContain('the summary reads all 150000');
    expect(cmp.match(/each the mean of/g)).toHaveLength(1);
  });
});
