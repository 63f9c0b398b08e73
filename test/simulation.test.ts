/**
 * The simulation over simulated time: lazy allocation, zero stall when uncontended, swap stalls
 * by tier, determinism, the whole-run oracle (and proof that it fires), VMs through EPT and
 * shadow cores, and library use (advance by any amount). Small hosts and short runs: the suite
 * runs the debug module.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { readFileSync } from 'node:fs';
import { Simulation, type Policy, type ScenarioInput, type Sample } from '../src/index.js';
import { engineOf } from '../src/engine/engine.js';
import { VM } from '../src/host/vm.js';
import { asGppn, asMpn, hpaOf } from '../src/engine/addr.js';

/** A small guest OS, so tests boot fast: 4 + 8 + 4 MiB. */
const SMALL_OS = { kernelMiB: 4, cacheMiB: 8, anonMiB: 4, swapMiB: 64 };

function scenario(over: Partial<ScenarioInput> & Pick<ScenarioInput, 'vms' | 'host'>): ScenarioInput {
  return { duration: 6, seed: 7, content: { source: 'generated' }, ...over };
}

async function run(s: ScenarioInput) {
  const sim = await Simulation.create(s);
  try {
    return sim.run();
  } finally {
    sim.close();
  }
}

const series = (samples: Sample[], vm: string, f: (v: Sample['vms'][string]) => number) => samples.map((s) => f(s.vms[vm]));

describe('lazy allocation over time', () => {
  it('a VM touching 100 MiB of its 1 GiB on an uncontended host is granted its OS footprint plus about 100 MiB, all run long', async () => {
    const r = await run(scenario({
      duration: 8,
      host: { machineMemoryMiB: 2048 },
      vms: [{ name: 'vm', memoryMiB: 1024, os: { kernelMiB: 16, cacheMiB: 32, anonMiB: 16 }, workload: { phases: [{ at: 0, activeMiB: 100, touchesPerSecond: 300_000 }] } }],
    }));
    const footprint = 16 + 32 + 16;
    const grant = series(r.samples, 'vm', (v) => v.GRANT);
    for (const g of grant) expect(g).toBeLessThan(footprint + 100 + 1);
    // the active set fills within the first seconds and then stays
    expect(grant.at(-1)!).toBeGreaterThan(footprint * 0.8 + 99);
    expect(series(r.samples, 'vm', (v) => v.trueActiveMiB).at(-1)).toBeCloseTo(100, 0);
    expect(r.verified.ok).toBe(true);
  });
});

describe('cost', () => {
  it('an uncontended VM in steady state (active set already touched, no sharing) has zero stall and completes every touch', async () => {
    const r = await run(scenario({
      host: { machineMemoryMiB: 512, sharing: { enabled: false } },
      vms: [{ name: 'vm', memoryMiB: 256, os: SMALL_OS, workload: { phases: [{ at: 0, activeMiB: 32, touchesPerSecond: 200_000, skew: { zipf: 0.9 } }] } }],
    }));
    const steady = r.samples.slice(3);
    for (const s of steady) {
      expect(s.vms.vm.stall).toBe(0);
      expect(s.vms.vm.slowdown).toBe(1);
      expect(s.vms.vm.touchesCompleted).toBe(s.vms.vm.touchesAsked);
    }
    // the first second paid for its first touches
    expect(r.samples[0].vms.vm.stall).toBeGreaterThan(0);
  });

  it('a VM forced to swap stalls, and more on a slower swap tier', async () => {
    const stall: Record<string, number> = {};
    const done: Record<string, number> = {};
    for (const tier of ['hostcache', 'ssd', 'hdd'] as const) {
      const r = await run(scenario({
        duration: 5,
        host: { machineMemoryMiB: 48, swap: { tier }, compression: { cachePercent: 0 }, sharing: { enabled: false } },
        policy: { balloonMaxPercent: 0 },
        vms: [{ name: 'vm', memoryMiB: 128, os: { kernelMiB: 2, cacheMiB: 2, anonMiB: 2, swapMiB: 0 }, workload: { phases: [{ at: 0, activeMiB: 64, touchesPerSecond: 20_000 }] } }],
      }));
      const late = r.samples.slice(2);
      stall[tier] = late.reduce((a, s) => a + s.vms.vm.stall, 0);
      done[tier] = late.reduce((a, s) => a + s.vms.vm.touchesCompleted, 0);
      expect(late.every((s) => s.vms.vm['SWR/s'] > 0)).toBe(true);
      expect(r.verified.ok).toBe(true);
    }
    expect(stall.hostcache).toBeGreaterThan(0);
    expect(stall.ssd).toBeGreaterThan(stall.hostcache);
    expect(stall.hdd).toBeGreaterThan(stall.ssd);
    expect(done.hdd).toBeLessThan(done.ssd);
  });
});

