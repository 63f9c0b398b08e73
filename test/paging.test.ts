import { describe, expect, it } from 'vitest';
import { Host, Mmu, FaultKind, type MmuOptions, type PageSize, type MmuMode } from '../src/index.js';
import { mulberry32 } from './prng.js';
import { engineOf } from '../src/engine/engine.js';
import { FrameKind } from '../src/engine/ram.js';
import { asGppn } from '../src/engine/addr.js';

const P = 1n, RW = 2n, US = 4n, A = 32n, D = 64n, PS = 128n, NX = 1n << 63n;
const ADDR = ((1n << 46n) - 1n) & ~0xfffn;
const CLS: Record<PageSize, number> = { '4k': 0, '2m': 1, '1g': 2 };
const SIZE = (c: number) => 1n << BigInt(12 + 9 * c);


const idx = (va: bigint, level: number) => (va >> BigInt(12 + 9 * (level - 1))) & 511n;

/** Maps `va` -> `gpa` with a leaf at `leafLevel`, allocating tables from the guest allocator. */
function map(m: Mmu, cr3: bigint, va: bigint, gpa: bigint, leafFlags: bigint, leafLevel = 1, upper = P | RW | US): void {
  let table = cr3;
  for (let level = m.vm.levels; level > leafLevel; level--) {
    const ea = table + idx(va, level) * 8n;
    let e = m.guestRead64(ea);
    if (!(e & P)) {
      e = m.newAddressSpace() | upper;
      m.guestWrite64(ea, e);
    }
    table = e & ADDR;
  }
  m.guestWrite64(table + idx(va, leafLevel) * 8n, gpa | leafFlags | (leafLevel > 1 ? PS : 0n));
}

/** Address of the guest entry at each level for `va` (oracle walk in TypeScript). */
function entries(m: Mmu, cr3: bigint, va: bigint): { ea: bigint; e: bigint; level: number }[] {
  const out = [];
  let table = cr3;
  for (let level = m.vm.levels; level >= 1; level--) {
    const ea = table + idx(va, level) * 8n;
    const e = m.guestRead64(ea);
    out.push({ ea, e, level });
    if (!(e & P) || level === 1 || (level <= 3 && e & PS)) break;
    table = e & ADDR;
  }
  return out;
}

/** Oracle: the gPA `va` maps to in the guest tables, or null. */
function oracleGpa(m: Mmu, cr3: bigint, va: bigint): bigint | null {
  const es = entries(m, cr3, va);
  const last = es[es.length - 1];
  if (!(last.e & P)) return null;
  const size = SIZE(last.level - 1);
  return (last.e & ADDR & ~(size - 1n)) + (va & (size - 1n));
}

