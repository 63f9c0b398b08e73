/**
 * Mmu: the typed API over the paging mechanism (assembly/translate/cores.ts, walk.ts, ept.ts, shadow.ts).
 * One Mmu is one simulated core (L1 iTLB, L1 dTLB, L2 TLB, page-walk caches, nested TLB) running
 * one or more VMs, each with its guest page tables, its EPT or shadow tables, and a minimal guest
 * OS that maps pages on first touch. Batches cross into WebAssembly in one call.
 *
 *   Mmu.create(opts) ---------> its own engine and VMs (standalone: native, ept or shadow)
 *   host.mmu(opts) -----------> a core on the Host's engine, no VM yet
 *     attach(vm) -------------> paging for a Host VM in its `mmu` mode; the guest OS model owns
 *                               the GPPN range `guestOs` of it, the user the rest (vm.writePhys)
 *     translate / batch ------> a pmap fault (swap-in, no frame, VM limit) goes through the fault
 *                               driver (src/engine/driver.ts) to the VM's fault resolver (the
 *                               Host's policy), then the translation is retried
 *     replayBytes / replayFile  trace replay stops at such a fault and resumes after it (trace.ts)
 *
 * The pmap stays the source of truth: EPT, shadow tables and TLBs are caches of it, which
 * assembly/translate/coherence.ts drops whenever reclamation changes the frame behind a page.
 */

import { Engine, MAX_MACHINE_MIB, offerModule, registerEngine, utilityEngine, type EngineFlavor } from '../engine/engine.js';
import { asGpa, asGppn, asGva, type Gva, type Hpa, type Mpn } from '../engine/addr.js';
import { FAULT_BIT, FaultKind, type BatchRetry, type TraceHost, type TranslationBatch } from '../engine/translate.js';
import { drive, type HostStop, type Resumable } from '../engine/driver.js';
import type { HostNeed } from '../engine/fault.js';
import { ConfigError, MemvisorError, VmPoweredOffError, checkInt, checkKeys } from '../errors.js';
import type { VM } from '../host/vm.js';

export { FaultKind, type TranslationBatch, type HostNeed };

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

/** The shape of a VM's paging (guest side and host side). */
export interface PagingOptions {
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
}

export interface VmOptions extends PagingOptions {
  /** MMU virtualization. Default 'ept'. */
  mode?: MmuMode;
  /** Guest memory in MiB. Default 4096 (8192 with 1 GiB guest pages). */
  guestMemoryMiB?: number;
}

/** Paging of a Host VM (`mmu.attach`): its mode is the VM's `mmu`, its size the VM's `memoryMiB`. */
export interface AttachOptions extends PagingOptions {
  /** Must equal the VM's `mmu` when given. */
  mode?: MmuMode;
  /**
   * GPPNs the guest OS model owns for its page tables and data: [firstGppn, firstGppn + pages).
   * Default: the upper half of the VM (firstGppn = pages / 2 rounded up to the guest page size).
   * The range must read zero when attached (Unbacked or Zero pages); afterwards vm.writePhys,
   * loadImage and the balloon refuse it (vm.readPhys may read it).
   */
  guestOs?: { firstGppn?: number; pages?: number };
}

/** The simulated core: caches, walk caches, guest OS behaviour and costs. */
export interface CoreOptions {
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
}

export interface MmuOptions extends VmOptions, CoreOptions {
  /** VMs this Mmu can hold (sizes the engine). Default 2. */
  maxVms?: number;
  /** Machine RAM in MiB of the Mmu's engine. Default 512 (3584, the most, with 1 GiB host pages). */
  machineMemoryMiB?: number;
  /** Module flavour (default: debug when MEMVISOR_DEBUG=1, else release). */
  flavor?: EngineFlavor;
  /** The compiled engine, for a program that loads it itself (a browser); as HostConfig.module. */
  module?: WebAssembly.Module;
}

export interface Fault {
  kind: FaultKind;
  /** #PF error code, EPT-violation exit qualification, or pmap FAULT_* code. */
  code: number;
  /** Faulting gVA (#PF) or gPA (EPT). */
  address: bigint;
  /**
   * Host and NoFrame faults: what the host must do before the access can complete. Over a Host
   * the fault driver does it and retries; a standalone Mmu has no host, so the fault is returned.
   */
  need?: HostNeed;
}

const NEEDS: Record<HostNeed, string> = {
  noFrame: 'no free machine frame (a standalone Mmu does not reclaim: give it more machineMemoryMiB)',
  swapIn: 'the page is in the swap store',
  limit: 'the VM holds its limit of resident pages',
};

export interface Translation {
  /** Host-physical address (native mode: the physical address), or null on a fault. */
  hpa: Hpa | null;
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
  /**
   * translations that stopped because the host had to act first (a page to swap in, a frame to
   * free, the VM at its limit, a frame for a table): over a Host each was resolved and the access
   * translated again (counted again in translations), on a standalone Mmu each is unhandled
   */
  hostFaults: number;
}

/** Hypervisor-side paging statistics of one VM, cumulative counts or tables held. */
export interface PagingStats {
  /** large host pages that had to be mapped with 4 KiB EPT leaves */
  largePageSplinters: number;
  /** shadow page tables held */
  shadowTables: number;
  /** EPT tables held */
  eptTables: number;
  /** times every shadow table of the VM was dropped */
  shadowZaps: number;
  /** EPT leaves dropped because the pmap changed the frame behind a page */
  coherenceDrops: number;
  /** times a guest page-table page stopped being shadowed because the guest wrote it through a user mapping */
  unshadows: number;
}

