/**
 * Random scenarios, run to their end: fast-check draws small valid scenarios over every knob a
 * scenario file has (policy kind, MMU, swap backing and tier, sharing scanner, order and salting,
 * zip cache, victims, reservations and limits, guest OS and balloon options, content kinds,
 * phases with ramps, skews and releases, step and sample interval; or a policy that asks for
 * random balloon targets and page-outs) and each one must run to its
 * end on the debug module, auditing host and guests at every sample, with the whole-run oracle
 * finding every guest page as its guest last wrote it. A valid scenario that throws, audits
 * wrong or loses a byte is a counterexample fast-check shrinks and prints with its seed.
 * MEMVISOR_SOAK=1 runs ten times as many; MEMVISOR_FUZZ_RUNS and MEMVISOR_FUZZ_SEED set the count
 * and the seed.
 */
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Simulation, parseScenario, pageTableOverhead, type Policy, type ScenarioInput } from '../src/index.js';
import { ptReserveMiB, CONTENT_KINDS } from '../src/sim/scenario.js';

const RUNS = Number(process.env.MEMVISOR_FUZZ_RUNS ?? (process.env.MEMVISOR_SOAK ? 600 : 60));
const SEED = Number(process.env.MEMVISOR_FUZZ_SEED ?? 20261127);
const swapDir = mkdtempSync(join(tmpdir(), 'memvisor-fuzz-'));
afterAll(() => rmSync(swapDir, { recursive: true, force: true }));

const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
const frac = (min = 0, max = 1) => fc.double({ min, max, noNaN: true });

const phaseArb = fc.record({
  gap: frac(0.2, 3),
  // often nearly all the guest can hold: pressure inside the guest (guest swap) and blocks far
  // below what a VM holds
  active: fc.oneof(frac(0, 1), frac(0.85, 1)),
  touchesPerSecond: fc.oneof(fc.constant(0), fc.integer({ min: 100, max: 40_000 }), fc.integer({ min: 40_000, max: 200_000 })),
  writeFraction: frac(),
  skew: fc.oneof(fc.constant('uniform' as const), frac(0.2, 2).map((zipf) => ({ zipf }))),
  ramp: opt(frac(0, 2)),
  release: fc.boolean(),
});

const vmArb = fc.record({
  count: fc.integer({ min: 1, max: 2 }),
  memoryMiB: fc.integer({ min: 12, max: 64 }),
  mmu: fc.constantFrom('none', 'none', 'ept', 'shadow'),
  reserve: opt(frac(0, 0.6)),
  limit: opt(frac(0.5, 1)),
  shares: opt(fc.integer({ min: 1, max: 4000 })),
  salt: opt(fc.integer({ min: 0, max: 2 })),
  kernelMiB: fc.integer({ min: 1, max: 4 }),
  cacheMiB: fc.integer({ min: 0, max: 6 }),
  anonMiB: fc.integer({ min: 0, max: 4 }),
  swapMiB: fc.integer({ min: 0, max: 48 }),
  zeroFreedPages: fc.boolean(),
  balloon: fc.record({ enabled: fc.boolean(), deflateOnOom: opt(fc.boolean()), freePageReporting: opt(fc.boolean()), reportDelay: opt(frac(0, 2)) }, { requiredKeys: ['enabled'] }),
  content: opt(fc.uniqueArray(fc.constantFrom(...CONTENT_KINDS), { minLength: 1, maxLength: 4 }).chain((kinds) => fc.tuple(fc.constant(kinds), fc.array(fc.integer({ min: 1, max: 5 }), { minLength: kinds.length, maxLength: kinds.length })))),
  dataset: opt(fc.constantFrom('a', 'b')),
  phases: fc.array(phaseArb, { maxLength: 4 }),
});

const scenarioArb = fc.record({
  seed: fc.integer({ min: 0, max: 1 << 30 }),
  duration: frac(1, 8),
  sampleInterval: frac(0.25, 2),
  step: frac(0.02, 0.5),
  machineShare: fc.oneof(frac(0.2, 0.6), frac(0.2, 0.6), frac(0.6, 1.3)),
  policy: fc.constantFrom('esx', 'esx', 'kvm', 'basic', 'chaos'),
  chaos: fc.record({ period: frac(0.1, 1), balloon: fc.oneof(frac(0, 1), frac(0.7, 1)), pageOut: frac(0, 1), scan: fc.boolean() }),
  samplePeriod: opt(frac(0.5, 5)),
  idleTax: opt(fc.integer({ min: 0, max: 95 })),
  balloonMaxPercent: opt(fc.integer({ min: 0, max: 100 })),
  largePages: opt(fc.boolean()),
  backing: fc.constantFrom('memory', 'memory', 'file'),
  tier: fc.constantFrom('hostcache', 'ssd', 'hdd'),
  sharing: fc.record({ enabled: fc.boolean(), salting: fc.constantFrom('per-vm', 'host'), scanner: opt(fc.constantFrom('esx', 'ksm')), order: opt(fc.constantFrom('random', 'sequential')), shareScanTime: frac(0.02, 0.5) }),
  cachePercent: fc.integer({ min: 0, max: 30 }),
  victimPolicy: opt(fc.constantFrom('random', 'lru')),
  vms: fc.array(vmArb, { minLength: 1, maxLength: 3 }),
});

type Drawn = typeof scenarioArb extends fc.Arbitrary<infer T> ? T : never;

