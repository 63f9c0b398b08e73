/**
 * The host: machine memory (one engine), its VMs, their swap stores, the sharing scanner, and
 * what happens when machine memory runs out. Policy lives here; every page loop is in
 * WebAssembly (assembly/reclaim/pmap.ts and friends).
 *
 *   Host.create(config) --> an engine (src/engine, internal: machine RAM, pmaps, zpool, sharing table)
 *     addVM(config) -----> VM (vm.ts) + its SwapStore (memory or file, swapstore.ts)
 *     shareScan(max) ----> one scanner step (assembly/reclaim/sharing.ts)
 *     mmu(opts) ---------> a simulated core on this engine; mmu.attach(vm) sets up the VM's
 *                          paging (EPT or shadow) over the same pmap (src/translate/mmu.ts)
 *     stats() -----------> { host: HostStats, vms: VmStats[] }
 *     relieve(vm, need) -> under pressure: reclaim from the VMs above their reservation (see
 *                          below); at its limit: page out from the VM itself
 *     removeVM(name) ----> vm.powerOff(): everything the VM held is freed, usable at once
 *     close() -----------> swap files, descriptors and the swap directory released (swapdir.ts)
 *
 * Never lock up. Every frame the host hands out can be taken back:
 *   - guest frames by page-out (zip cache or swap), zip cache frames by evicting the oldest
 *     compressed pages to swap (the zip cache is a cap, not a reservation), the page-table pad
 *     pool and shadow tables (caches) by freeing them, and everything of a VM by powering it off;
 *   - a VM's footprint is its resident pages plus the zpool frames its slots sit in; under
 *     pressure the host reclaims from faulted VMs first (they cannot run), then from the VM
 *     furthest above its reservation per share, each down to its reservation at most; then the
 *     VM that needs the frame pages out from itself; then the caches of page tables;
 *   - admission control: a VM is added only if every reservation stays guaranteed, i.e. the
 *     reservations of all VMs plus the page tables the hypervisor may need for them (EPT tables
 *     of a 5-level walk over each VM's memory: pageTableOverhead) fit in machine memory. Zip
 *     caches need no floor (they give everything back), so with working swap an admitted VM
 *     always gets its reservation, and a VM's memory (its reservation plus its swap store of
 *     memory minus reservation) always has a place: the host runs out only when swap writes fail,
 *     and then the error is that SwapIoError (ENOSPC, EIO), not a vague out-of-memory.
 *
 * VM ids and pmap ranges are reused: a powered-off VM's id goes to the next VM whose memory fits
 * its pmap range (assembly/reclaim/pmap.ts vmCreate), so adding and removing VMs forever never
 * exhausts maxVMs or guestMemoryMiB while the live VMs fit.
 *
 * Configuration is validated by hand with the project's ConfigError (field, value, expected),
 * not with a schema library: the fields are few and flat, the messages stay in one format with
 * the engine's, and the package keeps one runtime dependency less.
 */
import { Engine, MAX_MACHINE_MIB, registerEngine, type EngineFlavor } from '../engine/engine.js';
import { PAGE, type Hpa } from '../engine/addr.js';
import type { HostNeed } from '../engine/fault.js';
import { FrameKind, type FrameCounts } from '../engine/ram.js';
import { AuditError, ConfigError, MemvisorError, OutOfMachineMemoryError, SwapIoError, checkBytes, checkInt } from '../errors.js';
import { MemorySwapStore, engineChecksum, type SwapStore } from './swapstore.js';
import { merge, type CleanupProblem, type CloseReport } from './cleanup.js';
import { nodeFiles, type SwapDirHandle } from '../platform.js';
import { pageTableOverhead } from './overhead.js';
import { VM, PState, type HostContext, type PageOutResult, type VmMmuMode, type VictimPolicy, type VmConfig, type VmStats } from './vm.js';
import { Mmu, type CoreOptions, type MmuVm, type PagingHost } from '../translate/mmu.js';

export type { FrameCounts };

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
    /** where the host makes its swap directory, memvisor-<pid>-XXXXXX (default: the OS temporary directory) */
    dir?: string;
    /** times a failed swap page read is tried again before the VM is faulted (default 3, 0 .. 100) */
    readRetries?: number;
  };
  sharing?: {
    /** scan order: 'random' (ESX, default) or 'sequential' (KSM) */
    order?: 'random' | 'sequential';
    /** default salt of a VM: 'per-vm' (its own, ESXi 6+ default) or 'host' (all VMs one sharing domain) */
    salting?: 'per-vm' | 'host';
    /** most guest pages one shared frame may back (KSM max_page_sharing, >= 2; default 0: no cap, as ESX) */
    maxPageSharing?: number;
    /** page-out first tries to merge each private victim with an equal page (ESX: share before swap; default false) */
    beforeSwap?: boolean;
  };
  compression?: {
    /** zip cache per VM, percent of its memory (default 10, ESX Mem.MemZipMaxPct; 0 disables compression) */
    cachePercent?: number;
    /** host-wide cap on the compressed pool, percent of machine memory (zswap max_pool_percent; default 0: none) */
    poolPercent?: number;
  };
  /** VMs' first touches may back 2 MiB groups with one large page (default false; Host.allowLargePages switches it at run time) */
  largePages?: boolean;
  /** default victim policy of page-out: 'random' (ESX default) or 'lru' (clock over accessed bits) */
  victimPolicy?: VictimPolicy;
  /** most of a VM's memory its balloon may hold, percent (default 65, ESX Mem.CtlMaxPercent) */
  balloonMaxPercent?: number;
  /**
   * the compiled engine (WebAssembly.compile of build/release.wasm, or debug.wasm with flavor
   * 'debug'), for a host that loads it itself: a browser, a bundle; default: build/<flavor>.wasm
   * read from disk once per process. The first one given also serves later hosts, cores and the
   * one-shot codecs of its flavour (useModule).
   */
  module?: WebAssembly.Module;
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
  /** pages the host-wide compressed pool refused because it was full (sent to swap instead), cumulative */
  zpoolRejects: number;
  /** 2 MiB large pages the VMs hold now */
  largePages: number;
  /** large pages backed, and broken into small pages, cumulative */
  largeAllocs: number;
  largeBreaks: number;
  /** first touches that found no wholly free aligned block and were backed by a small page, cumulative */
  largeFailed: number;
  /** scanner visits that hashed a page of a large page (it is not merged while large), cumulative */
  pagesLargeHashed: number;
  /** pages merged at once when their large page was broken (hashed while large), cumulative */
  pagesBrokenMerged: number;
  /**
   * victims page-out merged with an equal page instead of compressing or swapping them (share
   * before swap, HostConfig.sharing.beforeSwap), cumulative over every page-out: a policy's, the
   * host's own relief's, or vm.pageOut's
   */
  pagesSharedBeforeSwap: number;
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