describe('walk references', () => {
  const combos: [MmuMode, 4 | 5, 4 | 5, PageSize, PageSize][] = [];
  for (const mode of ['native', 'ept', 'shadow'] as MmuMode[]) {
    for (const g of [4, 5] as const) for (const h of [4, 5] as const) {
      for (const gs of ['4k', '2m', '1g'] as PageSize[]) for (const hs of ['4k', '2m'] as PageSize[]) {
        if (mode === 'native' && (h === 5 || hs !== '4k')) continue;
        if (mode === 'shadow' && h === 5) continue;
        combos.push([mode, g, h, gs, hs]);
      }
    }
  }
  it.each(combos)('%s guest %i levels, host %i levels, %s guest pages, %s host pages: exact count with caches off', (mode, g, h, gs, hs) => {
    const m = Mmu.create({ mode, levels: g, hostLevels: h, pageSize: gs, hostPageSize: hs, pwc: false, ntlb: false, guestMemoryMiB: gs === '1g' ? 4096 : 1024, machineMemoryMiB: 512 });
    const step = SIZE(CLS[gs]);
    const n = gs === '1g' ? 2 : 40;
    for (let i = 0; i < n; i++) {
      const va = 0x40000000n * 4n + BigInt(i) * step + 0x123n;
      expect(m.translate(va, i % 2 ? 'write' : 'read').fault).toBeNull();
    }
    const s = m.stats();
    expect(m.pagingStats().largePageSplinters).toBe(0);
    const G = g - CLS[gs];
    const H = h - CLS[hs];
    const perWalk = mode === 'native' ? g - CLS[gs] : mode === 'ept' ? G * (H + 1) + H : g - Math.min(CLS[gs], CLS[hs]);
    expect(s.walks).toBe(s.l2Misses);
    expect(s.walks).toBe(n);
    expect(s.walkRefs).toBe(s.walks * perWalk);
    expect(s.guestPageFaults).toBe(n);
  });

  it('1 GiB host pages: 4+4 levels with 4 KiB guest pages take 4*(2+1)+2 = 14 references', () => {
    const m = Mmu.create({ mode: 'ept', hostPageSize: '1g', pwc: false, ntlb: false, guestMemoryMiB: 1024, machineMemoryMiB: 2200 });
    for (let i = 0; i < 10; i++) m.translate(0x7000000n + BigInt(i) * 4096n);
    const s = m.stats();
    expect(m.pagingStats().largePageSplinters).toBe(0);
    expect(s.walkRefs).toBe(s.walks * 14);
  });

  it('2 MiB host pages: an allocator already aligned draws no pads, so a group costs its own 2 MiB only', () => {
    // 64 MiB = 32 blocks; the first group pads to the first aligned block (the pads then serve as
    // EPT and guest tables), after which every group is one block: 28 guest large pages, each its
    // own group, map large (drawing a block of pads before each aligned group held 15)
    const m = Mmu.create({ mode: 'ept', hostPageSize: '2m', pageSize: '2m', guestMemoryMiB: 1024, machineMemoryMiB: 64 });
    for (let i = 0; i < 28; i++) expect(m.translate(0x1000n + BigInt(i) * 0x200000n).fault, `group ${i}`).toBeNull();
    expect(m.pagingStats().largePageSplinters).toBe(0);
  });

  it('a standalone Mmu out of machine memory returns a host fault that says what it needs', () => {
    const m = Mmu.create({ mode: 'ept', hostPageSize: '2m', pageSize: '2m', guestMemoryMiB: 1024, machineMemoryMiB: 64 });
    let va = 0x1000n;
    while (m.translate(va).fault === null) va += 0x200000n;
    const f = m.translate(va).fault!;
    expect(f.kind).toBe(FaultKind.Host);
    expect(f.need).toBe('noFrame');
    expect(() => m.translateOrThrow(va)).toThrow(/translation fault: Host code 0xffffffff at 0x[0-9a-f]+: no free machine frame .*machineMemoryMiB/);
    // a fault of the guest's own (a non-canonical address here) names no host need
    const g = Mmu.create({ mode: 'ept', guestMemoryMiB: 64, machineMemoryMiB: 64 }).translate(1n << 47n).fault!;
    expect(g.need).toBeUndefined();
  });

  it('a large host page that machine memory cannot hold whole is backed alone (a splinter), not faulted', () => {
    const m = Mmu.create({ mode: 'ept', hostPageSize: '1g', pageSize: '2m', guestMemoryMiB: 1024, machineMemoryMiB: 1100 });
    const t = m.translate(0x200000n, 'write');
    expect(t.fault).toBeNull();
    expect(m.pagingStats().largePageSplinters).toBeGreaterThan(0);
    // with the default machine memory the same guest maps both its groups with 1 GiB leaves
    const big = Mmu.create({ mode: 'ept', hostPageSize: '1g', pageSize: '2m', pwc: false, ntlb: false });
    expect(big.translate(0x200000n, 'write').fault).toBeNull();
    expect(big.pagingStats().largePageSplinters).toBe(0);
  });

  it('over a Host smaller than one 1 GiB group, 1 GiB host pages back pages alone while reclaim frees frames', async () => {
    // the guest OS model takes its pages from the upper half, which starts a group here: once that
    // group's first page is backed, backing the group whole would take the frames reclaim freed
    // for the faulting page, every round (the fault driver gave up)
    for (const mode of ['ept', 'shadow'] as const) {
      const h = await Host.create({ machineMemoryMiB: 256, guestMemoryMiB: 2048, seed: 3 });
      const vm = h.addVM({ name: 'g', memoryMiB: 2048, mmu: mode });
      const core = h.mmu();
      core.attach(vm, { hostPageSize: '1g' });
      for (let i = 0; i < 1500; i++) expect(core.translate(0x1000n + BigInt(i) * 0x40000n, 'write').fault, `${mode} ${i}`).toBeNull();
      expect(core.pagingStats().largePageSplinters).toBeGreaterThan(0);
      expect(() => h.audit()).not.toThrow();
    }
  });

  it('native and 2D walks match the textbook numbers 4, 5, 24, 35', () => {
    const refs = (o: MmuOptions) => {
      const m = Mmu.create({ ...o, pwc: false, ntlb: false, guestMemoryMiB: 256, machineMemoryMiB: 64 });
      m.translate(0x1000n);
      return m.stats().walkRefs;
    };
    expect(refs({ mode: 'native', levels: 4 })).toBe(4);
    expect(refs({ mode: 'native', levels: 5 })).toBe(5);
    expect(refs({ mode: 'ept', levels: 4, hostLevels: 4 })).toBe(24);
    expect(refs({ mode: 'ept', levels: 5, hostLevels: 5 })).toBe(35);
  });

  it('page-walk caches and the nested TLB cut references; walks still equal L2 misses', () => {
    const m = Mmu.create({ mode: 'ept', guestMemoryMiB: 256, machineMemoryMiB: 64 });
    for (let i = 0; i < 64; i++) m.translate(0x400000n + BigInt(i) * 4096n);
    const s = m.stats();
    expect(s.walks).toBe(s.l2Misses);
    expect(s.walkRefs).toBeLessThan(s.walks * 24);
    expect(s.pwcHits).toBeGreaterThan(0);
    expect(s.ntlbHits).toBeGreaterThan(0);
  });
});

describe('accessed and dirty bits', () => {
  it('the walker sets A on every entry used and D on the leaf only for a write', () => {
    const m = Mmu.create({ mode: 'native', guestMemoryMiB: 64, machineMemoryMiB: 16 });
    const va = 0x12345000n;
    m.translate(va, 'read');
    let es = entries(m, m.vm.cr3, va);
    expect(es.every((x) => (x.e & A) !== 0n)).toBe(true);
    expect(es.some((x) => (x.e & D) !== 0n)).toBe(false);
    m.translate(va, 'write');
    es = entries(m, m.vm.cr3, va);
    expect(es[es.length - 1].e & D).toBe(D);
    expect(es.slice(0, -1).some((x) => (x.e & D) !== 0n)).toBe(false);
  });

  it('EPT A/D: A on use, D on the leaf of a written page; guest page tables count as written (SDM)', () => {
    const m = Mmu.create({ mode: 'ept', guestMemoryMiB: 64, machineMemoryMiB: 16 });
    const va = 0x5000n;
    m.translate(va, 'read');
    const gpa = oracleGpa(m, m.vm.cr3, va)!;
    let leaf = m.eptEntry(gpa, 1);
    expect(leaf & (1n << 8n)).not.toBe(0n);
    expect(leaf & (1n << 9n)).toBe(0n);
    m.translate(va, 'write');
    leaf = m.eptEntry(gpa, 1);
    expect(leaf & (1n << 9n)).not.toBe(0n);
    const ptLeaf = m.eptEntry(m.vm.cr3, 1);
    expect(ptLeaf & (1n << 9n)).not.toBe(0n);
    expect(m.eptPointer() & 0x40n).toBe(0x40n);
    expect((m.eptPointer() >> 3n) & 7n).toBe(3n);
  });

  it('shadow mode keeps guest A/D: a read then a write sets D through a hidden fault', () => {
    const m = Mmu.create({ mode: 'shadow', guestMemoryMiB: 64, machineMemoryMiB: 16 });
    const va = 0x9000n;
    m.translate(va, 'read');
    let es = entries(m, m.vm.cr3, va);
    expect(es[es.length - 1].e & (A | D)).toBe(A);
    const fills = m.stats().shadowFills;
    m.translate(va, 'write');
    es = entries(m, m.vm.cr3, va);
    expect(es[es.length - 1].e & D).toBe(D);
    expect(m.stats().shadowFills).toBe(fills + 1);
  });
});

