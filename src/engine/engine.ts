/**
 * The engine: the only module that touches the WebAssembly exports.
 *
 * It loads build/{release,debug}.wasm with @assemblyscript/loader, writes the configuration
 * block, calls `init`, reads back the memory map, and owns the typed views over linear memory.
 * Everything else in src/ calls the typed methods here and never sees a raw export or a literal
 * offset. Bulk data crosses through the staging region, whose address is asked for once.
 *
 * Why raw exports: the loader's demangled functions wrap every call in a rest-argument closure;
 * the engine calls the instance's exports directly and uses the loader for instantiation, the
 * abort import and string decoding.
 *
 * Why views are re-created: growing linear memory detaches the old ArrayBuffer, so every view
 * made before a grow would read zeros. `mem()` compares buffers and rebuilds the views.
 */

import { instantiateSync, type ASUtil } from '@assemblyscript/loader';
import { ConfigError, EngineAbortError, EnginePoisonedError, OutOfLinearMemoryError, checkInt, checkKeys } from '../errors.js';

/** Flavours of the module: debug has assertions compiled in, release is optimized. */
export type EngineFlavor = 'release' | 'debug';

export interface EngineOptions {
  /** Machine RAM in MiB (4 KiB frames). 0 gives an engine for codecs and hashing only. */
  machineMemoryMiB?: number;
  /** Initial staging region in bytes (it grows on demand). Default 1 MiB. */
  stagingBytes?: number;
  /** VMs the engine can hold. Default 64. */
  maxVMs?: number;
  /** Guest memory of all VMs together, in MiB (sizes the pmaps). Default 4x machine memory, at least 64. */
  guestMemoryMiB?: number;
  /** MMU contexts (simulated cores) the engine can hold. Default 16. */
  maxMmus?: number;
  /** Bytes for the TLB / PWC / nested-TLB entries of all MMU contexts. Default 4 MiB. */
  mmuCacheBytes?: number;
  /** Module flavour. Default: 'debug' when MEMVISOR_DEBUG=1 in the environment, else 'release'. */
  flavor?: EngineFlavor;
  /** The simulation's guest OS and workload tables (region sim, src/engine/sim.ts). Default false. */
  simTables?: boolean;
  /** Pages of OS and file images the simulation keeps in region sim. Default 0. */
  simContentPages?: number;
  /**
   * The compiled module to instantiate, for hosts that load it themselves (a browser fetching
   * build/release.wasm, a simulator that embeds memvisor). Default: build/<flavor>.wasm, read once.
   */
  module?: WebAssembly.Module;
}

/** One region of the memory map. Offsets and sizes are bytes in linear memory. */
export interface RegionInfo {
  readonly offset: number;
  readonly size: number;
}

/** Kinds of machine frame, as counted by the conservation invariant (frames.ts FrameKind). */
export enum FrameKind {
  Free = 0,
  Guest = 1,
  Zpool = 2,
  PageTable = 3,
  Hypervisor = 4,
}

/** Bytes in a guest page and in a machine frame (assembly/ram/memmap.ts PAGE_SIZE). */
export const PAGE = 4096;
/** Largest machine RAM one engine holds: 4 GiB of wasm32 memory less metadata room. */
export const MAX_MACHINE_MIB = 3584;
/** Returned by frame allocation when machine RAM is exhausted. */
export const NO_FRAME = 0xffffffff;

/** The exports of assembly/index.ts, typed. u32 results arrive as signed i32: use `>>> 0`. */
interface RawExports {
  memory: WebAssembly.Memory;
  init(): number;
  configCount(): number;
  configName(i: number): number;
  configPtr(): number;
  mapCount(): number;
  mapName(i: number): number;
  mapOffset(i: number): number;
  mapSize(i: number): number;
  stagingReserve(bytes: number): number;
  frameAlloc(kind: number): number;
  frameGet(mpn: number): number;
  framePut(mpn: number): number;
  frameRefs(mpn: number): number;
  frameKind(mpn: number): number;
  framesTotal(): number;
  framesFree(): number;
  framesUsed(kind: number): number;
  vmCreate(pages: number, salt: number, limit: number, cacheCap: number): number;
  vmSetLimit(vm: number, limit: number): void;
  vmSetCacheCap(vm: number, bytes: number): void;
  vmTotal(): number;
  pmapEntries(): number;
  pmapWritable(vm: number, gppn: number): number;
  pmapSample(vm: number, gppn: number, clear: number): number;
  vmStateCount(vm: number, s: number): number;
  vmStatCount(): number;
  vmStatName(i: number): number;
  vmStat(vm: number, i: number): number;
  vmSharedSaved(vm: number): number;
  pmapCowBreaks(): number;
  physAccess(vm: number, gpa: number, len: number, buf: number, flags: number): number;
  physAccessDone(): number;
  physAccessGppn(): number;
  swapInCommit(vm: number, gppn: number, src: number): number;
  swapInList(vm: number, gppn: number, end: number, out: number, cap: number): number;
  swapInFrames(vm: number, list: number, n: number, addrs: number): number;
  swapInFramesCommit(vm: number, list: number, n: number, done: number, addrs: number): void;
  audit(scratch: number, deep: number): number;
  auditDetailCount(): number;
  auditDetailName(i: number): number;
  auditDetail(i: number): number;
  auditText(code: number): number;
  debugCorrupt(code: number, vm: number, gppn: number, arg: number): number;
  zslotAlloc(c: number, len: number, vm: number, gppn: number): number;
  zslotFree(s: number): void;
  zslotLen(s: number): number;
  zslotClass(s: number): number;
  zpoolSlotsUsed(c: number): number;
  zpoolFrames(c: number): number;
  zpoolStoredBytes(): number;
  zpoolWastedBytes(): number;
  zpoolAudit(): number;
  zipHistogram(b: number): number;
  zipSurvey(vm: number, first: number, n: number, out: number): number;
  reclaimSeed(lo: number, hi: number): void;
  reclaimSelect(vm: number, count: number, policy: number, out: number, outCap: number, pages: number): number;
  reclaimStop(): number;
  reclaimZipped(): number;
  reclaimEvicted(): number;
  reclaimVictims(): number;
  swapCommit(vm: number, list: number, n: number): number;
  reclaimEvict(vm: number, count: number, out: number, outCap: number, pages: number): number;
  vmRelease(vm: number): number;
  vmAlive(vm: number): number;
  pagingVmRelease(vm: number): number;
  shadowRelease(vm: number): number;
  ptPoolDrain(): number;
  zpoolVmFrames(vm: number): number;
  balloonInflate(vm: number, list: number, n: number, slots: number): number;
  balloonDeflate(vm: number, list: number, n: number): number;
  balloonBadIndex(): number;
  balloonSlotsFreed(): number;
  shareScan(maxPages: number, order: number): number;
  sharedCount(): number;
  sharingHints(): number;
  sharingFullScans(): number;
  sharingVolatile(): number;
  sharingScanned(): number;
  sharingMerged(): number;
  sharingLargeSkipped(): number;
  sharingLastScanned(): number;
  sharingLastMerged(): number;
  sharingCapacity(): number;
  sharingPassPages(): number;
  sharingCursor(): number;
  sharingAudit(deep: number): number;
  pmapState(vm: number, gppn: number): number;
  pmapFrame(vm: number, gppn: number): number;
  pmapFault(vm: number, gppn: number, write: number): number;
  pageIsZero(p: number): number;
  pageEqual(a: number, b: number): number;
  pagesCountZero(p: number, n: number): number;
  pagesCountEqual(a: number, b: number, n: number): number;
  pagesCopy(dst: number, src: number, n: number): void;
  xxh64(p: number, len: number, seed: bigint): bigint;
  xxh3(p: number, len: number, seed: bigint): bigint;
  pagesHash(p: number, n: number, out: number): void;
  pagesXxh3(p: number, n: number, out: number): void;
  pagesXxh64(p: number, n: number, out: number): void;
  xxh64Pages(p: number, n: number, seed: bigint, out: number): void;
  xxh3Pages(p: number, n: number, seed: bigint, out: number): void;
  crc32(p: number, len: number, crc: number): number;
  // paging (assembly/translate/cores.ts, walk.ts, ept.ts, shadow.ts, gos.ts, lackey.ts)
  mmuCreate(l1iS: number, l1iW: number, l1dS: number, l1dW: number, l2S: number, l2W: number,
    gpS: number, gpW: number, npS: number, npW: number, ntS: number, ntW: number, flags: number): number;
  mmuCtxAddr(id: number): number;
  mmuCounterCount(): number;
  mmuCounterName(i: number): number;
  mmuCounterSlot(i: number): number;
  mmuCostCount(): number;
  mmuCostName(i: number): number;
  mmuCostSlot(i: number): number;
  mmuResetCounters(id: number): void;
  pagingStatCount(): number;
  pagingStatName(i: number): number;
  pagingStat(vm: number, i: number): number;
  pagingVmSetup(vm: number, mode: number, g: number, h: number, gs: number, hs: number, vpid: number, ad: number): number;
  eptSetup(vm: number): number;
  eptPointer(vm: number): bigint;
  eptPoke(vm: number, gpa: number, level: number, value: bigint): number;
  eptPeek(vm: number, gpa: number, level: number): bigint;
  ptPoolCount(): number;
  gosRangeBusy(vm: number, lo: number, hi: number): number;
  gosAttach(vm: number, lo: number, hi: number): void;
  gosNewRoot(vm: number): number;
  guestWrite64(id: number, gpa: number, value: bigint): number;
  guestRead64(id: number, gpa: number): bigint;
  mmuSwitch(id: number, vm: number, cr3: number, pcid: number): void;
  mmuTranslate(id: number, va: bigint, kind: number): bigint;
  mmuTranslateBatch(id: number, inp: number, out: number, n: number, addrs: number): number;
  batchPack(inp: number, vas: number, kinds: number, kindBytes: number, n: number): void;
  batchHostFaults(out: number, n: number, list: number): number;
  batchUnpack(out: number, res: number, cyc: number, addrs: number, faOut: number, n: number): void;
  mmuInvlpg(id: number, va: bigint): void;
  invvpid(id: number, type: number, vpid: number, va: number): void;
  invept(id: number, type: number, vm: number): void;
  lastFaultKind(): number;
  lastFaultCode(): number;
  lastFaultAddr(): number;
  lastTranslationCycles(): number;
  backingChanged(vm: number, gppn: number): void;
  pagingSample(vm: number, first: number, n: number, clear: number, out: number): number;
  lackeyReplay(id: number, p: number, len: number, final: number, flags: number): number;
  binaryReplay(id: number, p: number, len: number): number;
  traceReset(): void;
  traceLines(): number;
  traceErrorOffset(): number;
  traceEmitTo(p: number): void;
  traceEmitted(): number;
  lz4Compress(src: number, srcLen: number, dst: number, dstCap: number): number;
  lz4Decompress(src: number, srcLen: number, dst: number, dstCap: number): number;
  lz4Bound(n: number): number;
  lz4CompressPages(src: number, n: number, dst: number, slotBytes: number, sizes: number): number;
  lz4DecompressPages(src: number, slotBytes: number, sizes: number, n: number, dst: number): number;
  lz4LastError(): number;
  lz4CompressPacked(src: number, n: number, dst: number, dstCap: number, base: number, ends: number): number;
  lz4DecompressPacked(src: number, srcLen: number, offsets: number, n: number, dst: number): number;
  [lz4Status: `LZ4_${string}`]: WebAssembly.Global;
  [auditCode: `AUDIT_${string}`]: WebAssembly.Global;
}

