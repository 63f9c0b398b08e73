/**
 * The engine: one instance of the module, one linear memory, and the per-concept modules over it,
 * named as in assembly/. INTERNAL: src/host, src/translate and src/codec use it; users never see
 * it (src/index.ts does not export it; tests of engine internals import it from here).
 *
 *   Engine.create(opts) ──► Gateway (gateway.ts): instantiate, bind exports, map, layouts, staging
 *        ├── ram        ram.ts        frames, machine memory by hPA, pages, zpool
 *        ├── codec      codec.ts      XXH64, XXH3, LZ4
 *        ├── reclaim    reclaim.ts    VMs, pmap, guest-physical access, swap-in, page-out, balloon, sharing
 *        ├── translate  translate.ts  cores, paging, translation, batches, trace replay
 *        ├── guest      guest.ts      the simulation's guest OS models: headers, touches, guest reclaim, the oracle
 *        └── workload   workload.ts   the simulation's page contents: OS and file images, generators
 *
 * One Engine per Host (or per standalone Mmu), and one utility engine (no machine RAM) shared by
 * the one-shot hash and codec functions. `engineOf(owner)` gives tests the engine behind a Host
 * or an Mmu without a public property that would put it in the API.
 */
import { Gateway, type EngineFlavor, type RegionInfo } from './gateway.js';
import { Ram } from './ram.js';
import { Codec } from './codec.js';
import { Reclaim } from './reclaim.js';
import { Translate } from './translate.js';
import { Guest } from './guest.js';
import { Workload } from './workload.js';
import { ConfigError, checkInt, checkKeys } from '../errors.js';

export type { EngineFlavor, RegionInfo } from './gateway.js';

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
  /** The simulation's guest OS and workload tables (region sim, guest.ts). Default false. */
  simTables?: boolean;
  /** Pages of OS and file images the simulation keeps (region simContent, workload.ts). Default 0. */
  simContentPages?: number;
  /**
   * The compiled module to instantiate, for hosts that load it themselves (a browser fetching
   * build/release.wasm, a simulator that embeds memvisor). Default: build/<flavor>.wasm, read once.
   */
  module?: WebAssembly.Module;
}

/** Largest machine RAM one engine holds: 4 GiB of wasm32 memory less metadata room. */
export const MAX_MACHINE_MIB = 3584;

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
    } catch {
      throw new ConfigError('flavor', flavor, `a built module at ${url.pathname} (run \`npm run asbuild\`)`);
    }
    m = new WebAssembly.Module(bytes);
    modules.set(flavor, m);
  }
  return m;
}

/**
 * Makes `module` (compiled from build/release.wasm or build/debug.wasm) the one every engine of
 * `flavor` instantiates unless told otherwise: the Hosts and Mmus created without a module, and
 * the engine of the one-shot hash and codec functions. Where there is no file system to read
 * build/ from (a browser), call it once before those (Host.create({ module }) and
 * Mmu.create({ module }) do it for their flavour when none is set yet).
 */
export function useModule(module: WebAssembly.Module, flavor: EngineFlavor = defaultFlavor()): void {
  if (!(module instanceof WebAssembly.Module)) throw new ConfigError('module', module, 'a WebAssembly.Module compiled from build/release.wasm or build/debug.wasm');
  if (flavor !== 'release' && flavor !== 'debug') throw new ConfigError('flavor', flavor, "'release' or 'debug'");
  modules.set(flavor, module);
}

/** Makes `module` the default of `flavor` unless one is set: the first module given serves the engines created without one (a browser has no build/ to read). */
export function offerModule(module: WebAssembly.Module, flavor: EngineFlavor = defaultFlavor()): void {
  if (!modules.has(flavor)) useModule(module, flavor);
}

function defaultFlavor(): EngineFlavor {
  return typeof process !== 'undefined' && process.env?.MEMVISOR_DEBUG === '1' ? 'debug' : 'release';
}

