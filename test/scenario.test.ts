/**
 * The scenario validator, by property (fast-check, seeded): every scenario built from valid
 * parts parses, with every default filled and parsing its own result again giving the same;
 * one field made invalid gives a problem naming exactly that field path with its value; an
 * unknown key is named; checks across fields fire. And the JSON Schema generated from the same
 * definition describes the same fields.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseScenario, scenarioJsonSchema, ScenarioError, type ScenarioInput } from '../src/index.js';

const SEED = 20260301;

const phase = (at: number) => fc.record({
  at: fc.constant(at),
  activeMiB: fc.integer({ min: 0, max: 64 }),
  touchesPerSecond: fc.integer({ min: 0, max: 1_000_000 }),
  writeFraction: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: undefined }),
  skew: fc.option(fc.oneof(fc.constant('uniform' as const), fc.record({ zipf: fc.double({ min: 0.1, max: 3, noNaN: true }) })), { nil: undefined }),
}, { requiredKeys: ['at', 'activeMiB', 'touchesPerSecond'] });

const vm = (i: number) => fc.record({
  name: fc.constant(`vm${i}`),
  count: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
  memoryMiB: fc.integer({ min: 256, max: 2048 }),
  mmu: fc.option(fc.constantFrom('none' as const, 'ept' as const, 'shadow' as const), { nil: undefined }),
  os: fc.option(fc.record({ kernelMiB: fc.integer({ min: 0, max: 32 }), cacheMiB: fc.integer({ min: 0, max: 64 }), anonMiB: fc.integer({ min: 0, max: 64 }) }, { requiredKeys: [] }), { nil: undefined }),
  workload: fc.option(fc.record({
    content: fc.option(fc.array(fc.record({ kind: fc.constantFrom('os-image' as const, 'zero' as const, 'text' as const, 'binary' as const, 'random' as const, 'unique' as const), weight: fc.integer({ min: 1, max: 10 }) }), { minLength: 1, maxLength: 6 }), { nil: undefined }),
    phases: fc.tuple(phase(0), phase(5), phase(12)).map(([a, b, c]) => [a, b, c]),
  }, { requiredKeys: ['phases'] }), { nil: undefined }),
}, { requiredKeys: ['name', 'memoryMiB'] });

const scenarioArb: fc.Arbitrary<ScenarioInput> = fc.record({
  seed: fc.option(fc.integer({ min: 0, max: 2 ** 40 }), { nil: undefined }),
  duration: fc.integer({ min: 1, max: 600 }),
  sampleInterval: fc.option(fc.constantFrom(0.5, 1, 2), { nil: undefined }),
  host: fc.record({
    machineMemoryMiB: fc.integer({ min: 512, max: 3584 }),
    swap: fc.option(fc.record({ tier: fc.constantFrom('hostcache' as const, 'ssd' as const, 'hdd' as const) }), { nil: undefined }),
  }, { requiredKeys: ['machineMemoryMiB'] }),
  vms: fc.integer({ min: 1, max: 3 }).chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => vm(i)))),
}, { requiredKeys: ['duration', 'host', 'vms'] }) as fc.Arbitrary<ScenarioInput>;

/** Drops undefined keys (fc.option's "absent"), as JSON would. */
const json = <T>(x: T): T => JSON.parse(JSON.stringify(x));

/** Paths to every number in `x` (where an invalid value can go), with the value. */
function numberPaths(x: unknown, at: (string | number)[] = []): (string | number)[][] {
  if (typeof x === 'number') return [at];
  if (Array.isArray(x)) return x.flatMap((v, i) => numberPaths(v, [...at, i]));
  if (x && typeof x === 'object') return Object.entries(x).flatMap(([k, v]) => numberPaths(v, [...at, k]));
  return [];
}
const pathText = (p: (string | number)[]) => p.reduce<string>((s, k) => (typeof k === 'number' ? `${s}[${k}]` : s ? `${s}.${k}` : k), '');
function setAt(x: unknown, p: (string | number)[], v: unknown): void {
  let o = x as Record<string | number, unknown>;
  for (const k of p.slice(0, -1)) o = o[k] as Record<string | number, unknown>;
  o[p[p.length - 1]] = v;
}
function problems(input: unknown): { path: string; value: unknown; expected: string }[] {
  try {
    parseScenario(input, { files: false });
  } catch (e) {
    if (e instanceof ScenarioError) return e.problems;
    throw e;
  }
  return [];
}

