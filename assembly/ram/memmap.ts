/**
 * Memory map: the one layout of linear memory, computed once by `init` from the host
 * configuration and exported to TypeScript, which never writes a literal offset.
 *
 *   0            __heap_base              static data of the module (strings, CONFIG block)
 *   arena        RUNTIME_ARENA bytes      left to the AssemblyScript runtime (stub); mechanism
 *                                         code never allocates, so this stays unused
 *   frameTable   FRAME_ENTRY x frames     per-frame metadata (frames.ts)
 *   ram          4 KiB x frames           machine RAM, 4 KiB aligned
 *   vmTable      VM_ENTRY x maxVMs        per-VM header (pmap.ts)
 *   pmap         8 B x guestPages         every VM's pmap, one range per VM (pmap.ts)
 *   mmuCtx       MMU_CTX x maxMmus        per-core MMU contexts: config, cost model, counters (walk.ts)
 *   mmuCache     mmuCacheBytes            TLB / PWC / nested-TLB entries of every core (tlb.ts)
 *   pagingVm     PVM_ENTRY x maxVMs       per-VM paging state: EPT root, shadow roots, guest OS (walk.ts)
 *   gpTrack      8 B x guestPages         per-GPPN shadow tracking: leaf rmap, shadowed-table link (shadow.ts)
 *   zslots       16 B x 4 x frames        metadata of every possible zpool slot (zpool.ts)
 *   shareTable   16 B x 2^k >= 4 x frames the TPS table: shared frames and hints (sharing.ts)
 *   sim          simBytes                 the simulation's guest OS and workload tables
 *                                         (guest/state.ts); empty unless asked for
 *   simContent   4 KiB x simContentPages  the simulation's OS and file images, page by page
 *                                         (workload/content.ts); empty unless asked for
 *   staging      >= stagingBytes          bulk data exchanged with TypeScript; the only region
 *                                         that can grow, so it is always last
 *
 * Regions are chained: each starts where the previous one ends, aligned up to its alignment.
 * The entry size of every region is defined here, with the map, and the module named in the
 * table above imports it: the map is the bottom layer and imports nothing above it.
 * Invariants: regions never overlap; the map is fixed after `init`, except that the staging
 * region may grow at the end of memory (TypeScript must then re-create its typed views).
 */

/** Size of a machine frame and of a guest page. */
export const PAGE_SIZE: u32 = 4096;
export const PAGE_SHIFT: u32 = 12;
/** WebAssembly pages (64 KiB) that linear memory may have at most (4 GiB, wasm32). */
const WASM_MAX_PAGES: u32 = 65536;
const RUNTIME_ARENA: usize = 64 << 10;

// ---- entry sizes of the regions (their layouts are drawn in the modules named) -----------------

/** frames.ts: one frame table entry per machine frame. */
export const FRAME_ENTRY: u32 = 16;
/** pmap.ts: one VM table entry per VM. */
export const VM_ENTRY: u32 = 160;
/** pmap.ts: one pmap entry (u64) per guest page. */
export const PMAP_ENTRY: u32 = 8;
/** cores.ts: one MMU context per simulated core. */
export const MMU_CTX: u32 = 1024;
/** cores.ts: one paging state per VM. */
export const PVM_ENTRY: u32 = 128;
/** cores.ts: one shadow-tracking entry per guest page, parallel to the pmap. */
export const GPTRACK_ENTRY: u32 = 8;
/** zpool.ts: metadata of one possible zpool slot (4 per frame). */
export const ZSLOT_ENTRY: u32 = 16;
/** sharing.ts: one sharing-table entry. */
export const SHARE_ENTRY: u32 = 16;

/** guest/state.ts: one simulation header per VM. */
export const SIM_VM_ENTRY: u32 = 1024;
/** guest/state.ts: per guest page, a virtual-page word (8), an owner word (4) and a Zipf alias entry (8). */
export const SIM_PAGE_BYTES: u32 = 20;
/** guest/state.ts: one free-page-reporting block word per 2 MiB of guest memory (and one spare per VM). */
export const SIM_BLOCK_ENTRY: u32 = 8;
export const SIM_BLOCK_PAGES: u32 = 512;

