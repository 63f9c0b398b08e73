/**
 * The esx and kvm policies over a real Host, driven by a constructed context (a clock of whole
 * seconds, VMs that touch what the test says, a "hog" VM outside the policy's view that eats
 * free memory to a chosen level): what each policy does in each state, on its own, without the
 * simulation. Whole runs under the simulation are in policy.run.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { Host, type VM, type PageOutResult } from '../src/index.js';
import { engineOf } from '../src/engine/engine.js';
import type { PolicyContext, PolicyVm } from '../src/policy/policy.js';
import { resolvePolicyConfig } from '../src/policy/config.js';
import { EsxPolicy } from '../src/policy/esx/policy.js';
import { KvmPolicy } from '../src/policy/kvm/policy.js';
import type { MemState } from '../src/policy/esx/states.js';
import { mulberry32 } from './prng.js';

const PAGE = 4096;
const MiB = 256;

interface Harness {
  host: Host;
  ctx: PolicyContext;
  views: PolicyVm[];
  hog: VM;
  /** page-outs the policy asked for: VM, pages, and the policy state at the time */
  pageOuts: { vm: string; pages: number; state: string }[];
  /** runs every hook due in the next `s` seconds */
  advance(s: number): void;
  /** makes free memory about `mib` MiB by growing or shrinking the hog */
  freeTo(mib: number): void;
}

function view(vm: VM): PolicyVm {
  const v = {
    name: vm.name,
    vm,
    memoryPages: vm.pages,
    reservationPages: vm.reservationMiB * MiB,
    limitPages: vm.limitMiB * MiB,
    shares: vm.shares,
    balloonTarget: 0,
    sizeTarget: 0,
    activeEstimate: 0,
    get resident() {
      return vm.residentPages;
    },
    get ballooned() {
      return vm.stats().MCTLSZ;
    },
    trueActive: 0,
    guest: () => ({ free: 0, kernel: 0, cache: 0, anon: 0, balloon: vm.stats().MCTLSZ, swap: 0, reserved: 0 }),
  };
  return v;
}

async function harness(vmMiB: number[], opts: { machineMiB?: number; state?: () => string } = {}): Promise<Harness> {
  const host = await Host.create({ machineMemoryMiB: opts.machineMiB ?? 64, largePages: true });
  const vms = vmMiB.map((m, i) => host.addVM({ name: `vm${i}`, memoryMiB: m }));
  const hog = host.addVM({ name: 'hog', memoryMiB: 64, largePages: false, cachePercent: 0 });
  const views = vms.map(view);
  const hooks: { period: number; next: number; run: () => void }[] = [];
  const rnd = mulberry32(5);
  let now = 0;
  let hogPages = 0;
  const pageOuts: Harness['pageOuts'] = [];
  const ctx: PolicyContext = {
    get now() {
      return now;
    },
    host,
    vms: views,
    machinePages: engineOf(host).machineFrames,
    freePages: () => host.frameCounts().free,
    every: (period, run) => void hooks.push({ period, next: period, run }),
    pageOut: (v, pages): PageOutResult => {
      pageOuts.push({ vm: v.name, pages, state: opts.state?.() ?? '' });
      return v.vm.pageOut(Math.min(pages, v.memoryPages));
    },
    setScanRate: () => {},
    random: rnd,
    scanRuleRate: () => 100,
    config: resolvePolicyConfig() as unknown as PolicyContext['config'],
    hostStats: () => host.stats().host,
  };
  return {
    host, ctx, views, hog, pageOuts,
    advance(s: number) {
      const end = now + s;
      while (now < end) {
        now++;
        for (const h of hooks) if (h.next <= now) {
          h.run();
          h.next += h.period;
        }
      }
    },
    freeTo(mib: number) {
      const want = mib * MiB;
      let free = host.frameCounts().free;
      if (free > want) {
        const n = Math.min(free - want, hog.pages - hogPages);
        hog.writePhys(hogPages * PAGE, new Uint8Array(n * PAGE).fill(0xee));
        hogPages += n;
      } else if (free < want && hogPages > 0) {
        const n = Math.min(want - free, hogPages);
        hog.balloonInflate(Array.from({ length: n }, (_, i) => hogPages - 1 - i));
        hog.balloonDeflate(Array.from({ length: n }, (_, i) => hogPages - 1 - i));
        hogPages -= n;
      }
      free = host.frameCounts().free;
      expect(Math.abs(free - want)).toBeLessThanOrEqual(MiB);
    },
  };
}

