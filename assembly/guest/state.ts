/**
 * state: the layout of region sim, where the simulation keeps its guest OS model and workloads
 * (what lives inside each VM, as opposed to the pmap, which is the hypervisor's view of it).
 *
 *   +0        SIM_VM x maxVMs        per-VM header: u64 slots indexed by S (below)
 *   vpages    8 B x guestPages       per virtual page of a VM's processes, at (pmap base + vp):
 *                                      u32 loc | u32 version (writes so far)
 *   owners    4 B x guestPages       per GPPN, at (pmap base + gppn): who holds the page in the guest
 *   alias     8 B x guestPages       per workload page: the Zipf alias table (workload/sampler.ts)
 *   blocks    8 B x (guestPages/512 + maxVMs)   2 MiB blocks of GPPNs, for free page reporting
 *   scratch   4 KiB x 2              the oracle's expected and decompressed page
 *
 * (OS and file images sit in region simContent: workload/content.ts.)
 *
 * TypeScript reads and writes the header by name (assembly/layout.ts "simVm.*": the slots of S
 * it uses, 8 bytes each, u64 or f64 as the slot says) at region sim + vm x SIM_VM, and every
 * resumable call leaves its results there: why it stopped (RGppn, RVp, RCode), how far it got
 * (Cursor) and what it listed (BatchN, BatchM).
 *
 * Virtual pages (vp) of a VM: [0, anon) are the OS processes' anonymous memory, [anon, vpages)
 * the workload's memory (its page i is the i-th most popular of any active set).
 *
 *   loc word   31     30    29    28       27 ............ 0
 *             +------+-----+-----+--------+------------------+
 *             | SEEN | REF | FILL| SWAPPED|  GPPN, or guest  |   NO_LOC: never allocated
 *             +------+-----+-----+--------+  swap slot       |
 *   SEEN  touched since the sampler last counted (true working set)
 *   REF   touched since the guest's clock last passed (its LRU approximation)
 *   FILL  a GPPN is allocated but the page's content is not written yet (a host fault came first)
 *
 *   owner word  31..29 kind (O_*), 28..0 index: free-list link, image page or virtual page
 *
 *   block word  bits 0-15 free pages of the block, bit 16 reported to the host, bits 32-63 the
 *               simulated millisecond at which the block became wholly free (NONE: not free)
 *
 * Invariants: each GPPN of a simulated VM has exactly one owner kind and the header's per-kind
 * counts sum to its pages; a vpage whose loc is a GPPN g has owner(g) == O_VPAGE | vp, and no
 * other GPPN names it; free pages form one list through the owner words.
 */

import { Region, regionOffset, PAGE_SIZE, SIM_VM_ENTRY, SIM_BLOCK_ENTRY, SIM_BLOCK_PAGES } from "../ram/memmap";

export const SIM_VM: u32 = SIM_VM_ENTRY;
export const NONE: u32 = 0xFFFFFFFF;

// loc word
export const LOC_MASK: u32 = 0x0FFFFFFF;
export const NO_LOC: u32 = 0x0FFFFFFF;
export const SWAPPED: u32 = 1 << 28;
export const FILL: u32 = 1 << 29;
export const REF: u32 = 1 << 30;
export const SEEN: u32 = 1 << 31;

// owner word
export const O_SHIFT: u32 = 29;
export const O_INDEX: u32 = 0x1FFFFFFF;
export const NIL: u32 = 0x1FFFFFFF;
export const O_FREE: u32 = 0;
export const O_KERNEL: u32 = 1;
export const O_CACHE: u32 = 2;
export const O_VPAGE: u32 = 3;
export const O_BALLOON: u32 = 4;
/** pages the guest OS model of an attached MMU owns (its page tables): never touched by this model */
export const O_RESERVED: u32 = 5;
export const O_KINDS: u32 = 6;

/** Pages per free-page-reporting block (2 MiB, pageblock_order 9 on x86). */
export const BLOCK_PAGES: u32 = SIM_BLOCK_PAGES;
export const BLOCK_REPORTED: u64 = 1 << 16;

