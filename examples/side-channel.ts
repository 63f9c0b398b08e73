/**
 * The page-sharing side channel: an attacker VM learns whether a victim VM holds a given page.
 *
 *   victim VM:    ... [ P or Q ] ...        the secret: does the victim hold page P?
 *   attacker VM:  ... [ P ] [ R ][ R ] [ U ] ...
 *                       │     └──┴─ two copies of its own random page: always merged (calibration: slow)
 *                       │              U: a page of its own no one else holds (calibration: fast)
 *                       └─ after a sharing pass, the attacker writes to its copy of P and times it:
 *                          slow (a copy-on-write break) if P was merged with the victim's copy,
 *                          fast (a plain write) if not.
 *
 * With one sharing domain for all VMs (one salt, inter-VM sharing on, the default before 2015)
 * the attacker guesses right far more often than chance; with per-VM salts (the ESXi default
 * since 6.0, VMware KB 2080735) no page crosses VMs and its guesses are at chance, 50%.
 *
 * Each trial is a real run of the mechanisms: the pages hold real bytes in the engine, the host's
 * sharing scanner hashes and merges them, and the attacker's write takes the copy-on-write fault
 * path when its page is shared. The time the attacker reads is simulated time: the cost model's
 * price of what that write did (a plain write: `hit`; a copy-on-write break: a VM exit plus the
 * copy) plus measurement noise (gaussian, and now and then an interrupt), as a real attacker's
 * timer sees it. The attacker sets its threshold from its own calibration pages only.
 *
 *   npx tsx examples/side-channel.ts [trials]
 */
import { Host, type VM } from '../src/index.js'; // in your project: from 'memvisor'

const PAGE = 4096;

export interface SideChannelCosts {
  /** a write that hits, ns */
  hitNs: number;
  /** a copy-on-write break: the exit to the host and the 4 KiB copy into a new frame, ns */
  cowBreakNs: number;
  /** standard deviation of the timer's noise, ns */
  jitterNs: number;
  /** chance that a measurement catches an interrupt, and its mean length, ns */
  interruptChance: number;
  interruptNs: number;
}

/** The simulation's default costs (issue "Simulated time": hit 0, vmExit 1 us, cowBreak 2 us) and a noisy timer. */
export const DEFAULT_SIDE_CHANNEL_COSTS: SideChannelCosts = { hitNs: 0, cowBreakNs: 3000, jitterNs: 600, interruptChance: 0.02, interruptNs: 20_000 };

export interface SideChannelOptions {
  trials: number;
  /** 'host': every VM in one sharing domain; 'per-vm': each VM its own salt */
  salting: 'host' | 'per-vm';
  seed?: number;
  costs?: SideChannelCosts;
}

export interface SideChannelResult {
  salting: 'host' | 'per-vm';
  trials: number;
  /** trials the attacker guessed right */
  correct: number;
  successRate: number;
  /** what guessing at random gets */
  chance: number;
  /** 95% interval of the success rate (normal approximation) */
  interval: [number, number];
  /** mean measured time of the probe write when the victim held P and when it did not, ns */
  meanWhenHeldNs: number;
  meanWhenNotNs: number;
  /** the attacker's threshold at the end, ns */
  thresholdNs: number;
}

/** mulberry32: the example's own seeded randomness. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A page of random bytes. */
function randomPage(r: () => number): Uint8Array {
  const p = new Uint8Array(PAGE);
  for (let i = 0; i < PAGE; i += 4) {
    const x = (r() * 2 ** 32) >>> 0;
    p[i] = x;
    p[i + 1] = x >>> 8;
    p[i + 2] = x >>> 16;
    p[i + 3] = x >>> 24;
  }
  return p;
}

/** The attacker's slots (page numbers in its memory). */
const PROBE = 0, CAL_A = 1, CAL_B = 2, CAL_U = 3;

