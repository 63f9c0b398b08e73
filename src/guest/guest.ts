/**
 * The guest OS inside one simulated VM: its page allocator, page cache, anonymous memory, swap
 * device and balloon driver. The page-by-page work runs in WebAssembly (assembly/guest/); this
 * class decides when it runs and does the I/O (the guest swap device), in batches:
 *
 *   boot ............ kernel + page cache pages (its OS image), OS anonymous pages
 *   makeFree(n) ..... the guest needs a page: drop page cache, else swap out (clock victims)
 *   swapIn(vp) ...... a process touched a page in guest swap: read it back
 *   balloon poll .... once per simulated second: inflate toward the target (free pages, then
 *                     page cache, then guest swap), deflate when the target drops; free page
 *                     reporting; all at the driver's bounded rates
 *   release ......... the workload frees pages (a phase with `release`)
 *
 * Host faults met on the way (a page the host swapped out, no free frame) stop the batch; the
 * fault driver (src/engine/driver.ts) hands each to the guest's `resolver`, which has the
 * simulation (GuestHost.resolveHostFault) resolve it and charges what it cost, and calls the
 * batch again. Costs land on the VM's current step, or, outside a step (the balloon driver), on
 * the next one as debt.
 */
import type { VM } from '../host/vm.js';
import { MemorySwapStore } from '../host/swapstore.js';
import { MemvisorError } from '../errors.js';
import { Reason, NO_GUEST_SLOT, type Guest, type GuestCount } from '../engine/guest.js';
import type { StagedList } from '../engine/reclaim.js';
import type { FaultResolver, HostNeed } from '../engine/fault.js';
import { drive, type HostStop, type Resumable } from '../engine/driver.js';
import type { Gppn } from '../engine/addr.js';
import type { ResolvedCosts } from '../sim/costs.js';
import { mibPages, type VmScenario } from '../sim/scenario.js';

/** What the guest needs from the simulation around it. */
export interface GuestHost {
  /** Does what a host stop of `guest`'s VM at `gppn` asks (swap it in, free a frame, page out at the limit); returns the ns it cost the VM. */
  resolveHostFault(guest: GuestOs, gppn: Gppn, need: HostNeed): number;
}

/** virtio-balloon: pages given back per guest OOM event (VIRTIO_BALLOON_F_DEFLATE_ON_OOM, OOM_VBALLOON_DEFAULT_PAGES). */
export const OOM_DEFLATE_PAGES = 256;
/** Pages the guest reclaims at once when an allocation finds the free list empty (Linux SWAP_CLUSTER_MAX is 32; a batch amortises the calls). */
const RECLAIM_BATCH = 64;

/** A guest's memory by use, pages. */
export interface GuestCounts {
  free: number;
  kernel: number;
  cache: number;
  /** pages of process memory resident in the guest (OS anonymous and the workload's) */
  anon: number;
  balloon: number;
  /** pages in guest swap */
  swap: number;
  reserved: number;
}

export class GuestOs {
  readonly id: number;
  readonly name: string;
  readonly swap: MemorySwapStore;
  /** guest OOM events (an allocation found no free page and nothing to reclaim), cumulative */
  oomEvents = 0;
  /** pages the balloon driver is to hold (MCTLTGT), set by the policy */
  balloonTarget = 0;
  /** simulated ns owed by work done outside a step (balloon driver), taken from the next step */
  debtNs = 0;
  /** true while the VM's step runs: costs go to the step */
  inStep = false;
  /**
   * @internal The fault driver's resolver for this VM's guest batches and touches: the
   * simulation resolves the stop (GuestHost.resolveHostFault), the guest charges what it cost.
   */
  readonly resolver: FaultResolver;
  private readonly balloonCfg: VmScenario['os']['balloon'];
  private readonly zeroFreed: boolean;

  /** @internal Made by the Simulation for each of its VMs. */
  constructor(
    private readonly se: Guest,
    private readonly host: GuestHost,
    readonly vm: VM,
    readonly cfg: VmScenario,
    private readonly costs: ResolvedCosts,
  ) {
    this.id = vm.id;
    this.name = vm.name;
    this.swap = new MemorySwapStore(`${vm.name} (guest swap)`, mibPages(cfg.os.swapMiB));
    this.balloonCfg = cfg.os.balloon;
    this.zeroFreed = cfg.os.zeroFreedPages;
    this.resolver = { name: vm.name, resolve: (gppn, need) => this.charge(this.host.resolveHostFault(this, gppn, need)) };
  }

  /** Charges `ns` of fault time to the VM: its step in progress, or the next one. */
  charge(ns: number): void {
    if (ns <= 0) return;
    if (this.inStep) this.se.charge(this.id, ns);
    else {
      this.debtNs += ns;
      this.se.setF(this.id, 'stallNs', this.se.getF(this.id, 'stallNs') + ns);
    }
  }

  /**
   * Runs a resumable guest batch (`call`, named by `operation` for a GaveUpError) through the
   * fault driver until it stops for something other than the host; returns that reason.
   */
  private until(call: () => Reason, operation: () => string): Reason {
    const batch = new GuestBatch(this.se, this.id, call, operation);
    drive(this.resolver, batch, batch.step());
    return batch.reason;
  }

