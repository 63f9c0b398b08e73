/**
 * The simulation's binding to the module: the guest OS model and its touch loop
 * (assembly/guest/), the workloads' samplers and content (assembly/workload/). Like engine.ts,
 * the only place those exports and their
 * staging windows are touched; src/guest, src/workload and src/sim speak through it in VMs,
 * pages and lists.
 *
 * Bindings are looked up once and checked against the module's exports (a module built from
 * another source fails here, naming the missing export). Header slots are read by name
 * (assembly/guest/state.ts SLOT_NAMES), so no slot number is written twice.
 *
 * Staging window STAGE_SIM (staging.ts):
 *
 *   +0            A      u32 x SIM_LIST_MAX     a GPPN list (balloon, report, release, zero)
 *   A end         B      u32 x SIM_LIST_MAX     a second list (swap slots)
 *   B end         P      (u32, u32) x SIM_LIST_MAX   pairs: (gppn, vp) victims, (vp, slot)
 *   P end         BUF    4 KiB x SIM_PAGES      pages: guest swap batches, oracle reads
 */

import { PAGE, type Engine } from './engine.js';
import { ConfigError } from '../errors.js';
import { STAGE_SIM, SIM_LIST_MAX, SIM_PAGES } from './staging.js';

/** u32 entries (GPPNs) the module listed in staging, handed in place to another engine call. */
export interface StagedList {
  readonly at: number;
  readonly n: number;
}

/** Why a resumable call stopped (assembly/guest/state.ts R_*). */
export enum Reason {
  Done = 0,
  Host = 1,
  GuestFree = 2,
  GuestSwapIn = 3,
  Error = 4,
  More = 5,
}

/** Content kinds (assembly/workload/content.ts K_*). */
export enum ContentKind {
  Zero = 0,
  Image = 1,
  Text = 2,
  Binary = 3,
  Random = 4,
  Unique = 5,
}

type Fn = (...args: never[]) => number;
const FUNCTIONS = [
  'simContentAddr', 'simContentPages', 'simSetNow', 'simGet', 'simGetF', 'simSet', 'simSetF', 'simSlotCount',
  'simSlotName', 'simSlotIndex', 'simSetMix', 'simVpageLoc', 'guestSetup', 'guestBoot', 'guestFreeBalloon', 'guestRelease',
  'guestZero', 'guestReport', 'guestTake', 'guestDropCache', 'guestDeflateSelect', 'guestSwapSelect',
  'guestSwapCommit', 'guestSwapIn', 'guestBatchReset', 'contentImageSet', 'contentGenerate', 'contentFillPage',
  'simWorkload', 'simStepBegin', 'simTouch', 'simSeen', 'simVerifyBegin', 'simVerify', 'simVerifyPages',
  'simVerifyGuestList', 'simVerifyVpages', 'pagesDiscard', 'samplerZipfCounts', 'guestAudit', 'simTraceRun',
] as const;
type Raw = Record<(typeof FUNCTIONS)[number], Fn>;

const A = 0;
const B = SIM_LIST_MAX * 4;
const P = B + SIM_LIST_MAX * 4;
const BUF = P + SIM_LIST_MAX * 8;
const WINDOW = BUF + SIM_PAGES * PAGE;

export class SimEngine {
  private readonly raw: Raw;
  private readonly slots = new Map<string, number>();
  private readonly base: number;
  /** Most entries of one list, and most pages of one page batch. */
  readonly listMax = SIM_LIST_MAX;
  readonly pagesMax = SIM_PAGES;

  constructor(readonly engine: Engine) {
    const ex = engine.rawExports();
    const raw: Partial<Raw> = {};
    for (const name of FUNCTIONS) {
      const f = ex[name];
      if (typeof f !== 'function') throw new ConfigError('module', name, 'an export of the simulation (rebuild the module: npm run asbuild)');
      raw[name] = f as Fn;
    }
    this.raw = raw as Raw;
    const r = this.raw as unknown as Record<string, (...a: number[]) => number>;
    for (let i = 0; i < r.simSlotCount(); i++) this.slots.set(engine.string(r.simSlotName(i)), r.simSlotIndex(i));
    this.base = engine.stage(STAGE_SIM + WINDOW) + STAGE_SIM;
  }