/** A broken invariant as `Engine.audit` reports it (numbers as the module gives them; see errors.ts AuditError). */
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

/**
 * Status codes of the LZ4 functions (assembly/codec/lz4.ts LZ4_*): >= 0 is a size, < 0 one of these.
 * `lz4StatusCodes()` reads the module's own values, so a test keeps the two in step.
 */
export enum Lz4Status {
  /** compression: the output would exceed the limit (not an error: the page is not kept) */
  DoesNotFit = -1,
  Truncated = -2,
  ZeroOffset = -3,
  OffsetBeforeStart = -4,
  OutputOverflow = -5,
  Trailing = -6,
  SizeMismatch = -7,
  BadSize = -8,
  BadOffsets = -9,
}

const LZ4_STATUS_TEXT: Record<number, string> = {
  [Lz4Status.DoesNotFit]: 'the compressed output does not fit in the limit',
  [Lz4Status.Truncated]: 'the input ends inside a sequence (a length, the literals or an offset), or right after a match',
  [Lz4Status.ZeroOffset]: 'a match has offset 0, which the block format does not allow',
  [Lz4Status.OffsetBeforeStart]: 'a match offset reaches back before the start of the output',
  [Lz4Status.OutputOverflow]: 'literals or a match would write past the expected decompressed size',
  [Lz4Status.Trailing]: 'the output reached the expected decompressed size but input bytes remain',
  [Lz4Status.SizeMismatch]: 'the block decodes to fewer bytes than expected',
  [Lz4Status.BadSize]: 'a compressed size is larger than its slot',
  [Lz4Status.BadOffsets]: 'block offsets decrease, or a block reaches past the end of the input',
};

/** What an Lz4Status code means, in words for an error message. */
export function lz4StatusText(code: number): string {
  return LZ4_STATUS_TEXT[code] ?? `unknown LZ4 status ${code}`;
}

/** The module's exported status constants that TypeScript acts on (see `Engine.codes`). */
const CODE_NAMES = [
  'FAULT_NO_FRAME', 'FAULT_RANGE', 'FAULT_IO', 'FAULT_LIMIT', 'PHYS_WRITE', 'PHYS_SKIP_ZERO',
  'STOP_NO_VICTIM', 'STOP_SWAP_FULL', 'NO_SLOT', 'TRACE_SKIP_BAD', 'TRACE_EMIT', 'ZIP_HIST_BUCKETS',
  'BALLOON_DUPLICATE', 'BALLOON_BAD_STATE',
  'TRACE_MAX_LINE', 'TRACE_ERR_SYNTAX', 'TRACE_ERR_LONG', 'TRACE_ERR_NUL', 'MMU_CACHE_ENTRY_BYTES',
] as const;

const modules = new Map<EngineFlavor, WebAssembly.Module>();

/** Compiles a flavour of the module once per process; instances are cheap after that. */
function compiled(flavor: EngineFlavor): WebAssembly.Module {
  let m = modules.get(flavor);
  if (!m) {
    const url = new URL(`../../build/${flavor}.wasm`, import.meta.url);
    // node:fs is looked up at run time, not imported, so this file also loads where there is no
    // file system (a browser, which passes `module` instead)
    const fs = typeof process !== 'undefined' ? process.getBuiltinModule?.('node:fs') : undefined;
    if (!fs) throw new ConfigError('module', undefined, 'a compiled WebAssembly.Module (no file system here to read build/ from)');
    let bytes: Uint8Array<ArrayBuffer>;
    try {
      bytes = new Uint8Array(fs.readFileSync(url));
    } catch (e) {
      throw new ConfigError('flavor', flavor, `a built module at ${url.pathname} (run \`npm run asbuild\`)`);
    }
    m = new WebAssembly.Module(bytes);
    modules.set(flavor, m);
  }
  return m;
}

