/**
 * reclaim: a Host's VMs as the engine holds them (assembly/reclaim: pmap, zipcache, pageout,
 * balloon, sharing). Guest-physical access runs the fault path in WebAssembly and stops when
 * TypeScript must act; swap-in and page-out hand pages to the host's swap store and take its
 * answers back; every list crosses through a window of the staging region (assembly/layout.ts
 * "staging.*"), laid out as the module says ("swapInEntry", "pageoutReq", ...).
 *
 *   physAccess ──FAULT_IO──────► stop 'swapIn'  ─┐
 *              ──FAULT_NO_FRAME► stop 'noFrame' ─┼─► the fault driver (driver.ts): resolver.resolve, call again
 *              ──FAULT_LIMIT───► stop 'limit'   ─┘
 *
 * A window is one call's: swap-in lists and page-out requests sit below staging.aux, so a
 * translation batch waiting above it (translate.ts) survives the swap-ins and page-outs its
 * faults cause.
 */
import { SKEW_MIN, SKEW_ROOM, skewed, type Bound, type Gateway, type Record_, type RegionInfo } from './gateway.js';
import type { Ram } from './ram.js';
import type { FaultResolver, HostNeed } from './fault.js';
import { drive, type HostStop } from './driver.js';
import { PAGE, gpaAdd, gpaOf, gppnEnd, type Gpa, type Gppn, type Mpn } from './addr.js';
import { CONSTANTS as ALL_CONSTANTS, type Constants } from './abi.generated.js';
import { ConfigError } from '../errors.js';

const EXPORTS = [
  'vmCreate', 'vmTotal', 'pmapEntries', 'pmapState', 'pmapFrame', 'pmapSample', 'pmapFault', 'vmStateCount',
  'vmStatCount', 'vmStatName', 'vmStat', 'vmSharedSaved', 'pmapCowBreaks', 'physAccess', 'swapInCommit', 'swapInList',
  'swapInFrames', 'swapInFramesCommit', 'audit', 'auditDetailCount', 'auditDetailName', 'auditDetail', 'auditText',
  'debugCorrupt', 'zipHistogram', 'zipSurvey',
  'reclaimSeed', 'reclaimSelect', 'reclaimEvict', 'zeroDrop', 'swapCommit', 'vmRelease', 'balloonInflate', 'balloonDeflate', 'pagesDiscard',
  'shareScan', 'sharedCount',
  'sharingHints', 'sharingFullScans', 'sharingVolatile', 'sharingScanned', 'sharingMerged', 'sharingLargeSkipped',
  'sharingCapacity', 'sharingPassPages', 'sharingCursor',
  // the host policies' options and mechanisms (assembly/reclaim/large.ts; caps of sharing and of the zip pool; limits)
  'vmSetLimit', 'vmSetCacheCap', 'largeAllow', 'largeAllowed', 'vmSetLarge', 'pmapLarge', 'largeBreak', 'largeBreakAll', 'largeGroups',
  'largeAllocs', 'largeBreaks', 'largeFailed', 'sharingSetMaxSharing', 'sharingMaxSharing', 'sharingMaxUsers', 'sharingLargeHashed',
  'sharingBrokenMerged', 'zipSetPoolCap', 'zipPoolCap', 'zipPoolRejects', 'reclaimShareFirst',
] as const;

/** The staging windows this module uses (assembly/layout.ts). */
const WINDOWS = ['data', 'inList', 'inAddrs', 'req', 'evict', 'in', 'aux'] as const;
type Window = (typeof WINDOWS)[number];

const CONSTANTS = [
  'FAULT_NO_FRAME', 'FAULT_RANGE', 'FAULT_IO', 'FAULT_LIMIT', 'PHYS_OK', 'PHYS_WRITE', 'PHYS_SKIP_ZERO',
  'STOP_DONE', 'STOP_NO_VICTIM', 'STOP_SWAP_FULL', 'POLICY_RANDOM', 'POLICY_CLOCK', 'ZIP_HIST_BUCKETS',
  'BALLOON_BAD_RANGE', 'BALLOON_DUPLICATE', 'BALLOON_BAD_STATE', 'SCAN_SEQUENTIAL', 'SCAN_RANDOM',
] as const;

/** Victim policies of page-out: ESX's random, or a clock over accessed bits (an LRU approximation). */
export type VictimPolicy = 'random' | 'lru';
/** Why a page-out batch stopped: it chose every victim asked for, found none left, or had no swap slot left. */
export type PageoutStop = 'done' | 'noVictim' | 'swapFull';
/** Why a balloon call refused its list: an entry outside the VM, listed twice, or in the wrong state. */
export type BalloonBad = 'range' | 'duplicate' | 'state';