describe('esx policy over a constructed free-memory curve', () => {
  it('high: large pages; clear: broken; soft: balloon only; hard: swap, balloon stops; low: blocked', async () => {
    let policy: EsxPolicy | null = null;
    const h = await harness([16, 16], { state: () => policy!.state });
    policy = new EsxPolicy({ minFreeMiB: 8 });
    // both VMs fill their memory (large pages while high); vm0 stays idle, vm1 keeps touching
    for (const v of h.views) v.vm.writePhys(0, new Uint8Array(v.memoryPages * PAGE).fill(1));
    policy.start(h.ctx);
    expect(policy.state).toBe('high');
    expect(h.host.largePagesAllowed).toBe(true);
    expect(h.host.stats().host.largePages).toBe(16);
    const touch = () => h.views[1].vm.readPhys(0, h.views[1].memoryPages * PAGE);
    for (let i = 0; i < 3; i++) {
      h.advance(60);
      touch();
    }
    h.advance(60); // a third sample: vm0 looks idle, vm1 active
    expect(h.views[0].activeEstimate).toBeLessThan(0.05 * 4096);
    expect(h.views[1].activeEstimate).toBeGreaterThan(0.9 * 4096);

    // clear (free 16 MiB: 200% of minFree): large pages broken, nothing reclaimed, no balloon
    h.freeTo(16);
    h.advance(1);
    expect(policy.state).toBe<MemState>('clear');
    expect(h.host.largePagesAllowed).toBe(false);
    expect(h.host.stats().host.largePages).toBe(0);
    expect(h.views.every((v) => v.balloonTarget === 0)).toBe(true);
    expect(h.pageOuts).toEqual([]);

    // soft (6 MiB free = 75%): the balloon target of the idle VM grows; no page-out
    h.freeTo(6);
    h.advance(1);
    expect(policy.state).toBe<MemState>('soft');
    const gap = Math.ceil((8 * 1.09 - 6) * MiB); // to the reclaim goal, 109% of minFree
    expect(h.views[0].balloonTarget).toBeGreaterThanOrEqual(gap - 8);
    expect(h.views[1].balloonTarget).toBe(0); // the active VM gives nothing while the idle one can
    expect(h.views[0].sizeTarget).toBe(h.views[0].resident - h.views[0].balloonTarget);
    expect(h.pageOuts).toEqual([]);
    const softBalloon = h.views[0].balloonTarget;

    // hard (4 MiB = 50%): ballooning stops where it is (the test's guest inflated nothing), the excess is paged out
    h.freeTo(4);
    h.advance(1);
    expect(policy.state).toBe<MemState>('hard');
    expect(h.views[0].balloonTarget).toBe(0);
    expect(softBalloon).toBeGreaterThan(0);
    expect(h.pageOuts.length).toBeGreaterThan(0);
    expect(h.pageOuts.every((p) => p.state === 'hard' || p.state === 'low')).toBe(true);
    expect(h.pageOuts.every((p) => p.vm === 'vm0')).toBe(true);
    const out = h.host.stats().vms[0];
    expect(out.SWCUR + out.compressed + out.SHRD).toBeGreaterThan(0);

    // low (1 MiB = 12.5%): blocked from taking frames: vm0 can no longer grow past what it holds
    h.pageOuts.length = 0;
    h.freeTo(1);
    h.advance(1);
    expect(policy.state).toBe<MemState>('low');
    expect(policy.vmFields(h.ctx, h.views[0]).blockMiB).toBeGreaterThan(0);
    const held = h.views[0].resident;
    // a write to one of its paged-out pages must page one of its own out first (FAULT_LIMIT -> the VM itself)
    const g = [...Array(4096).keys()].find((x) => h.views[0].vm.pageState(x) === 5 || h.views[0].vm.pageState(x) === 4)!;
    h.views[0].vm.writePhys(g * PAGE, new Uint8Array([7]));
    expect(h.views[0].resident).toBeLessThanOrEqual(held);
    const hf = policy.hostFields(h.ctx);
    expect(hf.state).toBe('low');
    const st = h.host.stats();
    expect(hf.reclaimedSwappedMiB).toBe(st.vms.reduce((a, v) => a + v.SWCUR, 0) / 256);
    expect(hf.reclaimedCompressedMiB).toBe((st.vms.reduce((a, v) => a + v.compressed, 0) - st.host.zpoolFrames) / 256);
    expect(hf.reclaimedSharingMiB).toBe(st.host.pages_sharing / 256);

    // memory comes back: the state climbs through its exits, the block is lifted, balloons give back
    h.freeTo(40);
    h.advance(1);
    expect(policy.state).toBe<MemState>('high');
    expect(policy.vmFields(h.ctx, h.views[0]).blockMiB).toBe(0);
    h.host.audit();
    h.host.close();
  });

  it('host fields name the state, minFree and every threshold', async () => {
    const h = await harness([8]);
    const p = new EsxPolicy({ minFreeMiB: 10 });
    p.start(h.ctx);
    expect(p.hostFields(h.ctx)).toMatchObject({ state: 'high', minFreeMiB: 10, highMiB: 40, clearMiB: 10, softMiB: 1638 / 256, hardMiB: 819 / 256 });
    // the sliding scale when minFreeMiB is absent: 6% of 64 MiB, rounded down
    const q = new EsxPolicy();
    q.start((await harness([8])).ctx);
    expect(q.minFree).toBe(3 * 256);
  });
});