/** Bytes of region sim (guest/state.ts) for `maxVMs` VMs of `guestPages` pages in all; 0 when the simulation is off. */
export function simRegionBytes(tables: bool, maxVMs: u64, guestPages: u64): u64 {
  if (!tables) return 0;
  return maxVMs * SIM_VM_ENTRY + guestPages * SIM_PAGE_BYTES + (guestPages / SIM_BLOCK_PAGES + maxVMs) * SIM_BLOCK_ENTRY
    + 64 + 2 * PAGE_SIZE;
}

/** Sharing-table entries for `frames` machine frames: a power of two >= 4 per frame (at least 1024). */
export function shareTableEntries(frames: u64): u64 {
  let n: u64 = 1024;
  while (n < frames * 4) n <<= 1;
  return n;
}

// ---- configuration block -------------------------------------------------------------------
// TypeScript writes the configuration here, by field name, before it calls `init`.

export const enum Cfg {
  /** machine frames (4 KiB each) */
  MachineFrames = 0,
  /** initial size of the staging region, in bytes */
  StagingBytes = 1,
  /** VMs the engine can hold */
  MaxVMs = 2,
  /** guest pages of all VMs together (pmap entries) */
  GuestPages = 3,
  /** MMU contexts (simulated cores with their TLBs) the engine can hold */
  MaxMmus = 4,
  /** bytes for TLB, page-walk-cache and nested-TLB entries of all MMU contexts together */
  MmuCacheBytes = 5,
  /** pages of region simContent: the simulation's OS and file images (workload/content.ts) */
  SimContentPages = 6,
  /** 1: the sim region holds the guest OS and workload tables (guest/state.ts) */
  SimTables = 7,
  COUNT = 8,
}
const CFG_NAMES: StaticArray<string> = ["machineFrames", "stagingBytes", "maxVMs", "guestPages", "maxMmus", "mmuCacheBytes", "simContentPages", "simTables"];
const CONFIG: usize = memory.data(<i32>Cfg.COUNT * 8, 8);

/** Number of configuration fields. */
export function configCount(): u32 { return <u32>Cfg.COUNT; }
/** Name of configuration field `i` (a static string; no allocation). */
export function configName(i: u32): string { return unchecked(CFG_NAMES[i]); }
/** Address of the configuration block: `configCount()` little-endian u64 fields. */
export function configPtr(): usize { return CONFIG; }

// @ts-ignore: decorator
@inline export function cfg(field: Cfg): u64 { return load<u64>(CONFIG + (<usize>field << 3)); }

// ---- regions -------------------------------------------------------------------------------

export const enum Region {
  FrameTable = 0,
  Ram = 1,
  VmTable = 2,
  Pmap = 3,
  MmuCtx = 4,
  MmuCache = 5,
  PagingVm = 6,
  GpTrack = 7,
  Zslots = 8,
  ShareTable = 9,
  Sim = 10,
  SimContent = 11,
  Staging = 12,
  COUNT = 13,
}
const REGION_NAMES: StaticArray<string> = [
  "frameTable", "ram", "vmTable", "pmap", "mmuCtx", "mmuCache", "pagingVm", "gpTrack", "zslots", "shareTable", "sim", "simContent", "staging",
];
const REGION_OFFSET = memory.data(<i32>Region.COUNT * 8, 8);
const REGION_SIZE = memory.data(<i32>Region.COUNT * 8, 8);

// @ts-ignore: decorator
@inline export function regionOffset(r: Region): usize { return <usize>load<u64>(REGION_OFFSET + (<usize>r << 3)); }
// @ts-ignore: decorator
@inline export function regionSize(r: Region): usize { return <usize>load<u64>(REGION_SIZE + (<usize>r << 3)); }

/** Number of regions in the map. */
export function mapCount(): u32 { return <u32>Region.COUNT; }
/** Name of region `i` (a static string; no allocation). */
export function mapName(i: u32): string { return unchecked(REGION_NAMES[i]); }
/** Byte offset of region `i` in linear memory (as f64: offsets reach 4 GiB). */
export function mapOffset(i: u32): f64 { return <f64>load<u64>(REGION_OFFSET + (<usize>i << 3)); }
/** Byte size of region `i` (as f64: sizes reach 4 GiB). */
export function mapSize(i: u32): f64 { return <f64>load<u64>(REGION_SIZE + (<usize>i << 3)); }