describe('scenario validator', () => {
  it('accepts scenarios built from valid parts, fills every default, and a resolved scenario parses to itself', () => {
    fc.assert(fc.property(scenarioArb, (raw) => {
      const s = parseScenario(json(raw), { files: false });
      expect(s.sampleInterval).toBeGreaterThan(0);
      expect(s.host.cpu.ghz).toBe(2.5);
      expect(s.costs.swapIn.hdd).toBe(8000);
      for (const v of s.vms) {
        expect(v.limitMiB).toBe(v.memoryMiB);
        expect(v.shares).toBeGreaterThan(0);
        expect(v.os.balloon.inflateMiBps).toBe(64);
        expect(v.workload.dataset).toBe(v.name);
      }
      expect(parseScenario(json(s), { files: false })).toEqual(s);
    }), { seed: SEED, numRuns: 200 });
  });

  it('names the field path, the value and what was expected when one number is made invalid', () => {
    const bad = [-1, 'x', null, true] as const;
    fc.assert(fc.property(scenarioArb, fc.nat(), fc.constantFrom(...bad), (raw, pick, value) => {
      const input = json(raw) as unknown;
      const paths = numberPaths(input);
      const p = paths[pick % paths.length];
      // a negative number, a string, null, a boolean: outside the domain of every numeric field
      const v = value;
      setAt(input, p, v);
      const got = problems(input);
      expect(got.length).toBeGreaterThan(0);
      const mine = got.filter((q) => q.path === pathText(p));
      expect(mine.length, `problems: ${JSON.stringify(got)} for ${pathText(p)} = ${String(v)}`).toBeGreaterThan(0);
      expect(mine[0].expected).toMatch(/\w/);
      if (v === 'x') expect(mine[0].value).toBe('x');
    }), { seed: SEED, numRuns: 300 });
  });

  it('names an unknown field with the fields it knows', () => {
    fc.assert(fc.property(scenarioArb, fc.constantFrom('host', 'vms[0]', 'vms[0].workload'), (raw, where) => {
      const input = json(raw) as Record<string, unknown>;
      const target = where === 'host' ? input.host : where === 'vms[0]' ? (input.vms as unknown[])[0] : ((input.vms as Record<string, unknown>[])[0].workload ??= { phases: [] });
      (target as Record<string, unknown>).memorySize = 5;
      const got = problems(input);
      expect(got).toContainEqual(expect.objectContaining({ path: `${where}.memorySize`, value: 5 }));
      expect(got.find((q) => q.path === `${where}.memorySize`)!.expected).toMatch(/^no such field \(known: /);
    }), { seed: SEED, numRuns: 50 });
  });

  it('checks across fields: active sets within the guest, phase order, reservations, names once count expands', () => {
    const base = (): ScenarioInput => ({
      duration: 10,
      host: { machineMemoryMiB: 1024 },
      vms: [
        { name: 'a', memoryMiB: 512, workload: { phases: [{ at: 0, activeMiB: 100, touchesPerSecond: 1 }] } },
        { name: 'b', memoryMiB: 512 },
        { name: 'c', memoryMiB: 512, os: { anonMiB: 64 }, workload: { phases: [{ at: 0, activeMiB: 500, touchesPerSecond: 1 }, { at: 0, activeMiB: 1, touchesPerSecond: 1 }] } },
      ],
    });
    const got = problems(base());
    expect(got).toContainEqual({ path: 'vms[2].workload.phases[0].activeMiB', value: 500, expected: 'at most 448 (memoryMiB 512 less os.anonMiB 64)' });
    expect(got).toContainEqual(expect.objectContaining({ path: 'vms[2].workload.phases[1].at', value: 0 }));
    // an OS too big for its VM is the one problem: no "at most -48" for the active set it leaves no room for
    const small = base();
    small.vms[2] = { name: 'c', memoryMiB: 16, workload: { phases: [{ at: 0, activeMiB: 4, touchesPerSecond: 1 }] } };
    const tooSmall = problems(small).filter((q) => q.path.startsWith('vms[2]'));
    expect(tooSmall.map((q) => q.path)).toEqual(['vms[2].os']);
    expect(tooSmall[0].expected).toMatch(/^kernelMiB \+ cacheMiB \+ anonMiB within memoryMiB \(16 MiB\)/);
    const names = base();
    names.vms[1] = { name: 'a', memoryMiB: 64, count: 2 };
    names.vms.push({ name: 'a-2', memoryMiB: 64 });
    expect(problems(names)).toContainEqual(expect.objectContaining({ path: 'vms[3].name', value: 'a-2' }));
    const res = base();
    res.vms[0].reservationMiB = 600;
    res.vms[1].reservationMiB = 500;
    expect(problems(res)).toEqual(expect.arrayContaining([
      expect.objectContaining({ path: 'vms[0].reservationMiB', value: 600, expected: 'at most memoryMiB (512)' }),
      expect.objectContaining({ path: 'vms[1].reservationMiB', value: 500 }),
    ]));
    // the host's admission rule: reservations and the page tables it sets aside for each VM
    const full = { duration: 1, host: { machineMemoryMiB: 64 }, vms: [{ name: 'r', memoryMiB: 64, reservationMiB: 64, os: { kernelMiB: 4, cacheMiB: 4, anonMiB: 4 } }] };
    // 64 MiB: 16384 pages, 1 root + 32 + 1 + 1 + 1 tables = 36 frames = 0.14 MiB
    expect(problems(full)).toEqual([{ path: 'vms[0].reservationMiB', value: 64, expected: 'reservations (64 MiB) and the page tables the hypervisor sets aside for the VMs (0.14 MiB) within host.machineMemoryMiB (64) up to this VM' }]);
    expect(problems({ ...full, vms: [{ ...full.vms[0], reservationMiB: 63 }] })).toEqual([]);
    // 30 VMs of 16 MiB: 12 table frames each, 360 frames = 1.41 MiB
    const many = { duration: 1, host: { machineMemoryMiB: 1 }, vms: [{ name: 'v', count: 30, memoryMiB: 16, os: { kernelMiB: 1, cacheMiB: 0, anonMiB: 0 } }] };
    expect(problems(many)).toEqual([expect.objectContaining({ path: 'vms[0].memoryMiB', value: 16, expected: 'reservations (0 MiB) and the page tables the hypervisor sets aside for the VMs (1.41 MiB) within host.machineMemoryMiB (1) up to this VM: a smaller VM, or fewer' })]);
    const trace = base();
    trace.vms[1].workload = { trace: '/no/such/trace' };
    expect(problems(trace)).toContainEqual(expect.objectContaining({ path: 'vms[1].mmu', value: 'none' }));
    expect(() => parseScenario(trace)).toThrow(/vms\[1\]\.workload\.trace: got "\/no\/such\/trace", expected a readable trace file/);
    expect(() => parseScenario({ ...base(), policy: { kind: 'mine' } }, { policies: ['basic'] })).toThrow(/policy\.kind: got "mine", expected one of 'basic'/);
  });

  it('reports every problem at once, one per line, path first', () => {
    const e = (() => {
      try {
        parseScenario({ duration: 0, host: { machineMemoryMiB: 9999 }, vms: [{ name: '', memoryMiB: 1.5, mmu: 'npt' }] });
      } catch (x) {
        return x as ScenarioError;
      }
    })()!;
    expect(e).toBeInstanceOf(ScenarioError);
    expect(e.message.split('\n')).toEqual([
      'duration: got 0, expected above 0',
      'host.machineMemoryMiB: got 9999, expected at most 3584',
      'vms[0].name: got "", expected at least 1',
      'vms[0].memoryMiB: got 1.5, expected an integer',
      `vms[0].mmu: got "npt", expected one of "none", "ept", "shadow"`,
    ]);
  });
});

describe('scenario JSON Schema', () => {
  const schema = scenarioJsonSchema() as { properties: Record<string, { properties?: Record<string, unknown> }>; required: string[]; additionalProperties: boolean };

  it('describes the fields the validator knows, requires what it requires, and allows $schema', () => {
    expect(Object.keys(schema.properties).sort()).toEqual(['$schema', 'content', 'costs', 'description', 'duration', 'host', 'policy', 'sampleInterval', 'seed', 'step', 'vms'].sort());
    expect(schema.required.sort()).toEqual(['duration', 'host', 'vms']);
    expect(schema.additionalProperties).toBe(false);
    expect(Object.keys(schema.properties.host.properties!)).toContain('machineMemoryMiB');
    const text = JSON.stringify(schema);
    for (const field of ['activeMiB', 'touchesPerSecond', 'writeFraction', 'zipf', 'deflateOnOom', 'freePageReporting', 'pages_to_scan', 'shareScanGHz', 'tier']) expect(text).toContain(`"${field}"`);
    // a scenario naming the schema in $schema is valid
    expect(() => parseScenario({ $schema: './node_modules/memvisor/dist/scenario.schema.json', duration: 1, host: { machineMemoryMiB: 64 }, vms: [{ name: 'v', memoryMiB: 256 }] })).not.toThrow();
  });
});
