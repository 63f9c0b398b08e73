/**
 * The gateway: the one place that touches the module's exports and its linear memory. The
 * per-concept modules of src/engine/ (ram.ts, codec.ts, reclaim.ts, translate.ts) sit on it;
 * nothing above src/engine/ sees an export, a view of linear memory or an offset.
 *
 *   build/<flavor>.wasm ──instantiate──► raw exports ──wrap once, by arity──► bound functions
 *                                           │                                  (live check, result
 *                                           │                                   adapted to its AS type)
 *                                           ├─ constants (FAULT_*, LZ4_*, ...), read once
 *                                           ├─ config block, by field name (configName)
 *                                           ├─ memory map, by region name (mapName)
 *                                           └─ layouts of records, by name (layoutName)
 *
 * Signatures are written once, in assembly/: asc types every export (`--bindings raw` writes
 * build/<flavor>.d.ts) and scripts/abi.mjs turns those typings into abi.generated.ts, the
 * `Exports` interface and the table of arities and result types the wrapping below uses.
 *
 * Why wrap once by arity: the loader's demangled exports wrap every call in a rest-argument
 * closure; here each export is wrapped once, when the engine loads, in a closure of its own arity
 * that checks that no earlier call aborted and adapts the result (u32 results arrive as signed
 * i32, bool as 0/1, u64 as signed i64), so a module could not be called past an abort by a
 * wrapper that forgot to check. bench/gateway.bench.ts measures what the wrapping costs per call.
 *
 * Why every export must be bound: a per-concept module names the exports it uses (`bind`), and
 * test/gateway.test.ts fails when an export has no binding or a binding names no export, and the
 * same for layout entries (`record`, `group`): nothing crosses the boundary unnamed or unused.
 *
 * Why views are re-created: growing linear memory detaches the old ArrayBuffer, so every view
 * made before a grow would read zeros. A detached buffer's views have length 0, which `u8`,
 * `u32` and `view` check (cheaper than asking the memory for its buffer on every access) before
 * rebuilding them.
 */

import { instantiateSync, type ASUtil } from '@assemblyscript/loader';
import { CONSTANTS, FUNCTIONS, type Constants, type Exports, type ResultKind } from './abi.generated.js';
import { ConfigError, EngineAbortError, EnginePoisonedError, OutOfLinearMemoryError } from '../errors.js';

/** Flavours of the module: debug has assertions compiled in, release is optimized. */
export type EngineFlavor = 'release' | 'debug';

/**
 * Bytes to add to a staging layout for each array placed with `skewed`.
 *
 * Why copies are placed: V8 copies typed arrays with memmove, and glibc 2.36 moves 4 KiB up to
 * the L2 size with `rep movsb`, whose speed depends on where the two buffers lie:
 *   - on AMD Zen 3 it runs about 20 times slower (1.84 GB/s against 40.95 for 256 KiB in
 *     `bench/copy.bench.ts`) when the destination lies 0 to about 32 bytes past the source
 *     within a 4 KiB page. Linear memory starts on a page, and a large JavaScript array a few
 *     bytes past one, so page-sized copies between the two at equal offsets fall right into
 *     that band: engine-side copies of JavaScript arrays sit half a page away from the array;
 *   - on AMD Zen 5 (the dev box of 2026-11-29, a VM) it runs at 22-26 GB/s out of DRAM when the two
 *     buffers start at different places in a 64-byte line, and at 32-37 GB/s when they start at
 *     the same place (`bench/copy.bench.ts`, the 64 MiB rows): engine-side copies
 *     start where the array's bytes do within a line, BACKING_PHASE past one.
 */
export const SKEW_ROOM = 4096;

/** The shortest copy that glibc moves with `rep movsb` (with AVX2): shorter ones need no placing. */
export const SKEW_MIN = 4096;

