/**
 * The run-file reader (src/report/runfile.ts): runs in issue 9's format read back typed; every
 * kind of damage a file can have is a RunFileError naming the field's path, the value and what
 * was expected (fast-check over where and how a generated run is damaged); absent optional
 * fields and unknown extra fields pass; the policy's levels and reclaim figures are found by name.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseRun, parseRunText, parseSample, RunFileError, thresholdName, reclaimedName, vmNames, pathText } from '../src/report/runfile.js';
import { readRunFile } from '../src/report/files.js';
import { VM_FIELDS, HOST_FIELDS, GUEST_FIELDS } from '../src/report/fields.js';
import { makeRunJson } from './support/runfixture.js';

/** The error `f` throws, which must be a RunFileError. */
function runError(f: () => unknown): RunFileError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(RunFileError);
    return e as RunFileError;
  }
  throw new Error('expected a RunFileError, nothing was thrown');
}

/** The path text of a key as the reader writes it (written out here, not taken from the reader). */
const key = (k: string) => (/^[A-Za-z_$][\w$]*$/.test(k) ? `.${k}` : `["${k}"]`);

describe('run files in the format of memvisor run --json', () => {
  it('read back typed, with the policy fields found by name', () => {
    const json = makeRunJson({ vms: 5, duration: 60, policy: 'esx' });
    const run = parseRun(json);
    const src = json.samples as { t: number; host: Record<string, number | string>; vms: Record<string, Record<string, number>> }[];
    expect(run.samples).toHaveLength(src.length);
    expect(vmNames(run)).toEqual(Object.keys(src[0].vms));
    for (let i = 0; i < src.length; i += 7) {
      const s = run.samples[i];
      expect(s.t).toBe(src[i].t);
      expect(s.host.freeMiB).toBe(src[i].host.freeMiB);
      expect(s.host.state).toBe(src[i].host.state);
      expect(s.host.thresholds).toEqual({ high: src[i].host.highMiB, clear: src[i].host.clearMiB, soft: src[i].host.softMiB, hard: src[i].host.hardMiB });
      expect(s.host.reclaimed).toEqual({ compressed: src[i].host.reclaimedCompressedMiB, swapped: src[i].host.reclaimedSwappedMiB, 'shared before swap': src[i].host.reclaimedSharedBeforeSwapMiB });
      for (const [n, v] of Object.entries(src[i].vms)) for (const f of VM_FIELDS) expect(s.vms[n][f.key as 'GRANT']).toBe(v[f.key]);
    }
    expect(run.config.policy?.kind).toBe('esx');
    expect(run.verified.ok).toBe(true);
  });

  it('KVM watermarks are levels; a run without policy fields has none', () => {
    const kvm = parseRun(makeRunJson({ policy: 'kvm', duration: 10 }));
    expect(Object.keys(kvm.samples[0].host.thresholds).sort()).toEqual(['high', 'low', 'min']);
    expect(Object.keys(kvm.samples[0].host.reclaimed).sort()).toEqual(['compressed', 'direct', 'kswapd', 'swapped']);
    expect(kvm.samples[0].host.state).toBeUndefined();
    const none = parseRun(makeRunJson({ policy: 'none', duration: 10 }));
    expect(none.samples[0].host.thresholds).toEqual({});
    expect(none.samples[0].host.reclaimed).toEqual({});
  });

  it('absent optional fields and unknown extra fields pass', () => {
    const optional = VM_FIELDS.filter((f) => !f.required).map((f) => f.key);
    const json = makeRunJson({ duration: 5, omitVm: [...optional, 'guest'], omitHost: HOST_FIELDS.filter((f) => !f.required).map((f) => f.key) });
    const s0 = (json.samples as { host: Record<string, unknown>; vms: Record<string, Record<string, unknown>> }[])[0];
    s0.host.someNewCounter = 7;
    Object.values(s0.vms)[0].extraField = 'x';
    const run = parseRun(json);
    const v = Object.values(run.samples[0].vms)[0];
    expect(Object.keys(v).sort()).toEqual(['GRANT', 'MEMSZ', 'extraField']);
    expect(run.samples[0].host.state).toBeUndefined();
  });

  it('a damaged field anywhere is an error naming its path, the value and what was expected', () => {
    const base = makeRunJson({ vms: 3, duration: 12, seed: 3 });
    const names = Object.keys((base.samples as { vms: object }[])[0].vms);
    const damage = fc.oneof(
      fc.constant<[unknown, RegExp]>(['12', /got "12", expected a number/]),
      fc.constant<[unknown, RegExp]>([null, /got null, expected a number/]),
      fc.constant<[unknown, RegExp]>([true, /got true, expected a number/]),
      fc.constant<[unknown, RegExp]>([-1, /got -1, expected a number >= [01]/]),
      fc.constant<[unknown, RegExp]>([[], /got array\(0\), expected a number/]),
    );
    const where = fc.oneof(
      fc.record({ kind: fc.constant('vm' as const), field: fc.constantFrom(...VM_FIELDS.filter((f) => f.key !== 'ZSAVE/MB').map((f) => f.key)) }),
      fc.record({ kind: fc.constant('guest' as const), field: fc.constantFrom(...GUEST_FIELDS.map((f) => f.key)) }),
      fc.record({ kind: fc.constant('host' as const), field: fc.constantFrom(...HOST_FIELDS.filter((f) => f.unit !== 'state').map((f) => f.key)) }),
    );
    fc.assert(
      fc.property(fc.nat(11), fc.nat(names.length - 1), where, damage, (i, vi, w, [value, expected]) => {
        const json = structuredClone(base);
        const sample = (json.samples as { host: Record<string, unknown>; vms: Record<string, Record<string, unknown>> }[])[i];
        const vm = names[vi];
        let path: string;
        if (w.kind === 'host') {
          sample.host[w.field] = value;
          path = `samples[${i}].host${key(w.field)}`;
        } else if (w.kind === 'guest') {
          (sample.vms[vm].guest as Record<string, unknown>)[w.field] = value;
          path = `samples[${i}].vms${key(vm)}.guest${key(w.field)}`;
        } else {
          sample.vms[vm][w.field] = value;
          path = `samples[${i}].vms${key(vm)}${key(w.field)}`;
        }
        const e = runError(() => parseRun(json, 'x.json'));
        const line = e.message.split('\n').find((l) => l.startsWith(`x.json: ${path}: `));
        expect(line, e.message).toBeDefined();
        expect(line).toMatch(expected);
        expect(e.problems.some((p) => p.path === path && Object.is(p.value, value))).toBe(true);
      }),
      { seed: 11, numRuns: 150 },
    );
  });

  it('a missing required field, a run that is not an object, no samples: each named', () => {
    const noGrant = makeRunJson({ duration: 3 });
    const vm = Object.keys((noGrant.samples as { vms: object }[])[1].vms)[0];
    delete ((noGrant.samples as { vms: Record<string, Record<string, unknown>> }[])[1].vms[vm]).GRANT;
    expect(runError(() => parseRun(noGrant)).message).toContain(`run: samples[1].vms${key(vm)}.GRANT: got undefined, expected a number`);
    expect(runError(() => parseRun([1, 2])).message).toMatch(/^run: \(run\): got array\(2\), expected an object$/);
    expect(runError(() => parseRun({ ...makeRunJson({ duration: 2 }), samples: [] })).message).toMatch(/samples: got array\(0\), expected at least 1 item$/);
    expect(runError(() => parseRun({ ...makeRunJson({ duration: 2 }), verified: { ok: 'yes', bytes: 1 } })).message).toMatch(/verified\.ok: got "yes", expected true or false/);
    expect(runError(() => parseRun({ ...makeRunJson({ duration: 2 }), version: 3 })).message).toMatch(/version: got 3, expected a string/);
  });

  it('samples out of time order are refused', () => {
    const json = makeRunJson({ duration: 6 });
    const ss = json.samples as { t: number }[];
    ss[4].t = ss[2].t;
    const e = runError(() => parseRun(json));
    expect(e.problems).toEqual([{ path: 'samples[4].t', value: ss[2].t, expected: `a time after samples[3].t (${ss[3].t})` }]);
  });

  it('a policy field of the wrong type is named too', () => {
    const json = makeRunJson({ duration: 4 });
    (json.samples as { host: Record<string, unknown> }[])[2].host.softMiB = 'lots';
    (json.samples as { host: Record<string, unknown> }[])[3].host.reclaimed = 5;
    const e = runError(() => parseRun(json));
    expect(e.problems.map((p) => p.path)).toEqual(['samples[2].host.softMiB', 'samples[3].host.reclaimed']);
  });

  it('lists at most 20 problems and counts the rest', () => {
    const json = makeRunJson({ duration: 30 });
    for (const s of json.samples as { host: Record<string, unknown> }[]) s.host.freeMiB = 'none';
    const e = runError(() => parseRun(json));
    expect(e.problems).toHaveLength(20);
    expect(e.more).toBe(10);
    expect(e.message.split('\n').pop()).toBe('run: ... and 10 more problems');
  });

  it('text that is not JSON, and files: read, missing', () => {
    expect(runError(() => parseRunText('{"config": ', 'a.json')).message).toMatch(/^a\.json: \(file\): got "\{\\"config\\": ", expected JSON \(/);
    const dir = mkdtempSync(join(tmpdir(), 'memvisor-runfile-'));
    try {
      const f = join(dir, 'run.json');
      writeFileSync(f, JSON.stringify(makeRunJson({ duration: 3 })));
      expect(readRunFile(f).samples).toHaveLength(3);
      expect(() => readRunFile(join(dir, 'none.json'))).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it('one sample as the simulation hands it to a live view', () => {
    const s = (makeRunJson({ duration: 3 }).samples as object[])[1];
    expect(parseSample(s).t).toBe(2);
    const bad = structuredClone(s) as { vms: Record<string, Record<string, unknown>> };
    Object.values(bad.vms)[0].stall = 'x';
    expect(runError(() => parseSample(bad, 'sample 1')).message).toBe('sample 1: vms["web-1"].stall: got "x", expected a number');
  });
});

describe('policy field names', () => {
  it('thresholds by any of the spellings a policy may use', () => {
    expect(['highMiB', 'clearMiB', 'softMiB', 'hardMiB', 'lowMiB', 'minMiB'].map(thresholdName)).toEqual(['high', 'clear', 'soft', 'hard', 'low', 'min']);
    expect(thresholdName('thresholdSoftMiB')).toBe('soft');
    expect(thresholdName('softThresholdMiB')).toBe('soft');
    expect(thresholdName('wmarkMinMiB')).toBe('wmark min');
    expect(thresholdName('watermarkHighMiB')).toBe('wmark high');
    expect(thresholdName('minWatermarkMiB')).toBe('wmark min');
    // host counters are not thresholds
    for (const k of ['freeMiB', 'minFreeMiB', 'guestMiB', 'swapMiB', 'state', 'high', 'min_free_kbytes', 'largePagesAllowed', 'kswapd']) expect(thresholdName(k)).toBeNull();
  });

  it('reclaimed by technique', () => {
    expect(reclaimedName('reclaimedBalloonMiB')).toBe('balloon');
    expect(reclaimedName('reclaimedSharedBeforeSwapMiB')).toBe('shared before swap');
    expect(reclaimedName('reclaimed_swap')).toBe('swap');
    expect(reclaimedName('reclaimedZip')).toBe('zip');
    expect(reclaimedName('reclaimedMiB')).toBeNull();
    expect(reclaimedName('reclaimed')).toBeNull();
    expect(reclaimedName('balloonMiB')).toBeNull();
  });

  it('paths: identifiers dotted, other keys quoted, indexes bracketed', () => {
    expect(pathText(['samples', 3, 'vms', 'web-1', 'SWR/s'])).toBe('samples[3].vms["web-1"]["SWR/s"]');
    expect(pathText([])).toBe('(run)');
  });
});