export { pageTableOverhead };

/**
 * Free frames a 'noFrame' relief makes before it returns: what one access may need at once (the
 * four guest page-table pages of a walk and the data page, plus host tables). Fewer, and the
 * frames it freed by paging out the faulting VM's last resident pages (the walk's own tables,
 * when a full zip pool holds the rest) come straight back on the retry, round after round.
 */
const RELIEF_FRAMES = 8;
/** Rounds a limit relief may take beyond two per page of the VM (a guard: see relieveLimit). */
const LIMIT_RELIEF_ROUNDS = 16;

const HOST_KEYS = ['machineMemoryMiB', 'seed', 'maxVMs', 'guestMemoryMiB', 'flavor', 'swap', 'sharing', 'compression', 'victimPolicy', 'balloonMaxPercent', 'largePages', 'sim', 'module'];
const VM_KEYS = ['name', 'memoryMiB', 'salt', 'reservationMiB', 'limitMiB', 'shares', 'mmu', 'victimPolicy', 'cachePercent', 'largePages'];

/** Rejects keys of `obj` not in `keys` (a typo must not be ignored silently). */
function checkKeys(what: string, obj: object, keys: string[]): void {
  for (const k of Object.keys(obj)) if (!keys.includes(k)) throw new ConfigError(`${what}.${k}`, (obj as Record<string, unknown>)[k], `no such field (known: ${keys.join(', ')})`);
}
function checkOneOf<T extends string>(field: string, v: unknown, allowed: readonly T[], dflt: T): T {
  if (v === undefined) return dflt;
  if (!allowed.includes(v as T)) throw new ConfigError(field, v, allowed.map((a) => `'${a}'`).join(' or '));
  return v as T;
}
/** Checks that `v` looks like a `host.stats()` snapshot as far as `Host.rates` reads it. */
function checkStats(field: string, v: unknown): void {
  const vms = (v as Stats | null)?.vms;
  if (v === null || typeof v !== 'object' || !Array.isArray(vms)) throw new ConfigError(field, v, 'a snapshot from host.stats() ({ host, vms })');
  vms.forEach((s, i) => {
    if (s === null || typeof s !== 'object' || typeof s.name !== 'string') throw new ConfigError(`${field}.vms[${i}]`, s, 'the stats of a VM (host.stats().vms[i])');
    for (const k of ['SWR', 'SWW', 'ZIP', 'UNZIP'] as const) {
      if (typeof s[k] !== 'number' || !Number.isFinite(s[k])) throw new ConfigError(`${field}.vms[${i}].${k}`, s[k], 'a number of pages');
    }
  });
}
function checkBool(field: string, v: unknown, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') throw new ConfigError(field, v, 'true or false');
  return v;
}
function checkObject(field: string, v: unknown, keys: string[]): Record<string, unknown> {
  if (v === undefined) return {};
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new ConfigError(field, v, 'an object');
  checkKeys(field, v, keys);
  return v as Record<string, unknown>;
}

export class Host {
  /** Seed of every random choice of this host. */
  readonly seed: number;
  private readonly engine: Engine;
  /** What the host's VMs and cores see of it (not part of the public API). */
  private readonly context: HostContext;
  /** victims merged by share before swap, every page-out (HostStats.pagesSharedBeforeSwap) */
  private sharedBeforeSwap = 0;
  private readonly paging: PagingHost;
  /** Live VMs by engine id (ids of powered-off VMs are reused), and in creation order. */
  private readonly byId: (VM | undefined)[] = [];
  private readonly order: VM[] = [];
  private readonly byName = new Map<string, VM>();
  private readonly swapBacking: 'memory' | 'file';
  private readonly swapDir: string;
  private readonly readRetries: number;
  /** The host's own swap directory, made with the first file swap store. */
  private swapDirHandle: SwapDirHandle | null = null;
  /** Cleanup problems of VMs powered off before close(), reported by close(). */
  private readonly cleanupProblems: CleanupProblem[] = [];
  /** VMs added so far: each default salt is new. */
  private serial = 0;
  private readonly scanOrder: 'random' | 'sequential';
  private readonly salting: 'per-vm' | 'host';
  private readonly cachePercent: number;
  private readonly victimPolicy: VictimPolicy;
  private readonly balloonMaxPercent: number;
  /** Reservations of the live VMs, and the page tables admitted for them (frames). */
  private reservedFrames = 0;
  private overheadFrames = 0;
  private readonly largePages: boolean;
  private reliefHook: ((vm: VM, need: 'noFrame' | 'limit') => boolean) | null = null;
  /** Paging set up by Mmus over this host, by VM id (one per VM, shared by every core). */
  private readonly pagingByVm = new Map<number, MmuVm>();
  /** VMs held below their limit by blockAbove: id -> the most resident pages allowed. */
  private readonly blocks = new Map<number, number>();