export async function sideChannel(o: SideChannelOptions): Promise<SideChannelResult> {
  const costs = o.costs ?? DEFAULT_SIDE_CHANNEL_COSTS;
  const r = rng(o.seed ?? 1);
  const host = await Host.create({ machineMemoryMiB: 16, seed: o.seed ?? 1, sharing: { salting: o.salting } });
  try {
    const victim = host.addVM({ name: 'victim', memoryMiB: 4 });
    const attacker = host.addVM({ name: 'attacker', memoryMiB: 4 });
    /** Simulated time of one one-byte write by `vm` at page `slot`, as the attacker's timer reads it. */
    const timedWrite = (vm: VM, slot: number): number => {
      const before = vm.stats().cowBreaks;
      vm.writePhys(slot * PAGE + 64, Uint8Array.of(r() * 256));
      const breaks = vm.stats().cowBreaks - before;
      const gauss = Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
      const interrupt = r() < costs.interruptChance ? -Math.log(1 - r()) * costs.interruptNs : 0;
      // a timer never reads below zero
      return Math.max(0, costs.hitNs + breaks * costs.cowBreakNs + gauss * costs.jitterNs + interrupt);
    };
    // the attacker's calibration: medians of writes it knows to be slow and fast
    const slow: number[] = [], fast: number[] = [];
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
    let correct = 0;
    const held: number[] = [], notHeld: number[] = [];
    let threshold = 0;
    for (let k = 0; k < o.trials; k++) {
      const p = randomPage(r), q = randomPage(r), cal = randomPage(r);
      const holds = r() < 0.5;
      victim.writePhys(PROBE * PAGE, holds ? p : q);
      attacker.writePhys(PROBE * PAGE, p);
      attacker.writePhys(CAL_A * PAGE, cal);
      attacker.writePhys(CAL_B * PAGE, cal);
      attacker.writePhys(CAL_U * PAGE, randomPage(r));
      // a page must keep its content over one pass before the scanner merges it (KSM's unstable
      // tree, ESX's hint): two full passes
      host.shareScan();
      host.shareScan();
      slow.push(timedWrite(attacker, CAL_A));
      fast.push(timedWrite(attacker, CAL_U));
      threshold = (median(slow) + median(fast)) / 2;
      const t = timedWrite(attacker, PROBE);
      (holds ? held : notHeld).push(t);
      if (t > threshold === holds) correct++;
    }
    const rate = correct / o.trials;
    const half = 1.96 * Math.sqrt((rate * (1 - rate)) / o.trials);
    const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
    return {
      salting: o.salting,
      trials: o.trials,
      correct,
      successRate: rate,
      chance: 0.5,
      interval: [Math.max(0, rate - half), Math.min(1, rate + half)],
      meanWhenHeldNs: mean(held),
      meanWhenNotNs: mean(notHeld),
      thresholdNs: threshold,
    };
  } finally {
    host.close();
  }
}

/** The example's text: both saltings side by side. */
export function sideChannelText(rs: SideChannelResult[]): string {
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const lines = ['salting   trials  right   success  95% interval      probe write: held / not held   chance'];
  for (const x of rs) {
    lines.push(
      `${x.salting.padEnd(8)} ${String(x.trials).padStart(7)} ${String(x.correct).padStart(6)}   ${pct(x.successRate).padStart(6)}  ${`${pct(x.interval[0])}..${pct(x.interval[1])}`.padEnd(16)}  ${(x.meanWhenHeldNs / 1000).toFixed(2).padStart(6)} us / ${(x.meanWhenNotNs / 1000).toFixed(2)} us       ${pct(x.chance)}`,
    );
  }
  return lines.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const trials = Number(process.argv[2] ?? 400);
  const rs = [await sideChannel({ trials, salting: 'host', seed: 1 }), await sideChannel({ trials, salting: 'per-vm', seed: 1 })];
  process.stdout.write(sideChannelText(rs) + '\n');
}