/**
 * `n` GPPNs (u32) listed in staging, handed in place from one engine call to another (the
 * guest OS model's balloon and free-page lists, src/engine/guest.ts), with room for `n` u32
 * results after the call (the swap slots it frees). Only src/engine reads the addresses.
 */
export interface StagedList {
  readonly n: number;
  /** linear address of the list */
  readonly at: number;
  /** linear address of room for `n` u32 results */
  readonly out: number;
}

/** The run of Swapped pages a swap-in brings back: the first `n` entries of each array. */
export interface SwapInRun {
  n: number;
  readonly gppns: Uint32Array;
  readonly slots: Uint32Array;
}

/** One page-out batch: victims compressed, and the pages listed for the swap store. */
export interface PageoutBatch {
  stop: PageoutStop;
  /** victims compressed into the zip cache */
  zipped: number;
  /** compressed pages listed for swap-out because the zip cache is full */
  evicted: number;
  /** victims chosen (zipped + listed + merged) */
  victims: number;
  /** victims merged with an equal page instead (share before swap) */
  shared: number;
  /** the listed pages: GPPN, its 4 KiB (a frame, or the page decompressed from the zip cache), and which of the two */
  gppns: number[];
  pages: Uint8Array[];
  fromZipCache: boolean[];
}

/** A broken invariant as the audit reports it (the module's numbers; src/host turns them into an AuditError). */
export interface AuditFailure {
  /** the module's AUDIT_* code, and its name without the prefix */
  code: number;
  invariant: string;
  /** what the invariant means (assembly/ram/invariants.ts) */
  text: string;
  /** where: undefined when it does not apply (assembly/ram/failure.ts) */
  vm?: number;
  gppn?: number;
  mpn?: number;
  slot?: number;
  state?: number;
  kind?: number;
  expected?: number;
  found?: number;
}

/** The audit's invariant codes (assembly/ram/invariants.ts AUDIT_*), as the generated ABI lists them. */
const AUDIT_CODES = Object.keys(ALL_CONSTANTS).filter((k) => k.startsWith('AUDIT_')) as (keyof Constants)[];

/** Counters of the sharing scanner (assembly/reclaim/sharing.ts). */
export interface SharingCounters {
  shared: number; hints: number; fullScans: number; volatile: number; scanned: number; merged: number;
  largeSkipped: number; capacity: number; passPages: number; cursor: number;
}

/** The compression survey of a VM's private pages (zipSurvey). */
export interface ZipSurvey {
  /** pages by compressed size: bucket b = [256 b, 256 b + 256) bytes; the last did not compress below 4 KiB */
  histogram: number[];
  /** sum of the compressed sizes (4096 for a page that did not compress below it) */
  bytes: number;
  /** pages surveyed */
  pages: number;
}

export class Reclaim {
  private readonly x: Bound<typeof EXPORTS>;
  private readonly c: { readonly [K in (typeof CONSTANTS)[number]]: number };
  private readonly call: Record_<'physDone' | 'physGppn' | 'pageoutStop' | 'pageoutZipped' | 'pageoutEvicted' | 'pageoutVictims' | 'balloonBadIndex' | 'balloonSlotsFreed' | 'scanMerged' | 'pageoutShared'>;
  private readonly win: { readonly [K in Window]: RegionInfo };
  private readonly physWindow: number;
  private readonly swapIn: Record_<'gppn' | 'slot'>;
  private readonly swapInAddr: Record_<'page'>;
  private readonly req: Record_<'gppn' | 'page' | 'slot'>;
  private readonly survey: Record_<'histogram' | 'bytes'>;
  private readonly vmEntry: Record_<'base' | 'pages'>;
  private readonly pmapEntry: Record_<'frame'>;
  private readonly callAt: number;
  private readonly statNames: readonly string[];
  /** Pages of one page-out or swap-in batch (the windows' capacity). */
  readonly batch: number;
  private windowsReady = false;
  private readonly addr: { readonly [K in Window]: number };
  private readonly run: SwapInRun;

