/**
 * Run files for the report tests, generated in the format of `memvisor run --json` (issue
 * "Simulated time", Output) from a seed: a host about 2x overcommitted, VMs of four roles (web
 * servers booting one image, a database with a large hot set, a batch VM that goes idle and
 * wakes, a VM with a reservation), and a small model of reclamation that lags behind demand, so
 * free memory walks down through the states and back up and every technique shows up. Not a
 * simulation: its numbers are only self-consistent (GRANT <= MEMSZ, SHRD <= GRANT, the host's
 * sums equal the VMs' sums), which is what the reports need to be checked against.
 */
import { mulberry32 } from '../prng.js';

export type FixturePolicy = 'esx' | 'kvm' | 'none';

export interface FixtureOptions {
  seed?: number;
  /** VMs (default 4) */
  vms?: number;
  /** simulated seconds (default 120) */
  duration?: number;
  /** seconds between samples (default 1) */
  interval?: number;
  /** which policy fields the host reports, named as src/policy's esx and kvm modules name them (default esx) */
  policy?: FixturePolicy;
  /** machine memory, MiB (default: half of the VMs' memory) */
  machineMiB?: number;
  /** VM fields left out of every sample */
  omitVm?: string[];
  /** host fields left out of every sample */
  omitHost?: string[];
  /** VM names (default by role: web-1, db, batch, resv, web-2, ...) */
  names?: string[];
}

type Role = 'web' | 'db' | 'batch' | 'resv';
const ROLES: Role[] = ['web', 'db', 'batch', 'resv'];

/** Six decimals, as a JSON writer that rounds binary noise would leave them. */
const r6 = (x: number) => Math.round(x * 1e6) / 1e6;

/** ESXi minFree for a host of `mib` MiB: 6% of the first 4 GiB, 4% of the next 8, 2% of the next 16, 1% of the rest. */
export function slidingMinFree(mib: number): number {
  const bands: [number, number][] = [[4096, 0.06], [8192, 0.04], [16384, 0.02], [Infinity, 0.01]];
  let left = mib, out = 0;
  for (const [size, pct] of bands) {
    const part = Math.min(left, size);
    out += part * pct;
    left -= part;
  }
  return out;
}

/** The ESXi state of `free` against `minFree` (no hysteresis). */
export function stateOf(free: number, minFree: number): string {
  const p = (free / minFree) * 100;
  return p >= 400 ? 'high' : p >= 100 ? 'clear' : p >= 64 ? 'soft' : p >= 32 ? 'hard' : 'low';
}

interface VmModel {
  name: string;
  role: Role;
  mem: number;
  resv: number;
  shares: number;
  balloon: number;
  zip: number;
  swap: number;
  estimate: number;
  oom: number;
}

/** The VM's wanted memory (MiB) and its true working set at `f` (fraction of the run). */
function demand(v: VmModel, f: number, rnd: () => number): { want: number; active: number } {
  const boot = Math.min(1, f / 0.15);
  const os = 0.2 * v.mem * boot;
  let active: number;
  switch (v.role) {
    case 'db':
      active = 0.7 * v.mem * Math.min(1, f / 0.25);
      break;
    case 'batch':
      active = f < 0.4 || f > 0.75 ? 0.6 * v.mem * boot : 0.02 * v.mem;
      break;
    case 'resv':
      active = 0.4 * v.mem * boot;
      break;
    default:
      active = (0.3 + 0.05 * rnd()) * v.mem * boot;
  }
  return { want: Math.min(v.mem, os + active), active };
}