describe('guest #PF error codes', () => {
  for (const mode of ['native', 'ept', 'shadow'] as MmuMode[]) {
    it(`${mode}: P, W/R, U/S, RSVD and I/D`, () => {
      const m = Mmu.create({ mode, demandPaging: false, guestMemoryMiB: 64, machineMemoryMiB: 16 });
      const cr3 = m.vm.cr3;
      const page = () => m.newAddressSpace();
      const ro = 0x10000n, sup = 0x20000n, nx = 0x30000n, rsvd = 0x40000n, none = 0x50000n;
      map(m, cr3, ro, page(), P | US);
      map(m, cr3, sup, page(), P | RW);
      map(m, cr3, nx, page(), P | RW | US | NX);
      map(m, cr3, rsvd, page() | (1n << 50n), P | RW | US);
      const code = (va: bigint, kind: 'read' | 'write' | 'fetch', supervisor = false) => {
        const t = m.translate(va, kind, supervisor);
        expect(t.fault?.kind).toBe(FaultKind.GuestPageFault);
        expect(t.fault?.address).toBe(va);
        return t.fault!.code;
      };
      expect(code(none, 'read')).toBe(0x4);
      expect(code(none, 'write')).toBe(0x6);
      expect(code(none, 'fetch')).toBe(0x14);
      expect(code(none, 'read', true)).toBe(0x0);
      expect(code(ro, 'write')).toBe(0x7);
      expect(code(ro, 'write', true)).toBe(0x3); // CR0.WP = 1
      expect(m.translate(ro, 'read').fault).toBeNull();
      expect(code(sup, 'read')).toBe(0x5);
      expect(m.translate(sup, 'write', true).fault).toBeNull();
      expect(code(nx, 'fetch')).toBe(0x15);
      expect(m.translate(nx, 'write').fault).toBeNull();
      expect(code(rsvd, 'read')).toBe(0xd);
      // PS in a PML4E is reserved
      const bad = 0x8000000000n;
      m.guestWrite64(cr3 + idx(bad, 4) * 8n, page() | P | RW | US | PS);
      expect(code(bad, 'read')).toBe(0xd);
      expect(m.stats().guestPageFaults).toBeGreaterThanOrEqual(10);
    });
  }

  it('demand paging maps a not-present page and retries without counting the retry as a TLB miss', () => {
    const m = Mmu.create({ mode: 'ept', guestMemoryMiB: 64, machineMemoryMiB: 16 });
    const t = m.translate(0x7000n, 'write');
    expect(t.fault).toBeNull();
    const s = m.stats();
    expect([s.l1dMisses, s.l2Misses, s.walks, s.guestPageFaults]).toEqual([1, 1, 1, 1]);
    expect(s.faultWalkRefs).toBeGreaterThan(0);
    expect(t.hpa! & 0xfffn).toBe(0n);
    const gpa = oracleGpa(m, m.vm.cr3, 0x7000n)!;
    expect(t.hpa! >> 12n).toBe(BigInt(m.pmapFrame(Number(gpa >> 12n))));
  });
});

describe('EPT violations and misconfigurations', () => {
  function setup() {
    const m = Mmu.create({ mode: 'ept', guestMemoryMiB: 64, machineMemoryMiB: 16 });
    const va = 0x3000n;
    m.translate(va, 'write');
    const gpa = oracleGpa(m, m.vm.cr3, va)!;
    return { m, va, gpa, leaf: m.eptEntry(gpa, 1) };
  }
  it('a write to a read-only EPT page is a violation with the SDM qualification bits', () => {
    const { m, va, gpa, leaf } = setup();
    m.setEptEntry(gpa, 1, (leaf & ~7n) | 1n);
    m.invept('single');
    const t = m.translate(va + 8n, 'write');
    expect(t.fault?.kind).toBe(FaultKind.EptViolation);
    expect(t.fault?.address).toBe(gpa + 8n);
    const q = t.fault!.code;
    expect(q & 7).toBe(0b010); // data write
    expect((q >> 3) & 7).toBe(0b001); // readable only
    expect(q & (1 << 7)).not.toBe(0); // guest linear address valid
    expect(q & (1 << 8)).not.toBe(0); // the final translation, not a paging-structure access
    expect(q & (1 << 9)).not.toBe(0); // user-mode address
    expect(q & (1 << 10)).not.toBe(0); // writable in the guest
    expect(q & (1 << 11)).toBe(0); // executable in the guest
    expect(m.stats().eptViolations).toBeGreaterThan(0);
    expect(m.translate(va, 'read').fault).toBeNull();
  });
  it('a fetch from a non-executable EPT page and a read of a guest page table without EPT read permission', () => {
    const { m, va, gpa, leaf } = setup();
    m.setEptEntry(gpa, 1, (leaf & ~7n) | 3n);
    m.invept('single');
    const f = m.translate(va, 'fetch');
    expect(f.fault?.kind).toBe(FaultKind.EptViolation);
    expect(f.fault!.code & 7).toBe(0b100);
    expect((f.fault!.code >> 3) & 7).toBe(0b011);
    // make the guest's root table execute-only in the EPT: its read during the walk violates
    const rootLeaf = m.eptEntry(m.vm.cr3, 1);
    m.setEptEntry(m.vm.cr3, 1, (rootLeaf & ~7n) | 4n);
    m.invept('single');
    const r = m.translate(0x200000n, 'read');
    expect(r.fault?.kind).toBe(FaultKind.EptViolation);
    expect(r.fault?.address).toBe(m.vm.cr3 + idx(0x200000n, 4) * 8n);
    expect(r.fault!.code & 1).toBe(1);
    expect(r.fault!.code & (1 << 7)).not.toBe(0);
    expect(r.fault!.code & (1 << 8)).toBe(0); // a paging-structure access
  });
  it('write-without-read, reserved memory type and reserved non-leaf bits are misconfigurations', () => {
    for (const bad of [(l: bigint) => (l & ~7n) | 2n, (l: bigint) => (l & ~7n) | 6n, (l: bigint) => (l & ~0x38n) | (2n << 3n), (l: bigint) => (l & ~0x38n) | (7n << 3n)]) {
      const { m, va, gpa, leaf } = setup();
      m.setEptEntry(gpa, 1, bad(leaf));
      m.invept('single');
      const t = m.translate(va, 'read');
      expect(t.fault?.kind).toBe(FaultKind.EptMisconfig);
      expect(t.fault?.address).toBe(gpa);
      expect(m.stats().eptMisconfigs).toBe(1);
    }
    const { m, va, gpa } = setup();
    const l2 = m.eptEntry(gpa, 2);
    m.setEptEntry(gpa, 2, l2 | (1n << 4n));
    m.invept('single');
    expect(m.translate(va, 'read').fault?.kind).toBe(FaultKind.EptMisconfig);
  });
});