  constructor(private readonly g: Gateway, private readonly ram: Ram, callCtx: number) {
    this.x = g.bind(EXPORTS);
    this.c = g.constantsOf(CONSTANTS);
    this.callAt = callCtx;
    this.call = g.record('callCtx', {
      physDone: 4, physGppn: 4, pageoutStop: 4, pageoutZipped: 4, pageoutEvicted: 4, pageoutVictims: 4,
      balloonBadIndex: 4, balloonSlotsFreed: 4, scanMerged: 4, pageoutShared: 4,
    });
    this.win = g.windows('staging', WINDOWS);
    this.physWindow = this.win.data.size - SKEW_ROOM;
    this.addr = Object.freeze(Object.fromEntries(WINDOWS.map((w) => [w, g.staging + this.win[w].offset]))) as { readonly [K in Window]: number };
    this.swapIn = g.record('swapInEntry', { gppn: 4, slot: 4 });
    this.swapInAddr = g.record('swapInAddr', { page: 4 });
    this.req = g.record('pageoutReq', { gppn: 4, page: 4, slot: 4 });
    this.survey = g.record('zipSurvey', { histogram: this.c.ZIP_HIST_BUCKETS * 4, bytes: 4 });
    this.vmEntry = g.record('vmEntry', { base: 4, pages: 4 });
    this.pmapEntry = g.record('pmapEntry', { frame: 4 });
    const w = this.win;
    this.batch = Math.min(w.inList.size / this.swapIn.size, w.inAddrs.size / this.swapInAddr.size, w.req.size / this.req.size,
      w.evict.size / PAGE, w.in.size / PAGE);
    this.run = { n: 0, gppns: new Uint32Array(this.batch), slots: new Uint32Array(this.batch) };
    this.statNames = Object.freeze(Array.from({ length: this.x.vmStatCount() }, (_, i) => this.x.vmStatName(i)));
    const codes = g.constantsOf(AUDIT_CODES) as Record<string, number>;
    this.invariants = new Map(Object.entries(codes).filter(([, v]) => v !== 0).map(([k, v]) => [v, k.slice('AUDIT_'.length)]));
    this.detailNames = Array.from({ length: this.x.auditDetailCount() }, (_, i) => this.x.auditDetailName(i));
  }

  /** Every invariant the audit checks: code -> name (AUDIT_* without the prefix; AUDIT_OK left out). */
  readonly invariants: ReadonlyMap<number, string>;
  private readonly detailNames: readonly string[];

  /**
   * The linear addresses of the staging windows (the staging region never moves), after making
   * sure the windows below aux exist (the first use grows the region, and may grow linear memory).
   */
  private get w(): { readonly [K in Window]: number } {
    if (!this.windowsReady) {
      this.g.stage(this.win.aux.offset);
      this.windowsReady = true;
    }
    return this.addr;
  }

  // ---- VMs and their pmaps ---------------------------------------------------------------------

  /**
   * Creates a VM of `pages` unbacked guest pages in sharing domain `salt`, holding at most
   * `limit` resident pages (default: all) and `cacheCap` bytes of zip cache (default: none);
   * returns its id, or -1 when the VM table or pmap is full.
   */
  vmCreate(pages: number, salt: number, limit = pages, cacheCap = 0): number {
    return this.x.vmCreate(pages, salt >>> 0, limit, cacheCap);
  }
  /**
   * Powers `vm` off in the pmap: its frames and zip slots are freed and its id and pmap range
   * retired for reuse (the translate module's pagingVmRelease must come first); the frames freed outright.
   */
  vmRelease(vm: number): number { return this.x.vmRelease(vm); }
  /** VMs created (ids in use, retired ones at the end given back). */
  vmTotal(): number { return this.x.vmTotal(); }
  /** pmap entries the VMs use (the scanner's index space). */
  pmapEntries(): number { return this.x.pmapEntries(); }
  /** Guest pages the pmap region has room for beyond those of the VMs (guestMemoryMiB at engine creation). */
  guestPagesLeft(): number { return this.g.region('pmap').size / this.pmapEntry.size - this.x.pmapEntries(); }
  /** Guest pages of `vm`. */
  private vmPages(vm: number): number {
    this.g.live();
    return this.g.view.getUint32(this.g.region('vmTable').offset + vm * this.vmEntry.size + this.vmEntry.pages, true);
  }
  /** pmap state of (vm, gppn) (PState), 0xff when out of range. */
  pmapState(vm: number, gppn: Gppn): number { return this.x.pmapState(vm, gppn); }
  /** MPN (resident) or slot (compressed, swapped) of (vm, gppn). */
  pmapFrame(vm: number, gppn: Gppn): number { return this.x.pmapFrame(vm, gppn); }
  /** Hypervisor fault path for (vm, gppn): the MPN, or a FAULT_* code (>= 0xfffffffc). */
  pmapFault(vm: number, gppn: Gppn, write: boolean): number { return this.x.pmapFault(vm, gppn, write); }
  /** ACCESSED (bit 0) and DIRTY (bit 1) of (vm, gppn), cleared when `clear`. */
  pmapSample(vm: number, gppn: Gppn, clear: boolean): number { return this.x.pmapSample(vm, gppn, clear); }
  /** Pages of `vm` in pmap state `s` (PState). */
  vmStateCount(vm: number, s: number): number { return this.x.vmStateCount(vm, s); }
  /** Every named per-VM statistic of `vm` (pmap.ts VM_STAT_NAMES: pages per state, cumulative pages, bytes). */
  vmStats(vm: number): Readonly<Record<string, number>> {
    const out: Record<string, number> = {};
    for (let i = 0; i < this.statNames.length; i++) out[this.statNames[i]] = this.x.vmStat(vm, i);
    return out;
  }
  /** Pages of `vm` saved by sharing (esxtop SHRDSVD), fractional. */
  vmSharedSaved(vm: number): number { return this.x.vmSharedSaved(vm); }
  /** Copy-on-write breaks of all VMs. */
  pmapCowBreaks(): number { return this.x.pmapCowBreaks(); }
  /** The module's status codes of the fault path, for tests (FAULT_*). */
  get faultCodes(): { readonly FAULT_NO_FRAME: number; readonly FAULT_RANGE: number; readonly FAULT_IO: number; readonly FAULT_LIMIT: number } {
    const { FAULT_NO_FRAME, FAULT_RANGE, FAULT_IO, FAULT_LIMIT } = this.c;
    return { FAULT_NO_FRAME, FAULT_RANGE, FAULT_IO, FAULT_LIMIT };
  }
  /**
   * Test hook: points (vm, gppn)'s pmap entry at frame `mpn` behind the pmap's back, keeping its
   * state and flags (as a bug in reclamation would); the caches are not told.
   */
  setPmapFrame(vm: number, gppn: Gppn, mpn: Mpn): void {
    this.g.live();
    const dv = this.g.view;
    const base = dv.getUint32(this.g.region('vmTable').offset + vm * this.vmEntry.size + this.vmEntry.base, true);
    dv.setUint32(this.g.region('pmap').offset + (base + gppn) * this.pmapEntry.size + this.pmapEntry.frame, mpn, true);
  }

