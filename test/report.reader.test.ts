/**
 * Run files read piece by piece (runreader.ts readRunPieces, files.ts readRunParts: what
 * `memvisor compare` reads): the same parts as a whole run read at once (reportParts of
 * parseRunText), the same problems for any text, whatever pieces it comes in; a line named for
 * what is wrong between pieces; and a file longer than the longest string read.
 */
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseRun, parseRunText, RunFileError, RunJsonWriter, MAX_RUN_TEXT } from '../src/report/runfile.js';
import { readRunPieces } from '../src/report/runreader.js';
import { readRunFile, readRunParts, writeRunFile, RunFileSink } from '../src/report/files.js';
import { reportParts } from '../src/report/html.js';
import { summarizeRun } from '../src/report/summary.js';
import { makeRunJson } from './support/runfixture.js';

const dir = mkdtempSync(join(tmpdir(), 'memvisor-reader-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** `text` cut at `cuts` (positions, any order, repeats allowed). */
function pieces(text: string, cuts: number[]): string[] {
  const at = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
  const out: string[] = [];
  let from = 0;
  for (const c of at) {
    out.push(text.slice(from, c));
    from = c;
  }
  out.push(text.slice(from));
  return out;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };
function outcome(f: () => unknown): Outcome {
  try {
    return { ok: true, value: f() };
  } catch (error) {
    return { ok: false, error };
  }
}

const whole = (text: string) => reportParts(parseRunText(text, 'x.json'));
const inPieces = (text: string, cuts: number[]) => readRunPieces('x.json', () => pieces(text, cuts));

describe('readRunPieces', () => {
  it('gives what a whole read gives, for runs written any way and cut anywhere', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 4 }), fc.nat(1000),
        fc.constantFrom(0, 1, 2, '\t', ' \r\n '), fc.nat(3), fc.array(fc.nat(), { maxLength: 12 }), fc.boolean(),
        (duration, vms, seed, indent, samplesAt, cuts, odd) => {
          const run = makeRunJson({ duration, vms, seed, names: odd ? ['a"\\"}', 'b\\', '[{c', 'd\u00e9'] : undefined });
          // the keys in any order: samples first, in between, last
          const keys = Object.keys(run).filter((k) => k !== 'samples');
          keys.splice(samplesAt % (keys.length + 1), 0, 'samples');
          const ordered = Object.fromEntries(keys.map((k) => [k, run[k]]));
          // stringify puts line breaks only between tokens: any white space may stand there
          const text = typeof indent === 'string' && indent.includes('\n') ? JSON.stringify(ordered, null, 1).replace(/\n */g, indent) : JSON.stringify(ordered, null, indent);
          expect(inPieces(text, cuts)).toEqual(whole(text));
        },
      ),
      { seed: 7, numRuns: 120 },
    );
  });

  it('any text: read in pieces exactly when read whole; the same problems when it is JSON', () => {
    // names with quotes, backslashes and brackets: the reader must follow strings and escapes
    const base = JSON.stringify(makeRunJson({ duration: 5, vms: 2, seed: 5, names: ['we"b\\1}', 'db]{[\\'] }), null, 1);
    // half the edits land on the run's own structure (the top-level object and the samples
    // array), which is a small part of the text: a reader that let a mistake there pass is caught
    const structure: number[] = [];
    const colons: number[] = [];
    for (let i = 0, depth = 0, str = false; i < base.length; i++) {
      const c = base[i];
      if (str) str = !(c === '"' && base[i - 1] !== '\\');
      else if (c === '"') str = true;
      else if (c === ':') colons.push(i);
      else if ('{['.includes(c)) (depth <= 1 && structure.push(i)), depth++;
      else if ('}]'.includes(c)) depth--, depth <= 1 && structure.push(i);
      else if (',:'.includes(c) && depth <= 2) structure.push(i);
    }
    const at = fc.oneof(fc.nat(), fc.tuple(fc.constantFrom(...structure), fc.integer({ min: -2, max: 2 })).map(([p, d]) => Math.max(0, p + d)));
    const edit = fc.oneof(
      fc.record({ kind: fc.constant('delete' as const), at, len: fc.integer({ min: 1, max: 40 }) }),
      fc.record({ kind: fc.constant('insert' as const), at, ch: fc.constantFrom(...'{}[],:"\\ \n0-9.eEtrufalsn'.split('')) }),
      fc.record({ kind: fc.constant('replace' as const), at, ch: fc.constantFrom(...'{}[],:"\\ 0-9xn'.split('')) }),
      fc.record({ kind: fc.constant('copy' as const), at, from: fc.nat(), len: fc.integer({ min: 1, max: 200 }) }),
      // white space: harmless between tokens, so some edited texts stay runs
      fc.record({ kind: fc.constant('insert' as const), at, ch: fc.constantFrom(' ', '\n', '\t', '\r') }),
      // a minus before a value: still JSON when it is a number, and then often a field out of range
      fc.record({ kind: fc.constant('insert' as const), at: fc.constantFrom(...colons).map((p) => p + 2), ch: fc.constant('-') }),
    );
    let valid = 0, refused = 0, sameProblems = 0;
    fc.assert(
      fc.property(fc.array(edit, { minLength: 1, maxLength: 3 }), fc.array(fc.nat(), { maxLength: 8 }), (edits, cuts) => {
        let text = base;
        for (const e of edits) {
          const at = e.at % (text.length + 1);
          if (e.kind === 'delete') text = text.slice(0, at) + text.slice(at + e.len);
          else if (e.kind === 'insert') text = text.slice(0, at) + e.ch + text.slice(at);
          else if (e.kind === 'replace') text = text.slice(0, at) + e.ch + text.slice(at + 1);
          else {
            const from = e.from % (text.length + 1);
            text = text.slice(0, at) + text.slice(from, from + e.len) + text.slice(at);
          }
        }
        const w = outcome(() => whole(text)), p = outcome(() => inPieces(text, cuts));
        const twice = !p.ok && p.error instanceof RunFileError && /comes a second time/.test(p.error.message);
        if (w.ok) {
          valid++;
          if (!twice) expect(p).toEqual(w);
          return;
        }
        expect(w.error).toBeInstanceOf(RunFileError);
        expect(p.ok).toBe(false);
        expect((p as { error: unknown }).error).toBeInstanceOf(RunFileError);
        refused++;
        // JSON with the wrong fields: the same problems, named the same way
        if (!twice && text.trimStart().startsWith('{') && outcome(() => JSON.parse(text)).ok) {
          expect((p as { error: Error }).error.message).toBe((w.error as Error).message);
          sameProblems++;
        }
      }),
      { seed: 8, numRuns: 1000 },
    );
    // the edits reached each outcome
    expect(valid).toBeGreaterThan(50);
    expect(refused).toBeGreaterThan(100);
    expect(sameProblems).toBeGreaterThan(20);
  });

  it('problems listed as a whole read lists them: the head first, wherever it stands in the file', () => {
    const run = makeRunJson({ duration: 3, vms: 1, seed: 4 });
    const { samples, ...head } = run;
    (samples as { t: unknown }[])[1].t = 'soon';
    const bad = { samples, ...head, seed: 1.5, version: 2 };
    const text = JSON.stringify(bad, null, 1);
    const w = outcome(() => whole(text)), p = outcome(() => inPieces(text, [100]));
    expect((w as { error: Error }).error.message).toBe('x.json: seed: got 1.5, expected a whole number\nx.json: version: got 2, expected a string\nx.json: samples[1].t: got "soon", expected a number');
    expect((p as { error: Error }).error.message).toBe((w as { error: Error }).error.message);
  });

  it('names the line and what was expected where the structure breaks', () => {
    const err = (text: string) => {
      const o = outcome(() => inPieces(text, []));
      expect(o.ok).toBe(false);
      const e = (o as { error: Error }).error;
      expect(e).toBeInstanceOf(RunFileError);
      return e.message;
    };
    expect(err('[1]')).toBe(`x.json: (file): got "[1]", expected a run: a JSON object, starting with '{' (line 1)`);
    expect(err('{\n "config": {}\n "seed": 1}')).toBe(`x.json: (file): got "\\"seed\\": 1}", expected ',' or '}' after the value of "config" (line 3)`);
    expect(err('{"samples": [\n{"t": 1},\n{"t": 2}\n}')).toBe(`x.json: (file): got "}", expected ',' or ']' after samples[1] (line 4)`);
    expect(err('{"samples": [{"t": 1}, ]}')).toBe(`x.json: (file): got "]}", expected samples[1]: a value (line 1)`);
    expect(err('{"seed": 1, "seed": 2}')).toBe(`x.json: (file): got "seed", expected each key of the run once; "seed" comes a second time (line 1)`);
    expect(err('{"samples": [{"t": 1},\n {"t": 2')).toBe(`x.json: (file): got "(end of file)", expected the rest of samples[1]: the file ends at line 2`);
    expect(err('{"seed": 1} 2')).toBe(`x.json: (file): got "2", expected nothing after the run's closing '}' (line 1)`);
    expect(err('{"samples": [{"t": 1},\n\n {"t": 2,}]}')).toMatch(/^x\.json: samples\[1\]: got "\{\\"t\\": 2,\}", expected JSON \(.*\) \(line 3\)$/);
  });
});

