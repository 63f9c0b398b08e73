/**
 * A VM: its configuration, its guest-physical memory (read, write, load an image), the reclaim
 * mechanisms aimed at it (page-out, balloon) and its stats. The page loops run in WebAssembly;
 * this file validates arguments and does what the mechanism asks TypeScript to do (swap I/O,
 * finding free frames) between batches, as the VM's FaultResolver (src/engine/fault.ts):
 *
 *   guest-physical access --swapIn--> read + verify the run of swapped pages the access touches
 *   (engine reclaim.phys*)            straight into frames (page by page through staging when
 *                                     reclaim is needed), call again
 *                         --noFrame-> host reclaims frames from some VM, call again
 *                         --limit---> page out from this VM, call again
 *
 * Pages cross as page-sized byte arrays the engine hands over (frames to read a swap-in into,
 * victims to write to swap); no offset of linear memory is computed here.
 *
 * Faults stay with the VM they hit: a swap read that fails after the store's retries faults this
 * VM (its first cause is kept), and a swap write that fails leaves the page resident. A faulted
 * VM's memory is still reclaimable, and `powerOff()` frees all of it (host.ts).
 */
import type { Engine } from '../engine/engine.js';
import { PAGE, asGpa, asGppn, gppnOf, type Gppn, type Gpa } from '../engine/addr.js';
import type { FaultResolver, HostNeed } from '../engine/fault.js';
import { drive } from '../engine/driver.js';
import type { PageoutBatch, StagedList, VictimPolicy, ZipSurvey } from '../engine/reclaim.js';
import {
  ConfigError, MemvisorError, SwapChecksumError, SwapIoError, VmFaultedError, VmPoweredOffError, checkInt,
} from '../errors.js';
import type { SwapStore } from './swapstore.js';
import { nodeFiles } from '../platform.js';
import { pagingStats, type MmuMode, type MmuVm, type PagingStats } from '../translate/mmu.js';

/** pmap states (assembly/reclaim/pmap.ts PState). */
export enum PState {
  Unbacked = 0,
  Mapped = 1,
  Shared = 2,
  Zero = 3,
  Compressed = 4,
  Swapped = 5,
  Ballooned = 6,
}


/**
 * MMU virtualization of a Host's VM: nested paging ('ept') or shadow page tables ('shadow').
 * 'native' (no hypervisor) exists only on a standalone `Mmu.create`.
 */
export type VmMmuMode = Exclude<MmuMode, 'native'>;
/** Victim selection for page-out: ESX's random, or an LRU approximation (clock over accessed bits). */
export type { VictimPolicy, ZipSurvey };

/** A VM's configuration, as given to `host.addVM`. */
export interface VmConfig {
  /** unique name */
  name: string;
  /** guest memory in MiB */
  memoryMiB: number;
  /** sharing domain, 0 .. 2^31-1: only VMs with the same salt share frames (default: its own, or the host-wide one; see HostConfig.sharing.salting) */
  salt?: number;
  /** MiB of machine memory guaranteed: never reclaimed under host pressure; the swap store is memory minus this (default 0) */
  reservationMiB?: number;
  /** most machine memory the VM's pages may hold resident, MiB (default: memoryMiB) */
  limitMiB?: number;
  /** proportional-share weight among VMs under pressure (default 1000 per GiB, ESX's "normal") */
  shares?: number;
  /** MMU mode for translations through `host.mmu().attach(vm)`: 'ept' (default) or 'shadow' */
  mmu?: VmMmuMode;
  /** victim policy of page-out (default: the host's) */
  victimPolicy?: VictimPolicy;
  /** zip cache capacity as a percentage of memoryMiB (default: the host's, 10; 0 disables compression) */
  cachePercent?: number;
  /** first touches may back 2 MiB groups with one large page while the host allows it (default: the host's, HostConfig.largePages) */
  largePages?: boolean;
}

