import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Engine } from '../src/engine/engine.js';
import { FrameKind } from '../src/engine/ram.js';

const NO_SLOT = 0xffffffff;

describe('zpool', () => {
  it('carves 1 KiB and 2 KiB slots from frames and gives a frame back when its slots are free', () => {
    const e = Engine.create({ machineMemoryMiB: 1 });
    const a = [0, 1, 2, 3].map((i) => e.ram.zslotAlloc(0, 100 + i, 0, i));
    expect(new Set(a.map((s) => s >>> 2)).size).toBe(1); // four 1 KiB slots in one frame
    expect(a.map((s) => s & 3).sort()).toEqual([0, 1, 2, 3]);
    const b = [e.ram.zslotAlloc(1, 2048, 0, 9), e.ram.zslotAlloc(1, 1500, 0, 10)];
    expect(b.map((s) => s & 3).sort()).toEqual([0, 2]);
    expect(e.ram.frameCounts().zpool).toBe(2);
    expect(e.ram.zpoolStoredBytes()).toBe(100 + 101 + 102 + 103 + 2048 + 1500);
    expect(e.ram.zpoolWastedBytes()).toBe(2 * 4096 - e.ram.zpoolStoredBytes());
    for (const s of a) e.ram.zslotFree(s);
    expect(e.ram.frameCounts().zpool).toBe(1);
    expect(e.ram.zpoolFrames(0)).toBe(0);
    expect(e.ram.zpoolAudit()).toBe(0);
  });

  it('returns NO_SLOT when machine RAM is full, and recovers', () => {
    const e = Engine.create({ machineMemoryMiB: 1 });
    const frames: number[] = [];
    for (let i = 0; i < 255; i++) frames.push(e.ram.frameAlloc(FrameKind.Guest));
    const s = [e.ram.zslotAlloc(1, 10, 0, 0), e.ram.zslotAlloc(1, 10, 0, 1)];
    expect(e.ram.zslotAlloc(1, 10, 0, 2)).toBe(NO_SLOT);
    expect(e.ram.zslotAlloc(0, 10, 0, 2)).toBe(NO_SLOT);
    e.ram.zslotFree(s[0]);
    expect(e.ram.zslotAlloc(1, 10, 0, 2)).toBe(s[0]);
    expect(e.ram.zpoolAudit()).toBe(0);
  });

  it('matches a model under random alloc and free, with frames conserved (seeded)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 1 }), fc.integer({ min: 1, max: 2048 }), fc.nat()), { minLength: 300, maxLength: 1500 }),
        (ops) => {
          const e = Engine.create({ machineMemoryMiB: 1 });
          const live = new Map<number, { c: number; len: number }>();
          for (const [alloc, c0, len0, pick] of ops) {
            if (alloc || live.size === 0) {
              const len = c0 === 0 ? 1 + (len0 % 1024) : len0;
              const c = len <= 1024 ? c0 : 1;
              const s = e.ram.zslotAlloc(c, len, 0, pick & 0xffff);
              const perFrame = c === 0 ? 4 : 2;
              const usedFrames = e.ram.zpoolFrames(0) + e.ram.zpoolFrames(1);
              if (s === NO_SLOT) {
                // only when no frame is left and the class has no free slot
                expect(e.ram.frameCounts().free).toBe(0);
                const ofClass = [...live.values()].filter((v) => v.c === c).length;
                expect(ofClass).toBe(e.ram.zpoolFrames(c) * perFrame);
                continue;
              }
              expect(live.has(s)).toBe(false);
              expect(e.ram.zslotClass(s)).toBe(c);
              expect(usedFrames).toBe(e.ram.frameCounts().zpool);
              live.set(s, { c, len });
            } else {
              const keys = [...live.keys()];
              const s = keys[pick % keys.length];
              expect(e.ram.zslotLen(s)).toBe(live.get(s)!.len);
              e.ram.zslotFree(s);
              live.delete(s);
            }
            // model: per class, frames = the frames holding a live slot of that class
            for (const c of [0, 1]) {
              const frames = new Set([...live].filter(([, v]) => v.c === c).map(([s]) => s >>> 2));
              expect(e.ram.zpoolFrames(c)).toBe(frames.size);
              expect(e.ram.zpoolSlotsUsed(c)).toBe([...live.values()].filter((v) => v.c === c).length);
            }
            const stored = [...live.values()].reduce((a, v) => a + v.len, 0);
            expect(e.ram.zpoolStoredBytes()).toBe(stored);
            expect(e.ram.zpoolWastedBytes()).toBe(e.ram.frameCounts().zpool * 4096 - stored);
            const f = e.ram.frameCounts();
            expect(f.free + f.zpool).toBe(f.total);
            expect(e.ram.zpoolAudit()).toBe(0);
          }
          for (const s of live.keys()) e.ram.zslotFree(s);
          expect(e.ram.frameCounts().zpool).toBe(0);
        },
      ),
      { seed: 0x2b001, numRuns: 20 },
    );
  });
});
