/**
 * The host: machine memory (one engine), its VMs, their swap stores, the sharing scanner, and
 * what happens when machine memory runs out. Policy lives here; every page loop is in
 * WebAssembly (assembly/reclaim/pmap.ts and friends).
 *
 *   Host.create(config) --> Engine (machine RAM, pmaps, zpool, sharing table)
 *     addVM(config) -----> VM (vm.ts) + its SwapStore (memory or file, swapstore.ts)
 *     shareScan(max) ----> one scanner step (assembly/reclaim/sharing.ts)
 *     mmu(opts) ---------> a simulated core on this engine; mmu.attach(vm) sets up the VM's
 *                          paging (EPT or shadow) over the same pmap (src/translate/mmu.ts)
 *     stats() -----------> { host: HostStats, vms: VmStats[] }
 *     relieve(vm, code) -> under pressure: page out from the VM furthest above its reservation,
 *                          per share; at its limit: page out from the VM itself
 *
 * Configuration is validated by hand with the project's ConfigError (field, value, expected),
 * not with a schema library: the fields are few and flat, the messages stay in one format with
 * the engine's, and the package keeps one runtime dependency less.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine, MAX_MACHINE_MIB, PAGE, type EngineFlavor } from '../engine/engine.js';
import { ConfigError, EngineAbortError, MemvisorError, OutOfMachineMemoryError, checkInt } from '../errors.js';
import { FileSwapStore, MemorySwapStore, loadChecksum, type SwapStore } from './swapstore.js';
import { BATCH, STAGE_AUX } from '../engine/staging.js';
import { VM, type HostContext, type VmMmuMode, type VictimPolicy, type VmConfig, type VmStats } from './vm.js';
import { Mmu, type CoreOptions, type MmuVm, type PagingHost } from '../translate/mmu.js';

/** Host configuration for `Host.create`. */
export interface HostConfig {
  /** machine RAM in MiB (1 .. 3584) */
  machineMemoryMiB: number;
  /** seed of every random choice (victims, random scan order); same seed, same run. Default 1 */
  seed?: number;
  /** VMs the host can hold (default 64) */
  maxVMs?: number;
  /** guest memory of all VMs together, MiB (default 4x machine memory, at least 64) */
  guestMemoryMiB?: number;
  /** module flavour (default: debug when MEMVISOR_DEBUG=1, else release) */
  flavor?: EngineFlavor;
  swap?: {
    /** 'memory' (default) or 'file' (a real file per VM, like .vswp) */
    backing?: 'memory' | 'file';
    /** directory of swap files (default: the OS temporary directory) */
    dir?: string;
  };
  sharing?: {
    /** scan order: 'random' (ESX, default) or 'sequential' (KSM) */
    order?: 'random' | 'sequential';
    /** default salt of a VM: 'per-vm' (its own, ESXi 6+ default) or 'host' (all VMs one sharing domain) */
    salting?: 'per-vm' | 'host';
  };
  compression?: {
    /** zip cache per VM, percent of its memory (default 10, ESX Mem.MemZipMaxPct; 0 disables compression) */
    cachePercent?: number;
  };
  /** default victim policy of page-out: 'random' (ESX default) or 'lru' (clock over accessed bits) */
  victimPolicy?: VictimPolicy;
  /** most of a VM's memory its balloon may hold, percent (default 65, ESX Mem.CtlMaxPercent) */
  balloonMaxPercent?: number;
  /** @internal room for a Simulation (src/sim): its guest tables, its content pages, MMU cores */
  sim?: { contentPages: number; maxMmus: number };
}

