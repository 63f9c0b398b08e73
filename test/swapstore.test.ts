import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import xxhash from 'xxhash-wasm';
import {
  ConfigError, FileSwapStore, MemvisorError, Host, MemorySwapStore, PState, SwapChecksumError, SwapIoError, VmFaultedError, OutOfMachineMemoryError, type VM,
} from '../src/node.js';
import { Engine, engineOf } from '../src/engine/engine.js';
import { asGppn } from '../src/engine/addr.js';
import { engineChecksum } from '../src/host/swapstore.js';
import fc from 'fast-check';
import { mulberry32 } from './prng.js';

/** The swap slot of Swapped (vm, gppn), read from the pmap of the host's engine. */
const slotOf = (host: Host, vm: VM, gppn: number) => engineOf(host).reclaim.pmapFrame(vm.id, asGppn(gppn));

const PAGE = 4096;

/** Incompressible, distinct page contents (nothing to share, nothing fits the zip cache). */
function noise(g: number, salt = 0): Uint8Array {
  const p = new Uint8Array(PAGE);
  let x = (g * 2654435761 + salt * 40503 + 1) >>> 0;
  for (let i = 0; i < PAGE; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    p[i] = x & 0xff;
  }
  return p;
}

function fill(vm: VM, n: number): void {
  for (let g = 0; g < n; g++) vm.writePhys(g * PAGE, noise(g));
}

