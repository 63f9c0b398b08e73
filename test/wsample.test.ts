/**
 * Working-set sampling: the mechanism (assembly/translate/wsample.ts: random pages armed so their
 * next touch is seen, counted a period later, seeded) and the estimator (src/policy/sampling.ts:
 * max of a fast and a slow moving average), then the two together on constructed workloads: how
 * close the estimate gets on a steady one, and how fast it follows a phase change.
 */
import { describe, expect, it } from 'vitest';
import { Host, PState, type VM } from '../src/index.js';
import { engineOf } from '../src/engine/engine.js';
import { asGppn } from '../src/engine/addr.js';
import { ActiveEstimator, FAST_GAIN, SLOW_GAIN } from '../src/policy/sampling.js';

const PAGE = 4096;

/** Touches GPPNs [0, n) of `vm` (one read each, one WebAssembly call). */
function touchFirst(vm: VM, n: number): void {
  if (n > 0) vm.readPhys(0, n * PAGE);
}

describe('the sampling mechanism', () => {
  it('counts exactly the armed pages touched since, for a VM without an MMU', async () => {
    const host = await Host.create({ machineMemoryMiB: 16 });
    const vm = host.addVM({ name: 'v', memoryMiB: 4 });
    vm.writePhys(0, new Uint8Array(vm.pages * PAGE).fill(1));
    let r = vm.sampleWorkingSet(null, 200, 7);
    expect(r.touched).toBe(0);
    expect(r.sampled).toBe(0);
    expect(r.armed.length).toBe(200);
    expect(r.armed.every((g) => g < vm.pages)).toBe(true);
    // nothing touched: none counted
    const first = r.armed;
    r = vm.sampleWorkingSet(first, 200, 8);
    expect(r.touched).toBe(0);
    expect(r.sampled).toBe(200);
    // touch the lower half: exactly the armed pages there are counted (duplicates count each time)
    touchFirst(vm, 512);
    const armed = r.armed;
    r = vm.sampleWorkingSet(armed, 200, 9);
    expect(r.touched).toBe([...armed].filter((g) => g < 512).length);
    expect(r.touched).toBeGreaterThan(60);
    expect(r.touched).toBeLessThan(140);
    host.close();
  });

  it('is seeded: the same seed arms the same pages, another seed others', async () => {
    const host = await Host.create({ machineMemoryMiB: 16 });
    const vm = host.addVM({ name: 'v', memoryMiB: 4 });
    const a = vm.sampleWorkingSet(null, 100, 42).armed;
    const b = vm.sampleWorkingSet(null, 100, 42).armed;
    const c = vm.sampleWorkingSet(null, 100, 43).armed;
    expect([...a]).toEqual([...b]);
    expect([...a]).not.toEqual([...c]);
    host.close();
  });

  it('the LRU clock and pmap sampling clear accessed bits without hiding a touch from it', async () => {
    const host = await Host.create({ machineMemoryMiB: 16, victimPolicy: 'lru' });
    const vm = host.addVM({ name: 'v', memoryMiB: 4 });
    vm.writePhys(0, new Uint8Array(vm.pages * PAGE).fill(3));
    const armed = vm.sampleWorkingSet(null, 300, 1).armed;
    touchFirst(vm, vm.pages);
    // the clock sweeps every page clearing ACCESSED before it finds a victim (all were accessed)
    vm.pageOut(1);
    const gone = [...armed].filter((g) => vm.pageState(g) !== PState.Mapped).length; // the victim, if armed
    for (let g = 0; g < vm.pages; g++) engineOf(host).reclaim.pmapSample(vm.id, asGppn(g), true);
    const r = vm.sampleWorkingSet(armed, 0, 2);
    expect(r.touched).toBe(300 - gone);
    host.close();
  });

  for (const mmu of ['ept', 'shadow'] as const) {
    it(`${mmu}: a touch that hits in the TLB is seen once its page was armed (translations dropped)`, async () => {
      const host = await Host.create({ machineMemoryMiB: 64 });
      const vm = host.addVM({ name: 'v', memoryMiB: 4, mmu });
      const core = host.mmu();
      core.attach(vm);
      const vas = Array.from({ length: 48 }, (_, i) => 0x400000n + BigInt(i) * 4096n);
      const gppns = new Set<number>();
      for (const va of vas) {
        const t = core.translate(va, 'write');
        expect(t.fault).toBeNull();
      }
      // the GPPN behind each VA: the frame the translation reached, looked up in the pmap
      const byFrame = new Map<number, number>();
      for (let g = 0; g < vm.pages; g++) if (vm.pageState(g) === PState.Mapped) byFrame.set(engineOf(host).reclaim.pmapFrame(vm.id, asGppn(g)), g);
      for (const va of vas) gppns.add(byFrame.get(Number(core.translate(va).hpa! >> 12n))!);
      expect(gppns.size).toBe(48);
      // arm nearly every page (with replacement), then touch the 48 pages: they hit in the TLB unless dropped
      let r = vm.sampleWorkingSet(null, 4000, 5);
      const armed = r.armed;
      for (const va of vas) core.translate(va, 'read');
      r = vm.sampleWorkingSet(armed, 0, 6);
      const onData = [...armed].filter((g) => gppns.has(g)).length;
      const os = vm.guestOsRange!;
      const inOs = [...armed].filter((g) => g >= os.first && g < os.end).length;
      expect(onData).toBeGreaterThan(100);
      // every armed data page is seen; nothing outside the guest OS model's pages (its tables and data) is
      expect(r.touched).toBeGreaterThanOrEqual(onData);
      expect(r.touched).toBeLessThanOrEqual(inOs);
      // and without touches in between, none
      const again = vm.sampleWorkingSet(null, 4000, 7).armed;
      expect(vm.sampleWorkingSet(again, 0, 8).touched).toBe(0);
      host.close();
    });
  }
});