function defaultFlavor(): EngineFlavor {
  return typeof process !== 'undefined' && process.env?.MEMVISOR_DEBUG === '1' ? 'debug' : 'release';
}

export class Engine {
  readonly flavor: EngineFlavor;
  readonly machineFrames: number;
  /** The memory map: every region by name. */
  readonly map: Readonly<Record<string, RegionInfo>>;

  private readonly raw: RawExports;
  private readonly util: ASUtil;
  private poison: EngineAbortError | null = null;
  private buf: ArrayBuffer | null = null;
  private u8v!: Uint8Array;
  private dv!: DataView;
  private readonly stagingOffset: number;
  private readonly stagingIdx: number;
  private readonly vmStatNames: readonly string[];
  /**
   * Status codes of the mechanisms, read from the module's own exported constants (so they are
   * never written twice): FAULT_* of pmapFault/physAccess, PHYS_* flags, STOP_* of page-out,
   * NO_SLOT of the zip pool, TRACE_* flags, limits and errors of trace replay, ZIP_HIST_BUCKETS,
   * BALLOON_*, MMU_CACHE_ENTRY_BYTES (as u32).
   */
  readonly codes: Readonly<Record<(typeof CODE_NAMES)[number], number>>;

  private constructor(opts: EngineOptions) {
    if (opts === null || typeof opts !== 'object') throw new ConfigError('opts', opts, 'an object of engine options');
    checkKeys('', opts, ['machineMemoryMiB', 'stagingBytes', 'maxVMs', 'guestMemoryMiB', 'maxMmus', 'mmuCacheBytes', 'flavor', 'module', 'simTables', 'simContentPages']);
    const mib = checkInt('machineMemoryMiB', opts.machineMemoryMiB ?? 0, 0, MAX_MACHINE_MIB);
    const staging = checkInt('stagingBytes', opts.stagingBytes ?? 1 << 20, 4096, 1 << 30);
    this.flavor = opts.flavor ?? defaultFlavor();
    if (this.flavor !== 'release' && this.flavor !== 'debug') {
      throw new ConfigError('flavor', this.flavor, "'release' or 'debug'");
    }
    let util: ASUtil | null = null;
    const imports = {
      env: {
        abort: (msg: number, file: number, line: number, col: number) => {
          const s = (p: number) => (util && p ? util.__getString(p) : '?');
          this.poison = new EngineAbortError(s(msg), s(file), line, col);
          throw this.poison;
        },
      },
    };
    if (opts.module !== undefined && !(opts.module instanceof WebAssembly.Module)) {
      throw new ConfigError('module', opts.module, 'a WebAssembly.Module compiled from build/release.wasm or build/debug.wasm');
    }
    const inst = instantiateSync(opts.module ?? compiled(this.flavor), imports);
    util = inst.exports as unknown as ASUtil;
    this.util = util;
    this.raw = inst.instance.exports as unknown as RawExports;
    this.machineFrames = mib * 256;

    const maxVMs = checkInt('maxVMs', opts.maxVMs ?? 64, 1, 4096);
    const guestMiB = checkInt('guestMemoryMiB', opts.guestMemoryMiB ?? Math.max(64, 4 * mib), 0, 1 << 22);
    const fields: Record<string, number> = {
      machineFrames: this.machineFrames,
      stagingBytes: staging,
      maxVMs,
      guestPages: guestMiB * 256,
      maxMmus: checkInt('maxMmus', opts.maxMmus ?? 16, 0, 4096),
      mmuCacheBytes: checkInt('mmuCacheBytes', opts.mmuCacheBytes ?? 4 << 20, 0, 1 << 30),
      simTables: opts.simTables ? 1 : 0,
      simContentPages: checkInt('simContentPages', opts.simContentPages ?? 0, 0, 1 << 20),
    };
    const cfgPtr = this.raw.configPtr() >>> 0;
    const dv = new DataView(this.raw.memory.buffer);
    for (let i = 0; i < this.raw.configCount(); i++) {
      const name = util.__getString(this.raw.configName(i) >>> 0);
      dv.setBigUint64(cfgPtr + i * 8, BigInt(fields[name] ?? 0), true);
    }
    const rc = this.raw.init();
    if (rc !== 0) {
      throw new OutOfLinearMemoryError(
        `machineMemoryMiB: ${mib} MiB of machine RAM and its metadata do not fit in 4 GiB of WebAssembly memory (init code ${rc})`,
      );
    }
    const map: Record<string, RegionInfo> = {};
    for (let i = 0; i < this.raw.mapCount(); i++) {
      map[util.__getString(this.raw.mapName(i) >>> 0)] = Object.freeze({
        offset: this.raw.mapOffset(i),
        size: this.raw.mapSize(i),
      });
    }
    this.map = Object.freeze(map);
    this.stagingOffset = this.region('staging').offset;
    this.stagingIdx = Object.keys(map).indexOf('staging');
    this.vmStatNames = Object.freeze(
      Array.from({ length: this.raw.vmStatCount() }, (_, i) => util.__getString(this.raw.vmStatName(i) >>> 0)),
    );
    const exported = this.raw as unknown as Record<string, WebAssembly.Global | undefined>;
    const codes: Record<string, number> = {};
    for (const name of CODE_NAMES) {
      const g = exported[name];
      if (!(g instanceof WebAssembly.Global)) throw new ConfigError('module', name, 'an exported constant (rebuild the module)');
      codes[name] = Number(g.value) >>> 0;
    }
    this.codes = Object.freeze(codes) as Engine['codes'];
  }

  /** Creates an engine with its own linear memory (synchronous: compiles once per process). */
  static create(opts: EngineOptions = {}): Engine {
    return new Engine(opts);
  }

  /** A region of the memory map by name (staging: its size at init; see `stagingSize`); a typed error for an unknown name. */
  region(name: string): RegionInfo {
    const r = this.map[name];
    if (!r) throw new ConfigError('region', name, `one of ${Object.keys(this.map).join(', ')}`);
    return r;
  }

  /** Bytes of linear memory (the whole of it), re-created after any grow. */
  get u8(): Uint8Array {
    this.mem();
    return this.u8v;
  }

  /** A DataView over linear memory, re-created after any grow. */
  get view(): DataView {
    this.mem();
    return this.dv;
  }

  /** Linear memory in bytes. */
  get memoryBytes(): number {
    return this.raw.memory.buffer.byteLength;
  }

  // ---- staging: bulk data in and out ----------------------------------------------------

  /** Current size of the staging region in bytes. */
  get stagingSize(): number {
    return this.raw.mapSize(this.stagingIdx);
  }

  /** Makes the staging region at least `bytes` long and returns its offset. */
  stage(bytes: number): number {
    this.live();
    if (bytes > this.raw.mapSize(this.stagingIdx)) {
      if (this.raw.stagingReserve(bytes) === 0) {
        throw new OutOfLinearMemoryError(`staging: ${bytes} bytes do not fit in what is left of 4 GiB of WebAssembly memory`);
      }
    }
    return this.stagingOffset;
  }

  /** Copies `data` into staging at `at` (bytes from its start) and returns its address. */
  stageIn(data: Uint8Array, at = 0): number {
    const base = this.stage(at + data.length);
    this.u8.set(data, base + at);
    return base + at;
  }

  // ---- frames ------------------------------------------------------------------------------