/** u64 slots of a VM's header (f64 where the name says Ns or the comment says f64). */
export const enum S {
  Live = 0, Pages = 1, Base = 2, VPages = 3, Anon = 4, BlockBase = 5,
  FreeHead = 6, FreeCount = 7, Hand = 8, CacheHand = 9, BalloonHand = 10, SwapHeld = 11,
  // owner counts by kind (O_FREE .. O_RESERVED), at Owned + kind
  Owned = 12,
  // workload
  Rng = 20, Active = 21, WriteThr = 22, Skew = 23, ZipfS = 24, ZipfTable = 25,
  // content: keys, the OS image (content page, pages), the mix of the workload
  DataKey = 30, VmKey = 31, ImgAt = 32, ImgPages = 33, MixCount = 34, Mix = 35, // Mix .. Mix + 7
  // translation: MMU context (NONE: no translation), gVA of vp 0
  Ctx = 44, VaBase = 45,
  // costs, f64 ns per event (time per touch, hit, guest #PF, VM exit, first touch, copy-on-write, decompression, balloon re-touch)
  TauNs = 48, HitNs = 49, GuestPfNs = 50, ExitNs = 51, FirstTouchNs = 52, CowNs = 53, UnzipNs = 54, NsPerCycle = 55,
  // what the first touch of a new virtual page costs an unconstrained VM (guest #PF, exit, host first touch), f64 ns
  NewPageNs = 56,
  // the step in progress
  Asked = 60, Done = 61, BudgetNs = 62, UsedNs = 63, Pending = 64, PendVp = 65, PendWrite = 66,
  // cumulative f64 accumulators: time spent in faults, in translation, what faults of new pages cost an unconstrained VM, touch time
  StallNs = 70, TranslateNs = 71, InherentNs = 72, WorkNs = 73,
  // cumulative counters
  Touches = 80, Writes = 81, NewPages = 82, HostFaults = 83, DoublePaging = 84, CacheDropped = 85,
  GuestSwapOut = 86, GuestSwapIn = 87, Reported = 88, Zeroed = 89, Released = 90,
  // snapshots of the pmap and core counters, so the touch loop charges what a fault did
  SnapFirst = 96, SnapCow = 97, SnapUnzip = 98, SnapBalloon = 99, SnapExits = 100, SnapPf = 101,
  SnapEpt = 102, SnapFills = 103, SnapPtw = 104, SnapCyc = 105,
  // why the last call stopped: reason, GPPN, virtual page, pmap FAULT_* code
  RGppn = 110, RVp = 111, RCode = 112,
  // resumable batches: cursor and results of the one in progress
  Cursor = 114, BatchN = 115, PendGppn = 116,
  // the oracle: bytes compared, pages that differ, the first GPPN that differs
  VerifyBytes = 117, VerifyBad = 118, VerifyFirst = 119,
  // options: bit 0 the guest zeroes pages it frees
  Options = 120,
  // second count of a batch with two outputs (release: swap slots given back)
  BatchM = 121,
  COUNT = 128,
}
if (DEBUG) assert(<u32>S.COUNT * 8 <= SIM_VM);

let vmsAt: usize = 0;
let vpagesAt: usize = 0;
let ownersAt: usize = 0;
let aliasAt: usize = 0;
let blocksAt: usize = 0;
let scratchAt: usize = 0;
let nowMs: u32 = 0;

/** Lays out region sim (its size: ram/memmap.ts simRegionBytes); called once by init. */
export function simInit(maxVMs: u32, guestPages: u32): void {
  vmsAt = regionOffset(Region.Sim);
  vpagesAt = vmsAt + <usize>maxVMs * SIM_VM;
  ownersAt = vpagesAt + <usize>guestPages * 8;
  aliasAt = (ownersAt + <usize>guestPages * 4 + 7) & ~7;
  blocksAt = aliasAt + <usize>guestPages * 8;
  scratchAt = (blocksAt + (<usize>(guestPages / BLOCK_PAGES) + maxVMs) * SIM_BLOCK_ENTRY + PAGE_SIZE - 1) & ~(<usize>PAGE_SIZE - 1);
  nowMs = 0;
}

/** Address of VM `vm`'s header. */
// @ts-ignore: decorator
@inline export function hdr(vm: u32): usize { return vmsAt + <usize>vm * SIM_VM; }
// @ts-ignore: decorator
@inline export function sget(h: usize, f: S): u64 { return load<u64>(h + (<usize>f << 3)); }
// @ts-ignore: decorator
@inline export function sset(h: usize, f: S, v: u64): void { store<u64>(h + (<usize>f << 3), v); }
// @ts-ignore: decorator
@inline export function sadd(h: usize, f: S, v: u64): void { store<u64>(h + (<usize>f << 3), load<u64>(h + (<usize>f << 3)) + v); }
// @ts-ignore: decorator
@inline export function fget(h: usize, f: S): f64 { return load<f64>(h + (<usize>f << 3)); }
// @ts-ignore: decorator
@inline export function fset(h: usize, f: S, v: f64): void { store<f64>(h + (<usize>f << 3), v); }
// @ts-ignore: decorator
@inline export function fadd(h: usize, f: S, v: f64): void { store<f64>(h + (<usize>f << 3), load<f64>(h + (<usize>f << 3)) + v); }