  private constructor(cfg: HostConfig) {
    if (cfg === null || typeof cfg !== 'object') throw new ConfigError('config', cfg, 'an object');
    checkKeys('config', cfg, HOST_KEYS);
    const mib = checkInt('machineMemoryMiB', cfg.machineMemoryMiB, 1, MAX_MACHINE_MIB);
    this.seed = checkInt('seed', cfg.seed ?? 1, 0, Number.MAX_SAFE_INTEGER);
    const swap = checkObject('swap', cfg.swap, ['backing', 'dir', 'readRetries']);
    this.readRetries = checkInt('swap.readRetries', swap.readRetries ?? 3, 0, 100);
    this.swapBacking = checkOneOf('swap.backing', swap.backing, ['memory', 'file'] as const, 'memory');
    if (swap.dir !== undefined && typeof swap.dir !== 'string') throw new ConfigError('swap.dir', swap.dir, 'a directory path');
    // file swap needs Node's file system: the Node entry registers it (platform.ts)
    const files = this.swapBacking === 'file' ? nodeFiles('swap.backing', 'file', "'memory' in this build") : null;
    this.swapDir = (swap.dir as string | undefined) ?? files?.tmpdir() ?? '';
    const sharing = checkObject('sharing', cfg.sharing, ['order', 'salting', 'maxPageSharing', 'beforeSwap']);
    this.scanOrder = checkOneOf('sharing.order', sharing.order, ['random', 'sequential'] as const, 'random');
    this.salting = checkOneOf('sharing.salting', sharing.salting, ['per-vm', 'host'] as const, 'per-vm');
    const maxPageSharing = checkInt('sharing.maxPageSharing', sharing.maxPageSharing ?? 0, 0, 0x7fffffff);
    if (maxPageSharing === 1) throw new ConfigError('sharing.maxPageSharing', 1, '0 (no cap) or at least 2 (a frame shared by one page saves nothing)');
    const beforeSwap = checkBool('sharing.beforeSwap', sharing.beforeSwap, false);
    const comp = checkObject('compression', cfg.compression, ['cachePercent', 'poolPercent']);
    this.cachePercent = checkInt('compression.cachePercent', comp.cachePercent ?? 10, 0, 100);
    const poolPercent = checkInt('compression.poolPercent', comp.poolPercent ?? 0, 0, 100);
    this.largePages = checkBool('largePages', cfg.largePages, false);
    this.victimPolicy = checkOneOf('victimPolicy', cfg.victimPolicy, ['random', 'lru'] as const, 'random');
    this.balloonMaxPercent = checkInt('balloonMaxPercent', cfg.balloonMaxPercent ?? 65, 0, 100);
    // at least one MiB: with none, every addVM would fail
    if (cfg.guestMemoryMiB !== undefined) checkInt('guestMemoryMiB', cfg.guestMemoryMiB, 1, 1 << 22);
    if (cfg.maxVMs !== undefined) checkInt('maxVMs', cfg.maxVMs, 1, 4096);
    this.engine = Engine.create({
      machineMemoryMiB: mib,
      maxVMs: cfg.maxVMs,
      guestMemoryMiB: cfg.guestMemoryMiB,
      flavor: cfg.flavor,
      module: cfg.module,
      simTables: cfg.sim !== undefined,
      simContentPages: cfg.sim?.contentPages,
      maxMmus: cfg.sim?.maxMmus,
    });
    this.engine.reclaim.reclaimSeed(this.seed);
    this.engine.reclaim.sharingSetMaxSharing(maxPageSharing);
    this.engine.reclaim.reclaimShareFirst(beforeSwap);
    this.setPoolPercent(poolPercent);
    this.engine.reclaim.largeAllow(this.largePages);
    registerEngine(this, this.engine);
    const engine = this.engine;
    this.context = {
      engine,
      relieve: (vm, need) => this.relieve(vm, need),
      powerOff: (vm) => this.powerOff(vm),
      mergedBeforeSwap: (pages) => { this.sharedBeforeSwap += pages; },
    };
    this.paging = {
      engine,
      owns: (vm) => vm instanceof VM && this.byId[vm.id] === vm,
      vmById: (id) => this.vmById(id),
      attached: (p) => this.pagingByVm.get(p.id) === p,
      pagingOf: (vm) => this.pagingByVm.get(vm.id),
      setPaging: (vm, p) => {
        this.pagingByVm.set(vm.id, p);
        vm.setPaging(p);
      },
    };
  }

  /**
   * Creates a host. Nothing is awaited (the swap checksums run in the host's own engine); the
   * Promise keeps `await Host.create(...)` and `.then` working as they always have.
   */
  static async create(cfg: HostConfig): Promise<Host> {
    return new Host(cfg);
  }