  /** What a FAULT_* code of the pmap's fault path (physAccess, pmapFault, a translation's host fault) asks of the host; null for another code. */
  needOf(code: number): HostNeed | null {
    const c = this.c;
    return code === c.FAULT_IO ? 'swapIn' : code === c.FAULT_NO_FRAME ? 'noFrame' : code === c.FAULT_LIMIT ? 'limit' : null;
  }

  // ---- guest-physical access: the fault driver over physAccess ----------------------------------

  /**
   * Bytes of guest-physical data one physAccess window carries between JavaScript and the
   * engine: the staging window 'data' less SKEW_ROOM, so that each copy can be placed by
   * `skewed` (gateway.ts says why). A whole number of pages.
   */
  get physWindowBytes(): number {
    return this.physWindow;
  }

  /** Writes `bytes` at `gpa` of `vm` through the fault path; `skipZero`: whole zero pages over unbacked ones stay unbacked. */
  physWrite(vm: number, gpa: Gpa, bytes: Uint8Array, r: FaultResolver, skipZero = false): void {
    const size = this.physWindowBytes;
    for (let done = 0; done < bytes.length; done += size) {
      const n = Math.min(size, bytes.length - done);
      // before the view: the first use may grow linear memory
      const at = n < SKEW_MIN ? this.w.data : skewed(this.w.data, bytes.byteOffset + done);
      this.g.u8.set(n === bytes.length ? bytes : bytes.subarray(done, done + n), at);
      this.access(vm, gpaAdd(gpa, done), n, this.c.PHYS_WRITE | (skipZero ? this.c.PHYS_SKIP_ZERO : 0), r, at);
    }
  }

  /**
   * Writes `length` bytes at `gpa` of `vm` that `fill` puts into staging, window by window:
   * `fill(dst, done)` fills all of `dst` with the bytes from `done` on (an image file read
   * straight into engine memory, without a copy in between).
   */
  physWriteFrom(vm: number, gpa: Gpa, length: number, fill: (dst: Uint8Array, done: number) => void, r: FaultResolver, skipZero = false): void {
    const size = this.win.data.size;
    for (let done = 0; done < length; done += size) {
      const n = Math.min(size, length - done);
      const at = this.w.data;
      fill(this.g.u8.subarray(at, at + n), done);
      this.access(vm, gpaAdd(gpa, done), n, this.c.PHYS_WRITE | (skipZero ? this.c.PHYS_SKIP_ZERO : 0), r, at);
    }
  }

  /** Reads `length` bytes at `gpa` of `vm` into `out` (from its start) through the fault path. */
  physRead(vm: number, gpa: Gpa, length: number, out: Uint8Array, r: FaultResolver): void {
    const size = this.physWindowBytes;
    for (let done = 0; done < length; done += size) {
      const n = Math.min(size, length - done);
      const at = n < SKEW_MIN ? this.w.data : skewed(this.w.data, out.byteOffset + done);
      this.access(vm, gpaAdd(gpa, done), n, 0, r, at);
      this.g.copyOut(out, done, at, n);
    }
  }

  /** Runs one staged window through physAccess until it completes, the fault driver resolving each stop through `r`. */
  private access(vm: number, gpa: Gpa, len: number, flags: number, r: FaultResolver, buf: number): void {
    const rc = this.x.physAccess(vm, gpa, len, buf, flags);
    // the driver's closures only once the window stopped: the call that completes stays plain
    if (rc !== this.c.PHYS_OK) this.accessStopped(vm, gpa, len, buf, flags, r, rc);
  }