describe('TLB', () => {
  const tiny = (l1d: { entries: number; ways: number }, extra: MmuOptions = {}) =>
    Mmu.create({ mode: 'native', tlb: { l1d, l1i: { entries: 0, ways: 1 }, l2: { entries: 0, ways: 1 } }, guestMemoryMiB: 64, machineMemoryMiB: 16, ...extra });
  const misses = (m: Mmu, pages: number[], base = 0x100000n) => {
    const out: boolean[] = [];
    for (const p of pages) {
      const before = m.stats().l1dMisses;
      m.translate(base + BigInt(p) * 4096n);
      out.push(m.stats().l1dMisses > before);
    }
    return out;
  };
  it('true LRU within a set', () => {
    const m = tiny({ entries: 4, ways: 4 });
    // A B C D A E B A C: E evicts B (LRU), B evicts C, A stays
    const [A, B, C, Dd, E] = [0, 1, 2, 3, 4];
    expect(misses(m, [A, B, C, Dd, A, E, B, A, C])).toEqual([true, true, true, true, false, true, true, false, true]);
  });
  it('set index = virtual page number mod sets', () => {
    const m = tiny({ entries: 16, ways: 1 });
    // pages 0 and 16 share set 0; page 1 sits alone in set 1
    expect(misses(m, [0, 1, 16, 1, 0, 17, 1])).toEqual([true, true, true, false, true, true, true]);
    const odd = tiny({ entries: 6, ways: 2 }); // 3 sets: pages 0, 3, 6 share set 0
    expect(misses(odd, [0, 3, 6, 0, 1])).toEqual([true, true, true, true, true]);
  });
  it('L1 misses that hit in L2 fill L1; evictions from L2 do not back-invalidate L1', () => {
    const m = Mmu.create({ mode: 'native', tlb: { l1d: { entries: 4, ways: 4 }, l2: { entries: 2, ways: 2 } }, guestMemoryMiB: 64, machineMemoryMiB: 16 });
    for (const p of [0, 1, 2]) m.translate(0x100000n + BigInt(p) * 4096n); // L2 holds 1, 2; L1 holds 0, 1, 2
    let s = m.stats();
    expect([s.l1dMisses, s.l2Misses]).toEqual([3, 3]);
    m.translate(0x100000n); // L1 hit although L2 evicted it
    s = m.stats();
    expect([s.l1dMisses, s.l2Misses]).toEqual([3, 3]);
    for (const p of [3, 4]) m.translate(0x100000n + BigInt(p) * 4096n); // L1: 0 2 3 4 (1 out); L2: 3 4
    m.translate(0x101000n);
    s = m.stats();
    expect([s.l1dMisses, s.l2Misses]).toEqual([6, 6]);
  });
  it('a 2 MiB entry is tagged with its 2 MiB page number and covers the whole page', () => {
    const m = tiny({ entries: 16, ways: 1 }, { pageSize: '2m' });
    m.translate(0x40000000n);
    m.translate(0x40000000n + 0x1ff000n);
    m.translate(0x40000000n + 0x200000n * 16n); // same set (16 sets): evicts
    m.translate(0x40000000n + 0x10000n);
    expect(m.stats().l1dMisses).toBe(3);
    expect(m.stats().walks).toBe(3);
  });
  it('fetches use the iTLB and data the dTLB', () => {
    const m = Mmu.create({ mode: 'native', guestMemoryMiB: 64, machineMemoryMiB: 16 });
    m.translate(0x400000n, 'fetch');
    m.translate(0x400000n, 'read');
    m.translate(0x400000n, 'fetch');
    const s = m.stats();
    expect([s.l1iAccesses, s.l1iMisses, s.l1dAccesses, s.l1dMisses, s.l2Misses]).toEqual([2, 1, 1, 1, 1]);
  });
  it('VPID tags entries so that switching VMs needs no flush; VPID 0 flushes', () => {
    for (const [vpids, expectMisses] of [[[1, 2], 2], [[0, 0], 8]] as const) {
      const m = Mmu.create({ mode: 'ept', vpid: vpids[0], guestMemoryMiB: 64, machineMemoryMiB: 32 });
      const vm1 = m.vm;
      const vm2 = m.addVm({ mode: 'ept', vpid: vpids[1], guestMemoryMiB: 64 });
      m.resetStats();
      const r1: bigint[] = [], r2: bigint[] = [];
      for (let i = 0; i < 4; i++) {
        m.switchTo(vm1);
        r1.push(m.translateOrThrow(0x7000n));
        m.switchTo(vm2);
        r2.push(m.translateOrThrow(0x7000n));
      }
      expect(new Set(r1).size).toBe(1);
      expect(new Set(r2).size).toBe(1);
      expect(r1[0]).not.toBe(r2[0]);
      expect(m.stats().l2Misses).toBe(expectMisses);
    }
  });
  it('INVLPG, INVVPID and INVEPT drop what they name', () => {
    const m = Mmu.create({ mode: 'ept', guestMemoryMiB: 64, machineMemoryMiB: 16 });
    const a = 0x10000n, b = 0x20000n;
    m.translate(a); m.translate(b);
    const l2 = () => m.stats().l2Misses;
    m.invlpg(a);
    m.translate(b); expect(l2()).toBe(2);
    m.translate(a); expect(l2()).toBe(3);
    m.invvpid('address', m.vm.vpid, b);
    m.translate(a); m.translate(b); expect(l2()).toBe(4);
    m.invvpid('single');
    m.translate(a); m.translate(b); expect(l2()).toBe(6);
    m.invvpid('single', m.vm.vpid + 1);
    m.translate(a); expect(l2()).toBe(6);
    const nt = m.stats().ntlbMisses;
    m.invept('single');
    m.translate(a); expect(l2()).toBe(7);
    expect(m.stats().ntlbMisses).toBeGreaterThan(nt);
    // a type or kind that is not one of the names is a typed error, not a silent 'single' or 'read'
    expect(() => m.invept('everything' as never)).toThrow(/type: got "everything", expected single or all/);
    expect(() => m.invvpid('toString' as never)).toThrow(/type: got "toString"/);
    expect(() => m.translate(a, 'toString' as never)).toThrow(/kind: got "toString"/);
    expect(l2()).toBe(7);
  });
});

