/**
 * translate: simulated cores and the VMs' paging as the engine holds them (assembly/translate:
 * cores, walk, ept, shadow, gos, coherence, accessed, trace). A core is an MMU context; its
 * counters, costs and the results of its last call are read by name ("mmuCtx.*" in
 * assembly/layout.ts). Batches and traces cross through the staging region:
 *
 *   translateBatch, one chunk of CHUNK records (over a Host: from staging.mmu, past every window
 *   a mid-batch swap-in or page-out uses; standalone: from the start of staging):
 *
 *     [ batchIn x n | batchOut x n | batchAddr x n | caller's gVAs u64 | kinds u32 | results u64 | cycles u32 | fault addresses u64 ]
 *
 *   trace text: [ carried partial line + chunk | pad to 4 KiB | binary records emitted (emit mode) ]
 *
 * A batch over a Host may meet pages the host must bring back (swap-in) or frames it must free:
 * the records waiting for it are listed in WebAssembly (batchHostFaults, into staging.mmuRetry)
 * and retried one by one through `retry`, which resolves the fault as a single translation does.
 * Trace replay over a Host stops at such a record instead (TRACE_HOST_STOP) and resumes it
 * (traceResume) once the fault driver (driver.ts) had the host resolve it; its text then sits in
 * staging.mmu, past the windows the host uses meanwhile.
 */
import type { Bound, Gateway, Record_, RegionInfo } from './gateway.js';
import { gppnOfBig, type Gpa, type Gppn, type Gva } from './addr.js';
import type { FaultResolver, HostNeed } from './fault.js';
import { drive, type HostStop } from './driver.js';
import { ConfigError } from '../errors.js';

/** Kinds of translation fault (assembly/translate/walk.ts FK_*; the engine checks they agree). */
export enum FaultKind {
  GuestPageFault = 1,
  EptViolation = 2,
  EptMisconfig = 3,
  Host = 4,
  GuestOutOfMemory = 5,
  NonCanonical = 6,
  NoFrame = 7,
}

const FK_NAMES = {
  FK_GUEST_PF: FaultKind.GuestPageFault,
  FK_EPT_VIOLATION: FaultKind.EptViolation,
  FK_EPT_MISCONFIG: FaultKind.EptMisconfig,
  FK_HOST: FaultKind.Host,
  FK_GUEST_OOM: FaultKind.GuestOutOfMemory,
  FK_NONCANONICAL: FaultKind.NonCanonical,
  FK_NO_FRAME: FaultKind.NoFrame,
} as const;

/** Bit 63 of a result word: the translation faulted (bits 48-54 the kind, 0-31 the code). */
export const FAULT_BIT = 1n << 63n;

/** A batch of translations in staging, zero-copy (Mmu.batch). */
export interface TranslationBatch {
  readonly capacity: number;
  /** input64[2i] = gVA */
  readonly input64: BigUint64Array;
  /** input32[4i+2] = kind */
  readonly input32: Uint32Array;
  /** output64[2i] = hPA or fault word */
  readonly output64: BigUint64Array;
  /** output32[4i+2] = cycles */
  readonly output32: Uint32Array;
  /** faultAddress64[i] = faulting gVA (#PF) or gPA (EPT, host) of record i, written only when it faulted */
  readonly faultAddress64: BigUint64Array;
  /** Translates records 0..n-1; returns the number of faults. */
  run(n: number): number;
}

/** A record's retry over a Host: its final result word, its cycles (every attempt), and its fault address when it faulted. */
export type BatchRetry = (va: Gva, kind: number) => { word: bigint; cycles: number; address: bigint | null };

/** The last fault on a core: kind (FaultKind), code, faulting gVA (#PF) or gPA (EPT, host). */
export interface LastFault {
  kind: number;
  code: number;
  address: bigint;
}