  /** The rest of a window whose physAccess stopped with `rc`: the fault driver resolves each stop and calls again from where it stopped. */
  private accessStopped(vm: number, gpa: Gpa, len: number, buf: number, flags: number, r: FaultResolver, rc: number): void {
    const start = gpa, bytes = len;
    const stopOf = (rc: number): HostStop => {
      const dv = this.g.view;
      const moved = dv.getUint32(this.callAt + this.call.physDone, true);
      const gppn = dv.getUint32(this.callAt + this.call.physGppn, true) as Gppn;
      gpa = gpaAdd(gpa, moved);
      len -= moved;
      buf += moved;
      const need = this.needOf(rc);
      if (need === null) throw new ConfigError('gpa', gpa, `an address below ${this.vmPages(vm) * PAGE} (VM ${JSON.stringify(r.name)})`);
      // a swap-in may bring back the run of swapped pages the rest of this window will touch
      return { need, gppn, end: gppnEnd(gpa, len), gpa, progress: moved > 0 };
    };
    drive(r, {
      step: () => {
        const rc = this.x.physAccess(vm, gpa, len, buf, flags);
        return rc === this.c.PHYS_OK ? null : stopOf(rc);
      },
      operation: () => `guest-physical ${flags & this.c.PHYS_WRITE ? 'write' : 'read'} of ${bytes} bytes at gPA 0x${start.toString(16)}`,
    }, stopOf(rc));
  }

  // ---- swap-in -------------------------------------------------------------------------------

  /**
   * The run of Swapped pages of `vm` from `gppn` up to `end` (exclusive) that one batch brings
   * back (at most `batch`, no more than fit without reclaiming, at least `gppn` itself): n = 0
   * when `gppn` is not Swapped. The arrays are reused by the next call.
   */
  swapInList(vm: number, gppn: Gppn, end: Gppn): SwapInRun {
    const list = this.w.inList;
    const n = this.x.swapInList(vm, gppn, end, list, this.batch);
    const dv = this.g.view;
    const run = this.run;
    for (let i = 0; i < n; i++) {
      const e = list + i * this.swapIn.size;
      run.gppns[i] = dv.getUint32(e + this.swapIn.gppn, true);
      run.slots[i] = dv.getUint32(e + this.swapIn.slot, true);
    }
    run.n = n;
    return run;
  }

  /**
   * Frames (not zeroed) for the `n` pages of the last swapInList, as views to read them into; null
   * (nothing allocated) when they do not all fit without reclaiming. swapInFramesCommit must follow.
   */
  swapInFrames(vm: number, n: number): Uint8Array[] | null {
    const addrs = this.w.inAddrs;
    if (this.x.swapInFrames(vm, this.w.inList, n, addrs) !== n) return null;
    const dv = this.g.view;
    const u8 = this.g.u8;
    const out: Uint8Array[] = [];
    for (let i = 0; i < n; i++) {
      const a = dv.getUint32(addrs + i * this.swapInAddr.size + this.swapInAddr.page, true);
      out.push(u8.subarray(a, a + PAGE));
    }
    return out;
  }

  /** The first `done` pages of the batch (read and verified into their frames) become resident; the other frames are freed. */
  swapInFramesCommit(vm: number, n: number, done: number): void {
    this.x.swapInFramesCommit(vm, this.w.inList, n, done, this.w.inAddrs);
  }

  /** Views of `n` pages of staging to read a swap-in into page by page (when no frame is free without reclaiming). */
  swapInStaging(n: number): Uint8Array[] {
    const at = this.w.in;
    const u8 = this.g.u8;
    return Array.from({ length: n }, (_, i) => u8.subarray(at + i * PAGE, at + (i + 1) * PAGE));
  }

  /**
   * Makes Swapped (vm, gppn) resident with page `i` of swapInStaging: null when done, else the
   * stop for the fault driver (a frame to free, or a page-out at the VM's limit).
   */
  swapInCommit(vm: number, gppn: Gppn, i: number): HostStop | null {
    const rc = this.x.swapInCommit(vm, gppn, this.w.in + i * PAGE);
    if (rc < this.c.FAULT_LIMIT) return null;
    const need = this.needOf(rc);
    if (need === null) throw new ConfigError('gppn', gppn, `a page of VM ${vm}`);
    // the page is read already: what it waits for is a frame, never another swap-in
    return { need: need === 'swapIn' ? 'noFrame' : need, gppn, end: (gppn + 1) as Gppn, gpa: gpaOf(gppn), progress: false };
  }

  // ---- page-out -------------------------------------------------------------------------------

