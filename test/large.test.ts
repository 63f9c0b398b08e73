/**
 * Large pages (assembly/reclaim/large.ts): 2 MiB groups of guest memory backed by one aligned
 * block of frames while the host allows it, mapped by one EPT leaf, hashed but not merged by the
 * sharing scanner, broken before a page of them leaves alone and when the policy says so (then
 * merged at once). Each on its own; the audit's LARGE_* and FRAME_BLOCKS invariants are proved
 * to fire in audit.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { Host, PState, type VM } from '../src/index.js';
import { engineOf } from '../src/engine/engine.js';
import { asGppn } from '../src/engine/addr.js';

const PAGE = 4096;
const G = 512; // pages of a large group

/** A page of `seed`-derived bytes (distinct per seed). */
function pageOf(seed: number): Uint8Array {
  const p = new Uint8Array(PAGE);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < PAGE; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    p[i] = x & 0xff;
    p[i + 1] = (x >>> 8) & 0xff;
  }
  return p;
}

/** Frames of GPPNs [g0, g0 + n) of `vm`. */
function frames(host: Host, vm: VM, g0: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => engineOf(host).reclaim.pmapFrame(vm.id, asGppn(g0 + i)));
}

describe('large pages: backing', () => {
  it('a first touch backs its whole aligned group with one aligned block, zeroed, while allowed', async () => {
    const host = await Host.create({ machineMemoryMiB: 16, largePages: true });
    const vm = host.addVM({ name: 'v', memoryMiB: 4 });
    vm.writePhys(5 * PAGE + 100, new Uint8Array([1, 2, 3]));
    expect(vm.stats().largePages).toBe(1);
    expect(vm.stats().mapped).toBe(G);
    const f = frames(host, vm, 0, G);
    expect(f[0] % G).toBe(0);
    expect(f.every((m, i) => m === f[0] + i)).toBe(true);
    for (let g = 0; g < G; g++) expect(engineOf(host).reclaim.pmapLarge(vm.id, asGppn(g))).toBe(true);
    expect(vm.readPhys(6 * PAGE, PAGE).every((b) => b === 0)).toBe(true);
    expect([...vm.readPhys(5 * PAGE + 100, 3)]).toEqual([1, 2, 3]);
    expect(host.stats().host.largeAllocs).toBe(1);
    // stopped: the next group's first touch takes one small page
    host.allowLargePages(false);
    vm.writePhys(600 * PAGE, new Uint8Array([9]));
    expect(vm.stats().largePages).toBe(1);
    expect(vm.stats().mapped).toBe(G + 1);
    // allowed again, but that group is partly backed now: still small
    host.allowLargePages(true);
    vm.writePhys(700 * PAGE, new Uint8Array([9]));
    expect(vm.stats().largePages).toBe(1);
    expect(engineOf(host).reclaim.pmapLarge(vm.id, asGppn(700))).toBe(false);
    host.audit();
    host.close();
  });

  it('only VMs with large pages on; a group must fit the VM and its limit', async () => {
    const host = await Host.create({ machineMemoryMiB: 16, largePages: true });
    const off = host.addVM({ name: 'off', memoryMiB: 4, largePages: false });
    const odd = host.addVM({ name: 'odd', memoryMiB: 3 }); // 768 pages: group 1 would end past the VM
    const lim = host.addVM({ name: 'lim', memoryMiB: 4, limitMiB: 1 }); // room for 256 resident pages only
    off.writePhys(0, new Uint8Array([1]));
    odd.writePhys(G * PAGE, new Uint8Array([1]));
    odd.writePhys(0, new Uint8Array([1]));
    lim.writePhys(0, new Uint8Array([1]));
    expect(off.stats().largePages).toBe(0);
    expect(odd.stats().largePages).toBe(1);
    expect(engineOf(host).reclaim.pmapLarge(odd.id, asGppn(G))).toBe(false);
    expect(lim.stats().largePages).toBe(0);
    expect(lim.stats().mapped).toBe(1);
    host.audit();
    host.close();
  });

  it('needs a wholly free aligned block: a fragmented host backs small pages and counts the miss', async () => {
    const host = await Host.create({ machineMemoryMiB: 4, largePages: true }); // 2 blocks
    const small = host.addVM({ name: 'small', memoryMiB: 4, largePages: false });
    const big = host.addVM({ name: 'big', memoryMiB: 4 });
    // one page in each block: no block is whole
    small.writePhys(0, new Uint8Array(G * PAGE + PAGE).fill(7));
    expect(engineOf(host).ram.frameBlockFree(0)).toBe(0);
    expect(engineOf(host).ram.frameBlockFree(1)).toBe(G - 1);
    big.writePhys(0, new Uint8Array([1]));
    expect(big.stats().largePages).toBe(0);
    expect(host.stats().host.largeFailed).toBe(1);
    host.audit();
    // the small VM goes: its frames return, block 0 is whole again (big's one small page sits in block 1)
    small.powerOff();
    expect(engineOf(host).ram.frameBlockFree(0)).toBe(G);
    expect(engineOf(host).ram.frameBlockFree(1)).toBe(G - 1);
    big.writePhys(G * PAGE, new Uint8Array([1]));
    expect(big.stats().largePages).toBe(1);
    host.audit();
    host.close();
  });
});