describe('the estimator: max of a fast and a slow moving average', () => {
  it('starts at the first sample, then moves each average by its gain', () => {
    const e = new ActiveEstimator();
    expect(Number.isNaN(e.fraction)).toBe(true);
    expect(e.activePages(1000, 123)).toBe(123);
    expect(e.update(40, 100)).toBeCloseTo(0.4, 12);
    // a rise: the fast average leads (0.4 + 1/2 (0.8 - 0.4) = 0.6; slow 0.4 + 1/8 0.4 = 0.45)
    expect(FAST_GAIN).toBe(0.5);
    expect(SLOW_GAIN).toBe(0.125);
    expect(e.update(80, 100)).toBeCloseTo(0.6, 12);
    // a fall: the slow one holds it up (fast 0.6 - 0.5 0.6 = 0.3, slow 0.45 - 0.125 0.45 = 0.39375)
    expect(e.update(0, 100)).toBeCloseTo(0.39375, 12);
    expect(e.activePages(1000, 0)).toBe(394);
    expect(e.periods).toBe(3);
    expect(e.last).toBe(0);
    expect(e.update(5, 0)).toBeCloseTo(0.39375, 12); // no sample: unchanged
  });
});

/**
 * A VM of `pages` pages whose workload touches GPPNs [0, active) every period; returns the
 * estimate (fraction) after each period: est[j] counts the touches of period j, whose true
 * working set is its phase's active fraction.
 */
async function run(pages: number, phases: { periods: number; activeFraction: number }[], seed: number): Promise<{ est: number[] }> {
  const host = await Host.create({ machineMemoryMiB: Math.ceil((pages / 256) * 2) });
  const vm = host.addVM({ name: 'v', memoryMiB: pages / 256 });
  vm.writePhys(0, new Uint8Array(pages * PAGE).fill(1));
  const est = new ActiveEstimator();
  let armed: Uint32Array | null = null;
  const out: number[] = [];
  let period = 0;
  for (const ph of phases) {
    for (let i = 0; i < ph.periods; i++) {
      const r = vm.sampleWorkingSet(armed, 100, seed * 1000 + period++);
      if (armed) {
        est.update(r.touched, r.sampled);
        out.push(est.fraction);
      }
      armed = r.armed;
      touchFirst(vm, Math.round(ph.activeFraction * pages));
    }
  }
  host.close();
  return { est: out };
}

describe('the estimate against the true working set (100 pages sampled per period)', () => {
  it('steady workload: after 5 periods within 0.10 of the truth in every period, within 0.05 on average (8 seeds x 40 periods)', async () => {
    let sumErr = 0, n = 0, worst = 0;
    for (let seed = 1; seed <= 8; seed++) {
      const truth = [0.1, 0.3, 0.5, 0.7, 0.9, 0.2, 0.6, 0.4][seed - 1];
      const { est } = await run(4096, [{ periods: 41, activeFraction: truth }], seed);
      for (const x of est.slice(5)) {
        const err = Math.abs(x - truth);
        sumErr += err;
        n++;
        worst = Math.max(worst, err);
      }
    }
    expect(worst).toBeLessThanOrEqual(0.1);
    expect(sumErr / n).toBeLessThanOrEqual(0.05);
  });

  it('a phase change up (10% -> 50%) is followed within 4 periods; down (50% -> 10%) within 16', async () => {
    for (let seed = 1; seed <= 6; seed++) {
      const up = await run(4096, [{ periods: 11, activeFraction: 0.1 }, { periods: 10, activeFraction: 0.5 }], seed);
      // est[11] is the first that saw the new phase; est[14] the fourth
      expect(up.est[10]).toBeLessThan(0.25);
      expect(Math.abs(up.est[14] - 0.5)).toBeLessThanOrEqual(0.1);
      const down = await run(4096, [{ periods: 11, activeFraction: 0.5 }, { periods: 20, activeFraction: 0.1 }], seed + 10);
      // the slow average keeps the old level visible for a while (a pause does not strip a VM at once)
      expect(down.est[11]).toBeGreaterThan(0.35);
      expect(Math.abs(down.est[26] - 0.1)).toBeLessThanOrEqual(0.1);
    }
  });
});