for (const backing of ['memory', 'file'] as const) {
  describe(`swap store (${backing})`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'memvisor-swap-'));
    const make = () => Host.create({ machineMemoryMiB: 4, seed: 3, swap: { backing, dir }, compression: { cachePercent: 0 } });

    it('swaps out in clusters and back in on access, with checksums', async () => {
      const host = await make();
      const vm = host.addVM({ name: 'v', memoryMiB: 2 });
      fill(vm, 300);
      const r = vm.pageOut(200);
      expect(r.swapped).toBe(200);
      expect(vm.stats().SWCUR).toBe(200);
      expect(vm.swap.stats().clusters).toBeLessThan(20); // consecutive slots go out in one write
      for (let g = 0; g < 300; g++) expect(Buffer.from(vm.readPhys(g * PAGE, PAGE)).equals(Buffer.from(noise(g)))).toBe(true);
      expect(vm.stats().SWR).toBe(200);
      expect(vm.stats().SWCUR).toBe(0);
      host.audit();
      host.close();
      if (backing === 'file') expect(readdirSync(dir).filter((f) => f.endsWith('.vswp'))).toEqual([]);
    });

    it('a write error leaves the page resident and is reported', async () => {
      const host = await make();
      const vm = host.addVM({ name: 'v', memoryMiB: 1 });
      fill(vm, 100);
      vm.swap.inject({ kind: 'write-error' });
      const r = vm.pageOut(50);
      expect(r.error).toBeInstanceOf(SwapIoError);
      expect(r.writeFailed).toBeGreaterThan(0);
      expect(vm.stats().swapWriteErrors).toBe(1);
      expect(vm.stats().resident + vm.stats().SWCUR).toBe(100);
      expect(vm.swap.stats().used).toBe(vm.stats().SWCUR);
      host.audit();
      for (let g = 0; g < 100; g++) expect(Buffer.from(vm.readPhys(g * PAGE, PAGE)).equals(Buffer.from(noise(g)))).toBe(true);
      host.close();
    });

    it('a read error is retried; past the retries it is a typed error, the VM is faulted and returns no data', async () => {
      const host = await make();
      const vm = host.addVM({ name: 'v', memoryMiB: 1 });
      const other = host.addVM({ name: 'o', memoryMiB: 1 });
      fill(vm, 20);
      other.writePhys(0, noise(1, 1));
      vm.pageOut(20);
      vm.swap.inject({ kind: 'read-error', count: 3 }); // the default 3 retries cure it
      expect(Buffer.from(vm.readPhys(0, PAGE)).equals(Buffer.from(noise(0)))).toBe(true);
      expect(vm.stats()).toMatchObject({ swapReadErrors: 3, swapReadRetries: 3, faulted: 0 });
      vm.swap.inject({ kind: 'read-error', count: 4 }); // one more than the retries
      let err: unknown;
      try {
        vm.readPhys(0, PAGE * 20);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(SwapIoError);
      expect((err as SwapIoError).code).toBe('EIO');
      expect((err as Error).message).toMatch(/read of GPPN 1 at slot \d+ failed 4 times: EIO \(input\/output error/);
      expect(vm.faulted).toBe(err);
      expect(() => vm.readPhys(0, 1)).toThrow(VmFaultedError);
      expect(vm.stats().faulted).toBe(1);
      // the other VM is unaffected
      expect(Buffer.from(other.readPhys(0, PAGE)).equals(Buffer.from(noise(1, 1)))).toBe(true);
      host.audit();
      host.close();
    });

    it('the checksum catches a torn write and a page read from the wrong slot, on the store alone', () => {
      const store = backing === 'memory' ? new MemorySwapStore('alone', 8) : new FileSwapStore('alone', 8, join(dir, `alone-${Date.now()}.vswp`));
      try {
        const pages = [noise(1), noise(2), noise(3)];
        const slots = store.alloc(3);
        expect(store.writePages(slots, [10, 11, 12], pages).ok).toEqual([true, true, true]);
        const dst = new Uint8Array(PAGE);
        store.readPage(slots[1], 11, dst);
        expect(dst).toEqual(pages[1]);
        // the device hands back another slot's bytes for slot 1 (a misdirected write): the GPPN's seed and the sum both differ
        (store as unknown as { patch(slot: number, offset: number, bytes: Uint8Array): void }).patch(slots[1], 0, pages[2]);
        expect(() => store.readPage(slots[1], 11, dst)).toThrow(SwapChecksumError);
        expect(dst.every((b) => b === 0)).toBe(true); // the wrong bytes are not handed over
        // a torn write: the cluster reports success, the second half of its first page keeps what the slot held
        const more = store.alloc(2);
        store.inject({ kind: 'torn-write' });
        expect(store.writePages(more, [20, 21], [noise(4), noise(5)]).ok).toEqual([true, true]);
        expect(() => store.readPage(more[0], 20, dst)).toThrow(SwapChecksumError);
        store.readPage(more[1], 21, dst);
        expect(dst).toEqual(noise(5));
        const st = store.stats();
        expect(st.checksumErrors).toBe(2 * (1 + store.readRetries));
        expect(store.heldBytes()).toBe(backing === 'memory' ? 256 * PAGE : 0); // five pages: one chunk, or a file
      } finally {
        store.close();
      }
    });

    it('a flipped bit is caught by the checksum, naming VM, GPPN and slot', async () => {
      const host = await make();
      const vm = host.addVM({ name: 'flip', memoryMiB: 1 });
      fill(vm, 10);
      vm.pageOut(10);
      const slot = slotOf(host, vm, 4);
      expect(vm.pageState(4)).toBe(PState.Swapped);
      vm.swap.corrupt(slot, 12345);
      for (const g of [0, 1, 2, 3]) vm.readPhys(g * PAGE, 8); // other pages are fine
      let err: unknown;
      try {
        vm.readPhys(4 * PAGE + 10, 2);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(SwapChecksumError);
      expect((err as SwapChecksumError).gppn).toBe(4);
      expect((err as SwapChecksumError).slot).toBe(slot);
      expect((err as Error).message).toMatch(/"flip".*GPPN 4.*slot/);
      expect(vm.pageState(4)).toBe(PState.Swapped); // wrong data never became guest memory
      expect(() => vm.pageOut(1)).toThrow(VmFaultedError);
      host.close();
    });

    it('one long read swaps a run back in batches, slots in clusters; a bad page mid-run stops it after the good ones', async () => {
      const host = await make();
      const vm = host.addVM({ name: 'run', memoryMiB: 2, victimPolicy: 'lru' });
      fill(vm, 300);
      expect(vm.pageOut(300).swapped).toBe(300);
      const all = vm.readPhys(0, 300 * PAGE, new Uint8Array(300 * PAGE + 7)); // into a caller's buffer
      for (let g = 0; g < 300; g++) expect(Buffer.from(all.subarray(g * PAGE, (g + 1) * PAGE)).equals(Buffer.from(noise(g)))).toBe(true);
      expect(vm.stats().SWR).toBe(300);
      expect(vm.swap.stats().used).toBe(0);
      host.audit();
      expect(vm.pageOut(300).swapped).toBe(300);
      const reads = vm.swap.stats().reads;
      vm.swap.corrupt(slotOf(host, vm, 150), 7);
      expect(() => vm.readPhys(100 * PAGE, 100 * PAGE)).toThrow(SwapChecksumError);
      expect(vm.swap.stats().reads - reads).toBe(50); // GPPNs 100..149, then the bad one
      for (let g = 100; g < 150; g++) expect(vm.pageState(g)).toBe(PState.Mapped);
      for (let g = 150; g < 200; g++) expect(vm.pageState(g)).toBe(PState.Swapped);
      expect(vm.swap.stats().used).toBe(250);
      expect(() => vm.readPhys(0, 1, new Uint8Array(1))).toThrow(VmFaultedError);
      host.close();
    });

    it('swap I/O on a closed store is a typed EBADF error, not a crash or silent zeros; after host.close() every call names the closed host', async () => {
      const host = await make();
      const vm = host.addVM({ name: 'late', memoryMiB: 1 });
      fill(vm, 20);
      vm.pageOut(10);
      vm.swap.close(); // what host.close() does first
      const r = vm.pageOut(5);
      expect(r.error).toBeInstanceOf(SwapIoError);
      expect(r.error!.code).toBe('EBADF');
      expect(r.error!.message).toMatch(/the swap store is closed/);
      expect(vm.stats().resident + vm.stats().SWCUR).toBe(20); // nothing lost by the failed writes
      expect(() => vm.readPhys(0, 20 * PAGE)).toThrow(/EBADF/);
      const other = host.addVM({ name: 'other', memoryMiB: 1 });
      fill(other, 4);
      host.close();
      for (const call of [() => other.pageOut(2), () => other.readPhys(0, PAGE), () => other.stats(), () => host.stats()]) {
        expect(call).toThrow(MemvisorError);
        expect(call).toThrow(/^host: closed/);
      }
    });

    it('readPhys into a buffer too short is a typed error', async () => {
      const host = await make();
      const vm = host.addVM({ name: 'v', memoryMiB: 1 });
      expect(() => vm.readPhys(0, 16, new Uint8Array(15))).toThrow(/into/);
      expect(vm.readPhys(0, 16, new Uint8Array(16))).toEqual(new Uint8Array(16));
      host.close();
    });

    it('a full store stops page-out, loses nothing, and reports it', async () => {
      const host = await make();
      const vm = host.addVM({ name: 'v', memoryMiB: 1, reservationMiB: 1 }); // swap store of 0 pages
      const w = host.addVM({ name: 'w', memoryMiB: 2, reservationMiB: 1 }); // 256 slots
      fill(vm, 30);
      const r = vm.pageOut(10);
      expect(r.swapFull).toBe(true);
      expect(r.swapped).toBe(0);
      expect(vm.stats().SWTGT).toBe(10);
      fill(w, 400);
      expect(w.pageOut(400).swapped).toBe(256);
      const r2 = w.pageOut(10);
      expect(r2.swapFull).toBe(true);
      host.audit();
      for (let g = 0; g < 400; g++) expect(Buffer.from(w.readPhys(g * PAGE, PAGE)).equals(Buffer.from(noise(g)))).toBe(true);
      host.close();
    });
  });
}

