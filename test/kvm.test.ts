/**
 * The KVM-style policy's decisions on their own: the Linux watermarks from the host's size,
 * kswapd waking and sleeping, the spread of reclaim over the VMs, the zswap pool cap and KSM's rate.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { intSqrt, minFreeKbytes, watermarks } from '../src/policy/kvm/watermarks.js';
import { kswapdAwake, kswapdGoal, ksmPagesPerSecond, spreadByResident, zswapPoolCap, SWAP_CLUSTER_MAX } from '../src/policy/kvm/kswapd.js';

describe('Linux watermarks', () => {
  it('min_free_kbytes = int_sqrt(KiB * 16), clamped to [128, 262144], as the kernel table lists it', () => {
    // the values in the comment above init_per_zone_wmark_min (mm/page_alloc.c)
    expect(minFreeKbytes(16 << 10)).toBe(512);
    expect(minFreeKbytes(128 << 10)).toBe(1448);
    expect(minFreeKbytes(1024 << 10)).toBe(4096);
    expect(minFreeKbytes(2048 << 10)).toBe(5792);
    expect(minFreeKbytes(8192 << 10)).toBe(11585); // the kernel's comment rounds this one to 11584k
    expect(minFreeKbytes(16384 << 10)).toBe(16384);
    expect(minFreeKbytes(64)).toBe(128); // clamp below
    expect(minFreeKbytes(2 ** 40)).toBe(262144); // clamp above (4 TiB would be 4 * 2^20)
    expect(intSqrt(15)).toBe(3);
    expect(intSqrt(16)).toBe(4);
    expect(intSqrt(2 ** 50 + 1)).toBe(2 ** 25);
  });

  it('pre-4.6 rule (watermark_scale_factor 0): low = 5/4 min, high = 3/2 min', () => {
    // 2 GiB: min_free_kbytes 5792 -> min 1448 pages; low 1448 + 362, high 1448 + 724
    expect(watermarks(2048 * 256, 0)).toEqual({ min: 1448, low: 1810, high: 2172, minFreeKbytes: 5792 });
  });

  it('Linux 4.6+ (watermark_scale_factor 10): the step is 0.1% of memory when that exceeds min / 4', () => {
    // 2 GiB = 524288 pages: 0.1% = 524 pages > 1448 / 4 = 362
    expect(watermarks(2048 * 256)).toEqual({ min: 1448, low: 1972, high: 2496, minFreeKbytes: 5792 });
    // 512 MiB: min_free_kbytes 2896 -> min 724, min / 4 = 181 > 0.1% of 131072 pages = 131: the old rule still holds
    expect(watermarks(512 * 256)).toEqual({ min: 724, low: 905, high: 1086, minFreeKbytes: 2896 });
  });

  it('a user min_free_kbytes is kept', () => {
    expect(watermarks(2048 * 256, 10, 65536)).toEqual({ min: 16384, low: 20480, high: 24576, minFreeKbytes: 65536 });
  });

  it('property: min < low < high, the low-high gap equals the min-low gap, all grow with memory', () => {
    fc.assert(
      fc.property(fc.integer({ min: 256, max: 3584 * 256 }), fc.integer({ min: 0, max: 1000 }), (pages, sf) => {
        const w = watermarks(pages, sf);
        expect(w.min).toBeGreaterThan(0);
        expect(w.low).toBeGreaterThan(w.min);
        expect(w.high - w.low).toBe(w.low - w.min);
        const v = watermarks(pages + 256, sf);
        expect(v.min).toBeGreaterThanOrEqual(w.min);
        expect(v.high).toBeGreaterThanOrEqual(w.high);
      }),
      { seed: 20, numRuns: 300 },
    );
  });
});

describe('kswapd', () => {
  const wm = { min: 100, low: 150, high: 200 };

  it('wakes below low, sleeps again at high, and in between keeps what it was doing', () => {
    expect(kswapdAwake(false, 160, wm)).toBe(false);
    expect(kswapdAwake(false, 149, wm)).toBe(true);
    expect(kswapdAwake(true, 180, wm)).toBe(true);
    expect(kswapdAwake(true, 200, wm)).toBe(false);
    expect(kswapdGoal(true, 149, wm)).toBe(51);
    expect(kswapdGoal(false, 149, wm)).toBe(0);
    expect(SWAP_CLUSTER_MAX).toBe(32);
  });

  it('on a constructed free-memory curve: one wake-up per dip below low', () => {
    const curve = [300, 250, 190, 160, 149, 140, 170, 199, 200, 230, 160, 150, 149, 210];
    let awake = false;
    const states = curve.map((f) => (awake = kswapdAwake(awake, f, wm)));
    expect(states).toEqual([false, false, false, false, true, true, true, true, false, false, false, false, true, false]);
  });

  it('spreads reclaim over the VMs in proportion to what they hold (a global LRU)', () => {
    expect(spreadByResident([300, 100], 40)).toEqual([30, 10]);
    expect(spreadByResident([1, 1, 1], 2)).toEqual([1, 1, 0]);
    expect(spreadByResident([5, 0], 100)).toEqual([5, 0]);
    expect(spreadByResident([0, 0], 10)).toEqual([0, 0]);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 5000 }), { minLength: 1, maxLength: 10 }), fc.integer({ min: 0, max: 20000 }), (res, n) => {
        const s = spreadByResident(res, n);
        const total = res.reduce((a, r) => a + r, 0);
        expect(s.reduce((a, x) => a + x, 0)).toBe(Math.min(n, total));
        s.forEach((x, i) => {
          expect(x).toBeLessThanOrEqual(res[i]);
          if (total > 0) expect(Math.abs(x - (res[i] * Math.min(n, total)) / total)).toBeLessThan(1);
        });
      }),
      { seed: 21, numRuns: 300 },
    );
  });
});

describe('zswap and KSM knobs', () => {
  it('zswap max_pool_percent 20 of a 2 GiB host is 104857 frames', () => {
    expect(zswapPoolCap(2048 * 256, 20)).toBe(104857);
    expect(zswapPoolCap(1000, 0)).toBe(0);
  });

  it('KSM scans pages_to_scan per sleep_millisecs: 100 / 20 ms is 5000 pages per second', () => {
    expect(ksmPagesPerSecond(100, 20)).toBe(5000);
  });
});
