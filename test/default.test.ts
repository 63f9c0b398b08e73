/**
 * The default scenario (scenarios/default.json, what `memvisor run` and `npm start` run): it
 * validates, its file names the package's JSON Schema, and one whole run under the esx policy
 * walks high -> soft -> hard and back to high, with sharing (the web VMs' one image, and the zero
 * pages db and batch free), ballooning, compression and swapping each doing work, the batch VM's
 * wake-up paying for its pages, the reservation kept, and every byte checked at the end.
 *
 * The run uses the release module (the one `memvisor run` uses, and 10x faster than the debug
 * one); the host's and guests' invariants are audited once at the end.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { Simulation, defaultScenario, DEFAULT_SCENARIO_FILE, parseScenario, type RunResult, type Sample } from '../src/node.js';
import { STATES, type MemState } from '../src/policy/esx/states.js';

const rank = (s: unknown) => STATES.indexOf(s as MemState);
const sumVms = (s: Sample, f: (v: Sample['vms'][string]) => number) => Object.values(s.vms).reduce((a, v) => a + f(v), 0);

describe('the default scenario', () => {
  it('is a valid scenario naming the shipped schema, about 2x overcommitted, with the four roles', () => {
    const raw = JSON.parse(readFileSync(DEFAULT_SCENARIO_FILE, 'utf8'));
    expect(raw.$schema).toBe('../dist/scenario.schema.json');
    const s = parseScenario(defaultScenario());
    const guest = s.vms.reduce((a, v) => a + v.memoryMiB * v.count, 0);
    expect(guest / s.host.machineMemoryMiB).toBeGreaterThanOrEqual(1.8);
    expect(guest / s.host.machineMemoryMiB).toBeLessThanOrEqual(2.5);
    expect(s.policy.kind).toBe('esx');
    // the constants shortened for a short run are said in the scenario itself
    expect(s.description).toMatch(/shareScanTime/);
    expect(s.description).toMatch(/samplePeriod/);
    const web = s.vms.find((v) => v.name === 'web')!;
    expect(web.count).toBeGreaterThanOrEqual(3);
    expect(web.salt).toBeDefined();
    expect(s.vms.some((v) => v.reservationMiB > 0)).toBe(true);
  });

  describe('one whole run (esx policy, release module)', () => {
    let sim: Simulation;
    let r: RunResult;
    beforeAll(async () => {
      sim = await Simulation.create(defaultScenario(), { flavor: 'release' });
      r = sim.run();
    }, 300_000);
    afterAll(() => sim?.close());

    it('walks from high through soft and hard (and low) and back to high', () => {
      const states = r.samples.map((s) => s.host.state as MemState);
      expect(states[0]).toBe('high');
      const firstHard = states.indexOf('hard');
      const firstSoft = states.indexOf('soft');
      expect(firstSoft).toBeGreaterThan(0);
      expect(firstHard).toBeGreaterThan(firstSoft);
      // back: after the worst of it the host reaches high again and ends there
      const worst = Math.max(...states.map(rank));
      expect(worst).toBeGreaterThanOrEqual(rank('hard'));
      expect(states.slice(firstHard).includes('high')).toBe(true);
      expect(states.at(-1)).toBe('high');
      // every sample carries the policy's levels and each VM its targets and the truth
      for (const s of r.samples) {
        expect(s.host.minFreeMiB).toBe(61); // 6% of 1 GiB, rounded down
        expect(s.host).toMatchObject({ highMiB: 244, clearMiB: 61 });
        for (const v of Object.values(s.vms)) {
          for (const k of ['SZTGT', 'MCTLTGT', 'SWTGT', 'TCHD', 'trueActiveMiB'] as const) expect(Number.isFinite(v[k]), k).toBe(true);
          expect(v.SWTGT).toBeGreaterThanOrEqual(v.SWCUR);
        }
      }
    });

    it('stall is a share of time: at most 1 s per s in every sample, even when one fault costs more than an interval (db zeroing what it frees at 110 s)', () => {
      const stalls = r.samples.flatMap((s) => Object.values(s.vms).map((v) => v.stall));
      expect(Math.min(...stalls)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...stalls)).toBeLessThanOrEqual(1);
      expect(r.samples.filter((s) => s.t > 110 && s.t <= 125).some((s) => s.vms.db.stall > 0.2)).toBe(true);
    });

    it('every technique does work: sharing, ballooning, compression, swapping', () => {
      const max = (f: (s: Sample) => number) => Math.max(...r.samples.map(f));
      const total = (f: (s: Sample) => number) => r.samples.reduce((a, s) => a + f(s), 0);
      // sharing: the web VMs' one image (one salt) and the zero pages the Windows guests free
      expect(max((s) => s.vms['web-1'].SHRDSVD)).toBeGreaterThan(20);
      expect(max((s) => s.vms.db.ZERO)).toBeGreaterThan(100);
      expect(max((s) => s.host.sharedSavedMiB)).toBeGreaterThan(200);
      // ballooning, in soft
      expect(max((s) => s.host.balloonMiB)).toBeGreaterThan(50);
      expect(r.samples.some((s) => s.host.state === 'soft' && sumVms(s, (v) => v.MCTLTGT) > sumVms(s, (v) => v.MCTLSZ) - 1)).toBe(true);
      // and given back when memory returns: no balloon left once the host is in high again
      const backHigh = r.samples.findIndex((s, i) => i > 0 && s.host.state === 'high' && r.samples.slice(0, i).some((p) => p.host.state === 'soft'));
      expect(backHigh).toBeGreaterThan(0);
      expect(r.samples.at(-1)!.host.balloonMiB).toBe(0);
      // compression and swap, both ways
      expect(total((s) => sumVms(s, (v) => v['ZIP/s']))).toBeGreaterThan(50);
      expect(total((s) => sumVms(s, (v) => v['UNZIP/s']))).toBeGreaterThan(20);
      expect(max((s) => sumVms(s, (v) => v['ZSAVE/MB']))).toBeGreaterThan(20);
      expect(total((s) => sumVms(s, (v) => v['SWW/s']))).toBeGreaterThan(100);
      expect(total((s) => sumVms(s, (v) => v['SWR/s']))).toBeGreaterThan(50);
      expect(max((s) => s.host.swapMiB)).toBeGreaterThan(50);
    });

    it('the batch VM pays for its idle-time reclaim when it wakes; the reservation holds; nothing is lost', () => {
      const at = (t0: number, t1: number) => r.samples.filter((s) => s.t > t0 && s.t <= t1);
      // idle from 40 s: the idle memory tax takes from it (its target falls below what it held)
      const busy = at(30, 40).map((s) => s.vms.batch.GRANT);
      const idle = at(80, 95).map((s) => s.vms.batch.GRANT);
      expect(Math.max(...idle)).toBeLessThan(Math.min(...busy));
      // awake from 95 s: its reclaimed pages come back through swap-in and decompression, and it stalls
      const wake = at(95, 105);
      expect(wake.reduce((a, s) => a + s.vms.batch['SWR/s'] + s.vms.batch['UNZIP/s'], 0)).toBeGreaterThan(5);
      expect(Math.max(...wake.map((s) => s.vms.batch.stall))).toBeGreaterThan(0.05);
      // the reserved VM, once it has touched its reservation's worth, is never taken below it
      const filled = r.samples.findIndex((s) => s.vms.resv.GRANT >= 160);
      expect(filled).toBeGreaterThan(0);
      expect(filled).toBeLessThan(20);
      for (const s of r.samples.slice(filled)) expect(s.vms.resv.GRANT, `t=${s.t}`).toBeGreaterThanOrEqual(160);
      expect(r.verified.ok).toBe(true);
      expect(r.verified.bytes).toBeGreaterThan(500 << 20);
      sim.audit();
    });
  });
});
