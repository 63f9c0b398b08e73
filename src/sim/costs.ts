/**
 * The cost model: what each event costs the VM it happens to, in simulated time. Every value is
 * overridable in the scenario's `costs` section (microseconds; the MMU's in cycles, converted at
 * the host's clock). Defaults are round numbers inside published ranges, not measurements of one
 * machine; the README's cost table gives each one's source.
 *
 *   event                         default         charged where
 *   hit                           0 us            touch loop (the phase's rate already is its pace)
 *   guestPageFault                1 us            touch loop, mmu none (an MMU core charges its cycles)
 *   vmExit                        0.4 us          touch loop, mmu none, per host fault
 *   firstTouch                    1.5 us          touch loop (also a re-touched balloon or reported page)
 *   cowBreak                      2 us            touch loop
 *   decompress                    1.5 us          touch loop
 *   swapIn  hostcache/ssd/hdd     100/250/8000 us TypeScript, on a FAULT_IO it resolves
 *   compress, swapOut (tier)      4 us, 15/40/400 TypeScript, reclaim on the VM's own fault path
 *   balloonInflate / Deflate      2 / 1 us        balloon driver, per page
 *   guestIo + swapIn/Out (tier)   10 us + tier    guest swap I/O, per page
 *   guestZero                     0.5 us          the guest zeroing a freed page
 *
 * Stall counts every fault cost; an unconstrained VM would pay only its first touches of new
 * pages (guest #PF, exit, zero fill): slowdown = actual time / that time, never below 1.
 */
import type { CostsScenario } from './scenario.js';
import { ConfigError } from '../errors.js';
import { DEFAULT_COSTS, type CostModel as MmuCostModel } from '../translate/mmu.js';

export type SwapTier = 'hostcache' | 'ssd' | 'hdd';

/** Costs resolved for a run, in simulated nanoseconds (mmu: cycles). */
export interface ResolvedCosts {
  hitNs: number;
  guestPageFaultNs: number;
  vmExitNs: number;
  firstTouchNs: number;
  cowBreakNs: number;
  decompressNs: number;
  compressNs: number;
  swapInNs: number;
  swapOutNs: number;
  balloonInflateNs: number;
  balloonDeflateNs: number;
  guestSwapInNs: number;
  guestSwapOutNs: number;
  guestZeroNs: number;
  /** cycles per MMU event (the translation cores' cost model) */
  mmu: MmuCostModel;
  /** ns per cycle of the host's clock */
  nsPerCycle: number;
}

/** Resolves the scenario's costs for a host whose swap sits on `tier` and whose clock is `ghz`. */
export function resolveCosts(c: CostsScenario, tier: SwapTier, ghz: number): ResolvedCosts {
  const mmu: Record<string, number> = { ...DEFAULT_COSTS };
  for (const [k, v] of Object.entries(c.mmu)) {
    if (!Object.hasOwn(DEFAULT_COSTS, k)) throw new ConfigError(`costs.mmu.${k}`, v, `an MMU cost name (${Object.keys(DEFAULT_COSTS).join(', ')})`);
    mmu[k] = v;
  }
  const us = 1000;
  return {
    hitNs: c.hit * us,
    guestPageFaultNs: c.guestPageFault * us,
    vmExitNs: c.vmExit * us,
    firstTouchNs: c.firstTouch * us,
    cowBreakNs: c.cowBreak * us,
    decompressNs: c.decompress * us,
    compressNs: c.compress * us,
    swapInNs: c.swapIn[tier] * us,
    swapOutNs: c.swapOut[tier] * us,
    balloonInflateNs: c.balloonInflate * us,
    balloonDeflateNs: c.balloonDeflate * us,
    guestSwapInNs: (c.swapIn[tier] + c.guestIo) * us,
    guestSwapOutNs: (c.swapOut[tier] + c.guestIo) * us,
    guestZeroNs: c.guestZero * us,
    mmu: mmu as unknown as MmuCostModel,
    nsPerCycle: 1 / ghz,
  };
}

/**
 * What the first touch of a never-written virtual page costs any VM, constrained or not: the
 * guest's page fault, the exit to the host (an EPT violation or a shadow fill through an MMU)
 * and the zero fill. The baseline of slowdown.
 */
export function newPageNs(c: ResolvedCosts, mmu: 'none' | 'ept' | 'shadow'): number {
  if (mmu === 'none') return c.guestPageFaultNs + c.vmExitNs + c.firstTouchNs;
  const cyc = c.mmu.guestPageFault + c.mmu.vmExit + (mmu === 'ept' ? c.mmu.eptViolation : c.mmu.shadowFill);
  return cyc * c.nsPerCycle + c.firstTouchNs;
}
