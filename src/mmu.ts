/**
 * Mmu: the typed API over the paging mechanism (assembly/mmu.ts, walk.ts, ept.ts, shadow.ts).
 * One Mmu is one simulated core (L1 iTLB, L1 dTLB, L2 TLB, page-walk caches, nested TLB) running
 * one or more VMs, each with its guest page tables, its EPT or shadow tables, and a minimal guest
 * OS that maps pages on first touch. It creates its own engine unless given one (later the Host
 * will own it). Batches cross into WebAssembly in one call.
 */

import { Engine, type EngineFlavor, type PagingExports } from './engine.js';
import { ConfigError, MemvisorError, checkInt } from './errors.js';

export type MmuMode = 'native' | 'ept' | 'shadow';
export type PageSize = '4k' | '2m' | '1g';
export type AccessKind = 'read' | 'write' | 'fetch';

/** A set-associative cache geometry: `entries` = sets x `ways`. 0 entries turns it off. */
export interface CacheGeometry {
  entries: number;
  ways: number;
}

/**
 * Cycles charged per event. Defaults are round numbers inside published ranges, not measurements:
 * - tlbL1Hit 1: an L1 TLB hit is folded into the load-to-use latency (Intel optimization manual).
 * - tlbL2Hit 9: Skylake STLB hit penalty of about 9 cycles (Agner Fog, microarchitecture guide; 7-cpu.com).
 * - walkRef 25: a paging-structure read mostly hits the data caches: L2 about 12, L3 about 40
 *   cycles on Skylake (7-cpu.com); 25 sits between (Bhargava et al., ASPLOS 2008, use a similar split).
 * - pwcHit 1: a page-walk-cache lookup is a small SRAM probe (Barr et al., ISCA 2010).
 * - vmExit 1000: a VM exit plus VM entry round trip costs several hundred to over a thousand
 *   cycles on recent Intel cores (Agesen et al., USENIX ATC 2012; Dall et al., ISCA 2016).
 * - guestPageFault 2000: a minor page fault in a Linux guest, trap plus handler, is 1-2 us.
 * - eptViolation 2000: hypervisor work on an EPT violation beyond the exit itself (pmap lookup,
 *   frame allocation, EPT update), of the same order as a host minor fault.
 * - shadowFill 1500: software walk of guest tables and shadow update per hidden fault, beyond the exit.
 * - ptWriteEmulation 1000: decode and emulate a trapped guest page-table write, beyond the exit.
 */
export interface CostModel {
  tlbL1Hit: number;
  tlbL2Hit: number;
  walkRef: number;
  pwcHit: number;
  vmExit: number;
  guestPageFault: number;
  eptViolation: number;
  shadowFill: number;
  ptWriteEmulation: number;
}

export const DEFAULT_COSTS: Readonly<CostModel> = Object.freeze({
  tlbL1Hit: 1,
  tlbL2Hit: 9,
  walkRef: 25,
  pwcHit: 1,
  vmExit: 1000,
  guestPageFault: 2000,
  eptViolation: 2000,
  shadowFill: 1500,
  ptWriteEmulation: 1000,
});

/** Skylake-like defaults. */
export const DEFAULT_TLB: Readonly<{ l1d: CacheGeometry; l1i: CacheGeometry; l2: CacheGeometry }> = Object.freeze({
  l1d: { entries: 64, ways: 4 },
  l1i: { entries: 128, ways: 8 },
  l2: { entries: 1536, ways: 12 },
});
/** Page-walk caches (one per side, all levels) and nested TLB, after Bhargava et al. (ASPLOS 2008). */
export const DEFAULT_PWC: Readonly<CacheGeometry> = Object.freeze({ entries: 32, ways: 4 });
export const DEFAULT_NTLB: Readonly<CacheGeometry> = Object.freeze({ entries: 64, ways: 4 });

