/**
 * Translation and reclamation over one pmap: a Host with overcommitted machine memory, a VM in
 * ept mode and one in shadow mode, two simulated cores (host.mmu) running them. Guest data is
 * written and read through translations (hPA from mmu.translate, then host.readMachine / writeMachine)
 * and through vm.writePhys/readPhys, interleaved with share scans, page-outs (zip cache and
 * swap), balloon inflate/deflate and the copy-on-write breaks that writes to shared pages cause.
 *
 * Checked: every read against a TypeScript oracle; every translation ends at the frame the pmap
 * holds for its GPPN (hPA >> 12 == pmapFrame, the page resident); after every reclamation step
 * every touched page is translated again, a page whose backing changed must re-fault (an EPT
 * violation or a shadow fill on that translation), and the conservation audit holds.
 *
 * `npm test` runs 4 seeds x 6000 operations (about 1.5 s each); MEMVISOR_OPS changes the count.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, FaultKind, Host, Mmu, PState, type MmuVm, type VM } from '../src/index.js';
import { mulberry32 as prng } from './prng.js';
import { engineOf } from '../src/engine/engine.js';
import { asGppn } from '../src/engine/addr.js';

const PAGE = 4096;
const DATA_PAGES = 160; // gVA pages each VM's process touches (guest OS range)
const USER_PAGES = 160; // GPPNs written through writePhys (user range)
const VA0 = 0x400000n;
const OPS = Number(process.env.MEMVISOR_OPS ?? 6000);

interface Guest {
  vm: VM;
  paging: MmuVm;
  /** gVA page i -> its contents, as the guest process wrote them */
  data: Uint8Array[];
  /** gVA page i -> GPPN the guest OS mapped it to (after the first touch) */
  gppn: (number | undefined)[];
  /** user GPPN -> contents written through writePhys */
  user: Uint8Array[];
  ballooned: Set<number>;
}

const RESIDENT = new Set([PState.Mapped, PState.Shared, PState.Zero]);

/** Fails with `what` unless `ok` (plain checks: a vitest expect per page per step would dominate the run time). */
function check(ok: boolean, what: () => string): void {
  if (!ok) throw new Error(what());
}
/** Fails unless two byte arrays are equal, naming the first difference. */
function sameBytes(got: Uint8Array, want: Uint8Array, what: string): void {
  if (Buffer.compare(got, want) === 0) return;
  const i = got.findIndex((b, k) => b !== want[k]);
  throw new Error(`${what}: byte ${i} is ${got[i]}, expected ${want[i]} (lengths ${got.length}, ${want.length})`);
}

/** The GPPN the guest tables of `core`'s current address space map `va` to (a walk in TypeScript, 4 KiB pages). */
function guestGppn(core: Mmu, va: bigint): number {
  let table = core.vm.cr3;
  for (let level = core.vm.levels; level >= 1; level--) {
    const e = core.guestRead64(table + ((va >> BigInt(12 + 9 * (level - 1))) & 511n) * 8n);
    expect(e & 1n).toBe(1n);
    table = e & (((1n << 46n) - 1n) & ~0xfffn);
  }
  return Number(table >> 12n);
}