/** What `vm.pageOut(count)` did. Units: pages. */
export interface PageOutResult {
  /** pages asked for */
  requested: number;
  /** victims compressed into the zip cache */
  compressed: number;
  /** victims written to the swap store */
  swapped: number;
  /** victims merged with an equal page by sharing instead (share before swap: HostConfig.sharing.beforeSwap) */
  shared: number;
  /** older compressed pages moved from the full zip cache to the swap store */
  evicted: number;
  /** victims that stayed resident because their swap write failed */
  writeFailed: number;
  /** stopped because the swap store is full (nothing lost: the rest stay resident) */
  swapFull: boolean;
  /** stopped because no resident page was left to reclaim */
  noVictim: boolean;
  /** the swap write error, when a write failed */
  error: SwapIoError | null;
}

/** One VM's counters. Units: pages (4 KiB) unless the name says Bytes; cumulative counts never decrease. */
export interface VmStats {
  name: string;
  /** guest memory (esxtop MEMSZ), pages */
  MEMSZ: number;
  /** pages never touched (or given back by a balloon deflate) */
  unbacked: number;
  /** pages backed by a private frame */
  mapped: number;
  /** pages backed by a shared frame, zero frames included (esxtop SHRD) */
  SHRD: number;
  /** pages backed by the zero frame of the VM's sharing domain (esxtop ZERO) */
  ZERO: number;
  /** pages saved by sharing: sum over SHRD pages of 1 - 1/users of the frame (esxtop SHRDSVD); fractional */
  SHRDSVD: number;
  /** pages holding a frame reference: mapped + SHRD */
  resident: number;
  /** pages in the zip cache */
  compressed: number;
  /** pages in the swap store (esxtop SWCUR) */
  SWCUR: number;
  /** swap target: SWCUR plus the pages the last page-out could not swap because the store was full (esxtop SWTGT) */
  SWTGT: number;
  /** pages read from swap, cumulative (rate: Host.rates gives esxtop SWR/s) */
  SWR: number;
  /** pages written to swap, cumulative (esxtop SWW/s via Host.rates) */
  SWW: number;
  /** pages compressed into the zip cache, cumulative (esxtop ZIP/s via Host.rates) */
  ZIP: number;
  /** pages decompressed from the zip cache, cumulative (esxtop UNZIP/s via Host.rates) */
  UNZIP: number;
  /** zip cache capacity, bytes */
  cacheCapBytes: number;
  /** bytes of zip cache slots held (esxtop CACHESZ) */
  CACHESZ: number;
  /** compressed bytes stored in them (esxtop CACHEUSD) */
  CACHEUSD: number;
  /** machine frames holding its zip cache slots (fragmentation included: a frame is counted for each VM with a slot in it), frames */
  zipFrames: number;
  /** ballooned pages (esxtop MCTLSZ) */
  MCTLSZ: number;
  /** most pages the balloon may hold (esxtop MCTLMAX) */
  MCTLMAX: number;
  /** guest touches of ballooned pages, answered with a zero page, cumulative */
  balloonTouches: number;
  /** first-touch faults, cumulative */
  firstTouches: number;
  /** copy-on-write breaks, cumulative */
  cowBreaks: number;
  /** compressed pages evicted to swap because the zip cache was full, cumulative */
  zipEvictions: number;
  /** swap store size, pages (memory minus reservation) */
  swapCapacity: number;
  /** swap write errors, read errors, checksum mismatches, cumulative (each failed attempt counts) */
  swapWriteErrors: number;
  swapReadErrors: number;
  swapChecksumErrors: number;
  /** swap page reads tried again after a failure, cumulative */
  swapReadRetries: number;
  /** 1 once the VM lost data (a swap read or checksum failure that its retries did not cure), else 0 */
  faulted: number;
  /** 2 MiB large pages (groups of 512 pages backed by one aligned block) the VM holds now */
  largePages: number;
  /** MMU virtualization mode */
  mmu: VmMmuMode;
  /** hypervisor-side paging counters once an Mmu attached the VM (host.mmu().attach), else null */
  paging: PagingStats | null;
}