describe('host pressure, limits and the zip cache', () => {
  it('reclaims from VMs under pressure; when swap writes fail, the error says why', async () => {
    const host = await Host.create({ machineMemoryMiB: 1, compression: { cachePercent: 0 } });
    const a = host.addVM({ name: 'a', memoryMiB: 1 });
    const b = host.addVM({ name: 'b', memoryMiB: 1 });
    fill(a, 256);
    fill(b, 200); // takes frames from a, which swaps
    expect(a.stats().SWCUR).toBeGreaterThan(0);
    for (let g = 0; g < 256; g++) expect(Buffer.from(a.readPhys(g * PAGE, PAGE)).equals(Buffer.from(noise(g)))).toBe(true);
    host.audit();
    // a full disk under every store: nothing can be reclaimed, and the access says ENOSPC
    a.swap.inject({ kind: 'enospc', count: 1000 });
    b.swap.inject({ kind: 'enospc', count: 1000 });
    let err: unknown;
    try {
      fill(b, 256);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SwapIoError);
    expect((err as SwapIoError).code).toBe('ENOSPC');
    expect((err as Error).message).toMatch(/write of GPPN \d+ at slot \d+ failed: ENOSPC \(no space left/);
    expect(a.faulted).toBeNull(); // a failed write loses nothing
    expect(b.faulted).toBeNull();
    host.audit();
    host.close();
  });

  it('holds a VM to its limit', async () => {
    const host = await Host.create({ machineMemoryMiB: 8 });
    const vm = host.addVM({ name: 'v', memoryMiB: 2, limitMiB: 1 });
    fill(vm, 400);
    expect(vm.residentPages).toBeLessThanOrEqual(256);
    for (let g = 0; g < 400; g++) expect(Buffer.from(vm.readPhys(g * PAGE, PAGE)).equals(Buffer.from(noise(g)))).toBe(true);
    host.audit();
    host.close();
  });

  it('compresses into 1 KiB and 2 KiB slots up to the cap, then evicts the oldest to swap', async () => {
    const host = await Host.create({ machineMemoryMiB: 8, compression: { cachePercent: 10 } });
    const vm = host.addVM({ name: 'z', memoryMiB: 1, victimPolicy: 'lru' });
    const page = (g: number, half: boolean) => {
      const p = new Uint8Array(PAGE);
      const n = half ? 1400 : 600; // that many noisy bytes: compresses to a 2 KiB or a 1 KiB slot
      p.set(noise(g).subarray(0, n));
      return p;
    };
    for (let g = 0; g < 200; g++) vm.writePhys(g * PAGE, page(g, g % 2 === 0));
    const r = vm.pageOut(200);
    const s = vm.stats();
    expect(s.cacheCapBytes).toBe(Math.floor(256 * PAGE * 0.1));
    expect(s.CACHESZ).toBeLessThanOrEqual(s.cacheCapBytes);
    expect(r.compressed).toBe(200);
    expect(r.evicted).toBeGreaterThan(0);
    expect(s.zipEvictions).toBe(r.evicted);
    expect(s.SWCUR).toBe(r.evicted);
    const h = host.stats().host;
    expect(h.zpoolSlots1K).toBeGreaterThan(0);
    expect(h.zpoolSlots2K).toBeGreaterThan(0);
    expect(h.zipHistogram.reduce((a, b) => a + b, 0)).toBe(200);
    expect(s.CACHEUSD).toBeLessThan(s.CACHESZ);
    // the oldest went to swap first: GPPN 0 is swapped, the last victims are compressed
    expect(vm.pageState(0)).toBe(PState.Swapped);
    expect(vm.pageState(199)).toBe(PState.Compressed);
    for (let g = 0; g < 200; g++) expect(Buffer.from(vm.readPhys(g * PAGE, PAGE)).equals(Buffer.from(page(g, g % 2 === 0)))).toBe(true);
    expect(vm.stats().UNZIP).toBeGreaterThan(0);
    const before = host.stats();
    const after = host.stats();
    expect(Host.rates(before, after, 1)[0]['ZIP/s']).toBe(0);
    host.audit();
    host.close();
  });
});

describe('arguments are validated: typed errors, nothing changed', () => {
  it('rejects bad addresses, counts, VMs, balloon lists and configs', async () => {
    const host = await Host.create({ machineMemoryMiB: 4 });
    const vm = host.addVM({ name: 'v', memoryMiB: 1 });
    vm.writePhys(0, new Uint8Array([1, 2, 3]));
    const snap = JSON.stringify(host.stats());
    expect(() => vm.writePhys(256 * PAGE - 1, new Uint8Array(2))).toThrow(/length/);
    expect(() => vm.readPhys(256 * PAGE + 1, 1)).toThrow(/gpa/);
    expect(() => vm.readPhys(-1, 1)).toThrow(ConfigError);
    expect(() => vm.pageOut(-1)).toThrow(/count/);
    expect(() => vm.pageOut(1.5)).toThrow(ConfigError);
    expect(() => host.vm('nope')).toThrow(/vm: got "nope"/);
    vm.balloonInflate([5]);
    const snap2 = JSON.stringify(host.stats());
    expect(() => vm.balloonInflate([1, 2, 1])).toThrow(/gppns\[2\].*listed once/);
    expect(() => vm.balloonInflate([1, 5])).toThrow(/gppns\[1\].*not already ballooned/);
    expect(() => vm.balloonInflate([1, 256])).toThrow(/gppns\[1\]/);
    expect(() => vm.balloonDeflate([5, 6])).toThrow(/gppns\[1\].*ballooned/);
    expect(() => vm.balloonInflate(Array.from({ length: 200 }, (_, i) => i + 10))).toThrow(/balloon cap/);
    expect(JSON.stringify(host.stats())).toBe(snap2);
    vm.balloonDeflate([5]);
    expect(() => host.addVM({ name: 'v', memoryMiB: 1 })).toThrow(/vm.name/);
    expect(() => host.addVM({ name: 'x', memoryMiB: 0 })).toThrow(/vm.memoryMiB/);
    expect(() => host.addVM({ name: 'x', memoryMiB: 1, mmu: 'npt' as never })).toThrow(/vm.mmu/);
    expect(() => host.addVM({ name: 'x', memoryMiB: 1, reservationMiB: 5 } as never)).toThrow(/reservationMiB/);
    expect(() => host.addVM({ name: 'x', memoryMiB: 1, sizeMiB: 1 } as never)).toThrow(/vm.sizeMiB: .*no such field/);
    await expect(Host.create({ machineMemoryMiB: 4, sharing: { order: 'zigzag' as never } })).rejects.toThrow(/sharing.order/);
    await expect(Host.create({ machineMemoryMiB: 0 })).rejects.toThrow(/machineMemoryMiB/);
    expect(vm.readPhys(0, 3)).toEqual(new Uint8Array([1, 2, 3]));
    host.audit();
    host.close();
  });

  it('a swap directory that cannot hold a file is a ConfigError, and the host stays usable', async () => {
    const host = await Host.create({ machineMemoryMiB: 4, swap: { backing: 'file', dir: '/nonexistent/memvisor-swap' } });
    expect(() => host.addVM({ name: 'a', memoryMiB: 1 })).toThrow(ConfigError);
    expect(() => host.addVM({ name: 'a', memoryMiB: 1 })).toThrow(/swap.dir: got "\/nonexistent\/memvisor-swap", expected a writable directory/);
    expect(host.vms.length).toBe(0);
    expect(engineOf(host).reclaim.vmTotal()).toBe(0); // the engine holds no VM the host does not know
    host.close();
  });

  it('loads a raw image from a file in chunks and from bytes, leaving zero pages unbacked', async () => {
    const host = await Host.create({ machineMemoryMiB: 8 });
    const vm = host.addVM({ name: 'img', memoryMiB: 4 });
    const img = new Uint8Array(3 * 1024 * 1024 + 123);
    for (let i = 0; i + PAGE <= img.length; i += 4096 * 3) img.set(noise(i), i);
    const file = join(mkdtempSync(join(tmpdir(), 'memvisor-img-')), 'guest.vmem');
    writeFileSync(file, img);
    expect(vm.loadImage(file, PAGE)).toBe(img.length);
    expect(Buffer.from(vm.readPhys(PAGE, img.length)).equals(Buffer.from(img))).toBe(true);
    const vm2 = host.addVM({ name: 'img2', memoryMiB: 4 });
    vm2.loadImage(img);
    expect(vm2.stats().unbacked).toBeGreaterThan(0);
    expect(Buffer.from(vm2.readPhys(0, img.length)).equals(Buffer.from(img))).toBe(true);
    expect(() => vm.loadImage(file, 2 * 1024 * 1024)).toThrow(/length/);
    expect(() => vm.loadImage('/nonexistent/file')).toThrow(/image/);
    expect(() => vm.loadImage(tmpdir())).toThrow(/image: got .*, expected a regular file/);
    host.audit();
    host.close();
  });
});

describe('swap checksums', () => {
  it('are the reference XXH64 (xxhash-wasm) seeded with the GPPN: pages in the engine hashed in place, others copied, any mix', async () => {
    const ref = await xxhash();
    const rnd = mulberry32(17);
    const n = 300; // more than one batch of the engine's list
    const js = Array.from({ length: n }, (_, i) => {
      const p = new Uint8Array(PAGE);
      // some pages all zero, some with one byte set, the rest noise
      if (i % 7 === 1) p[Math.floor(rnd() * PAGE)] = 1 + Math.floor(rnd() * 255);
      else if (i % 7 !== 0) for (let k = 0; k < PAGE; k++) p[k] = Math.floor(rnd() * 256);
      return p;
    });
    const seeds = Array.from({ length: n }, (_, i) => (i * 2654435761) >>> 0);
    const want = js.map((p, i) => ref.h64Raw(p, BigInt(seeds[i])));
    const got = (out: Uint32Array) => Array.from({ length: n }, (_, i) => BigInt(out[2 * i]) | (BigInt(out[2 * i + 1]) << 32n));
    const e = Engine.create({ machineMemoryMiB: 0, stagingBytes: 8 << 20 });
    const at = e.gateway.stage(n * PAGE);
    const inEngine = js.map((p, i) => {
      e.gateway.u8.set(p, at + i * PAGE);
      return e.gateway.u8.subarray(at + i * PAGE, at + (i + 1) * PAGE);
    });
    for (const [pages, engine] of [[inEngine, e], [js, e], [js, null], [[...inEngine.slice(0, 100), ...js.slice(100)], e]] as const) {
      const out = new Uint32Array(2 * n);
      engineChecksum(engine)(pages, seeds, 0, n, out);
      expect(got(out)).toEqual(want);
    }
    // a range of the list: only its words are written
    const part = new Uint32Array(2 * n);
    engineChecksum(e)(inEngine, seeds, 5, 9, part);
    expect(got(part).slice(5, 9)).toEqual(want.slice(5, 9));
    expect(part.every((w, i) => (i >= 10 && i < 18) || w === 0)).toBe(true);
  });
});

/** Byte equality of two pages (expect's deep equality walks 4096 elements one by one, too slowly for thousands of pages). */
const same = (a: Uint8Array, b: Uint8Array) => Buffer.compare(a, b) === 0;

describe('memory swap store: pages wherever their slots are, memory that follows what it holds', () => {
  it('seeded runs of alloc, write, read, corrupt and release against a map of what each slot was given', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.integer({ min: 64, max: 1200 }), (seed, capacity) => {
        const rnd = mulberry32(seed);
        const store = new MemorySwapStore('oracle', capacity);
        const held = new Map<number, { gppn: number; salt: number }>(); // the oracle: slot -> page written
        let most = 0;
        const dst = new Uint8Array(PAGE);
        try {
          for (let step = 0; step < 120; step++) {
            const r = rnd();
            if (r < 0.45 && store.free > 0) {
              // a batch goes out, as page-out writes it
              const n = 1 + Math.floor(rnd() * Math.min(store.free, 64));
              const slots = store.alloc(n);
              const gppns = slots.map(() => Math.floor(rnd() * 1e6));
              const salt = step;
              const { ok } = store.writePages(slots, gppns, gppns.map((g) => noise(g, salt)));
              expect(ok.every(Boolean)).toBe(true);
              slots.forEach((s, k) => held.set(s, { gppn: gppns[k], salt }));
            } else if (r < 0.85 && held.size > 0) {
              // some come back in, in any order, and their slots are released
              const slots = [...held.keys()].filter(() => rnd() < 0.4);
              for (const s of slots) {
                const { gppn, salt } = held.get(s)!;
                store.readPage(s, gppn, dst);
                expect(same(dst, noise(gppn, salt))).toBe(true);
                store.release(s);
                held.delete(s);
              }
            } else if (held.size > 0) {
              // a stored bit flips: that page alone fails its checksum
              const s = [...held.keys()][Math.floor(rnd() * held.size)];
              const { gppn } = held.get(s)!;
              store.corrupt(s, Math.floor(rnd() * PAGE * 8));
              expect(() => store.readPage(s, gppn, dst)).toThrow(SwapChecksumError);
              store.release(s);
              held.delete(s);
            }
            most = Math.max(most, held.size);
            expect(store.stats().used).toBe(held.size);
            // the chunks follow the most pages held at once, however far apart their slots lie
            expect(store.heldBytes()).toBeLessThanOrEqual(Math.ceil(most / 256) * 256 * PAGE);
          }
          for (const [s, { gppn, salt }] of held) {
            store.readPage(s, gppn, dst);
            expect(same(dst, noise(gppn, salt))).toBe(true);
          }
        } finally {
          store.close();
        }
      }),
      { numRuns: 25, seed: 7 },
    );
  });

  it('pages that go out and come back batch after batch hold one chunk, while their slots walk the whole store', () => {
    const store = new MemorySwapStore('walk', 64 * 256);
    const dst = new Uint8Array(PAGE);
    let highest = 0;
    for (let round = 0; round < 64; round++) {
      const slots = store.alloc(256);
      const gppns = slots.map((s) => s + round);
      store.writePages(slots, gppns, gppns.map((g) => noise(g)));
      slots.forEach((s, k) => {
        store.readPage(s, gppns[k], dst);
        expect(same(dst, noise(gppns[k]))).toBe(true);
        store.release(s);
      });
      highest = Math.max(highest, ...slots);
    }
    expect(highest).toBe(64 * 256 - 1); // fresh slots first: the batches took every slot once
    expect(store.heldBytes()).toBe(256 * PAGE); // one 1 MiB chunk, not 64
    store.close();
  });
});
