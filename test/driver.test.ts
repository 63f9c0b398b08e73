/**
 * The fault driver (src/engine/driver.ts): trace replay through a VM on a Host smaller than the
 * trace's footprint completes, with swap-ins and page-outs counted, and maps every gVA to the
 * same guest page as a replay without pressure; text and binary replays over the same host agree;
 * the driver counts rounds without progress and gives up with a GaveUpError naming the VM, the
 * operation, the page and the need, from every kind of entry point (forced with a resolver that
 * resolves nothing), the simulation's touches, trace chunks and guest batches included.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GaveUpError, Host, Mmu, OutOfMachineMemoryError, PState, Simulation, replayBytes, type ScenarioInput, type VM } from '../src/index.js';
import { Engine, engineOf } from '../src/engine/engine.js';
import { drive, type HostStop } from '../src/engine/driver.js';
import { MAX_HOST_ROUNDS, type FaultResolver } from '../src/engine/fault.js';
import { asGpa, asGppn } from '../src/engine/addr.js';
import { mulberry32 } from './prng.js';

const PAGE = 4096;
const CODE = 0x400000;
const DATA = 0x10000000;

/**
 * A lackey trace: one fetch from a small code loop, then one load, store or modify of 8 bytes at
 * a seeded random place among `dataPages` pages (one in 20 crosses into the next page).
 */
function syntheticTrace(seed: number, dataPages: number, records: number): Uint8Array {
  const rnd = mulberry32(seed);
  const lines: string[] = ['==1== lackey, synthetic'];
  for (let i = 0; i < records; i++) {
    lines.push(`I  ${(CODE + ((i * 13) % 256) * 4).toString(16)},4`);
    const page = Math.floor(rnd() * dataPages);
    const off = rnd() < 0.05 ? PAGE - 4 : Math.floor(rnd() * (PAGE - 8));
    const r = rnd();
    const kind = r < 0.25 ? 'S' : r < 0.4 ? 'M' : 'L';
    lines.push(` ${kind} ${(DATA + page * PAGE + off).toString(16)},8`);
  }
  return new TextEncoder().encode(lines.join('\n') + '\n');
}

/** Splits `text` into `n` parts at line boundaries. */
function parts(text: Uint8Array, n: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let from = 0;
  for (let k = 1; k <= n; k++) {
    let to = k === n ? text.length : Math.floor((text.length * k) / n);
    while (to < text.length && text[to - 1] !== 10) to++;
    out.push(text.subarray(from, to));
    from = to;
  }
  return out;
}

interface Setup {
  host: Host;
  vm: VM;
  core: Mmu;
}

/** A host of `machineMiB` with one 16 MiB EPT VM, swap only (no zip cache), attached to a core. */
async function setup(machineMiB: number, opts: { seed?: number } = {}): Promise<Setup> {
  const host = await Host.create({ machineMemoryMiB: machineMiB, seed: opts.seed ?? 7, compression: { cachePercent: 0 } });
  const vm = host.addVM({ name: 'traced', memoryMiB: 16 });
  const core = host.mmu();
  core.attach(vm);
  return { host, vm, core };
}

/** The guest page whose private frame backs hPA `hpa`, among the guest OS model's pages of `s.vm`. */
function gppnBacking(s: Setup, hpa: bigint): number {
  const mpn = Number(hpa >> 12n);
  const os = s.vm.guestOsRange!;
  const found: number[] = [];
  for (let g = os.first; g < os.end; g++) if (s.vm.pageState(g) === PState.Mapped && s.core.pmapFrame(g) === mpn) found.push(g);
  expect(found.length, `frame ${mpn} backs one guest page`).toBe(1);
  return found[0];
}

/** For each gVA, the guest page a write translation reaches (a write: a shared page is copied first, so its frame is its own). */
function guestPages(s: Setup, vas: number[]): number[] {
  return vas.map((va) => gppnBacking(s, s.core.translateOrThrow(va, 'write')));
}