/** What the host provides to its VMs. */
export interface HostContext {
  readonly engine: Engine;
  /** Frees machine frames for `vm` ('noFrame') or pages out from it ('limit'); throws when nothing can be reclaimed. */
  relieve(vm: VM, need: Exclude<HostNeed, 'swapIn'>): void;
  /** Frees everything `vm` holds and removes it from the host (vm.powerOff, host.removeVM). */
  powerOff(vm: VM): void;
  /** Counts victims a page-out merged (share before swap), whoever asked for the page-out. */
  mergedBeforeSwap(pages: number): void;
}

/** The guest OS model's GPPNs of an attached VM: [first, end). */
export interface GuestOsRange {
  readonly first: number;
  readonly end: number;
}

/** Pages holding a frame reference (mapped, shared, zero) among a VM's named stats. */
function residentOf(v: Readonly<Record<string, number>>): number {
  return v.mapped + v.shared + v.zero;
}

export class VM {
  /** Pages of guest memory. */
  readonly pages: number;
  readonly memoryMiB: number;
  readonly reservationMiB: number;
  readonly limitMiB: number;
  readonly shares: number;
  readonly mmu: VmMmuMode;
  readonly salt: number;
  readonly victimPolicy: VictimPolicy;
  readonly balloonMaxPages: number;
  private faultedBy: MemvisorError | null = null;
  private off = false;
  private swapTarget = 0;
  /** Paging set up by an Mmu over the host (null until attached); its guest OS range is off limits to user writes. */
  private paging: MmuVm | null = null;
  /** This VM's side of the engine's fault driver: what a stop of the fault path asks of the host. */
  private readonly resolver: FaultResolver;
  /** The VM's id in the host's engine. */
  readonly id: number;
  readonly name: string;
  /** The VM's swap store (memory or file). */
  readonly swap: SwapStore;

  private constructor(
    private readonly host: HostContext,
    id: number,
    name: string,
    cfg: Required<Omit<VmConfig, 'name' | 'cachePercent' | 'largePages'>>,
    balloonMaxPages: number,
    swap: SwapStore,
  ) {
    this.id = id;
    this.name = name;
    this.swap = swap;
    this.memoryMiB = cfg.memoryMiB;
    this.pages = cfg.memoryMiB * 256;
    this.reservationMiB = cfg.reservationMiB;
    this.limitMiB = cfg.limitMiB;
    this.shares = cfg.shares;
    this.mmu = cfg.mmu;
    this.salt = cfg.salt;
    this.victimPolicy = cfg.victimPolicy;
    this.balloonMaxPages = balloonMaxPages;
    this.resolver = { name, resolve: (gppn, need, end) => this.resolveFault(gppn, need, end) };
  }

  /** @internal Created by Host.addVM. */
  static create(host: HostContext, id: number, name: string, cfg: Required<Omit<VmConfig, 'name' | 'cachePercent' | 'largePages'>>, balloonMaxPages: number, swap: SwapStore): VM {
    return new VM(host, id, name, cfg, balloonMaxPages, swap);
  }

  /** @internal The VM's fault resolver (an Mmu over the host retries translations through it). */
  get faultResolver(): FaultResolver {
    return this.resolver;
  }

  private get engine(): Engine {
    return this.host.engine;
  }

  /** The error that faulted this VM (the first cause), or null. */
  get faulted(): MemvisorError | null {
    return this.faultedBy;
  }

  /** True once `powerOff()` (or host.removeVM) freed the VM; every later call throws VmPoweredOffError. */
  get poweredOff(): boolean {
    return this.off;
  }