  /** Adds a VM with no machine memory yet; validates every field (typed errors name the field). */
  addVM(cfg: VmConfig): VM {
    if (cfg === null || typeof cfg !== 'object') throw new ConfigError('vm', cfg, 'an object');
    checkKeys('vm', cfg, VM_KEYS);
    if (typeof cfg.name !== 'string' || cfg.name.length === 0) throw new ConfigError('vm.name', cfg.name, 'a non-empty string');
    if (this.byName.has(cfg.name)) throw new ConfigError('vm.name', cfg.name, 'a name not used by another VM');
    const memoryMiB = checkInt('vm.memoryMiB', cfg.memoryMiB, 1, 1 << 20);
    // one u64 pmap entry per guest page of all VMs (guestMemoryMiB at Host.create)
    const guestLeftMiB = Math.floor(this.engine.reclaim.guestPagesLeft() / 256);
    if (memoryMiB > guestLeftMiB) {
      throw new ConfigError('vm.memoryMiB', memoryMiB, `at most ${guestLeftMiB} MiB: the guest memory left of the host's guestMemoryMiB (Host.create; default 4x machineMemoryMiB, at least 64)`);
    }
    const reservationMiB = checkInt('vm.reservationMiB', cfg.reservationMiB ?? 0, 0, memoryMiB);
    const pages = memoryMiB * 256;
    this.admit(memoryMiB, reservationMiB, pages);
    const limitMiB = checkInt('vm.limitMiB', cfg.limitMiB ?? memoryMiB, Math.max(1, reservationMiB), memoryMiB);
    // default: 1000 per GiB (ESX's normal), within the range an explicit value must respect
    const shares = checkInt('vm.shares', cfg.shares ?? Math.min(1_000_000, Math.max(1, Math.round((memoryMiB / 1024) * 1000))), 1, 1_000_000);
    if ((cfg.mmu as string) === 'native') throw new ConfigError('vm.mmu', cfg.mmu, "'ept' or 'shadow' (a Host's VMs run under a hypervisor; 'native' is for a standalone Mmu.create)");
    const mmu = checkOneOf<VmMmuMode>('vm.mmu', cfg.mmu, ['ept', 'shadow'], 'ept');
    const victimPolicy = checkOneOf<VictimPolicy>('vm.victimPolicy', cfg.victimPolicy, ['random', 'lru'], this.victimPolicy);
    const cachePercent = checkInt('vm.cachePercent', cfg.cachePercent ?? this.cachePercent, 0, 100);
    const largePages = checkBool('vm.largePages', cfg.largePages, this.largePages);
    // default salts live above 2^31, explicit ones below, so a default never joins a user's domain by accident
    const salt = cfg.salt === undefined ? (this.salting === 'host' ? 0x80000000 : 0x80000001 + this.serial) : checkInt('vm.salt', cfg.salt, 0, 0x7fffffff);
    const cacheCap = Math.floor((pages * PAGE * cachePercent) / 100);
    if (cacheCap > 0xffffffff) throw new ConfigError('vm.cachePercent', cachePercent, 'a zip cache below 4 GiB');
    const id = this.engine.reclaim.vmCreate(pages, salt, limitMiB * 256, cacheCap);
    if (id < 0) {
      throw new ConfigError('vm.memoryMiB', memoryMiB, `room in the host's VM table and guest memory (maxVMs, guestMemoryMiB at Host.create)`);
    }
    let store: SwapStore;
    try {
      store = this.createSwapStore(cfg.name, (memoryMiB - reservationMiB) * 256, id);
    } catch (e) {
      this.engine.reclaim.vmRelease(id); // the engine must not hold a VM the host does not know
      throw e;
    }
    this.engine.reclaim.vmSetLarge(id, largePages);
    const vm = VM.create(this.context, id, cfg.name, { memoryMiB, reservationMiB, limitMiB, shares, mmu, salt, victimPolicy },
      Math.floor((pages * this.balloonMaxPercent) / 100), store);
    this.serial++;
    this.reservedFrames += reservationMiB * 256;
    this.overheadFrames += pageTableOverhead(pages);
    this.byId[id] = vm;
    this.order.push(vm);
    this.byName.set(cfg.name, vm);
    return vm;
  }

  /**
   * Admission control: refuses a VM whose reservation (or page tables) the host could not
   * guarantee next to the others': reservations plus page-table overhead must fit in machine memory.
   */
  private admit(memoryMiB: number, reservationMiB: number, pages: number): void {
    const total = this.engine.machineFrames;
    const overhead = pageTableOverhead(pages);
    const room = total - this.reservedFrames - this.overheadFrames;
    if (reservationMiB * 256 + overhead <= room) return;
    const mib = (f: number) => `${Math.round((f / 256) * 100) / 100} MiB`;
    const why = `${total / 256} MiB of machine memory, less ${mib(this.reservedFrames)} reserved by other VMs, less ${mib(this.overheadFrames + overhead)} of page tables the hypervisor keeps for the VMs (this one's included)`;
    if (reservationMiB > 0 && overhead <= room) {
      throw new ConfigError('vm.reservationMiB', reservationMiB, `at most ${Math.floor((room - overhead) / 256)} MiB, what the host can still guarantee: ${why}`);
    }
    throw new ConfigError('vm.memoryMiB', memoryMiB, `a VM whose page tables (up to ${overhead} frames) the host can still guarantee: ${room} frames are left of ${why.replace(', less ' + mib(this.overheadFrames + overhead), ', less ' + mib(this.overheadFrames))}`);
  }

  /** The swap store of a new VM; a file that cannot be created is a ConfigError naming swap.dir. */
  private createSwapStore(name: string, pages: number, id: number): SwapStore {
    const opts = { readRetries: this.readRetries, checksum: engineChecksum(this.engine) };
    if (this.swapBacking === 'memory') return new MemorySwapStore(name, pages, opts);
    try {
      this.swapDirHandle ??= nodeFiles('swap.backing', 'file', "'memory' in this build").openSwapDir(this.swapDir);
      return this.swapDirHandle.createStore(name, pages, id, opts);
    } catch (e) {
      if (e instanceof ConfigError) throw e;
      throw new ConfigError('swap.dir', this.swapDir, `a writable directory for swap files (${(e as { code?: string }).code ?? (e as Error).message} creating a swap file for VM ${JSON.stringify(name)})`);
    }
  }

  /** Powers off the VM named `name` (vm.powerOff): frees everything it held; the name is free again. */
  removeVM(name: string): void {
    if (typeof name !== 'string') throw new ConfigError('name', name, 'the name of a VM of this host');
    this.vm(name).powerOff();
  }