/** A valid scenario from a draw: every cross-field rule (scenario.ts crossChecks) met by construction. */
function build(d: Drawn): ScenarioInput {
  const step = Math.min(d.step, d.sampleInterval);
  let guestMiB = 0;
  const vms = d.vms.map((v, i) => {
    const room = v.memoryMiB - ptReserveMiB({ mmu: v.mmu, memoryMiB: v.memoryMiB });
    const osMiB = Math.min(v.kernelMiB + v.cacheMiB + v.anonMiB, room);
    const kernelMiB = Math.min(v.kernelMiB, osMiB), cacheMiB = Math.min(v.cacheMiB, osMiB - kernelMiB), anonMiB = osMiB - kernelMiB - cacheMiB;
    const work = room - anonMiB;
    let at = 0;
    const phases = v.phases.map((p, j) => {
      at = j === 0 ? 0 : at + p.gap;
      return { at, activeMiB: Math.floor(p.active * work * 4) / 4, touchesPerSecond: p.touchesPerSecond, writeFraction: p.writeFraction, skew: p.skew, ramp: j === 0 ? 0 : p.ramp ?? 0, release: p.release };
    });
    const reservationMiB = Math.floor((v.reserve ?? 0) * v.memoryMiB);
    guestMiB += v.memoryMiB * v.count;
    return {
      name: `vm${i}`,
      count: v.count,
      memoryMiB: v.memoryMiB,
      mmu: v.mmu,
      reservationMiB,
      limitMiB: v.limit === undefined ? undefined : Math.max(1, reservationMiB, Math.floor(v.limit * v.memoryMiB)),
      shares: v.shares,
      salt: v.salt,
      os: { image: i % 2 ? 'winsrv' : 'linux', kernelMiB, cacheMiB, anonMiB, swapMiB: v.swapMiB, zeroFreedPages: v.zeroFreedPages, balloon: v.balloon },
      workload: { dataset: v.dataset, content: v.content?.[0].map((kind, k) => ({ kind, weight: v.content![1][k] })), phases },
    };
  });
  // admission: reservations and the hypervisor's page tables for every VM fit
  const reserved = vms.reduce((a, v) => a + (v.reservationMiB + pageTableOverhead(v.memoryMiB * 256) / 256) * v.count, 0);
  const machineMemoryMiB = Math.max(8, Math.ceil(reserved), Math.round(guestMiB * d.machineShare));
  return {
    seed: d.seed,
    duration: d.duration,
    sampleInterval: d.sampleInterval,
    step,
    content: { source: 'generated' },
    host: {
      machineMemoryMiB,
      swap: { backing: d.backing as 'memory' | 'file', dir: d.backing === 'file' ? swapDir : undefined, tier: d.tier as 'ssd' },
      sharing: d.sharing as ScenarioInput['host']['sharing'],
      compression: { cachePercent: d.cachePercent },
      victimPolicy: d.victimPolicy as 'lru' | undefined,
    },
    policy: { kind: d.policy === 'chaos' ? 'basic' : d.policy, samplePeriod: d.samplePeriod, idleTax: d.idleTax, balloonMaxPercent: d.balloonMaxPercent, largePages: d.largePages },
    vms: vms as ScenarioInput['vms'],
  };
}

/**
 * A policy that asks for anything: every `period` s each VM gets a random balloon target (up to
 * `balloon` of its memory) and, with odds `pageOut`, a random host page-out; the scan rate jumps.
 * Whatever a policy asks, the mechanisms must lose nothing.
 */
function chaos(c: Drawn['chaos']): Policy {
  return {
    kind: 'chaos',
    start(ctx) {
      ctx.every(c.period, () => {
        for (const v of ctx.vms) {
          v.balloonTarget = Math.floor(ctx.random() * c.balloon * v.memoryPages);
          if (ctx.random() < c.pageOut) ctx.pageOut(v, Math.floor(ctx.random() * v.resident));
        }
        if (c.scan) ctx.setScanRate(ctx.random() < 0.3 ? null : Math.floor(ctx.random() * 20_000));
      });
    },
  };
}

describe('random scenarios', () => {
  it('are valid by construction (the generator keeps every cross-field rule)', () => {
    fc.assert(fc.property(scenarioArb, (d) => void parseScenario(build(d))), { seed: 11, numRuns: 500 });
  });

  it(`run to their end: audited at every sample, nothing lost (${RUNS} scenarios)`, async () => {
    const seen = new Set<string>();
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (d) => {
        const sim = await Simulation.create(build(d), { flavor: 'debug', audit: true, policy: d.policy === 'chaos' ? chaos(d.chaos) : undefined });
        try {
          const r = sim.run();
          sim.audit();
          expect(r.verified.ok).toBe(true);
          expect(r.samples.length).toBeGreaterThan(0);
          for (const x of r.samples) {
            if (x.host.sharedMiB > 0) seen.add('shared');
            for (const v of Object.values(x.vms)) {
              if (v.SWCUR > 0) seen.add('swapped');
              if (v['ZIP/MB'] > 0) seen.add('compressed');
              if (v.MCTLSZ > 0) seen.add('ballooned');
              if (v.guest.swapMiB > 0) seen.add('guest swap');
              if (v.stall > 0) seen.add('stalled');
            }
          }

        } finally {
          sim.close();
        }
      }),
      { seed: SEED, numRuns: RUNS },
    );
    // the draws reach every technique: a generator too gentle to reclaim would prove little
    expect([...seen].sort()).toEqual(['ballooned', 'compressed', 'guest swap', 'shared', 'stalled', 'swapped']);
  }, 600_000);
});