  /**
   * Powers the VM off: frees everything it holds (frames, zip slots, swap slots and file, page
   * tables, TLB entries naming it, the guest OS model's state) and removes it from the host, so
   * the memory is usable at once by other VMs. Its id and pmap range may go to a later VM. Works
   * on a faulted VM; a second call does nothing.
   */
  powerOff(): void {
    if (this.off) return;
    this.host.powerOff(this);
  }

  /** @internal Host.powerOff: the engine no longer holds this VM. */
  markPoweredOff(): void {
    this.off = true;
    this.paging = null;
  }

  /** Pages held resident (frame references): the quantity limits and reservations apply to. */
  get residentPages(): number {
    if (this.off) throw new VmPoweredOffError(this.name);
    return residentOf(this.engine.reclaim.vmStats(this.id));
  }

  /** pmap state of `gppn` (PState). */
  pageState(gppn: number): PState {
    if (this.off) throw new VmPoweredOffError(this.name);
    checkInt('gppn', gppn, 0, this.pages - 1);
    return this.engine.reclaim.pmapState(this.id, asGppn(gppn));
  }

  // ---- guest-physical access -----------------------------------------------------------------

  /** Writes `bytes` at guest-physical address `gpa` (any alignment and length). */
  writePhys(gpa: number, bytes: Uint8Array): void {
    this.usable();
    if (!(bytes instanceof Uint8Array)) throw new ConfigError('bytes', bytes, 'a Uint8Array');
    this.checkRange(gpa, bytes.length);
    this.checkUserRange('gpa', gpa, bytes.length);
    this.engine.reclaim.physWrite(this.id, asGpa(gpa), bytes, this.resolver);
  }

  /**
   * Reads `length` bytes at guest-physical address `gpa` (any alignment and length), into a new
   * array, or into `into` (at least `length` bytes; returned) so that a caller reading often
   * reuses one buffer instead of having fresh memory zeroed and mapped for each read.
   */
  readPhys(gpa: number, length: number, into?: Uint8Array): Uint8Array {
    this.usable();
    this.checkRange(gpa, length);
    if (into !== undefined && (!(into instanceof Uint8Array) || into.length < length)) {
      throw new ConfigError('into', into, `a Uint8Array of at least ${length} bytes`);
    }
    const out = into ?? new Uint8Array(length);
    this.engine.reclaim.physRead(this.id, asGpa(gpa), length, out, this.resolver);
    return out;
  }

  /**
   * Copies a raw memory image (a file path, streamed in 1 MiB chunks, or bytes) into guest
   * memory at `gpa`. All-zero pages over unbacked memory stay unbacked (they read zero anyway).
   * Returns the bytes loaded. A path needs the Node entry ('memvisor/node').
   */
  loadImage(image: string | Uint8Array, gpa = 0): number {
    this.usable();
    if (image instanceof Uint8Array) {
      this.checkRange(gpa, image.length);
      this.checkUserRange('gpa', gpa, image.length);
      this.engine.reclaim.physWrite(this.id, asGpa(gpa), image, this.resolver, true);
      return image.length;
    }
    if (typeof image !== 'string') throw new ConfigError('image', image, 'a file path or a Uint8Array');
    const file = nodeFiles('image', image, 'the image as bytes (a Uint8Array) in this build').openImage(image);
    try {
      const size = file.size;
      this.checkRange(gpa, size);
      this.checkUserRange('gpa', gpa, size);
      // each window of the file is read straight into engine memory
      this.engine.reclaim.physWriteFrom(this.id, asGpa(gpa), size, (dst, done) => file.read(dst, done), this.resolver, true);
      return size;
    } finally {
      file.close();
    }
  }

  /**
   * Does what a stop of the fault path on `gppn` asks of TypeScript, so that the caller can
   * retry: 'swapIn' reads the page back (with the run of swapped pages up to `end`); 'noFrame'
   * and 'limit' have the host reclaim frames. Used by guest-physical access here and by
   * translations through an Mmu (src/translate/mmu.ts), through `faultResolver`.
   */
  private resolveFault(gppn: Gppn, need: HostNeed, end: Gppn): void {
    if (need === 'swapIn') this.swapIn(gppn, end);
    else this.host.relieve(this, need);
  }