async function run(seed: number, ops: number, { machineMiB = 2, hostPageSize = '4k' as '4k' | '2m' } = {}) {
  const rnd = prng(seed);
  const int = (n: number) => Math.floor(rnd() * n);
  // 2 x 4 MiB of guest memory, ~2.5 MiB of it touched, on 2 MiB of machine memory (by default)
  const host = await Host.create({ machineMemoryMiB: machineMiB, seed, sharing: { salting: 'host' }, compression: { cachePercent: 10 } });
  const e = engineOf(host);
  /** The MPN the pmap holds for (vm, gppn). */
  const pmapFrame = (vm: number, gppn: number) => e.reclaim.pmapFrame(vm, asGppn(gppn));
  const make = (name: string, mmu: 'ept' | 'shadow', limitMiB?: number): Omit<Guest, 'paging'> => ({
    vm: host.addVM({ name, memoryMiB: 4, mmu, limitMiB }),
    data: Array.from({ length: DATA_PAGES }, () => new Uint8Array(PAGE)),
    gppn: [],
    user: Array.from({ length: USER_PAGES }, () => new Uint8Array(PAGE)),
    ballooned: new Set(),
  });
  const cores = [host.mmu(), host.mmu({ tlb: { l1d: { entries: 16, ways: 4 } } })];
  const guests: Guest[] = [make('e', 'ept'), make('s', 'shadow', 3)].map((g) => ({ ...g, paging: cores[0].attach(g.vm, { hostPageSize }) }));
  for (const g of guests) expect(cores[1].attach(g.vm)).toBe(g.paging); // a second core runs the same paging
  const counts = { mmuReads: 0, mmuWrites: 0, batches: 0, refaultChecks: 0, reclaimSteps: 0, balloons: 0 };

  /** Translates page i of `g` on `core`, checks the frame against the pmap, returns the hPA of its first byte. */
  const translate = (core: Mmu, g: Guest, i: number, kind: 'read' | 'write'): bigint => {
    if (core.vm !== g.paging) core.switchTo(g.paging); // a switch within one VM would flush its TLB entries
    const va = VA0 + BigInt(i) * 4096n;
    const t = core.translate(va, kind);
    check(t.fault === null, () => `${g.vm.name} page ${i}: fault ${JSON.stringify(t.fault, (_, v) => (typeof v === 'bigint' ? v.toString(16) : v))}`);
    if (g.gppn[i] === undefined) {
      g.gppn[i] = guestGppn(core, va);
      const os = g.vm.guestOsRange!;
      expect(g.gppn[i]! >= os.first && g.gppn[i]! < os.end).toBe(true);
    }
    const gppn = g.gppn[i]!;
    const state = g.vm.pageState(gppn);
    check(RESIDENT.has(state) && (kind === 'read' || state === PState.Mapped), () => `${g.vm.name} page ${i} (GPPN ${gppn}): pmap state ${PState[state]} after a ${kind}`);
    const frame = pmapFrame(g.vm.id, gppn);
    check(Number(t.hpa! >> 12n) === frame, () => `${g.vm.name} page ${i} (GPPN ${gppn}): translation reaches frame ${t.hpa! >> 12n}, the pmap holds ${frame}`);
    return t.hpa!;
  };

  /** Every touched page of every VM, translated on a random core: frames match the pmap; changed backing re-faults. */
  const verifyAll = (before: Map<number, number>[]) => {
    for (const [gi, g] of guests.entries()) {
      for (let i = 0; i < DATA_PAGES; i++) {
        const gppn = g.gppn[i];
        if (gppn === undefined) continue;
        const core = cores[int(2)];
        const was = before[gi].get(gppn);
        const refaults = () => { const s = core.stats(); return g.vm.mmu === 'ept' ? s.eptViolations : s.shadowFills; };
        const r0 = was === undefined ? 0 : refaults();
        const hpa = translate(core, g, i, 'read');
        if (was !== undefined && was !== pmapFrame(g.vm.id, gppn)) {
          // the frame behind the page changed since the snapshot: no cached translation may survive
          check(refaults() > r0, () => `${g.vm.name} page ${i} (GPPN ${gppn}): backing changed from ${was} but the translation did not re-fault`);
          counts.refaultChecks++;
        }
        if (int(8) === 0) sameBytes(host.readMachine(hpa, PAGE), g.data[i], `${g.vm.name} page ${i}`);
      }
    }
  };
  /** pmap frame (MPN, or slot) of every touched data page, keyed by GPPN. */
  const snapshot = () => guests.map((g) => new Map(g.gppn.flatMap((gp) => (gp === undefined ? [] : [[gp, pmapFrame(g.vm.id, gp)] as [number, number]]))));
  const reclaimed = (before: Map<number, number>[]) => {
    counts.reclaimSteps++;
    host.audit(false);
    verifyAll(before);
  };

  const content = (len: number): Uint8Array => {
    const b = new Uint8Array(len);
    const k = int(4);
    if (k === 1) b.fill(1 + int(3)); // few distinct pages: the scanner merges them
    else if (k === 2) for (let j = 0; j < len; j++) b[j] = int(256);
    else if (k === 3) for (let j = 0; j < len; j++) b[j] = (j >> 4) & 0xff; // compressible
    return b; // k 0: zeros, which merge into the zero frame
  };

  for (let op = 0; op < ops; op++) {
    const g = guests[int(2)];
    const core = cores[int(2)];
    const r = rnd();
    if (r < 0.3) {
      // write through a translation: a whole page or a span inside one
      const i = int(DATA_PAGES);
      const whole = rnd() < 0.5;
      const off = whole ? 0 : int(PAGE - 64);
      const bytes = content(whole ? PAGE : 1 + int(64));
      const hpa = translate(core, g, i, 'write');
      host.writeMachine(hpa + BigInt(off), bytes);
      g.data[i].set(bytes, off);
      counts.mmuWrites++;
    } else if (r < 0.5) {
      const i = int(DATA_PAGES);
      const off = int(PAGE - 256);
      const hpa = translate(core, g, i, 'read');
      sameBytes(host.readMachine(hpa + BigInt(off), 256), g.data[i].subarray(off, off + 256), `${g.vm.name} page ${i} at ${off}`);
      counts.mmuReads++;
    } else if (r < 0.55) {
      // a batch of reads in one call; records that meet a pmap fault are retried by the Mmu
      if (core.vm !== g.paging) core.switchTo(g.paging);
      const n = 32;
      const idx = Array.from({ length: n }, () => int(DATA_PAGES));
      const vas = BigUint64Array.from(idx, (i) => VA0 + BigInt(i) * 4096n + 8n);
      const out = new BigUint64Array(n);
      const faults = core.translateBatch(vas, new Uint8Array(n), out);
      check(faults === 0, () => `batch: ${faults} faults`);
      for (let k = 0; k < n; k++) {
        const i = idx[k];
        const gp = g.gppn[i];
        check(gp === undefined || Number(out[k] >> 12n) === pmapFrame(g.vm.id, gp), () => `batch record ${k}: ${g.vm.name} page ${i} reaches frame ${out[k] >> 12n}, the pmap holds ${pmapFrame(g.vm.id, gp!)}`);
        sameBytes(host.readMachine(out[k], 8), g.data[i].subarray(8, 16), `batch record ${k}: ${g.vm.name} page ${i}`);
      }
      counts.batches++;
    } else if (r < 0.65) {
      const p = int(USER_PAGES);
      const off = int(PAGE - 64);
      const bytes = content(1 + int(64));
      g.vm.writePhys(p * PAGE + off, bytes);
      g.user[p].set(bytes, off);
      g.ballooned.delete(p);
    } else if (r < 0.72) {
      const p = int(USER_PAGES);
      sameBytes(g.vm.readPhys(p * PAGE, PAGE), g.user[p], `${g.vm.name} user GPPN ${p}`);
      g.ballooned.delete(p);
    } else if (r < 0.78) {
      const before = snapshot();
      host.shareScan(rnd() < 0.5 ? undefined : 256);
      reclaimed(before);
    } else if (r < 0.86) {
      const before = snapshot();
      g.vm.pageOut(8 + int(64));
      reclaimed(before);
    } else if (r < 0.93) {
      const before = snapshot();
      const pick = [...new Set(Array.from({ length: 1 + int(16) }, () => int(USER_PAGES)))].filter((p) => !g.ballooned.has(p));
      if (pick.length) {
        g.vm.balloonInflate(pick);
        for (const p of pick) {
          g.ballooned.add(p);
          g.user[p].fill(0); // a ballooned page reads zero when the guest touches it again
        }
        counts.balloons++;
      }
      reclaimed(before);
    } else {
      const before = snapshot();
      const out = [...g.ballooned].filter(() => rnd() < 0.5);
      if (out.length) {
        g.vm.balloonDeflate(out);
        for (const p of out) g.ballooned.delete(p);
        counts.balloons++;
      }
      reclaimed(before);
    }
  }
  // the end: everything the guests wrote, read back both ways
  for (const g of guests) {
    for (let i = 0; i < DATA_PAGES; i++) sameBytes(host.readMachine(translate(cores[0], g, i, 'read'), PAGE), g.data[i], `${g.vm.name} page ${i}`);
    for (let p = 0; p < USER_PAGES; p++) sameBytes(g.vm.readPhys(p * PAGE, PAGE), g.user[p], `${g.vm.name} user GPPN ${p}`);
  }
  host.audit(true);
  const stats = host.stats();
  const core = cores.map((c) => c.stats());
  host.close();
  return { counts, stats, core };
}

