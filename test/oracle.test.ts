/**
 * The oracle's steps (test/support/oracle.ts) that the seeded operation mixes stand on: a read
 * that differs from the last write is reported with its address, GPPN and page state, and a
 * write or read takes a page back from the balloon's set.
 */
import { describe, expect, it } from 'vitest';
import { Host } from '../src/index.js';
import { oracleBalloon, oracleRead, oracleWrite, type OracleGuest } from './support/oracle.js';

const PAGE = 4096;
/** An `int` that hands out `values` in order (the span a step picks). */
const picks = (...values: number[]) => () => values.shift()!;

describe('the oracle steps', () => {
  it('fire on a byte the guest did not write, naming where; pass when VM and oracle agree', async () => {
    const host = await Host.create({ machineMemoryMiB: 4 });
    try {
      const g: OracleGuest = { vm: host.addVM({ name: 'a', memoryMiB: 1 }), oracle: new Uint8Array(256 * PAGE), ballooned: new Set([0, 1, 9]) };
      // a whole page at GPPN 1 (rnd < 0.5: a page; int picks its number)
      oracleWrite(g, picks(1), () => 0.25, (len) => new Uint8Array(len).fill(0x5a));
      expect(g.ballooned).toEqual(new Set([0, 9]));
      // the span [0, 2 pages): every byte as written, and GPPN 0 is back from the balloon too
      expect(oracleRead(g, picks(2 * PAGE - 1, 0), 'clean')).toBe(2 * PAGE);
      expect(g.ballooned).toEqual(new Set([9]));
      // a byte changed behind the oracle's back
      g.vm.writePhys(PAGE + 100, Uint8Array.of(0x11));
      expect(() => oracleRead(g, picks(2 * PAGE - 1, 0), 'seed 1 op 7')).toThrow(/^seed 1 op 7: VM a gpa 4196 \(GPPN 1, state \w+\) read 17, expected 90$/);
      // the balloon takes a written page: it reads zero when touched again, as the oracle now says
      oracleWrite(g, picks(3), () => 0.25, (len) => new Uint8Array(len).fill(0x77));
      oracleBalloon(g, picks(0, 3));
      expect(g.ballooned.has(3)).toBe(true);
      expect(oracleRead(g, picks(PAGE - 1, 3 * PAGE), 'ballooned')).toBe(PAGE);
      expect(g.ballooned.has(3)).toBe(false);
    } finally {
      host.close();
    }
  });
});
