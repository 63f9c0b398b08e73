/**
 * What salting costs: identical web servers on one host, once with one salt for all (they share
 * the pages they hold in common: their OS image, the site they serve) and once with a salt per
 * VM (the ESXi default since 6.0, VMware KB 2097593: pages are shared only inside a VM).
 *
 *   one salt      web-1 ┐                        per-VM salts   web-1 ─ its own copies
 *                 web-2 ├─ one frame per page                   web-2 ─ its own copies
 *                 web-3 ┘  they hold in common                  web-3 ─ its own copies
 *
 * The same scenario runs twice under the esx policy; only `host.sharing.salting` differs. The
 * web servers hold the same OS image and the same site (dataset) and some pages of their own.
 * With one salt the sharing scanner merges the common pages once the host breaks its large pages
 * (the clear state); with per-VM salts only zero pages merge, so the host must balloon,
 * compress and swap to fit the same VMs, and the VMs pay for it in stall.
 *
 *   npx tsx examples/salting.ts [vms] [seconds]
 */
import { Simulation, type ScenarioInput, type Sample } from '../src/index.js'; // in your project: from 'memvisor'

export type Salting = 'host' | 'per-vm';

export interface SaltingOptions {
  /** identical web servers (default 4) */
  vms?: number;
  /** simulated seconds (default 60) */
  duration?: number;
  seed?: number;
  /** module flavour (default: the engine's) */
  flavor?: 'release' | 'debug';
}

export interface SaltingResult {
  salting: Salting;
  /** machine memory saved by sharing at the end, MiB (esxtop PSHARE saving) */
  sharedSavedMiB: number;
  /** machine memory granted to the VMs at the end, all VMs, MiB (sum of GRANT: private and shared pages) */
  grantedMiB: number;
  /** machine memory the VMs take at the end: granted less what sharing saves, plus the zip caches, MiB */
  usedMiB: number;
  /** free machine memory at the end, MiB */
  freeMiB: number;
  /** most memory held by balloons, compressed (uncompressed size) and swapped at once, all VMs, MiB */
  peakBalloonMiB: number;
  peakCompressedMiB: number;
  peakSwapMiB: number;
  /** time-weighted mean stall over all VMs, simulated s lost per s */
  meanStall: number;
  /** touches completed over touches asked, all VMs, whole run */
  workDone: number;
  /** the host's memory states, repeats collapsed */
  walk: string[];
  verified: boolean;
}

/** The web servers' scenario with salting `salting`. */
export function saltingScenario(salting: Salting, o: SaltingOptions = {}): ScenarioInput {
  const n = o.vms ?? 4;
  return {
    description: `examples/salting.ts: ${n} identical web servers, salting ${salting}`,
    seed: o.seed ?? 1,
    duration: o.duration ?? 60,
    content: { source: 'generated' },
    // 176 MiB touched per VM (80 of OS, 96 of workload), about 120 of it common to all: the host
    // holds them all only if they share
    host: { machineMemoryMiB: 144 * n, sharing: { salting, shareScanTime: 1 } },
    policy: { kind: 'esx' },
    vms: [{
      name: 'web', count: n, memoryMiB: 256,
      os: { image: 'linux', kernelMiB: 16, cacheMiB: 48, anonMiB: 16 },
      workload: {
        dataset: 'site',
        content: [{ kind: 'os-image', weight: 3 }, { kind: 'text', weight: 2 }, { kind: 'binary', weight: 1 }, { kind: 'unique', weight: 2 }],
        phases: [{ at: 0, activeMiB: 96, touchesPerSecond: 20_000, writeFraction: 0.01, skew: { zipf: 0.7 } }],
      },
    }],
  };
}

/** Runs the web servers with `salting`; returns what it came to. */
export async function runSalting(salting: Salting, o: SaltingOptions = {}): Promise<SaltingResult> {
  const sim = await Simulation.create(saltingScenario(salting, o), { flavor: o.flavor });
  try {
    const r = sim.run();
    const sum = (s: Sample, f: (v: Sample['vms'][string]) => number) => Object.values(s.vms).reduce((a, v) => a + f(v), 0);
    const peak = (f: (s: Sample) => number) => Math.max(0, ...r.samples.map(f));
    const last = r.samples[r.samples.length - 1];
    const asked = r.samples.reduce((a, s) => a + sum(s, (v) => v.touchesAsked), 0);
    const done = r.samples.reduce((a, s) => a + sum(s, (v) => v.touchesCompleted), 0);
    const walk: string[] = [];
    for (const s of r.samples) if (walk[walk.length - 1] !== s.host.state) walk.push(String(s.host.state));
    return {
      salting,
      sharedSavedMiB: last.host.sharedSavedMiB,
      grantedMiB: sum(last, (v) => v.GRANT),
      usedMiB: last.host.guestMiB + last.host.zipMiB,
      freeMiB: last.host.freeMiB,
      peakBalloonMiB: peak((s) => s.host.balloonMiB),
      peakCompressedMiB: peak((s) => sum(s, (v) => v['ZIP/MB'])),
      peakSwapMiB: peak((s) => s.host.swapMiB),
      meanStall: r.samples.reduce((a, s) => a + sum(s, (v) => v.stall), 0) / (r.samples.length * Object.keys(last.vms).length),
      workDone: asked > 0 ? done / asked : 1,
      walk,
      verified: r.verified.ok,
    };
  } finally {
    sim.close();
  }
}

/** Both saltings, and what per-VM salts cost: sharing lost, MiB. */
export async function salting(o: SaltingOptions = {}): Promise<{ host: SaltingResult; perVm: SaltingResult; sharingLostMiB: number }> {
  const host = await runSalting('host', o);
  const perVm = await runSalting('per-vm', o);
  return { host, perVm, sharingLostMiB: host.sharedSavedMiB - perVm.sharedSavedMiB };
}

/** The example's text: both runs side by side. */
export function saltingText(x: { host: SaltingResult; perVm: SaltingResult; sharingLostMiB: number }): string {
  const rows: [string, (r: SaltingResult) => string][] = [
    ['PSHARE saving at the end (MiB)', (r) => r.sharedSavedMiB.toFixed(1)],
    ['granted, all VMs (MiB)', (r) => r.grantedMiB.toFixed(1)],
    ['machine memory used by the VMs (MiB)', (r) => r.usedMiB.toFixed(1)],
    ['free at the end (MiB)', (r) => r.freeMiB.toFixed(1)],
    ['ballooned, peak (MiB)', (r) => r.peakBalloonMiB.toFixed(1)],
    ['compressed, peak (MiB)', (r) => r.peakCompressedMiB.toFixed(1)],
    ['swapped, peak (MiB)', (r) => r.peakSwapMiB.toFixed(1)],
    ['mean stall (s/s)', (r) => r.meanStall.toFixed(4)],
    ['work done (%)', (r) => (100 * r.workDone).toFixed(1)],
    ['memory states', (r) => r.walk.join(' > ')],
    ['verified', (r) => (r.verified ? 'ok' : 'FAILED')],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  return [
    `${''.padEnd(w)}  ${'one salt'.padStart(12)}  ${'per-VM salts'.padStart(12)}`,
    ...rows.map(([k, f]) => `${k.padEnd(w)}  ${f(x.host).padStart(12)}  ${f(x.perVm).padStart(12)}`),
    `per-VM salts give up ${x.sharingLostMiB.toFixed(1)} MiB of sharing`,
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const vms = Number(process.argv[2] ?? 4), duration = Number(process.argv[3] ?? 60);
  process.stdout.write(saltingText(await salting({ vms, duration, flavor: 'release' })) + '\n');
}