  /** Allocates a zero-filled frame; NO_FRAME when machine RAM is exhausted. */
  frameAlloc(kind: FrameKind): number {
    this.live();
    return this.raw.frameAlloc(kind) >>> 0;
  }
  /** Adds a reference to a frame; returns the new count. */
  frameGet(mpn: number): number {
    this.live();
    return this.raw.frameGet(mpn) >>> 0;
  }
  /** Drops a reference to a frame, freeing it at zero; returns the new count. */
  framePut(mpn: number): number {
    this.live();
    return this.raw.framePut(mpn) >>> 0;
  }
  frameRefs(mpn: number): number {
    return this.raw.frameRefs(mpn) >>> 0;
  }
  frameKind(mpn: number): FrameKind {
    return this.raw.frameKind(mpn) >>> 0;
  }
  /** Address of frame `mpn` in linear memory. */
  frameAddr(mpn: number): number {
    return this.region('ram').offset + mpn * PAGE;
  }
  /** Frame counts by kind; free + the others == total. */
  frameCounts(): { total: number; free: number; guest: number; zpool: number; pageTable: number; hypervisor: number } {
    const u = (k: FrameKind) => this.raw.framesUsed(k) >>> 0;
    return {
      total: this.raw.framesTotal() >>> 0,
      free: this.raw.framesFree() >>> 0,
      guest: u(FrameKind.Guest),
      zpool: u(FrameKind.Zpool),
      pageTable: u(FrameKind.PageTable),
      hypervisor: u(FrameKind.Hypervisor),
    };
  }

  // ---- pmap ------------------------------------------------------------------------------

  /**
   * Creates a VM of `pages` unbacked guest pages in sharing domain `salt`, holding at most
   * `limit` resident pages (default: all) and `cacheCap` bytes of zip cache (default: none);
   * returns its id, or -1 when the VM table or pmap is full.
   */
  vmCreate(pages: number, salt: number, limit = pages, cacheCap = 0): number {
    this.live();
    return this.raw.vmCreate(pages, salt >>> 0, limit, cacheCap);
  }
  /** pmap state of (vm, gppn) (PState), 0xff when out of range. */
  pmapState(vm: number, gppn: number): number {
    return this.raw.pmapState(vm, gppn) >>> 0;
  }
  /** MPN (or slot) of (vm, gppn). */
  pmapFrame(vm: number, gppn: number): number {
    return this.raw.pmapFrame(vm, gppn) >>> 0;
  }
  /** Hypervisor fault path for (vm, gppn): the MPN, or a FAULT_* code (>= 0xfffffffd). */
  pmapFault(vm: number, gppn: number, write: boolean): number {
    this.live();
    return this.raw.pmapFault(vm, gppn, write ? 1 : 0) >>> 0;
  }

  // ---- reclaim: pmap, faults, zpool, zip cache, page-out, balloon, sharing ----------------------
  // Thin wrappers: the meaning of each lives in assembly/{pmap,zpool,zipcache,reclaim,balloon,
  // sharing}.ts; host.ts and vm.ts are the only callers. u32 results are unsigned (>>> 0).