describe('kvm policy', () => {
  it('kswapd wakes below low and reclaims to high from every VM by what it holds; balloon targets stay 0', async () => {
    const h = await harness([16, 8]);
    const p = new KvmPolicy();
    for (const v of h.views) v.vm.writePhys(0, new Uint8Array(v.memoryPages * PAGE).fill(2));
    p.start(h.ctx);
    // 64 MiB: min_free_kbytes = int_sqrt(65536 * 16) = 1024 -> min 256 pages; step max(64, 16) = 64
    expect(p.wm).toEqual({ min: 256, low: 320, high: 384, minFreeKbytes: 1024 });
    expect(engineOf(h.host).reclaim.sharingMaxSharing()).toBe(256);
    expect(engineOf(h.host).reclaim.zipPoolCap()).toBe(Math.floor((64 * 256 * 20) / 100));
    h.freeTo(2); // 512 pages free: above low
    h.advance(1);
    expect(p.awake).toBe(false);
    expect(h.pageOuts).toEqual([]);
    h.freeTo(1); // 256 pages: below low
    h.advance(1);
    expect(p.awake).toBe(true); // it woke and reclaimed up to high in that tick
    expect(h.host.frameCounts().free).toBeGreaterThanOrEqual(384);
    // what it took came from both VMs, about 2:1 (more than the 128 pages to high: zswap's pool took frames too)
    const byVm = (n: string) => h.pageOuts.filter((x) => x.vm === n).reduce((a, x) => a + x.pages, 0);
    expect(byVm('vm0') + byVm('vm1')).toBeGreaterThan(384 - 256);
    expect(Math.abs(byVm('vm0') - 2 * byVm('vm1'))).toBeLessThanOrEqual(4);
    expect(h.host.stats().host.zpoolFrames).toBeGreaterThan(0);
    expect(h.views.every((v) => v.balloonTarget === 0)).toBe(true);
    h.advance(1);
    expect(p.awake).toBe(false); // at high: back to sleep
    expect(p.hostFields(h.ctx)).toMatchObject({ kswapd: 'asleep', minMiB: 1, lowMiB: 1.25, highMiB: 1.5 });
    expect(p.hostFields(h.ctx).reclaimedSwappedMiB).toBe(h.host.stats().vms.reduce((a, v) => a + v.SWCUR, 0) / 256);
    // direct reclaim: a fault with no frame takes SWAP_CLUSTER_MAX pages from the global LRU
    h.pageOuts.length = 0;
    expect(p.relieve(h.ctx, h.views[0], 'noFrame')).toBe(true);
    expect(h.pageOuts.reduce((a, x) => a + x.pages, 0)).toBe(32);
    expect(p.relieve(h.ctx, h.views[0], 'limit')).toBe(false);
    h.host.audit();
    h.host.close();
  });
});

describe('blocking a VM (the low state) through its MMU', () => {
  for (const mmu of ['ept', 'shadow'] as const) {
    it(`${mmu}: a VM capped at what it holds pages out its own pages to back new ones; translations stay right`, async () => {
      const host = await Host.create({ machineMemoryMiB: 64, compression: { cachePercent: 0 } });
      const vm = host.addVM({ name: 'v', memoryMiB: 16, mmu });
      const core = host.mmu();
      core.attach(vm);
      const va = (i: number) => 0x400000n + BigInt(i) * 4096n;
      for (let i = 0; i < 64; i++) expect(core.translate(va(i), 'write').fault).toBeNull();
      const held = vm.residentPages;
      host.blockAbove(vm, held);
      // 64 more pages: each needs a frame the cap refuses (FAULT_LIMIT), so the VM pages out one of its own
      for (let i = 64; i < 128; i++) expect(core.translate(va(i), 'write').fault).toBeNull();
      expect(vm.residentPages).toBeLessThanOrEqual(held);
      expect(vm.stats().SWCUR).toBeGreaterThan(0);
      // every page translates to the frame the pmap holds (swapped ones come back)
      for (let i = 0; i < 128; i++) expect(core.translate(va(i), 'read').fault).toBeNull();
      host.audit();
      host.blockAbove(vm, null);
      host.close();
    });
  }
});