describe('translation over a Host: pmap, EPT, shadow tables and TLBs stay coherent', () => {
  for (const seed of [5, 6, 7, 8]) {
    it(`seed ${seed}: translated reads and writes interleaved with sharing, page-out, balloon and copy-on-write`, async () => {
      const { counts, stats, core } = await run(seed, OPS);
      const [ve, vs] = stats.vms;
      // every mechanism ran, and the refault checks had something to check
      expect(counts.reclaimSteps).toBeGreaterThan(200);
      expect(counts.refaultChecks).toBeGreaterThan(100);
      expect(counts.balloons).toBeGreaterThan(10);
      expect(stats.host.pagesMerged).toBeGreaterThan(0);
      expect(stats.host.cow_breaks).toBeGreaterThan(0);
      expect(ve.ZIP + vs.ZIP).toBeGreaterThan(0);
      expect(ve.UNZIP + vs.UNZIP).toBeGreaterThan(0);
      expect(ve.SWW + vs.SWW).toBeGreaterThan(0);
      expect(ve.SWR + vs.SWR).toBeGreaterThan(0);
      expect(core[0].eptViolations + core[1].eptViolations).toBeGreaterThan(0);
      expect(core[0].shadowFills + core[1].shadowFills).toBeGreaterThan(0);
      // the VMs' modes and paging counters reach host.stats()
      expect([ve.mmu, vs.mmu]).toEqual(['ept', 'shadow']);
      expect(ve.paging!.eptTables).toBeGreaterThan(0);
      expect(ve.paging!.coherenceDrops).toBeGreaterThan(0);
      expect(vs.paging!.shadowTables).toBeGreaterThan(0);
      expect(stats.host.pageTableFrames).toBeGreaterThan(0);
    });
  }
});