/** A run object as `memvisor run --json` writes it. */
export function makeRunJson(o: FixtureOptions = {}): Record<string, unknown> {
  const seed = o.seed ?? 1, n = o.vms ?? 4, duration = o.duration ?? 120, dt = o.interval ?? 1, policy = o.policy ?? 'esx';
  const rnd = mulberry32(seed);
  const counts: Record<string, number> = {};
  const vms: VmModel[] = [];
  for (let i = 0; i < n; i++) {
    const role = ROLES[i % ROLES.length];
    counts[role] = (counts[role] ?? 0) + 1;
    const name = o.names?.[i] ?? (role === 'web' ? `web-${counts[role]}` : counts[role] > 1 ? `${role}-${counts[role]}` : role);
    const mem = 256 * (2 + Math.floor(rnd() * 3));
    vms.push({ name, role, mem, resv: role === 'resv' ? mem / 2 : 0, shares: mem, balloon: 0, zip: 0, swap: 0, estimate: 0, oom: 0 });
  }
  const machine = o.machineMiB ?? Math.round(vms.reduce((a, v) => a + v.mem, 0) / 2);
  const minFree = slidingMinFree(machine);
  const pt = 2 + n * 0.5;
  const samples: Record<string, unknown>[] = [];
  let reclaimGoal = 0;
  let lastState = 'high';
  for (let k = 1; k * dt <= duration + 1e-9; k++) {
    const t = r6(k * dt), f = t / duration;
    const wants = vms.map((v) => demand(v, f, rnd));
    const webs = vms.filter((v) => v.role === 'web').length;
    // sharing grows as the scanner covers the web servers' one image
    const shareFrac = (role: Role) => (role === 'web' && webs > 1 ? 0.15 : 0.03) * Math.min(1, f / 0.3);
    const wantTotal = wants.reduce((a, w, i) => a + w.want * (1 - shareFrac(vms[i].role) / 2), 0);
    const need = Math.max(0, wantTotal + pt + 1.2 * minFree - machine);
    // reclamation lags demand: free memory dips below minFree before the host catches up
    reclaimGoal += 0.25 * (need - reclaimGoal);
    // the host acts on the state of the last sample's free memory, as a policy period does
    const state = lastState;
    const hostVms: Record<string, unknown> = {};
    let guest = 0, zipFrames = 0, saved = 0, shared = 0, swapTotal = 0, balloonTotal = 0;
    const weight = vms.reduce((a, v, i) => a + Math.max(0, wants[i].want - v.resv) * (v.role === 'batch' && wants[i].active < 0.05 * v.mem ? 4 : 1), 0) || 1;
    for (let i = 0; i < n; i++) {
      const v = vms[i], w = wants[i];
      const idle = v.role === 'batch' && w.active < 0.05 * v.mem ? 4 : 1;
      const take = (reclaimGoal * Math.max(0, w.want - v.resv) * idle) / weight;
      const prev = { swap: v.swap, zip: v.zip, balloon: v.balloon };
      // soft: balloon; hard and low: compress (to 10% of the VM) and swap the rest
      const hard = state === 'hard' || state === 'low';
      const balloonable = Math.min(0.65 * v.mem, take);
      v.balloon += ((state === 'soft' || state === 'clear' ? balloonable : Math.min(v.balloon, balloonable)) - v.balloon) * 0.3;
      const rest = Math.max(0, take - v.balloon);
      if (hard) {
        v.zip += (Math.min(0.1 * v.mem, rest) - v.zip) * 0.3;
        v.swap += (Math.max(0, rest - v.zip) - v.swap) * 0.3;
      } else {
        v.zip *= 0.9;
        v.swap *= 0.95;
      }
      const away = v.balloon + v.zip + v.swap;
      const grant = Math.max(v.resv > 0 ? Math.min(v.resv, w.want) : 0, Math.min(v.mem, w.want) - away);
      const shrd = Math.min(grant, shareFrac(v.role) * v.mem);
      const zero = shrd * 0.2;
      const svd = shrd * (webs > 1 && v.role === 'web' ? 1 - 1 / webs : 0.5);
      const swr = Math.max(0, prev.swap - v.swap) / dt + (v.swap > 0 && w.active > 0.1 * v.mem ? 0.02 * v.swap : 0);
      const sww = Math.max(0, v.swap - prev.swap) / dt;
      const zipRate = Math.max(0, v.zip - prev.zip) / dt;
      const unzip = Math.max(0, prev.zip - v.zip) / dt + (v.zip > 0 ? 0.05 * v.zip : 0);
      const stall = Math.min(0.95, swr * 0.064 + unzip * 0.0004 + (v.balloon > prev.balloon ? 0.002 : 0));
      // the estimate follows the truth by a moving average, as sampling does
      v.estimate += (w.active - v.estimate) * 0.2;
      const cacheUsd = v.zip * 0.45;
      if (w.want > v.mem * 0.98) v.oom++;
      const vm: Record<string, unknown> = {
        MEMSZ: v.mem, GRANT: r6(grant), SZTGT: r6(Math.max(v.resv, w.want - take)), TCHD: r6(v.estimate),
        SHRD: r6(shrd), ZERO: r6(zero), SHRDSVD: r6(svd), MCTLSZ: r6(v.balloon), MCTLTGT: r6(state === 'soft' ? balloonable : v.balloon * 0.9),
        SWCUR: r6(v.swap), SWTGT: r6(v.swap), 'SWR/s': r6(swr), 'SWW/s': r6(sww), CACHESZ: r6(v.zip > 0 ? 0.1 * v.mem : 0), CACHEUSD: r6(cacheUsd),
        'ZIP/s': r6(zipRate), 'UNZIP/s': r6(unzip), 'ZIP/MB': r6(v.zip), 'ZSAVE/MB': r6(v.zip - cacheUsd),
        trueActiveMiB: r6(w.active), stall: r6(stall), slowdown: r6(1 / (1 - stall)), translation: 0,
        touchesAsked: Math.round(w.active * 1000), touchesCompleted: Math.round(w.active * 1000 * (1 - stall)), doublePaging: 0,
        guest: { freeMiB: r6(Math.max(0, v.mem - w.want - v.balloon)), cacheMiB: r6(0.1 * v.mem), anonMiB: r6(Math.max(0, w.want - 0.1 * v.mem)), swapMiB: 0, oomEvents: v.oom },
      };
      for (const key of o.omitVm ?? []) delete vm[key];
      hostVms[v.name] = vm;
      guest += grant - svd;
      zipFrames += cacheUsd;
      saved += svd;
      shared += shrd - svd;
      swapTotal += v.swap;
      balloonTotal += v.balloon;
    }
    const free = Math.max(0, machine - pt - guest - zipFrames);
    lastState = stateOf(free, minFree);
    const host: Record<string, unknown> = {
      machineMiB: machine, freeMiB: r6(free), guestMiB: r6(guest), zipMiB: r6(zipFrames), pageTablesMiB: pt,
      sharedMiB: r6(shared), sharedSavedMiB: r6(saved), swapMiB: r6(swapTotal), balloonMiB: r6(balloonTotal),
    };
    if (policy === 'esx') {
      Object.assign(host, {
        state: lastState, minFreeMiB: r6(minFree), highMiB: r6(4 * minFree), clearMiB: r6(minFree), softMiB: r6(0.64 * minFree), hardMiB: r6(0.32 * minFree),
        reclaimedCompressedMiB: r6(vms.reduce((a, v) => a + v.zip, 0)), reclaimedSwappedMiB: r6(swapTotal), reclaimedSharedBeforeSwapMiB: r6(saved), largePagesAllowed: lastState === 'high' ? 1 : 0,
      });
    } else if (policy === 'kvm') {
      // the kvm policy's fields: watermarks as mm/page_alloc.c computes them, kswapd, reclaim by path
      const wmin = r6(Math.sqrt(machine * 1024 * 16) / 1024);
      Object.assign(host, {
        kswapd: free < wmin * 1.25 ? 'awake' : 'asleep', minMiB: wmin, lowMiB: r6(wmin * 1.25), highMiB: r6(wmin * 1.5), min_free_kbytes: Math.round(wmin * 1024),
        reclaimedKswapdMiB: r6(swapTotal * 0.8), reclaimedDirectMiB: r6(swapTotal * 0.2), reclaimedCompressedMiB: r6(vms.reduce((a, v) => a + v.zip, 0)), reclaimedSwappedMiB: r6(swapTotal),
      });
    }
    for (const key of o.omitHost ?? []) delete host[key];
    samples.push({ t, host, vms: hostVms });
  }
  return {
    config: {
      seed, duration, sampleInterval: dt, step: 0.1,
      host: { machineMemoryMiB: machine, swap: { backing: 'memory', tier: 'ssd' }, sharing: { enabled: true, salting: 'per-vm' } },
      vms: vms.map((v) => ({ name: v.name, count: 1, memoryMiB: v.mem, reservationMiB: v.resv, shares: v.shares, mmu: 'none' })),
      policy: { kind: policy === 'none' ? 'basic' : policy },
    },
    seed,
    version: '0.0.0-fixture',
    verified: { ok: true, bytes: vms.reduce((a, v) => a + v.mem, 0) * 1048576 },
    samples,
  };
}