/**
 * Where the bytes of a large JavaScript array start within a 64-byte line: Node allocates an
 * ArrayBuffer's bytes with the C library's calloc, and glibc hands out an allocation that large
 * 16 bytes past the page it maps (the chunk's header). A JavaScript array's address is not
 * visible; this is what `skewed` assumes, and where it is wrong a copy runs only as fast as
 * one that ignores it.
 */
export const BACKING_PHASE = 16;

/**
 * The first address at or after `addr` that lies 2048 + BACKING_PHASE bytes past `byteOffset`
 * within a 4 KiB page: where to put engine-side data that is copied from or to a JavaScript
 * array at that byteOffset (see SKEW_ROOM). Half a page from the array's bytes and at the same
 * place in a 64-byte line, given that linear memory starts on a page and the array's buffer
 * BACKING_PHASE past one. At most SKEW_ROOM - 1 bytes past `addr`.
 */
export function skewed(addr: number, byteOffset: number): number {
  return addr + ((byteOffset + BACKING_PHASE + 2048 - addr) & 0xfff);
}

/** The shortest copy out of linear memory that `Gateway.copyOut` warms the destination of. */
export const WARM_MIN = 16384;

/** How much `Gateway.copyOut` warms and copies at a time: 64 pages, a chunk of the page batch forms. */
const WARM_WINDOW = 256 << 10;

/** One region of the memory map. Offsets and sizes are bytes in linear memory. */
export interface RegionInfo {
  readonly offset: number;
  readonly size: number;
}

/** The bound exports `N` (a per-concept module's list of the exports it uses). */
export type Bound<N extends readonly (keyof Exports)[]> = Pick<Exports, N[number]>;

/** A record laid out in assembly/layout.ts: its size (stride) and the offset of each field asked for. */
export type Record_<F extends string> = { readonly size: number } & { readonly [K in F]: number };


/** What the wrappers share: the abort that poisoned the engine, if any. */
interface LiveState {
  poison: EngineAbortError | null;
  /** set when the engine was released (Gateway.release): the error every call throws from then on */
  released: (() => Error) | null;
}

type AnyFn = (...args: never[]) => unknown;

/** Throws the poisoned-engine error (kept out of the wrappers so they stay small). */
function poisoned(s: LiveState): never {
  if (s.released) throw s.released();
  throw new EnginePoisonedError(s.poison!);
}

/**
 * Wraps raw export `f` of `arity` parameters: the live check, then its result adapted by `kind`.
 * Closures by arity, none with rest arguments, except the one export with more than eight
 * parameters (mmuCreate, once per core).
 */