describe('large pages: the EPT maps them with one 2 MiB leaf', () => {
  it('a large group gets a large EPT leaf; once broken, 4 KiB leaves', async () => {
    const host = await Host.create({ machineMemoryMiB: 64, largePages: true });
    const vm = host.addVM({ name: 'v', memoryMiB: 16 });
    const core = host.mmu();
    core.attach(vm);
    const va = 0x400000n;
    const t = core.translate(va, 'write');
    expect(t.fault).toBeNull();
    // the data page's GPPN: the only large group holding the frame the translation reached
    let g = -1;
    for (let p = 0; p < vm.pages; p++) if (engineOf(host).reclaim.pmapState(vm.id, asGppn(p)) === PState.Mapped && engineOf(host).reclaim.pmapFrame(vm.id, asGppn(p)) === Number(t.hpa! >> 12n)) g = p;
    expect(g).toBeGreaterThanOrEqual(0);
    expect(engineOf(host).reclaim.pmapLarge(vm.id, asGppn(g))).toBe(true);
    const EPT_LARGE = 1n << 7n;
    const leaf2 = engineOf(host).translate.eptPeek(vm.id, g * PAGE, 2);
    expect(leaf2 & 7n).not.toBe(0n);
    expect(leaf2 & EPT_LARGE).toBe(EPT_LARGE);
    // the whole group translates through that leaf: the leaf's frame is the group's first
    expect(Number((leaf2 >> 12n) & ((1n << 40n) - 1n))).toBe(engineOf(host).reclaim.pmapFrame(vm.id, asGppn(g - (g % G))));
    // break: the large leaf goes, the next touch installs a 4 KiB leaf for the same frame
    expect(host.breakLargePages({ vm })).toBeGreaterThan(0);
    expect(engineOf(host).reclaim.pmapLarge(vm.id, asGppn(g))).toBe(false);
    const t2 = core.translate(va, 'read');
    expect(t2.hpa).toBe(t.hpa);
    const after = engineOf(host).translate.eptPeek(vm.id, g * PAGE, 2);
    expect(after & EPT_LARGE).toBe(0n);
    expect(engineOf(host).translate.eptPeek(vm.id, g * PAGE, 1) & 7n).not.toBe(0n);
    host.audit();
    host.close();
  });
});

describe('large pages: breaking', () => {
  it('before a page of the group is compressed or swapped; the frames stay, nothing is lost', async () => {
    const host = await Host.create({ machineMemoryMiB: 16, largePages: true });
    const vm = host.addVM({ name: 'v', memoryMiB: 4 });
    const data = new Uint8Array(G * PAGE);
    for (let i = 0; i < G; i++) data.set(pageOf(i).subarray(0, 64), i * PAGE);
    vm.writePhys(0, data);
    const before = frames(host, vm, 0, G);
    expect(vm.stats().largePages).toBe(1);
    const r = vm.pageOut(10);
    expect(r.compressed + r.swapped).toBe(10);
    expect(vm.stats().largePages).toBe(0);
    expect(host.stats().host.largeBreaks).toBe(1);
    // pages still resident kept their frames
    const after = frames(host, vm, 0, G);
    let kept = 0;
    for (let i = 0; i < G; i++) if (engineOf(host).reclaim.pmapState(vm.id, asGppn(i)) === PState.Mapped) {
      expect(after[i]).toBe(before[i]);
      kept++;
    }
    expect(kept).toBe(G - 10);
    expect(Buffer.from(vm.readPhys(0, G * PAGE)).equals(Buffer.from(data))).toBe(true);
    host.audit();
    host.close();
  });

  it('before a page of the group is ballooned', async () => {
    const host = await Host.create({ machineMemoryMiB: 16, largePages: true });
    const vm = host.addVM({ name: 'v', memoryMiB: 4 });
    vm.writePhys(0, pageOf(1));
    vm.writePhys(3 * PAGE, pageOf(3));
    expect(vm.stats().largePages).toBe(1);
    vm.balloonInflate([1, 2]);
    expect(vm.stats().largePages).toBe(0);
    expect(vm.stats().MCTLSZ).toBe(2);
    expect(vm.stats().mapped).toBe(G - 2);
    expect(Buffer.from(vm.readPhys(3 * PAGE, PAGE)).equals(Buffer.from(pageOf(3)))).toBe(true);
    host.audit();
    host.close();
  });

  it('breakLargePages: all, per VM, or a number of them', async () => {
    const host = await Host.create({ machineMemoryMiB: 32, largePages: true });
    const a = host.addVM({ name: 'a', memoryMiB: 4 });
    const b = host.addVM({ name: 'b', memoryMiB: 4 });
    for (const v of [a, b]) for (let g = 0; g < 2; g++) v.writePhys(g * G * PAGE, new Uint8Array([1]));
    expect(host.stats().host.largePages).toBe(4);
    expect(host.breakLargePages({ maxGroups: 1 })).toBe(1);
    expect(host.breakLargePages({ vm: b })).toBe(2);
    expect(a.stats().largePages).toBe(1);
    expect(host.breakLargePages()).toBe(1);
    expect(host.breakLargePages()).toBe(0);
    expect(host.stats().host.largeBreaks).toBe(4);
    host.audit();
    host.close();
  });
});

