import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ConfigError, OutOfLinearMemoryError } from '../src/index.js';
import { Engine } from '../src/engine/engine.js';
import { FrameKind } from '../src/engine/ram.js';
import { asGppn, type Mpn } from '../src/engine/addr.js';

const NO_FRAME = 0xffffffff;

describe('memory map', () => {
  it('chains regions without overlap and holds machine RAM at 4 KiB alignment', () => {
    const e = Engine.create({ machineMemoryMiB: 8 });
    const regions = Object.entries(e.map).sort((a, b) => a[1].offset - b[1].offset);
    for (let i = 1; i < regions.length; i++) {
      expect(regions[i][1].offset).toBeGreaterThanOrEqual(regions[i - 1][1].offset + regions[i - 1][1].size);
    }
    expect(e.map.ram.size).toBe(8 << 20);
    expect(e.map.ram.offset % 4096).toBe(0);
    expect(e.map.frameTable.size).toBe(2048 * 16);
    expect(regions.at(-1)![0]).toBe('staging');
    expect(e.gateway.memoryBytes).toBeGreaterThanOrEqual(e.map.staging.offset + e.map.staging.size);
  });

  it('holds 3 GiB of machine RAM in one engine', () => {
    const e = Engine.create({ machineMemoryMiB: 3072, flavor: 'release' });
    expect(e.ram.frameCounts().total).toBe(3072 * 256);
    expect(e.map.ram.offset + e.map.ram.size).toBeLessThanOrEqual(2 ** 32);
    const mpn = e.ram.frameAlloc(FrameKind.Guest);
    expect(mpn).not.toBe(NO_FRAME);
  });

  it('rejects a machine that cannot fit, with a typed error naming the field', () => {
    expect(() => Engine.create({ machineMemoryMiB: 4096 })).toThrow(ConfigError);
    expect(() => Engine.create({ machineMemoryMiB: -1 })).toThrow(/machineMemoryMiB/);
    expect(() => Engine.create({ machineMemoryMiB: 1.5 })).toThrow(/integer/);
    expect(() => Engine.create({ machineMemoryMiB: 3584, stagingBytes: 1 << 30 })).toThrow(OutOfLinearMemoryError);
  });

  it('grows staging and re-creates views over the new buffer', () => {
    const e = Engine.create({ machineMemoryMiB: 1 });
    const before = e.gateway.u8;
    const at = e.gateway.stage(8 << 20);
    expect(e.gateway.stagingSize).toBeGreaterThanOrEqual(8 << 20);
    expect(before.byteLength).toBe(0); // detached by the grow
    e.gateway.u8[at + (8 << 20) - 1] = 7;
    expect(e.gateway.u8[at + (8 << 20) - 1]).toBe(7);
  });
});

describe('frames', () => {
  it('hands out zero-filled frames, also after a frame is freed dirty', () => {
    const e = Engine.create({ machineMemoryMiB: 1 });
    const a = e.ram.frameAlloc(FrameKind.Guest);
    e.gateway.u8.fill(0xab, e.ram.frameAddr(a), e.ram.frameAddr(a) + 4096);
    expect(e.ram.framePut(a)).toBe(0);
    const b = e.ram.frameAlloc(FrameKind.Guest);
    expect(b).toBe(a); // LIFO reuse
    expect(e.ram.pageIsZero(e.ram.frameAddr(b))).toBe(true);
  });

  it('returns NO_FRAME when RAM is exhausted, and recovers after a free', () => {
    const e = Engine.create({ machineMemoryMiB: 1 });
    const got: Mpn[] = [];
    for (let i = 0; i < 256; i++) got.push(e.ram.frameAlloc(FrameKind.Guest));
    expect(new Set(got).size).toBe(256);
    expect(e.ram.frameAlloc(FrameKind.Guest)).toBe(NO_FRAME);
    e.ram.framePut(got[17]);
    expect(e.ram.frameAlloc(FrameKind.Zpool)).toBe(got[17]);
  });

  it('conserves frames and counts references under random operations (seeded)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.nat(), fc.integer({ min: 1, max: 4 })), { maxLength: 400 }),
        (ops) => {
          const e = Engine.create({ machineMemoryMiB: 1 });
          const refs = new Map<Mpn, { n: number; kind: FrameKind }>();
          for (const [op, pick, kind] of ops) {
            const live = [...refs.keys()];
            if (op <= 1 || live.length === 0) {
              const m = e.ram.frameAlloc(kind);
              if (refs.size === 256) expect(m).toBe(NO_FRAME);
              else refs.set(m, { n: 1, kind });
            } else if (op === 2) {
              const m = live[pick % live.length];
              refs.get(m)!.n++;
              expect(e.ram.frameGet(m)).toBe(refs.get(m)!.n);
            } else {
              const m = live[pick % live.length];
              const r = refs.get(m)!;
              r.n--;
              expect(e.ram.framePut(m)).toBe(r.n);
              if (r.n === 0) refs.delete(m);
            }
            const c = e.ram.frameCounts();
            expect(c.free + c.guest + c.zpool + c.pageTable + c.hypervisor).toBe(c.total);
            expect(c.total - c.free).toBe(refs.size);
          }
          for (const [m, r] of refs) {
            expect(e.ram.frameRefs(m)).toBe(r.n);
            expect(e.ram.frameKind(m)).toBe(r.kind);
          }
        },
      ),
      { seed: 0x5eed, numRuns: 50 },
    );
  });

  it('turns a debug assertion into a typed abort and poisons the engine', async () => {
    const { EngineAbortError, EnginePoisonedError } = await import('../src/errors.js');
    const e = Engine.create({ machineMemoryMiB: 1, flavor: 'debug' });
    const m = e.ram.frameAlloc(FrameKind.Guest);
    e.ram.framePut(m);
    expect(() => e.ram.framePut(m)).toThrow(EngineAbortError);
    expect(() => e.ram.frameAlloc(FrameKind.Guest)).toThrow(EnginePoisonedError);
  });
});