function wrap(f: AnyFn, arity: number, kind: ResultKind, t: LiveState, lift: (p: number) => string): AnyFn {
  // const, never reassigned: a captured binding that is ever assigned (as `g = null` once was, to
  // let a released engine's instance go) made every call about 2.7 ns slower in V8 (5.5 against
  // 2.8 ns for a 1-argument export), whatever the assignment's reach. release() lets go of the
  // wrappers instead (Gateway.release).
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const g = f as any;
  if (kind === 'u32') {
    switch (arity) {
      case 0: return () => { if (t.poison) poisoned(t); return g() >>> 0; };
      case 1: return (a: unknown) => { if (t.poison) poisoned(t); return g(a) >>> 0; };
      case 2: return (a: unknown, b: unknown) => { if (t.poison) poisoned(t); return g(a, b) >>> 0; };
      case 3: return (a: unknown, b: unknown, c: unknown) => { if (t.poison) poisoned(t); return g(a, b, c) >>> 0; };
      case 4: return (a: unknown, b: unknown, c: unknown, d: unknown) => { if (t.poison) poisoned(t); return g(a, b, c, d) >>> 0; };
      case 5: return (a: unknown, b: unknown, c: unknown, d: unknown, e: unknown) => { if (t.poison) poisoned(t); return g(a, b, c, d, e) >>> 0; };
      case 6: return (a: unknown, b: unknown, c: unknown, d: unknown, e: unknown, h: unknown) => { if (t.poison) poisoned(t); return g(a, b, c, d, e, h) >>> 0; };
    }
  } else if (kind === 'i32' || kind === 'f64' || kind === 'void') {
    switch (arity) {
      case 0: return () => { if (t.poison) poisoned(t); return g(); };
      case 1: return (a: unknown) => { if (t.poison) poisoned(t); return g(a); };
      case 2: return (a: unknown, b: unknown) => { if (t.poison) poisoned(t); return g(a, b); };
      case 3: return (a: unknown, b: unknown, c: unknown) => { if (t.poison) poisoned(t); return g(a, b, c); };
      case 4: return (a: unknown, b: unknown, c: unknown, d: unknown) => { if (t.poison) poisoned(t); return g(a, b, c, d); };
      case 5: return (a: unknown, b: unknown, c: unknown, d: unknown, e: unknown) => { if (t.poison) poisoned(t); return g(a, b, c, d, e); };
      case 6: return (a: unknown, b: unknown, c: unknown, d: unknown, e: unknown, h: unknown) => { if (t.poison) poisoned(t); return g(a, b, c, d, e, h); };
    }
  } else if (kind === 'u64') {
    switch (arity) {
      case 1: return (a: unknown) => { if (t.poison) poisoned(t); return BigInt.asUintN(64, g(a)); };
      case 2: return (a: unknown, b: unknown) => { if (t.poison) poisoned(t); return BigInt.asUintN(64, g(a, b)); };
      case 3: return (a: unknown, b: unknown, c: unknown) => { if (t.poison) poisoned(t); return BigInt.asUintN(64, g(a, b, c)); };
    }
  } else if (kind === 'bool') {
    switch (arity) {
      case 1: return (a: unknown) => { if (t.poison) poisoned(t); return g(a) !== 0; };
      case 2: return (a: unknown, b: unknown) => { if (t.poison) poisoned(t); return g(a, b) !== 0; };
      case 3: return (a: unknown, b: unknown, c: unknown) => { if (t.poison) poisoned(t); return g(a, b, c) !== 0; };
      case 4: return (a: unknown, b: unknown, c: unknown, d: unknown) => { if (t.poison) poisoned(t); return g(a, b, c, d) !== 0; };
    }
  }
  // the rest (strings, rare arities) through one adapter call
  const post = adapter(kind, lift);
  switch (arity) {
    case 0: return () => { if (t.poison) poisoned(t); return post(g()); };
    case 1: return (a: unknown) => { if (t.poison) poisoned(t); return post(g(a)); };
    case 2: return (a: unknown, b: unknown) => { if (t.poison) poisoned(t); return post(g(a, b)); };
    case 3: return (a: unknown, b: unknown, c: unknown) => { if (t.poison) poisoned(t); return post(g(a, b, c)); };
    case 4: return (a: unknown, b: unknown, c: unknown, d: unknown) => { if (t.poison) poisoned(t); return post(g(a, b, c, d)); };
    case 5: return (a: unknown, b: unknown, c: unknown, d: unknown, e: unknown) => { if (t.poison) poisoned(t); return post(g(a, b, c, d, e)); };
    case 6: return (a: unknown, b: unknown, c: unknown, d: unknown, e: unknown, h: unknown) => { if (t.poison) poisoned(t); return post(g(a, b, c, d, e, h)); };
    case 7: return (a: unknown, b: unknown, c: unknown, d: unknown, e: unknown, h: unknown, i: unknown) => { if (t.poison) poisoned(t); return post(g(a, b, c, d, e, h, i)); };
    case 8: return (a: unknown, b: unknown, c: unknown, d: unknown, e: unknown, h: unknown, i: unknown, j: unknown) => { if (t.poison) poisoned(t); return post(g(a, b, c, d, e, h, i, j)); };
    default: return (...args: unknown[]) => { if (t.poison) poisoned(t); return post(g(...args)); };
  }
}