  vmSetLimit(vm: number, limit: number): void {
    this.live();
    this.raw.vmSetLimit(vm, limit);
  }
  vmSetCacheCap(vm: number, bytes: number): void {
    this.live();
    this.raw.vmSetCacheCap(vm, bytes);
  }
  /** VMs created, and pmap entries they use. */
  vmTotal(): number {
    return this.raw.vmTotal() >>> 0;
  }
  pmapEntries(): number {
    return this.raw.pmapEntries() >>> 0;
  }
  /** True if (vm, gppn) is Mapped (a translation may be writable). */
  pmapWritable(vm: number, gppn: number): boolean {
    return this.raw.pmapWritable(vm, gppn) !== 0;
  }
  /** ACCESSED (bit 0) and DIRTY (bit 1) of (vm, gppn), cleared when `clear`. */
  pmapSample(vm: number, gppn: number, clear: boolean): number {
    this.live();
    return this.raw.pmapSample(vm, gppn, clear ? 1 : 0) >>> 0;
  }
  /** Pages of `vm` in pmap state `s` (PState). */
  vmStateCount(vm: number, s: number): number {
    return this.raw.vmStateCount(vm, s) >>> 0;
  }
  /** Every named per-VM statistic of `vm` (pmap.ts VM_STAT_NAMES: pages, cumulative pages, bytes). */
  vmStats(vm: number): Readonly<Record<string, number>> {
    const out: Record<string, number> = {};
    this.vmStatNames.forEach((name, i) => (out[name] = this.raw.vmStat(vm, i)));
    return out;
  }
  /** Pages of `vm` saved by sharing (esxtop SHRDSVD), fractional. */
  vmSharedSaved(vm: number): number {
    this.live();
    return this.raw.vmSharedSaved(vm);
  }
  pmapCowBreaks(): number {
    return this.raw.pmapCowBreaks();
  }
  /** Guest-physical copy through the fault path; 0 or a FAULT_* code (see physAccessDone/Gppn). */
  physAccess(vm: number, gpa: number, len: number, buf: number, flags: number): number {
    this.live();
    return this.raw.physAccess(vm, gpa, len, buf, flags) >>> 0;
  }
  physAccessDone(): number {
    return this.raw.physAccessDone() >>> 0;
  }
  physAccessGppn(): number {
    return this.raw.physAccessGppn() >>> 0;
  }
  /** Makes Swapped (vm, gppn) resident with the page at `src`: the MPN or a FAULT_* code. */
  swapInCommit(vm: number, gppn: number, src: number): number {
    this.live();
    return this.raw.swapInCommit(vm, gppn, src) >>> 0;
  }
  /** Lists the run of Swapped pages of `vm` from `gppn` before `end` for one batched swap-in: (gppn, slot) u32 pairs at `out`; the count. */
  swapInList(vm: number, gppn: number, end: number, out: number, cap: number): number {
    this.live();
    return this.raw.swapInList(vm, gppn, end, out, cap) >>> 0;
  }
  /** Frames (not zeroed) for the `n` listed pages, their addresses as u32 at `addrs`: n, or 0 (nothing allocated) when they do not all fit without reclaiming. */
  swapInFrames(vm: number, list: number, n: number, addrs: number): number {
    this.live();
    return this.raw.swapInFrames(vm, list, n, addrs) >>> 0;
  }
  /** The first `done` listed pages (read into their frames) become resident; the other frames are freed. */
  swapInFramesCommit(vm: number, list: number, n: number, done: number, addrs: number): void {
    this.live();
    this.raw.swapInFramesCommit(vm, list, n, done, addrs);
  }
  /**
   * Recounts every invariant (assembly/audit.ts; `scratch`: 4 bytes per machine frame the audit
   * may overwrite; `deep`: also re-hash every shared frame): null when all hold, else the first
   * broken one, by name, with where it broke.
   */
  audit(scratch: number, deep = true): AuditFailure | null {
    this.live();
    const code = this.raw.audit(scratch, deep ? 1 : 0) >>> 0;
    if (code === 0) return null;
    const f: AuditFailure = { code, invariant: this.auditInvariants().get(code) ?? `unknown code ${code}`, text: this.string(this.raw.auditText(code)) };
    for (let i = 0; i < this.raw.auditDetailCount(); i++) {
      const v = this.raw.auditDetail(i);
      if (v >= 0) (f as unknown as Record<string, number>)[this.string(this.raw.auditDetailName(i))] = v;
    }
    return f;
  }
  /** Every invariant the audit checks: code -> name (the module's AUDIT_* constants, prefix dropped; AUDIT_OK left out). */
  auditInvariants(): ReadonlyMap<number, string> {
    if (!this.invariants) {
      const m = new Map<number, string>();
      for (const [k, v] of Object.entries(this.moduleConstants('AUDIT_'))) if (v !== 0) m.set(v, k.slice('AUDIT_'.length));
      this.invariants = m;
    }
    return this.invariants;
  }
  /** What invariant `code` means, in words (assembly/ram/invariants.ts; '' for an unknown code). */
  auditText(code: number): string {
    return this.string(this.raw.auditText(code));
  }
  /**
   * Debug build only, for tests that prove the audit fires: breaks `invariant` (a name of
   * auditInvariants) on purpose at (vm, gppn), with `arg` a second frame where one is needed
   * (assembly/debug.ts says what each does). Returns the MPN or slot it touched. Throws a
   * ConfigError in a release engine, or when the target is not in the state the corruption needs.
   */
  debugCorrupt(invariant: string, vm = 0, gppn = 0, arg = 0): number {
    this.live();
    const code = [...this.auditInvariants()].find(([, n]) => n === invariant)?.[0];
    if (code === undefined) throw new ConfigError('invariant', invariant, `one of ${[...this.auditInvariants().values()].join(', ')}`);
    const r = this.raw.debugCorrupt(code, vm >>> 0, gppn >>> 0, arg >>> 0);
    // the release module refuses every call: the hook's body is not compiled into it
    if (r < 0 && this.flavor !== 'debug') throw new ConfigError('flavor', this.flavor, "'debug' (the corruption hook is compiled only into build/debug.wasm)");
    if (r < 0) throw new ConfigError('target', { vm, gppn, arg }, `a target in the state that breaking ${invariant} needs (assembly/debug.ts)`);
    return r;
  }
  zslotAlloc(c: number, len: number, vm: number, gppn: number): number {
    this.live();
    return this.raw.zslotAlloc(c, len, vm, gppn) >>> 0;
  }
  zslotFree(s: number): void {
    this.live();
    this.raw.zslotFree(s);
  }
  zslotLen(s: number): number {
    return this.raw.zslotLen(s) >>> 0;
  }
  zslotClass(s: number): number {
    return this.raw.zslotClass(s) >>> 0;
  }
  /** zpool counters: used slots and frames of class c (0: 1 KiB, 1: 2 KiB), bytes stored and wasted. */
  zpoolSlotsUsed(c: number): number {
    return this.raw.zpoolSlotsUsed(c) >>> 0;
  }
  zpoolFrames(c: number): number {
    return this.raw.zpoolFrames(c) >>> 0;
  }
  zpoolStoredBytes(): number {
    return this.raw.zpoolStoredBytes();
  }
  zpoolWastedBytes(): number {
    return this.raw.zpoolWastedBytes();
  }
  zpoolAudit(): number {
    this.live();
    return this.raw.zpoolAudit() >>> 0;
  }
  /** Compressed sizes seen: bucket b counts pages of [256 b, 256 b + 256) bytes; bucket 16 did not compress below 4 KiB. */
  zipHistogram(): number[] {
    const h: number[] = [];
    for (let b = 0; b < this.codes.ZIP_HIST_BUCKETS; b++) h.push(this.raw.zipHistogram(b));
    return h;
  }
  /**
   * Compression survey of the resident private pages among GPPNs [first, first + n) of `vm`,
   * changing nothing: the histogram of their LZ4 sizes (buckets as zipHistogram), the sum of the
   * sizes in bytes (4096 for a page that does not compress below it), and how many were surveyed.
   */
  zipSurvey(vm: number, first: number, n: number): { histogram: number[]; bytes: number; pages: number } {
    this.live();
    const buckets = this.codes.ZIP_HIST_BUCKETS;
    const out = this.stage((buckets + 1) * 4);
    let pages = 0;
    const histogram = new Array<number>(buckets).fill(0);
    let bytes = 0;
    // chunks of 2^19 pages keep each call's byte sum (at most 4096 per page) within u32
    for (let at = first; at < first + n; at += 1 << 19) {
      pages += this.raw.zipSurvey(vm, at, Math.min(1 << 19, first + n - at), out) >>> 0;
      const v = this.view;
      for (let b = 0; b < buckets; b++) histogram[b] += v.getUint32(out + b * 4, true);
      bytes += v.getUint32(out + buckets * 4, true);
    }
    return { histogram, bytes, pages };
  }
  reclaimSeed(seed: number): void {
    this.live();
    this.raw.reclaimSeed(seed >>> 0, Math.floor(seed / 2 ** 32) >>> 0);
  }
  /** Page-out selection (reclaim.ts): entries listed for swap; see reclaimLast for the rest. */
  reclaimSelect(vm: number, count: number, policy: number, out: number, outCap: number, pages: number): number {
    this.live();
    return this.raw.reclaimSelect(vm, count, policy, out, outCap, pages) >>> 0;
  }
  reclaimLast(): { stop: number; zipped: number; evicted: number; victims: number } {
    return {
      stop: this.raw.reclaimStop() >>> 0,
      zipped: this.raw.reclaimZipped() >>> 0,
      evicted: this.raw.reclaimEvicted() >>> 0,
      victims: this.raw.reclaimVictims() >>> 0,
    };
  }
  swapCommit(vm: number, list: number, n: number): number {
    this.live();
    return this.raw.swapCommit(vm, list, n) >>> 0;
  }

  // ---- lifecycle and relief: power-off, zip-cache eviction, page tables given back ----------
  // Meaning of each: assembly/reclaim/{pmap,pageout}.ts, assembly/translate/{coherence,ept,shadow}.ts.

  /** Lists up to min(count, outCap) of the oldest compressed pages of `vm` for swap-out, decompressed into `pages` (as reclaimSelect lists evictions); the count. */
  reclaimEvict(vm: number, count: number, out: number, outCap: number, pages: number): number {
    this.live();
    return this.raw.reclaimEvict(vm, count, out, outCap, pages) >>> 0;
  }
  /** Frees the frames and zip slots of `vm` and retires its id and pmap range for reuse (after pagingVmRelease); the frames freed outright. */
  vmRelease(vm: number): number {
    this.live();
    return this.raw.vmRelease(vm) >>> 0;
  }
  /** True if `vm` is a live VM id. */
  vmAlive(vm: number): boolean {
    return this.raw.vmAlive(vm) !== 0;
  }
  /** Frees the EPT or shadow tables of `vm`, drops every cached translation naming it, clears its paging state; the tables freed. */
  pagingVmRelease(vm: number): number {
    this.live();
    return this.raw.pagingVmRelease(vm) >>> 0;
  }
  /** Frees every shadow table of `vm` (caches, rebuilt on demand); the tables freed. */
  shadowRelease(vm: number): number {
    this.live();
    return this.raw.shadowRelease(vm) >>> 0;
  }
  /** Gives the page-table pad pool's frames back to the allocator; how many. */
  ptPoolDrain(): number {
    this.live();
    return this.raw.ptPoolDrain() >>> 0;
  }
  /** Zpool frames holding a zip slot of `vm` (fragmentation included). */
  zpoolVmFrames(vm: number): number {
    return this.raw.zpoolVmFrames(vm) >>> 0;
  }