describe('readRunParts', () => {
  it('a file: the parts of the whole run, rolled up the same; a missing file is the system error', () => {
    const path = join(dir, 'long.json');
    writeRunFile(path, makeRunJson({ duration: 4500, vms: 3, seed: 9 }));
    const parts = readRunParts(path);
    expect(parts.shown.per).toBe(3);
    expect(parts).toEqual(reportParts(readRunFile(path)));
    expect(() => readRunParts(join(dir, 'none.json'))).toThrow(expect.objectContaining({ code: 'ENOENT' }));
  });

  it('a character split between two pieces of the file is read whole', () => {
    const run = makeRunJson({ duration: 2, vms: 1, seed: 2, names: ['vm-\u00e9\u{1F600}'.padStart(1 << 20, 'x')] });
    const path = join(dir, 'utf8.json');
    writeFileSync(path, JSON.stringify(run));
    expect(readRunParts(path)).toEqual(reportParts(readRunFile(path)));
  });
});

describe('a run file longer than the longest string', () => {
  it('is read piece by piece, every sample in its summary; readRunFile refuses it, naming readRunParts', () => {
    const path = join(dir, 'huge.json');
    const run = makeRunJson({ duration: 3, vms: 2, seed: 6 });
    const samples = run.samples as { t: number }[];
    // samples of 1 MiB each: an unknown field (it changes no figure) makes the file long cheaply
    const blob = 'x'.repeat(1 << 20);
    const n = Math.ceil(MAX_RUN_TEXT / (1 << 20)) + 4;
    const at = (i: number) => ({ ...samples[i % samples.length], t: i + 1 });
    const sink = new RunFileSink(path);
    const w = new RunJsonWriter((c) => sink.write(c));
    w.begin({ config: run.config, seed: run.seed, version: run.version });
    for (let i = 0; i < n; i++) w.sample({ ...at(i), blob });
    w.end({ verified: run.verified });
    sink.commit();
    expect(statSync(path).size).toBeGreaterThan(MAX_RUN_TEXT);
    expect(() => readRunFile(path)).toThrow(/readRunParts reads a run file of any length/);
    const parts = readRunParts(path);
    expect(parts.sampleCount).toBe(n);
    const small = parseRun({ ...run, samples: Array.from({ length: n }, (_, i) => at(i)) });
    expect(parts.summary).toEqual(summarizeRun(small));
    expect(parts.shown.run.samples.map((s) => s.t)).toEqual(small.samples.map((s) => s.t));
    rmSync(path);
  });
});