  private call(name: (typeof FUNCTIONS)[number], ...args: (number | bigint | boolean)[]): number {
    this.engine.checkLive();
    return (this.raw[name] as unknown as (...a: (number | bigint | boolean)[]) => number)(...args.map((a) => (typeof a === 'boolean' ? (a ? 1 : 0) : a)));
  }
  private slot(name: string): number {
    const s = this.slots.get(name);
    if (s === undefined) throw new ConfigError('slot', name, `a simulation header slot (${[...this.slots.keys()].join(', ')})`);
    return s;
  }

  // ---- header slots ---------------------------------------------------------------------------

  /** An integer slot of `vm`'s header (counts, pages; exact to 2^53). */
  get(vm: number, name: string): number {
    return this.call('simGet', vm, this.slot(name));
  }
  /** A simulated-time slot (f64 ns). */
  getF(vm: number, name: string): number {
    return this.call('simGetF', vm, this.slot(name));
  }
  set(vm: number, name: string, v: number | bigint): void {
    // u64 slots cross as f64: keys above 2^53 are split by the caller into exact halves (setKey)
    this.call('simSet', vm, this.slot(name), Number(v));
  }
  setF(vm: number, name: string, v: number): void {
    this.call('simSetF', vm, this.slot(name), v);
  }
  /** Sets a 53-bit key slot (content keys, the PRNG state). */
  setKey(vm: number, name: string, key: number): void {
    this.set(vm, name, key);
  }
  setMix(vm: number, i: number, threshold: number, kind: ContentKind, image: number): void {
    this.call('simSetMix', vm, i, threshold >>> 0, kind, image);
  }
  /** Where virtual page `vp` is: a GPPN, a guest swap slot (swapped), or nowhere (never written). */
  vpageLocation(vm: number, vp: number): { gppn: number } | { slot: number } | null {
    const w = this.call('simVpageLoc', vm, vp) >>> 0;
    const loc = w & 0x0fffffff;
    if (loc === 0x0fffffff) return null;
    return w & (1 << 28) ? { slot: loc } : { gppn: loc };
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
    this.call('simSetNow', ms >>> 0);
  }

  // ---- content -----------------------------------------------------------------------------

  get contentPages(): number {
    return this.call('simContentPages') >>> 0;
  }
  /** Copies `bytes` (whole pages) into content pages from `first`. */
  writeContent(first: number, bytes: Uint8Array): void {
    const pages = bytes.length / PAGE;
    if (!Number.isInteger(pages) || first + pages > this.contentPages) throw new ConfigError('content', first, `room for ${pages} pages in ${this.contentPages} content pages`);
    const at = this.call('simContentAddr', first);
    this.engine.u8.set(bytes, at);
  }
  /** Page `i` of the content area, copied out (tests). */
  readContent(i: number): Uint8Array {
    const at = this.call('simContentAddr', i);
    return this.engine.u8.slice(at, at + PAGE);
  }
  imageSet(i: number, first: number, pages: number): boolean {
    return this.call('contentImageSet', i, first, pages) !== 0;
  }
  generateImage(i: number, key: bigint): void {
    this.call('contentGenerate', i, BigInt.asUintN(64, key));
  }
  /** One page of `kind` keyed (key, page) (generators' tests and benches). */
  contentPage(kind: ContentKind, image: number, key: bigint, page: number): Uint8Array {
    const at = this.base + BUF;
    this.call('contentFillPage', at, kind, image, BigInt.asUintN(64, key), page);
    return this.engine.u8.slice(at, at + PAGE);
  }

  // ---- guest set-up -------------------------------------------------------------------------

  guestSetup(vm: number, kernel: number, cache: number, anon: number, vpages: number, resLo: number, resHi: number): boolean {
    return this.call('guestSetup', vm, kernel, cache, anon, vpages, resLo, resHi) === 0;
  }
  guestBoot(vm: number): Reason {
    return this.call('guestBoot', vm);
  }
  /** Clears a VM's resumable batch state. */
  batchReset(vm: number): void {
    this.call('guestBatchReset', vm);
  }

  // ---- workload ------------------------------------------------------------------------------