  /**
   * Reads Swapped `gppn` back from the swap store, with the run of Swapped pages after it up to
   * `end` (at most one batch, and only as many as fit without reclaiming), straight into frames
   * the engine gives, verifies each, and makes them resident. Slots are read in clusters. A page
   * that fails to read or verify faults the VM after the pages before it are committed, as one by
   * one. With no frame free, it goes page by page through staging, reclaiming.
   */
  private swapIn(gppn: Gppn, end: Gppn): void {
    const r = this.engine.reclaim;
    const run = r.swapInList(this.id, gppn, end);
    const n = run.n;
    if (n === 0) throw new MemvisorError(`swap-in of GPPN ${gppn} of VM ${JSON.stringify(this.name)}: the page is not swapped`);
    let done = 0;
    let error: SwapIoError | SwapChecksumError | null = null;
    const frames = r.swapInFrames(this.id, n);
    if (frames) {
      try {
        ({ done, error } = this.swap.readPages(run.slots, run.gppns, n, frames));
      } finally {
        r.swapInFramesCommit(this.id, n, done); // frees the frames of pages not read
      }
      for (let i = 0; i < done; i++) this.swap.release(run.slots[i]);
    } else {
      ({ done, error } = this.swap.readPages(run.slots, run.gppns, n, r.swapInStaging(n)));
      for (let c = 0; c < done; c++) {
        const g = asGppn(run.gppns[c]);
        const commit = { step: () => r.swapInCommit(this.id, g, c), operation: () => `the swap-in of GPPN ${g}` };
        drive(this.resolver, commit, commit.step());
        this.swap.release(run.slots[c]);
      }
    }
    if (error) {
      this.faultedBy ??= error; // the first cause stays the one the VM reports
      throw error;
    }
  }

  // ---- reclaim mechanisms -----------------------------------------------------------------

  /**
   * Reclaims `count` pages chosen by the VM's victim policy: each is compressed into the zip
   * cache when it fits (<= 2 KiB) and the cache has room, otherwise written to the swap store.
   * Stops early, losing nothing, when no resident page is left, the swap store is full, or a
   * swap write fails (that victim stays resident; the error is in the result).
   */
  pageOut(count: number): PageOutResult {
    this.usable();
    checkInt('count', count, 0, this.pages);
    return this.pageOutInternal(count);
  }

  /** @internal: pageOut without the faulted check (host pressure relief calls it). */
  pageOutInternal(count: number): PageOutResult {
    const r = this.engine.reclaim;
    const res: PageOutResult = {
      requested: count, compressed: 0, swapped: 0, shared: 0, evicted: 0, writeFailed: 0, swapFull: false, noVictim: false, error: null,
    };
    // the clock reads pmap accessed bits; accesses that hit in the TLB are known only to the EPT
    // or shadow leaves, so harvest those first (one pass, with batched TLB invalidations)
    if (this.victimPolicy === 'lru' && this.paging) this.engine.translate.harvest(this.id, 0, this.pages);
    let done = 0;
    while (done < count) {
      const sel = r.pageoutSelect(this.id, count - done, this.victimPolicy, this.swap.free);
      res.compressed += sel.zipped;
      res.shared += sel.shared;
      done += sel.victims;
      if (sel.gppns.length > 0 && this.swapOutListed(sel, res)) break;
      if (sel.stop === 'noVictim') {
        res.noVictim = true;
        break;
      }
      if (sel.stop === 'swapFull') {
        res.swapFull = true;
        break;
      }
      if (sel.victims === 0) break;
    }
    this.swapTarget = res.swapFull ? count - done : 0;
    if (res.shared > 0) this.host.mergedBeforeSwap(res.shared);
    return res;
  }

