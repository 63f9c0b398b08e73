/**
 * How bench/paired.ts judges its rounds (bench/pairedstats.ts): the ratio is taken round by round
 * and its median set against the goal, and a target whose either side had a median round far
 * over its best is marked not steady, so a busy box cannot put a target over its goal unnoticed.
 */
import { describe, expect, it } from 'vitest';
import { judge, STEADY, steadiness, unsteadyNote } from '../bench/pairedstats.js';

const target = { label: 'codec from JavaScript', of: 'memvisor', over: 'C', min: 0.7 };

describe('paired rounds', () => {
  it('takes the ratio round by round: the C side\'s time over memvisor\'s in the same round', () => {
    // memvisor steady at 10; C at 8 in every round but one: the median ratio is 0.8
    const times = { memvisor: [10, 10, 10, 10, 10], C: [8, 8, 8, 8, 20] };
    const [r] = judge(times, [target]);
    expect(r.median).toBeCloseTo(0.8);
    expect(r.met).toBe(true);
    expect(r.steady).toBe(true);
    expect(judge(times, [{ ...target, min: 0.81 }])[0].met).toBe(false);
  });

  it('pairs round i with round i, so a slow round on both sides does not move the ratio', () => {
    const times = { memvisor: [10, 30, 10, 30, 10], C: [7, 21, 7, 21, 7] };
    const [r] = judge(times, [target]);
    expect(r.median).toBeCloseTo(0.7);
    expect(r.p10).toBeCloseTo(0.7);
    expect(r.p90).toBeCloseTo(0.7);
  });

  it('marks a target not steady when either side\'s median round is under STEADY of its best, and names it', () => {
    const quiet = [10, 10.5, 10.2, 10.1, 10.3];
    const busy = [10, 14, 13, 12.5, 10.4]; // median 12.5: 0.8 of the best
    expect(steadiness(quiet)).toBeGreaterThanOrEqual(STEADY);
    expect(steadiness(busy)).toBeLessThan(STEADY);
    for (const [mv, c] of [[quiet, busy], [busy, quiet]]) {
      const results = judge({ memvisor: mv, C: c }, [target, { ...target, label: 'other', over: 'C2' }]);
      expect(results).toHaveLength(1); // a target whose peer was not timed is left out
      expect(results[0].steady).toBe(false);
      expect(unsteadyNote(results)).toMatch(/^Not steady: codec from JavaScript\. /);
    }
    expect(unsteadyNote(judge({ memvisor: quiet, C: quiet }, [target]))).toBeNull();
  });

  it('refuses sides with different numbers of rounds instead of pairing them wrongly', () => {
    expect(() => judge({ memvisor: [1, 2, 3], C: [1, 2] }, [target])).toThrow(/3 rounds of memvisor against 2 of C/);
  });
});