describe('trace replay through a VM on an overcommitted host', () => {
  const DATA_PAGES = 1024;
  const text = syntheticTrace(11, DATA_PAGES, 12000);
  // a gVA of every 16th data page the trace touches, and the code page
  const touched = new Set<number>();
  for (const m of new TextDecoder().decode(text).matchAll(/^ [LSM] ([0-9a-f]+),/gm)) touched.add(Math.floor((parseInt(m[1], 16) - DATA) / PAGE));
  const sample = [CODE, ...[...touched].sort((a, b) => a - b).filter((_, i) => i % 16 === 0).map((p) => DATA + p * PAGE + 8)];

  it('completes on 2 MiB of machine memory for a 4 MiB footprint: swap-ins and page-outs counted, the same translations as without pressure', async () => {
    const roomy = await setup(64);
    const tight = await setup(2);
    const base = replayBytes(roomy.core, text).stats;
    const before = tight.vm.stats();
    const r = replayBytes(tight.core, text);
    const s = r.stats;
    const vs = tight.vm.stats();

    // the footprint did not fit: pages went out and came back while the trace ran
    expect(vs.SWW - before.SWW).toBeGreaterThan(DATA_PAGES / 2);
    expect(vs.SWR - before.SWR).toBeGreaterThan(DATA_PAGES / 2);
    expect(roomy.vm.stats().SWW).toBe(0);
    expect(base.hostFaults).toBe(0);
    expect(s.hostFaults).toBeGreaterThan(DATA_PAGES / 2);
    // the same trace: every record translated, none left unhandled
    for (const k of ['records', 'lines', 'traceBytes', 'badLines'] as const) expect(s[k], k).toBe(base[k]);
    expect(s.unhandledFaults).toBe(0);
    expect(base.unhandledFaults).toBe(0);
    // every stop retried its access once more: the costs of the faults, and nothing else
    expect(s.translations - s.hostFaults).toBe(base.translations);
    expect(s.l1iAccesses + s.l1dAccesses - s.hostFaults).toBe(base.l1iAccesses + base.l1dAccesses);
    expect(s.guestPageFaults).toBeGreaterThanOrEqual(base.guestPageFaults);
    expect(s.guestPageFaults).toBeLessThanOrEqual(base.guestPageFaults + s.hostFaults);
    expect(s.cycles).toBeGreaterThan(base.cycles);
    // and the same guest pages behind every gVA
    expect(guestPages(tight, sample)).toEqual(guestPages(roomy, sample));
    tight.host.audit();
  });

  it('with sharing passes between parts of the trace: merges, copy-on-write breaks and swapping on the same pages, the same guest pages', async () => {
    const roomy = await setup(64);
    const tight = await setup(2);
    replayBytes(roomy.core, text);
    let merged = 0;
    for (const part of parts(text, 6)) {
      replayBytes(tight.core, part);
      merged += tight.host.shareScan().merged;
    }
    const vs = tight.vm.stats();
    expect(merged).toBeGreaterThan(0);
    expect(vs.cowBreaks).toBeGreaterThan(0);
    expect(vs.SWR).toBeGreaterThan(0);
    expect(tight.core.stats().unhandledFaults).toBe(0);
    expect(tight.core.stats().records).toBe(roomy.core.stats().records);
    expect(guestPages(tight, sample)).toEqual(guestPages(roomy, sample));
    tight.host.audit();
  });

  it('a binary trace replays over the same host exactly as its text: the stops of binary records resume too', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'memvisor-driver-'));
    try {
      const bin = join(dir, 't.mvtr');
      replayBytes(Mmu.create({ guestMemoryMiB: 64, machineMemoryMiB: 64 }), text, { writeBinary: bin });
      const a = await setup(2, { seed: 3 });
      const b = await setup(2, { seed: 3 });
      const sa = replayBytes(a.core, text).stats;
      const sb = replayBytes(b.core, readFileSync(bin)).stats;
      expect(sb.hostFaults).toBeGreaterThan(0);
      const { lines: _l, traceBytes: _t, ...ta } = sa;
      const { lines: _m, traceBytes: _u, ...tb } = sb;
      expect(tb).toEqual(ta);
      expect(b.vm.stats()).toEqual(a.vm.stats());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a text trace converted while it replays over the host (writeBinary) gives the same counters', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'memvisor-driver-'));
    try {
      const a = await setup(2, { seed: 5 });
      const b = await setup(2, { seed: 5 });
      const sa = replayBytes(a.core, text).stats;
      const sb = replayBytes(b.core, text, { writeBinary: join(dir, 'w.mvtr') }).stats;
      // traceBytes: a conversion counts the text parsed and the records replayed from it
      expect({ ...sb, traceBytes: 0 }).toEqual({ ...sa, traceBytes: 0 });
      expect(sb.hostFaults).toBeGreaterThan(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('guest-kernel accesses over a host', () => {
  it('read and write guest page tables whose pages were swapped out: the host swaps them in first', async () => {
    const s = await setup(2);
    s.core.translateOrThrow(DATA, 'write');
    const cr3 = s.core.vm.cr3;
    const top = cr3 + BigInt((DATA / 2 ** 39) & 511) * 8n;
    const entry = s.core.guestRead64(top);
    expect(entry & 1n).toBe(1n); // present: it points at the next table
    const before = s.vm.stats().SWR;
    s.vm.pageOut(s.vm.pages);
    expect(s.vm.pageState(Number(cr3 >> 12n))).toBe(PState.Swapped);
    expect(s.core.guestRead64(top)).toBe(entry);
    expect(s.vm.stats().SWR).toBeGreaterThan(before);
    s.vm.pageOut(s.vm.pages);
    s.core.guestWrite64(top + 8n, 0n); // a not-present entry next to it, on a page swapped out again
    expect(s.core.guestRead64(top)).toBe(entry);
    expect(() => s.core.guestRead64(BigInt(s.vm.pages) * 4096n)).toThrow(/gpa: got \d+, expected a guest-physical address the VM can back/);
    s.host.audit();
  });
});

describe('the fault driver gives up', () => {
  const stop = (progress: boolean): HostStop => ({ need: 'noFrame', gppn: asGppn(5), end: asGppn(6), gpa: asGpa(5 * PAGE + 12), progress });

  it('counts only rounds without progress: a stop after progress starts the count again', () => {
    let calls = 0;
    const r: FaultResolver = { name: 'v', resolve: () => { calls++; } };
    let n = 0;
    // 500 stops, each after progress: never gives up
    drive(r, { operation: () => 'work', step: () => (++n < 500 ? stop(true) : null) }, stop(true));
    expect(calls).toBe(500);
    // MAX_HOST_ROUNDS stops without progress after one with: still resolved
    n = 0;
    calls = 0;
    drive(r, { operation: () => 'work', step: () => (++n < MAX_HOST_ROUNDS ? stop(false) : null) }, stop(true));
    expect(calls).toBe(MAX_HOST_ROUNDS);
    // one more and it gives up, naming what it was doing
    calls = 0;
    let err: unknown;
    try {
      drive(r, { operation: () => 'the work of the test', step: () => stop(false) }, stop(true));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(GaveUpError);
    expect(err).toBeInstanceOf(OutOfMachineMemoryError);
    const g = err as GaveUpError;
    expect(calls).toBe(MAX_HOST_ROUNDS);
    expect([g.vm, g.operation, g.gppn, g.gpa, g.need, g.rounds]).toEqual(['v', 'the work of the test', 5, 5 * PAGE + 12, 'noFrame', MAX_HOST_ROUNDS]);
    expect(g.message).toBe(`VM "v": gave up on the work of the test after ${MAX_HOST_ROUNDS} rounds without progress: it still stops at GPPN 5 (gPA 0x500c) for a free machine frame (need 'noFrame')`);
  });

  it('guest-physical access: a window that needs a frame nobody frees', () => {
    const e = Engine.create({ machineMemoryMiB: 1 });
    const vm = e.reclaim.vmCreate(512, 0);
    let calls = 0;
    const stuck: FaultResolver = { name: 'stuck', resolve: () => { calls++; } };
    const bytes = new Uint8Array(512 * PAGE).fill(0x5a);
    let err: unknown;
    try {
      e.reclaim.physWrite(vm, asGpa(0), bytes, stuck);
    } catch (x) {
      err = x;
    }
    expect(err).toBeInstanceOf(GaveUpError);
    const g = err as GaveUpError;
    const free = e.ram.frameCounts();
    expect(free.free).toBe(0);
    // the first page without a frame is the one it stopped at; the pages before it were written
    const first = e.reclaim.vmStats(vm).mapped;
    expect([g.vm, g.gppn, g.gpa, g.need, g.rounds, calls]).toEqual(['stuck', first, first * PAGE, 'noFrame', MAX_HOST_ROUNDS, MAX_HOST_ROUNDS]);
    const w = e.reclaim.physWindowBytes; // a window of 1 MiB less SKEW_ROOM
    expect(w % PAGE).toBe(0);
    expect(g.operation).toBe(`guest-physical write of ${w} bytes at gPA 0x${(Math.floor((first * PAGE) / w) * w).toString(16)}`);
    const back = new Uint8Array(first * PAGE);
    e.reclaim.physRead(vm, asGpa(0), back.length, back, stuck);
    expect(back.every((b) => b === 0x5a)).toBe(true);
  });

  /** A host whose memory another VM filled, and a VM `b` on a core whose resolver does nothing. */
  async function starved(): Promise<Setup & { calls: () => number }> {
    const host = await Host.create({ machineMemoryMiB: 4, compression: { cachePercent: 0 } });
    const a = host.addVM({ name: 'a', memoryMiB: 16 });
    a.writePhys(0, new Uint8Array(16 << 20).fill(1));
    const vm = host.addVM({ name: 'b', memoryMiB: 16 });
    const core = host.mmu();
    core.attach(vm);
    let calls = 0;
    // what a resolver that cannot help looks like to the driver (the host's own throws instead)
    Object.defineProperty(vm, 'faultResolver', { value: { name: vm.name, resolve: () => { calls++; } } satisfies FaultResolver });
    return { host, vm, core, calls: () => calls };
  }

  it('a translation: a page nobody finds a frame for', async () => {
    const s = await starved();
    let err: unknown;
    for (let i = 0; i < 4096 && err === undefined; i++) {
      try {
        s.core.translate(DATA + i * PAGE, 'write');
      } catch (x) {
        err = x;
      }
    }
    expect(err).toBeInstanceOf(GaveUpError);
    const g = err as GaveUpError;
    expect(g.vm).toBe('b');
    expect(g.need).toBe('noFrame');
    expect(g.rounds).toBe(MAX_HOST_ROUNDS);
    expect(s.calls()).toBe(MAX_HOST_ROUNDS);
    expect(g.operation).toMatch(/^a translation of gVA 0x[0-9a-f]+ \(write\)$/);
    expect(g.gppn).toBe(Math.floor(g.gpa / PAGE));
    expect(g.gppn).toBeGreaterThanOrEqual(s.vm.guestOsRange!.first);
    s.host.audit();
  });

  it('a guest-kernel write: a page nobody finds a frame for', async () => {
    const s = await starved();
    const os = s.vm.guestOsRange!;
    let err: unknown;
    for (let g = os.end - 1; g > os.first && err === undefined; g--) {
      try {
        s.core.guestWrite64(g * PAGE, 1n);
      } catch (x) {
        err = x;
      }
    }
    expect(err).toBeInstanceOf(GaveUpError);
    const g = err as GaveUpError;
    expect([g.vm, g.need, g.rounds, s.calls()]).toEqual(['b', 'noFrame', MAX_HOST_ROUNDS, MAX_HOST_ROUNDS]);
    expect(g.operation).toBe(`a guest-kernel write at gPA 0x${g.gpa.toString(16)}`);
  });

  it('trace replay: a record nobody finds a frame for', async () => {
    const s = await starved();
    let err: unknown;
    try {
      replayBytes(s.core, syntheticTrace(2, 2048, 4000), { name: 'starved.lackey' });
    } catch (x) {
      err = x;
    }
    expect(err).toBeInstanceOf(GaveUpError);
    const g = err as GaveUpError;
    expect([g.vm, g.need, g.rounds, s.calls()]).toEqual(['b', 'noFrame', MAX_HOST_ROUNDS, MAX_HOST_ROUNDS]);
    expect(g.operation).toMatch(/^the replay of starved\.lackey near line \d+$/);
    expect(s.core.stats().unhandledFaults).toBe(0);
    s.host.audit();
  });
});

/**
 * The simulation's loops (a VM's step of touches, a trace VM's chunk of records, the guest's
 * batches) run through the same driver: a host stop goes to the guest's resolver, which has
 * Simulation.resolveHostFault act. Forced here by replacing resolveHostFault: one that does
 * nothing makes the driver give up after MAX_HOST_ROUNDS, naming the VM and what it was doing;
 * one that acts only on every MAX_HOST_ROUNDS-th call still completes (each page's progress
 * starts the count again), on every (MAX_HOST_ROUNDS + 1)-th it gives up.
 */
describe('the simulation runs its loops through the fault driver', () => {
  const os = { kernelMiB: 2, cacheMiB: 2, anonMiB: 2 };
  type Resolve = Simulation['resolveHostFault'];
  /** A resolveHostFault that counts its calls and passes only every `every`-th to `real` (0: none). */
  const sparse = (real: Resolve, every: number) => {
    const s = { calls: 0, fn: null as unknown as Resolve };
    s.fn = function (this: Simulation, ...a: Parameters<Resolve>) {
      s.calls++;
      return every > 0 && s.calls % every === 0 ? real.apply(this, a) : 0;
    };
    return s;
  };
  const caught = (f: () => unknown): unknown => {
    try {
      f();
    } catch (e) {
      return e;
    }
    return undefined;
  };

  // two guests whose OS (10 MiB each) does not fit in 16 MiB: the second boot needs the host to free frames
  const booting: ScenarioInput = {
    duration: 2, seed: 5, content: { source: 'generated' }, host: { machineMemoryMiB: 16 },
    vms: [{ name: 'vm', count: 2, memoryMiB: 32, os: { kernelMiB: 4, cacheMiB: 4, anonMiB: 2 }, workload: { phases: [{ at: 0, activeMiB: 4, touchesPerSecond: 20_000 }] } }],
  };
  /** Simulation.create(booting) with resolveHostFault replaced by `sparse(real, every)` during the boot. */
  async function boot(every: number): Promise<{ calls: number; sim?: Simulation; err?: unknown }> {
    const real = Simulation.prototype.resolveHostFault;
    const s = sparse(real, every);
    Simulation.prototype.resolveHostFault = s.fn;
    try {
      const sim = await Simulation.create(booting, { flavor: 'release' });
      return { calls: s.calls, sim };
    } catch (err) {
      return { calls: s.calls, err };
    } finally {
      Simulation.prototype.resolveHostFault = real;
    }
  }

  it('a guest batch (the boot): gives up when nothing is resolved, completes when each page waits at most the limit', async () => {
    const none = await boot(0);
    expect(none.err).toBeInstanceOf(GaveUpError);
    const g = none.err as GaveUpError;
    expect([g.vm, g.operation, g.need, g.rounds, none.calls]).toEqual(['vm-2', 'the guest OS boot', 'noFrame', MAX_HOST_ROUNDS, MAX_HOST_ROUNDS]);
    expect(g.gpa).toBe(g.gppn * PAGE);
    const late = await boot(MAX_HOST_ROUNDS + 1);
    expect(late.err).toBeInstanceOf(GaveUpError);
    expect(late.calls).toBe(MAX_HOST_ROUNDS);
    const slow = await boot(MAX_HOST_ROUNDS);
    expect(slow.err).toBeUndefined();
    // several pages each waited the whole limit: the count started again after each
    expect(slow.calls).toBeGreaterThan(2 * MAX_HOST_ROUNDS);
    expect(slow.calls % MAX_HOST_ROUNDS).toBe(0);
    const r = slow.sim!.run();
    slow.sim!.close();
    expect(r.verified.ok).toBe(true);
  });

  // one VM whose 50 MiB active set does not fit in 48 MiB of machine memory: touches keep meeting swapped pages
  const touching: ScenarioInput = {
    duration: 6, seed: 9, content: { source: 'generated' }, host: { machineMemoryMiB: 48 },
    vms: [{ name: 'w', memoryMiB: 64, os, workload: { phases: [{ at: 0, activeMiB: 50, touchesPerSecond: 50_000 }] } }],
  };

  it("a VM's step of touches: gives up when nothing is resolved, completes when each touch waits at most the limit", async () => {
    for (const every of [0, MAX_HOST_ROUNDS + 1, MAX_HOST_ROUNDS]) {
      const sim = await Simulation.create(touching, { flavor: 'release' });
      try {
        sim.advance(2);
        const s = sparse(sim.resolveHostFault, every);
        sim.resolveHostFault = s.fn;
        const err = caught(() => sim.advance(2));
        if (every === MAX_HOST_ROUNDS) {
          expect(err).toBeUndefined();
          expect(s.calls).toBeGreaterThan(10 * MAX_HOST_ROUNDS);
          expect(sim.run().verified.ok).toBe(true);
          continue;
        }
        expect(err).toBeInstanceOf(GaveUpError);
        const g = err as GaveUpError;
        expect([g.vm, g.rounds, s.calls]).toEqual(['w', MAX_HOST_ROUNDS, MAX_HOST_ROUNDS]);
        expect(g.operation).toMatch(/^workload touch \d+ of the \d+ of its step$/);
        expect(['swapIn', 'noFrame']).toContain(g.need);
      } finally {
        sim.close();
      }
    }
  });

  it('a guest swap-out (its victims listed across stops): gives up when nothing is resolved, completes when each victim waits at most the limit', async () => {
    for (const every of [0, MAX_HOST_ROUNDS + 1, MAX_HOST_ROUNDS]) {
      const sim = await Simulation.create(touching, { flavor: 'release' });
      try {
        // the host has swapped out much of the guest's memory; the guest's page cache goes first
        sim.advance(2);
        const guest = sim.vm('w').guest;
        while (guest.counts().cache > 0) guest.makeFree();
        const s = sparse(sim.resolveHostFault, every);
        sim.resolveHostFault = s.fn;
        const before = guest.counts().swap;
        const err = caught(() => guest.makeFree());
        if (every === MAX_HOST_ROUNDS) {
          expect(err).toBeUndefined();
          // several victims each waited the whole limit: the pages listed started the count again
          expect(s.calls).toBeGreaterThan(2 * MAX_HOST_ROUNDS);
          expect(s.calls % MAX_HOST_ROUNDS).toBe(0);
          expect(guest.counts().swap).toBe(before + 64);
          expect(sim.run().verified.ok).toBe(true);
          continue;
        }
        expect(err).toBeInstanceOf(GaveUpError);
        const g = err as GaveUpError;
        expect([g.vm, g.operation, g.need, g.rounds, s.calls]).toEqual(['w', 'the guest swap-out choice of 64 victims', 'swapIn', MAX_HOST_ROUNDS, MAX_HOST_ROUNDS]);
      } finally {
        sim.close();
      }
    }
  });

  it("a trace VM's chunk of records: gives up when nothing is resolved, naming the record", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'memvisor-driver-'));
    try {
      const trace = join(dir, 'synthetic.lackey');
      writeFileSync(trace, syntheticTrace(3, 2048, 20000));
      for (const mmu of ['shadow', 'ept'] as const) {
        // two 8 MiB traces and two 6 MiB guest OSes on 16 MiB
        const sim = await Simulation.create({
          duration: 6, seed: 5, content: { source: 'generated' }, host: { machineMemoryMiB: 16 },
          vms: [{ name: 't', count: 2, memoryMiB: 32, mmu, os, workload: { trace, traceRecordsPerSecond: 20_000 } }],
        }, { flavor: 'release' });
        try {
          sim.advance(2);
          const s = sparse(sim.resolveHostFault, 0);
          sim.resolveHostFault = s.fn;
          const err = caught(() => sim.advance(2));
          expect(err, mmu).toBeInstanceOf(GaveUpError);
          const g = err as GaveUpError;
          expect([g.rounds, s.calls]).toEqual([MAX_HOST_ROUNDS, MAX_HOST_ROUNDS]);
          expect(['t-1', 't-2']).toContain(g.vm);
          expect(g.operation).toMatch(/^the trace record at byte \d+ of a \d+-byte chunk$/);
        } finally {
          sim.close();
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