  /**
   * @internal Evicts up to `count` of the oldest compressed pages to the swap store (the zip
   * cache giving frames back to another VM or a reservation). Returns what it did (`evicted`).
   */
  zipEvictInternal(count: number): PageOutResult {
    const r = this.engine.reclaim;
    const res: PageOutResult = {
      requested: count, compressed: 0, swapped: 0, shared: 0, evicted: 0, writeFailed: 0, swapFull: false, noVictim: false, error: null,
    };
    let done = 0;
    while (done < count) {
      if (this.swap.free === 0) {
        res.swapFull = true;
        break;
      }
      const sel = r.pageoutEvict(this.id, count - done, this.swap.free);
      const n = sel.gppns.length;
      if (n === 0) {
        res.noVictim = true;
        break;
      }
      done += n;
      if (this.swapOutListed(sel, res)) break;
    }
    return res;
  }

  /**
   * Writes the pages a page-out or eviction batch listed to the swap store and commits them (a
   * page whose write failed stays where it was). Counts into `res`; returns true when a write
   * failed (res.error says why).
   */
  private swapOutListed(sel: PageoutBatch, res: PageOutResult): boolean {
    const r = this.engine.reclaim;
    const n = sel.gppns.length;
    const slots = this.swap.alloc(n);
    const { ok, error } = this.swap.writePages(slots, sel.gppns, sel.pages);
    const commit: number[] = [];
    for (let i = 0; i < n; i++) {
      if (ok[i]) {
        commit.push(slots[i]);
        if (sel.fromZipCache[i]) res.evicted++;
        else res.swapped++;
      } else {
        this.swap.release(slots[i]);
        commit.push(r.NO_SLOT);
        if (!sel.fromZipCache[i]) res.writeFailed++;
      }
    }
    r.swapCommit(this.id, commit, n);
    if (error) res.error ??= error;
    return error !== null;
  }

  /**
   * The balloon driver hands over `gppns` (pinned in the guest): their backing is freed and
   * they become Ballooned. At most balloonMaxPages may be ballooned at once. Returns how many.
   */
  balloonInflate(gppns: readonly number[]): number {
    this.usable();
    this.checkList('gppns', gppns);
    const have = this.engine.reclaim.vmStateCount(this.id, PState.Ballooned);
    if (have + gppns.length > this.balloonMaxPages) {
      throw new ConfigError('gppns', gppns, `at most ${this.balloonMaxPages - have} more pages (balloon cap ${this.balloonMaxPages} pages, ${have} ballooned)`);
    }
    const r = this.engine.reclaim.balloonInflate(this.id, gppns);
    if ('bad' in r) this.balloonError(gppns, r.bad, r.index, 'not already ballooned');
    for (const slot of r.freedSlots) this.swap.release(slot);
    return r.done;
  }

  /** The balloon driver releases `gppns` (all Ballooned) back to the guest: they become unbacked. Returns how many. */
  balloonDeflate(gppns: readonly number[]): number {
    this.usable();
    this.checkList('gppns', gppns);
    const r = this.engine.reclaim.balloonDeflate(this.id, gppns);
    if ('bad' in r) this.balloonError(gppns, r.bad, r.index, 'ballooned');
    return r.done;
  }

  /**
   * @internal balloonInflate for a list the guest OS model already wrote into staging
   * (src/engine/guest.ts): no copy, no per-page JavaScript; the module validates it whole.
   * Returns the pages ballooned.
   */
  balloonInflateStaged(list: StagedList): number {
    this.usable();
    const have = this.engine.reclaim.vmStateCount(this.id, PState.Ballooned);
    if (have + list.n > this.balloonMaxPages) {
      throw new ConfigError('gppns', `${list.n} pages`, `at most ${this.balloonMaxPages - have} more pages (balloon cap ${this.balloonMaxPages} pages, ${have} ballooned)`);
    }
    const r = this.engine.reclaim.balloonInflateStaged(this.id, list);
    if ('bad' in r) throw new MemvisorError(`balloon inflate of VM ${JSON.stringify(this.name)}: entry ${r.index} of the guest's list refused (${r.bad})`);
    for (const slot of r.freedSlots) this.swap.release(slot);
    return r.done;
  }