describe('shadow paging', () => {
  for (const mode of ['shadow', 'ept'] as MmuMode[]) {
    it(`${mode}: seeded random guest table edits, INVLPG and CR3 switches match a TypeScript oracle walk`, () => {
      const rand = mulberry32(mode === 'shadow' ? 42 : 7);
      const m = Mmu.create({ mode, demandPaging: false, guestMemoryMiB: 128, machineMemoryMiB: 64 });
      const spaces = [m.vm.cr3, m.newAddressSpace(), m.newAddressSpace()];
      const vas = Array.from({ length: 24 }, (_, i) => 0x400000n + BigInt(i % 8) * 4096n + BigInt(Math.floor(i / 8)) * 0x40000000n);
      const data = Array.from({ length: 32 }, () => m.newAddressSpace());
      // user-mode views of guest page-table pages (the guest process writes its own tables)
      const uvas = Array.from({ length: 4 }, (_, i) => 0x7000000n + BigInt(i) * 4096n);
      const le64 = (v: bigint) => new Uint8Array(new BigUint64Array([v]).buffer);
      let cr3 = spaces[0];
      let checked = 0;
      let userWrites = 0, aliases = 0;
      for (let step = 0; step < 900; step++) {
        const r = rand();
        const va = vas[Math.floor(rand() * vas.length)];
        if (r < 0.35) {
          const flags = P | US | (rand() < 0.7 ? RW : 0n);
          map(m, cr3, va, data[Math.floor(rand() * data.length)], flags);
          if (rand() < 0.5) m.invlpg(va);
          else m.invvpid('single'); // flushes TLBs only: the shadow tables must already be right
        } else if (r < 0.45) {
          const es = entries(m, cr3, va);
          const last = es[es.length - 1];
          m.guestWrite64(last.ea, 0n);
          m.invvpid('single');
        } else if (r < 0.5) {
          cr3 = spaces[Math.floor(rand() * spaces.length)];
          m.switchTo(m.vm, cr3, 0);
        } else if (r < 0.55) {
          // another address space shares this one's subtree (PDPT or PD): one guest table page,
          // several shadow tables mirroring it
          const other = spaces[Math.floor(rand() * spaces.length)];
          const level = rand() < 0.5 ? 4 : 3;
          const mine = entries(m, cr3, va).find((x) => x.level === level);
          const theirs = entries(m, other, va).find((x) => x.level === level);
          if (other !== cr3 && mine && theirs && mine.e & P) {
            m.guestWrite64(theirs.ea, mine.e);
            m.invvpid('single');
            aliases++;
          }
        } else if (r < 0.62) {
          // the guest process rewrites a PTE of a level-1 table through a user mapping of that page
          const es = entries(m, cr3, va);
          const pte = es.find((x) => x.level === 1);
          if (pte) {
            const uva = uvas[Math.floor(rand() * uvas.length)];
            map(m, cr3, uva, pte.ea & ~0xfffn, P | RW | US);
            m.invlpg(uva);
            const t = m.translate(uva + (pte.ea & 0xfffn), 'write');
            expect(t.fault).toBeNull();
            const v = rand() < 0.4 ? 0n : data[Math.floor(rand() * data.length)] | P | US | (rand() < 0.7 ? RW : 0n);
            engineOf(m).ram.writeMachine(t.hpa!, le64(v));
            expect(m.guestRead64(pte.ea)).toBe(v);
            m.invvpid('single'); // the guest flushes its TLB; the shadow tables must already be right
            userWrites++;
          }
        } else {
          const write = rand() < 0.4;
          const t = m.translate(va + 0x10n, write ? 'write' : 'read');
          const es = entries(m, cr3, va);
          const last = es[es.length - 1];
          const present = (last.e & P) !== 0n;
          const writable = es.every((x) => (x.e & RW) !== 0n);
          if (!present || (write && !writable)) {
            expect(t.fault?.kind).toBe(FaultKind.GuestPageFault);
            expect(t.fault!.code & 1).toBe(present ? 1 : 0);
          } else {
            const gpa = oracleGpa(m, cr3, va + 0x10n)!;
            expect(t.fault).toBeNull();
            expect(t.hpa).toBe(BigInt(m.pmapFrame(Number(gpa >> 12n))) * 4096n + (gpa & 0xfffn));
            checked++;
          }
        }
      }
      expect(checked).toBeGreaterThan(50);
      expect(userWrites).toBeGreaterThan(10);
      expect(aliases).toBeGreaterThan(5);
      if (mode === 'shadow') {
        const s = m.stats();
        // page-table writes are emulated on the mirroring shadow tables: never a full zap
        expect(m.pagingStats().shadowZaps).toBe(0);
        expect(m.pagingStats().unshadows).toBeGreaterThan(0);
        expect(s.ptWriteTraps).toBeGreaterThan(0);
        expect(s.shadowRootMisses).toBeGreaterThan(0);
        expect(s.invlpgs).toBeGreaterThan(0);
      }
    });
  }

  it('a table mirrored by two shadow tables: kernel and user-mode writes reach both, without a zap', () => {
    const m = Mmu.create({ mode: 'shadow', guestMemoryMiB: 64, machineMemoryMiB: 32 });
    const a = m.vm.cr3, b = m.newAddressSpace();
    const va = 0x400000n, vb = 0x401000n;
    const ha = m.translateOrThrow(va, 'write');
    m.translateOrThrow(vb, 'write');
    const pml4e = m.guestRead64(a + idx(va, 4) * 8n);
    m.guestWrite64(b + idx(va, 4) * 8n, pml4e); // b shares a's PDPT, PD and PT
    m.switchTo(m.vm, b);
    const hb = m.translateOrThrow(vb, 'read');
    m.switchTo(m.vm, a);
    expect(m.translateOrThrow(vb, 'read')).toBe(hb);
    const pte = entries(m, a, va).find((x) => x.level === 1)!;
    const zaps = m.pagingStats().shadowZaps;
    // kernel write: va unmapped in both address spaces; the guest #PF in a maps a new page, seen in b
    const traps = m.stats().ptWriteTraps;
    m.guestWrite64(pte.ea, 0n);
    expect(m.stats().ptWriteTraps).toBe(traps + 1);
    const pfs = m.stats().guestPageFaults;
    const news: bigint[] = [];
    for (const cr3 of [a, b]) {
      m.switchTo(m.vm, cr3);
      m.invvpid('single');
      news.push(m.translateOrThrow(va, 'read'));
      expect(m.translateOrThrow(vb, 'read')).toBe(hb); // the rest of the table stays shadowed
    }
    expect(m.stats().guestPageFaults).toBe(pfs + 1);
    expect(news[0]).not.toBe(ha);
    expect(news[1]).toBe(news[0]);
    // user-mode write through a mapping of the shared PT: vb now maps another page in both
    const uva = 0x7000000n, fresh = m.newAddressSpace();
    map(m, a, uva, pte.ea & ~0xfffn, P | RW | US);
    const vbPte = entries(m, a, vb).find((x) => x.level === 1)!;
    const h = m.translateOrThrow(uva + (vbPte.ea & 0xfffn), 'write');
    engineOf(m).ram.writeMachine(h, new Uint8Array(new BigUint64Array([fresh | P | RW | US]).buffer));
    expect(m.pagingStats().unshadows).toBe(1);
    for (const cr3 of [a, b]) {
      m.switchTo(m.vm, cr3);
      m.invvpid('single');
      expect(m.translateOrThrow(vb + 8n, 'read')).toBe(BigInt(m.pmapFrame(Number(fresh >> 12n))) * 4096n + 8n);
    }
    // shadowed again (write-protected): the user mapping is read-only until the next trapped write
    m.switchTo(m.vm, a);
    const t2 = m.translateOrThrow(uva + (vbPte.ea & 0xfffn), 'write');
    expect(t2).toBe(h);
    expect(m.pagingStats().unshadows).toBe(2);
    expect(m.pagingStats().shadowZaps).toBe(zaps);
  });

  it('CR3 switches reuse cached shadow roots; a guest page-table write traps as a VM exit', () => {
    const m = Mmu.create({ mode: 'shadow', guestMemoryMiB: 64, machineMemoryMiB: 16 });
    const a = m.vm.cr3, b = m.newAddressSpace();
    m.translate(0x1000n);
    m.switchTo(m.vm, b);
    m.translate(0x1000n);
    const misses = m.stats().shadowRootMisses;
    m.switchTo(m.vm, a);
    m.switchTo(m.vm, b);
    expect(m.stats().shadowRootMisses).toBe(misses);
    const exits = m.stats().vmExits;
    m.guestWrite64(b + 8n, 0n);
    expect(m.stats().ptWriteTraps).toBeGreaterThan(0);
    expect(m.stats().vmExits).toBe(exits + 1);
  });
});