  // ---- boot ----------------------------------------------------------------------------------

  /** Writes the OS into guest memory (kernel, page cache, OS anonymous pages). Not charged: it happens before t = 0. */
  boot(): void {
    this.se.batchReset(this.id);
    const r = this.until(() => this.se.guestBoot(this.id), () => 'the guest OS boot');
    if (r !== Reason.Done) throw new MemvisorError(`VM ${JSON.stringify(this.name)}: boot stopped (${Reason[r]})`);
  }

  /** The guest's memory by use, pages. */
  counts(): GuestCounts {
    const g = (n: GuestCount) => this.se.get(this.id, n);
    return { free: g('free'), kernel: g('kernel'), cache: g('cache'), anon: g('resident'), balloon: g('balloon'), swap: g('swapHeld'), reserved: g('reserved') };
  }

  // ---- the touch path's requests ---------------------------------------------------------------

  /**
   * The guest needs at least one free page (R_GUEST_FREE): drops page cache, else swaps out
   * process pages, else it is out of memory: with deflate-on-OOM the balloon gives back 256
   * pages; otherwise false (the allocation fails: the OOM event ends the VM's step).
   */
  makeFree(): boolean {
    if (this.se.dropCache(this.id, RECLAIM_BATCH) > 0) return true;
    if (this.swapOut(RECLAIM_BATCH, false).length > 0 || this.se.get(this.id, 'free') > 0) return true;
    this.oomEvents++;
    if (this.balloonCfg.deflateOnOom && this.se.get(this.id, 'balloon') > 0) {
      this.deflate(OOM_DEFLATE_PAGES);
      return this.se.get(this.id, 'free') > 0;
    }
    return false;
  }

  /** Brings virtual page `vp` back from guest swap (R_GUEST_SWAPIN). False when the guest has no page to put it in (OOM). */
  swapIn(vp: number): boolean {
    const slot = this.se.swapSlot(this.id, vp);
    if (slot === null) throw new MemvisorError(`VM ${JSON.stringify(this.name)}: virtual page ${vp} is not in guest swap`);
    this.se.batchReset(this.id);
    for (;;) {
      // read again after every reclaim: the buffer is the engine's, and reclaim uses it
      const { error } = this.swap.readPages([slot], [vp], 1, [this.se.swapInBuffer()]);
      if (error) throw error;
      const r = this.until(() => this.se.swapIn(this.id, vp), () => `the guest swap-in of virtual page ${vp}`);
      if (r === Reason.Done) break;
      if (r !== Reason.GuestFree || !this.makeFree()) return false;
    }
    this.swap.release(slot);
    this.charge(this.costs.guestSwapInNs);
    return true;
  }

  /**
   * Swaps out up to `n` process pages (clock victims) to the guest swap device, in batches; their
   * GPPNs go to the balloon (`toBalloon`: listed for the caller) or to the free list. Returns the
   * GPPN lists of balloon commits (consumed before the next engine call by the caller).
   */
  private swapOut(n: number, toBalloon: boolean, onBalloonList?: (l: StagedList) => void): number[] {
    const done: number[] = [];
    let left = n;
    while (left > 0 && this.swap.free > 0) {
      this.se.batchReset(this.id);
      const want = Math.min(left, this.se.pagesMax, this.swap.free);
      this.until(() => this.se.swapSelect(this.id, want), () => `the guest swap-out choice of ${want} victims`);
      const { vps, pages } = this.se.swapVictims(this.id);
      const k = vps.length;
      if (k === 0) break;
      const slots = this.swap.alloc(k);
      const { ok } = this.swap.writePages(slots, Array.from(vps), pages);
      const commit = new Uint32Array(k);
      for (let i = 0; i < k; i++) {
        if (ok[i]) commit[i] = slots[i];
        else {
          this.swap.release(slots[i]);
          commit[i] = NO_GUEST_SLOT;
        }
      }
      this.se.batchReset(this.id);
      this.until(() => this.se.swapCommit(this.id, commit, toBalloon), () => `the guest swap-out commit of ${k} pages`);
      const written = ok.filter(Boolean).length;
      this.charge(written * this.costs.guestSwapOutNs);
      done.push(written);
      if (toBalloon && onBalloonList) onBalloonList(this.se.committedToBalloon(this.id));
      left -= k;
      if (written === 0) break;
    }
    return done;
  }

  // ---- balloon driver ------------------------------------------------------------------------

  /**
   * One poll of the balloon driver (every simulated second): moves the balloon toward its
   * target at the driver's rates, as Linux's vmw_balloon does per cycle: free pages first (up to
   * inflateMiBps: non-sleeping allocations); once none is free, allocations that make the guest
   * drop page cache and swap, only while the poll's total stays under reclaimMiBps (its sleeping
   * allocation rate). Deflating gives pages back up to deflateMiBps.
   */
  balloonPoll(seconds: number): void {
    if (this.balloonCfg.enabled) {
      const have = this.se.get(this.id, 'balloon');
      const target = Math.min(this.balloonTarget, this.vm.balloonMaxPages);
      if (target > have) this.inflate(target - have, seconds);
      else if (target < have) this.deflate(Math.min(have - target, Math.floor(mibPages(this.balloonCfg.deflateMiBps) * seconds)));
    }
  }