  /** Balloons `n` GPPNs (u32 at `list`): n, or a negative BALLOON_* code (balloonBadIndex names the entry). */
  balloonInflate(vm: number, list: number, n: number, slots: number): number {
    this.live();
    return this.raw.balloonInflate(vm, list, n, slots);
  }
  balloonDeflate(vm: number, list: number, n: number): number {
    this.live();
    return this.raw.balloonDeflate(vm, list, n);
  }
  balloonBadIndex(): number {
    return this.raw.balloonBadIndex() >>> 0;
  }
  balloonSlotsFreed(): number {
    return this.raw.balloonSlotsFreed() >>> 0;
  }
  /** One sharing scanner step over at most `maxPages` pages (order 0 sequential, 1 random); pages visited. */
  shareScan(maxPages: number, order: number): number {
    this.live();
    return this.raw.shareScan(maxPages, order) >>> 0;
  }
  /** Sharing counters (sharing.ts). */
  sharingCounters(): {
    shared: number; hints: number; fullScans: number; volatile: number; scanned: number; merged: number;
    largeSkipped: number; lastScanned: number; lastMerged: number; capacity: number; passPages: number; cursor: number;
  } {
    return {
      shared: this.raw.sharedCount() >>> 0,
      hints: this.raw.sharingHints() >>> 0,
      fullScans: this.raw.sharingFullScans(),
      volatile: this.raw.sharingVolatile(),
      scanned: this.raw.sharingScanned(),
      merged: this.raw.sharingMerged(),
      largeSkipped: this.raw.sharingLargeSkipped(),
      lastScanned: this.raw.sharingLastScanned() >>> 0,
      lastMerged: this.raw.sharingLastMerged() >>> 0,
      capacity: this.raw.sharingCapacity() >>> 0,
      passPages: this.raw.sharingPassPages() >>> 0,
      cursor: this.raw.sharingCursor() >>> 0,
    };
  }
  sharingAudit(deep = true): number {
    this.live();
    return this.raw.sharingAudit(deep ? 1 : 0) >>> 0;
  }

  // ---- pages -------------------------------------------------------------------------------

  pageIsZero(addr: number): boolean {
    return this.raw.pageIsZero(addr) !== 0;
  }
  pageEqual(a: number, b: number): boolean {
    return this.raw.pageEqual(a, b) !== 0;
  }
  pagesCountZero(addr: number, n: number): number {
    return this.raw.pagesCountZero(addr, n) >>> 0;
  }
  pagesCountEqual(a: number, b: number, n: number): number {
    return this.raw.pagesCountEqual(a, b, n) >>> 0;
  }
  pagesCopy(dst: number, src: number, n: number): void {
    this.raw.pagesCopy(dst, src, n);
  }

  // ---- hash --------------------------------------------------------------------------------
  // u64 results arrive as signed BigInt (asUintN makes them unsigned); a seed of 2^63 or more
  // crosses as is, because the i64 parameter conversion wraps modulo 2^64.

  /** XXH64 of `len` bytes at `addr` with `seed`, as an unsigned 64-bit value. */
  xxh64(addr: number, len: number, seed = 0n): bigint {
    this.live();
    return BigInt.asUintN(64, this.raw.xxh64(addr, len, seed));
  }
  /** XXH3-64 of `len` bytes at `addr` with `seed` (default secret), as an unsigned 64-bit value. */
  xxh3(addr: number, len: number, seed = 0n): bigint {
    this.live();
    return BigInt.asUintN(64, this.raw.xxh3(addr, len, seed));
  }
  /** Writes the page hash (sharing's; XXH3-64, seed 0) of `n` pages at `addr` as u64 at `out`. */
  pagesHash(addr: number, n: number, out: number): void {
    this.live();
    this.raw.pagesHash(addr, n, out);
  }
  /** Writes XXH3-64 (seed 0) of `n` pages at `addr` as u64 at `out`. */
  pagesXxh3(addr: number, n: number, out: number): void {
    this.live();
    this.raw.pagesXxh3(addr, n, out);
  }
  /** Writes XXH64 (seed 0) of `n` pages at `addr` as u64 at `out`. */
  pagesXxh64(addr: number, n: number, out: number): void {
    this.live();
    this.raw.pagesXxh64(addr, n, out);
  }
  /** Writes XXH64 with `seed` of `n` pages at `addr` as u64 at `out`. */
  xxh64Pages(addr: number, n: number, seed: bigint, out: number): void {
    this.live();
    this.raw.xxh64Pages(addr, n, seed, out);
  }
  /** Writes XXH3-64 with `seed` (default secret) of `n` pages at `addr` as u64 at `out`. */
  xxh3Pages(addr: number, n: number, seed: bigint, out: number): void {
    this.live();
    this.raw.xxh3Pages(addr, n, seed, out);
  }
  /** CRC-32 (gzip's) of `len` bytes at `addr`, continuing from `crc` (0 to start). */
  crc32(addr: number, len: number, crc = 0): number {
    this.live();
    return this.raw.crc32(addr, len, crc) >>> 0;
  }

  // ---- paging (MMU contexts, EPT, shadow, guest OS model, trace replay) -----------------------

  // Units: ctx is an MMU context (a simulated core) id, vm a VM id, gpa/gva byte addresses
  // (gVAs cross as BigInt, gPAs below 2^53 as numbers), addresses in linear memory are bytes.
  // Meaning of each call: assembly/{mmu,walk,ept,shadow,gos,coherence,lackey}.ts.