/** The conversion of a raw result of `kind` to what `Exports` promises. */
function adapter(kind: ResultKind, lift: (p: number) => string): (r: unknown) => unknown {
  switch (kind) {
    case 'u32': return (r) => (r as number) >>> 0;
    case 'bool': return (r) => (r as number) !== 0;
    case 'u64': return (r) => BigInt.asUintN(64, r as bigint);
    case 'string': return (r) => lift(r as number);
    default: return (r) => r;
  }
}

/** Options of `Gateway.load`, validated by the engine. */
export interface LoadOptions {
  module: WebAssembly.Module;
  flavor: EngineFlavor;
  /** Configuration fields by name (assembly/ram/memmap.ts Cfg); a field not given is 0. */
  config: Readonly<Record<string, number>>;
}

export class Gateway {
  readonly flavor: EngineFlavor;
  /** The memory map: every region by name. */
  readonly map: Readonly<Record<string, RegionInfo>>;
  /** The module's exported constants, adapted to their AssemblyScript types. */
  readonly constants: Readonly<Constants>;

  private readonly state: LiveState = { poison: null, released: null };
  private memory: WebAssembly.Memory | null;
  private raw: Record<string, unknown>;
  private util: ASUtil | null;
  /** every object bind() returned: release() replaces their wrappers, which hold the instance */
  private readonly handedOut: Record<string, AnyFn>[] = [];
  private readonly module: WebAssembly.Module;
  private readonly wrapped = new Map<string, AnyFn>();
  private readonly bound = new Set<string>();
  private readonly layouts = new Map<string, RegionInfo>();
  private readonly claimed = new Set<string>();
  private readonly stagingAt: number;
  private readonly stagingIdx: number;
  private u8v: Uint8Array = new Uint8Array(0);
  /** what copyOut's warming reads add up to, kept so the compiler cannot drop the reads */
  private warmed = 0;
  private u32v: Uint32Array = new Uint32Array(0);
  private dv!: DataView;

  constructor(opts: LoadOptions) {
    this.flavor = opts.flavor;
    this.module = opts.module;
    let util: ASUtil | null = null;
    const imports = {
      env: {
        abort: (msg: number, file: number, line: number, col: number) => {
          const s = (p: number) => (util && p ? util.__getString(p >>> 0) : '?');
          this.state.poison = new EngineAbortError(s(msg), s(file), line, col);
          throw this.state.poison;
        },
      },
    };
    // WebAssembly memory is little-endian; the u32 view reads it in the host's order
    if (new Uint8Array(Uint32Array.of(1).buffer)[0] !== 1) throw new ConfigError('platform', 'big-endian', 'a little-endian host');
    const inst = instantiateSync(opts.module, imports);
    util = inst.exports as unknown as ASUtil;
    this.util = util;
    this.raw = inst.instance.exports as unknown as Record<string, unknown>;
    const memory = (this.memory = this.raw.memory as WebAssembly.Memory);
    const consts: Record<string, unknown> = {};
    for (const [name, kind] of Object.entries(CONSTANTS)) {
      const g = this.raw[name];
      if (!(g instanceof WebAssembly.Global)) throw new ConfigError('module', name, 'an exported constant (rebuild the module: npm run asbuild)');
      consts[name] = adapter(kind, (p) => this.lift(p))(g.value);
    }
    this.constants = Object.freeze(consts) as unknown as Constants;
    const x = this.bind(['configCount', 'configName', 'configPtr', 'init', 'mapCount', 'mapName', 'mapOffset', 'mapSize',
      'stagingReserve', 'layoutCount', 'layoutName', 'layoutOffset', 'layoutSize']);
    this.constantsOf(['INIT_OK', 'INIT_TOO_LARGE', 'INIT_TWICE', 'PAGE_SIZE']);

    // the configuration block, by field name, then init lays out memory from it
    const cfgPtr = x.configPtr();
    const cfgView = new DataView(memory.buffer);
    const known = new Set<string>();
    for (let i = 0; i < x.configCount(); i++) {
      const name = x.configName(i);
      known.add(name);
      cfgView.setBigUint64(cfgPtr + i * 8, BigInt(opts.config[name] ?? 0), true);
    }
    for (const name of Object.keys(opts.config)) if (!known.has(name)) throw new ConfigError('config', name, `a configuration field of the module (${[...known].join(', ')})`);
    const rc = x.init();
    if (rc !== this.constants.INIT_OK) {
      const why = rc === this.constants.INIT_TOO_LARGE ? 'do not fit in 4 GiB of WebAssembly memory' : `were refused (init code ${rc})`;
      throw new OutOfLinearMemoryError(`machineMemoryMiB: ${(opts.config.machineFrames ?? 0) / 256} MiB of machine RAM and its metadata ${why}`);
    }
    const map: Record<string, RegionInfo> = {};
    for (let i = 0; i < x.mapCount(); i++) map[x.mapName(i)] = Object.freeze({ offset: x.mapOffset(i), size: x.mapSize(i) });
    this.map = Object.freeze(map);
    this.stagingIdx = Object.keys(map).indexOf('staging');
    this.stagingAt = this.region('staging').offset;
    this.own = x;
    for (let i = 0; i < x.layoutCount(); i++) {
      this.layouts.set(x.layoutName(i), Object.freeze({ offset: x.layoutOffset(i), size: x.layoutSize(i) }));
    }
  }