  /**
   * Chooses up to `count` victims of `vm` by `policy`: each compresses into the zip cache when
   * it fits and the cache has room, else it is listed (at most `outCap`, the swap slots the host
   * has) for the host to write to swap; swapCommit must follow with the slots.
   */
  pageoutSelect(vm: number, count: number, policy: VictimPolicy, outCap: number): PageoutBatch {
    const req = this.w.req;
    const evict = this.w.evict;
    const p = policy === 'lru' ? this.c.POLICY_CLOCK : this.c.POLICY_RANDOM;
    const n = this.x.reclaimSelect(vm, Math.min(count, this.batch), p, req, Math.min(outCap, this.batch), evict);
    return this.listed(req, evict, n);
  }

  /**
   * Lists up to `count` of the oldest compressed pages of `vm` (at most `outCap`, the swap slots
   * the host has) for the host to write to swap, decompressed into staging, as pageoutSelect
   * lists the pages it evicts: the zip cache giving its frames back. swapCommit must follow.
   */
  pageoutEvict(vm: number, count: number, outCap: number): PageoutBatch {
    const req = this.w.req;
    const evict = this.w.evict;
    const n = this.x.reclaimEvict(vm, Math.min(count, this.batch), req, Math.min(outCap, this.batch), evict);
    return this.listed(req, evict, n);
  }

  /** The `n` page-out requests at `req` and the call context's account of the batch. */
  private listed(req: number, evict: number, n: number): PageoutBatch {
    const dv = this.g.view;
    const u8 = this.g.u8;
    const c = this.callAt;
    const stopCode = dv.getUint32(c + this.call.pageoutStop, true);
    const out: PageoutBatch = {
      stop: stopCode === this.c.STOP_NO_VICTIM ? 'noVictim' : stopCode === this.c.STOP_SWAP_FULL ? 'swapFull' : 'done',
      zipped: dv.getUint32(c + this.call.pageoutZipped, true),
      evicted: dv.getUint32(c + this.call.pageoutEvicted, true),
      victims: dv.getUint32(c + this.call.pageoutVictims, true),
      shared: dv.getUint32(c + this.call.pageoutShared, true),
      gppns: [], pages: [], fromZipCache: [],
    };
    for (let i = 0; i < n; i++) {
      const e = req + i * this.req.size;
      const addr = dv.getUint32(e + this.req.page, true);
      out.gppns.push(dv.getUint32(e + this.req.gppn, true));
      out.pages.push(u8.subarray(addr, addr + PAGE));
      // a page evicted from the zip cache was decompressed into the evict window; a victim is in its frame
      out.fromZipCache.push(addr >= evict && addr < evict + this.win.evict.size);
    }
    return out;
  }

  // ---- the host policies' options and mechanisms ----------------------------------------------------

  /** Drops up to `count` of `vm`'s Zero pages to Unbacked (they read as zeros either way); returns how many. */
  zeroDrop(vm: number, count: number): number { return this.x.zeroDrop(vm, count); }

  /** Changes the most resident pages `vm` may hold (a limit, or a policy's block). */
  vmSetLimit(vm: number, pages: number): void { this.x.vmSetLimit(vm, pages); }
  /** Changes `vm`'s zip cache capacity, bytes (an over-full cache shrinks on the next page-out). */
  vmSetCacheCap(vm: number, bytes: number): void { this.x.vmSetCacheCap(vm, bytes); }
  /** Allows (or stops) new 2 MiB large pages host-wide (assembly/reclaim/large.ts). */
  largeAllow(on: boolean): void { this.x.largeAllow(on); }
  largeAllowed(): boolean { return this.x.largeAllowed(); }
  /** Lets `vm`'s first touches back whole 2 MiB groups while large pages are allowed. */
  vmSetLarge(vm: number, on: boolean): void { this.x.vmSetLarge(vm, on); }
  /** True if (vm, gppn) is a page of a large page. */
  pmapLarge(vm: number, gppn: Gppn): boolean { return this.x.pmapLarge(vm, gppn); }
  /** Breaks the large page holding (vm, gppn); `merge`: merge its hashed pages at once. False if it was not large. */
  largeBreak(vm: number, gppn: Gppn, merge: boolean): boolean { return this.x.largeBreak(vm, gppn, merge); }
  /** Breaks up to `maxGroups` large pages of `vm`; how many. */
  largeBreakAll(vm: number, maxGroups: number, merge: boolean): number { return this.x.largeBreakAll(vm, maxGroups >>> 0, merge); }
  /** Large pages `vm` holds. */
  largeGroups(vm: number): number { return this.x.largeGroups(vm); }
  /** Host-wide large-page counters (cumulative): backed, broken, first touches with no whole block, pages hashed while large, pages merged at a break. */
  largeCounters(): { allocs: number; breaks: number; failed: number; hashed: number; brokenMerged: number } {
    return {
      allocs: this.x.largeAllocs(), breaks: this.x.largeBreaks(), failed: this.x.largeFailed(),
      hashed: this.x.sharingLargeHashed(), brokenMerged: this.x.sharingBrokenMerged(),
    };
  }
  /** Most users one shared frame may have (KSM max_page_sharing; 0: none). */
  sharingSetMaxSharing(n: number): void { this.x.sharingSetMaxSharing(n >>> 0); }
  sharingMaxSharing(): number { return this.x.sharingMaxSharing(); }
  /** The most users any shared frame has now. */
  sharingMaxUsers(): number { return this.x.sharingMaxUsers(); }
  /** Host-wide cap on the compressed pool's frames (zswap max_pool_percent; 0: none). */
  zipSetPoolCap(frames: number): void { this.x.zipSetPoolCap(frames >>> 0); }
  zipPoolCap(): number { return this.x.zipPoolCap(); }
  /** Pages the full pool refused (sent to swap), cumulative. */
  zipPoolRejects(): number { return this.x.zipPoolRejects(); }
  /** Share before swap: page-out visits each private victim with the sharing scanner first. */
  reclaimShareFirst(on: boolean): void { this.x.reclaimShareFirst(on); }