  /** Inflates by up to `want` pages within one poll of `seconds`. Returns the pages ballooned. */
  private inflate(want: number, seconds: number): number {
    let room = Math.min(want, Math.floor(mibPages(this.balloonCfg.inflateMiBps) * seconds));
    let got = 0;
    const give = (l: StagedList) => {
      if (l.n === 0) return;
      got += this.vm.balloonInflateStaged(l);
    };
    while (room > 0) {
      const l = this.se.take(this.id, room, 'free');
      if (l.n === 0) break;
      give(l);
      room -= l.n;
    }
    // as vmw_balloon: once free pages run out, sleeping allocations (which make the guest reclaim)
    // go on only while the poll's total stays under the slower rate
    let slow = Math.min(room, Math.max(0, Math.floor(mibPages(this.balloonCfg.reclaimMiBps) * seconds) - got));
    while (slow > 0) {
      const l = this.se.take(this.id, slow, 'cache');
      if (l.n === 0) break;
      give(l);
      slow -= l.n;
    }
    if (slow > 0) this.swapOut(slow, true, give);
    this.charge(got * this.costs.balloonInflateNs);
    return got;
  }

  /** Deflates up to `n` pages: the host takes them back, the guest frees (and maybe zeroes) them. */
  deflate(n: number): number {
    let done = 0;
    while (done < n) {
      const l = this.se.deflateSelect(this.id, n - done);
      if (l.n === 0) break;
      this.vm.balloonDeflateStaged(l);
      this.se.freeBalloon(this.id, l);
      if (this.zeroFreed) this.zero(l);
      done += l.n;
    }
    this.charge(done * this.costs.balloonDeflateNs);
    return done;
  }

  /** The guest zeroes the freed GPPNs of `list` (which stays in place through the batch). */
  private zero(list: StagedList): void {
    this.se.batchReset(this.id);
    this.until(() => this.se.zero(this.id, list), () => `the guest zeroing ${list.n} freed pages`);
    this.charge(list.n * this.costs.guestZeroNs);
  }

  /** Free page reporting (when on): free 2 MiB blocks older than the delay are discarded by the host. Returns pages reported. */
  reportFree(): number {
    if (!this.balloonCfg.enabled || !this.balloonCfg.freePageReporting) return 0;
    let n = 0;
    this.se.batchReset(this.id);
    for (;;) {
      const { reason, list } = this.se.report(this.id, Math.round(this.balloonCfg.reportDelay * 1000));
      if (list.n > 0) {
        this.vm.discardStaged(list);
        n += list.n;
      }
      if (reason !== Reason.More) break;
    }
    return n;
  }

  // ---- the workload frees memory -------------------------------------------------------------------

  /** The workload frees its virtual pages [from, to): resident ones go free (zeroed if the guest does), swapped ones give back their slots. */
  release(from: number, to: number): void {
    this.se.batchReset(this.id);
    for (;;) {
      const r = this.until(() => this.se.release(this.id, from, to), () => `the release of virtual pages [${from}, ${to})`);
      const { freed, slots } = this.se.released(this.id);
      for (const s of slots) this.swap.release(s);
      if (this.zeroFreed && freed.n > 0) {
        // zero() runs its own resumable batch: keep the release's cursor around it
        const cursor = this.se.get(this.id, 'cursor');
        this.zero(freed);
        this.se.set(this.id, 'cursor', cursor);
      }
      // read: the next call starts its lists afresh (across a host stop they go on)
      this.se.set(this.id, 'batchN', 0);
      this.se.set(this.id, 'batchM', 0);
      if (r !== Reason.More) break;
    }
  }
}


/**
 * A guest batch as the fault driver runs it: each step calls it again from where it stopped. Its
 * progress between two host stops: its cursor moved on, or at the same cursor it listed or
 * visited more pages (batchN, batchM: swap victims chosen, pages a commit gave the balloon).
 * Within one batch the cursor never goes back, and at the same cursor the lists only grow.
 */
class GuestBatch implements Resumable {
  /** the reason the batch ended with (anything but Reason.Host) */
  reason = Reason.Done;
  private cursor = -1;
  private listed = -1;

  constructor(
    private readonly se: Guest,
    private readonly vm: number,
    private readonly call: () => Reason,
    readonly operation: () => string,
  ) {}

  step(): HostStop | null {
    const r = this.call();
    if (r !== Reason.Host) {
      this.reason = r;
      return null;
    }
    const cursor = this.se.get(this.vm, 'cursor');
    const listed = this.se.get(this.vm, 'batchN') + this.se.get(this.vm, 'batchM');
    const progress = cursor > this.cursor || (cursor === this.cursor && listed > this.listed);
    this.cursor = cursor;
    this.listed = listed;
    return this.se.driverStop(this.vm, progress);
  }
}