/** A translation fault reported by Mmu.translateOrThrow. */
export class TranslationFaultError extends MemvisorError {
  constructor(readonly fault: Fault) {
    const need = fault.need ? `: ${NEEDS[fault.need]}` : '';
    super(`translation fault: ${FaultKind[fault.kind]} code 0x${fault.code.toString(16)} at 0x${fault.address.toString(16)}${need}`);
  }
}

const MODES: Record<MmuMode, number> = { native: 0, ept: 1, shadow: 2 };
const SIZES: Record<PageSize, number> = { '4k': 0, '2m': 1, '1g': 2 };
const KINDS: Record<AccessKind, number> = { read: 0, write: 1, fetch: 2 };
const KIND_NAMES: readonly AccessKind[] = ['read', 'write', 'fetch', 'read'];

// The option names each call accepts: anything else is refused, as Host.create does (a misspelt
// option must not fall back to its default silently).
const PAGING_KEYS = ['levels', 'hostLevels', 'pageSize', 'hostPageSize', 'eptAccessDirty', 'vpid'];
const VM_KEYS = ['mode', 'guestMemoryMiB', ...PAGING_KEYS];
const CORE_KEYS = ['tlb', 'pwc', 'ntlb', 'guestPwc', 'nestedPwc', 'nestedTlb', 'demandPaging', 'costs'];
const MMU_KEYS = [...VM_KEYS, ...CORE_KEYS, 'maxVms', 'machineMemoryMiB', 'flavor', 'module'];

// BigInt bounds as constants: `1n << 64n` written in a check builds a new BigInt on every call
// (about 12 ns in V8, a sixth of a TLB-hit translate), and so does a test like `word & FAULT_BIT`,
// where `word >= FAULT_BIT` allocates nothing
const U64_END = 1n << 64n;
const GPA_END = 1n << 52n;

/** `v` as an unsigned 64-bit address: a bigint in [0, 2^64) or a non-negative safe integer (never wrapped). */
function checkAddress(field: string, v: unknown): Gva {
  if (typeof v === 'bigint' && v >= 0n && v < U64_END) return v as Gva;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return asGva(v);
  throw new ConfigError(field, v, 'an address: a bigint in [0, 2^64) or a non-negative integer below 2^53');
}

/** `v` as a guest-physical address the engine takes as a number: an integer in [0, 2^52). */
function checkGpa(field: string, v: unknown): number {
  const a = checkAddress(field, v);
  if (a >= GPA_END) throw new ConfigError(field, v, 'a guest-physical address below 2^52 (x86-64 MAXPHYADDR)');
  return Number(a);
}

/** Entries of every cache a core with `opts` would have (invalid geometries count 0: the constructor names them). */
function cacheEntries(opts: CoreOptions): number {
  const n = (g: unknown, d: CacheGeometry) => {
    const e = g === undefined ? d.entries : (g as CacheGeometry | null)?.entries;
    return typeof e === 'number' && Number.isInteger(e) && e > 0 && e <= 1 << 20 ? e : 0;
  };
  const tlb = (opts.tlb ?? {}) as Partial<Record<'l1i' | 'l1d' | 'l2', CacheGeometry>>;
  return n(tlb.l1i, DEFAULT_TLB.l1i) + n(tlb.l1d, DEFAULT_TLB.l1d) + n(tlb.l2, DEFAULT_TLB.l2) +
    n(opts.guestPwc, DEFAULT_PWC) + n(opts.nestedPwc, DEFAULT_PWC) + n(opts.nestedTlb, DEFAULT_NTLB);
}