  /** @internal balloonDeflate for a list the guest OS model wrote into staging. Returns the pages deflated. */
  balloonDeflateStaged(list: StagedList): number {
    this.usable();
    const r = this.engine.reclaim.balloonDeflateStaged(this.id, list);
    if ('bad' in r) throw new MemvisorError(`balloon deflate of VM ${JSON.stringify(this.name)}: entry ${r.index} of the guest's list refused (${r.bad})`);
    return r.done;
  }

  /**
   * @internal Free page reporting, the host's side: what backs the pages of `list` (reported free
   * by the guest, written into staging by its model) is discarded and they become unbacked; the
   * swap slots they held are freed.
   */
  discardStaged(list: StagedList): void {
    this.usable();
    for (const slot of this.engine.reclaim.pagesDiscard(this.id, list)) this.swap.release(slot);
  }

  /** Checks that `gppns` is an array of GPPNs of this VM outside the guest OS model's range. */
  private checkList(field: string, gppns: readonly number[]): void {
    if (!Array.isArray(gppns)) throw new ConfigError(field, gppns, 'an array of GPPNs');
    const os = this.paging?.guestOs;
    for (let i = 0; i < gppns.length; i++) {
      const g = gppns[i];
      if (typeof g !== 'number' || !Number.isInteger(g) || g < 0 || g >= this.pages) {
        throw new ConfigError(`${field}[${i}]`, g, `a GPPN in [0, ${this.pages - 1}] (VM ${JSON.stringify(this.name)})`);
      }
      // the guest OS model's pages are its page tables and mapped data, which no balloon driver would hand over
      if (os && g >= os.first && g < os.end) {
        throw new ConfigError(`${field}[${i}]`, g, `a GPPN outside the guest OS model's range [${os.first}, ${os.end}) (VM ${JSON.stringify(this.name)})`);
      }
    }
  }

  /** Turns a refused balloon list into a typed error naming the entry. */
  private balloonError(gppns: readonly number[], bad: 'range' | 'duplicate' | 'state', i: number, wanted: string): never {
    const why = bad === 'duplicate' ? `a GPPN listed once (it is also at an earlier index)` : bad === 'state' ? `a page that is ${wanted}` : `a GPPN below ${this.pages}`;
    throw new ConfigError(`gppns[${i}]`, gppns[i], why);
  }

  /**
   * What the zip cache would make of this VM's private pages among GPPNs [first, first + pages),
   * changing nothing: each resident private page LZ4-compressed in WebAssembly, its size counted
   * in buckets of 256 bytes (the last: did not compress below 4 KiB), the sizes summed.
   */
  zipSurvey(first = 0, pages?: number): ZipSurvey {
    this.usable();
    checkInt('first', first, 0, this.pages);
    // the default only once `first` is known to be a number
    const n = pages === undefined ? this.pages - first : checkInt('pages', pages, 0, this.pages - first);
    return this.engine.reclaim.zipSurvey(this.id, asGppn(first), n);
  }

  // ---- working-set sampling --------------------------------------------------------------------

  /**
   * One sample period of the working-set sampler (assembly/translate/wsample.ts): counts how many
   * of the pages `armed` last period (null: none yet) were touched since, then arms `n` pages
   * drawn at random (seeded by `seed`; same seed, same pages) so that their next touch is seen.
   * Returns the count and the new armed pages, to pass back next period.
   */
  sampleWorkingSet(armed: Uint32Array | null, n: number, seed: number): { touched: number; sampled: number; armed: Uint32Array } {
    if (this.off) throw new VmPoweredOffError(this.name);
    checkInt('n', n, 0, 1 << 20);
    checkInt('seed', seed, 0, Number.MAX_SAFE_INTEGER);
    if (armed !== null && !(armed instanceof Uint32Array)) throw new ConfigError('armed', armed, 'null or the Uint32Array the last sample returned');
    const r = this.engine.translate.wsSample(this.id, armed, n, seed);
    return { touched: r.touched, sampled: armed?.length ?? 0, armed: r.armed };
  }