const EXPORTS = [
  'mmuCreate', 'mmuCtxAddr', 'mmuResetCounters', 'pagingVmSetup', 'invvpid', 'invept', 'pagingStatCount', 'pagingStatName',
  'pagingStat', 'mmuSwitch', 'mmuTranslate', 'mmuTranslateBatch', 'batchPack', 'batchUnpack', 'batchHostFaults', 'mmuInvlpg',
  'eptSetup', 'eptPointer', 'eptPoke', 'eptPeek', 'gosNewRoot', 'gosRangeBusy', 'gosAttach', 'guestWrite64', 'guestRead64',
  'lackeyReplay', 'binaryReplay', 'traceReset', 'traceResume', 'backingChanged', 'pagingSample', 'pagingVmRelease', 'shadowRelease', 'ptPoolDrain',
  'wsSample',
  'crc32',
] as const;

/** Why a lackey text line stopped the replay (assembly/translate/trace.ts TRACE_ERR_*). */
export type TraceLineError = 'syntax' | 'long' | 'nul';

/** Records of one translateBatch chunk. */
const CHUNK = 1 << 16;

/** The host side of a trace replay over a Host: who resolves the core's stops, and what to call the replay if the driver gives up. */
export interface TraceHost {
  readonly resolver: FaultResolver;
  readonly operation: () => string;
}

export class Translate {
  private readonly x: Bound<typeof EXPORTS>;
  private readonly ctx: Record_<'faultAddr' | 'faultKind' | 'faultCode' | 'cycles' | 'traceErrorAt' | 'traceLines' | 'traceEmitted' | 'traceStop'>;
  private readonly counterSlots: ReadonlyArray<readonly [string, number]>;
  private readonly costSlots: ReadonlyArray<readonly [string, number]>;
  private readonly bIn: Record_<'va' | 'kind'>;
  private readonly bOut: Record_<'result' | 'cycles'>;
  private readonly bAddr: Record_<'address'>;
  private readonly win: { readonly mmuRetry: RegionInfo; readonly mmu: RegionInfo };
  private readonly statNames: readonly string[];
  private readonly trace: {
    readonly TRACE_SKIP_BAD: number; readonly TRACE_HOST_STOP: number; readonly TRACE_MAX_LINE: number; readonly TRACE_ERR_SYNTAX: number;
    readonly TRACE_ERR_LONG: number; readonly TRACE_ERR_NUL: number;
  };
  /** Bytes of one TLB / walk-cache entry: an engine's mmuCacheBytes must hold every core's entries. */
  readonly cacheEntryBytes: number;
  /** Linear address of each core's context, by id (asked for once, when the core is created). */
  private readonly ctxAddr: number[] = [];
  /** Word index (address / 4) of each core's last-translation cycles, by id. */
  private readonly cyclesWord: number[] = [];

  /** `needOf`: what a pmap FAULT_* code asks of the host (reclaim.ts needOf). */
  constructor(private readonly g: Gateway, private readonly needOf: (code: number) => HostNeed | null) {
    this.x = g.bind(EXPORTS);
    const fk = g.constantsOf(Object.keys(FK_NAMES) as (keyof typeof FK_NAMES)[]);
    for (const [name, v] of Object.entries(FK_NAMES)) {
      const m = fk[name as keyof typeof FK_NAMES];
      if (m !== v) throw new ConfigError('module', name, `${v}, as FaultKind says (the module says ${m}: rebuild it)`);
    }
    this.trace = g.constantsOf(['TRACE_SKIP_BAD', 'TRACE_HOST_STOP', 'TRACE_MAX_LINE', 'TRACE_ERR_SYNTAX', 'TRACE_ERR_LONG', 'TRACE_ERR_NUL']);
    this.cacheEntryBytes = g.constantsOf(['MMU_CACHE_ENTRY_BYTES']).MMU_CACHE_ENTRY_BYTES;
    this.ctx = g.record('mmuCtx', { faultAddr: 8, faultKind: 4, faultCode: 4, cycles: 4, traceErrorAt: 4, traceLines: 8, traceEmitted: 4, traceStop: 4 });
    this.counterSlots = g.group('mmuCtx.counters', 8);
    this.costSlots = g.group('mmuCtx.costs', 8);
    this.bIn = g.record('batchIn', { va: 8, kind: 4 });
    this.bOut = g.record('batchOut', { result: 8, cycles: 4 });
    this.bAddr = g.record('batchAddr', { address: 8 });
    this.win = g.windows('staging', ['mmuRetry', 'mmu']);
    this.statNames = Object.freeze(Array.from({ length: this.x.pagingStatCount() }, (_, i) => this.x.pagingStatName(i)));
  }

