/**
 * A VM: its configuration, its guest-physical memory (read, write, load an image), the reclaim
 * mechanisms aimed at it (page-out, balloon) and its stats. The page loops run in WebAssembly;
 * this file validates arguments, moves bulk data through the staging region, and does what the
 * mechanism asks TypeScript to do (swap I/O, finding free frames) between batches:
 *
 *   physAccess(batch) --FAULT_IO------> read + verify the run of swapped pages the window touches
 *                                       straight into frames (swapInFrames, swapInFramesCommit; page by
 *                                       page through staging and swapInCommit when reclaim is needed),
 *                                       call again
 *                     --FAULT_NO_FRAME-> host reclaims frames from some VM, call again
 *                     --FAULT_LIMIT----> page out from this VM, call again
 *
 * Bulk data crosses through the staging region, in the windows of src/engine/staging.ts.
 *
 * Faults stay with the VM they hit: a swap read that fails after the store's retries faults this
 * VM (its first cause is kept), and a swap write that fails leaves the page resident. A faulted
 * VM's memory is still reclaimable, and `powerOff()` frees all of it (host.ts).
 */
import { openSync, closeSync, fstatSync, readSync } from 'node:fs';
import { PAGE, type Engine } from '../engine/engine.js';
import {
  ConfigError, MemvisorError, OutOfMachineMemoryError, SwapChecksumError, SwapIoError, VmFaultedError, VmPoweredOffError, checkInt,
} from '../errors.js';
import type { SwapStore } from './swapstore.js';
import {
  BATCH, STAGE_AUX, STAGE_DATA, STAGE_DATA_BYTES, STAGE_EVICT, STAGE_IN, STAGE_IN_ADDRS, STAGE_IN_LIST, STAGE_REQ,
} from '../engine/staging.js';
import { pagingStats, type MmuMode, type MmuVm, type PagingStats } from '../translate/mmu.js';
import type { StagedList } from '../engine/sim.js';

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
export type VictimPolicy = 'random' | 'lru';

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
}

/** What `vm.pageOut(count)` did. Units: pages. */
export interface PageOutResult {
  /** pages asked for */
  requested: number;
  /** victims compressed into the zip cache */
  compressed: number;
  /** victims written to the swap store */
  swapped: number;
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
  /** MMU virtualization mode */
  mmu: VmMmuMode;
  /** hypervisor-side paging counters once an Mmu attached the VM (host.mmu().attach), else null */
  paging: PagingStats | null;
}

/** What the host provides to its VMs. */
export interface HostContext {
  readonly engine: Engine;
  /** Frees machine frames for `vm` (FAULT_NO_FRAME) or pages out from it (FAULT_LIMIT); throws when nothing can be reclaimed. */
  relieve(vm: VM, code: number): void;
  /** Address of the staging region (it never moves; it may grow). */
  readonly staging: number;
  /** Makes the staging region at least `bytes` long. */
  stage(bytes: number): void;
  /** Frees everything `vm` holds and removes it from the host (vm.powerOff, host.removeVM). */
  powerOff(vm: VM): void;
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
  /** Slots and GPPNs of the swap-in batch in flight (reused: no allocation per batch). */
  private readonly inSlots = new Uint32Array(BATCH);
  private readonly inGppns = new Uint32Array(BATCH);

  /** @internal: created by Host.addVM. */
  constructor(
    private readonly host: HostContext,
    readonly id: number,
    readonly name: string,
    cfg: Required<Omit<VmConfig, 'name' | 'cachePercent'>>,
    balloonMaxPages: number,
    readonly swap: SwapStore,
  ) {
    this.memoryMiB = cfg.memoryMiB;
    this.pages = cfg.memoryMiB * 256;
    this.reservationMiB = cfg.reservationMiB;
    this.limitMiB = cfg.limitMiB;
    this.shares = cfg.shares;
    this.mmu = cfg.mmu;
    this.salt = cfg.salt;
    this.victimPolicy = cfg.victimPolicy;
    this.balloonMaxPages = balloonMaxPages;
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
    return residentOf(this.engine.vmStats(this.id));
  }

  /** pmap state of `gppn` (PState). */
  pageState(gppn: number): PState {
    if (this.off) throw new VmPoweredOffError(this.name);
    checkInt('gppn', gppn, 0, this.pages - 1);
    return this.engine.pmapState(this.id, gppn);
  }

  // ---- guest-physical access -----------------------------------------------------------------

