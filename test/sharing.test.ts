import { describe, expect, it } from 'vitest';
import { Host, PState, type VM } from '../src/index.js';
import { mulberry32 } from './prng.js';
import { engineOf } from '../src/engine/engine.js';
import { asGppn } from '../src/engine/addr.js';

/** The MPN behind (vm, gppn), read from the pmap of the host's engine. */
const frameOf = (host: Host, vm: VM, gppn: number) => engineOf(host).reclaim.pmapFrame(vm.id, asGppn(asGppn(gppn)));

const PAGE = 4096;


/** Distinct contents among the backed pages (Mapped, Shared, Zero) of each salt, summed over salts. */
function distinctPerDomain(vms: VM[]): number {
  const domains = new Map<number, Set<string>>();
  for (const vm of vms) {
    const set = domains.get(vm.salt) ?? new Set<string>();
    domains.set(vm.salt, set);
    for (let g = 0; g < vm.pages; g++) {
      const s = vm.pageState(g);
      // reading a backed page changes nothing but its accessed bit
      if (s === PState.Mapped || s === PState.Shared || s === PState.Zero) {
        set.add(Buffer.from(vm.readPhys(g * PAGE, PAGE)).toString('base64'));
      }
    }
  }
  return [...domains.values()].reduce((a, s) => a + s.size, 0);
}

/** Fills VMs with pages drawn from a small pool (duplicates within and across VMs), zeros, unique pages, and holes. */
function populate(vms: VM[], seed: number): void {
  const rnd = mulberry32(seed);
  const pool: Uint8Array[] = [];
  for (let i = 0; i < 12; i++) pool.push(Uint8Array.from({ length: PAGE }, () => Math.floor(rnd() * 256)));
  for (const vm of vms) {
    for (let g = 0; g < vm.pages; g++) {
      const r = rnd();
      if (r < 0.15) continue; // never touched: unbacked
      let p: Uint8Array;
      if (r < 0.3) p = new Uint8Array(PAGE);
      else if (r < 0.85) p = pool[Math.floor(rnd() * pool.length)];
      else p = Uint8Array.from({ length: PAGE }, () => Math.floor(rnd() * 256));
      vm.writePhys(g * PAGE, p);
    }
  }
}

async function makeHost(order: 'random' | 'sequential', seed = 3) {
  const host = await Host.create({ machineMemoryMiB: 32, seed, sharing: { order } });
  const vms = [
    host.addVM({ name: 'a', memoryMiB: 2, salt: 1 }),
    host.addVM({ name: 'b', memoryMiB: 2, salt: 1 }),
    host.addVM({ name: 'c', memoryMiB: 2, salt: 2 }),
    host.addVM({ name: 'd', memoryMiB: 2 }), // its own default salt
  ];
  return { host, vms };
}