describe('translation over a Host with 2 MiB host pages: large leaves stay coherent too', () => {
  it('on 6 MiB the first touch of a VM backs its 2 MiB group whole (one large EPT leaf)', async () => {
    const host = await Host.create({ machineMemoryMiB: 6, seed: 9, compression: { cachePercent: 10 } });
    const core = host.mmu();
    core.attach(host.addVM({ name: 'e', memoryMiB: 4 }), { hostPageSize: '2m' });
    expect(core.translate(VA0, 'write').fault).toBeNull();
    expect(engineOf(host).ram.frameCounts().guest).toBe(512);
    expect(core.pagingStats().largePageSplinters).toBe(0);
    host.close();
  });
  // 6 MiB: large leaves first, then split and dropped as reclamation moves their pages;
  // 2 MiB: no group ever fits, every page is backed alone
  for (const machineMiB of [6, 2]) {
    it(`seed 9 on ${machineMiB} MiB: translated reads and writes interleaved with sharing, page-out and balloon`, async () => {
      const { counts, stats } = await run(9, OPS, { machineMiB, hostPageSize: '2m' });
      const [ve, vs] = stats.vms;
      expect(counts.reclaimSteps).toBeGreaterThan(200);
      expect(counts.refaultChecks).toBeGreaterThan(100);
      expect(ve.SWW + vs.SWW + ve.ZIP + vs.ZIP).toBeGreaterThan(0);
      expect(ve.paging!.largePageSplinters + vs.paging!.largePageSplinters).toBeGreaterThan(0);
    });
  }
});