describe('determinism', () => {
  const s = (seed: number) => scenario({
    seed,
    duration: 3,
    host: { machineMemoryMiB: 80, sharing: { shareScanTime: 0.05 } },
    vms: [
      { name: 'web', count: 2, memoryMiB: 64, os: SMALL_OS, workload: { phases: [{ at: 0, activeMiB: 32, touchesPerSecond: 30_000, skew: { zipf: 1.1 } }] } },
      { name: 'db', memoryMiB: 64, mmu: 'ept', os: SMALL_OS, workload: { phases: [{ at: 0, activeMiB: 20, touchesPerSecond: 30_000, writeFraction: 0.5 }] } },
    ],
  });

  it('the same scenario and seed give byte-identical JSON; another seed another run', async () => {
    const a = JSON.stringify(await run(s(3)));
    const b = JSON.stringify(await run(s(3)));
    expect(b).toBe(a);
    const c = JSON.stringify(await run(s(4)));
    expect(c).not.toBe(a);
    const parsed = JSON.parse(a);
    expect(parsed.verified.ok).toBe(true);
    // this host is overcommitted: the run did reclaim
    expect(parsed.samples.some((x: Sample) => Object.values(x.vms).some((v) => v.SWCUR + v['ZIP/MB'] + v.MCTLSZ > 0))).toBe(true);
  });
});

describe('the whole-run oracle', () => {
  const pressure = scenario({
    duration: 4,
    host: { machineMemoryMiB: 64, sharing: { shareScanTime: 0.05 } },
    vms: [{ name: 'vm', count: 2, memoryMiB: 64, os: SMALL_OS, workload: { phases: [{ at: 0, activeMiB: 36, touchesPerSecond: 50_000, writeFraction: 0.3 }] } }],
  });
  // the basic policy balloons slowly; this one asks for 40 MiB of each VM, so the guests swap too
  const squeeze: Policy = { kind: 'squeeze', start: (ctx) => ctx.every(1, () => ctx.vms.forEach((v) => (v.balloonTarget = 40 * 256))) };
  let sim: Simulation;
  let result: ReturnType<Simulation['run']>;
  beforeAll(async () => {
    sim = await Simulation.create(pressure, { policy: squeeze });
    result = sim.run();
  });
  afterAll(() => sim.close());

  it('holds over a run with sharing, compression, host swap, ballooning and guest swap', () => {
    for (const v of Object.values(result.samples.at(-1)!.vms)) {
      expect(v.SWCUR).toBeGreaterThan(0);
      expect(v['ZIP/MB']).toBeGreaterThan(0);
      expect(v.MCTLSZ).toBeGreaterThan(0);
      expect(v.guest.swapMiB).toBeGreaterThan(0);
    }
    expect(result.samples.some((x) => x.host.sharedMiB > 0)).toBe(true);
    expect(result.verified.ok).toBe(true);
    expect(result.verified.bytes).toBeGreaterThan(2 * 36 * (1 << 20));
  });

  it('fires on a byte changed in a resident page (and holds again once it is changed back)', () => {
    const { vm } = sim.vm('vm-1');
    const e = engineOf(sim.host);
    const mpn = (g: number) => asMpn(e.reclaim.pmapFrame(vm.id, asGppn(g)));
    let gppn = -1;
    for (let g = 0; g < vm.pages && gppn < 0; g++) if (vm.pageState(g) === 1 && e.ram.frameRefs(mpn(g)) === 1) gppn = g;
    expect(gppn).toBeGreaterThanOrEqual(0);
    const hpa = hpaOf(mpn(gppn), 100);
    const before = sim.host.readMachine(hpa, 1);
    sim.host.writeMachine(hpa, Uint8Array.of(before[0] ^ 0x40));
    expect(sim.verify().ok).toBe(false);
    sim.host.writeMachine(hpa, before);
    expect(sim.verify().ok).toBe(true);
  });

  it('fires on a page corrupted in the host swap store and in the guest swap store', () => {
    const { vm, guest } = sim.vm('vm-2');
    let slot = -1;
    for (let g = 0; g < vm.pages && slot < 0; g++) if (vm.pageState(g) === 5) slot = engineOf(sim.host).reclaim.pmapFrame(vm.id, asGppn(g));
    expect(slot).toBeGreaterThanOrEqual(0);
    vm.swap.corrupt(slot, 77);
    expect(sim.verify().ok).toBe(false);
    vm.swap.corrupt(slot, 77); // the same bit again: as written
    expect(sim.verify().ok).toBe(true);
    expect(guest.swap.stats().used).toBeGreaterThan(0);
    const se = engineOf(sim.host).guest;
    se.verifyBegin(vm.id);
    const gslot = se.verifyGuestList(vm.id).slots[0];
    guest.swap.corrupt(gslot, 5);
    expect(sim.verify().ok).toBe(false);
  });
});