describe('coherence', () => {
  /** Moves (vm, gppn) to a fresh frame behind the caches' back, as reclamation would, then calls backingChanged. */
  function moveBacking(m: Mmu, gppn: number): number {
    const e = engineOf(m);
    const newMpn = e.ram.frameAlloc(FrameKind.Guest);
    e.reclaim.setPmapFrame(m.vm.id, asGppn(gppn), newMpn);
    m.backingChanged(gppn);
    return newMpn;
  }
  for (const [mode, pageSize, hostPageSize] of [['ept', '4k', '4k'], ['ept', '2m', '2m'], ['shadow', '4k', '4k'], ['shadow', '2m', '2m']] as const) {
    it(`${mode} (${pageSize} guest, ${hostPageSize} host pages): after backingChanged no cached translation reaches the old frame`, () => {
      const m = Mmu.create({ mode, pageSize, hostPageSize, guestMemoryMiB: 256, machineMemoryMiB: 128 });
      const vas = [0x400000n, 0x401000n, 0x402000n, 0x600000n];
      for (const va of vas) for (const k of ['read', 'write', 'fetch'] as const) m.translateOrThrow(va, k);
      for (const va of vas) {
        const gpa = oracleGpa(m, m.vm.cr3, va)!;
        const gppn = Number(gpa >> 12n);
        const old = m.pmapFrame(gppn);
        const fresh = moveBacking(m, gppn);
        for (const k of ['read', 'write', 'fetch'] as const) {
          const hpa = m.translateOrThrow(va + 0x40n, k);
          expect(hpa >> 12n).not.toBe(BigInt(old));
          expect(hpa).toBe(BigInt(fresh) * 4096n + 0x40n);
        }
      }
    });
  }
});