/** Host-wide counters. Units: frames and pages are 4 KiB; cumulative counts never decrease. */
export interface HostStats {
  /** machine frames in all */
  machineFrames: number;
  /** frames not allocated */
  freeFrames: number;
  /** frames holding guest data: private, shared and zero frames, each counted once */
  guestFrames: number;
  /** frames of the compression pool */
  zpoolFrames: number;
  /** frames of page tables (EPT, shadow) */
  pageTableFrames: number;
  /** frames of other hypervisor metadata */
  hypervisorFrames: number;
  /** shared frames in the sharing table, zero frames included (KSM pages_shared) */
  pages_shared: number;
  /** guest pages mapped to a shared frame beyond the first of each frame: the pages sharing saves (KSM pages_sharing) */
  pages_sharing: number;
  /** hints: pages seen once by the scanner and not shared (KSM pages_unshared; may include stale hints until re-validated) */
  pages_unshared: number;
  /** pages found written since the scanner's previous visit, cumulative (KSM pages_volatile, as a count of events) */
  pages_volatile: number;
  /** completed passes over all guest pages (KSM full_scans) */
  full_scans: number;
  /** copy-on-write breaks of all VMs, cumulative (KSM cow breaks) */
  cow_breaks: number;
  /** pages the scanner visited / merged, cumulative */
  pagesScanned: number;
  pagesMerged: number;
  /** scanner visits that left a page alone because a large (2 MiB / 1 GiB) EPT leaf maps it, cumulative: large pages are not shared */
  pagesLargeSkipped: number;
  /** used zpool slots of 1 KiB and 2 KiB */
  zpoolSlots1K: number;
  zpoolSlots2K: number;
  /** compressed bytes stored in the zpool */
  zpoolStoredBytes: number;
  /** zpool bytes not holding compressed data (slot tails and free slots) */
  zpoolWastedBytes: number;
  /** compressed sizes of every page the zip cache tried, bucket b = [256 b, 256 b + 256) bytes; the last bucket did not compress below 4 KiB */
  zipHistogram: number[];
}

export interface Stats {
  host: HostStats;
  vms: VmStats[];
}

/** Per-VM rates over a simulated interval (esxtop's /s counters), MiB per second. */
export interface VmRates {
  name: string;
  'SWR/s': number;
  'SWW/s': number;
  'ZIP/s': number;
  'UNZIP/s': number;
}

/** What one `host.shareScan` step did. Units: pages. */
export interface ShareScanResult {
  /** pages visited */
  scanned: number;
  /** pages merged into a shared or zero frame */
  merged: number;
  /** passes completed so far (full_scans) */
  fullScans: number;
}

const HOST_KEYS = ['machineMemoryMiB', 'seed', 'maxVMs', 'guestMemoryMiB', 'flavor', 'swap', 'sharing', 'compression', 'victimPolicy', 'balloonMaxPercent', 'sim'];
const VM_KEYS = ['name', 'memoryMiB', 'salt', 'reservationMiB', 'limitMiB', 'shares', 'mmu', 'victimPolicy', 'cachePercent'];

/** Rejects keys of `obj` not in `keys` (a typo must not be ignored silently). */
function checkKeys(what: string, obj: object, keys: string[]): void {
  for (const k of Object.keys(obj)) if (!keys.includes(k)) throw new ConfigError(`${what}.${k}`, (obj as Record<string, unknown>)[k], `no such field (known: ${keys.join(', ')})`);
}
function checkOneOf<T extends string>(field: string, v: unknown, allowed: readonly T[], dflt: T): T {
  if (v === undefined) return dflt;
  if (!allowed.includes(v as T)) throw new ConfigError(field, v, allowed.map((a) => `'${a}'`).join(' or '));
  return v as T;
}
function checkObject(field: string, v: unknown, keys: string[]): Record<string, unknown> {
  if (v === undefined) return {};
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new ConfigError(field, v, 'an object');
  checkKeys(field, v, keys);
  return v as Record<string, unknown>;
}

export class Host implements HostContext, PagingHost {
  readonly engine: Engine;
  readonly staging: number;
  readonly seed: number;
  private readonly vmList: VM[] = [];
  private readonly byName = new Map<string, VM>();
  private readonly swapBacking: 'memory' | 'file';
  private readonly swapDir: string;
  private readonly scanOrder: 0 | 1;
  private readonly salting: 'per-vm' | 'host';
  private readonly cachePercent: number;
  private readonly victimPolicy: VictimPolicy;
  private readonly balloonMaxPercent: number;
  private reservedMiB = 0;
  /** Paging set up by Mmus over this host, by VM id (one per VM, shared by every core). */
  private readonly pagingByVm = new Map<number, MmuVm>();