describe('the guest model audit', () => {
  it('passes after a run and fires on a count or a swap tally that no longer matches the pages', async () => {
    // release module: a debug one would abort on the first broken invariant, before the audit says which
    const sim = await Simulation.create(scenario({
      duration: 2,
      host: { machineMemoryMiB: 64 },
      vms: [{ name: 'vm', memoryMiB: 48, os: SMALL_OS, workload: { phases: [{ at: 0, activeMiB: 20, touchesPerSecond: 30_000 }] } }],
    }), { flavor: 'release' });
    sim.run();
    sim.audit();
    const id = sim.vm('vm').vm.id;
    const se = engineOf(sim.host).guest;
    const free = se.get(id, 'free');
    se.set(id, 'free', free + 1);
    expect(() => sim.audit()).toThrow(/guest audit of VM "vm": invariant 3 broken/);
    se.set(id, 'free', free);
    sim.audit();
    se.set(id, 'swapHeld', se.get(id, 'swapHeld') + 1);
    expect(() => sim.audit()).toThrow(/invariant 7 broken/);
    sim.close();
  });
});

describe('VMs through MMU cores', () => {
  it('ept and shadow VMs (two of each: every VM id) run with translation time, and nothing is lost', async () => {
    const r = await run(scenario({
      duration: 2,
      host: { machineMemoryMiB: 96, sharing: { shareScanTime: 0.05 } },
      vms: [
        { name: 'e', count: 2, memoryMiB: 48, mmu: 'ept', os: SMALL_OS, workload: { phases: [{ at: 0, activeMiB: 20, touchesPerSecond: 25_000, writeFraction: 0.3 }] } },
        { name: 's', count: 2, memoryMiB: 48, mmu: 'shadow', os: SMALL_OS, workload: { phases: [{ at: 0, activeMiB: 20, touchesPerSecond: 25_000, writeFraction: 0.3 }] } },
      ],
    }));
    expect(r.verified.ok).toBe(true);
    const last = r.samples.at(-1)!;
    for (const n of ['e-1', 'e-2', 's-1', 's-2']) {
      expect(last.vms[n].translation).toBeGreaterThan(0);
      expect(last.vms[n].trueActiveMiB).toBeGreaterThan(15);
    }
    expect(last.host.pageTablesMiB).toBeGreaterThan(0);
  });
});

describe('trace workloads', () => {
  it('replay a lackey trace through the VM\'s MMU at the given record rate, looping, with its shadow tables', async () => {
    const trace = new URL('./fixtures/tiny.lackey.gz', import.meta.url).pathname;
    const r = await run(scenario({
      duration: 2,
      host: { machineMemoryMiB: 64 },
      vms: [{ name: 't', memoryMiB: 32, mmu: 'shadow', os: { kernelMiB: 2, cacheMiB: 2, anonMiB: 2 }, workload: { trace, traceRecordsPerSecond: 30_000 } }],
    }));
    for (const s of r.samples) {
      expect(s.vms.t.touchesAsked).toBe(30_000); // the trace has 12k records: it loops
      expect(s.vms.t.touchesCompleted).toBeGreaterThan(29_900);
      expect(s.vms.t.translation).toBeGreaterThan(0);
    }
    expect(r.samples[0].host.pageTablesMiB).toBeGreaterThan(0); // its shadow tables
    expect(r.verified.ok).toBe(true);
  });
});