export interface VmOptions {
  /** MMU virtualization. Default 'ept'. */
  mode?: MmuMode;
  /** Guest paging levels (5 = LA57). Default 4. */
  levels?: 4 | 5;
  /** EPT walk length. Default 4. */
  hostLevels?: 4 | 5;
  /** Pages the guest OS model maps. Default '4k'. */
  pageSize?: PageSize;
  /** Host backing / EPT leaf size. Default '4k'. */
  hostPageSize?: PageSize;
  /** EPT accessed and dirty flags (EPTP bit 6). Default true. */
  eptAccessDirty?: boolean;
  /** VPID of the VM (0 = VPID off: its TLB entries are flushed on every switch). Default: VM index + 1. */
  vpid?: number;
  /** Guest memory in MiB. Default 4096 (8192 with 1 GiB guest pages). */
  guestMemoryMiB?: number;
}

export interface MmuOptions extends VmOptions {
  tlb?: Partial<{ l1d: CacheGeometry; l1i: CacheGeometry; l2: CacheGeometry }>;
  /** Guest and nested page-walk caches on. Default true. */
  pwc?: boolean;
  /** Nested TLB on (ept mode). Default true. */
  ntlb?: boolean;
  guestPwc?: CacheGeometry;
  nestedPwc?: CacheGeometry;
  nestedTlb?: CacheGeometry;
  /** The guest OS model maps pages on not-present faults. Default true; false returns the #PF. */
  demandPaging?: boolean;
  costs?: Partial<CostModel>;
  /** VMs this Mmu can hold (sizes the engine). Default 2. */
  maxVms?: number;
  /** Machine RAM in MiB when the Mmu creates its engine. Default 512 (2048 with 1 GiB host pages). */
  machineMemoryMiB?: number;
  /** An engine to use instead of creating one (it must have room for the VMs and a context). */
  engine?: Engine;
  flavor?: EngineFlavor;
}

/** Kinds of translation fault (assembly/walk.ts FK_*). */
export enum FaultKind {
  GuestPageFault = 1,
  EptViolation = 2,
  EptMisconfig = 3,
  Host = 4,
  GuestOutOfMemory = 5,
  NonCanonical = 6,
  NoFrame = 7,
}

export interface Fault {
  kind: FaultKind;
  /** #PF error code, EPT-violation exit qualification, or pmap FAULT_* code. */
  code: number;
  /** Faulting gVA (#PF) or gPA (EPT). */
  address: bigint;
}

export interface Translation {
  /** Host-physical address (native mode: the physical address), or null on a fault. */
  hpa: bigint | null;
  fault: Fault | null;
  cycles: number;
}

/** Counters of the core, each a count of events (cycles: simulated cycles). */
export interface MmuStats {
  records: number; translations: number; l1iAccesses: number; l1dAccesses: number; l1iMisses: number;
  l1dMisses: number; l2Misses: number; walks: number; walkRefs: number; faultWalkRefs: number;
  guestPageFaults: number; eptViolations: number; eptMisconfigs: number; vmExits: number; cycles: number;
  pwcHits: number; ntlbHits: number; ntlbMisses: number; shadowFills: number; shadowWalkRefs: number;
  ptWriteTraps: number; invlpgs: number; cr3Switches: number; shadowRootMisses: number; unhandledFaults: number;
  badLines: number; lines: number; traceBytes: number;
}

/** A translation fault reported by Mmu.translateOrThrow. */
export class TranslationFaultError extends MemvisorError {
  constructor(readonly fault: Fault) {
    super(`translation fault: ${FaultKind[fault.kind]} code 0x${fault.code.toString(16)} at 0x${fault.address.toString(16)}`);
  }
}

const MODES: Record<MmuMode, number> = { native: 0, ept: 1, shadow: 2 };
const SIZES: Record<PageSize, number> = { '4k': 0, '2m': 1, '1g': 2 };
const KINDS: Record<AccessKind, number> = { read: 0, write: 1, fetch: 2 };
const FAULT_BIT = 1n << 63n;