  private constructor(cfg: HostConfig) {
    if (cfg === null || typeof cfg !== 'object') throw new ConfigError('config', cfg, 'an object');
    checkKeys('config', cfg, HOST_KEYS);
    const mib = checkInt('machineMemoryMiB', cfg.machineMemoryMiB, 1, MAX_MACHINE_MIB);
    this.seed = checkInt('seed', cfg.seed ?? 1, 0, Number.MAX_SAFE_INTEGER);
    const swap = checkObject('swap', cfg.swap, ['backing', 'dir']);
    this.swapBacking = checkOneOf('swap.backing', swap.backing, ['memory', 'file'] as const, 'memory');
    if (swap.dir !== undefined && typeof swap.dir !== 'string') throw new ConfigError('swap.dir', swap.dir, 'a directory path');
    this.swapDir = (swap.dir as string | undefined) ?? tmpdir();
    const sharing = checkObject('sharing', cfg.sharing, ['order', 'salting']);
    this.scanOrder = checkOneOf('sharing.order', sharing.order, ['random', 'sequential'] as const, 'random') === 'random' ? 1 : 0;
    this.salting = checkOneOf('sharing.salting', sharing.salting, ['per-vm', 'host'] as const, 'per-vm');
    const comp = checkObject('compression', cfg.compression, ['cachePercent']);
    this.cachePercent = checkInt('compression.cachePercent', comp.cachePercent ?? 10, 0, 100);
    this.victimPolicy = checkOneOf('victimPolicy', cfg.victimPolicy, ['random', 'lru'] as const, 'random');
    this.balloonMaxPercent = checkInt('balloonMaxPercent', cfg.balloonMaxPercent ?? 65, 0, 100);
    this.engine = Engine.create({
      machineMemoryMiB: mib,
      maxVMs: cfg.maxVMs,
      guestMemoryMiB: cfg.guestMemoryMiB,
      flavor: cfg.flavor,
      stagingBytes: STAGE_AUX + (1 << 16),
      simTables: cfg.sim !== undefined,
      simContentPages: cfg.sim?.contentPages,
      maxMmus: cfg.sim?.maxMmus,
    });
    this.staging = this.engine.region('staging').offset;
    this.engine.reclaimSeed(this.seed);
  }

  /** Creates a host (asynchronous once: it loads the swap checksum's WebAssembly). */
  static async create(cfg: HostConfig): Promise<Host> {
    await loadChecksum();
    return new Host(cfg);
  }

  /** Adds a VM with no machine memory yet; validates every field (typed errors name the field). */
  addVM(cfg: VmConfig): VM {
    if (cfg === null || typeof cfg !== 'object') throw new ConfigError('vm', cfg, 'an object');
    checkKeys('vm', cfg, VM_KEYS);
    if (typeof cfg.name !== 'string' || cfg.name.length === 0) throw new ConfigError('vm.name', cfg.name, 'a non-empty string');
    if (this.byName.has(cfg.name)) throw new ConfigError('vm.name', cfg.name, 'a name not used by another VM');
    const memoryMiB = checkInt('vm.memoryMiB', cfg.memoryMiB, 1, 1 << 20);
    const reservationMiB = checkInt('vm.reservationMiB', cfg.reservationMiB ?? 0, 0, memoryMiB);
    const machineMiB = this.engine.machineFrames / 256;
    if (this.reservedMiB + reservationMiB > machineMiB) {
      throw new ConfigError('vm.reservationMiB', reservationMiB, `at most ${machineMiB - this.reservedMiB} MiB (machine memory not yet reserved by other VMs)`);
    }
    const limitMiB = checkInt('vm.limitMiB', cfg.limitMiB ?? memoryMiB, Math.max(1, reservationMiB), memoryMiB);
    const shares = checkInt('vm.shares', cfg.shares ?? Math.max(1, Math.round((memoryMiB / 1024) * 1000)), 1, 1_000_000);
    if ((cfg.mmu as string) === 'native') throw new ConfigError('vm.mmu', cfg.mmu, "'ept' or 'shadow' (a Host's VMs run under a hypervisor; 'native' is for a standalone Mmu.create)");
    const mmu = checkOneOf<VmMmuMode>('vm.mmu', cfg.mmu, ['ept', 'shadow'], 'ept');
    const victimPolicy = checkOneOf<VictimPolicy>('vm.victimPolicy', cfg.victimPolicy, ['random', 'lru'], this.victimPolicy);
    const cachePercent = checkInt('vm.cachePercent', cfg.cachePercent ?? this.cachePercent, 0, 100);
    const id = this.vmList.length;
    // default salts live above 2^31, explicit ones below, so a default never joins a user's domain by accident
    const salt = cfg.salt === undefined ? (this.salting === 'host' ? 0x80000000 : 0x80000001 + id) : checkInt('vm.salt', cfg.salt, 0, 0x7fffffff);
    const pages = memoryMiB * 256;
    const cacheCap = Math.floor((pages * PAGE * cachePercent) / 100);
    if (cacheCap > 0xffffffff) throw new ConfigError('vm.cachePercent', cachePercent, 'a zip cache below 4 GiB');
    // the swap store first: a swap file that cannot be created must fail before the engine holds
    // a VM the host does not know (engine VM ids and this.vmList must stay in step)
    const store = this.createSwapStore(cfg.name, (memoryMiB - reservationMiB) * 256, id);
    const got = this.engine.vmCreate(pages, salt, limitMiB * 256, cacheCap);
    if (got < 0) {
      store.close();
      throw new ConfigError('vm.memoryMiB', memoryMiB, `room in the host's VM table and guest memory (maxVMs, guestMemoryMiB at Host.create)`);
    }
    const vm = new VM(this, got, cfg.name, { memoryMiB, reservationMiB, limitMiB, shares, mmu, salt, victimPolicy },
      Math.floor((pages * this.balloonMaxPercent) / 100), store);
    this.reservedMiB += reservationMiB;
    this.vmList.push(vm);
    this.byName.set(cfg.name, vm);
    return vm;
  }