describe('batch API', () => {
  it('translates a batch in one call and matches single translations, with per-access cycles', () => {
    const m = Mmu.create({ mode: 'ept', guestMemoryMiB: 64, machineMemoryMiB: 16 });
    const n = 1000;
    const vas = new BigUint64Array(n);
    const kinds = new Uint8Array(n);
    const rand = mulberry32(3);
    for (let i = 0; i < n; i++) {
      vas[i] = 0x400000n + BigInt(Math.floor(rand() * 64)) * 4096n + BigInt(Math.floor(rand() * 4096));
      kinds[i] = Math.floor(rand() * 3);
    }
    const out = new BigUint64Array(n);
    const cycles = new Uint32Array(n);
    expect(m.translateBatch(vas, kinds, out, cycles)).toBe(0);
    for (let i = 0; i < n; i += 97) {
      const t = m.translate(vas[i], (['read', 'write', 'fetch'] as const)[kinds[i]]);
      expect(t.hpa).toBe(out[i]);
      expect(t.cycles).toBe(1); // warm: an L1 hit
    }
    expect(cycles[0]).toBeGreaterThan(1000); // a first touch: faults and exits
    const b = m.batch(4);
    b.input64[0] = 0x400000n;
    b.input32[2] = 0;
    expect(b.run(1)).toBe(0);
    expect(b.output64[0]).toBe(m.translate(0x400000n).hpa);
  });
});

describe('sampling arguments', () => {
  it('sampleAccessed takes only a VM of this Mmu and a range inside it', () => {
    const a = Mmu.create({ machineMemoryMiB: 16, guestMemoryMiB: 8 });
    const b = Mmu.create({ machineMemoryMiB: 16, guestMemoryMiB: 8 });
    expect(() => a.sampleAccessed(0, 1, { vm: b.vm })).toThrow(/vm: .*expected a VM added to or attached on this Mmu/);
    expect(() => a.sampleAccessed(0, 8 * 256 + 1)).toThrow(/n: got 2049/);
    expect(a.sampleAccessed(0, 8 * 256).length).toBe(2048);
  });
});

describe('batch inputs', () => {
  it('u8 and u32 kinds give the same results, across the 65536-record chunks of staging', () => {
    const m = Mmu.create({ mode: 'shadow', guestMemoryMiB: 64, machineMemoryMiB: 16 });
    const n = 70_000;
    const vas = new BigUint64Array(n);
    const k8 = new Uint8Array(n);
    const rand = mulberry32(11);
    for (let i = 0; i < n; i++) {
      vas[i] = 0x400000n + BigInt(Math.floor(rand() * 300)) * 4096n + BigInt(i % 4096);
      k8[i] = Math.floor(rand() * 2);
    }
    const a = new BigUint64Array(n), b = new BigUint64Array(n), ca = new Uint32Array(n), cb = new Uint32Array(n);
    expect(m.translateBatch(vas, k8, a, ca)).toBe(0);
    expect(m.translateBatch(vas, Uint32Array.from(k8), b, cb)).toBe(0);
    expect(b).toEqual(a);
    for (const i of [0, 65535, 65536, n - 1]) expect(a[i]).toBe(m.translate(vas[i], k8[i] ? 'write' : 'read').hpa);
    const max = (c: Uint32Array) => c.reduce((x, y) => Math.max(x, y), 0);
    expect(max(ca)).toBeGreaterThan(1000); // the first pass paid the first touches (faults, exits)
    expect(max(cb)).toBeLessThan(1000); // the second found every page mapped
    expect(() => m.translateBatch(vas, k8, a, new Uint32Array(5))).toThrow(/cycles.length: got 5, expected at least 70000/);
  });
});

describe('batch fault addresses', () => {
  it('each faulted record gets its own gVA (#PF) or gPA (EPT); other slots are left alone', () => {
    const m = Mmu.create({ mode: 'ept', demandPaging: false, guestMemoryMiB: 64, machineMemoryMiB: 32 });
    const mapped = [0x10000n, 0x11000n, 0x12000n];
    for (const va of mapped) map(m, m.vm.cr3, va, m.newAddressSpace(), P | RW | US);
    for (const va of mapped) m.translateOrThrow(va, 'write');
    // make the third page read-only in the EPT: a write to it is an EPT violation at its gPA
    const gpa2 = oracleGpa(m, m.vm.cr3, mapped[2])!;
    m.setEptEntry(gpa2, 1, (m.eptEntry(gpa2, 1) & ~7n) | 5n);
    m.invept('single');
    const vas = new BigUint64Array([mapped[0] + 8n, 0x7770123n, mapped[1], 0x9990040n, mapped[2] + 0x18n, mapped[0]]);
    const kinds = new Uint8Array([0, 0, 1, 1, 1, 2]);
    const out = new BigUint64Array(vas.length);
    const addrs = new BigUint64Array(vas.length).fill(0xdeadn);
    expect(m.translateBatch(vas, kinds, out, undefined, addrs)).toBe(3);
    expect(Array.from(addrs)).toEqual([0xdeadn, 0x7770123n, 0xdeadn, 0x9990040n, gpa2 + 0x18n, 0xdeadn]);
    expect(m.decodeFault(out[1]).kind).toBe(FaultKind.GuestPageFault);
    expect(m.decodeFault(out[4]).kind).toBe(FaultKind.EptViolation);
    // the zero-copy batch has the same per-record addresses
    const b = m.batch(vas.length);
    for (let i = 0; i < vas.length; i++) { b.input64[2 * i] = vas[i]; b.input32[4 * i + 2] = kinds[i]; }
    expect(b.run(vas.length)).toBe(3);
    expect([b.faultAddress64[1], b.faultAddress64[3], b.faultAddress64[4]]).toEqual([0x7770123n, 0x9990040n, gpa2 + 0x18n]);
  });
});