  /** The workload's active set, skew (0: uniform) and write fraction; a Zipf table covers `tablePages` >= active (a ramp's larger end). */
  workload(vm: number, activePages: number, zipfS: number, writeFraction: number, tablePages = activePages): void {
    this.call('simWorkload', vm, activePages, zipfS, writeFraction, tablePages);
  }
  stepBegin(vm: number, asked: number, budgetNs: number): void {
    this.call('simStepBegin', vm, asked, budgetNs);
  }
  touch(vm: number): Reason {
    return this.call('simTouch', vm);
  }
  /**
   * `draws` Zipf(s) draws over `active` pages (a table of `tablePages`) with the sampler of the
   * touch loop, seeded `seed`, counted per page (tests of the sampler; uses `vm`'s table).
   */
  zipfCounts(vm: number, seed: bigint, active: number, tablePages: number, s: number, draws: number): Uint32Array {
    const at = this.base + BUF;
    if (active * 4 > this.pagesMax * PAGE) throw new ConfigError('active', active, `at most ${(this.pagesMax * PAGE) / 4} pages`);
    this.engine.u8.fill(0, at, at + active * 4);
    this.call('samplerZipfCounts', vm, BigInt.asUintN(64, seed), active, tablePages, s, draws, at);
    return new Uint32Array(this.engine.u8.buffer, at, active).slice();
  }
  /** Most bytes of trace records one traceRun takes. */
  get traceChunkBytes(): number {
    return this.pagesMax * PAGE;
  }
  /**
   * Replays binary trace records (`records`, at most traceChunkBytes; whole records only are
   * taken) on `vm`'s core within the step begun by stepBegin; resumable after Reason.Host.
   * `fresh`: a new chunk (its cursor starts at 0). Returns why it stopped; 'cursor': bytes consumed.
   */
  traceRun(vm: number, records: Uint8Array, fresh: boolean): Reason {
    const at = this.base + BUF;
    if (fresh) {
      this.engine.u8.set(records, at);
      this.set(vm, 'cursor', 0);
    }
    return this.call('simTraceRun', vm, at, records.length);
  }
  seen(vm: number, clear: boolean): number {
    return this.call('simSeen', vm, clear) >>> 0;
  }

  // ---- guest reclaim: lists in staging -------------------------------------------------------------

  /** Up to `n` pages for the balloon: free pages (what 0) or dropped cache pages (1), listed in place. */
  take(vm: number, n: number, what: 0 | 1): StagedList {
    const k = this.call('guestTake', vm, Math.min(n, SIM_LIST_MAX), what, this.base + A) >>> 0;
    return { at: this.base + A, n: k };
  }
  dropCache(vm: number, n: number): number {
    return this.call('guestDropCache', vm, n) >>> 0;
  }
  /** Up to `n` ballooned GPPNs, listed in place for a deflate. */
  deflateSelect(vm: number, n: number): StagedList {
    const k = this.call('guestDeflateSelect', vm, Math.min(n, SIM_LIST_MAX), this.base + A) >>> 0;
    return { at: this.base + A, n: k };
  }
  /** Ballooned GPPNs of `list` to the free list (after the host deflated them). */
  freeBalloon(vm: number, list: StagedList): number {
    return this.call('guestFreeBalloon', vm, list.at, list.n) >>> 0;
  }
  /** Chooses up to `n` (<= pagesMax) guest swap victims and reads them into the page buffer; resumable. */
  swapSelect(vm: number, n: number): Reason {
    return this.call('guestSwapSelect', vm, Math.min(n, SIM_PAGES), this.base + P, this.base + BUF);
  }
  /** The victims of the last swapSelect: their GPPNs and virtual pages, and their pages (views die on the next engine call). */
  swapVictims(vm: number): { gppns: Uint32Array; vps: Uint32Array; pages: Uint8Array[] } {
    const n = this.get(vm, 'batchN');
    const pairs = new Uint32Array(this.engine.u8.buffer, this.base + P, n * 2);
    const gppns = new Uint32Array(n), vps = new Uint32Array(n), pages: Uint8Array[] = [];
    for (let i = 0; i < n; i++) {
      gppns[i] = pairs[2 * i];
      vps[i] = pairs[2 * i + 1];
      pages.push(this.engine.u8.subarray(this.base + BUF + i * PAGE, this.base + BUF + (i + 1) * PAGE));
    }
    return { gppns, vps, pages };
  }
  /** Commits the victims of the last swapSelect with their guest swap `slots` (0xffffffff: not written); resumable. */
  swapCommit(vm: number, slots: Uint32Array, toBalloon: boolean): Reason {
    const n = slots.length;
    new Uint32Array(this.engine.u8.buffer, this.base + B, n).set(slots);
    return this.call('guestSwapCommit', vm, this.base + P, this.base + B, n, toBalloon, this.base + A);
  }
  /** The GPPNs a balloon swap commit gave to the balloon, listed in place. */
  committedToBalloon(vm: number): StagedList {
    return { at: this.base + A, n: this.get(vm, 'batchN') };
  }
  /** The page buffer's first page, for a guest swap-in read (dies on the next engine call). */
  swapInBuffer(): Uint8Array {
    return this.engine.u8.subarray(this.base + BUF, this.base + BUF + PAGE);
  }
  /** Brings virtual page `vp` back from guest swap with the page in swapInBuffer; resumable. */
  swapIn(vm: number, vp: number): Reason {
    return this.call('guestSwapIn', vm, vp, this.base + BUF);
  }
  /** The workload frees virtual pages [from, to); resumable (Reason.More: take the lists, call again). */
  release(vm: number, from: number, to: number): Reason {
    return this.call('guestRelease', vm, from, to, this.base + A, this.base + B, SIM_LIST_MAX);
  }
  /** What the last release freed (GPPNs, in place) and the guest swap slots it gave back. */
  released(vm: number): { freed: StagedList; slots: Uint32Array } {
    const m = this.get(vm, 'batchM');
    return { freed: { at: this.base + A, n: this.get(vm, 'batchN') }, slots: new Uint32Array(this.engine.u8.buffer, this.base + B, m).slice() };
  }
  /** The guest zeroes the GPPNs of `list`; resumable. */
  zero(vm: number, list: StagedList): Reason {
    return this.call('guestZero', vm, list.at, list.n);
  }
  /** Free page reporting: blocks free for `delayMs`, listed in place; Reason.More when more remain. */
  report(vm: number, delayMs: number): { reason: Reason; list: StagedList } {
    const r = this.call('guestReport', vm, delayMs, this.base + A, SIM_LIST_MAX);
    return { reason: r, list: { at: this.base + A, n: this.get(vm, 'batchN') } };
  }
  /** Host side of free page reporting: discards the backing of `list`; the host swap slots it freed. */
  discard(vm: number, list: StagedList): Uint32Array {
    const k = this.call('pagesDiscard', vm, list.at, list.n, this.base + B) >>> 0;
    return new Uint32Array(this.engine.u8.buffer, this.base + B, k).slice();
  }
  /** Address for a balloon call's freed swap slots (room for `n` u32 after a list). */
  slotsRoom(): number {
    return this.base + B;
  }