describe('pages', () => {
  it('compares, copies and finds zero pages in batches', () => {
    const e = Engine.create({ machineMemoryMiB: 1 });
    const n = 16;
    const src = e.gateway.stage(2 * n * 4096);
    const dst = src + n * 4096;
    for (let i = 0; i < n; i++) if (i % 3) e.gateway.u8[src + i * 4096 + (i * 257) % 4096] = i;
    expect(e.ram.pagesCountZero(src, n)).toBe(6);
    expect(e.ram.pagesCountEqual(src, dst, n)).toBe(6);
    e.ram.pagesCopy(dst, src, n);
    expect(e.ram.pagesCountEqual(src, dst, n)).toBe(n);
    e.gateway.u8[dst + 5 * 4096 + 4095] ^= 1;
    expect(e.ram.pageEqual(src + 5 * 4096, dst + 5 * 4096)).toBe(false);
    expect(e.ram.pagesCountEqual(src, dst, n)).toBe(n - 1);
  });
});

describe('pmap (minimal fault path)', () => {
  it('backs a guest page on first touch with a zero frame and keeps it', () => {
    const e = Engine.create({ machineMemoryMiB: 1, guestMemoryMiB: 2 });
    const vm = e.reclaim.vmCreate(300, 0);
    expect(vm).toBe(0);
    expect(e.reclaim.pmapState(vm, asGppn(5))).toBe(0);
    const mpn = e.reclaim.pmapFault(vm, asGppn(5), true);
    expect(mpn).toBeLessThan(256);
    expect(e.reclaim.pmapState(vm, asGppn(5))).toBe(1);
    expect(e.reclaim.pmapFault(vm, asGppn(5), false)).toBe(mpn);
    expect(e.reclaim.pmapFault(vm, asGppn(300), false)).toBe(0xfffffffe);
    for (let g = 0; g < 300; g++) if (g !== 5) e.reclaim.pmapFault(vm, asGppn(g), false);
    expect(e.ram.frameCounts().free).toBe(0);
    expect(e.reclaim.vmCreate(212, 0)).toBe(1);
    expect(e.reclaim.vmCreate(1, 0)).toBe(-1); // pmap region is full: 300 + 212 = 512 pages
  });
});

describe('names shared with the module', () => {
  it('PState follows the order of the module per-VM state statistics', async () => {
    const { PState } = await import('../src/index.js');
    const e = Engine.create({ machineMemoryMiB: 1, guestMemoryMiB: 1 });
    const vm = e.reclaim.vmCreate(16, 0);
    e.reclaim.pmapFault(vm, asGppn(3), true);
    const names = Object.keys(e.reclaim.vmStats(vm));
    for (const [name, value] of Object.entries(PState).filter(([, v]) => typeof v === 'number')) {
      expect(names[value as number]).toBe(name[0].toLowerCase() + name.slice(1));
    }
    expect(e.reclaim.vmStats(vm)).toMatchObject({ unbacked: 15, mapped: 1, firstTouches: 1 });
  });

  it('FrameKind and FaultKind mirror the module constants', async () => {
    const { FaultKind } = await import('../src/index.js');
    const e = Engine.create({});
    const all = e.gateway.constants as unknown as Record<string, number>;
    const moduleConstants = (prefix: string) => Object.fromEntries(Object.entries(all).filter(([k]) => k.startsWith(prefix)));
    expect(moduleConstants('FRAME_KIND_')).toEqual({
      FRAME_KIND_FREE: FrameKind.Free,
      FRAME_KIND_GUEST: FrameKind.Guest,
      FRAME_KIND_ZPOOL: FrameKind.Zpool,
      FRAME_KIND_PAGE_TABLE: FrameKind.PageTable,
      FRAME_KIND_HYPERVISOR: FrameKind.Hypervisor,
    });
    expect(moduleConstants('FK_')).toEqual({
      FK_GUEST_PF: FaultKind.GuestPageFault,
      FK_EPT_VIOLATION: FaultKind.EptViolation,
      FK_EPT_MISCONFIG: FaultKind.EptMisconfig,
      FK_HOST: FaultKind.Host,
      FK_GUEST_OOM: FaultKind.GuestOutOfMemory,
      FK_NONCANONICAL: FaultKind.NonCanonical,
      FK_NO_FRAME: FaultKind.NoFrame,
    });
  });

  it('reads status codes from the module, not from TypeScript literals', () => {
    const e = Engine.create({ machineMemoryMiB: 1, guestMemoryMiB: 1 });
    const vm = e.reclaim.vmCreate(4, 0);
    expect(e.reclaim.pmapFault(vm, asGppn(4), false)).toBe(e.reclaim.faultCodes.FAULT_RANGE);
    expect(new Set(Object.values(e.reclaim.faultCodes)).size).toBe(4);
  });
});

describe('loading the module', () => {
  it('instantiates a module the caller compiled (as a browser or an embedding simulator would)', async () => {
    const { readFileSync } = await import('node:fs');
    const module = new WebAssembly.Module(readFileSync(new URL('../build/release.wasm', import.meta.url)));
    const e = Engine.create({ machineMemoryMiB: 1, module });
    expect(e.ram.frameAlloc(FrameKind.Guest)).toBe(0);
    expect(() => Engine.create({ module: {} as WebAssembly.Module })).toThrow(/module: got \[object Object\], expected a WebAssembly.Module/);
  });
});