describe('transparent page sharing', () => {
  for (const order of ['random', 'sequential'] as const) {
    it(`${order} order: after a full scan, guestFrames == distinct contents per sharing domain`, async () => {
      const { host, vms } = await makeHost(order);
      populate(vms, 99);
      const before = host.stats().host.guestFrames;
      const r = host.shareScan();
      expect(r.scanned).toBe(4 * 512);
      expect(r.fullScans).toBe(1);
      host.audit();
      const s = host.stats();
      expect(s.host.guestFrames).toBe(distinctPerDomain(vms));
      expect(s.host.guestFrames).toBeLessThan(before);
      // KSM's identities: every shared page beyond a frame's first is a page saved
      const shrd = s.vms.reduce((a, v) => a + v.SHRD, 0);
      expect(s.host.pages_sharing).toBe(shrd - s.host.pages_shared);
      expect(before - s.host.guestFrames).toBe(s.host.pages_sharing);
      const saved = s.vms.reduce((a, v) => a + v.SHRDSVD, 0);
      expect(saved).toBeCloseTo(s.host.pages_sharing, 6);
      expect(s.vms.every((v) => v.ZERO > 0)).toBe(true);

      // write some pages (copy-on-write breaks), scan twice (a full pass after the writes), exact again
      const rnd = mulberry32(5);
      for (let i = 0; i < 200; i++) {
        const vm = vms[Math.floor(rnd() * 4)];
        vm.writePhys(Math.floor(rnd() * vm.pages) * PAGE + Math.floor(rnd() * PAGE), new Uint8Array([Math.floor(rnd() * 4)]));
      }
      expect(host.stats().host.cow_breaks).toBeGreaterThan(0);
      host.shareScan(777);
      host.shareScan();
      host.shareScan();
      host.audit();
      expect(host.stats().host.guestFrames).toBe(distinctPerDomain(vms));
      host.close();
    });
  }

  it('never shares a frame between VMs of different salts (checked on the pmap and the table)', async () => {
    const host = await Host.create({ machineMemoryMiB: 8, sharing: { order: 'sequential' } });
    const x = host.addVM({ name: 'x', memoryMiB: 1 });
    const y = host.addVM({ name: 'y', memoryMiB: 1 });
    const z = host.addVM({ name: 'z', memoryMiB: 1, salt: 9 });
    const w = host.addVM({ name: 'w', memoryMiB: 1, salt: 9 });
    const page = Uint8Array.from({ length: PAGE }, (_, i) => (i * 31) & 0xff);
    for (const vm of [x, y, z, w]) for (let g = 0; g < 64; g++) vm.writePhys(g * PAGE, g % 2 ? page : new Uint8Array(PAGE));
    host.shareScan();
    host.audit(); // asserts each shared frame's salt equals every mapper's salt
    const frames = (vm: VM) => new Set(Array.from({ length: 64 }, (_, g) => frameOf(host, vm, g)));
    const [fx, fy, fz, fw] = [x, y, z, w].map(frames);
    const meet = (a: Set<number>, b: Set<number>) => [...a].some((m) => b.has(m));
    expect(meet(fx, fy)).toBe(false);
    expect(meet(fx, fz)).toBe(false);
    expect(meet(fy, fz)).toBe(false);
    expect(meet(fz, fw)).toBe(true); // same salt: shared
    expect(fx.size).toBe(2); // within one VM: the page and the zero frame
    // x, y: 2 frames each; z + w: 2 frames together
    expect(host.stats().host.guestFrames).toBe(6);
    host.close();
  });

  it('host-wide salting puts every default VM in one domain', async () => {
    const host = await Host.create({ machineMemoryMiB: 8, sharing: { salting: 'host' } });
    const a = host.addVM({ name: 'a', memoryMiB: 1 });
    const b = host.addVM({ name: 'b', memoryMiB: 1 });
    const page = new Uint8Array(PAGE).fill(0x5a);
    for (const vm of [a, b]) for (let g = 0; g < 10; g++) vm.writePhys(g * PAGE, page);
    host.shareScan();
    expect(host.stats().host.guestFrames).toBe(1);
    host.close();
  });

  it('breaks copy-on-write into a private copy, and gives the last user its frame back', async () => {
    const host = await Host.create({ machineMemoryMiB: 8, sharing: { order: 'sequential', salting: 'host' } });
    const a = host.addVM({ name: 'a', memoryMiB: 1 });
    const b = host.addVM({ name: 'b', memoryMiB: 1 });
    const page = new Uint8Array(PAGE).fill(7);
    a.writePhys(0, page);
    b.writePhys(0, page);
    host.shareScan();
    expect(a.pageState(0)).toBe(PState.Shared);
    expect(host.stats().host.guestFrames).toBe(1);
    a.writePhys(100, new Uint8Array([1]));
    expect(a.pageState(0)).toBe(PState.Mapped);
    expect(b.readPhys(100, 1)[0]).toBe(7);
    expect(a.readPhys(100, 1)[0]).toBe(1);
    expect(host.stats().host.guestFrames).toBe(2);
    const mpn = frameOf(host, b, 0);
    b.writePhys(5, new Uint8Array([2])); // last user: no copy
    expect(b.pageState(0)).toBe(PState.Mapped);
    expect(frameOf(host, b, 0)).toBe(mpn);
    expect(host.stats().host.cow_breaks).toBe(2);
    expect(host.stats().host.pages_shared).toBe(0);
    host.audit();
    host.close();
  });

  it('re-validates a hint: a page changed since it was seen is not merged', async () => {
    const host = await Host.create({ machineMemoryMiB: 8, sharing: { order: 'sequential', salting: 'host' } });
    const a = host.addVM({ name: 'a', memoryMiB: 1 });
    const x = new Uint8Array(PAGE).fill(1);
    const y = new Uint8Array(PAGE).fill(2);
    a.writePhys(0, x);
    a.writePhys(PAGE, x);
    host.shareScan(1); // GPPN 0 seen once: a hint
    expect(host.stats().host.pages_unshared).toBe(1);
    a.writePhys(0, y); // the hinted page changes (no fault: it is private and writable)
    host.shareScan(1); // GPPN 1 finds the stale hint: equal hash key, different contents
    expect(a.pageState(0)).toBe(PState.Mapped);
    expect(a.pageState(1)).toBe(PState.Mapped);
    expect(a.readPhys(0, PAGE)).toEqual(y);
    expect(a.readPhys(PAGE, PAGE)).toEqual(x);
    host.shareScan();
    expect(host.stats().host.pages_volatile).toBeGreaterThan(0);
    host.audit();
    host.close();
  });
});