// ---- layout --------------------------------------------------------------------------------

/** Status codes of `init`. */
export const INIT_OK: i32 = 0;
export const INIT_TOO_LARGE: i32 = 1;
export const INIT_TWICE: i32 = 2;

let initialized = false;
let cursor: u64 = 0;

/** Rounds `x` up to a multiple of the power of two `a`. */
// @ts-ignore: decorator
@inline function alignUp(x: u64, a: u64): u64 { return (x + a - 1) & ~(a - 1); }

/** Places region `r` of `size` bytes at the cursor, aligned to `align`. */
function place(r: Region, size: u64, align: u64): void {
  cursor = alignUp(cursor, align);
  store<u64>(REGION_OFFSET + (<usize>r << 3), cursor);
  store<u64>(REGION_SIZE + (<usize>r << 3), size);
  cursor += size;
}

/**
 * Computes the memory map from the configuration block and grows linear memory to hold it.
 * Returns INIT_OK, or INIT_TOO_LARGE when the map does not fit in 4 GiB (memory is unchanged).
 */
export function layout(): i32 {
  if (initialized) return INIT_TWICE;
  const frames = cfg(Cfg.MachineFrames);
  cursor = alignUp(<u64>__heap_base, 16) + RUNTIME_ARENA;
  place(Region.FrameTable, frames * FRAME_ENTRY, 64);
  place(Region.Ram, frames << PAGE_SHIFT, PAGE_SIZE);
  place(Region.VmTable, cfg(Cfg.MaxVMs) * VM_ENTRY, 64);
  place(Region.Pmap, cfg(Cfg.GuestPages) * PMAP_ENTRY, 64);
  place(Region.MmuCtx, cfg(Cfg.MaxMmus) * MMU_CTX, 64);
  place(Region.MmuCache, alignUp(cfg(Cfg.MmuCacheBytes), 64), 64);
  place(Region.PagingVm, cfg(Cfg.MaxVMs) * PVM_ENTRY, 64);
  place(Region.GpTrack, cfg(Cfg.GuestPages) * GPTRACK_ENTRY, 64);
  place(Region.Zslots, frames * 4 * ZSLOT_ENTRY, 64);
  place(Region.ShareTable, shareTableEntries(frames) * SHARE_ENTRY, 64);
  place(Region.Sim, simRegionBytes(cfg(Cfg.SimTables) != 0, cfg(Cfg.MaxVMs), cfg(Cfg.GuestPages)), PAGE_SIZE);
  place(Region.SimContent, cfg(Cfg.SimContentPages) << PAGE_SHIFT, PAGE_SIZE);
  place(Region.Staging, alignUp(max<u64>(cfg(Cfg.StagingBytes), PAGE_SIZE), PAGE_SIZE), PAGE_SIZE);
  const pages = alignUp(cursor, 65536) >> 16;
  if (pages > WASM_MAX_PAGES) return INIT_TOO_LARGE;
  const have = <u64>memory.size();
  if (pages > have && memory.grow(<i32>(pages - have)) < 0) return INIT_TOO_LARGE;
  initialized = true;
  return INIT_OK;
}

/**
 * Makes the staging region at least `bytes` long, growing linear memory if needed. Returns
 * the region's size, or 0 if it cannot grow that far. The offset never changes.
 */
export function stagingReserve(bytes: f64): f64 {
  const want = alignUp(<u64>bytes, PAGE_SIZE);
  const have = <u64>regionSize(Region.Staging);
  if (want <= have) return <f64>have;
  const end = <u64>regionOffset(Region.Staging) + want;
  const pages = alignUp(end, 65536) >> 16;
  if (pages > WASM_MAX_PAGES) return 0;
  const cur = <u64>memory.size();
  if (pages > cur && memory.grow(<i32>(pages - cur)) < 0) return 0;
  store<u64>(REGION_SIZE + (<usize>Region.Staging << 3), want);
  return <f64>want;
}