describe('accessed and dirty harvesting (sampling sees translated accesses)', () => {
  for (const [mode, hostPageSize] of [['ept', '4k'], ['ept', '2m'], ['shadow', '4k'], ['shadow', '2m']] as const) {
    it(`${mode} (${hostPageSize} host pages): TLB hits reach the sample through the leaf A/D bits, which re-arm`, () => {
      const m = Mmu.create({ mode, hostPageSize, pageSize: hostPageSize, guestMemoryMiB: 256, machineMemoryMiB: 128 });
      const va = 0x400000n, vb = 0x401000n;
      m.translateOrThrow(va, 'read');
      m.translateOrThrow(vb, 'write');
      const ga = Number(oracleGpa(m, m.vm.cr3, va)! >> 12n), gb = Number(oracleGpa(m, m.vm.cr3, vb)! >> 12n);
      const pages = Math.max(ga, gb) + 1;
      m.sampleAccessed(0, pages); // everything so far, cleared
      expect(m.sampleAccessed(0, pages).every((b) => b === 0)).toBe(true);
      // the sample invalidated the cached translations: these walk again (setting A in the leaf)
      const l2 = m.stats().l2Misses;
      m.translateOrThrow(va, 'read');
      m.translateOrThrow(vb, 'read');
      expect(m.stats().l2Misses).toBeGreaterThan(l2);
      // TLB hits: the pmap alone never hears of them
      const l2b = m.stats().l2Misses;
      m.translateOrThrow(va, 'read');
      m.translateOrThrow(vb, 'read');
      expect(m.stats().l2Misses).toBe(l2b);
      expect(engineOf(m).reclaim.pmapSample(m.vm.id, asGppn(ga), false)).toBe(0);
      let s = m.sampleAccessed(0, pages);
      expect(s[ga] & 1).toBe(1);
      expect(s[gb] & 1).toBe(1);
      expect(s[ga] & 2).toBe(0); // reads only
      if (hostPageSize === '2m') expect(s[ga ^ 1] & 1).toBe(1); // the large leaf's bit covers its group
      // cleared and invalidated: the next access walks again and sets A again, a write sets D
      expect(m.sampleAccessed(0, pages).every((b) => b === 0)).toBe(true);
      m.translateOrThrow(vb, 'write');
      expect(m.stats().l2Misses).toBeGreaterThan(l2b);
      s = m.sampleAccessed(0, pages);
      expect(s[gb]).toBe(3);
      expect(s[ga] & 1).toBe(hostPageSize === '2m' && ga >> 9 === gb >> 9 ? 1 : 0);
      // clear: false folds into the pmap and leaves the bits there
      m.translateOrThrow(va, 'read');
      expect(m.sampleAccessed(ga, 1, { clear: false })[0] & 1).toBe(1);
      expect(engineOf(m).reclaim.pmapSample(m.vm.id, asGppn(ga), false) & 1).toBe(1);
    });
  }

  it('many accessed leaves: one flush per core instead of one per leaf, same answers; translations stay right', () => {
    for (const mode of ['ept', 'shadow'] as const) {
      const m = Mmu.create({ mode, guestMemoryMiB: 256, machineMemoryMiB: 128 });
      const vas = Array.from({ length: 100 }, (_, i) => 0x800000n + BigInt(i) * 4096n);
      const hpas = vas.map((va) => m.translateOrThrow(va, 'write'));
      const gppns = vas.map((va) => Number(oracleGpa(m, m.vm.cr3, va)! >> 12n));
      const pages = Math.max(...gppns) + 1;
      m.sampleAccessed(0, pages);
      vas.forEach((va, i) => { if (i % 3 === 0) expect(m.translateOrThrow(va, 'read')).toBe(hpas[i]); });
      const s = m.sampleAccessed(0, pages);
      gppns.forEach((g, i) => expect(s[g] & 1).toBe(i % 3 === 0 ? 1 : 0));
      vas.forEach((va, i) => expect(m.translateOrThrow(va, 'write')).toBe(hpas[i]));
      const t = m.sampleAccessed(0, pages);
      gppns.forEach((g) => expect(t[g]).toBe(3));
    }
  });

  it('EPT A/D off: the pmap alone answers', () => {
    const m = Mmu.create({ mode: 'ept', eptAccessDirty: false, guestMemoryMiB: 64, machineMemoryMiB: 32 });
    m.translateOrThrow(0x400000n, 'read');
    const g = Number(oracleGpa(m, m.vm.cr3, 0x400000n)! >> 12n);
    expect(m.sampleAccessed(g, 1)[0] & 1).toBe(1);
    m.translateOrThrow(0x400000n, 'read');
    expect(m.sampleAccessed(g, 1)[0]).toBe(0);
  });
});

describe('core options', () => {
  it('bad cache geometries, misspelt costs and a non-object are typed errors naming the field', () => {
    const small = { guestMemoryMiB: 64, machineMemoryMiB: 16 };
    expect(() => Mmu.create({ ...small, tlb: { l1d: null as never } })).toThrow(/tlb.l1d: got null, expected an object/);
    expect(() => Mmu.create({ ...small, guestPwc: 5 as never })).toThrow(/guestPwc: got 5, expected an object/);
    expect(() => Mmu.create({ ...small, costs: { walkref: 3 } as never })).toThrow(/costs.walkref: got 3, expected no such cost/);
    expect(() => Mmu.create(null as never)).toThrow(/opts: got null/);
    // a field given as undefined takes its default
    const m = Mmu.create({ ...small, tlb: { l1d: undefined, l2: { entries: 16, ways: 4 } } });
    m.translate(0x400000n);
    expect(m.stats().l1dMisses).toBe(1);
    expect(Mmu.create({ ...small, costs: { walkRef: 7 } }).stats().cycles).toBe(0);
  });
});

describe('paging options', () => {
  it('eptAccessDirty takes a boolean only: a truthy string does not switch EPT A/D on', () => {
    const mmu = Mmu.create({ machineMemoryMiB: 16 });
    expect(() => mmu.addVm({ eptAccessDirty: 'no' as unknown as boolean })).toThrow(/eptAccessDirty: got "no", expected true or false/);
    expect(mmu.addVm({ eptAccessDirty: false }).eptAccessDirty).toBe(false);
  });
});
