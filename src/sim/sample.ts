/**
 * Samples: what a run reports once per `sampleInterval`, with esxtop's memory-screen names and
 * units (MiB, MiB per simulated second), the simulator's truth (trueActiveMiB) and what memory
 * pressure cost each VM (stall, slowdown, touches asked and completed). Every field is
 * documented in the README (Simulation: the JSON).
 */
import { PAGE } from '../engine/addr.js';
import { Host, type Stats } from '../host/host.js';

const MIB = (1 << 20) / PAGE;
/** Pages as MiB. */
export const mib = (pages: number): number => pages / MIB;

/** One VM in one sample. Sizes in MiB, rates in MiB per simulated second. */
export interface VmSample {
  MEMSZ: number;
  GRANT: number;
  SZTGT: number;
  TCHD: number;
  SHRD: number;
  ZERO: number;
  SHRDSVD: number;
  MCTLSZ: number;
  MCTLTGT: number;
  SWCUR: number;
  SWTGT: number;
  'SWR/s': number;
  'SWW/s': number;
  CACHESZ: number;
  CACHEUSD: number;
  'ZIP/s': number;
  'UNZIP/s': number;
  'ZIP/MB': number;
  'ZSAVE/MB': number;
  trueActiveMiB: number;
  stall: number;
  slowdown: number;
  translation: number;
  touchesAsked: number;
  touchesCompleted: number;
  doublePaging: number;
  guest: { freeMiB: number; cacheMiB: number; anonMiB: number; swapMiB: number; oomEvents: number };
  [policyField: string]: unknown;
}

/** The host in one sample. Sizes in MiB. */
export interface HostSample {
  machineMiB: number;
  freeMiB: number;
  guestMiB: number;
  zipMiB: number;
  pageTablesMiB: number;
  sharedMiB: number;
  sharedSavedMiB: number;
  swapMiB: number;
  balloonMiB: number;
  [policyField: string]: unknown;
}

export interface Sample {
  /** simulated seconds since the start */
  t: number;
  host: HostSample;
  vms: Record<string, VmSample>;
}

/** Cumulative per-VM time accounting (simulated ns) and touch counts, as the engine keeps them. */
export interface VmClock {
  stallNs: number;
  translateNs: number;
  inherentNs: number;
  workNs: number;
  touches: number;
  asked: number;
}

/** What the sampler needs about one VM beyond the host's counters. */
export interface VmSampleInput {
  name: string;
  clock: VmClock;
  hitNs: number;
  sizeTarget: number;
  activeEstimate: number;
  balloonTarget: number;
  trueActive: number;
  doublePaging: number;
  guest: { free: number; cache: number; anon: number; swap: number; oomEvents: number };
  extra: Record<string, unknown>;
}

/** Rounds away binary noise (1e-9 relative) so the JSON stays short; pages/256 stay exact. */
const r9 = (x: number): number => (Number.isFinite(x) ? Math.round(x * 1e9) / 1e9 : 0);

/** Builds the sample at `t` from host counters now and then (`prev`, `seconds` ago) and each VM's inputs. */
export function buildSample(t: number, seconds: number, now: Stats, prev: Stats, vms: VmSampleInput[], prevClocks: Map<string, VmClock>, hostExtra: Record<string, unknown>): Sample {
  const rates = Host.rates(prev, now, seconds);
  const h = now.host;
  const out: Sample = {
    t: r9(t),
    host: {
      machineMiB: mib(h.machineFrames),
      freeMiB: mib(h.freeFrames),
      guestMiB: mib(h.guestFrames),
      zipMiB: mib(h.zpoolFrames),
      pageTablesMiB: mib(h.pageTableFrames),
      sharedMiB: mib(h.pages_shared),
      sharedSavedMiB: mib(h.pages_sharing),
      swapMiB: mib(now.vms.reduce((a, v) => a + v.SWCUR, 0)),
      balloonMiB: mib(now.vms.reduce((a, v) => a + v.MCTLSZ, 0)),
      ...hostExtra,
    },
    vms: {},
  };
  for (const input of vms) {
    const v = now.vms.find((x) => x.name === input.name)!;
    const rate = rates.find((x) => x.name === input.name)!;
    const c = input.clock;
    const p = prevClocks.get(input.name) ?? { stallNs: 0, translateNs: 0, inherentNs: 0, workNs: 0, touches: 0, asked: 0 };
    const done = c.touches - p.touches;
    const work = c.workNs - p.workNs + done * input.hitNs;
    // a fault that costs more than the interval left stalls the VM into the next ones (its budget
    // goes negative and it runs nothing there): the interval reports at most all of its time and
    // the rest is reported where the VM spent it
    const stall = Math.min(c.stallNs - p.stallNs, seconds * 1e9);
    const transl = c.translateNs - p.translateNs;
    const base = work + transl + (c.inherentNs - p.inherentNs);
    const actual = work + transl + stall;
    out.vms[input.name] = {
      MEMSZ: mib(v.MEMSZ),
      GRANT: mib(v.resident),
      SZTGT: mib(input.sizeTarget),
      TCHD: mib(input.activeEstimate),
      SHRD: mib(v.SHRD),
      ZERO: mib(v.ZERO),
      SHRDSVD: r9(mib(v.SHRDSVD)),
      MCTLSZ: mib(v.MCTLSZ),
      MCTLTGT: mib(input.balloonTarget),
      SWCUR: mib(v.SWCUR),
      SWTGT: mib(v.SWTGT),
      'SWR/s': r9(rate['SWR/s']),
      'SWW/s': r9(rate['SWW/s']),
      CACHESZ: v.CACHESZ / (1 << 20),
      CACHEUSD: v.CACHEUSD / (1 << 20),
      'ZIP/s': r9(rate['ZIP/s']),
      'UNZIP/s': r9(rate['UNZIP/s']),
      'ZIP/MB': mib(v.compressed),
      'ZSAVE/MB': r9(mib(v.compressed) - v.CACHEUSD / (1 << 20)),
      trueActiveMiB: mib(input.trueActive),
      stall: r9(stall / 1e9 / seconds),
      slowdown: r9(base > 0 ? Math.max(1, actual / base) : 1),
      translation: r9(transl / 1e9 / seconds),
      touchesAsked: c.asked - p.asked,
      touchesCompleted: done,
      doublePaging: input.doublePaging,
      guest: {
        freeMiB: mib(input.guest.free),
        cacheMiB: mib(input.guest.cache),
        anonMiB: mib(input.guest.anon),
        swapMiB: mib(input.guest.swap),
        oomEvents: input.guest.oomEvents,
      },
      ...input.extra,
    };
    prevClocks.set(input.name, { ...c, stallNs: p.stallNs + stall });
  }
  return out;
}