export class Engine {
  readonly flavor: EngineFlavor;
  readonly machineFrames: number;
  /** The gateway: exports, linear memory, layouts (for the per-concept modules and engine tests). */
  readonly gateway: Gateway;
  readonly ram: Ram;
  readonly codec: Codec;
  readonly reclaim: Reclaim;
  readonly translate: Translate;
  readonly guest: Guest;
  readonly workload: Workload;

  /** Frees the instance and its linear memory; every call from then on throws what `why` makes (Gateway.release). */
  release(why: () => Error): void {
    this.gateway.release(why);
  }

  private constructor(opts: EngineOptions) {
    if (opts === null || typeof opts !== 'object') throw new ConfigError('opts', opts, 'an object of engine options');
    checkKeys('', opts, ['machineMemoryMiB', 'stagingBytes', 'maxVMs', 'guestMemoryMiB', 'maxMmus', 'mmuCacheBytes', 'flavor', 'module', 'simTables', 'simContentPages']);
    const mib = checkInt('machineMemoryMiB', opts.machineMemoryMiB ?? 0, 0, MAX_MACHINE_MIB);
    const staging = checkInt('stagingBytes', opts.stagingBytes ?? 1 << 20, 4096, 1 << 30);
    this.flavor = opts.flavor ?? defaultFlavor();
    if (this.flavor !== 'release' && this.flavor !== 'debug') throw new ConfigError('flavor', this.flavor, "'release' or 'debug'");
    if (opts.module !== undefined && !(opts.module instanceof WebAssembly.Module)) {
      throw new ConfigError('module', opts.module, 'a WebAssembly.Module compiled from build/release.wasm or build/debug.wasm');
    }
    if (opts.module !== undefined) offerModule(opts.module, this.flavor);
    this.machineFrames = mib * 256;
    const maxVMs = checkInt('maxVMs', opts.maxVMs ?? 64, 1, 4096);
    const guestMiB = checkInt('guestMemoryMiB', opts.guestMemoryMiB ?? Math.max(64, 4 * mib), 0, 1 << 22);
    this.gateway = new Gateway({
      module: opts.module ?? compiled(this.flavor),
      flavor: this.flavor,
      config: {
        machineFrames: this.machineFrames,
        stagingBytes: staging,
        maxVMs,
        guestPages: guestMiB * 256,
        maxMmus: checkInt('maxMmus', opts.maxMmus ?? 16, 0, 4096),
        mmuCacheBytes: checkInt('mmuCacheBytes', opts.mmuCacheBytes ?? 4 << 20, 0, 1 << 30),
        simTables: opts.simTables ? 1 : 0,
        simContentPages: checkInt('simContentPages', opts.simContentPages ?? 0, 0, 1 << 20),
      },
    });
    const callCtx = this.gateway.bind(['callCtxPtr']).callCtxPtr();
    this.ram = new Ram(this.gateway);
    this.codec = new Codec(this.gateway, callCtx);
    this.reclaim = new Reclaim(this.gateway, this.ram, callCtx);
    this.translate = new Translate(this.gateway, (code) => this.reclaim.needOf(code));
    this.guest = new Guest(this.gateway, this.reclaim);
    this.workload = new Workload(this.gateway);
  }

  /** Creates an engine with its own linear memory (synchronous: compiles once per process). */
  static create(opts: EngineOptions = {}): Engine {
    return new Engine(opts);
  }

  /** The memory map: every region by name. */
  get map(): Readonly<Record<string, RegionInfo>> {
    return this.gateway.map;
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

const owners = new WeakMap<object, Engine>();

/** Records that `owner` (a Host, an Mmu) runs on `engine`. */
export function registerEngine(owner: object, engine: Engine): void {
  owners.set(owner, engine);
}

/** The engine behind a Host or an Mmu (for tests of engine internals and for the parts of src/ that share one). */
export function engineOf(owner: object): Engine {
  const e = owners.get(owner);
  if (!e) throw new ConfigError('owner', owner, 'a Host or an Mmu');
  return e;
}
