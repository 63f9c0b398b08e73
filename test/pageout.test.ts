/**
 * Page-out options the host policies use (assembly/reclaim/pageout.ts, zipcache.ts): share before
 * swap (ESX) and a host-wide cap on the compressed pool (zswap max_pool_percent, kvm policy).
 */
import { describe, expect, it } from 'vitest';
import { Host } from '../src/index.js';

const PAGE = 4096;

/** A page that compresses to well under 1 KiB, distinct per `i`. */
function compressible(i: number): Uint8Array {
  const p = new Uint8Array(PAGE);
  p.fill(i & 0xff, 0, 64);
  new DataView(p.buffer).setUint32(100, i, true);
  return p;
}

describe('share before swap', () => {
  it('victims equal to a page of their domain are merged instead of compressed or swapped', async () => {
    for (const beforeSwap of [false, true]) {
      const host = await Host.create({
        machineMemoryMiB: 16, victimPolicy: 'lru', compression: { cachePercent: 0 },
        sharing: { salting: 'host', beforeSwap, order: 'sequential' },
      });
      const a = host.addVM({ name: 'a', memoryMiB: 1 });
      const b = host.addVM({ name: 'b', memoryMiB: 1 });
      // b holds copies of a's pages; the scanner has seen a's pages (hints) but not b's
      for (let g = 0; g < 256; g++) {
        a.writePhys(g * PAGE, compressible(g));
        b.writePhys(g * PAGE, compressible(g));
      }
      host.shareScan(256);
      const r = b.pageOut(100);
      expect(r.shared).toBe(beforeSwap ? 100 : 0);
      expect(r.swapped).toBe(beforeSwap ? 0 : 100);
      expect(b.stats().SWCUR).toBe(r.swapped);
      expect(b.stats().SHRD).toBe(r.shared);
      for (let g = 0; g < 256; g++) expect(Buffer.from(b.readPhys(g * PAGE, PAGE)).equals(Buffer.from(compressible(g)))).toBe(true);
      host.audit();
      host.close();
    }
  });
});

describe('share before swap of zero pages', () => {
  it('an all-zero victim with no zero frame in its domain becomes that frame: no compression, no swap write; the zero victims after it merge', async () => {
    for (const cachePercent of [0, 100]) {
      const host = await Host.create({
        machineMemoryMiB: 16, victimPolicy: 'lru', compression: { cachePercent },
        sharing: { salting: 'per-vm', beforeSwap: true, order: 'sequential' },
      });
      const vm = host.addVM({ name: 'z', memoryMiB: 1 });
      // 128 pages written with zeros (each holds a frame of its own: the scanner has not run) and
      // 128 of data; the victims are the zero pages (LRU: they were touched first)
      for (let g = 0; g < 128; g++) vm.writePhys(g * PAGE, new Uint8Array(PAGE));
      for (let g = 128; g < 256; g++) vm.writePhys(g * PAGE, compressible(g));
      const framesBefore = host.stats().host.freeFrames;
      const r = vm.pageOut(64);
      expect([r.shared, r.compressed, r.swapped]).toEqual([64, 0, 0]);
      const st = vm.stats();
      expect(st.SWCUR).toBe(0);
      expect(st.ZERO).toBe(64); // pages: every victim maps the one zero frame
      expect(host.stats().host.freeFrames - framesBefore).toBe(63);
      expect(host.stats().host.pagesSharedBeforeSwap).toBe(64);
      host.audit();
      for (let g = 0; g < 128; g++) expect(vm.readPhys(g * PAGE, PAGE).every((b) => b === 0)).toBe(true);
      for (let g = 128; g < 256; g++) expect(Buffer.from(vm.readPhys(g * PAGE, PAGE)).equals(Buffer.from(compressible(g)))).toBe(true);
      host.audit();
      host.close();
    }
  });
});

describe('host-wide compressed pool cap (zswap max_pool_percent)', () => {
  it('the pool stops at its cap, sends the rest to swap, and takes pages again below 90% of it', async () => {
    // 8 MiB host, 5% cap = 102 frames = 408 1 KiB slots
    const host = await Host.create({ machineMemoryMiB: 8, compression: { cachePercent: 100, poolPercent: 5 } });
    const vm = host.addVM({ name: 'v', memoryMiB: 4 });
    for (let g = 0; g < 1024; g++) vm.writePhys(g * PAGE, compressible(g));
    const r = vm.pageOut(600);
    const s = host.stats();
    expect(s.host.zpoolFrames).toBe(102);
    expect(r.compressed).toBe(408);
    expect(r.swapped).toBe(600 - 408);
    expect(s.host.zpoolRejects).toBeGreaterThan(0);
    // reading compressed pages back frees slots; the pool takes pages again only once below 90% (91 frames)
    for (let g = 0; g < 1024; g++) vm.readPhys(g * PAGE, 1);
    host.audit();
    expect(host.stats().host.zpoolFrames).toBe(0);
    const r2 = vm.pageOut(50);
    expect(r2.compressed).toBe(50);
    for (let g = 0; g < 1024; g++) expect(Buffer.from(vm.readPhys(g * PAGE, PAGE)).equals(Buffer.from(compressible(g)))).toBe(true);
    host.audit();
    host.close();
  });

  it('a full pool keeps refusing until it shrinks below the accept threshold', async () => {
    const host = await Host.create({ machineMemoryMiB: 8, compression: { cachePercent: 100, poolPercent: 5 } });
    const vm = host.addVM({ name: 'v', memoryMiB: 4 });
    for (let g = 0; g < 1024; g++) vm.writePhys(g * PAGE, compressible(g));
    vm.pageOut(600); // full: 102 frames
    // read compressed pages back until the pool is below its cap but above 90% of it: still refusing
    const frames = () => host.stats().host.zpoolFrames;
    const compressed = [...Array(1024).keys()].filter((g) => vm.pageState(g) === 4);
    let k = 0;
    while (frames() > 97) vm.readPhys(compressed[k++] * PAGE, 1);
    expect(frames()).toBeGreaterThan(92);
    const r = vm.pageOut(10);
    expect(r.compressed).toBe(0);
    expect(r.swapped).toBe(10);
    // below 90% (91 frames): it takes pages again
    while (frames() > 91) vm.readPhys(compressed[k++] * PAGE, 1);
    const r2 = vm.pageOut(10);
    expect(r2.compressed).toBe(10);
    host.audit();
    host.close();
  });
});
