/**
 * The guest OS model and its balloon driver, driven by a test policy that sets balloon targets:
 * the order pages are taken in (free, then page cache, then guest swap), the rate bounds,
 * deflate-on-OOM, free page reporting, double paging, and guest zeroing feeding zero-page
 * sharing. Every run ends with the whole-run oracle.
 */
import { describe, expect, it } from 'vitest';
import { Simulation, OOM_DEFLATE_PAGES, type Policy, type ScenarioInput, type Sample } from '../src/index.js';
import { engineOf } from '../src/engine/engine.js';

/** A policy whose balloon target (MiB) is a function of simulated time. */
function balloonTo(mib: (t: number) => number): Policy {
  return {
    kind: 'test',
    start(ctx) {
      const set = () => {
        for (const v of ctx.vms) v.balloonTarget = Math.round(mib(ctx.now) * 256);
      };
      set();
      ctx.every(0.5, set);
    },
  };
}

async function runWith(s: ScenarioInput, policy?: Policy) {
  const sim = await Simulation.create(s, { policy });
  try {
    return sim.run();
  } finally {
    sim.close();
  }
}

const at = (r: { samples: Sample[] }, t: number) => r.samples.find((s) => s.t === t)!.vms.vm;

describe('balloon driver', () => {
  const base: ScenarioInput = {
    duration: 6, seed: 5, content: { source: 'generated' },
    host: { machineMemoryMiB: 256, sharing: { enabled: false } },
    policy: { balloonMaxPercent: 100 },
    vms: [{
      name: 'vm', memoryMiB: 96,
      os: { kernelMiB: 4, cacheMiB: 16, anonMiB: 4, swapMiB: 64 },
      workload: { phases: [{ at: 0, activeMiB: 24, touchesPerSecond: 60_000 }] },
    }],
  };

  it('takes free pages first, then drops page cache, then makes the guest swap, each at its bounded rate', async () => {
    const r = await runWith(base, balloonTo(() => 80));
    const g = (t: number) => at(r, t);
    // t=1: free pages only (up to 64 MiB/s), page cache and swap untouched
    expect(g(1).MCTLSZ).toBeGreaterThan(40);
    expect(g(1).guest.freeMiB).toBe(0);
    expect(g(1).guest.cacheMiB).toBe(16);
    expect(g(1).guest.swapMiB).toBe(0);
    // then the page cache goes, at most reclaimMiBps (8 MiB/s), before anything is swapped
    expect(g(2).guest.cacheMiB).toBe(8);
    expect(g(2).MCTLSZ - g(1).MCTLSZ).toBe(8);
    expect(g(2).guest.swapMiB).toBe(0);
    expect(g(3).guest.cacheMiB).toBe(0);
    expect(g(3).guest.swapMiB).toBe(0);
    // then the guest swaps, still at 8 MiB/s
    expect(g(4).guest.swapMiB).toBe(8);
    expect(g(4).MCTLSZ - g(3).MCTLSZ).toBe(8);
    expect(g(6).MCTLSZ).toBe(80);
    for (const s of r.samples) expect(s.vms.vm.MCTLTGT).toBe(80);
    expect(r.verified.ok).toBe(true);
  });

  it('deflates when the target drops, at most deflateMiBps', async () => {
    const r = await runWith({ ...base, vms: [{ ...base.vms[0], os: { ...base.vms[0].os, balloon: { deflateMiBps: 16 } } }] }, balloonTo((t) => (t < 2 ? 40 : 0)));
    expect(at(r, 2).MCTLSZ).toBe(40);
    expect(at(r, 3).MCTLSZ).toBe(24);
    expect(at(r, 4).MCTLSZ).toBe(8);
    expect(at(r, 5).MCTLSZ).toBe(0);
    expect(r.verified.ok).toBe(true);
  });
});

describe('deflate-on-OOM', () => {
  const s = (deflateOnOom: boolean): ScenarioInput => ({
    duration: 5, seed: 2, content: { source: 'generated' },
    host: { machineMemoryMiB: 256, sharing: { enabled: false } },
    policy: { balloonMaxPercent: 100 },
    vms: [{
      name: 'vm', memoryMiB: 64,
      os: { kernelMiB: 4, cacheMiB: 4, anonMiB: 4, swapMiB: 0, balloon: { deflateOnOom } },
      workload: { phases: [{ at: 0, activeMiB: 4, touchesPerSecond: 50_000 }, { at: 3, activeMiB: 40, touchesPerSecond: 50_000 }] },
    }],
  });

  it('gives back 256 pages per guest OOM event; without it the allocations fail and the touches are lost', async () => {
    const sim = await Simulation.create(s(true), { policy: balloonTo(() => 44) });
    sim.advance(3);
    const balloon = () => engineOf(sim.host).guest.get(sim.vm('vm').vm.id, 'balloon');
    const before = balloon();
    expect(before).toBe(44 * 256);
    sim.advance(0.3); // no balloon poll in between: only OOM deflations move it
    const { guest } = sim.vm('vm');
    expect(guest.oomEvents).toBeGreaterThan(0);
    expect(before - balloon()).toBe(guest.oomEvents * OOM_DEFLATE_PAGES);
    const on = sim.run();
    sim.close();
    expect(on.verified.ok).toBe(true);

    const off = await runWith(s(false), balloonTo(() => 44));
    const last = off.samples.at(-1)!.vms.vm;
    expect(last.guest.oomEvents).toBeGreaterThan(0);
    expect(last.MCTLSZ).toBe(44);
    const done = (r: typeof off) => r.samples.slice(3).reduce((a, x) => a + x.vms.vm.touchesCompleted, 0);
    expect(done(off)).toBeLessThan(done(on));
    expect(off.verified.ok).toBe(true);
  });
});

