/**
 * guest: the simulation's guest OS model as TypeScript sees it (assembly/guest: state, alloc,
 * reclaim, touch, verify). Each simulated VM has a header in region sim, read and written by
 * name (assembly/layout.ts "simVm.*"); every batch is a resumable call that returns a reason
 * code and leaves what it found in the header, and its lists cross through the simulation's
 * staging windows, laid out as the module says ("guestVictim", "guestSlot", "swapInEntry"):
 *
 *   region sim:  simVm x maxVMs   header of VM i at sim + i x simVm.size: counts, keys, costs,
 *                                 the step in progress, the last stop (rGppn, rVp, rCode), the
 *                                 batch cursor and its counts (batchN, batchM), the oracle's tallies
 *   staging:     simList          u32 GPPNs: balloon, release, report, zero (a StagedList)
 *                simSlots         u32: swap slots freed or given
 *                simPairs         guestVictim / guestSlot / swapInEntry records
 *                simPages         4 KiB pages: guest swap batches, the oracle's swap reads
 *
 *   touch / traceRun / a guest batch ──Reason.Host──► driverStop(vm): the fault driver's stop ─► resolve ─► call again
 *                                    ──Reason.GuestFree / GuestSwapIn──► the guest (src/guest) acts ─► call again
 *
 * The callers run every such call through the fault driver (src/engine/driver.ts): a step's
 * progress is its touches or records done (`done`), a guest batch's its cursor and the pages it
 * listed (src/guest/guest.ts GuestBatch).
 *
 * Header slots hold u64 (counts, keys, GPPNs: exact to 2^53 here) or f64 (simulated ns); the
 * two kinds have their own names (GuestCount, GuestTime), so a slot cannot be read as the other.
 */
import type { Bound, Gateway, Record_, RegionInfo } from './gateway.js';
import type { Reclaim, StagedList } from './reclaim.js';
import type { HostNeed } from './fault.js';
import type { HostStop } from './driver.js';
import { PAGE, asGppn, gpaOf, type Gppn, type Gva } from './addr.js';
import type { ContentKind } from './workload.js';
import { ConfigError, MemvisorError } from '../errors.js';

const EXPORTS = [
  'simSetNow', 'simSetMix', 'guestSwapSlot', 'guestSetup', 'guestBoot', 'guestFreeBalloon', 'guestRelease', 'guestZero',
  'guestReport', 'guestAudit', 'guestTake', 'guestDropCache', 'guestDeflateSelect', 'guestSwapSelect', 'guestSwapCommit',
  'guestSwapIn', 'guestBatchReset', 'simWorkload', 'simStepBegin', 'simTouch', 'simSeen', 'simTraceRun', 'samplerZipfCounts',
  'simVerifyBegin', 'simVerify', 'simVerifyPages', 'simVerifyGuestList', 'simVerifyVpages',
] as const;

const CONSTANTS = ['R_DONE', 'R_HOST', 'R_GUEST_FREE', 'R_GUEST_SWAPIN', 'R_ERROR', 'R_MORE', 'TAKE_FREE', 'TAKE_CACHE'] as const;

/** Why a resumable call stopped (assembly/guest/state.ts R_*; the engine checks they agree). */
export enum Reason {
  Done = 0,
  Host = 1,
  GuestFree = 2,
  GuestSwapIn = 3,
  Error = 4,
  More = 5,
}

/** Header slots of u64: page counts by owner, keys, the step's touches, the last stop, batch state, the oracle. */
const COUNTS = [
  'free', 'kernel', 'cache', 'resident', 'balloon', 'reserved', 'swapHeld', 'dataKey', 'vmKey', 'rng', 'imgAt',
  'asked', 'done', 'pending', 'touches', 'doublePaging', 'rGppn', 'rVp', 'rCode', 'cursor', 'batchN', 'batchM',
  'verifyBytes', 'verifyBad', 'verifyFirst',
] as const;
/** Header slots of f64 simulated ns: costs per event, the step's budget used, the run's time accounts. */
const TIMES = [
  'tauNs', 'hitNs', 'guestPfNs', 'exitNs', 'firstTouchNs', 'cowNs', 'unzipNs', 'nsPerCycle', 'newPageNs',
  'usedNs', 'stallNs', 'translateNs', 'inherentNs', 'workNs',
] as const;
/** Header slots of the VM's core: written only by attachCore, which takes the address typed. */
const CORE = ['ctx', 'vaBase'] as const;
/** A u64 slot of a guest's header. */
export type GuestCount = (typeof COUNTS)[number];
/** An f64 (simulated ns) slot of a guest's header. */
export type GuestTime = (typeof TIMES)[number];