  /** The swap store of a new VM; a file that cannot be created is a ConfigError naming swap.dir. */
  private createSwapStore(name: string, pages: number, id: number): SwapStore {
    if (this.swapBacking === 'memory') return new MemorySwapStore(name, pages);
    const path = join(this.swapDir, `memvisor-${process.pid}-${Date.now().toString(36)}-${id}.vswp`);
    try {
      return new FileSwapStore(name, pages, path);
    } catch (e) {
      throw new ConfigError('swap.dir', this.swapDir, `a writable directory for swap files (${(e as NodeJS.ErrnoException).code ?? (e as Error).message} creating ${path})`);
    }
  }

  /** The VM named `name`; a typed error for an unknown name. */
  vm(name: string): VM {
    const v = this.byName.get(name);
    if (!v) throw new ConfigError('vm', name, `one of ${[...this.byName.keys()].map((n) => JSON.stringify(n)).join(', ') || '(no VMs)'}`);
    return v;
  }

  /** The VMs, in creation order. */
  get vms(): readonly VM[] {
    return this.vmList;
  }

  /**
   * A simulated core (TLBs, walk caches, cost model) on this host's engine, with no VM yet:
   * `mmu.attach(vm)` sets up a VM's paging in its `mmu` mode over the VM's pmap, so reclamation
   * (sharing, page-out, balloon, copy-on-write) and translation see the same memory. Several
   * cores may attach the same VM. Throws when the engine has no room for another core.
   */
  mmu(opts: CoreOptions = {}): Mmu {
    if (opts === null || typeof opts !== 'object') throw new ConfigError('opts', opts, 'an object of core options');
    return Mmu.overHost(this, opts);
  }

  /** @internal PagingHost: true if `vm` is one of this host's VMs. */
  owns(vm: VM): boolean {
    return vm instanceof VM && this.vmList[vm.id] === vm;
  }
  /** @internal PagingHost: the VM with engine id `id`. */
  vmById(id: number): VM {
    const v = this.vmList[id];
    if (!v || v.id !== id) throw new ConfigError('vm', id, `a VM id below ${this.vmList.length}`);
    return v;
  }
  /** @internal PagingHost: the paging of `vm`, if an Mmu attached it. */
  pagingOf(vm: VM): MmuVm | undefined {
    return this.pagingByVm.get(vm.id);
  }
  /** @internal PagingHost: records the paging of `vm` (once). */
  setPaging(vm: VM, paging: MmuVm): void {
    this.pagingByVm.set(vm.id, paging);
    vm.setPaging(paging);
  }

  /**
   * One sharing scanner step over at most `maxPages` pages (default: one full pass over every
   * VM's pages), in the configured order. Returns what it did.
   */
  shareScan(maxPages?: number): ShareScanResult {
    const e = this.engine;
    const max = maxPages === undefined ? e.sharingCounters().passPages : checkInt('maxPages', maxPages, 0, 0xffffffff);
    e.shareScan(max, this.scanOrder);
    const c = e.sharingCounters();
    return { scanned: c.lastScanned, merged: c.lastMerged, fullScans: c.fullScans };
  }