/** Per-VM paging statistic offsets (assembly/mmu.ts P_*). */
const P_SPLITS = 40, P_SHADOWTABLES = 44, P_EPTTABLES = 48, P_ZAPS = 52, P_COHDROPS = 56;

function geometry(field: string, g: CacheGeometry): [number, number] {
  checkInt(`${field}.entries`, g.entries, 0, 1 << 20);
  if (g.entries === 0) return [0, 0];
  checkInt(`${field}.ways`, g.ways, 1, 64);
  if (g.entries % g.ways !== 0) throw new ConfigError(`${field}.entries`, g.entries, `a multiple of ways (${g.ways})`);
  return [g.entries / g.ways, g.ways];
}

function oneOf<T extends string>(field: string, v: unknown, allowed: readonly T[]): T {
  if (!allowed.includes(v as T)) throw new ConfigError(field, v, `one of ${allowed.join(', ')}`);
  return v as T;
}

/** A guest VM on an Mmu: its id in the engine and its current address space. */
export interface MmuVm {
  readonly id: number;
  readonly mode: MmuMode;
  readonly levels: number;
  readonly hostLevels: number;
  readonly pageSize: PageSize;
  readonly hostPageSize: PageSize;
  readonly vpid: number;
  /** gPA of the root table of the address space created with the VM. */
  readonly cr3: bigint;
}

export class Mmu {
  readonly engine: Engine;
  /** Context id of this core in the engine. */
  readonly ctx: number;
  readonly vms: MmuVm[] = [];
  private current: MmuVm;
  private readonly px: PagingExports;
  private readonly ctxAddr: number;
  private readonly counterSlots: [string, number][];

  private constructor(opts: MmuOptions) {
    const hostPageSize = oneOf('hostPageSize', opts.hostPageSize ?? '4k', ['4k', '2m', '1g'] as const);
    const pageSize = oneOf('pageSize', opts.pageSize ?? '4k', ['4k', '2m', '1g'] as const);
    const maxVms = checkInt('maxVms', opts.maxVms ?? 2, 1, 64);
    const guestMiB = opts.guestMemoryMiB ?? (pageSize === '1g' ? 8192 : 4096);
    this.engine = opts.engine ?? Engine.create({
      machineMemoryMiB: opts.machineMemoryMiB ?? (hostPageSize === '1g' ? 2048 : 512),
      guestMemoryMiB: guestMiB * maxVms,
      maxVMs: maxVms,
      flavor: opts.flavor,
    });
    this.px = this.engine.paging;
    const tlb = { ...DEFAULT_TLB, ...opts.tlb };
    const [l1iS, l1iW] = geometry('tlb.l1i', tlb.l1i);
    const [l1dS, l1dW] = geometry('tlb.l1d', tlb.l1d);
    const [l2S, l2W] = geometry('tlb.l2', tlb.l2);
    const [gpS, gpW] = geometry('guestPwc', opts.guestPwc ?? DEFAULT_PWC);
    const [npS, npW] = geometry('nestedPwc', opts.nestedPwc ?? DEFAULT_PWC);
    const [ntS, ntW] = geometry('nestedTlb', opts.nestedTlb ?? DEFAULT_NTLB);
    const flags = (opts.pwc ?? true ? 1 : 0) | (opts.ntlb ?? true ? 2 : 0) | (opts.demandPaging ?? true ? 4 : 0);
    const ctx = this.px.mmuCreate(l1iS, l1iW, l1dS, l1dW, l2S, l2W, gpS, gpW, npS, npW, ntS, ntW, flags);
    if (ctx < 0) throw new ConfigError('engine', 'full', 'room for one more MMU context (maxMmus, mmuCacheBytes)');
    this.ctx = ctx;
    this.ctxAddr = this.px.mmuCtxAddr(ctx);
    this.counterSlots = [];
    for (let i = 0; i < this.px.mmuCounterCount(); i++) {
      this.counterSlots.push([this.engine.string(this.px.mmuCounterName(i)), this.px.mmuCounterSlot(i)]);
    }
    const costs = { ...DEFAULT_COSTS, ...opts.costs };
    const dv = this.engine.view;
    for (let i = 0; i < this.px.mmuCostCount(); i++) {
      const name = this.engine.string(this.px.mmuCostName(i)) as keyof CostModel;
      const v = checkInt(`costs.${name}`, costs[name], 0, 2 ** 31);
      dv.setBigUint64(this.ctxAddr + this.px.mmuCostSlot(i) * 8, BigInt(v), true);
    }
    this.current = this.addVm({ ...opts, hostPageSize, pageSize, guestMemoryMiB: guestMiB });
    this.switchTo(this.current);
    this.resetStats();
  }