describe('library use', () => {
  it('advancing in whole steps gives the run that one call to the end gives; any other amounts the same samples', async () => {
    const s = scenario({
      duration: 3,
      host: { machineMemoryMiB: 64 },
      vms: [{ name: 'vm', count: 2, memoryMiB: 48, os: SMALL_OS, workload: { phases: [{ at: 0, activeMiB: 20, touchesPerSecond: 30_000 }, { at: 1.5, activeMiB: 30, touchesPerSecond: 30_000, ramp: 1, skew: { zipf: 1 } }] } }],
    });
    const whole = await run(s);
    const sim = await Simulation.create(s);
    const got: Sample[] = [];
    sim.onSample((x) => got.push(x));
    for (let i = 0; i < 5; i++) sim.advance(0.5); // step 0.1: whole steps
    expect(sim.now).toBe(2.5);
    const r = sim.run();
    sim.close();
    expect(got.length).toBe(whole.samples.length);
    expect(JSON.stringify(r.samples)).toBe(JSON.stringify(whole.samples));
    // cut anywhere: a slice splits where the caller stopped, the samples come at the same times
    const odd = await Simulation.create(s);
    const times: number[] = [];
    for (let i = 0; i < 13; i++) for (const x of odd.advance(0.23)) times.push(x.t);
    const rest = odd.run();
    odd.close();
    expect(rest.samples.map((x) => x.t)).toEqual([1, 2, 3]);
    expect(times).toEqual([1, 2]);
    expect(rest.verified.ok).toBe(true);
    // past the duration: time stops at it, and the run is the one that ends there
    const long = await Simulation.create(s);
    const seen = [...long.advance(2), ...long.advance(2), ...long.advance(2)];
    expect(long.now).toBe(3);
    expect(seen.map((x) => x.t)).toEqual([1, 2, 3]);
    const over = long.run();
    long.close();
    expect(JSON.stringify(over)).toBe(JSON.stringify(whole));
    // keepSamples false: the samples go to the listeners and advance's return, none is held
    const lean = await Simulation.create(s, { keepSamples: false });
    const heard: Sample[] = [];
    lean.onSample((x) => heard.push(x));
    const first = lean.advance(1.5);
    const end = lean.run();
    lean.close();
    expect(first.map((x) => x.t)).toEqual([1]);
    expect(lean.allSamples).toEqual([]);
    expect(end.samples).toEqual([]);
    expect(JSON.stringify(heard)).toBe(JSON.stringify(whole.samples));
    expect(end.verified).toEqual(whole.verified);
    await expect(Simulation.create(s, { keepSamples: 'no' as unknown as boolean })).rejects.toThrow(/keepSamples: got "no", expected true or false/);
  });

  it('sampleCount is the number of samples a run takes, for any duration and interval', async () => {
    for (const [duration, sampleInterval] of [[3, 1], [2.5, 1], [1, 0.3], [0.7, 0.7], [0.25, 1]]) {
      const sim = await Simulation.create(scenario({ duration, sampleInterval, step: 0.05, host: { machineMemoryMiB: 64 }, vms: [{ name: 'vm', memoryMiB: 48, os: SMALL_OS, workload: { phases: [{ at: 0, activeMiB: 4, touchesPerSecond: 1000 }] } }] }));
      const expected = sim.sampleCount;
      const r = sim.run();
      sim.close();
      expect(r.samples.length, `duration ${duration}, interval ${sampleInterval}`).toBe(expected);
    }
  });
});

describe('a VM squeezed by the low state', () => {
  it('at its limit, with victims that share-before-swap merges round after round, it pages out until it has room (a random scenario of the fuzz test)', async () => {
    // vm2-2 held its limit of 27 MiB; every relief round merged its 32 victims with its twin's
    // pages (resident still) and the relief stopped after 16 such rounds, naming it out of memory
    const scenario = JSON.parse(readFileSync(new URL('./fixtures/merging-at-limit.json', import.meta.url), 'utf8')) as ScenarioInput;
    const sim = await Simulation.create(scenario);
    try {
      expect(sim.run().verified.ok).toBe(true);
    } finally {
      sim.close();
    }
  });

  it('reclaimedSharedBeforeSwapMiB counts every victim share before swap merged, those of the host\'s own limit relief too', async () => {
    // the same scenario: most merges come from the host's relief, which the esx policy's field
    // left out when it counted only the page-outs it asked for itself
    const scenario = JSON.parse(readFileSync(new URL('./fixtures/merging-at-limit.json', import.meta.url), 'utf8')) as ScenarioInput;
    let merged = 0;
    const pageOut = VM.prototype.pageOutInternal;
    const spy = vi.spyOn(VM.prototype, 'pageOutInternal').mockImplementation(function (this: VM, count: number) {
      const r = pageOut.call(this, count);
      merged += r.shared;
      return r;
    });
    const sim = await Simulation.create(scenario);
    try {
      const r = sim.run();
      expect(merged).toBeGreaterThan(0);
      expect(sim.host.stats().host.pagesSharedBeforeSwap).toBe(merged);
      expect(r.samples.at(-1)!.host.reclaimedSharedBeforeSwapMiB).toBe(merged / 256);
    } finally {
      spy.mockRestore();
      sim.close();
    }
  });

  it('blocked at 60 pages while 56 of them are zero pages, it still completes its touches (a random scenario of the fuzz test)', async () => {
    // vm0-2 (shadow paging) was blocked at 60 pages holding 4 mapped and 56 zero pages: each
    // 'limit' relief paged out the page-table page its retried touch had just swapped in, and the
    // touch gave up after 64 rounds. The zero pages (no frame of their own) are dropped first now
    const scenario = JSON.parse(readFileSync(new URL('./fixtures/zero-crowded-block.json', import.meta.url), 'utf8')) as ScenarioInput;
    const sim = await Simulation.create(scenario);
    try {
      const r = sim.run();
      expect(r.verified.ok).toBe(true);
      expect(r.samples.at(-1)!.t).toBeCloseTo(scenario.duration, 6);
    } finally {
      sim.close();
    }
  });
});