  /** the exports the gateway calls itself after loading (staging), bound like any module's */
  private readonly own: Pick<Exports, 'mapSize' | 'stagingReserve'>;

  // ---- exports ----------------------------------------------------------------------------

  /**
   * The exports `names`, each wrapped once: a call after an abort throws EnginePoisonedError, and
   * results come adapted (see `Exports`). A name the module does not export is a ConfigError
   * (a module built from other sources than this gateway's).
   */
  bind<K extends keyof Exports>(names: readonly K[]): Pick<Exports, K> {
    if (this.state.released) throw this.state.released(); // a poisoned engine still binds: its calls refuse
    const out = {} as Record<string, AnyFn>;
    for (const name of names) {
      let w = this.wrapped.get(name);
      if (!w) {
        const f = this.raw[name];
        const spec = FUNCTIONS[name];
        if (typeof f !== 'function' || !spec) throw new ConfigError('module', name, 'an exported function (rebuild the module: npm run asbuild)');
        w = wrap(f as AnyFn, spec[0], spec[1], this.state, (p) => this.lift(p));
        this.wrapped.set(name, w);
      }
      out[name] = w;
      this.bound.add(name);
    }
    this.handedOut.push(out);
    return out as unknown as Pick<Exports, K>;
  }

  /** The constants `names` (marked bound for the coverage check). */
  constantsOf<K extends keyof Constants>(names: readonly K[]): Pick<Constants, K> {
    const out = {} as Record<string, unknown>;
    for (const name of names) {
      if (!(name in this.constants)) throw new ConfigError('module', name, 'an exported constant (rebuild the module: npm run asbuild)');
      out[name] = this.constants[name];
      this.bound.add(name);
    }
    return out as Pick<Constants, K>;
  }

  /** Exports of the module that no per-concept module bound (a test keeps this empty). */
  unbound(): string[] {
    return WebAssembly.Module.exports(this.module).map((e) => e.name).filter((n) => n !== 'memory' && !this.bound.has(n));
  }

  // ---- layouts ----------------------------------------------------------------------------

