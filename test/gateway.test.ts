/**
 * The gateway (src/engine/gateway.ts): every export of the module is bound by a per-concept
 * module and every binding names an export; every record the module lays out is read by some
 * module, with the sizes it expects; every call after an abort is refused; results come adapted
 * to their AssemblyScript types.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { Engine, engineOf } from '../src/engine/engine.js';
import { BACKING_PHASE, Gateway, SKEW_ROOM, skewed, WARM_MIN } from '../src/engine/gateway.js';
import fc from 'fast-check';
import { mulberry32 } from './prng.js';
import { CONSTANTS, FUNCTIONS, type Exports } from '../src/engine/abi.generated.js';
import { FrameKind } from '../src/engine/ram.js';
import { asGppn } from '../src/engine/addr.js';
import { ConfigError, EngineAbortError, EnginePoisonedError, Host, MemvisorError } from '../src/index.js';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

const FLAVORS = ['debug', 'release'] as const;
const moduleOf = (flavor: string) => new WebAssembly.Module(readFileSync(new URL(`../build/${flavor}.wasm`, import.meta.url)));
const config = { machineFrames: 256, stagingBytes: 1 << 20, maxVMs: 4, guestPages: 1024, maxMmus: 2, mmuCacheBytes: 1 << 16 };

describe('bindings', () => {
  for (const flavor of FLAVORS) {
    it(`every export of the ${flavor} module has a binding, and the generated ABI lists exactly its exports`, () => {
      const e = Engine.create({ machineMemoryMiB: 1, flavor });
      expect(e.gateway.unbound()).toEqual([]);
      const exported = WebAssembly.Module.exports(moduleOf(flavor)).map((x) => x.name).filter((n) => n !== 'memory').sort();
      expect([...Object.keys(FUNCTIONS), ...Object.keys(CONSTANTS)].sort()).toEqual(exported);
    });
  }

  it('the coverage check fires: a gateway whose modules bound nothing lists every export but its own', () => {
    const g = new Gateway({ module: moduleOf('debug'), flavor: 'debug', config });
    const unbound = g.unbound();
    expect(unbound).toContain('physAccess');
    expect(unbound).toContain('FAULT_IO');
    expect(unbound).not.toContain('init'); // the gateway binds its own (config, map, layout)
    g.bind(['physAccess']);
    expect(g.unbound()).not.toContain('physAccess');
  });

  it('a binding that names no export is a ConfigError when the engine loads', () => {
    const g = new Gateway({ module: moduleOf('debug'), flavor: 'debug', config });
    expect(() => g.bind(['noSuchExport' as keyof Exports])).toThrow(ConfigError);
    expect(() => g.bind(['noSuchExport' as keyof Exports])).toThrow(/module: got "noSuchExport", expected an exported function/);
    expect(() => g.constantsOf(['NO_SUCH_CONSTANT' as 'FAULT_IO'])).toThrow(/expected an exported constant/);
  });

  it('an unknown configuration field is refused, not ignored', () => {
    expect(() => new Gateway({ module: moduleOf('debug'), flavor: 'debug', config: { ...config, machineFrame: 1 } })).toThrow(/config: got "machineFrame"/);
  });
});

describe('layouts', () => {
  it('every record and staging window of assembly/layout.ts is read by some module', () => {
    expect(Engine.create({ machineMemoryMiB: 1 }).gateway.unclaimed()).toEqual([]);
  });

  it('the check fires, and a field of the wrong size is a ConfigError', () => {
    const g = new Gateway({ module: moduleOf('debug'), flavor: 'debug', config });
    expect(g.unclaimed()).toContain('pageoutReq.slot');
    expect(g.record('pageoutReq', { gppn: 4, page: 4, slot: 4 })).toEqual({ size: 8, gppn: 0, page: 4, slot: 4 });
    expect(g.unclaimed()).not.toContain('pageoutReq.slot');
    expect(() => g.record('batchIn', { va: 4 })).toThrow(/module: got "batchIn.va", expected a field of 4 bytes \(the module says 8/);
    expect(() => g.record('noSuchRecord', {})).toThrow(ConfigError);
  });

  it('staging windows chain without overlap below aux, and mmuRetry and mmu sit past every window a host fault uses', () => {
    const g = new Gateway({ module: moduleOf('debug'), flavor: 'debug', config });
    const w = g.windows('staging', ['data', 'inList', 'inAddrs', 'req', 'evict', 'in', 'aux', 'mmuRetry', 'mmu']);
    const fixed = [w.data, w.inList, w.inAddrs, w.req, w.evict, w.in].sort((a, b) => a.offset - b.offset);
    for (let i = 1; i < fixed.length; i++) expect(fixed[i].offset).toBeGreaterThanOrEqual(fixed[i - 1].offset + fixed[i - 1].size);
    expect(w.aux.offset).toBeGreaterThanOrEqual(fixed.at(-1)!.offset + fixed.at(-1)!.size);
    expect(w.mmuRetry.offset).toBeGreaterThanOrEqual(w.aux.offset);
    expect(w.mmu.offset).toBe(w.mmuRetry.offset + w.mmuRetry.size);
  });

  it("the simulation's windows share the MMU's space and chain without overlap; its header slots are distinct and inside the header", () => {
    const g = new Gateway({ module: moduleOf('debug'), flavor: 'debug', config });
    const w = g.windows('staging', ['mmu', 'simList', 'simSlots', 'simPairs', 'simPages']);
    expect(w.simList.offset).toBe(w.mmu.offset);
    const sim = [w.simList, w.simSlots, w.simPairs, w.simPages];
    for (let i = 1; i < sim.length; i++) expect(sim[i].offset).toBe(sim[i - 1].offset + sim[i - 1].size);
    const size = g.record('simVm', {}).size;
    const slots = g.group('simVm', 8); // every slot is 8 bytes (u64 or f64), else a ConfigError
    expect(slots.length).toBeGreaterThan(30);
    expect(new Set(slots.map(([, at]) => at)).size).toBe(slots.length);
    for (const [name, at] of slots) expect(at + 8, name).toBeLessThanOrEqual(size);
    expect(() => g.record('guestVictim', { gppn: 8 })).toThrow(/guestVictim.gppn", expected a field of 8 bytes \(the module says 4/);
  });

  it('regions sim and simContent are empty unless the engine is asked for them', () => {
    expect(Engine.create({ machineMemoryMiB: 1 }).map.sim.size).toBe(0);
    expect(Engine.create({ machineMemoryMiB: 1 }).map.simContent.size).toBe(0);
    const e = Engine.create({ machineMemoryMiB: 1, simTables: true, simContentPages: 3 });
    expect(e.map.sim.size).toBeGreaterThan(0);
    expect(e.map.simContent.size).toBe(3 * 4096);
    expect(e.workload.contentPages).toBe(3);
    // the header read by name says what the guest model set up: page counts by owner
    const vm = e.reclaim.vmCreate(1024, 0);
    expect(e.guest.guestSetup(vm, 2, 3, 4, 10, asGppn(1000), asGppn(1024))).toBe(true);
    const counts = (['kernel', 'cache', 'resident', 'reserved', 'free', 'balloon'] as const).map((f) => e.guest.get(vm, f));
    expect(counts).toEqual([2, 3, 4, 24, 1024 - 2 - 3 - 4 - 24, 0]);
  });

  it('MMU counters and costs are named by the module, in the order of the public types', () => {
    const e = Engine.create({ machineMemoryMiB: 1 });
    expect(e.translate.costNames()).toEqual(['tlbL1Hit', 'tlbL2Hit', 'walkRef', 'pwcHit', 'vmExit', 'guestPageFault', 'eptViolation', 'shadowFill', 'ptWriteEmulation']);
    expect(e.translate.counterNames()).toContain('traceBytes');
  });
});

describe('the live check', () => {
  it('after an abort every bound export refuses the call', () => {
    const e = Engine.create({ machineMemoryMiB: 1, flavor: 'debug' });
    const m = e.ram.frameAlloc(FrameKind.Guest);
    e.ram.framePut(m);
    expect(() => e.ram.framePut(m)).toThrow(EngineAbortError);
    const all = e.gateway.bind(Object.keys(FUNCTIONS) as (keyof Exports)[]) as unknown as Record<string, () => unknown>;
    const refused: string[] = [];
    const answered: string[] = [];
    for (const [name, f] of Object.entries(all)) {
      try {
        f();
        answered.push(name);
      } catch (err) {
        if (err instanceof EnginePoisonedError) refused.push(name);
        else throw err;
      }
    }
    expect(answered).toEqual([]);
    expect(refused.length).toBe(Object.keys(FUNCTIONS).length);
    expect(() => e.gateway.stage(16)).toThrow(EnginePoisonedError);
    expect(() => e.ram.readMachine(0n, 1)).toThrow(EnginePoisonedError);
  });
});

describe('release', () => {
  // a collection on demand: node's gc behind a flag set at run time
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const tick = () => new Promise((r) => setTimeout(r, 0));

  it('a closed Host frees its linear memory while it, its VMs and every bound export stay referenced; each call then says the host is closed', async () => {
    const host = await Host.create({ machineMemoryMiB: 64, flavor: 'release' });
    const vm = host.addVM({ name: 'kept', memoryMiB: 32 });
    vm.writePhys(0, new Uint8Array([1, 2, 3]));
    const e = engineOf(host);
    const all = e.gateway.bind(Object.keys(FUNCTIONS) as (keyof Exports)[]) as unknown as Record<string, () => unknown>;
    const memory = new WeakRef((e.gateway as unknown as { memory: WebAssembly.Memory }).memory);
    expect(memory.deref()!.buffer.byteLength).toBeGreaterThan(64 << 20);
    host.close();
    expect(e.gateway.released).toBe(true);
    expect(e.gateway.memoryBytes).toBe(0);
    for (const [name, f] of Object.entries(all)) expect(() => f(), name).toThrow(/^host: closed/);
    expect(() => vm.readPhys(0, 3)).toThrow(MemvisorError);
    expect(() => vm.readPhys(0, 3)).toThrow(/host: closed \(Host.close freed its machine memory and engine\)/);
    expect(() => host.stats()).toThrow(/host: closed/);
    expect(() => e.gateway.stage(16)).toThrow(/host: closed/);
    expect(() => e.gateway.u8).toThrow(/host: closed/);
    expect(host.close()).toEqual({ descriptorsClosed: 0, removed: 0, problems: [] }); // idempotent
    for (let i = 0; i < 3 && memory.deref(); i++) {
      await tick();
      gc();
    }
    expect(memory.deref()).toBeUndefined();
    expect([host, vm, all].length).toBe(3); // all three still referenced here
  });
});

describe('results adapted to their AssemblyScript types', () => {
  it('u32 unsigned, bool boolean, u64 unsigned bigint, i32 signed', () => {
    const e = Engine.create({ machineMemoryMiB: 1, guestMemoryMiB: 1 });
    const x = e.gateway.bind(['pmapFault', 'pageIsZero', 'xxh64', 'vmCreate']);
    const vm = x.vmCreate(4, 0, 4, 0);
    expect(x.pmapFault(vm, 99, false)).toBe(0xfffffffe); // FAULT_RANGE as u32, not -2
    expect(x.pageIsZero(e.ram.frameAddr(e.ram.frameAlloc(FrameKind.Guest)))).toBe(true);
    const h = x.xxh64(0, 0, 0n); // XXH64 of no bytes: 0xef46db3751d8e999, above 2^63
    expect(h).toBe(0xef46db3751d8e999n);
    expect(x.vmCreate(1 << 20, 0, 1, 0)).toBe(-1); // i32: the pmap is full
    expect(e.reclaim.pmapState(vm, asGppn(99))).toBe(0xff);
  });
});

describe('copies placed half a page from their JavaScript array (skewed)', () => {
  it('lands within SKEW_ROOM, 2048 bytes past the array\'s bytes within a page, at their place in a 64-byte line', () => {
    fc.assert(fc.property(fc.nat(2 ** 32 - 1), fc.nat(1 << 30), (addr, byteOffset) => {
      const a = skewed(addr, byteOffset);
      expect(a).toBeGreaterThanOrEqual(addr);
      expect(a - addr).toBeLessThan(SKEW_ROOM);
      // linear memory starts on a page; the array's bytes start BACKING_PHASE past one
      const d = (((a - (BACKING_PHASE + byteOffset)) % 4096) + 4096) % 4096;
      expect(d).toBe(2048);
      expect((((a - byteOffset - BACKING_PHASE) % 64) + 64) % 64).toBe(0);
    }), { seed: 7, numRuns: 2000 });
  });

  it('stageIn keeps the bytes and their length wherever it puts them', () => {
    const e = Engine.create({ machineMemoryMiB: 0 });
    const buf = new Uint8Array(9000).map((_, i) => (i * 7) & 255);
    for (const from of [0, 1, 17, 4095, 4096]) {
      const part = buf.subarray(from, from + 4000);
      const at = e.gateway.stageIn(part);
      expect((at - part.byteOffset) & 4095).toBeGreaterThan(1900);
      expect(Buffer.compare(e.gateway.u8.subarray(at, at + part.length), part)).toBe(0);
    }
  });
});

describe('copies out of linear memory, each window of the destination warmed first (copyOut)', () => {
  it('writes exactly [dstAt, dstAt + len) of the array, for lengths around WARM_MIN and the window, at any start', () => {
    const e = Engine.create({ machineMemoryMiB: 0 });
    const W = 256 << 10;
    const len0 = [0, 1, 4095, WARM_MIN - 1, WARM_MIN, WARM_MIN + 1, W - 1, W, W + 1, 2 * W + 4097];
    const src = e.gateway.stage(2 * W + 8192 + 64);
    const rnd = mulberry32(3);
    const u8 = e.gateway.u8;
    for (let i = 0; i < 2 * W + 8192; i++) u8[src + i] = Math.floor(rnd() * 256);
    const backing = new Uint8Array(3 * W);
    for (const len of len0) {
      for (const [arrayAt, dstAt, at] of [[0, 0, 0], [1, 4095, 17], [4093, 3, 4096], [4096, 2048, 1]]) {
        backing.fill(0xa5);
        const dst = backing.subarray(arrayAt, arrayAt + dstAt + len + 5);
        e.gateway.copyOut(dst, dstAt, src + at, len);
        expect(Buffer.compare(dst.subarray(dstAt, dstAt + len), e.gateway.u8.subarray(src + at, src + at + len))).toBe(0);
        // nothing before or after the range moved
        expect(backing.subarray(0, arrayAt + dstAt).every((b) => b === 0xa5)).toBe(true);
        expect(backing.subarray(arrayAt + dstAt + len).every((b) => b === 0xa5)).toBe(true);
      }
    }
  });

  it('a range past the end of the array is refused as a set past its end would be, before anything is written', () => {
    const e = Engine.create({ machineMemoryMiB: 0 });
    const at = e.gateway.stage(1 << 20);
    const dst = new Uint8Array(3 << 18).fill(7); // three windows' worth
    expect(() => e.gateway.copyOut(dst, 1, at, 3 << 18)).toThrow(RangeError);
    expect(() => e.gateway.copyOut(dst, -1, at, 4)).toThrow(RangeError);
    expect(dst.every((b) => b === 7)).toBe(true);
  });
});

describe('short guest-physical copies (the module copies up to 256 bytes itself)', () => {
  it('every length 0..300, at four starts around a page boundary, reads back what was written, and nothing around it moves', async () => {
    const host = await Host.create({ machineMemoryMiB: 4 });
    const vm = host.addVM({ name: 'short', memoryMiB: 1 });
    const PAGE = 4096;
    const oracle = new Uint8Array(4 * PAGE);
    const rnd = mulberry32(1);
    const next = () => Math.floor(rnd() * 256);
    for (let len = 0; len <= 300; len++) {
      // starts before, at and after the boundary of pages 1 and 2, so copies split at every length
      for (const start of [2 * PAGE - len - 1, 2 * PAGE - (len >> 1), 2 * PAGE, 2 * PAGE + 17]) {
        const bytes = new Uint8Array(len).map(next);
        vm.writePhys(start, bytes);
        oracle.set(bytes, start);
        const back = vm.readPhys(start - 3, len + 6);
        expect(Buffer.compare(back, oracle.subarray(start - 3, start + len + 3))).toBe(0);
      }
    }
    expect(Buffer.compare(vm.readPhys(0, 4 * PAGE), oracle)).toBe(0);
    host.close();
  });
});