  /** Creates an Mmu (one core) with one VM, switched to the VM's first address space. */
  static create(opts: MmuOptions = {}): Mmu {
    return new Mmu(opts);
  }

  /** Adds a VM (with one address space) to the engine; switch to it with `switchTo`. */
  addVm(opts: VmOptions = {}): MmuVm {
    const mode = oneOf('mode', opts.mode ?? 'ept', ['native', 'ept', 'shadow'] as const);
    const levels = Number(oneOf('levels', String(opts.levels ?? 4), ['4', '5'] as const));
    const hostLevels = Number(oneOf('hostLevels', String(opts.hostLevels ?? 4), ['4', '5'] as const));
    const pageSize = oneOf('pageSize', opts.pageSize ?? '4k', ['4k', '2m', '1g'] as const);
    const hostPageSize = oneOf('hostPageSize', opts.hostPageSize ?? '4k', ['4k', '2m', '1g'] as const);
    const guestMiB = checkInt('guestMemoryMiB', opts.guestMemoryMiB ?? (pageSize === '1g' ? 8192 : 4096), 4, 1 << 20);
    const vpid = checkInt('vpid', opts.vpid ?? this.vms.length + 1, 0, 65535);
    const id = this.px.vmCreate(guestMiB * 256, 0, guestMiB * 256, 0);
    if (id < 0) throw new ConfigError('guestMemoryMiB', guestMiB, 'room in the engine for the VM (maxVms, guest memory)');
    this.px.pagingVmSetup(id, MODES[mode], levels, hostLevels, SIZES[pageSize], SIZES[hostPageSize], vpid, opts.eptAccessDirty ?? true ? 1 : 0);
    if (mode === 'ept' && !this.px.eptSetup(id)) throw new ConfigError('machineMemoryMiB', 'full', 'a free frame for the EPT root');
    const root = this.px.gosNewRoot(id);
    if (root < 0) throw new ConfigError('guestMemoryMiB', guestMiB, 'room for a page-table root');
    const vm: MmuVm = Object.freeze({ id, mode, levels, hostLevels, pageSize, hostPageSize, vpid, cr3: BigInt(root) });
    this.vms.push(vm);
    return vm;
  }

  /** The VM currently running on this core. */
  get vm(): MmuVm {
    return this.current;
  }

  /** Allocates a new, empty guest address space in the current VM; returns its CR3 (a gPA). */
  newAddressSpace(): bigint {
    const root = this.px.gosNewRoot(this.current.id);
    if (root < 0) throw new ConfigError('guestMemoryMiB', 'full', 'room for a page-table root');
    return BigInt(root);
  }

  /** Runs `vm` on this core with address space `cr3` (default: the VM's first) and PCID `pcid` (default 0: no PCIDs). */
  switchTo(vm: MmuVm, cr3: bigint = vm.cr3, pcid = 0): void {
    checkInt('pcid', pcid, 0, 4095);
    this.current = vm;
    this.px.mmuSwitch(this.ctx, vm.id, Number(cr3), pcid);
  }

