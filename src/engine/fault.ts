/**
 * The fault driver's vocabulary: what a mechanism that runs "until something needs TypeScript"
 * (guest-physical access, translation, batches, trace replay) stops for, and who resolves it.
 *
 *   call ──► done
 *     └────► stop { gppn, need } ──► resolver.resolve(gppn, need, end) ──► call again
 *                                     (swap the page in, free frames, page out from the VM)
 *
 * The engine turns the module's status codes (pmap FAULT_*) into a `HostNeed`; the host (src/host)
 * implements `FaultResolver` for each of its VMs; the one loop between them is the fault driver
 * (driver.ts), which gives up after MAX_HOST_ROUNDS stops in a row that made no progress, with a
 * GaveUpError naming the VM, the operation, the page and the need.
 */
import type { Gppn } from './addr.js';

/** What the host must do before the call can go on: swap the page in, free a frame, or page out from the VM at its limit. */
export type HostNeed = 'swapIn' | 'noFrame' | 'limit';

/** The host's side of the fault driver, for one VM. */
export interface FaultResolver {
  /** The VM's name, for messages. */
  readonly name: string;
  /**
   * Does what `need` asks for page `gppn` so the call can be made again; `end`: the call goes on
   * up to this GPPN (exclusive), so a swap-in may bring back the run of pages it will touch.
   */
  resolve(gppn: Gppn, need: HostNeed, end: Gppn): void;
}

/** Stops without progress after which a call gives up (the host is out of memory it can reclaim). */
export const MAX_HOST_ROUNDS = 64;