describe('max_page_sharing: a cap on the users of one shared frame (KSM)', () => {
  it('600 equal pages with a cap of 256 take 3 frames (256 + 256 + 88 users); zero pages likewise; nothing lost', async () => {
    const host = await Host.create({ machineMemoryMiB: 32, sharing: { salting: 'host', maxPageSharing: 256, order: 'sequential' } });
    const a = host.addVM({ name: 'a', memoryMiB: 4 });
    const page = Uint8Array.from({ length: PAGE }, (_, i) => (i * 7) & 0xff);
    for (let g = 0; g < 600; g++) a.writePhys(g * PAGE, page);
    a.writePhys(700 * PAGE, new Uint8Array(PAGE)); // one written zero page among 1024 - 601 untouched (unbacked) ones
    for (let g = 701; g < 1000; g++) a.writePhys(g * PAGE, new Uint8Array(PAGE).fill(0));
    host.shareScan();
    host.shareScan(); // a second pass merges pages the first left as hints
    host.audit();
    const s = host.stats();
    // 600 equal pages: frames of 256, 256 and 88 users; 300 written zero pages: 256 + 44
    expect(s.host.pages_shared).toBe(3 + 2);
    expect(s.host.guestFrames).toBe(5);
    expect(s.vms[0].SHRD).toBe(900);
    for (let g = 0; g < 600; g += 97) expect(Buffer.from(a.readPhys(g * PAGE, PAGE)).equals(Buffer.from(page))).toBe(true);
    // the cap moves at run time; 0 lifts it
    host.setMaxPageSharing(0);
    const b = host.addVM({ name: 'b', memoryMiB: 1 });
    for (let g = 0; g < 256; g++) b.writePhys(g * PAGE, page);
    host.shareScan();
    host.audit();
    expect(() => host.setMaxPageSharing(1)).toThrow(/maxPageSharing: got 1, expected 0 \(no cap\) or at least 2/);
    host.close();
  });

  it('the cap cannot be set below a frame\'s users; past that check the audit catches it (SHARE_CAP)', async () => {
    const host = await Host.create({ machineMemoryMiB: 16, sharing: { salting: 'host' } });
    const a = host.addVM({ name: 'a', memoryMiB: 1 });
    const page = new Uint8Array(PAGE).fill(9);
    for (let g = 0; g < 10; g++) a.writePhys(g * PAGE, page);
    host.shareScan();
    host.audit();
    expect(() => host.setMaxPageSharing(4)).toThrow(/maxPageSharing: got 4, expected 0 or at least 10, the most users a shared frame has now/);
    engineOf(host).reclaim.sharingSetMaxSharing(4); // past the host's check: the frame has 10 users
    expect(() => host.audit()).toThrow(/invariant SHARE_CAP broken/);
    host.close();
  });
});