const WINDOWS = ['simList', 'simSlots', 'simPairs', 'simPages'] as const;
type Window = (typeof WINDOWS)[number];

/** A guest swap slot value that says "not written" (assembly/guest/state.ts NONE). */
export const NO_GUEST_SLOT = 0xffffffff;
const TWO32 = 2 ** 32;

export class Guest {
  private readonly x: Bound<typeof EXPORTS>;
  private readonly c: { readonly [K in (typeof CONSTANTS)[number]]: number };
  private readonly hdr: Record_<GuestCount | GuestTime | (typeof CORE)[number]>;
  private readonly victim: Record_<'gppn' | 'vp'>;
  private readonly slotRec: Record_<'vp' | 'slot'>;
  private readonly hostSlot: Record_<'gppn' | 'slot'>;
  private readonly win: { readonly [K in Window]: RegionInfo };
  private readonly headers: number;
  private windowsReady = false;
  private readonly addr: { readonly [K in Window]: number };
  /** Most entries of one list, and most pages of one page batch (the windows' capacity). */
  readonly listMax: number;
  readonly pagesMax: number;

  constructor(private readonly g: Gateway, private readonly reclaim: Reclaim) {
    this.x = g.bind(EXPORTS);
    this.c = g.constantsOf(CONSTANTS);
    const mirror: [number, Reason][] = [[this.c.R_DONE, Reason.Done], [this.c.R_HOST, Reason.Host], [this.c.R_GUEST_FREE, Reason.GuestFree],
      [this.c.R_GUEST_SWAPIN, Reason.GuestSwapIn], [this.c.R_ERROR, Reason.Error], [this.c.R_MORE, Reason.More]];
    for (const [m, t] of mirror) if (m !== t) throw new ConfigError('module', `Reason ${Reason[t]}`, `${t} (the module says ${m}: rebuild it)`);
    const fields = {} as Record<GuestCount | GuestTime | (typeof CORE)[number], number>;
    for (const f of [...COUNTS, ...TIMES, ...CORE]) fields[f] = 8;
    this.hdr = g.record('simVm', fields);
    this.victim = g.record('guestVictim', { gppn: 4, vp: 4 });
    this.slotRec = g.record('guestSlot', { vp: 4, slot: 4 });
    this.hostSlot = g.record('swapInEntry', { gppn: 4, slot: 4 });
    this.win = g.windows('staging', WINDOWS);
    this.addr = Object.freeze(Object.fromEntries(WINDOWS.map((w) => [w, g.staging + this.win[w].offset]))) as { readonly [K in Window]: number };
    this.headers = g.region('sim').offset;
    const pair = Math.max(this.victim.size, this.slotRec.size, this.hostSlot.size);
    this.listMax = Math.min(this.win.simList.size / 4, this.win.simSlots.size / 4, this.win.simPairs.size / pair);
    this.pagesMax = this.win.simPages.size / PAGE;
  }

  /** The windows' linear addresses, after making sure the staging region holds them (the first use may grow linear memory). */
  private get w(): { readonly [K in Window]: number } {
    if (!this.windowsReady) {
      this.g.stage(this.win.simPages.offset + this.win.simPages.size);
      this.windowsReady = true;
    }
    return this.addr;
  }

  /** A StagedList of `n` GPPNs at the simList window, with the simSlots window for the results. */
  private list(n: number): StagedList {
    return { n, at: this.w.simList, out: this.w.simSlots };
  }

  // ---- the header ------------------------------------------------------------------------------

  /** Address of `vm`'s header slot `f`. */
  private at(vm: number, f: GuestCount | GuestTime | (typeof CORE)[number]): number {
    return this.headers + vm * this.hdr.size + this.hdr[f];
  }
  /** u64 slot `f` of `vm`'s header (counts, keys, GPPNs; exact to 2^53). */
  get(vm: number, f: GuestCount): number {
    this.g.live();
    const a = this.at(vm, f);
    const v = this.g.view;
    return v.getUint32(a, true) + v.getUint32(a + 4, true) * TWO32;
  }
  /** Writes u64 slot `f` (an integer in [0, 2^53)). */
  set(vm: number, f: GuestCount, value: number): void {
    this.setU64(this.at(vm, f), value);
  }
  private setU64(a: number, value: number): void {
    this.g.live();
    const v = this.g.view;
    v.setUint32(a, value >>> 0, true);
    v.setUint32(a + 4, Math.floor(value / TWO32), true);
  }
  /**
   * The guest of `vm` runs through MMU core `ctx`: its touches translate there, and its workload's
   * virtual page 0 is at `vaBase` (the guest's page tables map it).
   */
  attachCore(vm: number, ctx: number, vaBase: Gva): void {
    this.setU64(this.at(vm, 'ctx'), ctx);
    this.g.live();
    this.g.view.setBigUint64(this.at(vm, 'vaBase'), vaBase, true);
  }
  /** f64 slot `f` (simulated ns). */
  getF(vm: number, f: GuestTime): number {
    this.g.live();
    return this.g.view.getFloat64(this.at(vm, f), true);
  }
  /** Writes f64 slot `f`. */
  setF(vm: number, f: GuestTime, ns: number): void {
    this.g.live();
    this.g.view.setFloat64(this.at(vm, f), ns, true);
  }