describe('Mmu over a Host: set-up and validation', () => {
  it('attach uses the VM mode; the guest OS range is refused to writePhys, loadImage and the balloon', async () => {
    const host = await Host.create({ machineMemoryMiB: 8 });
    const vm = host.addVM({ name: 'v', memoryMiB: 4, mmu: 'shadow' });
    expect(host.stats().vms[0]).toMatchObject({ mmu: 'shadow', paging: null });
    vm.writePhys(1000 * PAGE, new Uint8Array(8)); // zeros: the guest OS range still reads zero
    const mmu = host.mmu();
    expect(() => mmu.vm).toThrow(ConfigError);
    expect(() => mmu.translate(0x1000)).toThrow(/attached first/);
    expect(() => mmu.attach(vm, { mode: 'ept' })).toThrow(/'shadow', the mmu mode VM "v" was added with/);
    expect(() => mmu.attach(vm, null as never)).toThrow(/opts: got null, expected an object of attach options/);
    expect(() => mmu.addVm(null as never)).toThrow(/opts: got null/);
    const p = mmu.addVm({ vm });
    expect(p).toMatchObject({ id: vm.id, mode: 'shadow', guestOs: { first: 512, end: 1024 } });
    expect(vm.guestOsRange).toEqual({ first: 512, end: 1024 });
    expect(mmu.translate(0x400000n, 'write').fault).toBeNull();
    expect(() => vm.writePhys(512 * PAGE - 4, new Uint8Array(8))).toThrow(/outside the guest OS model's GPPNs \[512, 1024\)/);
    expect(() => vm.loadImage(new Uint8Array(PAGE), 1000 * PAGE)).toThrow(ConfigError);
    expect(() => vm.balloonInflate([3, 700])).toThrow(/gppns\[1\]: got 700, expected a GPPN outside/);
    vm.writePhys(511 * PAGE, new Uint8Array(PAGE).fill(9)); // the user's side is free
    expect(vm.readPhys(600 * PAGE, 8)).toEqual(new Uint8Array(8)); // reading the guest's side is allowed
    expect(host.stats().vms[0].paging!.shadowTables).toBeGreaterThan(0);
    expect(() => mmu.attach(vm, { levels: 5 })).toThrow(/levels: got 5, expected 4/);
    host.close();
  });

  it('rejects a guest OS range that holds user data, a foreign VM, native mode and VM creation on a host core', async () => {
    const host = await Host.create({ machineMemoryMiB: 8 });
    const other = await Host.create({ machineMemoryMiB: 8 });
    const vm = host.addVM({ name: 'v', memoryMiB: 4 });
    vm.writePhys(700 * PAGE, Uint8Array.of(1));
    const mmu = host.mmu();
    expect(() => mmu.attach(vm)).toThrow(/GPPN 700 holds data/);
    expect(vm.stats().paging).toBeNull(); // a refused attach sets nothing up
    expect(host.stats().host.pageTableFrames).toBe(0);
    expect(() => mmu.attach(vm, { guestOs: { firstGppn: 100, pages: 3 } })).toThrow(/guestOs.pages: got 3, expected an integer in \[5,/);
    expect(() => mmu.attach(vm, { guestOs: { firstGppn: 100, pages: 400 } })).not.toThrow();
    expect(() => mmu.attach(other.addVM({ name: 'w', memoryMiB: 1 }))).toThrow(/a VM of this Mmu's host/);
    expect(() => mmu.addVm({ mode: 'ept' })).toThrow(/does not create VMs/);
    expect(() => host.addVM({ name: 'n', memoryMiB: 1, mmu: 'native' as 'ept' })).toThrow(/'native' is for a standalone Mmu.create/);
    const standalone = Mmu.create({ machineMemoryMiB: 16, guestMemoryMiB: 16 });
    expect(() => standalone.attach(vm)).toThrow(/an Mmu created by host.mmu\(\)/);
    host.close();
    other.close();
  });

  it('two shadow VMs building page tables at the same GPPNs each find their own shadow tracking', async () => {
    const host = await Host.create({ machineMemoryMiB: 64 });
    const vms = [host.addVM({ name: 'a', memoryMiB: 8, mmu: 'shadow' }), host.addVM({ name: 'b', memoryMiB: 8, mmu: 'shadow' })];
    const cores = vms.map((vm) => {
      const c = host.mmu();
      c.attach(vm);
      return c;
    });
    const rnd = prng(5);
    const seen = vms.map(() => new Map<bigint, bigint>());
    // both guests build page tables at the same GPPNs of their own VM; PTE writes into shadowed
    // tables must find each VM's own tracking
    for (let round = 0; round < 6; round++) {
      for (let v = 0; v < 2; v++) {
        for (let i = 0; i < 64; i++) {
          const va = 0x400000n + BigInt(Math.floor(rnd() * 512)) * 0x200000n + BigInt(Math.floor(rnd() * 4)) * 0x1000n;
          const hpa = cores[v].translateOrThrow(va, 'write');
          const was = seen[v].get(va);
          if (was !== undefined) expect(hpa).toBe(was);
          seen[v].set(va, hpa);
        }
      }
    }
    host.audit();
    expect(host.stats().vms.map((s) => s.paging!.shadowTables > 0)).toEqual([true, true]);
    host.close();
  });

  it('two shadow VMs keep their own shadow tracking: setting up one does not blind coherence for the other', async () => {
    const host = await Host.create({ machineMemoryMiB: 8 });
    const a = host.addVM({ name: 'a', memoryMiB: 2, mmu: 'shadow' });
    const b = host.addVM({ name: 'b', memoryMiB: 2, mmu: 'shadow' });
    const core = host.mmu();
    const pb = core.attach(b);
    const t = core.translate(VA0, 'write');
    expect(t.fault).toBeNull();
    host.writeMachine(t.hpa!, new Uint8Array([42]));
    // VM a's paging is set up after b's shadow leaf exists; b's reverse map must survive it
    core.attach(a);
    b.pageOut(b.pages);
    host.audit();
    core.switchTo(pb);
    const again = core.translate(VA0, 'read');
    expect(again.fault).toBeNull();
    const gppn = guestGppn(core, VA0);
    expect(b.pageState(gppn)).toBe(PState.Mapped); // swapped back in: the stale leaf was dropped
    expect(Number(again.hpa! >> 12n)).toBe(engineOf(host).reclaim.pmapFrame(b.id, asGppn(gppn)));
    expect(host.readMachine(again.hpa!, 1)[0]).toBe(42);
  });

  it('a translation that needs a swapped-out page table or data page swaps it in and retries', async () => {
    const host = await Host.create({ machineMemoryMiB: 8, compression: { cachePercent: 0 } });
    const vm = host.addVM({ name: 'v', memoryMiB: 4 });
    const mmu = host.mmu();
    mmu.attach(vm);
    const hpa = mmu.translateOrThrow(0x400000n, 'write');
    host.writeMachine(hpa, Uint8Array.of(42));
    vm.pageOut(1024); // every resident page, page tables included, goes to swap
    expect(vm.stats().SWCUR).toBeGreaterThan(4);
    const t = mmu.translate(0x400000n, 'read');
    expect(t.fault).toBeNull();
    expect(host.readMachine(t.hpa!, 1)).toEqual(Uint8Array.of(42));
    // the guest PWC still holds the upper tables (gPAs do not change): the PTE page and the data page come back
    expect(vm.stats().SWR).toBeGreaterThanOrEqual(2);
    expect(mmu.stats().eptViolations).toBeGreaterThan(1);
    expect(FaultKind.Host).toBe(4);
    host.close();
  });
});

describe('accessed sampling over a Host: the CLOCK victim choice sees translated accesses', () => {
  for (const mmu of ['ept', 'shadow'] as const) {
    it(`${mmu}: lru page-out harvests the leaf A bits and spares the pages used through the TLB`, async () => {
      const host = await Host.create({ machineMemoryMiB: 16 });
      const vm = host.addVM({ name: 'v', memoryMiB: 4, mmu, victimPolicy: 'lru' });
      const core = host.mmu();
      const paging = core.attach(vm);
      const vas = Array.from({ length: 40 }, (_, i) => 0x400000n + BigInt(i) * 4096n);
      for (const va of vas) core.translateOrThrow(va, 'write');
      const gppns = vas.map((va) => guestGppn(core, va));
      core.sampleAccessed(0, 1024, { vm: paging }); // a sampling interval starts: every bit clear
      const hot = gppns.slice(0, 20), cold = gppns.slice(20);
      for (let r = 0; r < 3; r++) for (const va of vas.slice(0, 20)) core.translateOrThrow(va, 'read');
      // the accesses hit in the TLB: the pmap alone cannot tell hot from cold
      expect(hot.filter((g) => engineOf(host).reclaim.pmapSample(vm.id, asGppn(g), false) & 1)).toEqual([]);
      vm.pageOut(20);
      const out = (g: number) => vm.pageState(g) !== PState.Mapped;
      expect(hot.filter(out)).toEqual([]);
      // ept: the 2D walks kept the guest page tables hot too; shadow: the hardware walks shadow
      // tables, so idle guest page-table pages may go instead of a cold data page
      expect(cold.filter(out).length).toBeGreaterThanOrEqual(mmu === 'ept' ? 20 : 15);
      host.close();
    });
  }
});

describe('large host pages and page sharing', () => {
  const run = async (hostPageSize: '4k' | '2m') => {
    const host = await Host.create({ machineMemoryMiB: 64, sharing: { order: 'sequential' } });
    const vm = host.addVM({ name: 'v', memoryMiB: 16 });
    const core = host.mmu();
    core.attach(vm, { hostPageSize });
    core.translateOrThrow(0x400000n, 'write'); // the guest OS maps one data page; the host backs it
    const g = guestGppn(core, 0x400000n);
    host.shareScan();
    const group = Array.from({ length: 512 }, (_, i) => (g & ~511) + i);
    const mapped = group.filter((p) => vm.pageState(p) === PState.Mapped).length;
    const skipped = host.stats().host.pagesLargeSkipped;
    host.close();
    return { mapped, skipped };
  };

  it('pages mapped by a 2 MiB EPT leaf are not shared (not even zero pages); 4 KiB-backed zero pages are', async () => {
    const large = await run('2m');
    expect(large.mapped).toBe(512); // the whole group stays private behind its large leaf
    expect(large.skipped).toBeGreaterThanOrEqual(512);
    const small = await run('4k');
    expect(small.skipped).toBe(0);
    expect(small.mapped).toBeLessThan(512); // only the pages touched are backed at all
  });
});

describe('batches over a Host that swap in and reclaim mid-batch', () => {
  /** 2048 guest pages written through translations, each marked with its index. */
  const setUp = async (machineMemoryMiB: number, mmu: 'ept' | 'shadow') => {
    const host = await Host.create({ machineMemoryMiB, seed: 3 });
    const vm = host.addVM({ name: 'v', memoryMiB: 32, mmu, cachePercent: 0 });
    const core = host.mmu();
    core.attach(vm);
    const vas = new BigUint64Array(2048);
    for (let i = 0; i < vas.length; i++) {
      vas[i] = 0x10000000n + BigInt(i) * 4096n;
      host.writeMachine(core.translateOrThrow(vas[i], 'write'), Uint8Array.of(i & 0xff, i >> 8, 0x5a));
    }
    return { host, vm, core, vas };
  };

  for (const mmu of ['ept', 'shadow'] as const) {
    it(`${mmu}: swap-ins midway leave every record of a 2048-record batch right`, async () => {
      const { host, vm, core, vas } = await setUp(16, mmu);
      vm.pageOut(1500);
      expect(vm.stats().SWCUR).toBeGreaterThan(1000);
      const out = new BigUint64Array(vas.length);
      expect(core.translateBatch(vas, new Uint8Array(vas.length), out)).toBe(0);
      // room for every page: no record's frame was taken back after it was translated
      for (let i = 0; i < vas.length; i++) {
        expect(Array.from(host.readMachine(out[i], 3))).toEqual([i & 0xff, i >> 8, 0x5a]);
      }
      host.close();
    });

    it(`${mmu}: reclaim midway (machine memory full) leaves no record with a stale or garbage word`, async () => {
      const { host, vm, core, vas } = await setUp(4, mmu);
      expect(vm.stats().SWCUR).toBeGreaterThan(900); // 2048 pages on 1024 frames
      const out = new BigUint64Array(vas.length);
      expect(core.translateBatch(vas, new Uint8Array(vas.length), out)).toBe(0);
      for (let i = 0; i < vas.length; i++) {
        expect(out[i] >> 63n).toBe(0n);
        expect(Number(out[i] >> 12n)).toBeLessThan(host.frameCounts().total);
      }
      // the last record's page was swapped in last: its frame is still its own
      const last = vas.length - 1;
      expect(Array.from(host.readMachine(out[last], 3))).toEqual([last & 0xff, last >> 8, 0x5a]);
      host.close();
    });
  }
});