  /**
   * vm.powerOff: frees everything `vm` holds, page tables and cached translations first (nothing
   * may reach a freed frame), then its frames and zip slots, then its swap store (file and
   * descriptor), and forgets it.
   */
  private powerOff(vm: VM): void {
    if (this.byId[vm.id] !== vm) return;
    const e = this.engine;
    e.translate.pagingVmRelease(vm.id);
    e.reclaim.vmRelease(vm.id);
    const report = vm.swap.close();
    this.swapDirHandle?.remove(vm.swap);
    this.cleanupProblems.push(...report.problems);
    this.byId[vm.id] = undefined;
    this.order.splice(this.order.indexOf(vm), 1);
    this.byName.delete(vm.name);
    this.pagingByVm.delete(vm.id);
    this.blocks.delete(vm.id);
    this.reservedFrames -= vm.reservationMiB * 256;
    this.overheadFrames -= pageTableOverhead(vm.pages);
    vm.markPoweredOff();
  }

  /** The VM named `name`; a typed error for an unknown name. */
  vm(name: string): VM {
    const v = this.byName.get(name);
    if (!v) throw new ConfigError('vm', name, `one of ${[...this.byName.keys()].map((n) => JSON.stringify(n)).join(', ') || '(no VMs)'}`);
    return v;
  }

  /** The live VMs, in creation order (a powered-off VM is gone); a copy, so powering VMs off while iterating it is safe. */
  get vms(): readonly VM[] {
    return [...this.order];
  }

  /**
   * A simulated core (TLBs, walk caches, cost model) on this host's engine, with no VM yet:
   * `mmu.attach(vm)` sets up a VM's paging in its `mmu` mode over the VM's pmap, so reclamation
   * (sharing, page-out, balloon, copy-on-write) and translation see the same memory. Several
   * cores may attach the same VM. Throws when the engine has no room for another core.
   */
  mmu(opts: CoreOptions = {}): Mmu {
    if (opts === null || typeof opts !== 'object') throw new ConfigError('opts', opts, 'an object of core options');
    return Mmu.overHost(this.paging, opts);
  }

  /** The live VM with engine id `id`. */
  private vmById(id: number): VM {
    const v = this.byId[id];
    if (!v) throw new ConfigError('vm', id, `the id of a live VM of this host (${this.order.map((x) => x.id).join(', ') || 'none'})`);
    return v;
  }

  /**
   * One sharing scanner step over at most `maxPages` pages (default: one full pass over every
   * VM's pages), in the configured order. Returns what it did.
   */
  shareScan(maxPages?: number): ShareScanResult {
    const r = this.engine.reclaim;
    const max = maxPages === undefined ? r.sharingCounters().passPages : checkInt('maxPages', maxPages, 0, 0xffffffff);
    const { scanned, merged } = r.shareScan(max, this.scanOrder);
    return { scanned, merged, fullScans: r.sharingCounters().fullScans };
  }