  /** Entry `i` of `vm`'s content mix: workload pages whose 32-bit hash is <= `threshold` (and above the previous entry's) are of `kind`, image `image`. */
  setMix(vm: number, i: number, threshold: number, kind: ContentKind, image: number): void {
    this.x.simSetMix(vm, i, threshold >>> 0, kind, image);
  }
  /** The guest swap slot holding virtual page `vp`, or null when the page is not in guest swap. */
  swapSlot(vm: number, vp: number): number | null {
    const s = this.x.guestSwapSlot(vm, vp);
    return s === NO_GUEST_SLOT ? null : s;
  }
  /** Drops the touch in progress and ends the step (the guest could not find memory for it: OOM). */
  abandonTouch(vm: number): void {
    this.set(vm, 'pending', 0);
    this.set(vm, 'asked', this.get(vm, 'done'));
  }
  /** Charges `ns` of fault time TypeScript handled (swap I/O, reclaim) to the step in progress. */
  charge(vm: number, ns: number): void {
    if (ns <= 0) return;
    this.setF(vm, 'usedNs', this.getF(vm, 'usedNs') + ns);
    this.setF(vm, 'stallNs', this.getF(vm, 'stallNs') + ns);
  }
  /** Simulated time for free page reporting, ms. */
  setNow(ms: number): void {
    this.x.simSetNow(ms >>> 0);
  }
  /**
   * What the last Reason.Host of `vm` asks of the host: the page, and whether it must be swapped
   * in, a frame freed, or the VM paged out at its limit.
   */
  hostStop(vm: number): { gppn: Gppn; need: HostNeed } {
    const code = this.get(vm, 'rCode');
    const need = this.reclaim.needOf(code);
    if (need === null) throw new MemvisorError(`guest of VM ${vm}: a host stop with pmap code ${code}, not a fault the host resolves`);
    return { gppn: asGppn(this.get(vm, 'rGppn')), need };
  }

  /**
   * The fault driver's stop for the last Reason.Host of `vm`: hostStop's page (one page: a touch
   * or a batch stops at the page it needs, not at a run) and need; `progress` as the caller
   * measured it since the stop before.
   */
  driverStop(vm: number, progress: boolean): HostStop {
    const { gppn, need } = this.hostStop(vm);
    return { need, gppn, end: asGppn(gppn + 1), gpa: gpaOf(gppn), progress };
  }

  // ---- set-up ------------------------------------------------------------------------------------

  /**
   * Sets up the guest of `vm`: `kernel` and `cache` pages of its OS image, `anon` OS process
   * pages, `vpages` virtual pages in all, GPPNs [resLo, resHi) reserved for an MMU's page
   * tables; false when it does not fit.
   */
  guestSetup(vm: number, kernel: number, cache: number, anon: number, vpages: number, resLo: Gppn, resHi: Gppn): boolean {
    return this.x.guestSetup(vm, kernel, cache, anon, vpages, resLo, resHi) === 0;
  }
  /** Writes the guest's OS into its memory; resumable. */
  guestBoot(vm: number): Reason {
    return this.x.guestBoot(vm);
  }
  /** Clears `vm`'s resumable batch state. */
  batchReset(vm: number): void {
    this.x.guestBatchReset(vm);
  }

  // ---- workload ------------------------------------------------------------------------------

