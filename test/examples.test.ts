/**
 * Every example in examples/ runs, and shows what it claims. Smaller runs than the examples'
 * own defaults; seeded, so the figures are the same on every machine.
 */
import { describe, expect, it } from 'vitest';
import { sideChannel, sideChannelText } from '../examples/side-channel.js';

describe('examples/side-channel.ts', () => {
  it('with one salt the attacker is right far more often than chance; with per-VM salts at chance', async () => {
    const shared = await sideChannel({ trials: 300, salting: 'host', seed: 7 });
    const salted = await sideChannel({ trials: 300, salting: 'per-vm', seed: 7 });
    expect(shared.successRate).toBeGreaterThan(0.9);
    // at chance: within four standard deviations of 50% over 300 trials (0.029 each)
    expect(Math.abs(salted.successRate - 0.5)).toBeLessThan(4 * Math.sqrt(0.25 / 300));
    // the signal is the copy-on-write break: the probe is slow only when shared
    expect(shared.meanWhenHeldNs - shared.meanWhenNotNs).toBeGreaterThan(1500);
    expect(Math.abs(salted.meanWhenHeldNs - salted.meanWhenNotNs)).toBeLessThan(600);
    const text = sideChannelText([shared, salted]);
    expect(text).toMatch(/^host\s+300\s+\d+\s+9\d\.\d%/m);
    expect(text).toMatch(/^per-vm\s+300/m);
  });

  it('is deterministic for a seed', async () => {
    const a = await sideChannel({ trials: 40, salting: 'host', seed: 3 });
    const b = await sideChannel({ trials: 40, salting: 'host', seed: 3 });
    expect(b).toEqual(a);
  });
});