describe('free page reporting', () => {
  const s = (freePageReporting: boolean): ScenarioInput => ({
    duration: 5, seed: 4, content: { source: 'generated' },
    host: { machineMemoryMiB: 256, sharing: { enabled: false } },
    vms: [{
      name: 'vm', memoryMiB: 128,
      os: { kernelMiB: 4, cacheMiB: 8, anonMiB: 4, balloon: { freePageReporting, reportDelay: 2 } },
      workload: { phases: [{ at: 0, activeMiB: 64, touchesPerSecond: 200_000 }, { at: 2, activeMiB: 0, touchesPerSecond: 0, release: true }] },
    }],
  });

  it('reports 2 MiB blocks free for 2 s; the host drops their backing (not before), and nothing else changes', async () => {
    const on = await runWith(s(true));
    const off = await runWith(s(false));
    const grant = (r: typeof on, t: number) => at(r, t).GRANT;
    expect(grant(on, 2)).toBeGreaterThan(75);
    expect(grant(on, 3)).toBe(grant(off, 3)); // freed at t=2, not yet 2 s old
    expect(grant(on, 4)).toBeLessThan(grant(off, 4) - 60); // whole blocks of the 64 MiB freed
    expect(grant(off, 5)).toBe(grant(off, 3));
    expect(at(on, 5).guest.freeMiB).toBe(at(off, 5).guest.freeMiB);
    expect(on.verified.ok && off.verified.ok).toBe(true);
  });
});

describe('double paging', () => {
  it('is counted when the guest swaps out pages the host had already swapped', async () => {
    const r = await runWith({
      duration: 6, seed: 9, content: { source: 'generated' },
      host: { machineMemoryMiB: 48, compression: { cachePercent: 0 }, sharing: { enabled: false } },
      policy: { balloonMaxPercent: 100 },
      vms: [{
        name: 'vm', memoryMiB: 128,
        os: { kernelMiB: 2, cacheMiB: 2, anonMiB: 2, swapMiB: 64 },
        workload: { phases: [{ at: 0, activeMiB: 80, touchesPerSecond: 40_000 }, { at: 3, activeMiB: 8, touchesPerSecond: 40_000 }] },
      }],
    }, balloonTo((t) => (t < 4 ? 0 : 100)));
    expect(at(r, 3).SWCUR).toBeGreaterThan(20);
    expect(at(r, 3).doublePaging).toBe(0);
    expect(at(r, 6).guest.swapMiB).toBeGreaterThan(0);
    expect(at(r, 6).doublePaging).toBeGreaterThan(0);
    expect(r.verified.ok).toBe(true);
  });
});

describe('guest zeroing', () => {
  const s = (zeroFreedPages: boolean): ScenarioInput => ({
    duration: 3, seed: 6, content: { source: 'generated' },
    host: { machineMemoryMiB: 256, sharing: { scanner: 'ksm', pages_to_scan: 2000, sleep_millisecs: 20 } },
    // small pages: on this roomy host the esx policy would back the guest with large pages, which are not shared
    policy: { largePages: false },
    vms: [{
      name: 'vm', memoryMiB: 64,
      os: { kernelMiB: 2, cacheMiB: 2, anonMiB: 2, zeroFreedPages },
      workload: { content: [{ kind: 'unique', weight: 1 }], phases: [{ at: 0, activeMiB: 32, touchesPerSecond: 200_000 }, { at: 1.5, activeMiB: 0, touchesPerSecond: 0, release: true }] },
    }],
  });

  it('of freed pages feeds zero-page sharing', async () => {
    const zeroing = await runWith(s(true));
    const plain = await runWith(s(false));
    expect(at(zeroing, 3).ZERO).toBeGreaterThan(30);
    expect(at(plain, 3).ZERO).toBeLessThan(1);
    expect(at(zeroing, 3).SHRDSVD).toBeGreaterThan(at(plain, 3).SHRDSVD + 29);
    expect(zeroing.verified.ok && plain.verified.ok).toBe(true);
  });
});

describe('the guest swap device', () => {
  it('holds exactly the pages the guest model has swapped, through a release after the host paged out most of an EPT guest; the audit says when they differ', async () => {
    const sim = await Simulation.create({
      duration: 7, seed: 3, content: { source: 'generated' },
      host: { machineMemoryMiB: 48, compression: { cachePercent: 0 }, sharing: { enabled: false } },
      policy: { balloonMaxPercent: 100, largePages: false },
      vms: [{
        name: 'vm', memoryMiB: 128, mmu: 'ept',
        os: { kernelMiB: 2, cacheMiB: 2, anonMiB: 2, swapMiB: 64, zeroFreedPages: true },
        workload: { phases: [{ at: 0, activeMiB: 80, touchesPerSecond: 40_000 }, { at: 5, activeMiB: 4, touchesPerSecond: 40_000, release: true }] },
      }],
    }, { policy: balloonTo((t) => (t < 2 ? 0 : 100)), audit: true });
    try {
      sim.advance(4.9);
      const { guest, vm } = sim.vm('vm');
      const swapped = guest.counts().swap;
      expect(swapped).toBeGreaterThan(1000);
      vm.pageOut(vm.stats().resident - 16); // the guest's page tables too: unmapping at the release meets host faults
      sim.advance(2.1);
      expect(guest.counts().swap).toBeLessThan(swapped / 2);
      expect(guest.swap.capacity - guest.swap.free).toBe(guest.counts().swap);
      expect(sim.result().verified.ok).toBe(true);
      guest.swap.alloc(1); // a slot the guest model does not know of
      expect(() => sim.audit()).toThrow(/its swap device holds \d+ slots, its guest \d+ swapped pages/);
    } finally {
      sim.close();
    }
  }, 60_000);
});