  /** The workload's active set, skew (0: uniform) and write fraction; a Zipf table covers `tablePages` >= active (a ramp's larger end). */
  workload(vm: number, activePages: number, zipfS: number, writeFraction: number, tablePages = activePages): void {
    this.x.simWorkload(vm, activePages, zipfS, writeFraction, tablePages);
  }
  /** Starts a step of `vm`: `asked` touches within `budgetNs` simulated ns. */
  stepBegin(vm: number, asked: number, budgetNs: number): void {
    this.x.simStepBegin(vm, asked, budgetNs);
  }
  /** Runs the step's touches until done or TypeScript must act. */
  touch(vm: number): Reason {
    return this.x.simTouch(vm);
  }
  /**
   * `draws` Zipf(s) draws over `active` pages (a table of `tablePages`) with the sampler of the
   * touch loop, seeded `seed`, counted per page (tests of the sampler; uses `vm`'s table).
   */
  zipfCounts(vm: number, seed: bigint, active: number, tablePages: number, s: number, draws: number): Uint32Array {
    const at = this.w.simPages;
    if (active * 4 > this.win.simPages.size) throw new ConfigError('active', active, `at most ${this.win.simPages.size / 4} pages`);
    this.g.u8.fill(0, at, at + active * 4);
    this.x.samplerZipfCounts(vm, BigInt.asUintN(64, seed), active, tablePages, s, draws, at);
    return new Uint32Array(this.g.u8.buffer, at, active).slice();
  }
  /** Most bytes of trace records one traceRun takes. */
  get traceChunkBytes(): number {
    return this.win.simPages.size;
  }
  /**
   * Replays binary trace records (`records`, at most traceChunkBytes; whole records only are
   * taken) on `vm`'s core within the step begun by stepBegin; resumable after Reason.Host.
   * `fresh`: a new chunk (its cursor starts at 0). The header's cursor: bytes consumed.
   */
  traceRun(vm: number, records: Uint8Array, fresh: boolean): Reason {
    const at = this.w.simPages;
    if (records.length > this.win.simPages.size) throw new ConfigError('records', records.length, `at most ${this.win.simPages.size} bytes`);
    if (fresh) {
      this.g.u8.set(records, at);
      this.set(vm, 'cursor', 0);
    }
    return this.x.simTraceRun(vm, at, records.length);
  }
  /** Virtual pages of `vm` touched since the last count (the true working set), their marks cleared when `clear`. */
  seen(vm: number, clear: boolean): number {
    return this.x.simSeen(vm, clear);
  }

  // ---- guest reclaim: lists in staging -------------------------------------------------------------

  /** Up to `n` pages for the balloon: free pages ('free') or dropped page cache pages ('cache'), listed in place. */
  take(vm: number, n: number, from: 'free' | 'cache'): StagedList {
    const k = this.x.guestTake(vm, Math.min(n, this.listMax), from === 'free' ? this.c.TAKE_FREE : this.c.TAKE_CACHE, this.w.simList);
    return this.list(k);
  }
  /** Drops up to `n` page cache pages to the free list; returns how many. */
  dropCache(vm: number, n: number): number {
    return this.x.guestDropCache(vm, n);
  }
  /** Up to `n` ballooned GPPNs, listed in place for a deflate. */
  deflateSelect(vm: number, n: number): StagedList {
    return this.list(this.x.guestDeflateSelect(vm, Math.min(n, this.listMax), this.w.simList));
  }
  /** Ballooned GPPNs of `list` to the free list (after the host deflated them). */
  freeBalloon(vm: number, list: StagedList): number {
    return this.x.guestFreeBalloon(vm, list.at, list.n);
  }
  /** Chooses up to `n` (<= pagesMax) guest swap victims and reads them into the page window; resumable. */
  swapSelect(vm: number, n: number): Reason {
    return this.x.guestSwapSelect(vm, Math.min(n, this.pagesMax), this.w.simPairs, this.w.simPages);
  }
  /** The victims of the last swapSelect: their GPPNs and virtual pages, and their pages (views die on the next engine call). */
  swapVictims(vm: number): { gppns: Uint32Array; vps: Uint32Array; pages: Uint8Array[] } {
    const n = this.get(vm, 'batchN');
    const v = this.g.view, u8 = this.g.u8, r = this.victim;
    const at = this.w.simPairs, buf = this.w.simPages;
    const gppns = new Uint32Array(n), vps = new Uint32Array(n), pages: Uint8Array[] = [];
    for (let i = 0; i < n; i++) {
      const e = at + i * r.size;
      gppns[i] = v.getUint32(e + r.gppn, true);
      vps[i] = v.getUint32(e + r.vp, true);
      pages.push(u8.subarray(buf + i * PAGE, buf + (i + 1) * PAGE));
    }
    return { gppns, vps, pages };
  }
  /** Commits the victims of the last swapSelect with their guest swap `slots` (NO_GUEST_SLOT: not written); resumable. */
  swapCommit(vm: number, slots: Uint32Array, toBalloon: boolean): Reason {
    const w = this.w;
    new Uint32Array(this.g.u8.buffer, w.simSlots, slots.length).set(slots);
    return this.x.guestSwapCommit(vm, w.simPairs, w.simSlots, slots.length, toBalloon, w.simList);
  }
  /** The GPPNs a balloon swap commit gave to the balloon, listed in place. */
  committedToBalloon(vm: number): StagedList {
    return this.list(this.get(vm, 'batchN'));
  }
  /** The page window's first page, for a guest swap-in read (dies on the next engine call). */
  swapInBuffer(): Uint8Array {
    const at = this.w.simPages;
    return this.g.u8.subarray(at, at + PAGE);
  }
  /** Brings virtual page `vp` back from guest swap with the page in swapInBuffer; resumable. */
  swapIn(vm: number, vp: number): Reason {
    return this.x.guestSwapIn(vm, vp, this.w.simPages);
  }
  /** The workload frees virtual pages [from, to); resumable (Reason.More: take the lists, call again). */
  release(vm: number, from: number, to: number): Reason {
    const w = this.w;
    return this.x.guestRelease(vm, from, to, w.simList, w.simSlots, this.listMax);
  }
  /** What the last release freed (GPPNs, in place) and the guest swap slots it gave back. */
  released(vm: number): { freed: StagedList; slots: Uint32Array } {
    const m = this.get(vm, 'batchM');
    return { freed: this.list(this.get(vm, 'batchN')), slots: new Uint32Array(this.g.u8.buffer, this.w.simSlots, m).slice() };
  }
  /** The guest zeroes the GPPNs of `list`; resumable. */
  zero(vm: number, list: StagedList): Reason {
    return this.x.guestZero(vm, list.at, list.n);
  }
  /** Free page reporting: blocks free for `delayMs`, listed in place; Reason.More when more remain. */
  report(vm: number, delayMs: number): { reason: Reason; list: StagedList } {
    const r = this.x.guestReport(vm, delayMs, this.w.simList, this.listMax);
    return { reason: r, list: this.list(this.get(vm, 'batchN')) };
  }

