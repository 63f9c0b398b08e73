/**
 * Simulation benchmarks on the release build; every page lives in engine memory (machine RAM
 * and the simulation's tables), nothing crosses from JavaScript per touch.
 *
 *   simulated time   simulated seconds per wall second of a whole run: a 4-VM scenario on a
 *                    2 GiB host (1.5x overcommitted: ballooning, sharing, zip, swap), without
 *                    translation and through EPT cores
 *   touches          guest page touches per wall second through the workload path (sampler,
 *                    guest mapping, pmap, writes), in steady state (active set touched,
 *                    uncontended: no fault stalls the VM, which setup checks; the touches a
 *                    task counts are those the VM completes, measured on a probe run first)
 *   scaling          simulated seconds per wall second as VM count and host size grow
 *
 * Each task advances its simulation by a fixed simulated time per operation, from where the
 * last one left it (the runs' durations are long enough never to end). A task's simulation is
 * built in tinybench's setup (outside the timing) and closed in its teardown, so one lives at a
 * time: a dozen hosts of up to 3 GiB at once would exhaust the worker.
 */
import { bench, describe } from 'vitest';
import { Simulation, type ScenarioInput, type VmScenario } from '../src/index.js';
import { recordUnits, task } from './lib.js';

recordUnits(import.meta.url);

const flavor = 'release' as const;
type VmIn = ScenarioInput['vms'][number];

async function sim(host: ScenarioInput['host'], vms: VmIn[], warm: number): Promise<Simulation> {
  const s = await Simulation.create({ duration: 1e6, seed: 1, content: { source: 'generated' }, host, vms }, { flavor });
  s.advance(warm);
  return s;
}

/**
 * Registers a task that advances a simulation by `slice` simulated seconds per operation; the
 * simulation is made (and warmed) in setup before the warm-up runs, kept for the timed runs,
 * closed in teardown after them. `check` may refuse a simulation not in the state measured.
 */
function simTask(name: string, slice: number, make: () => Promise<Simulation>, check?: (s: Simulation) => void): void {
  let s: Simulation | null = null;
  bench(name, () => {
    s!.advance(slice);
  }, {
    setup: async () => {
      if (s) return;
      s = await make();
      check?.(s);
    },
    teardown: (_t, mode) => {
      if (mode === 'run' && s) {
        s.close();
        s = null;
      }
    },
  });
}

// ---- simulated seconds per wall second: 4 VMs on a 2 GiB host -------------------------------------
const mixed = (mmu: VmScenario['mmu']): VmIn[] => [
  { name: 'web', count: 2, memoryMiB: 768, mmu, workload: { phases: [{ at: 0, activeMiB: 256, touchesPerSecond: 2_000_000, writeFraction: 0.1, skew: { zipf: 1.0 } }] } },
  { name: 'db', memoryMiB: 768, mmu, reservationMiB: 256, workload: { phases: [{ at: 0, activeMiB: 400, touchesPerSecond: 1_000_000, writeFraction: 0.3 }] } },
  { name: 'batch', memoryMiB: 768, mmu, workload: { phases: [{ at: 0, activeMiB: 300, touchesPerSecond: 1_000_000, writeFraction: 0.5 }, { at: 20, activeMiB: 0, touchesPerSecond: 0 }, { at: 40, activeMiB: 300, touchesPerSecond: 1_000_000, writeFraction: 0.5 }] } },
];
const host2g = { machineMemoryMiB: 2048, sharing: { shareScanTime: 5 } };
describe('simulated time', () => {
  for (const mmu of ['none', 'ept'] as const) {
    simTask(task('simulated time', `4 VMs (3 GiB) on a 2 GiB host, mmu ${mmu}: simulated s`, 1, 'item', 'engine'), 1, () => sim(host2g, mixed(mmu), 5));
  }
});

// ---- touches per wall second through the workload path ------------------------------------------------
const RATE = 40_000_000;
const SLICE = 0.25;
const touchCases: [string, VmIn][] = [
  ['64 MiB uniform, reads', { name: 'v', memoryMiB: 1024, workload: { phases: [{ at: 0, activeMiB: 64, touchesPerSecond: RATE, writeFraction: 0 }] } }],
  ['64 MiB uniform, 20% writes', { name: 'v', memoryMiB: 1024, workload: { phases: [{ at: 0, activeMiB: 64, touchesPerSecond: RATE, writeFraction: 0.2 }] } }],
  ['256 MiB Zipf(1.0), 20% writes', { name: 'v', memoryMiB: 1024, workload: { phases: [{ at: 0, activeMiB: 256, touchesPerSecond: RATE, writeFraction: 0.2, skew: { zipf: 1 } }] } }],
  ['768 MiB uniform, 20% writes', { name: 'v', memoryMiB: 1024, workload: { phases: [{ at: 0, activeMiB: 768, touchesPerSecond: RATE, writeFraction: 0.2 }] } }],
  // through a core a touch also costs its translation's cycles: ask for what the VM can do
  ['64 MiB Zipf(1.0) through EPT, 20% writes', { name: 'v', memoryMiB: 1024, mmu: 'ept', workload: { phases: [{ at: 0, activeMiB: 64, touchesPerSecond: RATE / 8, writeFraction: 0.2, skew: { zipf: 1 } }] } }],
];
describe('touches', async () => {
  for (const [name, vm] of touchCases) {
    // touches per operation: what the VM completes per simulated second in steady state (all it
    // asks for; through a core a little less, as translation takes time), measured on a probe
    const make = () => sim({ machineMemoryMiB: 1280, sharing: { enabled: false } }, [vm], 1);
    const steady = (s: Simulation) => {
      const v = s.advance(1).at(-1)!.vms.v;
      if (v.stall !== 0) throw new Error(`bench ${name}: not in steady state (stall ${v.stall})`);
      return v.touchesCompleted;
    };
    const probe = await make();
    const perSecond = steady(probe);
    probe.close();
    simTask(task('touches (workload path)', name, perSecond * SLICE, 'item', 'engine'), SLICE, make, (s) => {
      const got = steady(s);
      if (Math.abs(got - perSecond) > perSecond * 0.001) throw new Error(`bench ${name}: ${got} touches per second, not the ${perSecond} counted`);
    });
  }
});

// ---- scaling: VM count and host size ----------------------------------------------------------------
const vmOf = (n: number): VmIn => ({ name: 'vm', count: n, memoryMiB: 256, workload: { phases: [{ at: 0, activeMiB: 96, touchesPerSecond: 500_000, writeFraction: 0.2, skew: { zipf: 0.9 } }] } });
describe('scaling', () => {
  for (const n of [2, 4, 8, 16]) {
    simTask(task('scaling: VMs (256 MiB each, 2x overcommitted)', `${n} VMs: simulated s`, 1, 'item', 'engine'), 1, () => sim({ machineMemoryMiB: 128 * n, sharing: { shareScanTime: 5 } }, [vmOf(n)], 3));
  }
  for (const gib of [1, 2, 3]) {
    const n = gib * 8;
    simTask(task('scaling: host size (8 VMs per GiB, 2x overcommitted)', `${gib} GiB, ${n} VMs: simulated s`, 1, 'item', 'engine'), 1, () => sim({ machineMemoryMiB: 1024 * gib, sharing: { shareScanTime: 5 } }, [vmOf(n)], 3));
  }
});