  /** Every counter of the host and its VMs (see HostStats and VmStats for units). */
  stats(): Stats {
    const e = this.engine;
    const r = e.reclaim;
    const f = e.ram.frameCounts();
    const sh = r.sharingCounters();
    const lg = r.largeCounters();
    const vms = this.order.map((v) => v.stats());
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
        cow_breaks: r.pmapCowBreaks(),
        pagesScanned: sh.scanned,
        pagesMerged: sh.merged,
        pagesLargeSkipped: sh.largeSkipped,
        zpoolSlots1K: e.ram.zpoolSlotsUsed(0),
        zpoolSlots2K: e.ram.zpoolSlotsUsed(1),
        zpoolStoredBytes: e.ram.zpoolStoredBytes(),
        zpoolWastedBytes: e.ram.zpoolWastedBytes(),
        zipHistogram: r.zipHistogram(),
        zpoolRejects: r.zipPoolRejects(),
        largePages: vms.reduce((a, v) => a + v.largePages, 0),
        largeAllocs: lg.allocs,
        largeBreaks: lg.breaks,
        largeFailed: lg.failed,
        pagesLargeHashed: lg.hashed,
        pagesBrokenMerged: lg.brokenMerged,
        pagesSharedBeforeSwap: this.sharedBeforeSwap,
      },
      vms,
    };
  }

  // ---- the policy's switches -------------------------------------------------------------------

  /**
   * Allows (or stops) new 2 MiB large pages host-wide: while allowed, the first touch of a page
   * in a wholly unbacked, aligned 2 MiB group of a VM with large pages on backs the whole group
   * with one aligned block of frames (assembly/reclaim/large.ts). Existing ones stay until broken.
   */
  allowLargePages(on: boolean): void {
    if (typeof on !== 'boolean') throw new ConfigError('on', on, 'true or false');
    this.engine.reclaim.largeAllow(on);
  }

  /** True if `vm` is a live VM of this host. */
  private isOwn(vm: VM): boolean {
    return vm instanceof VM && this.byId[vm.id] === vm;
  }

  /**
   * What each reclamation technique holds back from the VMs now, in pages: ballooned pages,
   * pages sharing saves (mappings of shared frames beyond each frame), pages compression saves
   * (compressed pages less the pool frames they sit in), swapped pages. Cheap: the engine's counts.
   */
  heldBack(): { balloon: number; sharing: number; compression: number; swap: number } {
    const r = this.engine.reclaim;
    let balloon = 0, shared = 0, compressed = 0, swap = 0;
    for (const v of this.order) {
      balloon += r.vmStateCount(v.id, PState.Ballooned);
      shared += r.vmStateCount(v.id, PState.Shared) + r.vmStateCount(v.id, PState.Zero);
      compressed += r.vmStateCount(v.id, PState.Compressed);
      swap += r.vmStateCount(v.id, PState.Swapped);
    }
    return { balloon, sharing: shared - r.sharingCounters().shared, compression: compressed - this.engine.ram.frameCounts().zpool, swap };
  }

  /** @internal HostStats.pagesSharedBeforeSwap without the rest of stats() (a policy's sample fields). */
  get pagesSharedBeforeSwap(): number {
    return this.sharedBeforeSwap;
  }

  /** True while new large pages are allowed. */
  get largePagesAllowed(): boolean {
    return this.engine.reclaim.largeAllowed();
  }

  /**
   * Breaks large pages into 4 KiB pages: of `vm` (default: every VM), at most `maxGroups` (default
   * all). With `merge` (default true) each page the sharing scanner hashed while it was large is
   * merged at once with an equal page of its domain. Returns the large pages broken.
   */
  breakLargePages(opts: { vm?: VM; maxGroups?: number; merge?: boolean } = {}): number {
    if (opts === null || typeof opts !== 'object') throw new ConfigError('opts', opts, 'an object');
    const max = checkInt('maxGroups', opts.maxGroups ?? 0xffffffff, 0, 0xffffffff);
    const merge = checkBool('merge', opts.merge, true);
    if (opts.vm !== undefined && !this.isOwn(opts.vm)) throw new ConfigError('vm', opts.vm?.name, 'a live VM of this host');
    let n = 0;
    for (const v of opts.vm ? [opts.vm] : this.order) {
      if (n >= max) break;
      n += this.engine.reclaim.largeBreakAll(v.id, max - n, merge);
    }
    return n;
  }

  /**
   * Sets the most guest pages one shared frame may back (KSM max_page_sharing, >= 2; 0: no cap).
   * Not below the users a shared frame has now (KSM refuses to change it while pages are shared).
   */
  setMaxPageSharing(n: number): void {
    const v = checkInt('maxPageSharing', n, 0, 0x7fffffff);
    if (v === 1) throw new ConfigError('maxPageSharing', 1, '0 (no cap) or at least 2');
    const most = this.engine.reclaim.sharingMaxUsers();
    if (v !== 0 && v < most) throw new ConfigError('maxPageSharing', v, `0 or at least ${most}, the most users a shared frame has now`);
    this.engine.reclaim.sharingSetMaxSharing(v);
  }

  /** The cap on users per shared frame (0: none). */
  get maxPageSharing(): number {
    return this.engine.reclaim.sharingMaxSharing();
  }

  /** The most users any shared frame has now. */
  get mostPageSharing(): number {
    return this.engine.reclaim.sharingMaxUsers();
  }

  /** Turns share-before-swap on or off: page-out first tries to merge each private victim. */
  setShareBeforeSwap(on: boolean): void {
    if (typeof on !== 'boolean') throw new ConfigError('on', on, 'true or false');
    this.engine.reclaim.reclaimShareFirst(on);
  }

  /** Caps the compressed pool host-wide at `percent` of machine memory (zswap max_pool_percent; 0: no cap). */
  setPoolPercent(percent: number): void {
    const p = checkInt('poolPercent', percent, 0, 100);
    this.engine.reclaim.zipSetPoolCap(Math.floor((this.engine.machineFrames * p) / 100));
  }

  /** The host-wide cap on the compressed pool, frames (0: none). */
  get poolCapFrames(): number {
    return this.engine.reclaim.zipPoolCap();
  }

  /**
   * Blocks `vm` from taking more frames: its resident pages may not grow past `pages` (below its
   * configured limit), so a first touch or swap-in beyond it must page out from the VM itself
   * (the 'limit' relief). null lifts the block (the configured limit again). ESX does this to VMs
   * above their target in the low memory state.
   */
  blockAbove(vm: VM, pages: number | null): void {
    if (!this.isOwn(vm)) throw new ConfigError('vm', vm?.name, 'a live VM of this host');
    const limit = vm.limitMiB * 256;
    const cap = pages === null ? limit : Math.min(limit, checkInt('pages', pages, 0, vm.pages));
    this.engine.reclaim.vmSetLimit(vm.id, cap);
    if (cap < limit) this.blocks.set(vm.id, cap);
    else this.blocks.delete(vm.id);
  }

  /** Sets the zip cache capacity of `vm` to `percent` of its memory (0: no compression for it). */
  setCachePercent(vm: VM, percent: number): void {
    if (!this.isOwn(vm)) throw new ConfigError('vm', vm?.name, 'a live VM of this host');
    const p = checkInt('cachePercent', percent, 0, 100);
    this.engine.reclaim.vmSetCacheCap(vm.id, Math.min(0xffffffff, Math.floor((vm.pages * PAGE * p) / 100)));
  }

  /**
   * Installs a relief to try before the host's own whenever a fault finds no frame ('noFrame')
   * or a VM at its limit ('limit'), on every path (touches, swap-ins, guest-physical access): a
   * host policy's (a Simulation installs its policy's relieve). It returns true if it freed what
   * the fault needs (for 'noFrame' the host's own relief still runs if no frame is free); null
   * removes it.
   */
  setRelief(relief: ((vm: VM, need: 'noFrame' | 'limit') => boolean) | null): void {
    this.reliefHook = relief;
  }

  /**
   * esxtop's per-second counters from two stats snapshots taken `seconds` of simulated time
   * apart (the simulator has no clock of its own: the caller decides what an interval is).
   */
  static rates(before: Stats, after: Stats, seconds: number): VmRates[] {
    checkStats('before', before);
    checkStats('after', after);
    if (typeof seconds !== 'number' || !(seconds > 0) || !Number.isFinite(seconds)) throw new ConfigError('seconds', seconds, 'a positive number of simulated seconds');
    const mib = (pages: number) => (pages * PAGE) / (1 << 20) / seconds;
    return after.vms.map((a) => {
      const b = before.vms.find((v) => v.name === a.name);
      const d = (k: 'SWR' | 'SWW' | 'ZIP' | 'UNZIP') => mib(a[k] - (b ? b[k] : 0));
      return { name: a.name, 'SWR/s': d('SWR'), 'SWW/s': d('SWW'), 'ZIP/s': d('ZIP'), 'UNZIP/s': d('UNZIP') };
    });
  }

  /**
   * Recounts every invariant in WebAssembly (assembly/audit.ts): frames conserved by kind and
   * held by their owners (VMs, zpool, page tables), each VM's pages in exactly one state, frame
   * references, isolation of sharing domains, the sharing table, zpool and zip caches, and the
   * EPT and shadow leaves against the pmap. `deep` (default) also re-hashes every shared frame
   * against its table key. Throws an AuditError naming the invariant and where it broke (VM,
   * GPPN, MPN, ...); changes nothing.
   */
  audit(deep = true): void {
    const f = this.engine.reclaim.audit(deep);
    if (!f) return;
    const vm = f.vm === undefined ? undefined : this.byId[f.vm];
    throw new AuditError(f.invariant, f.code, f.text, {
      vm: vm?.name, vmId: f.vm, gppn: f.gppn, mpn: f.mpn, slot: f.slot,
      state: f.state === undefined ? undefined : PState[f.state] ?? String(f.state),
      kind: f.kind === undefined ? undefined : FrameKind[f.kind] ?? String(f.kind),
      expected: f.expected, found: f.found,
    });
  }

  /**
   * Closes every VM's swap store and removes the host's swap directory: every descriptor is
   * closed and every file removed that can be, whatever fails on the way (a file or directory
   * already gone counts as removed). Never throws for that: what could not be released is in the
   * report's `problems`. Idempotent; the exit hook does the same if the process ends first.
   * Then it frees the engine: machine memory, pmaps, caches and TLBs (hundreds of MiB of linear
   * memory), even while this Host, its VMs or an attached Mmu are still referenced (a sweep that
   * keeps its hosts keeps only their JavaScript objects). Any call on them after close throws a
   * MemvisorError that says the host is closed.
   */
  close(): CloseReport {
    const report: CloseReport = { descriptorsClosed: 0, removed: 0, problems: this.cleanupProblems.splice(0) };
    for (const v of this.order) merge(report, v.swap.close());
    if (this.swapDirHandle) merge(report, this.swapDirHandle.close());
    this.engine.release(() => new MemvisorError('host: closed (Host.close freed its machine memory and engine); create a new Host'));
    return report;
  }

  /**
   * Reads `length` bytes of machine memory at host-physical address `hpa` (an hPA a translation
   * gave: `mmu.translateOrThrow(va)`), as the hardware would after the walk. A typed error outside
   * machine RAM.
   */
  readMachine(hpa: Hpa | bigint | number, length: number): Uint8Array {
    return this.engine.ram.readMachine(hpa, length);
  }

  /**
   * Writes `bytes` into machine memory at host-physical address `hpa`, as a guest store through
   * a translation would (the translation checked the permissions: a read-only or copy-on-write
   * page must be translated for 'write' first, which breaks the sharing).
   */
  writeMachine(hpa: Hpa | bigint | number, bytes: Uint8Array): void {
    this.engine.ram.writeMachine(hpa, checkBytes('bytes', bytes));
  }

  /**
   * What a VM's fault needs of the host (HostContext). A relief hook (setRelief, a policy's
   * relieve) goes first; for 'noFrame' the host's own relief follows unless RELIEF_FRAMES are
   * free. 'limit': `vm` holds its limit, so it pages out from itself. 'noFrame': machine RAM is
   * full; reclaims until RELIEF_FRAMES frames are free (compressed pages evicted to swap as soon
   * as page-out alone does not get there), in this order:
   *   1. the page-table pad pool (frames held only for alignment);
   *   2. VMs above their reservation (footprint: resident pages + zip frames), faulted VMs
   *      first, then the furthest above per share, each at most down to its reservation: resident
   *      pages paged out, then the oldest compressed pages evicted to swap; while any gives;
   *   3. `vm` itself, below its reservation (its own pages make room for its own access);
   *   4. shadow page tables (caches, rebuilt on demand).
   * Returns with fewer free when nothing more gives but some frame is free; with none, throws the
   * first swap write error met when that is what stopped reclaim (ENOSPC, EIO), else
   * OutOfMachineMemoryError.
   */
  private relieve(vm: VM, need: Exclude<HostNeed, 'swapIn'>): void {
    // a hook's 'noFrame' relief counts only with RELIEF_FRAMES free: pages compressed into a full
    // pool can take as many frames as they give, and then only eviction or swap makes room
    // a policy's relief counts when it did what the stop needs: RELIEF_FRAMES free, or the VM
    // below its limit (a victim merged by share-before-swap frees a frame but stays resident)
    if (need === 'limit' && this.dropCrowdingZeros(vm)) return;
    if (this.reliefHook?.(vm, need) && (need === 'limit' ? this.underLimit(vm) : this.freeFrames() >= RELIEF_FRAMES)) return;
    if (need === 'limit') {
      this.relieveLimit(vm);
      return;
    }
    const e = this.engine;
    let error: SwapIoError | null = null;
    const note = (r: PageOutResult): boolean => {
      error ??= r.error;
      return r.compressed + r.swapped + r.shared + r.evicted > 0;
    };
    const enough = () => this.freeFrames() >= RELIEF_FRAMES;
    if (e.translate.ptPoolDrain() > 0 && enough()) return;
    for (let progress = true; progress; ) {
      progress = false;
      for (const row of this.reclaimOrder()) {
        if (this.reclaimFrom(row.v, row.over, row.resident - row.floor, row.zip, note)) progress = true;
        if (enough()) return;
      }
    }
    const own = e.reclaim.vmStats(vm.id);
    if (this.reclaimFrom(vm, Infinity, own.mapped + own.shared + own.zero, own.zipFrames, note) && enough()) return;
    for (const v of this.order) {
      if (v.mmu === 'shadow' && e.translate.shadowRelease(v.id) > 0 && enough()) return;
    }
    // fewer than an access may need, but some: the access may still fit
    if (this.freeFrames() > 0) return;
    if (error) throw error;
    throw new OutOfMachineMemoryError(
      `machine memory is exhausted and nothing is left to reclaim for VM ${JSON.stringify(vm.name)}: every other VM holds at most its reservation and the VM's own pages cannot be paged out (swap store full or no page left resident)`,
    );
  }

  /** Whether `vm` holds fewer resident pages (Mapped + Shared + Zero) than its limit or its block: room for one more. */
  private underLimit(vm: VM): boolean {
    const st = this.engine.reclaim.vmStats(vm.id);
    return st.mapped + st.shared + st.zero < this.capOf(vm);
  }

  /**
   * Zero pages count as resident but hold no frame of their own. When they leave `vm` room under
   * its limit or block for fewer pages than one access may need (RELIEF_FRAMES: its walk's tables
   * and the page), every relief pages out the page the retry needs next, and the next relief the
   * one before it, round after round (a VM blocked at 60 pages, 56 of them zero). Such zero pages
   * are dropped (they read the same: the next touch gets a zeroed frame) before any relief.
   * Returns whether that alone made room.
   */
  private dropCrowdingZeros(vm: VM): boolean {
    const st = this.engine.reclaim.vmStats(vm.id);
    if (st.zero === 0 || this.capOf(vm) - st.zero >= RELIEF_FRAMES) return false;
    this.engine.reclaim.zeroDrop(vm.id, st.zero);
    return this.underLimit(vm);
  }

  /** The most resident pages `vm` may hold: its block, or else its limit. */
  private capOf(vm: VM): number {
    return this.blocks.get(vm.id) ?? vm.limitMiB * 256;
  }

  /**
   * 'limit': `vm` pages out from itself, an eighth of a batch a round, until it is below its limit.
   * Victims that share-before-swap merged stay resident (Shared), so a round that only merged goes
   * on, and the rounds go on as long as they move anything: a block the policy set far below what
   * the VM holds takes many, and so does a VM whose victims merge round after round. They end:
   * each round that moves a page leaves fewer resident or fewer Mapped, and nothing maps a page
   * during a relief (the bound below is a guard). A failed write is tried again, twice.
   */
  private relieveLimit(vm: VM): void {
    const round = this.engine.reclaim.batch / 8;
    let error: SwapIoError | null = null;
    for (let n = 0, failed = 0; n < (2 * vm.pages) / round + LIMIT_RELIEF_ROUNDS && failed < 3; n++) {
      const r = vm.pageOutInternal(round);
      if (this.underLimit(vm)) return;
      if (r.error) {
        error ??= r.error;
        failed++;
      } else if (r.compressed + r.swapped + r.shared === 0) break;
    }
    // all it holds may be zero pages: no frame of their own, yet resident; dropped, they read the same
    if (this.engine.reclaim.zeroDrop(vm.id, this.engine.reclaim.batch / 8) > 0) return;
    if (error) throw error;
    const cap = this.blocks.get(vm.id);
    const held = cap !== undefined ? `the ${cap / 256} MiB it is blocked at (host.blockAbove; its limit is ${vm.limitMiB} MiB)` : `its limit of ${vm.limitMiB} MiB`;
    throw new OutOfMachineMemoryError(`VM ${JSON.stringify(vm.name)} holds ${held} and none of its pages can be paged out to make room (no page left resident, or its swap store is full)`);
  }

  /**
   * VMs holding more than they are guaranteed, in the order reclaim takes from them: faulted VMs
   * first (they cannot run: nothing is guaranteed), then by excess per share, then by id.
   */
  private reclaimOrder(): { v: VM; over: number; resident: number; zip: number; floor: number }[] {
    const rows: { v: VM; over: number; resident: number; zip: number; floor: number }[] = [];
    for (const v of this.order) {
      const st = this.engine.reclaim.vmStats(v.id);
      const resident = st.mapped + st.shared + st.zero;
      const floor = v.faulted ? 0 : v.reservationMiB * 256;
      const over = resident + st.zipFrames - floor;
      if (over > 0) rows.push({ v, over, resident, zip: st.zipFrames, floor });
    }
    const rank = (x: { v: VM }) => (x.v.faulted ? 0 : 1);
    return rows.sort((a, b) => rank(a) - rank(b) || b.over / b.v.shares - a.over / a.v.shares || a.v.id - b.v.id);
  }

  /**
   * Takes at most `over` frames' worth from `v` in one batch: `spare` resident pages paged out,
   * then, if fewer than RELIEF_FRAMES are free, compressed pages evicted to swap when it has
   * `zip` frames of them. Returns true if anything moved (`note` sees each result).
   */
  private reclaimFrom(v: VM, over: number, spare: number, zip: number, note: (r: PageOutResult) => boolean): boolean {
    let moved = false;
    const step = this.engine.reclaim.batch / 8;
    const out = Math.min(step, over, spare);
    if (out > 0 && note(v.pageOutInternal(out))) moved = true;
    if (this.freeFrames() < RELIEF_FRAMES && zip > 0 && note(v.zipEvictInternal(Math.min(step, over)))) moved = true;
    return moved;
  }

  /** Free machine frames. */
  private freeFrames(): number {
    return this.engine.ram.frameCounts().free;
  }

  /** Machine frames counted by kind (free + the others == total). */
  frameCounts(): FrameCounts {
    return this.engine.ram.frameCounts();
  }
}