function geometry(field: string, g: CacheGeometry): [number, number] {
  if (g === null || typeof g !== 'object') throw new ConfigError(field, g, 'an object { entries, ways }');
  checkKeys(field, g, ['entries', 'ways']);
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

/** `v` when it is a boolean, `dflt` when undefined; a typed error otherwise (a truthy string must not switch a feature on). */
function checkBool(field: string, v: unknown, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') throw new ConfigError(field, v, 'true or false');
  return v;
}

/** Validated paging shape with defaults; `vpid` stays undefined when not given. */
function pagingShape(opts: PagingOptions): { levels: number; hostLevels: number; pageSize: PageSize; hostPageSize: PageSize; eptAccessDirty: boolean } {
  if (opts.vpid !== undefined) checkInt('vpid', opts.vpid, 0, 65535);
  return {
    levels: Number(oneOf('levels', String(opts.levels ?? 4), ['4', '5'] as const)),
    hostLevels: Number(oneOf('hostLevels', String(opts.hostLevels ?? 4), ['4', '5'] as const)),
    pageSize: oneOf('pageSize', opts.pageSize ?? '4k', ['4k', '2m', '1g'] as const),
    hostPageSize: oneOf('hostPageSize', opts.hostPageSize ?? '4k', ['4k', '2m', '1g'] as const),
    eptAccessDirty: checkBool('eptAccessDirty', opts.eptAccessDirty, true),
  };
}

/** A guest VM on an Mmu: its id in the engine and its current address space. */
export interface MmuVm {
  readonly id: number;
  readonly mode: MmuMode;
  readonly levels: number;
  readonly hostLevels: number;
  readonly pageSize: PageSize;
  readonly hostPageSize: PageSize;
  readonly eptAccessDirty: boolean;
  readonly vpid: number;
  /** gPA of the root table of the address space created with the VM. */
  readonly cr3: bigint;
  /** GPPNs [first, end) the guest OS model allocates from (a standalone VM: all of it). */
  readonly guestOs: { readonly first: number; readonly end: number };
}

/** What an Mmu over a Host needs from it (src/host/host.ts gives it; not part of the public API). */
export interface PagingHost {
  readonly engine: Engine;
  /** True if `vm` is one of the host's VMs. */
  owns(vm: VM): boolean;
  /** The host VM with engine id `id`. */
  vmById(id: number): VM;
  /** The paging some Mmu of the host set up for `vm`, if any (several cores may run one VM). */
  pagingOf(vm: VM): MmuVm | undefined;
  /** Records the paging of `vm` (the VM then keeps user writes out of its guest OS range). */
  setPaging(vm: VM, paging: MmuVm): void;
  /** True while `paging` belongs to a live VM (false once the VM was powered off). */
  attached(paging: MmuVm): boolean;
}

export class Mmu {
  /** @internal Context id of this core in its engine. */
  readonly ctx: number;
  /** The VMs this core runs (added or attached). */
  readonly vms: MmuVm[] = [];
  private readonly engine: Engine;
  private current: MmuVm | null = null;
  /** The Host this core belongs to (host.mmu), or null for a standalone Mmu. */
  private readonly host: PagingHost | null;

  private constructor(engine: Engine, opts: CoreOptions, host: PagingHost | null) {
    this.engine = engine;
    this.host = host;
    // a field given as undefined takes its default, as an absent one does (a spread would not);
    // null is not a geometry: geometry() says so
    const or = (g: CacheGeometry | undefined, d: CacheGeometry) => (g === undefined ? d : g);
    checkKeys('', opts, host ? CORE_KEYS : MMU_KEYS);
    const tlb = opts.tlb ?? {};
    if (tlb === null || typeof tlb !== 'object') throw new ConfigError('tlb', tlb, 'an object { l1i?, l1d?, l2? }');
    checkKeys('tlb', tlb, ['l1i', 'l1d', 'l2']);
    if (opts.costs !== undefined && (opts.costs === null || typeof opts.costs !== 'object')) throw new ConfigError('costs', opts.costs, 'an object of cycles per event');
    const geo = [
      ...geometry('tlb.l1i', or(tlb.l1i, DEFAULT_TLB.l1i)), ...geometry('tlb.l1d', or(tlb.l1d, DEFAULT_TLB.l1d)), ...geometry('tlb.l2', or(tlb.l2, DEFAULT_TLB.l2)),
      ...geometry('guestPwc', or(opts.guestPwc, DEFAULT_PWC)), ...geometry('nestedPwc', or(opts.nestedPwc, DEFAULT_PWC)),
      ...geometry('nestedTlb', or(opts.nestedTlb, DEFAULT_NTLB)),
    ];
    const flags = (checkBool('pwc', opts.pwc, true) ? 1 : 0) | (checkBool('ntlb', opts.ntlb, true) ? 2 : 0) | (checkBool('demandPaging', opts.demandPaging, true) ? 4 : 0);
    const costs: Record<string, number> = { ...DEFAULT_COSTS, ...opts.costs };
    const names = engine.translate.costNames();
    // a misspelt cost must not be ignored silently (as Host.create rejects unknown fields)
    for (const name of Object.keys(costs)) if (!names.includes(name)) throw new ConfigError(`costs.${name}`, costs[name], `no such cost (known: ${names.join(', ')})`);
    for (const name of names) checkInt(`costs.${name}`, costs[name], 0, 2 ** 31);
    const ctx = engine.translate.createCore(geo, flags);
    if (ctx < 0) {
      const bytes = cacheEntries(opts) * engine.translate.cacheEntryBytes;
      throw new ConfigError('engine', 'full', `room for one more core: one MMU context of maxMmus and ${bytes} bytes of mmuCacheBytes for its TLBs and walk caches (a standalone Mmu.create sizes its engine itself; a Host's engine holds 16 cores of the default geometry)`);
    }
    this.ctx = ctx;
    engine.translate.setCosts(ctx, costs);
    registerEngine(this, engine);
  }

  /** Creates an Mmu (one core) with one VM, switched to the VM's first address space. */
  static create(opts: MmuOptions = {}): Mmu {
    if (opts === null || typeof opts !== 'object') throw new ConfigError('opts', opts, 'an object of Mmu options');
    checkKeys('', opts, MMU_KEYS);
    const hostPageSize = oneOf('hostPageSize', opts.hostPageSize ?? '4k', ['4k', '2m', '1g'] as const);
    const pageSize = oneOf('pageSize', opts.pageSize ?? '4k', ['4k', '2m', '1g'] as const);
    const maxVms = checkInt('maxVms', opts.maxVms ?? 2, 1, 64);
    const guestMiB = checkInt('guestMemoryMiB', opts.guestMemoryMiB ?? (pageSize === '1g' ? 8192 : 4096), 4, 1 << 20);
    // a module given serves the utility engine too (sizing the cache below reads it)
    if (opts.module !== undefined) offerModule(opts.module, opts.flavor);
    // the engine's MMU cache holds this core's TLBs and walk caches, whatever geometry was asked for
    const cacheBytes = cacheEntries(opts) * utilityEngine().translate.cacheEntryBytes;
    const engine = Engine.create({
      machineMemoryMiB: opts.machineMemoryMiB ?? (hostPageSize === '1g' ? MAX_MACHINE_MIB : 512),
      guestMemoryMiB: guestMiB * maxVms,
      maxVMs: maxVms,
      mmuCacheBytes: Math.max(4 << 20, cacheBytes),
      flavor: opts.flavor,
      module: opts.module,
    });
    const m = new Mmu(engine, opts, null);
    const vmOpts: Record<string, unknown> = { hostPageSize, pageSize, guestMemoryMiB: guestMiB };
    for (const k of VM_KEYS) if (vmOpts[k] === undefined && (opts as Record<string, unknown>)[k] !== undefined) vmOpts[k] = (opts as Record<string, unknown>)[k];
    m.addVm(vmOpts as VmOptions);
    m.resetStats();
    return m;
  }

  /** @internal A core on a Host's engine with no VM yet (use `host.mmu()`). */
  static overHost(host: PagingHost, opts: CoreOptions = {}): Mmu {
    return new Mmu(host.engine, opts, host);
  }

  /**
   * Adds a VM (with one address space) and returns it; the first VM added becomes current,
   * switch to others with `switchTo`. On an Mmu over a Host, pass `{ vm }` (see `attach`).
   */
  addVm(opts: VmOptions & { vm?: VM } = {}): MmuVm {
    if (opts === null || typeof opts !== 'object') throw new ConfigError('opts', opts, 'an object of VM options');
    checkKeys('', opts, this.host ? ['vm', 'mode', ...PAGING_KEYS, 'guestOs', 'guestMemoryMiB'] : VM_KEYS);
    if (opts.vm !== undefined) {
      const { vm, guestMemoryMiB, ...rest } = opts;
      if (guestMemoryMiB !== undefined) throw new ConfigError('guestMemoryMiB', guestMemoryMiB, "nothing: a Host VM's size is its memoryMiB");
      return this.attach(vm, rest);
    }
    if (this.host) throw new ConfigError('vm', undefined, 'a VM of the host (host.addVM, then addVm({ vm }) or attach(vm)): an Mmu over a Host does not create VMs');
    const e = this.engine;
    const mode = oneOf('mode', opts.mode ?? 'ept', ['native', 'ept', 'shadow'] as const);
    const shape = pagingShape(opts);
    const guestMiB = checkInt('guestMemoryMiB', opts.guestMemoryMiB ?? (shape.pageSize === '1g' ? 8192 : 4096), 4, 1 << 20);
    const vpid = checkInt('vpid', opts.vpid ?? this.vms.length + 1, 0, 65535);
    const id = e.reclaim.vmCreate(guestMiB * 256, 0, guestMiB * 256, 0);
    if (id < 0) throw new ConfigError('guestMemoryMiB', guestMiB, 'room in the engine for the VM (maxVms, guest memory)');
    const vm = this.setUp(id, mode, shape, vpid, { first: 1, end: guestMiB * 256 }, 'guestMemoryMiB', guestMiB);
    this.vms.push(vm);
    if (!this.current) this.switchTo(vm);
    return vm;
  }

  /**
   * Sets up paging for `vm`, a VM of this Mmu's Host, in the VM's `mmu` mode ('ept' or 'shadow'),
   * and returns it (the first VM attached becomes current). The guest OS model allocates its page
   * tables and data pages from `opts.guestOs` (default: the upper half of the VM); user data
   * written through vm.writePhys lives below it. A VM another core of the host already attached
   * is shared: this core gets the same paging (opts, if given, must agree with it).
   */
  attach(vm: VM, opts: AttachOptions = {}): MmuVm {
    const host = this.host;
    if (!host) throw new ConfigError('vm', vm?.name ?? vm, 'an Mmu created by host.mmu() (a standalone Mmu owns its VMs: use addVm)');
    if ((vm as VM | null)?.poweredOff === true) throw new VmPoweredOffError(vm.name);
    if (vm === null || typeof vm !== 'object' || !host.owns(vm)) throw new ConfigError('vm', (vm as VM | null)?.name ?? vm, "a VM of this Mmu's host");
    if (opts === null || typeof opts !== 'object') throw new ConfigError('opts', opts, 'an object of attach options');
    checkKeys('', opts, ['mode', ...PAGING_KEYS, 'guestOs']);
    if (opts.mode !== undefined && opts.mode !== vm.mmu) {
      throw new ConfigError('mode', opts.mode, `'${vm.mmu}', the mmu mode VM ${JSON.stringify(vm.name)} was added with (host.addVM)`);
    }
    const shape = pagingShape(opts);
    let p = host.pagingOf(vm);
    if (p) {
      const given = opts as Record<string, unknown>;
      for (const k of ['levels', 'hostLevels', 'pageSize', 'hostPageSize', 'eptAccessDirty', 'vpid'] as const) {
        if (given[k] !== undefined && given[k] !== p[k]) throw new ConfigError(k, given[k], `${JSON.stringify(p[k])}, as VM ${JSON.stringify(vm.name)} is already attached`);
      }
      if (opts.guestOs !== undefined) throw new ConfigError('guestOs', opts.guestOs, `nothing: VM ${JSON.stringify(vm.name)} is already attached with GPPNs [${p.guestOs.first}, ${p.guestOs.end})`);
    } else {
      const vpid = checkInt('vpid', opts.vpid ?? vm.id + 1, 0, 65535);
      const range = this.guestOsRange(vm, shape.pageSize, shape.levels, opts.guestOs);
      p = this.setUp(vm.id, vm.mmu, shape, vpid, range, 'guestOs.pages', range.end - range.first);
      host.setPaging(vm, p);
    }
    if (!this.vms.includes(p)) this.vms.push(p);
    this.names.set(p, vm.name);
    if (!this.current || (this.host && !this.host.attached(this.current))) this.switchTo(p);
    return p;
  }

  /** Validates a guest OS range of `vm` (defaults: the upper half, aligned to the guest page size). */
  private guestOsRange(vm: VM, pageSize: PageSize, levels: number, g: AttachOptions['guestOs'] = {}): { first: number; end: number } {
    if (g === null || typeof g !== 'object') throw new ConfigError('guestOs', g, 'an object { firstGppn?, pages? }');
    checkKeys('guestOs', g, ['firstGppn', 'pages']);
    const align = 1 << (9 * SIZES[pageSize]);
    const first = checkInt('guestOs.firstGppn', g.firstGppn ?? Math.ceil(vm.pages / 2 / align) * align, 0, vm.pages - 1);
    if (first % align !== 0) throw new ConfigError('guestOs.firstGppn', first, `a multiple of ${align} (${pageSize} guest pages)`);
    // a root, one table per lower level and one data page, at the least
    const pages = checkInt('guestOs.pages', g.pages ?? vm.pages - first, levels + 1, vm.pages - first);
    return { first, end: first + pages };
  }

  /** Sets up the engine's paging state of VM `id` and its first address space. */
  private setUp(id: number, mode: MmuMode, shape: ReturnType<typeof pagingShape>, vpid: number, range: { first: number; end: number }, sizeField: string, size: number): MmuVm {
    const e = this.engine;
    // checked before anything is set up, so a refused attach leaves the VM as it was
    const t = e.translate;
    const bad = this.host ? t.gosRangeBusy(id, range.first, range.end) : e.ram.NO_FRAME;
    if (bad !== e.ram.NO_FRAME) {
      throw new ConfigError('guestOs.firstGppn', range.first, `a range [${range.first}, ${range.end}) of pages that read zero: GPPN ${bad} holds data (written through writePhys or loadImage, or ballooned)`);
    }
    t.pagingVmSetup(id, MODES[mode], shape.levels, shape.hostLevels, SIZES[shape.pageSize], SIZES[shape.hostPageSize], vpid, shape.eptAccessDirty);
    if (this.host) t.gosAttach(id, range.first, range.end);
    if (mode === 'ept' && !t.eptSetup(id)) {
      if (!this.host) throw new ConfigError('machineMemoryMiB', 'full', 'a free frame for the EPT root');
      // the root is no guest page: the stop names the VM's first for the resolver
      const stop: HostStop = { need: 'noFrame', gppn: asGppn(0), end: asGppn(1), gpa: asGpa(0), progress: false };
      drive(this.host.vmById(id).faultResolver, { step: () => (t.eptSetup(id) ? null : stop), operation: () => 'the allocation of its EPT root' }, stop);
    }
    const root = t.gosNewRoot(id);
    if (root < 0) throw new ConfigError(sizeField, size, 'room for a page-table root');
    return Object.freeze({ id, mode, ...shape, vpid, cr3: BigInt(root), guestOs: Object.freeze(range) });
  }

  /** The VM currently running on this core; a typed error on a core with none attached yet. */
  get vm(): MmuVm {
    if (!this.current) throw new ConfigError('vm', null, 'a VM attached first (mmu.attach(vm))');
    this.checkAttached(this.current);
    return this.current;
  }

  /** A typed error for the paging of a Host VM that was powered off (its id may be another VM's now). */
  private checkAttached(p: MmuVm): void {
    if (this.host && !this.host.attached(p)) throw new VmPoweredOffError(this.poweredOffName(p));
  }
  private readonly names = new Map<MmuVm, string>();
  /** The name a VM had when this core attached it. */
  private poweredOffName(p: MmuVm): string {
    return this.names.get(p) ?? `#${p.id}`;
  }

  /** Allocates a new, empty guest address space in the current VM; returns its CR3 (a gPA). */
  newAddressSpace(): bigint {
    const root = this.engine.translate.gosNewRoot(this.vm.id);
    if (root < 0) throw new ConfigError('guestMemoryMiB', 'full', 'room for a page-table root');
    return BigInt(root);
  }

  /** Runs `vm` on this core with address space `cr3` (default: the VM's first) and PCID `pcid` (default 0: no PCIDs). */
  switchTo(vm: MmuVm, cr3: bigint = vm?.cr3, pcid = 0): void {
    checkInt('pcid', pcid, 0, 4095);
    if (!this.vms.includes(vm)) throw new ConfigError('vm', vm?.id, 'a VM added to or attached on this Mmu');
    this.checkAttached(vm);
    const root = checkGpa('cr3', cr3);
    this.current = vm;
    this.engine.translate.switchTo(this.ctx, vm.id, root, pcid);
  }

  /**
   * Translates one access (user mode unless `supervisor`). On an Mmu over a Host, a pmap fault
   * (page swapped out, no free frame, VM at its limit) is resolved by the Host's policy and the
   * translation retried; `cycles` then adds up every attempt.
   */
  translate(va: bigint | number, kind: AccessKind = 'read', supervisor = false): Translation {
    // hasOwn, not a lookup alone: 'toString' must not pass as a kind
    if (!Object.hasOwn(KINDS, kind)) throw new ConfigError('kind', kind, 'read, write or fetch');
    const k = KINDS[kind];
    const vm = this.vm;
    // a value outside [0, 2^64) is refused, not wrapped onto another address
    const v = checkAddress('va', va);
    if (typeof supervisor !== 'boolean') throw new ConfigError('supervisor', supervisor, 'true or false');
    const t = this.engine.translate;
    const kk = k | (supervisor ? 4 : 0);
    const word = t.translate(this.ctx, v, kk);
    if (word < FAULT_BIT) return { hpa: word as Hpa, fault: null, cycles: t.cycles };
    return this.afterFault(vm, v, kk, word, t.cycles);
  }

  /**
   * The rest of a translation that faulted with `word`: over a Host, a fault the host resolves
   * (a page to swap in, a frame to free, the VM at its limit, a frame for a table) goes through
   * the fault driver, which has the VM's resolver act and translates again; `cycles` adds up
   * every attempt.
   */
  private afterFault(vm: MmuVm, va: Gva, kind: number, word: bigint, cycles: number): Translation {
    const t = this.engine.translate;
    const stop = this.host ? t.hostStop(this.ctx, word) : null;
    if (stop) {
      const call = new Retranslation(t, this.ctx, va, kind, word, cycles);
      drive(this.host!.vmById(vm.id).faultResolver, call, stop);
      word = call.word;
      cycles = call.cycles;
    }
    if (word < FAULT_BIT) return { hpa: word as Hpa, fault: null, cycles };
    return { hpa: null, fault: this.decodeFault(word), cycles };
  }

  /**
   * @internal The fault driver's side of trace replay on this core: over a Host, the resolver of
   * the VM it runs; null on a standalone Mmu (whose host faults stay unhandled).
   */
  traceHost(operation: () => string): TraceHost | null {
    if (!this.host) return null;
    return { resolver: this.host.vmById(this.vm.id).faultResolver, operation };
  }

  /** Translates one access, throwing TranslationFaultError on a fault; returns the hPA. */
  translateOrThrow(va: bigint | number, kind: AccessKind = 'read', supervisor = false): Hpa {
    const t = this.translate(va, kind, supervisor);
    if (t.fault) throw new TranslationFaultError(t.fault);
    return t.hpa!;
  }

  /**
   * Batch translation in one WebAssembly call: `vas[i]` with `kinds[i]` (0 read, 1 write,
   * 2 fetch; +4 supervisor) gives `results[i]` (hPA, or a fault word: see `decodeFault`) and
   * `cycles[i]`. With `faultAddresses`, a faulted record i also gets its faulting address there
   * (the gVA of a #PF, the gPA of an EPT or host fault, as `decodeFault` gives for the last fault);
   * entries of records that did not fault are left as they were. Returns the number of faults.
   * Over a Host, records that met a pmap fault are translated again one by one after the Host
   * resolved it.
   */
  translateBatch(vas: BigUint64Array, kinds: Uint8Array | Uint32Array, results: BigUint64Array, cycles?: Uint32Array, faultAddresses?: BigUint64Array): number {
    if (!(vas instanceof BigUint64Array)) throw new ConfigError('vas', vas, 'a BigUint64Array of gVAs');
    if (!(kinds instanceof Uint8Array || kinds instanceof Uint32Array)) throw new ConfigError('kinds', kinds, 'a Uint8Array or Uint32Array of access kinds');
    if (!(results instanceof BigUint64Array)) throw new ConfigError('results', results, 'a BigUint64Array');
    if (cycles !== undefined && !(cycles instanceof Uint32Array)) throw new ConfigError('cycles', cycles, 'a Uint32Array');
    if (faultAddresses !== undefined && !(faultAddresses instanceof BigUint64Array)) throw new ConfigError('faultAddresses', faultAddresses, 'a BigUint64Array');
    const n = vas.length;
    if (kinds.length < n) throw new ConfigError('kinds.length', kinds.length, `at least ${n}`);
    if (results.length < n) throw new ConfigError('results.length', results.length, `at least ${n}`);
    if (faultAddresses && faultAddresses.length < n) throw new ConfigError('faultAddresses.length', faultAddresses.length, `at least ${n}`);
    if (cycles && cycles.length < n) throw new ConfigError('cycles.length', cycles.length, `at least ${n}`);
    void this.vm; // a typed error before the engine runs a core with no VM
    return this.engine.translate.translateBatch(this.ctx, this.host !== null, vas, kinds, results, cycles, faultAddresses, this.host ? this.retry : undefined);
  }

  /**
   * A zero-copy batch of up to `capacity` records in the staging region: fill `va` and `kind`,
   * call `run(n)`, read `result`, `cycles` and, for faulted records, `faultAddress64`. Records are
   * 16 bytes: view index 2i (u64) and 4i+2 (u32). The views die when linear memory grows: call
   * `batch` again after other engine use.
   */
  batch(capacity: number): TranslationBatch {
    checkInt('capacity', capacity, 1, 1 << 24);
    const b = this.engine.translate.batch(this.ctx, this.host !== null, capacity, this.host ? this.retry : undefined);
    const run = b.run;
    return {
      ...b,
      run: (n: number) => {
        void this.vm; // a typed error before the engine runs a core with no VM
        return run(n);
      },
    };
  }

  /**
   * Over a Host: a batch record that met a pmap fault, translated again as a single translation
   * (which has the host resolve the fault); its final result word, cycles and fault address.
   */
  private readonly retry: BatchRetry = (va, kind) => {
    const t = this.translate(va, KIND_NAMES[kind & 3], (kind & 4) !== 0);
    return { word: t.hpa ?? this.encodeFault(t.fault!), cycles: t.cycles, address: t.fault ? t.fault.address : null };
  };

  /** The result word of `fault` (inverse of decodeFault, without the address). */
  private encodeFault(f: Fault): bigint {
    return FAULT_BIT | (BigInt(f.kind) << 48n) | BigInt(f.code >>> 0);
  }

  /**
   * Decodes a fault result word (bit 63 set); the address is that of the last fault (for each
   * record of a batch, pass `faultAddresses` to translateBatch or read batch().faultAddress64).
   */
  decodeFault(word: bigint): Fault {
    if (typeof word !== 'bigint' || word < FAULT_BIT || word >= U64_END) throw new ConfigError('word', word, 'a fault result word: a bigint in [2^63, 2^64), bit 63 set');
    const t = this.engine.translate;
    const f: Fault = {
      kind: Number((word >> 48n) & 0x7fn) as FaultKind,
      code: Number(word & 0xffffffffn),
      address: t.lastFault(this.ctx).address,
    };
    const need = t.hostNeed(f.kind, f.code);
    if (need) f.need = need;
    return f;
  }

  /** The counters of this core. */
  stats(): MmuStats {
    return this.engine.translate.counters(this.ctx) as unknown as MmuStats;
  }

  /** Zeroes the counters of this core. */
  resetStats(): void {
    this.engine.translate.resetCounters(this.ctx);
  }

  /** Hypervisor-side statistics of `vm` (default: current). */
  pagingStats(vm: MmuVm = this.vm): PagingStats {
    return pagingStats(this.engine, vm.id);
  }

  /** Guest INVLPG of `va` (a VM exit in shadow mode). */
  invlpg(va: bigint | number): void {
    void this.vm;
    this.engine.translate.invlpg(this.ctx, checkAddress('va', va));
  }
  /** INVVPID: 'address' (vpid, va), 'single' (vpid), 'all'. */
  invvpid(type: 'address' | 'single' | 'all', vpid = this.vm.vpid, va: bigint | number = 0): void {
    const types = { address: 0, single: 1, all: 2 };
    if (!Object.hasOwn(types, type)) throw new ConfigError('type', type, 'address, single or all');
    const t = types[type];
    checkInt('vpid', vpid, 0, 65535);
    this.engine.translate.invvpid(this.ctx, t, vpid, Number(checkAddress('va', va)));
  }
  /** INVEPT: 'single' (the VM's EPT) or 'all'. */
  invept(type: 'single' | 'all', vm: MmuVm = this.vm): void {
    if (type !== 'single' && type !== 'all') throw new ConfigError('type', type, 'single or all');
    this.engine.translate.invept(this.ctx, type === 'all' ? 2 : 1, vm.id);
  }

  /**
   * The guest kernel writes a u64 into guest-physical memory (traps in shadow mode if it is a
   * shadowed table). Over a Host, a page swapped out or no free frame is resolved by the host
   * first (the fault driver).
   */
  guestWrite64(gpa: bigint | number, value: bigint): void {
    const vm = this.vm;
    const at = checkGpa('gpa', gpa);
    if (typeof value !== 'bigint' || value < 0n || value >= U64_END) throw new ConfigError('value', value, 'a bigint in [0, 2^64)');
    const t = this.engine.translate;
    if (t.guestWrite64(this.ctx, at, value)) return;
    this.driveKernel(vm, at, 'write', () => (t.guestWrite64(this.ctx, at, value) ? true : null));
  }
  /** The guest kernel reads a u64 from guest-physical memory (over a Host, as guestWrite64 does). */
  guestRead64(gpa: bigint | number): bigint {
    const vm = this.vm;
    const at = checkGpa('gpa', gpa);
    const t = this.engine.translate;
    const v = t.guestRead64(this.ctx, at);
    if (v !== null) return v;
    return this.driveKernel(vm, at, 'read', () => t.guestRead64(this.ctx, at));
  }

  /**
   * A guest-kernel access at `gpa` that failed: over a Host, through the fault driver until
   * `access` (the access again) returns a value; a ConfigError for a failure the host cannot
   * resolve (an address the VM cannot back).
   */
  private driveKernel<T>(vm: MmuVm, gpa: number, kind: 'read' | 'write', access: () => T | null): T {
    const t = this.engine.translate;
    const refuse = () => new ConfigError('gpa', gpa, 'a guest-physical address the VM can back');
    const stop = this.host ? t.kernelStop(this.ctx) : null;
    if (!stop) throw refuse();
    let result: T | null = null;
    drive(this.host!.vmById(vm.id).faultResolver, {
      step: () => {
        result = access();
        if (result !== null) return null;
        const s = t.kernelStop(this.ctx);
        if (!s) throw refuse();
        return s;
      },
      operation: () => `a guest-kernel ${kind} at gPA 0x${gpa.toString(16)}`,
    }, stop);
    return result!;
  }
  /** The EPTP of the current VM (0 outside ept mode). */
  eptPointer(vm: MmuVm = this.vm): bigint {
    return this.engine.translate.eptPointer(vm.id);
  }
  /** Raw EPT entry at `level` for `gpa` (0n if the path is missing). */
  eptEntry(gpa: bigint | number, level: number, vm: MmuVm = this.vm): bigint {
    checkInt('level', level, 1, 5);
    return this.engine.translate.eptPeek(vm.id, checkGpa('gpa', gpa), level);
  }
  /** Overwrites the EPT entry at `level` for `gpa` (for experiments with EPT formats); false if the path is missing. */
  setEptEntry(gpa: bigint | number, level: number, value: bigint, vm: MmuVm = this.vm): boolean {
    checkInt('level', level, 1, 5);
    if (typeof value !== 'bigint' || value < 0n || value >= U64_END) throw new ConfigError('value', value, 'a bigint in [0, 2^64)');
    return this.engine.translate.eptPoke(vm.id, checkGpa('gpa', gpa), level, value);
  }
  /** MPN backing guest page `gppn` of `vm` in the pmap. */
  pmapFrame(gppn: number, vm: MmuVm = this.vm): Mpn {
    checkInt('gppn', gppn, 0, this.pagesOf(vm) - 1);
    return this.engine.reclaim.pmapFrame(vm.id, asGppn(gppn)) as Mpn;
  }
  /**
   * Accessed / dirty sampling of GPPNs [first, first + n) of `vm` (default: current) that sees
   * translated accesses: the hypervisor first harvests the A/D bits of the VM's EPT leaves (ept
   * mode, EPT A/D on) or shadow leaves into the pmap, clearing them and invalidating the cached
   * translations so the next access sets them again; then each page reads like `pmapSample`.
   * One byte per page: bit 0 accessed, bit 1 dirty. `clear` (default true) clears the pmap bits,
   * so the next sample reports only later accesses. Over a Host, the pmap's CLOCK victim choice
   * sees the harvested bits too.
   */
  sampleAccessed(first: number, n: number, opts: { clear?: boolean; vm?: MmuVm } = {}): Uint8Array {
    if (opts === null || typeof opts !== 'object') throw new ConfigError('opts', opts, 'an object { clear?, vm? }');
    checkKeys('', opts, ['clear', 'vm']);
    const vm = opts.vm ?? this.vm;
    if (!this.vms.includes(vm)) throw new ConfigError('vm', vm?.id, 'a VM added to or attached on this Mmu');
    this.checkAttached(vm);
    const pages = this.pagesOf(vm);
    checkInt('first', first, 0, pages);
    checkInt('n', n, 0, pages - first);
    return this.engine.translate.pagingSample(vm.id, first, n, checkBool('clear', opts.clear, true));
  }
  /** Tells the caches that the backing of (vm, gppn) changed (what the pmap does on reclamation). */
  backingChanged(gppn: number, vm: MmuVm = this.vm): void {
    checkInt('gppn', gppn, 0, this.pagesOf(vm) - 1);
    this.engine.translate.backingChanged(vm.id, gppn);
  }

  /** Guest pages of `vm`, a VM of this core (a typed error for any other). */
  private pagesOf(vm: MmuVm): number {
    if (!this.vms.includes(vm)) throw new ConfigError('vm', vm?.id, 'a VM added to or attached on this Mmu');
    // every page is in exactly one pmap state, so the states add up to the VM's size
    const st = this.engine.reclaim.vmStats(vm.id);
    return st.unbacked + st.mapped + st.shared + st.zero + st.compressed + st.swapped + st.ballooned;
  }
}

/** A translation the fault driver retries on core `ctx` after each stop the host resolved: its last result word and the cycles of every attempt. */
class Retranslation implements Resumable {
  constructor(
    private readonly t: Engine['translate'],
    private readonly ctx: number,
    private readonly va: Gva,
    private readonly kind: number,
    public word: bigint,
    public cycles: number,
  ) {}

  step(): HostStop | null {
    this.word = this.t.translate(this.ctx, this.va, this.kind);
    this.cycles += this.t.cycles;
    return this.word >= FAULT_BIT ? this.t.hostStop(this.ctx, this.word) : null;
  }

  operation(): string {
    return `a translation of gVA 0x${this.va.toString(16)} (${KIND_NAMES[this.kind & 3]}${this.kind & 4 ? ', supervisor' : ''})`;
  }
}

/** Hypervisor-side paging statistics of VM `id` of `engine`. */
export function pagingStats(engine: Engine, id: number): PagingStats {
  const s = engine.translate.pagingStats(id);
  return {
    largePageSplinters: s.largePageSplinters, shadowTables: s.shadowTables, eptTables: s.eptTables,
    shadowZaps: s.shadowZaps, coherenceDrops: s.coherenceDrops, unshadows: s.unshadows,
  };
}
