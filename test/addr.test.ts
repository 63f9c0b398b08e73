/**
 * Address helpers (src/engine/addr.ts): the page arithmetic every part of src/ goes through.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  PAGE, asGpa, asGppn, asGva, asMpn, gpaAdd, gpaOf, gppnEnd, gppnOf, gppnOfBig, hpaOf, mpnOf, type Gppn, type Mpn,
} from '../src/engine/addr.js';

describe('address helpers', () => {
  it('gPA <-> GPPN and hPA <-> MPN round trips (seeded)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.integer({ min: 0, max: PAGE - 1 }), (page, off) => {
        const gpa = gpaOf(asGppn(page), off);
        expect(gpa).toBe(page * PAGE + off);
        expect(gppnOf(gpa)).toBe(page);
        expect(gppnOfBig(BigInt(gpa))).toBe(page);
        const hpa = hpaOf(asMpn(page), off);
        expect(hpa).toBe(BigInt(page) * 4096n + BigInt(off));
        expect(mpnOf(hpa)).toBe(page);
      }),
      { seed: 0xadd, numRuns: 500 },
    );
  });

  it('gppnEnd is the page after the last byte a range touches', () => {
    expect(gppnEnd(asGpa(0), 1)).toBe(1);
    expect(gppnEnd(asGpa(0), PAGE)).toBe(1);
    expect(gppnEnd(asGpa(0), PAGE + 1)).toBe(2);
    expect(gppnEnd(asGpa(PAGE - 1), 2)).toBe(2);
    expect(gppnEnd(gpaAdd(asGpa(3 * PAGE), 5), PAGE - 5)).toBe(4);
  });

  it('a gVA wraps to 64 bits like the register it models', () => {
    expect(asGva(-1)).toBe(2n ** 64n - 1n);
    expect(asGva(0x7f0012345678n)).toBe(0x7f0012345678n);
  });

  it('kinds of address do not mix (checked by the type checker: npm run typecheck)', () => {
    const g: Gppn = asGppn(5);
    // @ts-expect-error: a GPPN is not an MPN
    const m: Mpn = g;
    // @ts-expect-error: a plain number is not a GPPN
    const h: Gppn = 5;
    expect(m).toBe(h); // at run time both are the number 5
  });
});