  /** Creates an MMU context: [sets, ways] of L1i, L1d, L2, guest PWC, nested PWC, nested TLB, and flags; its id, or -1 when full. */
  mmuCreate(geometry: readonly number[], flags: number): number {
    this.live();
    const g = geometry;
    return this.raw.mmuCreate(g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], g[8], g[9], g[10], g[11], flags);
  }
  /** Names of the counters of an MMU context, in the module's order (MmuStats fields). */
  mmuCounterNames(): readonly string[] {
    return this.mmuNames().counters.map(([n]) => n);
  }
  /** Every counter of context `ctx` by name (events; cycles: simulated cycles). */
  mmuCounters(ctx: number): Record<string, number> {
    this.live();
    const dv = this.view;
    const at = this.raw.mmuCtxAddr(ctx);
    const out: Record<string, number> = {};
    for (const [name, slot] of this.mmuNames().counters) out[name] = Number(dv.getBigUint64(at + slot * 8, true));
    return out;
  }
  /** Names of the cost-model fields, in the module's order (CostModel fields). */
  mmuCostNames(): readonly string[] {
    return this.mmuNames().costs.map(([n]) => n);
  }
  /** Writes the cost model of context `ctx`: cycles per event, every name of mmuCostNames (validated by the caller). */
  mmuSetCosts(ctx: number, cycles: Readonly<Record<string, number>>): void {
    this.live();
    const dv = this.view;
    const at = this.raw.mmuCtxAddr(ctx);
    for (const [name, slot] of this.mmuNames().costs) dv.setBigUint64(at + slot * 8, BigInt(cycles[name]), true);
  }
  /** Zeroes the counters of context `ctx`. */
  mmuResetCounters(ctx: number): void {
    this.live();
    this.raw.mmuResetCounters(ctx);
  }
  /** Every named hypervisor-side paging statistic of `vm` (assembly/translate/cores.ts PAGING_STAT_NAMES; counts). */
  pagingStats(vm: number): Readonly<Record<string, number>> {
    const out: Record<string, number> = {};
    for (let i = 0; i < this.raw.pagingStatCount(); i++) out[this.string(this.raw.pagingStatName(i))] = this.raw.pagingStat(vm, i) >>> 0;
    return out;
  }
  /** Sets up the paging of `vm`: mode (0 native, 1 ept, 2 shadow), guest / EPT levels, page size classes (0 4 KiB, 1 2 MiB, 2 1 GiB), VPID, EPT A/D. */
  pagingVmSetup(vm: number, mode: number, levels: number, hostLevels: number, pageCls: number, hostPageCls: number, vpid: number, eptAd: boolean): void {
    this.live();
    this.raw.pagingVmSetup(vm, mode, levels, hostLevels, pageCls, hostPageCls, vpid, eptAd ? 1 : 0);
  }
  /** Allocates the EPT root of `vm`; false when machine RAM is full. */
  eptSetup(vm: number): boolean {
    this.live();
    return this.raw.eptSetup(vm) !== 0;
  }
  /** The EPTP of `vm` (0n outside ept mode). */
  eptPointer(vm: number): bigint {
    return BigInt.asUintN(64, this.raw.eptPointer(vm));
  }
  /** Raw EPT entry at `level` for `gpa` of `vm` (0n when the path is missing). */
  eptPeek(vm: number, gpa: number, level: number): bigint {
    return BigInt.asUintN(64, this.raw.eptPeek(vm, gpa, level));
  }
  /** Overwrites the EPT entry at `level` for `gpa` of `vm`; false when the path is missing. */
  eptPoke(vm: number, gpa: number, level: number, value: bigint): boolean {
    this.live();
    return this.raw.eptPoke(vm, gpa, level, BigInt.asUintN(64, value)) !== 0;
  }
  /** Frames waiting in the page-table pad pool (large host pages). */
  ptPoolCount(): number {
    return this.raw.ptPoolCount() >>> 0;
  }
  /** The first GPPN of [lo, hi) of `vm` that holds data, or NO_FRAME when the range reads zero (changes nothing). */
  gosRangeBusy(vm: number, lo: number, hi: number): number {
    return this.raw.gosRangeBusy(vm, lo, hi) >>> 0;
  }
  /** Confines the guest OS model of `vm` to GPPNs [lo, hi) (after pagingVmSetup; gosRangeBusy first). */
  gosAttach(vm: number, lo: number, hi: number): void {
    this.live();
    this.raw.gosAttach(vm, lo, hi);
  }
  /** A zeroed root table for a new guest address space of `vm`: its gPA, or -1 when the guest OS range is full. */
  gosNewRoot(vm: number): number {
    this.live();
    return this.raw.gosNewRoot(vm);
  }
  /** Guest-kernel write of the u64 `value` at `gpa` of the VM on context `ctx`; false when the page cannot be backed. */
  guestWrite64(ctx: number, gpa: number, value: bigint): boolean {
    this.live();
    return this.raw.guestWrite64(ctx, gpa, BigInt.asUintN(64, value)) !== 0;
  }
  /** Guest-kernel read of the u64 at `gpa` of the VM on context `ctx` (0n on failure). */
  guestRead64(ctx: number, gpa: number): bigint {
    this.live();
    return BigInt.asUintN(64, this.raw.guestRead64(ctx, gpa));
  }
  /** Runs `vm` on context `ctx` with guest CR3 `cr3` (a gPA) and PCID `pcid`. */
  mmuSwitch(ctx: number, vm: number, cr3: number, pcid: number): void {
    this.live();
    this.raw.mmuSwitch(ctx, vm, cr3, pcid);
  }
  /** Translates gVA `va` on context `ctx` (kind 0 read, 1 write, 2 fetch, +4 supervisor): the hPA or a fault word (bit 63), unsigned. */
  mmuTranslate(ctx: number, va: bigint, kind: number): bigint {
    this.live();
    return BigInt.asUintN(64, this.raw.mmuTranslate(ctx, va, kind));
  }
  /** Cycles charged to the last single translation. */
  lastTranslationCycles(): number {
    return this.raw.lastTranslationCycles() >>> 0;
  }
  /** Writes the indices (u32 at `list`) of the records among `n` results at `out` whose fault the host must resolve; how many. */
  batchHostFaults(out: number, n: number, list: number): number {
    return this.raw.batchHostFaults(out, n, list) >>> 0;
  }
  /** Builds `n` batch records at `inp` from gVAs (u64 at `vas`) and kinds (u8 or u32 at `kinds`, `kindBytes` 1 or 4). */
  batchPack(inp: number, vas: number, kinds: number, kindBytes: 1 | 4, n: number): void {
    this.live();
    this.raw.batchPack(inp, vas, kinds, kindBytes, n);
  }
  /** Splits `n` batch results into results (u64 at `res`), cycles (u32 at `cyc`, 0 = none) and, for faulted records, fault addresses (`addrs` -> `faOut`, 0 = none). */
  batchUnpack(out: number, res: number, cyc: number, addrs: number, faOut: number, n: number): void {
    this.live();
    this.raw.batchUnpack(out, res, cyc, addrs, faOut, n);
  }
  /**
   * Translates `n` 16-byte records at `inp` into `n` 16-byte records at `out` (assembly/translate/walk.ts) in
   * one call; the number of faults. With `addrs` (a linear address, 0 = none), each faulted record
   * i also gets its faulting gVA / gPA as a u64 at addrs + 8i.
   */
  mmuTranslateBatch(ctx: number, inp: number, out: number, n: number, addrs = 0): number {
    this.live();
    return this.raw.mmuTranslateBatch(ctx, inp, out, n, addrs) >>> 0;
  }
  /** Kind (FaultKind), code and address (gVA or gPA) of the last translation fault. */
  lastFault(): { kind: number; code: number; address: bigint } {
    return {
      kind: this.raw.lastFaultKind() >>> 0,
      code: this.raw.lastFaultCode() >>> 0,
      address: BigInt(Math.round(this.raw.lastFaultAddr())),
    };
  }
  /** Guest INVLPG of `va` on context `ctx`. */
  mmuInvlpg(ctx: number, va: bigint): void {
    this.live();
    this.raw.mmuInvlpg(ctx, BigInt.asUintN(64, va));
  }
  /** INVVPID on context `ctx`: type 0 address, 1 single, 2 all. */
  invvpid(ctx: number, type: number, vpid: number, va: number): void {
    this.live();
    this.raw.invvpid(ctx, type, vpid, va);
  }
  /** INVEPT on context `ctx`: type 1 single (`vm`), 2 all. */
  invept(ctx: number, type: number, vm: number): void {
    this.live();
    this.raw.invept(ctx, type, vm);
  }
  /** Drops every cached translation of (vm, gppn) on every context (what the pmap does when backing changes). */
  backingChanged(vm: number, gppn: number): void {
    this.live();
    this.raw.backingChanged(vm, gppn);
  }
  /**
   * Samples GPPNs [first, first + n) of `vm` like pmapSample, after moving the accessed / dirty
   * bits the hardware wrote into the VM's EPT or shadow leaves into the pmap (clearing them there
   * and invalidating the translations that must walk again; assembly/translate/accessed.ts). One u8 per page
   * (bit 0 accessed, bit 1 dirty); `clear` clears the pmap bits.
   */
  pagingSample(vm: number, first: number, n: number, clear: boolean): Uint8Array {
    this.live();
    const at = this.stage(Math.max(n, 1));
    this.raw.pagingSample(vm, first, n, clear ? 1 : 0, at);
    return this.u8.slice(at, at + n);
  }
  /**
   * Moves the accessed / dirty bits of GPPNs [first, first + n) of `vm` from its EPT or shadow
   * leaves into the pmap (pagingSample without a result): what the hypervisor does before it
   * trusts the pmap's accessed bits, e.g. before a clock victim choice.
   */
  pagingHarvest(vm: number, first: number, n: number): void {
    this.live();
    this.raw.pagingSample(vm, first, n, 0, 0);
  }
  /** Reads `length` bytes of machine memory at host-physical address `hpa` (within machine RAM). */
  readMachine(hpa: bigint | number, length: number): Uint8Array {
    const at = this.machineAt('hpa', hpa, length);
    return this.u8.slice(at, at + length);
  }
  /** Writes `bytes` into machine memory at host-physical address `hpa`, bypassing every check a guest would meet (the caller translated it). */
  writeMachine(hpa: bigint | number, bytes: Uint8Array): void {
    const at = this.machineAt('hpa', hpa, bytes.length);
    this.u8.set(bytes, at);
  }

  // trace replay: text or binary records at `p` in linear memory, parsed and translated in WebAssembly

  /** Starts a new text trace (line count, carried state). */
  traceReset(): void {
    this.live();
    this.raw.traceReset();
  }
  /** Replays `len` bytes of lackey text at `p` on context `ctx`: bytes consumed, or -TRACE_ERR_* at a bad line (traceErrorOffset). */
  lackeyReplay(ctx: number, p: number, len: number, final: boolean, flags: number): number {
    this.live();
    return this.raw.lackeyReplay(ctx, p, len, final ? 1 : 0, flags);
  }
  /** Replays `len` bytes of 8-byte binary records at `p` on context `ctx`: bytes consumed (whole records). */
  binaryReplay(ctx: number, p: number, len: number): number {
    this.live();
    return this.raw.binaryReplay(ctx, p, len) >>> 0;
  }
  /** Lines parsed since traceReset. */
  traceLines(): number {
    return this.raw.traceLines() >>> 0;
  }
  /** Offset (from the chunk start) of the malformed line that stopped lackeyReplay. */
  traceErrorOffset(): number {
    return this.raw.traceErrorOffset() >>> 0;
  }
  /** Makes lackeyReplay (with the emit flag) write binary records at `p`. */
  traceEmitTo(p: number): void {
    this.live();
    this.raw.traceEmitTo(p);
  }
  /** Bytes of binary records emitted by the last lackeyReplay. */
  traceEmitted(): number {
    return this.raw.traceEmitted() >>> 0;
  }

  /**
   * @internal The module's raw exports, for the binding files of src/engine/ only (sim.ts); every
   * call through them must check `live` first, as the methods here do.
   */
  rawExports(): Readonly<Record<string, unknown>> {
    this.live();
    return this.raw as unknown as Record<string, unknown>;
  }

  /** @internal Throws if an earlier call aborted (for the binding files of src/engine/). */
  checkLive(): void {
    this.live();
  }

  /** Decodes a static string the module returned (names of counters and costs). */
  string(ptr: number): string {
    return this.util.__getString(ptr >>> 0);
  }

  // ---- codec -------------------------------------------------------------------------------
  // Addresses and sizes are bytes in linear memory; results are sizes or negative Lz4Status codes.

  /** LZ4-compresses `srcLen` bytes at `src` into at most `dstCap` bytes at `dst`: size, or Lz4Status.DoesNotFit. */
  lz4Compress(src: number, srcLen: number, dst: number, dstCap: number): number {
    this.live();
    return this.raw.lz4Compress(src, srcLen, dst, dstCap);
  }
  /** Decodes the LZ4 block at `src` into at most `dstCap` bytes at `dst`: decoded size, or a negative Lz4Status. */
  lz4Decompress(src: number, srcLen: number, dst: number, dstCap: number): number {
    this.live();
    return this.raw.lz4Decompress(src, srcLen, dst, dstCap);
  }
  /** Largest LZ4 block that `n` input bytes compress to. */
  lz4Bound(n: number): number {
    return this.raw.lz4Bound(n) >>> 0;
  }
  /** Compresses `n` pages at `src` into slots of `slotBytes` at `dst`, sizes (i32) at `sizes`; returns how many fit. */
  lz4CompressPages(src: number, n: number, dst: number, slotBytes: number, sizes: number): number {
    this.live();
    return this.raw.lz4CompressPages(src, n, dst, slotBytes, sizes) >>> 0;
  }
  /** Decompresses `n` slotted pages into 4 KiB pages at `dst`; returns n, or the index of the page that failed. */
  lz4DecompressPages(src: number, slotBytes: number, sizes: number, n: number, dst: number): number {
    this.live();
    return this.raw.lz4DecompressPages(src, slotBytes, sizes, n, dst) >>> 0;
  }
  /**
   * Compresses `n` pages at `src` into blocks packed from `dst` (at most `dstCap` bytes); the
   * end of block i, as `base` + its offset from dst, goes to u32 `ends` + 4i. Returns n, or the
   * index of the first page that did not fit.
   */
  lz4CompressPacked(src: number, n: number, dst: number, dstCap: number, base: number, ends: number): number {
    this.live();
    return this.raw.lz4CompressPacked(src, n, dst, dstCap, base, ends) >>> 0;
  }
  /** Decodes `n` packed blocks (n + 1 u32 offsets at `offsets`, the first at `src`, `srcLen` bytes) into pages at `dst`; n, or the failed index. */
  lz4DecompressPacked(src: number, srcLen: number, offsets: number, n: number, dst: number): number {
    this.live();
    return this.raw.lz4DecompressPacked(src, srcLen, offsets, n, dst) >>> 0;
  }
  /** The Lz4Status of the page at which the last `lz4DecompressPages` stopped (0 if none). */
  lz4LastError(): number {
    return this.raw.lz4LastError();
  }
  /** The module's own LZ4_* status constants, by name (for tests that keep Lz4Status in step). */
  lz4StatusCodes(): Record<string, number> {
    return this.moduleConstants('LZ4_');
  }
  /**
   * The module's exported constants whose names start with `prefix`, by name: tests keep the
   * public enums that mirror the module's (FrameKind: FRAME_KIND_, FaultKind: FK_) in step.
   */
  moduleConstants(prefix: string): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, v] of Object.entries(this.raw)) if (k.startsWith(prefix) && v instanceof WebAssembly.Global) out[k] = Number(v.value);
    return out;
  }

  // ---- internals ---------------------------------------------------------------------------

  private names: { counters: [string, number][]; costs: [string, number][] } | null = null;
  private invariants: Map<number, string> | null = null;

  /** Counter and cost names with their u64 slots in a context, read from the module once. */
  private mmuNames(): { counters: [string, number][]; costs: [string, number][] } {
    if (!this.names) {
      const r = this.raw;
      const counters: [string, number][] = [];
      for (let i = 0; i < r.mmuCounterCount(); i++) counters.push([this.string(r.mmuCounterName(i)), r.mmuCounterSlot(i)]);
      const costs: [string, number][] = [];
      for (let i = 0; i < r.mmuCostCount(); i++) costs.push([this.string(r.mmuCostName(i)), r.mmuCostSlot(i)]);
      this.names = { counters, costs };
    }
    return this.names;
  }

  /** Linear-memory address of `length` bytes of machine RAM at host-physical `hpa`; a typed error outside RAM. */
  private machineAt(field: string, hpa: bigint | number, length: number): number {
    this.live();
    const ram = this.region('ram');
    const a = Number(hpa);
    if (!Number.isInteger(a) || a < 0 || !Number.isInteger(length) || length < 0 || a + length > ram.size) {
      throw new ConfigError(field, hpa, `a host-physical range of ${length} bytes inside machine RAM (0 .. ${ram.size})`);
    }
    return ram.offset + a;
  }

  private mem(): void {
    const b = this.raw.memory.buffer;
    if (b !== this.buf) {
      this.buf = b;
      this.u8v = new Uint8Array(b);
      this.dv = new DataView(b);
    }
  }

  /** Throws if an earlier call aborted; returns true so it can sit in expressions. */
  private live(): true {
    if (this.poison) throw new EnginePoisonedError(this.poison);
    return true;
  }
}

let utility: Engine | null = null;

/**
 * The engine (no machine RAM) that runs the one-shot hash and codec functions (src/codec/hash.ts,
 * src/codec/lz4.ts), created on first use and shared by both.
 */
export function utilityEngine(): Engine {
  return (utility ??= Engine.create({ machineMemoryMiB: 0 }));
}