  /**
   * Record `name` of assembly/layout.ts with the fields `fields`, each of the size in bytes given
   * (a mismatch with the module is a ConfigError: the two sides disagree on the layout).
   */
  record<F extends string>(name: string, fields: Readonly<Record<F, number>>): Record_<F> {
    const rec = this.entry(name);
    const out: Record<string, number> = { size: rec.size };
    for (const [f, size] of Object.entries(fields) as [string, number][]) {
      const e = this.entry(`${name}.${f}`);
      if (e.size !== size) throw new ConfigError('module', `${name}.${f}`, `a field of ${size} bytes (the module says ${e.size}: rebuild it)`);
      out[f] = e.offset;
    }
    return Object.freeze(out) as Record_<F>;
  }

  /** Windows `names` of record `name` (offset and size each, as the module lays them out; the staging windows). */
  windows<W extends string>(name: string, names: readonly W[]): { readonly [K in W]: RegionInfo } {
    this.entry(name);
    const out = {} as Record<W, RegionInfo>;
    for (const w of names) out[w] = this.entry(`${name}.${w}`);
    return Object.freeze(out);
  }

  /** The members of group `prefix` (e.g. "mmuCtx.counters"), in the module's order: [name, offset], each of `size` bytes. */
  group(prefix: string, size: number): ReadonlyArray<readonly [string, number]> {
    const out: (readonly [string, number])[] = [];
    for (const [name, e] of this.layouts) {
      if (!name.startsWith(prefix + '.')) continue;
      if (e.size !== size) throw new ConfigError('module', name, `a field of ${size} bytes (the module says ${e.size}: rebuild it)`);
      this.claimed.add(name);
      out.push([name.slice(prefix.length + 1), e.offset] as const);
    }
    return out;
  }

  /** Layout entries no per-concept module asked for (a test keeps this empty). */
  unclaimed(): string[] {
    return [...this.layouts.keys()].filter((n) => !this.claimed.has(n));
  }

  private entry(name: string): RegionInfo {
    const e = this.layouts.get(name);
    if (!e) throw new ConfigError('module', name, 'a layout entry of assembly/layout.ts (rebuild the module: npm run asbuild)');
    this.claimed.add(name);
    return e;
  }

  // ---- memory -----------------------------------------------------------------------------

  /** A region of the memory map by name; a typed error for an unknown name. */
  region(name: string): RegionInfo {
    const r = this.map[name];
    if (!r) throw new ConfigError('region', name, `one of ${Object.keys(this.map).join(', ')}`);
    return r;
  }

  /** Bytes of linear memory (the whole of it), re-created after any grow. */
  get u8(): Uint8Array {
    if (this.u8v.length === 0) this.views();
    return this.u8v;
  }

  /**
   * Copies `len` bytes of linear memory at `at` into `dst` from `dstAt`, WARM_WINDOW bytes at a
   * time, after reading one byte of each 4 KiB page of `dst` that the window will write.
   *
   * Why warm: on the dev box (a VM under nested paging, 2026-11-29), 64 MiB copied into a large
   * JavaScript array in 256 KiB chunks took 3.3-3.8 ms with plain sets and 1.9-2.3 ms this way,
   * and 6.9-8.2 against 4.8-6.3 ms with each chunk hashed before its copy, as a kernel comes
   * before each chunk's copy out in the batch forms (bench/copy.bench.ts); the LZ4 page batch's
   * copy out went from 4.1 to 2.1 ms per 64 MiB, VM.readPhys of 32 MiB from 468 to 382 ns per
   * page (bench/ab.ts). Copies in gain nothing from reading their source first (measured), so
   * only stores are slow: our reading is that `rep movsb` stalls on each destination page's
   * translation (a two-level walk under nested paging) and on its lines' ownership, one page
   * after another, where independent reads overlap both.
   */
  copyOut(dst: Uint8Array, dstAt: number, at: number, len: number): void {
    // as one set would: a range past the array's end is refused before any window is written
    if (dstAt < 0 || dstAt + len > dst.length) throw new RangeError(`copyOut: ${len} bytes at ${dstAt} do not fit in ${dst.length}`);
    const u8 = this.u8;
    if (len < WARM_MIN) {
      dst.set(u8.subarray(at, at + len), dstAt);
      return;
    }
    let seen = 0;
    for (let done = 0; done < len; done += WARM_WINDOW) {
      const n = Math.min(WARM_WINDOW, len - done);
      const end = dstAt + done + n;
      // one byte in each page the window writes (an array need not start on a page: its last
      // page is read as well)
      for (let i = dstAt + done; i < end; i += 4096) seen |= dst[i];
      seen |= dst[end - 1];
      dst.set(u8.subarray(at + done, at + done + n), dstAt + done);
    }
    this.warmed = seen;
  }

