/**
 * The ESXi policy's decisions, each on its own: minFree on the sliding scale, the memory states
 * with their hysteresis, allocation targets with the idle memory tax, and the reclaim plan per
 * state. Pure functions against hand-computed values and seeded properties.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { minFreeMiB, minFreePages } from '../src/policy/esx/minfree.js';
import { exitPercent, levelOf, nextState, stateActions, thresholdPages, STATES, type MemState } from '../src/policy/esx/states.js';
import {
  allocationTargets, adjustedPages, demandPages, idleCost, sharesPerPage, targetBudget, targetRatios, RECLAIM_GOAL_PERCENT,
  type TargetInput,
} from '../src/policy/esx/targets.js';
import { reclaimPlan } from '../src/policy/esx/reclaim.js';

const GiB = 1024;

describe('minFree on the sliding scale', () => {
  it('matches the published scale for 2, 4, 12, 28 and 96 GiB hosts (28 GiB -> 899 MiB)', () => {
    // 6% of the first 4 GiB, 4% of the next 8, 2% of the next 16, 1% of the rest; each tier rounded down
    expect(minFreeMiB(2 * GiB)).toBe(122); // 6% of 2048 = 122.88
    expect(minFreeMiB(4 * GiB)).toBe(245); // 245.76
    expect(minFreeMiB(12 * GiB)).toBe(245 + 327); // + 4% of 8192 = 327.68
    expect(minFreeMiB(28 * GiB)).toBe(899); // + 2% of 16384 = 327.68
    expect(minFreeMiB(96 * GiB)).toBe(899 + 696); // + 1% of 69632 = 696.32
  });

  it('is in pages, and a fixed minFreeMiB overrides the scale', () => {
    expect(minFreePages(28 * GiB * 256)).toBe(899 * 256);
    expect(minFreePages(28 * GiB * 256, 100)).toBe(100 * 256);
    expect(minFreePages(2 * GiB * 256, 0)).toBe(0);
  });

  it('never decreases as the host grows, and stays between 1% and 6% of it', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1 << 20 }), fc.integer({ min: 0, max: 4096 }), (mib, more) => {
        const a = minFreeMiB(mib), b = minFreeMiB(mib + more);
        expect(b).toBeGreaterThanOrEqual(a);
        expect(a).toBeLessThanOrEqual(0.06 * mib);
        expect(a).toBeGreaterThanOrEqual(Math.floor(0.01 * mib) - 4);
      }),
      { seed: 10, numRuns: 500 },
    );
  });
});

describe('memory states', () => {
  const mf = 1000; // minFree, pages

  it('by free memory against minFree: high >= 400%, clear >= 100%, soft >= 64%, hard >= 32%, low below', () => {
    expect(levelOf(4000, mf)).toBe('high');
    expect(levelOf(3999, mf)).toBe('clear');
    expect(levelOf(1000, mf)).toBe('clear');
    expect(levelOf(999, mf)).toBe('soft');
    expect(levelOf(640, mf)).toBe('soft');
    expect(levelOf(639, mf)).toBe('hard');
    expect(levelOf(320, mf)).toBe('hard');
    expect(levelOf(319, mf)).toBe('low');
    expect(levelOf(0, mf)).toBe('low');
    expect(thresholdPages(mf)).toEqual({ high: 4000, clear: 1000, soft: 640, hard: 320 });
  });

  it('hysteresis: down at once, up only a quarter of the band past the threshold above', () => {
    expect(exitPercent('low')).toBe(40);
    expect(exitPercent('hard')).toBe(72);
    expect(exitPercent('soft')).toBe(109);
    expect(exitPercent('clear')).toBe(475);
    expect(exitPercent('high')).toBe(Infinity);
    expect(nextState('high', 3999, mf)).toBe('clear'); // down: at once
    expect(nextState('clear', 4000, mf)).toBe('clear'); // up: not yet
    expect(nextState('clear', 4749, mf)).toBe('clear');
    expect(nextState('clear', 4750, mf)).toBe('high');
    expect(nextState('soft', 1000, mf)).toBe('soft');
    expect(nextState('soft', 1090, mf)).toBe('clear');
    expect(nextState('hard', 700, mf)).toBe('hard');
    expect(nextState('hard', 720, mf)).toBe('soft');
    expect(nextState('low', 399, mf)).toBe('low');
    expect(nextState('low', 400, mf)).toBe('hard');
    // a big jump up passes every exit it clears, in one step
    expect(nextState('low', 5000, mf)).toBe('high');
    expect(nextState('low', 1100, mf)).toBe('clear');
    // and a big fall lands on the level at once
    expect(nextState('high', 10, mf)).toBe('low');
  });

  it('on a constructed free-memory curve: a slow dip and recovery, and jitter around a threshold', () => {
    // free falls from 5000 to 200 pages and climbs back, in steps of 20
    const down = Array.from({ length: 241 }, (_, i) => 5000 - 20 * i);
    const curve = [...down, ...down.slice().reverse()];
    let s: MemState = 'high';
    const seen: { free: number; to: MemState }[] = [];
    for (const free of curve) {
      const n = nextState(s, free, mf);
      if (n !== s) seen.push({ free, to: n });
      s = n;
    }
    expect(seen).toEqual([
      { free: 3980, to: 'clear' },
      { free: 980, to: 'soft' },
      { free: 620, to: 'hard' },
      { free: 300, to: 'low' },
      { free: 400, to: 'hard' },
      { free: 720, to: 'soft' },
      { free: 1100, to: 'clear' },
      { free: 4760, to: 'high' },
    ]);
    // free memory jittering by +-30 pages around the soft threshold (64% = 640) changes state once
    let t: MemState = 'soft';
    let changes = 0;
    for (let i = 0; i < 100; i++) {
      const n = nextState(t, 640 + (i % 2 ? 30 : -30), mf);
      if (n !== t) changes++;
      t = n;
    }
    expect(changes).toBe(1);
    expect(t).toBe('hard');
  });

  it('actions: large pages only in high, balloon only in soft, compress and swap from hard, blocking in low', () => {
    const on = (k: keyof ReturnType<typeof stateActions>) => STATES.filter((s) => stateActions(s)[k]);
    expect(on('largePagesAllowed')).toEqual(['high']);
    expect(on('breakLargePages')).toEqual(['clear', 'soft', 'hard', 'low']);
    expect(on('balloon')).toEqual(['soft']);
    expect(on('compressAndSwap')).toEqual(['hard', 'low']);
    expect(on('blockAboveTarget')).toEqual(['low']);
  });

  it('property: the state never skips above its level, and past the margin the state is the level', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 6000 }), { minLength: 1, maxLength: 60 }), (frees) => {
        let s: MemState = 'high';
        for (const f of frees) {
          s = nextState(s, f, mf);
          const level = levelOf(f, mf);
          expect(STATES.indexOf(s)).toBeGreaterThanOrEqual(STATES.indexOf(level));
          // once free memory clears the exit of the state below its level, the state is the level whatever came before
          const below = STATES[STATES.indexOf(level) + 1];
          if (below === undefined || (f * 100) / mf >= exitPercent(below)) expect(s).toBe(level);
        }
      }),
      { seed: 11, numRuns: 300 },
    );
  });
});

describe('allocation targets with the idle memory tax', () => {
  const vm = (o: Partial<TargetInput>): TargetInput => ({ shares: 1000, reservation: 0, limit: 1000, current: 1000, active: 0, ...o });

  it('k = 1 / (1 - tax); adjusted pages and rho as in Waldspurger §5', () => {
    expect(idleCost(75)).toBe(4);
    expect(idleCost(0)).toBe(1);
    expect(idleCost(50)).toBe(2);
    expect(() => idleCost(100)).toThrow(/idleTax/);
    // P = 1000, a = 250 (f = 0.25), k = 4: P (f + k (1 - f)) = 1000 (0.25 + 3) = 3250
    expect(adjustedPages(1000, 250, 4)).toBe(3250);
    expect(sharesPerPage(1000, 1000, 1000, 4)).toBe(1);
    expect(sharesPerPage(1000, 1000, 0, 4)).toBe(0.25);
  });

  it('two VMs with equal shares, one idle one active: the idle one gives up first', () => {
    const active = vm({ active: 1000 }), idle = vm({ active: 0 });
    // the idle VM's rho = 1000 / (4 P) reaches the active one's (1) at P = 250: it gives 750 pages first
    expect(allocationTargets([active, idle], 1500, 75)).toEqual([1000, 500]);
    expect(allocationTargets([active, idle], 1250, 75)).toEqual([1000, 250]);
    // past that both give, keeping equal rho: 1000 / P_a = 1000 / (4 P_i), P_a + P_i = 1000 -> 800, 200
    expect(allocationTargets([active, idle], 1000, 75)).toEqual([800, 200]);
    const t = allocationTargets([active, idle], 1000, 75);
    const r = targetRatios([active, idle], t, 75);
    expect(r[0]).toBeCloseTo(r[1], 9);
    // the order of the VMs does not matter
    expect(allocationTargets([idle, active], 1500, 75)).toEqual([500, 1000]);
  });

  it('with tax 0 both give up equally', () => {
    const active = vm({ active: 1000 }), idle = vm({ active: 0 });
    expect(allocationTargets([active, idle], 1500, 0)).toEqual([750, 750]);
    expect(allocationTargets([active, idle], 1000, 0)).toEqual([500, 500]);
  });

  it('shares weigh: twice the shares, twice the pages (tax 0, both active)', () => {
    expect(allocationTargets([vm({ shares: 2000, active: 1000 }), vm({ shares: 1000, active: 1000 })], 900, 0)).toEqual([600, 300]);
  });

  it('a partly active VM: the tax applies to its idle pages only', () => {
    // A: a = 500 of 1000; B: wholly active. Budget 1600, k = 4.
    // rho_A(P) = 1000 / (500 + 4 (P - 500)), rho_B(P) = 1000 / P. B keeps 1000 while rho_A < 1, i.e. while
    // 500 + 4 (P_A - 500) > 1000 -> P_A > 625; budget 1600 gives P_A = 600 < 625, so both give:
    // 1000 / P_B = 1000 / (4 P_A - 1500), P_A + P_B = 1600 -> 5 P_A = 3100 -> P_A = 620, P_B = 980
    expect(allocationTargets([vm({ active: 500 }), vm({ active: 1000 })], 1600, 75)).toEqual([620, 980]);
  });

  it('reservations are always met and limits never exceeded', () => {
    // the idle VM is reserved 800 pages: it gives only 200, the active one the rest
    expect(allocationTargets([vm({ active: 1000 }), vm({ active: 0, reservation: 800 })], 1500, 75)).toEqual([700, 800]);
    // reservations above the budget: each VM gets its reservation anyway
    expect(allocationTargets([vm({ reservation: 600 }), vm({ reservation: 600 })], 1000, 75)).toEqual([600, 600]);
    // a limit caps the target even with memory to spare
    expect(allocationTargets([vm({ limit: 300, current: 300, active: 300 }), vm({ active: 1000 })], 5000, 75)).toEqual([300, 1000]);
  });

  it('with enough memory every VM gets what it wants: its allocation or its active estimate plus headroom', () => {
    expect(demandPages({ current: 100, active: 400, limit: 1000 })).toBe(500);
    expect(demandPages({ current: 900, active: 400, limit: 1000 })).toBe(900);
    expect(demandPages({ current: 900, active: 900, limit: 1000 })).toBe(1000);
    expect(allocationTargets([vm({ current: 100, active: 400 }), vm({ current: 900, active: 10 })], 10_000, 75)).toEqual([500, 900]);
  });

  it('the budget keeps free memory at the reclaim goal (109% of minFree)', () => {
    expect(RECLAIM_GOAL_PERCENT).toBe(109);
    // VMs hold 3000 pages, 500 are free, minFree 1000: the VMs may hold 3000 + 500 - 1090
    expect(targetBudget([{ current: 1000 }, { current: 2000 }], 500, 1000)).toBe(2410);
    expect(targetBudget([{ current: 10 }], 0, 1000)).toBe(0);
  });

  it('property: bounds hold, the budget is used exactly when it can be, and no VM gives while a lower-rho VM still could', () => {
    const arbVm = fc.record({
      shares: fc.integer({ min: 1, max: 8000 }),
      reservation: fc.integer({ min: 0, max: 500 }),
      limit: fc.integer({ min: 1, max: 3000 }),
      current: fc.integer({ min: 0, max: 3000 }),
      active: fc.integer({ min: 0, max: 3000 }),
    }).map((v) => ({ ...v, reservation: Math.min(v.reservation, v.limit) }));
    fc.assert(
      fc.property(fc.array(arbVm, { minLength: 1, maxLength: 8 }), fc.integer({ min: 0, max: 20000 }), fc.integer({ min: 0, max: 99 }), (vms, budget, tax) => {
        const t = allocationTargets(vms, budget, tax);
        const lo = vms.map((v) => v.reservation), hi = vms.map((v) => Math.max(v.reservation, demandPages(v)));
        t.forEach((x, i) => {
          expect(Number.isInteger(x)).toBe(true);
          expect(x).toBeGreaterThanOrEqual(lo[i]);
          expect(x).toBeLessThanOrEqual(Math.max(lo[i], vms[i].limit));
          expect(x).toBeLessThanOrEqual(hi[i]);
        });
        const sum = t.reduce((a, x) => a + x, 0);
        const sumLo = lo.reduce((a, x) => a + x, 0), sumHi = hi.reduce((a, x) => a + x, 0);
        if (sumHi <= budget) expect(t).toEqual(hi);
        else if (sumLo >= budget) expect(t).toEqual(lo);
        else expect(sum).toBe(budget);
        // water-filling: any VM that gave (above its floor) has a ratio no lower than any VM that could take more
        // (compared one page apart, which absorbs the rounding to whole pages)
        if (sumLo < budget && budget < sumHi) {
          const k = idleCost(tax);
          for (let i = 0; i < vms.length; i++) {
            if (t[i] <= lo[i]) continue;
            for (let j = 0; j < vms.length; j++) {
              if (j === i || t[j] >= hi[j]) continue;
              expect(sharesPerPage(vms[i].shares, t[i] - 1, vms[i].active, k)).toBeGreaterThanOrEqual(sharesPerPage(vms[j].shares, t[j] + 1, vms[j].active, k) * (1 - 1e-9));
            }
          }
        }
      }),
      { seed: 12, numRuns: 400 },
    );
  });
});

describe('reclaim plan per state', () => {
  const base = { current: 1000, target: 700, ballooned: 0, balloonTarget: 0, balloonMax: 650 };

  it('soft: the balloon closes the gap to the target (capped at balloonMaxPercent), nothing swapped', () => {
    expect(reclaimPlan('soft', base)).toEqual({ balloonTarget: 300, pageOut: 0 });
    expect(reclaimPlan('soft', { ...base, ballooned: 100, current: 900 })).toEqual({ balloonTarget: 300, pageOut: 0 });
    expect(reclaimPlan('soft', { ...base, target: 100 })).toEqual({ balloonTarget: 650, pageOut: 0 });
    // below its target, it gets balloon pages back
    expect(reclaimPlan('soft', { ...base, ballooned: 200, current: 600 })).toEqual({ balloonTarget: 100, pageOut: 0 });
  });

  it('hard and low: ballooning stops where it is, compression and swap take the rest', () => {
    for (const s of ['hard', 'low'] as const) {
      expect(reclaimPlan(s, base)).toEqual({ balloonTarget: 0, pageOut: 300 });
      // a balloon still inflating toward 300 stops at the 120 it holds
      expect(reclaimPlan(s, { ...base, ballooned: 120, balloonTarget: 300, current: 880 })).toEqual({ balloonTarget: 120, pageOut: 180 });
    }
  });

  it('clear and high: nothing reclaimed; balloons give back what the target leaves room for', () => {
    for (const s of ['clear', 'high'] as const) {
      expect(reclaimPlan(s, base)).toEqual({ balloonTarget: 0, pageOut: 0 });
      expect(reclaimPlan(s, { ...base, ballooned: 300, balloonTarget: 300, current: 700 })).toEqual({ balloonTarget: 300, pageOut: 0 });
      expect(reclaimPlan(s, { ...base, ballooned: 300, balloonTarget: 300, current: 600 })).toEqual({ balloonTarget: 200, pageOut: 0 });
      expect(reclaimPlan(s, { ...base, ballooned: 300, balloonTarget: 300, current: 100 })).toEqual({ balloonTarget: 0, pageOut: 0 });
    }
  });
});