  // ---- stats ---------------------------------------------------------------------------------

  /** This VM's counters (see VmStats for units). */
  stats(): VmStats {
    if (this.off) throw new VmPoweredOffError(this.name);
    const e = this.engine;
    const id = this.id;
    const v = e.reclaim.vmStats(id);
    const sw = this.swap.stats();
    return {
      name: this.name,
      MEMSZ: this.pages,
      unbacked: v.unbacked,
      mapped: v.mapped,
      SHRD: v.shared + v.zero,
      ZERO: v.zero,
      SHRDSVD: e.reclaim.vmSharedSaved(id),
      resident: residentOf(v),
      compressed: v.compressed,
      SWCUR: v.swapped,
      SWTGT: v.swapped + this.swapTarget,
      SWR: v.swapIn,
      SWW: v.swapOut,
      ZIP: v.zip,
      UNZIP: v.unzip,
      cacheCapBytes: v.cacheCapBytes,
      CACHESZ: v.cacheBytes,
      CACHEUSD: v.cacheUsedBytes,
      zipFrames: v.zipFrames,
      MCTLSZ: v.ballooned,
      MCTLMAX: this.balloonMaxPages,
      balloonTouches: v.balloonTouches,
      firstTouches: v.firstTouches,
      cowBreaks: v.cowBreaks,
      zipEvictions: v.zipEvictions,
      swapCapacity: sw.capacity,
      swapWriteErrors: sw.writeErrors,
      swapReadErrors: sw.readErrors,
      swapChecksumErrors: sw.checksumErrors,
      swapReadRetries: sw.readRetries,
      faulted: this.faultedBy ? 1 : 0,
      largePages: e.reclaim.largeGroups(id),
      mmu: this.mmu,
      paging: this.paging ? pagingStats(e, id) : null,
    };
  }

  /** @internal Records the paging an Mmu set up for this VM (Host.setPaging). */
  setPaging(p: MmuVm): void {
    this.paging = p;
  }

  /** GPPNs [first, end) owned by the guest OS model of an attached Mmu, or null. */
  get guestOsRange(): GuestOsRange | null {
    return this.paging?.guestOs ?? null;
  }

  // ---- checks --------------------------------------------------------------------------------

  private usable(): void {
    if (this.off) throw new VmPoweredOffError(this.name);
    if (this.faultedBy) throw new VmFaultedError(this.name, this.faultedBy);
  }

  /** Rejects a user write that overlaps the guest OS model's GPPNs (its page tables and data must stay its own). */
  private checkUserRange(field: string, gpa: number, length: number): void {
    const os = this.paging?.guestOs;
    if (!os || length === 0) return;
    const lo = gppnOf(asGpa(gpa)), hi = gppnOf(asGpa(gpa + length - 1));
    if (hi >= os.first && lo < os.end) {
      throw new ConfigError(field, gpa, `a range of ${length} bytes outside the guest OS model's GPPNs [${os.first}, ${os.end}), i.e. below gPA 0x${(os.first * PAGE).toString(16)}${os.end < this.pages ? ` or from 0x${(os.end * PAGE).toString(16)}` : ''} (VM ${JSON.stringify(this.name)}; translate through the Mmu to reach that memory)`);
    }
  }

  private checkRange(gpa: number, length: number): void {
    const size = this.pages * PAGE;
    checkInt('gpa', gpa, 0, size);
    checkInt('length', length, 0, size - gpa);
  }
}