  /** The u32 words of linear memory (index = address / 4), re-created after any grow. */
  get u32(): Uint32Array {
    if (this.u32v.length === 0) this.views();
    return this.u32v;
  }

  /** A DataView over linear memory, re-created after any grow. */
  get view(): DataView {
    if (this.u8v.length === 0) this.views();
    return this.dv;
  }

  /** Linear memory in bytes. */
  get memoryBytes(): number {
    return this.memory ? this.memory.buffer.byteLength : 0;
  }

  /** Address of the staging region (it never moves; it may grow at its end). */
  get staging(): number {
    return this.stagingAt;
  }

  /** Current size of the staging region in bytes. */
  get stagingSize(): number {
    return this.own.mapSize(this.stagingIdx);
  }

  /** Makes the staging region at least `bytes` long and returns its address. */
  stage(bytes: number): number {
    this.live();
    if (bytes > this.own.mapSize(this.stagingIdx) && this.own.stagingReserve(bytes) === 0) {
      throw new OutOfLinearMemoryError(`staging: ${bytes} bytes do not fit in what is left of 4 GiB of WebAssembly memory`);
    }
    return this.stagingAt;
  }

  /**
   * Copies `data` into staging, at `at` bytes from its start or up to SKEW_ROOM - 1 bytes later
   * (`skewed`: the copy runs at full speed), and returns its address.
   */
  stageIn(data: Uint8Array, at = 0): number {
    const base = this.stage(at + SKEW_ROOM + data.length);
    const a = skewed(base + at, data.byteOffset);
    this.u8.set(data, a);
    return a;
  }

  /** Throws if an earlier call aborted, or the engine was released. */
  live(): void {
    if (this.state.poison) poisoned(this.state);
  }

  /**
   * Lets go of the instance and its linear memory (machine RAM, pmaps, caches: hundreds of MiB),
   * so they are freed even while objects that used the engine (a closed Host, its VMs) are still
   * referenced. Every call from then on throws what `why` makes. Idempotent.
   */
  release(why: () => Error): void {
    if (this.state.released) return;
    this.state.released = why;
    // the one check every wrapper makes; poisoned() throws `why` first
    this.state.poison ??= new EngineAbortError('released', '', 0, 0);
    // the objects bind() handed out (held by the per-concept modules, which a closed Host's VMs may
    // still reach) drop their wrappers, and with them the instance; a call through one throws
    const dead = () => poisoned(this.state);
    for (const o of this.handedOut.splice(0)) for (const k of Object.keys(o)) o[k] = dead;
    this.wrapped.clear();
    this.memory = null;
    this.raw = {};
    this.util = null;
    this.u8v = new Uint8Array(0);
    this.u32v = new Uint32Array(0);
    this.dv = new DataView(new ArrayBuffer(0));
  }

  /** Whether release() ran. */
  get released(): boolean {
    return this.state.released !== null;
  }

  /** (Re)creates the views over the current buffer; a grow detached the old one (its views read as length 0). */
  private views(): void {
    if (!this.memory) poisoned(this.state);
    const b = this.memory.buffer;
    this.u8v = new Uint8Array(b);
    this.u32v = new Uint32Array(b);
    this.dv = new DataView(b);
  }

  private lift(p: number): string {
    if (!this.util) poisoned(this.state);
    return this.util.__getString(p >>> 0);
  }
}