  // ---- cores ---------------------------------------------------------------------------------

  /** Creates a core: [sets, ways] of L1i, L1d, L2, guest PWC, nested PWC, nested TLB, and flags; its id, or -1 when full. */
  createCore(geometry: readonly number[], flags: number): number {
    const g = geometry;
    const id = this.x.mmuCreate(g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], g[8], g[9], g[10], g[11], flags);
    if (id >= 0) {
      this.ctxAddr[id] = this.x.mmuCtxAddr(id);
      this.cyclesWord[id] = (this.ctxAddr[id] + this.ctx.cycles) >>> 2;
    }
    return id;
  }
  /** Names of the cost-model fields, in the module's order (CostModel). */
  costNames(): string[] {
    return this.costSlots.map(([n]) => n);
  }
  /** Names of a core's counters, in the module's order (MmuStats). */
  counterNames(): string[] {
    return this.counterSlots.map(([n]) => n);
  }
  /** Writes the cost model of core `ctx`: cycles per event, every name of costNames (validated by the caller). */
  setCosts(ctx: number, cycles: Readonly<Record<string, number>>): void {
    this.g.live();
    const at = this.at(ctx);
    const dv = this.g.view;
    for (const [name, off] of this.costSlots) dv.setBigUint64(at + off, BigInt(cycles[name]), true);
  }
  /** Every counter of core `ctx` by name (events; cycles: simulated cycles). */
  counters(ctx: number): Record<string, number> {
    this.g.live();
    const at = this.at(ctx);
    const dv = this.g.view;
    const out: Record<string, number> = {};
    for (const [name, off] of this.counterSlots) out[name] = Number(dv.getBigUint64(at + off, true));
    return out;
  }
  /** Zeroes the counters of core `ctx`. */
  resetCounters(ctx: number): void { this.x.mmuResetCounters(ctx); }

  private at(ctx: number): number {
    const a = this.ctxAddr[ctx];
    if (a === undefined) throw new ConfigError('ctx', ctx, 'a core created on this engine');
    return a;
  }

  // ---- a VM's paging ---------------------------------------------------------------------------

  /** Sets up the paging of `vm`: mode (0 native, 1 ept, 2 shadow), guest / EPT levels, page size classes (0 4 KiB, 1 2 MiB, 2 1 GiB), VPID, EPT A/D. */
  pagingVmSetup(vm: number, mode: number, levels: number, hostLevels: number, pageCls: number, hostPageCls: number, vpid: number, eptAd: boolean): void {
    this.x.pagingVmSetup(vm, mode, levels, hostLevels, pageCls, hostPageCls, vpid, eptAd ? 1 : 0);
  }
  /** Every named hypervisor-side paging statistic of `vm` (assembly/translate/cores.ts PAGING_STAT_NAMES; counts). */
  pagingStats(vm: number): Readonly<Record<string, number>> {
    const out: Record<string, number> = {};
    for (let i = 0; i < this.statNames.length; i++) out[this.statNames[i]] = this.x.pagingStat(vm, i);
    return out;
  }
  /** Allocates the EPT root of `vm`; false when machine RAM is full. */
  eptSetup(vm: number): boolean { return this.x.eptSetup(vm); }
  /** The EPTP of `vm` (0n outside ept mode). */
  eptPointer(vm: number): bigint { return this.x.eptPointer(vm); }
  /** Raw EPT entry at `level` for `gpa` of `vm` (0n when the path is missing). */
  eptPeek(vm: number, gpa: number, level: number): bigint { return this.x.eptPeek(vm, gpa, level); }
  /** Overwrites the EPT entry at `level` for `gpa` of `vm`; false when the path is missing. */
  eptPoke(vm: number, gpa: number, level: number, value: bigint): boolean { return this.x.eptPoke(vm, gpa, level, value); }
  /** The first GPPN of [lo, hi) of `vm` that holds data, or NO_FRAME when the range reads zero (changes nothing). */
  gosRangeBusy(vm: number, lo: number, hi: number): number { return this.x.gosRangeBusy(vm, lo, hi); }
  /** Confines the guest OS model of `vm` to GPPNs [lo, hi) (after pagingVmSetup; gosRangeBusy first). */
  gosAttach(vm: number, lo: number, hi: number): void { this.x.gosAttach(vm, lo, hi); }
  /** A zeroed root table for a new guest address space of `vm`: its gPA, or -1 when the guest OS range is full. */
  gosNewRoot(vm: number): number { return this.x.gosNewRoot(vm); }
  /** Guest-kernel write of the u64 `value` at `gpa` of the VM on core `ctx`; false when the page cannot be backed (kernelStop says whether the host can help). */
  guestWrite64(ctx: number, gpa: number, value: bigint): boolean { return this.x.guestWrite64(ctx, gpa, value); }
  /** Guest-kernel read of the u64 at `gpa` of the VM on core `ctx`; null on failure (kernelStop says whether the host can help). */
  guestRead64(ctx: number, gpa: number): bigint | null {
    const v = this.x.guestRead64(ctx, gpa);
    return v === 0n && this.g.view.getUint32(this.at(ctx) + this.ctx.faultKind, true) !== 0 ? null : v;
  }
  /** What a fault of `kind` and `code` asks of the host (a frame for a table is 'noFrame'); null for a guest or EPT fault. */
  hostNeed(kind: FaultKind, code: number): HostNeed | null {
    return kind === FaultKind.NoFrame ? 'noFrame' : kind === FaultKind.Host ? this.needOf(code) : null;
  }
  /** The fault driver's stop for the guest-kernel access that just failed on core `ctx`, or null when the host cannot resolve it. */
  kernelStop(ctx: number): HostStop | null {
    const f = this.lastFault(ctx);
    const need = this.hostNeed(f.kind, f.code);
    return need === null ? null : this.stopAt(f.address, need, false);
  }
  /**
   * Powers off the paging of `vm`: frees its EPT or shadow tables, drops every cached translation
   * naming it on every core, detaches the cores running it, clears its paging state; the tables freed.
   */
  pagingVmRelease(vm: number): number { return this.x.pagingVmRelease(vm); }
  /** Frees every shadow table of `vm` (caches, rebuilt on demand); the tables freed. */
  shadowRelease(vm: number): number { return this.x.shadowRelease(vm); }
  /** Gives the page-table pad pool's frames (held for large-page alignment) back to the allocator; how many. */
  ptPoolDrain(): number { return this.x.ptPoolDrain(); }
  /** Drops every cached translation of (vm, gppn) on every core (what the pmap does when backing changes). */
  backingChanged(vm: number, gppn: number): void { this.x.backingChanged(vm, gppn); }

  /**
   * Samples GPPNs [first, first + n) of `vm` like the pmap's sampler, after moving the accessed /
   * dirty bits the hardware wrote into the VM's EPT or shadow leaves into the pmap (clearing them
   * there and invalidating the translations that must walk again; assembly/translate/accessed.ts).
   * One u8 per page (bit 0 accessed, bit 1 dirty); `clear` clears the pmap bits.
   */
  pagingSample(vm: number, first: number, n: number, clear: boolean): Uint8Array {
    const at = this.g.stage(Math.max(n, 1));
    this.x.pagingSample(vm, first, n, clear, at);
    return this.g.u8.slice(at, at + n);
  }
  /** Moves the leaves' accessed / dirty bits of GPPNs [first, first + n) of `vm` into the pmap (pagingSample without a result). */
  harvest(vm: number, first: number, n: number): void {
    this.x.pagingSample(vm, first, n, false, 0);
  }

  /**
   * One period of the working-set sampler (assembly/translate/wsample.ts): counts the pages of
   * `armed` touched since they were armed, then arms `n` random pages of `vm` (seeded by `seed`)
   * and returns them with the count. The list crosses through the start of staging, for the call.
   */
  wsSample(vm: number, armed: Uint32Array | null, n: number, seed: number): { touched: number; armed: Uint32Array } {
    const old = armed?.length ?? 0;
    const at = this.g.stage(Math.max(old, n, 1) * 4);
    if (armed) this.g.u8.set(new Uint8Array(armed.buffer, armed.byteOffset, old * 4), at);
    const touched = this.x.wsSample(vm, at, old, n, seed >>> 0, Math.floor(seed / 2 ** 32) >>> 0);
    return { touched, armed: new Uint32Array(this.g.u8.slice(at, at + n * 4).buffer) };
  }

  // ---- translation -----------------------------------------------------------------------------

  /** Runs `vm` on core `ctx` with guest CR3 `cr3` (a gPA) and PCID `pcid`. */
  switchTo(ctx: number, vm: number, cr3: number, pcid: number): void { this.x.mmuSwitch(ctx, vm, cr3, pcid); }
  /**
   * Translates `va` on core `ctx` (kind 0 read, 1 write, 2 fetch, +4 supervisor): the hPA or a
   * fault word (bit 63); `cycles` then holds what it cost (read from the core's results here, so
   * the per-access path makes one call).
   */
  translate(ctx: number, va: Gva, kind: number): bigint {
    const r = this.x.mmuTranslate(ctx, va, kind);
    this.cycles = this.g.u32[this.cyclesWord[ctx]];
    return r;
  }
  /** Cycles charged to the last `translate`. */
  cycles = 0;
  /** The last fault on core `ctx` (a single translation's, or a batch's last). */
  lastFault(ctx: number): LastFault {
    const dv = this.g.view;
    const at = this.at(ctx);
    return {
      kind: dv.getUint32(at + this.ctx.faultKind, true),
      code: dv.getUint32(at + this.ctx.faultCode, true),
      address: dv.getBigUint64(at + this.ctx.faultAddr, true),
    };
  }
  /**
   * The fault driver's stop for fault word `word` (bit 63 set) of core `ctx`, whose last fault it
   * is: a host fault (a page to swap in, no frame, the VM at its limit) or no frame for a table;
   * null for a fault the host does not resolve (a guest #PF, an EPT misconfiguration, ...).
   */
  hostStop(ctx: number, word: bigint): HostStop | null {
    const kind = Number((word >> 48n) & 0x7fn);
    const need = kind === FaultKind.NoFrame ? 'noFrame' : kind === FaultKind.Host ? this.needOf(Number(word & 0xffffffffn)) : null;
    if (need === null) return null;
    return this.stopAt(this.lastFault(ctx).address, need, false);
  }

  /** A stop at gPA `address` for `need`: its page, the page after, `progress`. */
  private stopAt(address: bigint, need: HostNeed, progress: boolean): HostStop {
    const gppn = gppnOfBig(address);
    return { need, gppn, end: (gppn + 1) as Gppn, gpa: Number(address) as Gpa, progress };
  }

  /** Guest INVLPG of `va` on core `ctx`. */
  invlpg(ctx: number, va: Gva): void { this.x.mmuInvlpg(ctx, va); }
  /** INVVPID on core `ctx`: type 0 address, 1 single, 2 all. */
  invvpid(ctx: number, type: number, vpid: number, va: number): void { this.x.invvpid(ctx, type, vpid, va); }
  /** INVEPT on core `ctx`: type 1 single (`vm`), 2 all. */
  invept(ctx: number, type: number, vm: number): void { this.x.invept(ctx, type, vm); }

  /**
   * Translates `vas[i]` with `kinds[i]` into `results[i]` (and `cycles[i]`, and for a faulted
   * record `faultAddresses[i]`), CHUNK records per WebAssembly call; the caller's arrays are copied
   * in and out in bulk and interleaved in WebAssembly. `hosted`: the core runs over a Host, whose
   * faults `retry` resolves. Returns the number of faults.
   */
  translateBatch(ctx: number, hosted: boolean, vas: BigUint64Array, kinds: Uint8Array | Uint32Array, results: BigUint64Array,
    cycles?: Uint32Array, faultAddresses?: BigUint64Array, retry?: BatchRetry): number {
    const n = vas.length;
    const rin = this.bIn.size, rout = this.bOut.size, raddr = this.bAddr.size;
    const base = this.stageCore(hosted, CHUNK * (rin + rout + raddr + 32));
    const inp = base, out = inp + CHUNK * rin, addrs = out + CHUNK * rout, vasAt = addrs + CHUNK * raddr;
    const kindsAt = vasAt + CHUNK * 8, resAt = kindsAt + CHUNK * 4, cycAt = resAt + CHUNK * 8, faAt = cycAt + CHUNK * 4;
    const kindBytes = kinds instanceof Uint8Array ? 1 : 4;
    let faults = 0;
    for (let at = 0; at < n; at += CHUNK) {
      const m = Math.min(CHUNK, n - at);
      const buf = this.g.u8.buffer;
      new BigUint64Array(buf, vasAt, m).set(vas.subarray(at, at + m));
      if (kinds instanceof Uint8Array) new Uint8Array(buf, kindsAt, m).set(kinds.subarray(at, at + m));
      else new Uint32Array(buf, kindsAt, m).set(kinds.subarray(at, at + m));
      if (faultAddresses) new BigUint64Array(buf, faAt, m).set(faultAddresses.subarray(at, at + m));
      this.x.batchPack(inp, vasAt, kindsAt, kindBytes, m);
      faults += this.runBatch(ctx, inp, out, m, faultAddresses ? addrs : 0, retry);
      this.x.batchUnpack(out, resAt, cycles ? cycAt : 0, faultAddresses ? addrs : 0, faultAddresses ? faAt : 0, m);
      const after = this.g.u8.buffer; // a swap-in midway may have grown linear memory
      results.set(new BigUint64Array(after, resAt, m), at);
      if (cycles) cycles.set(new Uint32Array(after, cycAt, m), at);
      if (faultAddresses) faultAddresses.set(new BigUint64Array(after, faAt, m), at);
    }
    return faults;
  }

  /**
   * A zero-copy batch of up to `capacity` records in staging (see TranslationBatch). The views
   * use the record layout the public TranslationBatch documents; the engine checks the module
   * lays records out that way.
   */
  batch(ctx: number, hosted: boolean, capacity: number, retry?: BatchRetry): TranslationBatch {
    if (this.bIn.size !== 16 || this.bIn.va !== 0 || this.bIn.kind !== 8 || this.bOut.size !== 16 || this.bOut.result !== 0 || this.bOut.cycles !== 8 || this.bAddr.size !== 8) {
      throw new ConfigError('module', 'batchIn/batchOut', 'records of 16 bytes (u64 at 0, u32 at 8), as TranslationBatch documents');
    }
    const base = this.stageCore(hosted, capacity * (this.bIn.size + this.bOut.size + this.bAddr.size));
    const buf = this.g.u8.buffer;
    const out = base + capacity * this.bIn.size;
    const addrs = out + capacity * this.bOut.size;
    return {
      capacity,
      input64: new BigUint64Array(buf, base, capacity * 2),
      input32: new Uint32Array(buf, base, capacity * 4),
      output64: new BigUint64Array(buf, out, capacity * 2),
      output32: new Uint32Array(buf, out, capacity * 4),
      faultAddress64: new BigUint64Array(buf, addrs, capacity),
      run: (n: number) => this.runBatch(ctx, base, out, n, addrs, retry),
    };
  }

  /** Translates `n` staged records in one call; with `retry`, retries the records that wait for the host and writes their final result. */
  private runBatch(ctx: number, inp: number, out: number, n: number, addrs: number, retry?: BatchRetry): number {
    let faults = this.x.mmuTranslateBatch(ctx, inp, out, n, addrs);
    if (faults === 0 || !retry) return faults;
    const cap = this.win.mmuRetry.size / 4;
    const listAt = this.g.stage(this.win.mmuRetry.offset + this.win.mmuRetry.size) + this.win.mmuRetry.offset;
    const { bIn, bOut, bAddr } = this;
    for (let from = 0; from < n; from += cap) {
      const k = this.x.batchHostFaults(out + from * bOut.size, Math.min(cap, n - from), listAt);
      // copied out before the host acts: its swap-ins and page-outs use staging too
      const waiting = Array.from(new Uint32Array(this.g.u8.buffer, listAt, k));
      for (const j of waiting) {
        const i = from + j;
        const dv = this.g.view; // a swap-in may have grown linear memory
        const r = inp + i * bIn.size;
        const t = retry(dv.getBigUint64(r + bIn.va, true) as Gva, dv.getUint32(r + bIn.kind, true));
        const v = this.g.view;
        const o = out + i * bOut.size;
        v.setBigUint64(o + bOut.result, t.word, true);
        v.setUint32(o + bOut.cycles, t.cycles, true);
        if (t.address !== null && addrs) v.setBigUint64(addrs + i * bAddr.size + bAddr.address, t.address, true);
        if (t.word < FAULT_BIT) faults--;
      }
    }
    return faults;
  }

  /** Address of `bytes` of staging for a core's batch records or trace input: over a Host, in the mmu window, past the windows the host uses midway. */
  private stageCore(hosted: boolean, bytes: number): number {
    const at = hosted ? this.win.mmu.offset : 0;
    return this.g.stage(at + bytes) + at;
  }

  // ---- trace replay ------------------------------------------------------------------------------

  /** Starts a new text trace on core `ctx` (line numbers from 1). */
  traceReset(ctx: number): void { this.x.traceReset(ctx); }

  /** Longest lackey line accepted (bytes, newline excluded): the most a text feed carries between chunks. */
  get traceMaxLine(): number {
    return this.trace.TRACE_MAX_LINE;
  }

  /**
   * Parses and replays `carry` + `chunk` of lackey text on core `ctx` (`final`: nothing follows,
   * so a last line without a newline counts). `emit`: translate nothing, return the records in
   * the binary format instead. Returns the bytes consumed, the bytes to carry into the next chunk
   * (a partial last line) and the emitted records; or the line that stopped it: why, its number
   * in the whole trace, where it starts (or where its NUL byte is) from the start of `carry`, and
   * its text (at most 200 characters).
   */
  feedText(ctx: number, carry: Uint8Array, chunk: Uint8Array, final: boolean, skipBad: boolean, emit: boolean, host: TraceHost | null = null):
    { used: number; carry: Uint8Array; emitted: Uint8Array | null } | { error: TraceLineError; line: number; offset: number; text: string } {
    const len = carry.length + chunk.length;
    // at most 16 bytes of binary per line of at least 7 bytes of text
    const emitAt = (len + 4096) & ~4095;
    const base = this.stageCore(host !== null, emitAt + Math.ceil(len / 7) * 16 + 64);
    const u8 = this.g.u8;
    u8.set(carry, base);
    u8.set(chunk, base + carry.length);
    const flags = (skipBad ? this.trace.TRACE_SKIP_BAD : 0) | (host && !emit ? this.trace.TRACE_HOST_STOP : 0);
    let used = 0;
    let rc = 0;
    const feed = () => {
      rc = this.x.lackeyReplay(ctx, base + used, len - used, final, flags, emit ? base + emitAt : 0);
      if (rc >= 0) used += rc;
      return rc >= 0 ? this.traceStopped(ctx) : null;
    };
    this.driveTrace(ctx, host, feed);
    const dv = this.g.view;
    const at = this.at(ctx);
    if (rc < 0) {
      const t = this.trace;
      const error: TraceLineError = -rc === t.TRACE_ERR_NUL ? 'nul' : -rc === t.TRACE_ERR_LONG ? 'long' : 'syntax';
      const off = used + dv.getUint32(at + this.ctx.traceErrorAt, true);
      const line = Number(dv.getBigUint64(at + this.ctx.traceLines, true)) + 1;
      if (error === 'nul') return { error, line, offset: off, text: '' };
      const all = this.g.u8.subarray(base, base + len);
      let end = all.indexOf(10, off);
      if (end < 0) end = len;
      const text = new TextDecoder().decode(all.subarray(off, Math.min(end, off + 200))).replace(/\r$/, '');
      return { error, line, offset: off, text };
    }
    const after = this.g.u8;
    let emitted: Uint8Array | null = null;
    if (emit) {
      const n = dv.getUint32(at + this.ctx.traceEmitted, true);
      emitted = after.slice(base + emitAt, base + emitAt + n);
    }
    return { used, carry: after.slice(base + used, base + len), emitted };
  }

  /**
   * Replays `carry` + `chunk` of binary trace records on core `ctx`; returns the bytes of a
   * partial last record to carry, and with `crc` (not null) the CRC-32 of `chunk` continuing from
   * it, computed on the same staged bytes.
   */
  feedBinary(ctx: number, carry: Uint8Array, chunk: Uint8Array, crc: number | null = null, host: TraceHost | null = null): { carry: Uint8Array; crc: number } {
    const len = carry.length + chunk.length;
    const base = this.stageCore(host !== null, len);
    const u8 = this.g.u8;
    u8.set(carry, base);
    u8.set(chunk, base + carry.length);
    const sum = crc === null ? 0 : this.x.crc32(base + carry.length, chunk.length, crc);
    const flags = host ? this.trace.TRACE_HOST_STOP : 0;
    let used = 0;
    this.driveTrace(ctx, host, () => {
      used += this.x.binaryReplay(ctx, base + used, len - used, flags);
      return this.traceStopped(ctx);
    });
    return { carry: this.g.u8.slice(base + used, base + len), crc: sum };
  }

  /**
   * Runs `feed` (one replay call from where the last stopped: the stop, or null when it got to
   * the end of its bytes or an error); over a Host, through the fault driver: each stop resolved,
   * the pending record resumed (traceResume), then `feed` again.
   */
  private driveTrace(ctx: number, host: TraceHost | null, feed: () => HostStop | null): void {
    const first = feed();
    if (first === null) return;
    drive(host!.resolver, { step: () => (this.x.traceResume(ctx) ? feed() : this.traceStopped(ctx, false)), operation: host!.operation }, first);
  }

  /**
   * The stop a replay call (or traceResume) left in core `ctx`'s results, or null when it did not
   * stop; `progress`: records were completed since the last stop (a feed after a resume that got
   * its record done, or the first feed).
   */
  private traceStopped(ctx: number, progress = true): HostStop | null {
    const dv = this.g.view;
    const at = this.at(ctx);
    if (dv.getUint32(at + this.ctx.traceStop, true) === 0) return null;
    const kind = dv.getUint32(at + this.ctx.faultKind, true);
    const need = kind === FaultKind.NoFrame ? 'noFrame' : this.needOf(dv.getUint32(at + this.ctx.faultCode, true));
    if (need === null) throw new ConfigError('module', kind, 'a host fault where trace replay stopped for the host (rebuild the module)');
    return this.stopAt(dv.getBigUint64(at + this.ctx.faultAddr, true), need, progress);
  }
}