  /** Checks the guest model's invariants of `vm` (assembly/guest/alloc.ts guestAudit): 0, or a failure code (detail in 'verifyFirst'); a debug build aborts. */
  guestAudit(vm: number): number {
    return this.call('guestAudit', vm) >>> 0;
  }

  // ---- the oracle ------------------------------------------------------------------------------

  verifyBegin(vm: number): void {
    this.call('simVerifyBegin', vm);
  }
  /** Compares pages the host holds in memory; lists host-swapped GPPNs (Reason.More: more to list). */
  verify(vm: number): { reason: Reason; swapped: Uint32Array } {
    const r = this.call('simVerify', vm, this.base + A, SIM_PAGES);
    return { reason: r, swapped: new Uint32Array(this.engine.u8.buffer, this.base + A, this.get(vm, 'batchN')).slice() };
  }
  /** The page buffer (pagesMax pages), for the oracle's reads from swap stores. */
  pageBuffer(n: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (let i = 0; i < n; i++) out.push(this.engine.u8.subarray(this.base + BUF + i * PAGE, this.base + BUF + (i + 1) * PAGE));
    return out;
  }
  /** Compares the listed GPPNs with their pages read into the page buffer. */
  verifyPages(vm: number, gppns: Uint32Array): void {
    new Uint32Array(this.engine.u8.buffer, this.base + A, gppns.length).set(gppns);
    this.call('simVerifyPages', vm, this.base + A, gppns.length, this.base + BUF);
  }
  /** Lists (vp, slot) of virtual pages in guest swap (Reason.More: more to list). */
  verifyGuestList(vm: number): { reason: Reason; vps: Uint32Array; slots: Uint32Array } {
    const r = this.call('simVerifyGuestList', vm, this.base + P, SIM_PAGES);
    const n = this.get(vm, 'batchN');
    const pairs = new Uint32Array(this.engine.u8.buffer, this.base + P, n * 2);
    const vps = new Uint32Array(n), slots = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      vps[i] = pairs[2 * i];
      slots[i] = pairs[2 * i + 1];
    }
    return { reason: r, vps, slots };
  }
  /** Compares the virtual pages of the last verifyGuestList with their pages read into the page buffer. */
  verifyVpages(vm: number, n: number): void {
    this.call('simVerifyVpages', vm, this.base + P, n, this.base + BUF);
  }
}