  /** The swap slot to give swapCommit for a page whose write failed (it stays where it was). */
  get NO_SLOT(): number {
    return this.ram.NO_SLOT;
  }

  /** Completes the last pageoutSelect: page i moves to `slots[i]`, or stays where it was with NO_SLOT. Returns the pages swapped out. */
  swapCommit(vm: number, slots: ArrayLike<number>, n: number): number {
    const req = this.w.req;
    const dv = this.g.view;
    for (let i = 0; i < n; i++) dv.setUint32(req + i * this.req.size + this.req.slot, slots[i], true);
    return this.x.swapCommit(vm, req, n);
  }

  // ---- balloon -------------------------------------------------------------------------------

  /**
   * Balloons `gppns` of `vm` (all validated in WebAssembly before anything changes): their
   * frames and zip slots are freed; the swap slots they held are returned for the host to free.
   */
  balloonInflate(vm: number, gppns: readonly number[]): { done: number; freedSlots: Uint32Array } | { bad: BalloonBad; index: number } {
    return this.balloonInflateStaged(vm, this.stageList(gppns));
  }

  /** Deflates `gppns` of `vm` (all Ballooned): they become unbacked. */
  balloonDeflate(vm: number, gppns: readonly number[]): { done: number } | { bad: BalloonBad; index: number } {
    return this.balloonDeflateStaged(vm, this.stageList(gppns));
  }

  /** balloonInflate of a list already in staging. */
  balloonInflateStaged(vm: number, list: StagedList): { done: number; freedSlots: Uint32Array } | { bad: BalloonBad; index: number } {
    const r = this.x.balloonInflate(vm, list.at, list.n, list.out);
    if (r < 0) return this.balloonBad(r);
    const freed = this.g.view.getUint32(this.callAt + this.call.balloonSlotsFreed, true);
    return { done: r, freedSlots: new Uint32Array(this.g.u8.buffer, list.out, freed).slice() };
  }

  /** balloonDeflate of a list already in staging. */
  balloonDeflateStaged(vm: number, list: StagedList): { done: number } | { bad: BalloonBad; index: number } {
    const r = this.x.balloonDeflate(vm, list.at, list.n);
    if (r < 0) return this.balloonBad(r);
    return { done: r };
  }

  /**
   * Free page reporting, the host's side: discards what backs the GPPNs of `list` (reported free
   * by the guest), which become unbacked (ballooned and pending pages are left alone). Returns
   * the swap slots they held, for the host to free.
   */
  pagesDiscard(vm: number, list: StagedList): Uint32Array {
    const k = this.x.pagesDiscard(vm, list.at, list.n, list.out);
    return new Uint32Array(this.g.u8.buffer, list.out, k).slice();
  }

  /** Copies `gppns` into the aux window as u32, followed by room for as many u32 results. */
  private stageList(gppns: readonly number[]): StagedList {
    const aux = this.win.aux.offset;
    const at = this.g.stage(aux + gppns.length * 8) + aux;
    new Uint32Array(this.g.u8.buffer, at, gppns.length).set(gppns);
    return { n: gppns.length, at, out: at + gppns.length * 4 };
  }

  private balloonBad(code: number): { bad: BalloonBad; index: number } {
    const index = this.g.view.getUint32(this.callAt + this.call.balloonBadIndex, true);
    const bad: BalloonBad = code === this.c.BALLOON_DUPLICATE ? 'duplicate' : code === this.c.BALLOON_BAD_STATE ? 'state' : 'range';
    return { bad, index };
  }

  // ---- sharing -------------------------------------------------------------------------------