describe('Host.setRelief: a policy relieves first, on every path', () => {
  it('a fault that finds no frame asks the installed relief before the host, for touches and swap-ins alike', async () => {
    const host = await Host.create({ machineMemoryMiB: 8, compression: { cachePercent: 0 } });
    const a = host.addVM({ name: 'a', memoryMiB: 8 });
    const b = host.addVM({ name: 'b', memoryMiB: 8 });
    a.writePhys(0, new Uint8Array(4 * 256 * PAGE).fill(1)); // 4 MiB
    b.writePhys(0, new Uint8Array(3 * 256 * PAGE).fill(2));
    b.pageOut(256); // 1 MiB of b in swap
    const calls: string[] = [];
    // the relief always takes from a (the host's own would take from the VM furthest above its reservation per share)
    host.setRelief((vm, need) => {
      calls.push(`${vm.name}:${need}`);
      return a.pageOut(32).swapped > 0;
    });
    const before = a.stats().SWCUR;
    b.writePhys(3 * 256 * PAGE, new Uint8Array(2 * 256 * PAGE).fill(3)); // first touches beyond free memory
    b.readPhys(0, 256 * PAGE); // swap-ins beyond free memory
    expect(calls.length).toBeGreaterThan(0);
    expect(calls.every((c) => c === 'b:noFrame')).toBe(true);
    expect(a.stats().SWCUR - before).toBe(calls.length * 32);
    expect(b.readPhys(0, PAGE)[0]).toBe(2);
    host.setRelief(null);
    host.audit();
    host.close();
  });
});

describe('the policy switches refuse bad input with a typed error naming the field', () => {
  it('Host config, run-time switches and the sampler', async () => {
    await expect(Host.create({ machineMemoryMiB: 8, sharing: { maxPageSharing: 1 } })).rejects.toThrow(/sharing.maxPageSharing: got 1, expected 0 \(no cap\) or at least 2/);
    await expect(Host.create({ machineMemoryMiB: 8, sharing: { beforeSwap: 'yes' as never } })).rejects.toThrow(/sharing.beforeSwap: got "yes", expected true or false/);
    await expect(Host.create({ machineMemoryMiB: 8, compression: { poolPercent: 101 } })).rejects.toThrow(/compression.poolPercent: got 101/);
    await expect(Host.create({ machineMemoryMiB: 8, largePages: 1 as never })).rejects.toThrow(/largePages: got 1, expected true or false/);
    const host = await Host.create({ machineMemoryMiB: 8 });
    const vm = host.addVM({ name: 'v', memoryMiB: 2 });
    expect(() => host.addVM({ name: 'w', memoryMiB: 2, largePages: 'on' as never })).toThrow(/vm.largePages: got "on", expected true or false/);
    expect(() => host.blockAbove(vm, -1)).toThrow(/pages: got -1/);
    expect(() => host.blockAbove({} as never, 5)).toThrow(/vm: .*expected a live VM of this host/);
    expect(() => host.setPoolPercent(-3)).toThrow(/poolPercent: got -3/);
    expect(() => host.setCachePercent(vm, 200)).toThrow(/cachePercent: got 200/);
    expect(() => host.breakLargePages({ maxGroups: -1 })).toThrow(/maxGroups: got -1/);
    expect(() => host.allowLargePages(undefined as never)).toThrow(/on: got undefined, expected true or false/);
    expect(() => host.setShareBeforeSwap(1 as never)).toThrow(/on: got 1, expected true or false/);
    expect(() => vm.sampleWorkingSet([1, 2] as never, 10, 1)).toThrow(/armed: .*expected null or the Uint32Array the last sample returned/);
    expect(() => vm.sampleWorkingSet(null, 2 ** 21, 1)).toThrow(/n: got 2097152/);
    expect(() => vm.sampleWorkingSet(null, 10, -1)).toThrow(/seed: got -1/);
    host.close();
  });
});
