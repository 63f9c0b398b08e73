/**
 * What the host policies cost, on the release build: one simulated minute of the esx and kvm
 * policies' own work (60 periods of the state, targets and plan, and one working-set sample of
 * 100 pages per VM) on hosts of 8 and 32 VMs of 64 MiB, each VM's memory backed; and the
 * mechanisms the policies call, one by one (sampling, breaking large pages, a large first touch
 * against 512 small ones).
 *
 * The policies run over a constructed context (the simulation's policy interface, driven here
 * without guests or workloads), so a row is the policy alone: the rate is simulated seconds of
 * policy per wall second. The host is held in one state for the run: 'high' (nothing to reclaim:
 * the state, the large-page switch, the scan rate, a balance every 15 s) and 'soft' (free memory
 * below minFree: targets recomputed and a balloon target per VM every period; no guest inflates,
 * so the state stays). Data starts in engine memory.
 */
import { bench, describe } from 'vitest';
import { Host, PState, type VM } from '../src/index.js';
import { engineOf } from '../src/engine/engine.js';
import type { PolicyContext, PolicyVm } from '../src/policy/policy.js';
import { resolvePolicyConfig } from '../src/policy/config.js';
import { EsxPolicy } from '../src/policy/esx/policy.js';
import { KvmPolicy } from '../src/policy/kvm/policy.js';
import { mulberry32 } from '../test/prng.js';
import { recordUnits, task } from './lib.js';

recordUnits(import.meta.url);

const PAGE = 4096;
const VM_MIB = 64;
const flavor = 'release' as const;

interface Setup {
  ctx: PolicyContext;
  /** runs the hooks due in the next `s` simulated seconds */
  advance(s: number): void;
}

/** `n` VMs of VM_MIB, all written, on a host with `freeMiB` MiB left free (policy minFree 64 MiB). */
async function setup(n: number, freeMiB: number): Promise<Setup> {
  const machine = n * VM_MIB + freeMiB;
  const host = await Host.create({ machineMemoryMiB: machine, flavor, maxVMs: n + 1, largePages: true });
  const vms: VM[] = [];
  const data = new Uint8Array(VM_MIB * 256 * PAGE);
  for (let i = 0; i < n; i++) {
    const vm = host.addVM({ name: `vm${i}`, memoryMiB: VM_MIB });
    for (let p = 0; p < VM_MIB * 256; p++) data[p * PAGE] = (p * 31 + i) & 0xff;
    vm.writePhys(0, data);
    vms.push(vm);
  }
  const views: PolicyVm[] = vms.map((vm) => ({
    name: vm.name, vm, memoryPages: vm.pages, reservationPages: 0, limitPages: vm.pages, shares: vm.shares,
    balloonTarget: 0, sizeTarget: 0, activeEstimate: 0, trueActive: 0,
    get resident() { return vm.residentPages; },
    get ballooned() { return engineOf(host).reclaim.vmStateCount(vm.id, PState.Ballooned); },
    guest: () => ({ free: 0, kernel: 0, cache: 0, anon: 0, balloon: 0, swap: 0, reserved: 0 }),
  }));
  const hooks: { period: number; next: number; run: () => void }[] = [];
  let now = 0;
  const rnd = mulberry32(3);
  const ctx: PolicyContext = {
    get now() { return now; },
    host, vms: views, machinePages: engineOf(host).machineFrames,
    freePages: () => host.frameCounts().free,
    every: (period, run) => void hooks.push({ period, next: period, run }),
    pageOut: (v, pages) => v.vm.pageOut(Math.min(pages, v.memoryPages)),
    setScanRate: () => {},
    random: rnd,
    scanRuleRate: () => 1000,
    config: resolvePolicyConfig() as unknown as PolicyContext['config'],
    hostStats: () => host.stats().host,
  };
  return {
    ctx,
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
  };
}

const rows: { n: number; state: 'high' | 'soft'; esx: Setup; kvm: Setup }[] = [];
for (const n of [8, 32]) {
  for (const state of ['high', 'soft'] as const) {
    // minFree 64 MiB: high needs 256 MiB free, soft is 41..64 MiB
    const free = state === 'high' ? 320 : 50;
    const esx = await setup(n, free);
    new EsxPolicy({ minFreeMiB: 64 }).start(esx.ctx);
    const kvm = await setup(n, free);
    new KvmPolicy().start(kvm.ctx);
    rows.push({ n, state, esx, kvm });
  }
}

describe('policy: one simulated minute of the policy alone', () => {
  for (const r of rows) {
    bench(task(`policy, ${r.n} VMs, ${r.state}`, `esx: ${r.n} VMs x ${VM_MIB} MiB, state ${r.state}, 60 s (60 periods, 1 sample)`, 60, 'item', 'engine'), () => r.esx.advance(60));
    bench(task(`policy, ${r.n} VMs, ${r.state}`, `kvm: ${r.n} VMs x ${VM_MIB} MiB, ${r.state === 'high' ? 'kswapd asleep' : 'same free memory (kswapd asleep above low)'}, 60 s`, 60, 'item', 'engine'), () => r.kvm.advance(60));
  }
});

// ---- mechanisms ---------------------------------------------------------------------------------
const mech = await Host.create({ machineMemoryMiB: 1024, flavor, largePages: true, balloonMaxPercent: 100 });
const sVm = mech.addVM({ name: 's', memoryMiB: 256 });
sVm.writePhys(0, new Uint8Array(256 * 256 * PAGE).fill(1));
let armed: Uint32Array | null = null;
let seed = 1;
const lVm = mech.addVM({ name: 'l', memoryMiB: 128 });
const small = mech.addVM({ name: 'small', memoryMiB: 128, largePages: false });
const all = Array.from({ length: 128 * 256 }, (_, i) => i);
const buf = new Uint8Array(128 * 256 * PAGE);

describe('policy mechanisms', () => {
  bench(task('sampling', 'working-set sample of a 256 MiB VM: count 100 armed pages, arm 100 (one call)', 100, 'item', 'engine'), () => {
    armed = sVm.sampleWorkingSet(armed, 100, seed++).armed;
  });
  bench(task('first touch, 128 MiB', 'large pages: 64 first touches back 64 x 2 MiB (balloon reset)', 128 * 256, 'item', 'engine'), () => {
    lVm.readPhys(0, buf.length, buf);
    lVm.balloonInflate(all);
    lVm.balloonDeflate(all);
  });
  bench(task('first touch, 128 MiB', 'small pages: 32768 first touches (balloon reset)', 128 * 256, 'item', 'engine'), () => {
    small.readPhys(0, buf.length, buf);
    small.balloonInflate(all);
    small.balloonDeflate(all);
  });
});