  /** Writes `bytes` at guest-physical address `gpa` (any alignment and length). */
  writePhys(gpa: number, bytes: Uint8Array): void {
    this.usable();
    if (!(bytes instanceof Uint8Array)) throw new ConfigError('bytes', bytes, 'a Uint8Array');
    this.checkRange(gpa, bytes.length);
    this.checkUserRange('gpa', gpa, bytes.length);
    for (let done = 0; done < bytes.length; done += STAGE_DATA_BYTES) {
      const n = Math.min(STAGE_DATA_BYTES, bytes.length - done);
      this.engine.u8.set(bytes.subarray(done, done + n), this.host.staging + STAGE_DATA);
      this.access(gpa + done, n, this.engine.codes.PHYS_WRITE);
    }
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
    for (let done = 0; done < length; done += STAGE_DATA_BYTES) {
      const n = Math.min(STAGE_DATA_BYTES, length - done);
      this.access(gpa + done, n, 0);
      const at = this.host.staging + STAGE_DATA;
      out.set(this.engine.u8.subarray(at, at + n), done);
    }
    return out;
  }

  /**
   * Copies a raw memory image (a file path, streamed in 1 MiB chunks, or bytes) into guest
   * memory at `gpa`. All-zero pages over unbacked memory stay unbacked (they read zero anyway).
   * Returns the bytes loaded.
   */
  loadImage(image: string | Uint8Array, gpa = 0): number {
    this.usable();
    if (image instanceof Uint8Array) {
      this.checkRange(gpa, image.length);
      this.checkUserRange('gpa', gpa, image.length);
      for (let done = 0; done < image.length; done += STAGE_DATA_BYTES) {
        const n = Math.min(STAGE_DATA_BYTES, image.length - done);
        this.engine.u8.set(image.subarray(done, done + n), this.host.staging + STAGE_DATA);
        this.access(gpa + done, n, this.engine.codes.PHYS_WRITE | this.engine.codes.PHYS_SKIP_ZERO);
      }
      return image.length;
    }
    if (typeof image !== 'string') throw new ConfigError('image', image, 'a file path or a Uint8Array');
    let fd: number;
    try {
      fd = openSync(image, 'r');
    } catch (e) {
      throw new ConfigError('image', image, `a readable file (${(e as Error).message})`);
    }
    try {
      const st = fstatSync(fd);
      // a directory opens for reading on Linux; its first read would fail with a raw EISDIR
      if (!st.isFile()) throw new ConfigError('image', image, 'a regular file of guest memory');
      const size = st.size;
      this.checkRange(gpa, size);
      this.checkUserRange('gpa', gpa, size);
      let done = 0;
      while (done < size) {
        const want = Math.min(STAGE_DATA_BYTES, size - done);
        let n = 0;
        while (n < want) {
          let r: number;
          try {
            r = readSync(fd, this.engine.u8, this.host.staging + STAGE_DATA + n, want - n, done + n);
          } catch (e) {
            throw new ConfigError('image', image, `a readable file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message} at byte ${done + n})`);
          }
          if (r === 0) throw new ConfigError('image', image, `${size} readable bytes (it shrank while loading)`);
          n += r;
        }
        this.access(gpa + done, n, this.engine.codes.PHYS_WRITE | this.engine.codes.PHYS_SKIP_ZERO);
        done += n;
      }
      return size;
    } finally {
      closeSync(fd);
    }
  }

  /** Runs one staged window through physAccess, doing what each FAULT_* asks until it completes. */
  private access(gpa: number, len: number, flags: number): void {
    const e = this.engine;
    let buf = this.host.staging + STAGE_DATA;
    let relieved = 0;
    while (true) {
      const rc = e.physAccess(this.id, gpa, len, buf, flags);
      if (rc === 0) return;
      const moved = e.physAccessDone();
      gpa += moved;
      len -= moved;
      buf += moved;
      const gppn = e.physAccessGppn();
      if (rc === this.engine.codes.FAULT_RANGE) throw new ConfigError('gpa', gpa, `an address below ${this.pages * PAGE} (VM ${JSON.stringify(this.name)})`);
      if (rc !== this.engine.codes.FAULT_IO && moved === 0 && ++relieved > 64) throw new OutOfMachineMemoryError(`VM ${JSON.stringify(this.name)}: no frame for GPPN ${gppn} after 64 reclaim rounds`);
      // a swap-in may bring back the run of swapped pages the rest of this window will touch
      this.resolveFault(gppn, rc, Math.floor((gpa + len - 1) / PAGE) + 1);
    }
  }