  /** Every counter of the host and its VMs (see HostStats and VmStats for units). */
  stats(): Stats {
    const e = this.engine;
    const f = e.frameCounts();
    const sh = e.sharingCounters();
    const vms = this.vmList.map((v) => v.stats());
    const sharedMappings = vms.reduce((a, v) => a + v.SHRD, 0);
    return {
      host: {
        machineFrames: f.total,
        freeFrames: f.free,
        guestFrames: f.guest,
        zpoolFrames: f.zpool,
        pageTableFrames: f.pageTable,
        hypervisorFrames: f.hypervisor,
        pages_shared: sh.shared,
        pages_sharing: sharedMappings - sh.shared,
        pages_unshared: sh.hints,
        pages_volatile: sh.volatile,
        full_scans: sh.fullScans,
        cow_breaks: e.pmapCowBreaks(),
        pagesScanned: sh.scanned,
        pagesMerged: sh.merged,
        pagesLargeSkipped: sh.largeSkipped,
        zpoolSlots1K: e.zpoolSlotsUsed(0),
        zpoolSlots2K: e.zpoolSlotsUsed(1),
        zpoolStoredBytes: e.zpoolStoredBytes(),
        zpoolWastedBytes: e.zpoolWastedBytes(),
        zipHistogram: e.zipHistogram(),
      },
      vms,
    };
  }

  /**
   * esxtop's per-second counters from two stats snapshots taken `seconds` of simulated time
   * apart (the simulator has no clock of its own: the caller decides what an interval is).
   */
  static rates(before: Stats, after: Stats, seconds: number): VmRates[] {
    if (!(seconds > 0)) throw new ConfigError('seconds', seconds, 'a positive number of simulated seconds');
    const mib = (pages: number) => (pages * PAGE) / (1 << 20) / seconds;
    return after.vms.map((a) => {
      const b = before.vms.find((v) => v.name === a.name);
      const d = (k: 'SWR' | 'SWW' | 'ZIP' | 'UNZIP') => mib(a[k] - (b ? b[k] : 0));
      return { name: a.name, 'SWR/s': d('SWR'), 'SWW/s': d('SWW'), 'ZIP/s': d('ZIP'), 'UNZIP/s': d('UNZIP') };
    });
  }

  /**
   * Recounts every invariant in WebAssembly (frames conserved, each VM's states summing to its
   * size, references, sharing table, zpool, zip caches). `deep` (default) also re-hashes every
   * shared frame against its table key. Throws when one is broken (a debug build aborts first).
   */
  audit(deep = true): void {
    const need = STAGE_AUX + this.engine.machineFrames * 4;
    this.stage(need);
    let r: number;
    try {
      r = this.engine.pmapAudit(this.staging + STAGE_AUX, deep);
    } catch (e) {
      if (!(e instanceof EngineAbortError)) throw e;
      r = this.engine.pmapAuditCode();
    }
    // codes: assembly/reclaim/pmap.ts audit(); 100+ zip cache, 200+ zpool, 300+ sharing table
    if (r !== 0) throw new MemvisorError(`audit: invariant ${r} broken (detail ${this.engine.pmapAuditDetail()})`);
  }

  /** Closes every VM's swap store (removes swap files). */
  close(): void {
    for (const v of this.vmList) v.swap.close();
  }

  /** @internal HostContext: makes the staging region at least `bytes` long. */
  stage(bytes: number): void {
    this.engine.stage(bytes);
  }

  /**
   * @internal HostContext. FAULT_LIMIT: `vm` holds its limit, so it pages out from itself.
   * FAULT_NO_FRAME: machine RAM is full; page out from the VMs furthest above their reservation
   * per share until a frame is free. Throws OutOfMachineMemoryError when nothing can be reclaimed.
   */
  relieve(vm: VM, code: number): void {
    const e = this.engine;
    if (code === this.engine.codes.FAULT_LIMIT) {
      const r = vm.pageOutInternal(BATCH / 8);
      if (r.compressed + r.swapped === 0) {
        throw new OutOfMachineMemoryError(`VM ${JSON.stringify(vm.name)} holds its limit of ${vm.limitMiB} MiB and none of its pages can be reclaimed${r.swapFull ? ' (swap store full)' : ''}`);
      }
      return;
    }
    const order = this.vmList
      .filter((v) => !v.faulted)
      .map((v) => ({ v, over: v.residentPages - v.reservationMiB * 256 }))
      .filter((x) => x.over > 0)
      .sort((a, b) => b.over / b.v.shares - a.over / a.v.shares || a.v.id - b.v.id);
    for (const { v } of order) {
      v.pageOutInternal(BATCH / 8);
      if (e.frameCounts().free > 0) return;
    }
    throw new OutOfMachineMemoryError(
      `machine memory is exhausted and nothing is left to reclaim for VM ${JSON.stringify(vm.name)} (every VM at its reservation, swap full or incompressible)`,
    );
  }

  /** Frames counted by kind (re-exported for tests and reports). */
  frameCounts(): ReturnType<Engine['frameCounts']> {
    return this.engine.frameCounts();
  }
}