  /** Translates one access (user mode unless `supervisor`). */
  translate(va: bigint | number, kind: AccessKind = 'read', supervisor = false): Translation {
    const k = KINDS[kind];
    if (k === undefined) throw new ConfigError('kind', kind, 'read, write or fetch');
    const r = this.px.mmuTranslate(this.ctx, BigInt.asUintN(64, BigInt(va)), k | (supervisor ? 4 : 0));
    const res = BigInt.asUintN(64, r);
    const cycles = this.px.lastTranslationCycles() >>> 0;
    if (res & FAULT_BIT) return { hpa: null, fault: this.decodeFault(res), cycles };
    return { hpa: res, fault: null, cycles };
  }

  /** Translates one access, throwing TranslationFaultError on a fault; returns the hPA. */
  translateOrThrow(va: bigint | number, kind: AccessKind = 'read', supervisor = false): bigint {
    const t = this.translate(va, kind, supervisor);
    if (t.fault) throw new TranslationFaultError(t.fault);
    return t.hpa!;
  }

  /**
   * Batch translation in one WebAssembly call: `vas[i]` with `kinds[i]` (0 read, 1 write,
   * 2 fetch; +4 supervisor) gives `results[i]` (hPA, or a fault word: see `decodeFault`) and
   * `cycles[i]`. Returns the number of faults.
   */
  translateBatch(vas: BigUint64Array, kinds: Uint8Array | Uint32Array, results: BigUint64Array, cycles?: Uint32Array): number {
    const n = vas.length;
    if (kinds.length < n) throw new ConfigError('kinds.length', kinds.length, `at least ${n}`);
    if (results.length < n) throw new ConfigError('results.length', results.length, `at least ${n}`);
    let faults = 0;
    const CHUNK = 1 << 16;
    const base = this.engine.stage(CHUNK * 32);
    for (let at = 0; at < n; at += CHUNK) {
      const m = Math.min(CHUNK, n - at);
      const buf = this.engine.u8.buffer;
      const in64 = new BigUint64Array(buf, base, m * 2);
      const in32 = new Uint32Array(buf, base, m * 4);
      for (let i = 0; i < m; i++) {
        in64[2 * i] = vas[at + i];
        in32[4 * i + 2] = kinds[at + i];
      }
      faults += this.px.mmuTranslateBatch(this.ctx, base, base + CHUNK * 16, m) >>> 0;
      const out64 = new BigUint64Array(this.engine.u8.buffer, base + CHUNK * 16, m * 2);
      const out32 = new Uint32Array(this.engine.u8.buffer, base + CHUNK * 16, m * 4);
      for (let i = 0; i < m; i++) {
        results[at + i] = out64[2 * i];
        if (cycles) cycles[at + i] = out32[4 * i + 2];
      }
    }
    return faults;
  }

  /**
   * A zero-copy batch of up to `capacity` records in the staging region: fill `va` and `kind`,
   * call `run(n)`, read `result` and `cycles`. Records are 16 bytes: view index 2i (u64) and 4i+2
   * (u32). The views die when linear memory grows: call `batch` again after other engine use.
   */
  batch(capacity: number): TranslationBatch {
    checkInt('capacity', capacity, 1, 1 << 24);
    const base = this.engine.stage(capacity * 32);
    const buf = this.engine.u8.buffer;
    const out = base + capacity * 16;
    return {
      capacity,
      input64: new BigUint64Array(buf, base, capacity * 2),
      input32: new Uint32Array(buf, base, capacity * 4),
      output64: new BigUint64Array(buf, out, capacity * 2),
      output32: new Uint32Array(buf, out, capacity * 4),
      run: (n: number) => this.px.mmuTranslateBatch(this.ctx, base, out, n) >>> 0,
    };
  }

  /** Decodes a fault result word (bit 63 set). */
  decodeFault(word: bigint): Fault {
    return {
      kind: Number((word >> 48n) & 0x7fn) as FaultKind,
      code: Number(word & 0xffffffffn),
      address: BigInt(Math.round(this.px.lastFaultAddr())),
    };
  }