describe('large pages and sharing', () => {
  async function twoVms() {
    const host = await Host.create({ machineMemoryMiB: 32, largePages: true, sharing: { salting: 'host' } });
    const a = host.addVM({ name: 'a', memoryMiB: 2 });
    const b = host.addVM({ name: 'b', memoryMiB: 2 });
    // 100 pages equal across the two VMs, 50 unique to each, the rest zero (each VM one large group)
    for (let i = 0; i < 150; i++) {
      a.writePhys(i * PAGE, pageOf(i < 100 ? i : 1000 + i));
      b.writePhys(i * PAGE, pageOf(i < 100 ? i : 2000 + i));
    }
    return { host, a, b };
  }

  it('the scanner hashes large pages but merges none of them', async () => {
    const { host, a, b } = await twoVms();
    expect(host.stats().host.largePages).toBe(2);
    const frames0 = host.stats().host.guestFrames;
    const r = host.shareScan();
    expect(r.merged).toBe(0);
    const s = host.stats().host;
    expect(s.guestFrames).toBe(frames0);
    expect(s.pagesLargeHashed).toBe(2 * G);
    expect(a.stats().SHRD + b.stats().SHRD).toBe(0);
    host.audit();
    host.close();
  });

  it('breaking merges the hashed pages at once (no scan after the break); without merge they wait for the scanner', async () => {
    const { host, a, b } = await twoVms();
    host.shareScan(); // hashes every page while large
    const frames0 = host.stats().host.guestFrames;
    host.breakLargePages({ merge: true });
    const s = host.stats().host;
    // b's pages found a's hints: 100 equal pages merged; zero pages (362 per VM) merged into one zero frame
    // when a zero frame exists: a's zero pages became it page by page (first a's break), so all zero pages merge
    expect(s.pagesBrokenMerged).toBeGreaterThan(100);
    expect(frames0 - s.guestFrames).toBe(s.pagesBrokenMerged - 0);
    expect(b.stats().SHRD - b.stats().ZERO).toBe(100);
    const wantA = Array.from({ length: 150 }, (_, i) => pageOf(i < 100 ? i : 1000 + i));
    for (let i = 0; i < 150; i++) expect(Buffer.from(a.readPhys(i * PAGE, PAGE)).equals(Buffer.from(wantA[i]))).toBe(true);
    host.audit();
    host.close();

    const t = await twoVms();
    t.host.shareScan();
    const f0 = t.host.stats().host.guestFrames;
    t.host.breakLargePages({ merge: false });
    expect(t.host.stats().host.pagesBrokenMerged).toBe(0);
    expect(t.host.stats().host.guestFrames).toBe(f0);
    t.host.shareScan();
    t.host.shareScan();
    expect(f0 - t.host.stats().host.guestFrames).toBeGreaterThan(100); // the scanner does it, a pass or two later
    t.host.audit();
    t.host.close();
  });

  it('a page written after it was hashed finds nothing at the break (contents are compared in full)', async () => {
    const { host, a, b } = await twoVms();
    host.shareScan();
    b.writePhys(7 * PAGE, pageOf(777)); // b's page 7 no longer equals a's
    host.breakLargePages({ merge: true });
    expect(engineOf(host).reclaim.pmapState(b.id, asGppn(7))).toBe(PState.Mapped);
    expect(engineOf(host).reclaim.pmapState(b.id, asGppn(8))).toBe(PState.Shared);
    expect(Buffer.from(b.readPhys(7 * PAGE, PAGE)).equals(Buffer.from(pageOf(777)))).toBe(true);
    void a;
    host.audit();
    host.close();
  });
});