  /** One scanner step over at most `maxPages` pages in `order`: pages visited and merged. */
  shareScan(maxPages: number, order: 'random' | 'sequential'): { scanned: number; merged: number } {
    const scanned = this.x.shareScan(maxPages, order === 'random' ? this.c.SCAN_RANDOM : this.c.SCAN_SEQUENTIAL);
    return { scanned, merged: this.g.view.getUint32(this.callAt + this.call.scanMerged, true) };
  }

  /** The scanner's counters. */
  sharingCounters(): SharingCounters {
    const x = this.x;
    return {
      shared: x.sharedCount(), hints: x.sharingHints(), fullScans: x.sharingFullScans(), volatile: x.sharingVolatile(),
      scanned: x.sharingScanned(), merged: x.sharingMerged(), largeSkipped: x.sharingLargeSkipped(),
      capacity: x.sharingCapacity(), passPages: x.sharingPassPages(), cursor: x.sharingCursor(),
    };
  }

  // ---- zip cache, victims, audit -------------------------------------------------------------------

  /** Compressed sizes the zip cache saw: bucket b counts pages of [256 b, 256 b + 256) bytes; the last did not compress below 4 KiB. */
  zipHistogram(): number[] {
    return Array.from({ length: this.c.ZIP_HIST_BUCKETS }, (_, b) => this.x.zipHistogram(b));
  }

  /** Compression survey of the resident private pages among GPPNs [first, first + n) of `vm`, changing nothing. */
  zipSurvey(vm: number, first: Gppn, n: number): ZipSurvey {
    const buckets = this.c.ZIP_HIST_BUCKETS;
    const out = this.g.stage(this.survey.size);
    const histogram = new Array<number>(buckets).fill(0);
    let pages = 0;
    let bytes = 0;
    // chunks of 2^19 pages keep each call's byte sum (at most 4096 per page) within u32
    for (let at: number = first; at < first + n; at += 1 << 19) {
      pages += this.x.zipSurvey(vm, at, Math.min(1 << 19, first + n - at), out);
      const v = this.g.view;
      for (let b = 0; b < buckets; b++) histogram[b] += v.getUint32(out + this.survey.histogram + b * 4, true);
      bytes += v.getUint32(out + this.survey.bytes, true);
    }
    return { histogram, bytes, pages };
  }

  /** Seeds the victim choice (and nothing else random in the module). */
  reclaimSeed(seed: number): void {
    this.x.reclaimSeed(seed >>> 0, Math.floor(seed / 2 ** 32) >>> 0);
  }

  /**
   * Recounts every invariant in WebAssembly (assembly/audit.ts; `deep`: also re-hashes every
   * shared frame), changing nothing: null when all hold, else the first broken one, by name, with
   * where it broke. The scratch it needs (4 bytes per machine frame) is the aux staging window.
   */
  audit(deep: boolean): AuditFailure | null {
    const frames = this.ram.frameCounts().total;
    const aux = this.win.aux.offset;
    const at = this.g.stage(aux + frames * 4) + aux;
    const code = this.x.audit(at, deep);
    if (code === 0) return null;
    const f: AuditFailure = { code, invariant: this.invariants.get(code) ?? `unknown code ${code}`, text: this.x.auditText(code) };
    for (let i = 0; i < this.detailNames.length; i++) {
      const v = this.x.auditDetail(i);
      if (v >= 0) (f as unknown as Record<string, number>)[this.detailNames[i]] = v;
    }
    return f;
  }

  /** What invariant `code` means, in words (assembly/ram/invariants.ts; '' for an unknown code). */
  auditText(code: number): string { return this.x.auditText(code); }

  /**
   * Debug build only, for tests that prove the audit fires: breaks `invariant` (a name of
   * `invariants`) on purpose at (vm, gppn), with `arg` a second frame where one is needed
   * (assembly/debug.ts says what each does). Returns the MPN or slot it touched. A ConfigError in
   * a release engine, or when the target is not in the state the corruption needs.
   */
  debugCorrupt(invariant: string, vm = 0, gppn = 0, arg = 0): number {
    const code = [...this.invariants].find(([, n]) => n === invariant)?.[0];
    if (code === undefined) throw new ConfigError('invariant', invariant, `one of ${[...this.invariants.values()].join(', ')}`);
    const r = this.x.debugCorrupt(code, vm >>> 0, gppn >>> 0, arg >>> 0);
    // the release module refuses every call: the hook's body is not compiled into it
    if (r < 0 && this.g.flavor !== 'debug') throw new ConfigError('flavor', this.g.flavor, "'debug' (the corruption hook is compiled only into build/debug.wasm)");
    if (r < 0) throw new ConfigError('target', { vm, gppn, arg }, `a target in the state that breaking ${invariant} needs (assembly/debug.ts)`);
    return r;
  }
}