  /** The counters of this core. */
  stats(): MmuStats {
    const dv = this.engine.view;
    const out: Record<string, number> = {};
    for (const [name, slot] of this.counterSlots) out[name] = Number(dv.getBigUint64(this.ctxAddr + slot * 8, true));
    return out as unknown as MmuStats;
  }

  /** Zeroes the counters of this core. */
  resetStats(): void {
    this.px.mmuResetCounters(this.ctx);
  }

  /** Hypervisor-side statistics of `vm` (default: current). */
  pagingStats(vm: MmuVm = this.current): { largePageSplinters: number; shadowTables: number; eptTables: number; shadowZaps: number; coherenceDrops: number } {
    const s = (off: number) => this.px.mmuPagingStat(vm.id, off) >>> 0;
    return { largePageSplinters: s(P_SPLITS), shadowTables: s(P_SHADOWTABLES), eptTables: s(P_EPTTABLES), shadowZaps: s(P_ZAPS), coherenceDrops: s(P_COHDROPS) };
  }

  /** Guest INVLPG of `va` (a VM exit in shadow mode). */
  invlpg(va: bigint | number): void {
    this.px.mmuInvlpg(this.ctx, BigInt.asUintN(64, BigInt(va)));
  }
  /** INVVPID: 'address' (vpid, va), 'single' (vpid), 'all'. */
  invvpid(type: 'address' | 'single' | 'all', vpid = this.current.vpid, va: bigint | number = 0): void {
    const t = { address: 0, single: 1, all: 2 }[type];
    if (t === undefined) throw new ConfigError('type', type, 'address, single or all');
    this.px.invvpid(this.ctx, t, vpid, Number(va));
  }
  /** INVEPT: 'single' (the VM's EPT) or 'all'. */
  invept(type: 'single' | 'all', vm: MmuVm = this.current): void {
    this.px.invept(this.ctx, type === 'all' ? 2 : 1, vm.id);
  }

  /** The guest kernel writes a u64 into guest-physical memory (traps in shadow mode if it is a shadowed table). */
  guestWrite64(gpa: bigint | number, value: bigint): void {
    if (!this.px.guestWrite64(this.ctx, Number(gpa), BigInt.asUintN(64, value))) {
      throw new ConfigError('gpa', gpa, 'a guest-physical address the VM can back');
    }
  }
  /** The guest kernel reads a u64 from guest-physical memory. */
  guestRead64(gpa: bigint | number): bigint {
    return BigInt.asUintN(64, this.px.guestRead64(this.ctx, Number(gpa)));
  }
  /** The EPTP of the current VM (0 outside ept mode). */
  eptPointer(vm: MmuVm = this.current): bigint {
    return BigInt.asUintN(64, this.px.eptPointer(vm.id));
  }
  /** Raw EPT entry at `level` for `gpa` (0n if the path is missing). */
  eptEntry(gpa: bigint | number, level: number, vm: MmuVm = this.current): bigint {
    return BigInt.asUintN(64, this.px.eptPeek(vm.id, Number(gpa), level));
  }
  /** Overwrites the EPT entry at `level` for `gpa` (for experiments with EPT formats); false if the path is missing. */
  setEptEntry(gpa: bigint | number, level: number, value: bigint, vm: MmuVm = this.current): boolean {
    return this.px.eptPoke(vm.id, Number(gpa), level, BigInt.asUintN(64, value)) !== 0;
  }
  /** MPN backing guest page `gppn` of `vm` in the pmap. */
  pmapFrame(gppn: number, vm: MmuVm = this.current): number {
    return this.px.pmapFrame(vm.id, gppn) >>> 0;
  }
  /** Tells the caches that the backing of (vm, gppn) changed (what the pmap does on reclamation). */
  backingChanged(gppn: number, vm: MmuVm = this.current): void {
    this.px.backingChanged(vm.id, gppn);
  }
}

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
  /** Translates records 0..n-1; returns the number of faults. */
  run(n: number): number;
}