  /**
   * @internal Does what a pmap fault on `gppn` asks of TypeScript, so that the caller can retry:
   * FAULT_IO swaps the page in; FAULT_NO_FRAME and FAULT_LIMIT have the host reclaim frames.
   * Used by guest-physical access here and by translations through an Mmu (src/translate/mmu.ts).
   * `end`: the access goes on up to this GPPN (exclusive), so a swap-in may read the run of
   * Swapped pages from `gppn` up to it in one batch.
   */
  resolveFault(gppn: number, code: number, end = gppn + 1): void {
    if (code === this.engine.codes.FAULT_IO) this.swapIn(gppn, end);
    else if (code === this.engine.codes.FAULT_NO_FRAME || code === this.engine.codes.FAULT_LIMIT) this.host.relieve(this, code);
    else throw new MemvisorError(`pmap fault on GPPN ${gppn} of VM ${JSON.stringify(this.name)}: unexpected status 0x${code.toString(16)}`);
  }

  /**
   * Reads Swapped `gppn` back from the swap store, with the run of Swapped pages after it up to
   * `end` (at most BATCH, and only as many as fit without reclaiming: swapInList), straight into
   * frames given by one WebAssembly call, verifies each, and makes them resident with another.
   * Slots are read in clusters. A page that fails to read or verify faults the VM after the pages
   * before it are committed, as one by one. With no frame free, it goes page by page, reclaiming.
   */
  private swapIn(gppn: number, end: number): void {
    const e = this.engine;
    const list = this.host.staging + STAGE_IN_LIST;
    const addrs = this.host.staging + STAGE_IN_ADDRS;
    const n = e.swapInList(this.id, gppn, end, list, BATCH);
    if (n === 0) throw new MemvisorError(`swap-in of GPPN ${gppn} of VM ${JSON.stringify(this.name)}: the page is not swapped`);
    const dv = e.view;
    for (let i = 0; i < n; i++) {
      this.inGppns[i] = dv.getUint32(list + i * 8, true);
      this.inSlots[i] = dv.getUint32(list + i * 8 + 4, true);
    }
    let done = 0;
    let error: SwapIoError | SwapChecksumError | null = null;
    if (e.swapInFrames(this.id, list, n, addrs) === n) {
      try {
        const dsts: Uint8Array[] = [];
        for (let i = 0; i < n; i++) {
          const a = dv.getUint32(addrs + i * 4, true);
          dsts.push(e.u8.subarray(a, a + PAGE));
        }
        ({ done, error } = this.swap.readPages(this.inSlots, this.inGppns, n, dsts));
      } finally {
        e.swapInFramesCommit(this.id, list, n, done, addrs); // frees the frames of pages not read
      }
      for (let i = 0; i < done; i++) this.swap.release(this.inSlots[i]);
    } else {
      const at = this.host.staging + STAGE_IN;
      const dsts: Uint8Array[] = [];
      for (let i = 0; i < n; i++) dsts.push(e.u8.subarray(at + i * PAGE, at + (i + 1) * PAGE));
      ({ done, error } = this.swap.readPages(this.inSlots, this.inGppns, n, dsts));
      for (let c = 0; c < done; c++) {
        for (let round = 0; ; round++) {
          const rc = e.swapInCommit(this.id, this.inGppns[c], at + c * PAGE);
          if (rc < this.engine.codes.FAULT_LIMIT) break;
          if (round > 64) throw new OutOfMachineMemoryError(`VM ${JSON.stringify(this.name)}: no frame to swap in GPPN ${this.inGppns[c]}`);
          this.host.relieve(this, rc);
        }
        this.swap.release(this.inSlots[c]);
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
    const e = this.engine;
    const res: PageOutResult = {
      requested: count, compressed: 0, swapped: 0, evicted: 0, writeFailed: 0, swapFull: false, noVictim: false, error: null,
    };
    const policy = this.victimPolicy === 'lru' ? 1 : 0;
    // the clock reads pmap accessed bits; accesses that hit in the TLB are known only to the EPT
    // or shadow leaves, so harvest those first (one pass, with batched TLB invalidations)
    if (policy === 1 && this.paging) e.pagingHarvest(this.id, 0, this.pages);
    const req = this.host.staging + STAGE_REQ;
    const evict = this.host.staging + STAGE_EVICT;
    let done = 0;
    while (done < count) {
      const batch = Math.min(count - done, BATCH);
      const outCap = Math.min(BATCH, this.swap.free);
      const n = e.reclaimSelect(this.id, batch, policy, req, outCap, evict);
      const last = e.reclaimLast();
      res.compressed += last.zipped;
      done += last.victims;
      if (n > 0 && this.swapOutListed(n, res)) break;
      if (last.stop === this.engine.codes.STOP_NO_VICTIM) {
        res.noVictim = true;
        break;
      }
      if (last.stop === this.engine.codes.STOP_SWAP_FULL) {
        res.swapFull = true;
        break;
      }
      if (last.victims === 0) break;
    }
    this.swapTarget = res.swapFull ? count - done : 0;
    return res;
  }

  /**
   * @internal Evicts up to `count` of the oldest compressed pages to the swap store (the zip
   * cache giving frames back to another VM or a reservation). Returns what it did (`evicted`).
   */
  zipEvictInternal(count: number): PageOutResult {
    const e = this.engine;
    const res: PageOutResult = {
      requested: count, compressed: 0, swapped: 0, evicted: 0, writeFailed: 0, swapFull: false, noVictim: false, error: null,
    };
    const req = this.host.staging + STAGE_REQ;
    const evict = this.host.staging + STAGE_EVICT;
    let done = 0;
    while (done < count) {
      const outCap = Math.min(BATCH, this.swap.free);
      if (outCap === 0) {
        res.swapFull = true;
        break;
      }
      const n = e.reclaimEvict(this.id, Math.min(count - done, BATCH), req, outCap, evict);
      if (n === 0) {
        res.noVictim = true;
        break;
      }
      done += n;
      if (this.swapOutListed(n, res)) break;
    }
    return res;
  }

  /**
   * Writes the `n` pages listed at STAGE_REQ by reclaimSelect or reclaimEvict to the swap store
   * and commits them (a page whose write failed stays where it was). Counts into `res`; returns
   * true when a write failed (res.error says why).
   */
  private swapOutListed(n: number, res: PageOutResult): boolean {
    const e = this.engine;
    const req = this.host.staging + STAGE_REQ;
    const evict = this.host.staging + STAGE_EVICT;
    const dv = e.view;
    const gppns: number[] = [];
    const pages: Uint8Array[] = [];
    const evicted: boolean[] = [];
    for (let i = 0; i < n; i++) {
      const g = dv.getUint32(req + i * 8, true);
      const addr = dv.getUint32(req + i * 8 + 4, true);
      gppns.push(g);
      pages.push(e.u8.subarray(addr, addr + PAGE));
      // a page evicted from the zip cache was decompressed into `evict`; a victim is in its frame
      evicted.push(addr >= evict && addr < evict + BATCH * PAGE);
    }
    const slots = this.swap.alloc(n);
    const { ok, error } = this.swap.writePages(slots, gppns, pages);
    for (let i = 0; i < n; i++) {
      if (ok[i]) {
        dv.setUint32(req + i * 8 + 4, slots[i], true);
        if (evicted[i]) res.evicted++;
        else res.swapped++;
      } else {
        this.swap.release(slots[i]);
        dv.setUint32(req + i * 8 + 4, this.engine.codes.NO_SLOT, true);
        if (!evicted[i]) res.writeFailed++;
      }
    }
    e.swapCommit(this.id, req, n);
    if (error) res.error ??= error;
    return error !== null;
  }

  /**
   * The balloon driver hands over `gppns` (pinned in the guest): their backing is freed and
   * they become Ballooned. At most balloonMaxPages may be ballooned at once. Returns how many.
   */
  balloonInflate(gppns: readonly number[]): number {
    this.usable();
    const list = this.stageList('gppns', gppns);
    const have = this.engine.vmStateCount(this.id, PState.Ballooned);
    if (have + gppns.length > this.balloonMaxPages) {
      throw new ConfigError('gppns', gppns, `at most ${this.balloonMaxPages - have} more pages (balloon cap ${this.balloonMaxPages} pages, ${have} ballooned)`);
    }
    const slots = list + gppns.length * 4;
    const r = this.engine.balloonInflate(this.id, list, gppns.length, slots);
    if (r < 0) this.balloonError(gppns, r, 'not already ballooned');
    const freed = this.engine.balloonSlotsFreed();
    const dv = this.engine.view;
    for (let i = 0; i < freed; i++) this.swap.release(dv.getUint32(slots + i * 4, true));
    return r;
  }

  /** The balloon driver releases `gppns` (all Ballooned) back to the guest: they become unbacked. Returns how many. */
  balloonDeflate(gppns: readonly number[]): number {
    this.usable();
    const list = this.stageList('gppns', gppns);
    const r = this.engine.balloonDeflate(this.id, list, gppns.length);
    if (r < 0) this.balloonError(gppns, r, 'ballooned');
    return r;
  }

  /**
   * @internal balloonInflate for a list the guest model already wrote into staging (src/engine/sim.ts):
   * no copy, no per-page JavaScript; the module validates it whole. `slotsAt`: room for `list.n`
   * u32 swap slots. Returns the pages ballooned.
   */
  balloonInflateStaged(list: StagedList, slotsAt: number): number {
    this.usable();
    const have = this.engine.vmStateCount(this.id, PState.Ballooned);
    if (have + list.n > this.balloonMaxPages) {
      throw new ConfigError('gppns', `${list.n} pages`, `at most ${this.balloonMaxPages - have} more pages (balloon cap ${this.balloonMaxPages} pages, ${have} ballooned)`);
    }
    const r = this.engine.balloonInflate(this.id, list.at, list.n, slotsAt);
    if (r < 0) throw new MemvisorError(`balloon inflate of VM ${JSON.stringify(this.name)}: entry ${this.engine.balloonBadIndex()} of the guest's list refused (code ${r})`);
    const freed = this.engine.balloonSlotsFreed();
    if (freed > 0) this.releaseSwapSlots(new Uint32Array(this.engine.u8.buffer, slotsAt, freed).slice());
    return r;
  }

  /** @internal balloonDeflate for a list the guest model wrote into staging. Returns the pages deflated. */
  balloonDeflateStaged(list: StagedList): number {
    this.usable();
    const r = this.engine.balloonDeflate(this.id, list.at, list.n);
    if (r < 0) throw new MemvisorError(`balloon deflate of VM ${JSON.stringify(this.name)}: entry ${this.engine.balloonBadIndex()} of the guest's list refused (code ${r})`);
    return r;
  }

  /** @internal Frees swap store slots whose pages the host dropped (free page reporting). */
  releaseSwapSlots(slots: Uint32Array): void {
    for (const s of slots) this.swap.release(s);
  }

  /** Checks that `gppns` is an array of integers and copies it into staging as u32; returns its address. */
  private stageList(field: string, gppns: readonly number[]): number {
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
    this.host.stage(STAGE_AUX + gppns.length * 8);
    const at = this.host.staging + STAGE_AUX;
    new Uint32Array(this.engine.u8.buffer, at, gppns.length).set(gppns);
    return at;
  }

  /** Turns a BALLOON_* code into a typed error naming the entry. */
  private balloonError(gppns: readonly number[], code: number, wanted: string): never {
    const i = this.engine.balloonBadIndex();
    const { BALLOON_DUPLICATE, BALLOON_BAD_STATE } = this.engine.codes;
    const c = code >>> 0; // the codes are negative i32, read as u32
    const why = c === BALLOON_DUPLICATE ? `a GPPN listed once (it is also at an earlier index)` : c === BALLOON_BAD_STATE ? `a page that is ${wanted}` : `a GPPN below ${this.pages}`;
    throw new ConfigError(`gppns[${i}]`, gppns[i], why);
  }

  // ---- stats ---------------------------------------------------------------------------------

  /** This VM's counters (see VmStats for units). */
  stats(): VmStats {
    if (this.off) throw new VmPoweredOffError(this.name);
    const e = this.engine;
    const id = this.id;
    const v = e.vmStats(id);
    const sw = this.swap.stats();
    return {
      name: this.name,
      MEMSZ: this.pages,
      unbacked: v.unbacked,
      mapped: v.mapped,
      SHRD: v.shared + v.zero,
      ZERO: v.zero,
      SHRDSVD: e.vmSharedSaved(id),
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
      mmu: this.mmu,
      paging: this.paging ? pagingStats(e, id) : null,
    };
  }

  /** @internal Records the paging an Mmu set up for this VM (Host.setPaging). */
  setPaging(p: MmuVm): void {
    this.paging = p;
  }

  /** GPPNs [first, end) owned by the guest OS model of an attached Mmu, or null. */
  get guestOsRange(): { readonly first: number; readonly end: number } | null {
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
    const lo = Math.floor(gpa / PAGE), hi = Math.floor((gpa + length - 1) / PAGE);
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
