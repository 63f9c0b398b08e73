/**
 * API edges: every public entry point refuses a bad argument with a typed error naming the
 * user's field (never a raw TypeError, never a value wrapped or defaulted silently), and refuses
 * unknown option keys, as Host.create does.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, Host, Mmu, deflateCodec, FaultKind } from '../src/index.js';
import { Engine } from '../src/engine/engine.js';

/** The ConfigError `f` throws (a failure if it throws anything else or nothing). */
function configError(f: () => unknown): ConfigError {
  try {
    f();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw new Error(`expected a ConfigError, got ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
  }
  throw new Error('expected a ConfigError, nothing was thrown');
}

const small = { guestMemoryMiB: 64, machineMemoryMiB: 16 };

describe('API edges', () => {
  it('Host.rates: snapshots and seconds are checked, not dereferenced blindly', async () => {
    const host = await Host.create({ machineMemoryMiB: 16 });
    host.addVM({ name: 'a', memoryMiB: 8 });
    const s = host.stats();
    expect(configError(() => Host.rates(null as never, s, 1)).field).toBe('before');
    expect(configError(() => Host.rates(s, undefined as never, 1)).field).toBe('after');
    expect(configError(() => Host.rates(s, { host: s.host, vms: [{ name: 'a' }] } as never, 1)).field).toBe('after.vms[0].SWR');
    expect(configError(() => Host.rates(s, { vms: [null] } as never, 1)).field).toBe('after.vms[0]');
    for (const sec of [0, -1, NaN, Infinity, '1' as never]) expect(configError(() => Host.rates(s, s, sec)).field).toBe('seconds');
    expect(Host.rates(s, s, 1)).toEqual([{ name: 'a', 'SWR/s': 0, 'SWW/s': 0, 'ZIP/s': 0, 'UNZIP/s': 0 }]);
    host.close();
  });

  it('Host.create and addVM: guestMemoryMiB 0 and oversized VMs name the user field', async () => {
    await expect(Host.create({ machineMemoryMiB: 16, guestMemoryMiB: 0 })).rejects.toThrow(/^guestMemoryMiB: got 0, expected an integer in \[1, 4194304\]/);
    await expect(Host.create({ machineMemoryMiB: 16, maxVMs: 0 })).rejects.toThrow(/^maxVMs: got 0/);
    const host = await Host.create({ machineMemoryMiB: 16 }); // guest memory: 64 MiB
    const e = configError(() => host.addVM({ name: 'big', memoryMiB: 2 ** 20 }));
    expect(e.field).toBe('vm.memoryMiB');
    expect(e.message).toMatch(/at most 64 MiB: the guest memory left of the host's guestMemoryMiB/);
    host.addVM({ name: 'a', memoryMiB: 40 });
    expect(configError(() => host.addVM({ name: 'b', memoryMiB: 25 })).message).toMatch(/at most 24 MiB/);
    expect(host.addVM({ name: 'b', memoryMiB: 24 }).name).toBe('b');
    host.close();
  });

  it('unknown option keys are refused everywhere: Mmu.create, host.mmu, addVm, attach, sampleAccessed, Engine.create, deflateCodec', async () => {
    expect(configError(() => Mmu.create({ ...small, modee: 'shadow' } as never)).field).toBe('modee');
    expect(configError(() => Mmu.create({ ...small, tlb: { L2: { entries: 64, ways: 4 } } } as never)).field).toBe('tlb.L2');
    expect(configError(() => Mmu.create({ ...small, tlb: { l2: { entries: 64, way: 4 } } } as never)).field).toBe('tlb.l2.way');
    expect(configError(() => Mmu.create({ ...small, tlb: 5 } as never)).field).toBe('tlb');
    expect(configError(() => Mmu.create({ ...small, pwc: 'off' } as never)).field).toBe('pwc');
    expect(configError(() => Mmu.create({ ...small, costs: null } as never)).field).toBe('costs');
    expect(configError(() => Mmu.create({ ...small, engine: {} } as never)).field).toBe('engine');
    const m = Mmu.create({ ...small, mode: 'native' });
    expect(configError(() => m.addVm({ guestMemoryMiB: 16, mdoe: 'ept' } as never)).field).toBe('mdoe');
    expect(configError(() => m.sampleAccessed(0, 1, { clean: true } as never)).field).toBe('clean');
    expect(configError(() => Engine.create({ machineMemoryMb: 16 } as never)).field).toBe('machineMemoryMb');
    expect(configError(() => Engine.create(null as never)).field).toBe('opts');
    expect(configError(() => deflateCodec({ lvl: 9 } as never)).field).toBe('lvl');
    const host = await Host.create({ machineMemoryMiB: 16 });
    const vm = host.addVM({ name: 'a', memoryMiB: 8 });
    expect(configError(() => host.mmu({ tbl: {} } as never)).field).toBe('tbl');
    expect(configError(() => host.mmu({ maxVms: 2 } as never)).field).toBe('maxVms'); // a Host's core does not size an engine
    const core = host.mmu();
    expect(configError(() => core.attach(vm, { guestOS: {} } as never)).field).toBe('guestOS');
    expect(configError(() => core.attach(vm, { guestOs: { first: 4 } } as never)).field).toBe('guestOs.first');
    host.close();
  });

  it('addresses are checked, never wrapped: translate(2^64) is an error, not address 0', () => {
    const m = Mmu.create({ ...small, mode: 'native' });
    for (const va of [2n ** 64n, -1n, -1, 1.5, 2 ** 53, NaN, '4096' as never]) {
      const e = configError(() => m.translate(va));
      expect(e.field).toBe('va');
      expect(e.message).toMatch(/expected an address: a bigint in \[0, 2\^64\) or a non-negative integer below 2\^53/);
    }
    // large addresses are translated as themselves: 2^63 is non-canonical (a fault), not a wrap to 0
    expect(m.translate(2n ** 63n).fault?.kind).toBe(FaultKind.NonCanonical);
    expect(m.translate(2n ** 64n - 1n).fault).toBeNull(); // canonical: the top of the upper half
    expect(m.translate(0x1000).fault).toBeNull();
    expect(configError(() => m.translate(0x1000, 'read', 1 as never)).field).toBe('supervisor');
    expect(configError(() => m.invlpg(2n ** 64n)).field).toBe('va');
    expect(configError(() => m.guestWrite64(2n ** 60n, 0n)).field).toBe('gpa');
    expect(configError(() => m.guestWrite64(0x1000, -1n)).field).toBe('value');
    expect(configError(() => m.guestRead64(-8)).field).toBe('gpa');
    expect(configError(() => m.switchTo(m.vm, 2n ** 64n)).field).toBe('cr3');
    expect(configError(() => m.eptEntry(0, 9)).field).toBe('level');
    expect(configError(() => m.invvpid('single', 70000)).field).toBe('vpid');
    expect(configError(() => m.pmapFrame(1e9)).field).toBe('gppn');
    expect(configError(() => m.backingChanged(-5)).field).toBe('gppn');
    expect(configError(() => m.translateBatch([1n] as never, new Uint8Array(1), new BigUint64Array(1))).field).toBe('vas');
    expect(configError(() => m.translateBatch(new BigUint64Array(1), [0] as never, new BigUint64Array(1))).field).toBe('kinds');
    // found by test/api.fuzz.test.ts: each was a raw TypeError (a bigint mixed with a number)
    for (const w of [NaN, 5n, 2n ** 64n, {} as never]) expect(configError(() => m.decodeFault(w as never)).field).toBe('word');
    expect(m.decodeFault((1n << 63n) | (BigInt(FaultKind.NonCanonical) << 48n)).kind).toBe(FaultKind.NonCanonical);
  });

  it('zipSurvey checks first before it computes the default page count; a VM blocked below its pages says so', async () => {
    const host = await Host.create({ machineMemoryMiB: 16 });
    const vm = host.addVM({ name: 'a', memoryMiB: 8 });
    expect(configError(() => vm.zipSurvey(2n ** 70n as never)).field).toBe('first');
    expect(vm.zipSurvey(0).pages).toBe(0);
    vm.writePhys(0, new Uint8Array(8192).fill(7));
    host.blockAbove(vm, 1);
    expect(() => vm.writePhys(3 * 4096, new Uint8Array(1))).not.toThrow(); // pages out from itself to stay at 1
    host.blockAbove(vm, 0);
    expect(() => vm.writePhys(5 * 4096, new Uint8Array(1))).toThrow(/^VM "a" holds the 0 MiB it is blocked at \(host\.blockAbove; its limit is 8 MiB\) and none of its pages can be paged out to make room/);
    host.blockAbove(vm, null);
    expect(vm.readPhys(0, 8192)).toEqual(new Uint8Array(8192).fill(7));
    host.audit();
    host.close();
  });

  it("a standalone Mmu sizes its engine for the caches it asks for; a host's engine that is full says what it lacks", async () => {
    const m = Mmu.create({ ...small, mode: 'native', tlb: { l2: { entries: 131072, ways: 4 } } });
    expect(m.translate(0x5000).fault).toBeNull();
    const host = await Host.create({ machineMemoryMiB: 16 });
    const e = configError(() => host.mmu({ tlb: { l2: { entries: 131072, ways: 4 } } }));
    expect(e.field).toBe('engine');
    expect(e.message).toMatch(/one MMU context of maxMmus and \d+ bytes of mmuCacheBytes/);
    host.close();
  });
});