  /** Checks the guest model's invariants of `vm` (assembly/guest/alloc.ts guestAudit): 0, or a failure code (detail in 'verifyFirst'); a debug build aborts. */
  guestAudit(vm: number): number {
    return this.x.guestAudit(vm);
  }

  // ---- the oracle ------------------------------------------------------------------------------

  /** Starts a verification of `vm` (zeroes its tallies). */
  verifyBegin(vm: number): void {
    this.x.simVerifyBegin(vm);
  }
  /** Compares the pages the host holds in memory; lists the host-swapped ones with their slots (Reason.More: more to list). */
  verify(vm: number): { reason: Reason; gppns: Uint32Array; slots: Uint32Array } {
    const at = this.w.simPairs;
    const r = this.x.simVerify(vm, at, this.pagesMax);
    const n = this.get(vm, 'batchN');
    const v = this.g.view, e = this.hostSlot;
    const gppns = new Uint32Array(n), slots = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      gppns[i] = v.getUint32(at + i * e.size + e.gppn, true);
      slots[i] = v.getUint32(at + i * e.size + e.slot, true);
    }
    return { reason: r, gppns, slots };
  }
  /** The page window (pagesMax pages), for the oracle's reads from swap stores. */
  pageBuffer(n: number): Uint8Array[] {
    const at = this.w.simPages, u8 = this.g.u8;
    return Array.from({ length: n }, (_, i) => u8.subarray(at + i * PAGE, at + (i + 1) * PAGE));
  }
  /** Compares the first `n` pages the last verify listed with their pages read into the page window. */
  verifyPages(vm: number, n: number): void {
    this.x.simVerifyPages(vm, this.w.simPairs, n, this.w.simPages);
  }
  /** Lists the virtual pages in guest swap and their slots (Reason.More: more to list). */
  verifyGuestList(vm: number): { reason: Reason; vps: Uint32Array; slots: Uint32Array } {
    const at = this.w.simPairs;
    const r = this.x.simVerifyGuestList(vm, at, this.pagesMax);
    const n = this.get(vm, 'batchN');
    const v = this.g.view, e = this.slotRec;
    const vps = new Uint32Array(n), slots = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      vps[i] = v.getUint32(at + i * e.size + e.vp, true);
      slots[i] = v.getUint32(at + i * e.size + e.slot, true);
    }
    return { reason: r, vps, slots };
  }
  /** Compares the first `n` virtual pages the last verifyGuestList listed with their pages read into the page window. */
  verifyVpages(vm: number, n: number): void {
    this.x.simVerifyVpages(vm, this.w.simPairs, n, this.w.simPages);
  }
}