/** Address of the loc|version word of virtual page `vp` of the VM whose header is `h`. */
// @ts-ignore: decorator
@inline export function vpAddr(h: usize, vp: u32): usize { return vpagesAt + ((<usize>sget(h, S.Base) + vp) << 3); }
/** Address of the owner word of `gppn`. */
// @ts-ignore: decorator
@inline export function ownerAddr(h: usize, gppn: u32): usize { return ownersAt + ((<usize>sget(h, S.Base) + gppn) << 2); }
/** Owner kind of an owner word. */
// @ts-ignore: decorator
@inline export function okind(o: u32): u32 { return o >> O_SHIFT; }
/** Owner word of `kind` with `index`. */
// @ts-ignore: decorator
@inline export function oword(kind: u32, index: u32): u32 { return (kind << O_SHIFT) | (index & O_INDEX); }
/** Address of alias table entry `i` of the VM. */
// @ts-ignore: decorator
@inline export function aliasAddr(h: usize, i: u32): usize { return aliasAt + ((<usize>sget(h, S.Base) + i) << 3); }
/** Address of the block word of block `b` of the VM. */
// @ts-ignore: decorator
@inline export function blockAddr(h: usize, b: u32): usize { return blocksAt + ((<usize>sget(h, S.BlockBase) + b) << 3); }

/** Sets the owner of `gppn` to `word`, keeping the per-kind counts. */
export function setOwner(h: usize, gppn: u32, word: u32): void {
  const a = ownerAddr(h, gppn);
  const old = okind(load<u32>(a)), now = okind(word);
  if (old != now) {
    sset(h, S.Owned + old, sget(h, S.Owned + old) - 1);
    sset(h, S.Owned + now, sget(h, S.Owned + now) + 1);
  }
  store<u32>(a, word);
}

/** The oracle's two scratch pages. */
// @ts-ignore: decorator
@inline export function scratch(i: u32): usize { return scratchAt + (<usize>i << 12); }

/** The simulated time in milliseconds (free page reporting ages blocks with it). */
// @ts-ignore: decorator
@inline export function simNow(): u32 { return nowMs; }
/** Sets the simulated time, milliseconds. */
export function simSetNow(ms: u32): void { nowMs = ms; }

/** A guest swap victim (guestSwapSelect lists them, guestSwapCommit takes the list): its GPPN and the virtual page it holds. */
export const VICTIM_ENTRY: u32 = 8;
export const enum Victim { Gppn = 0, Vp = 4 }
/** A virtual page in guest swap (simVerifyGuestList lists them, simVerifyVpages takes the list): the page and its guest swap slot. */
export const GUEST_SLOT_ENTRY: u32 = 8;
export const enum GuestSlot { Vp = 0, Slot = 4 }

// Why a resumable call stopped (the touch loop and every guest batch return one of these).
/** finished (the step's touches, or the batch) */
export const R_DONE: u32 = 0;
/** a pmap fault TypeScript must resolve (RCode: FAULT_IO / FAULT_NO_FRAME / FAULT_LIMIT at RGppn), then call again */
export const R_HOST: u32 = 1;
/** the guest has no free page: TypeScript has it reclaim (drop cache, swap), then calls again */
export const R_GUEST_FREE: u32 = 2;
/** the touched virtual page RVp is in guest swap: TypeScript reads it and calls guestSwapIn, then again */
export const R_GUEST_SWAPIN: u32 = 3;
/** something the model cannot go on from (the guest OS model's page-table range is full) */
export const R_ERROR: u32 = 4;
/** the batch filled its output lists: TypeScript takes them and calls again */
export const R_MORE: u32 = 5;

/** Sets entry `i` of `vm`'s content mix: workload pages whose 32-bit hash is <= `threshold` (and above the previous entry's) are of `kind`, image `img`. */
export function simSetMix(vm: u32, i: u32, threshold: u32, kind: u32, img: u32): void {
  if (i >= 8) return;
  const h = hdr(vm);
  sset(h, <S>(<u32>S.Mix + i), <u64>threshold | (<u64>(kind & 0xFF) << 32) | (<u64>(img & 0xFF) << 40));
  if (i + 1 > <u32>sget(h, S.MixCount)) sset(h, S.MixCount, i + 1);
}

/** The guest swap slot holding virtual page `vp` of `vm`, or NONE when the page is not in guest swap. */
export function guestSwapSlot(vm: u32, vp: u32): u32 {
  const h = hdr(vm);
  if (vp >= <u32>sget(h, S.VPages)) return NONE;
  const lo = load<u32>(vpAddr(h, vp));
  return (lo & SWAPPED) && (lo & LOC_MASK) != NO_LOC ? lo & LOC_MASK : NONE;
}
