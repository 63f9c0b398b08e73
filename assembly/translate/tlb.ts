/**
 * tlb: set-associative translation caches with true LRU. One structure serves every cache of a
 * simulated core: L1 iTLB, L1 dTLB, unified L2 TLB, the guest and nested page-walk caches (PWC)
 * and the nested TLB (gPA -> hPA). Entries live in region mmuCache; each cache is described by a
 * 32-byte descriptor inside its MMU context (walk.ts).
 *
 * Descriptor (CDESC = 32 bytes):
 *   +0  u32 base     linear address of way 0 of set 0
 *   +4  u32 sets     number of sets (any positive integer)
 *   +8  u32 ways     associativity
 *   +12 u32 mask     sets - 1 when sets is a power of two, else MASK_MOD (use the remainder)
 *   +16 u64 clock    LRU clock: stamp of the most recent use
 *   +24 u32 large    valid entries with class > 0 (lets lookups skip large-page probes)
 *   +28 u32 on       1 if the cache holds entries (0 entries = switched off)
 *
 * Entry (CENTRY = 32 bytes), `sets` x `ways` of them, set-major:
 *
 *   +0  u64 key    tag << 4 | class << 1 | VALID      (key 0 = invalid)
 *   +8  u32 asid   address-space tag: vpid << 12 | pcid for TLBs and guest PWC, VM id for
 *                  the nested TLB and nested PWC
 *   +12 u32 flags  permission bits of the cached translation (owner-defined, see walk.ts)
 *   +16 u64 value  TLB / nTLB: page frame number of the target page base; PWC: the raw entry
 *   +24 u64 stamp  LRU stamp (larger = more recent; 0 = never used)
 *
 * Placement: an entry of class `cls` with tag `t` sits in set (t mod sets). For TLBs the class
 * is the page size (0 = 4 KiB, 1 = 2 MiB, 2 = 1 GiB) and the tag is the page number at that
 * size (va >> 12, va >> 21, va >> 30), so a 2 MiB entry sits in the set of its 2 MiB page
 * number. For PWCs the class is the paging level of the cached entry.
 *
 * Invariants: within one set, a (key, asid) pair appears at most once (fills overwrite a
 * matching entry in place); `large` equals the number of valid entries with class > 0; LRU
 * victims are the first invalid way, else the way with the smallest stamp.
 */

export const CDESC: u32 = 32;
export const CENTRY: u32 = 32;
const MASK_MOD: u32 = 0xFFFFFFFF;
const VALID: u64 = 1;

// ---- descriptor fields ----------------------------------------------------------------------

// @ts-ignore: decorator
@inline function dBase(d: usize): usize { return <usize>load<u32>(d); }
// @ts-ignore: decorator
@inline export function cacheOn(d: usize): bool { return load<u32>(d, 28) != 0; }
// @ts-ignore: decorator
@inline export function cacheLarge(d: usize): u32 { return load<u32>(d, 24); }
/** Entries held by the cache (sets x ways). */
export function cacheEntries(d: usize): u32 { return load<u32>(d, 4) * load<u32>(d, 8); }

/** Makes `d` describe an empty cache of `sets` x `ways` entries at `base` (0 entries: off). */
export function cacheSetup(d: usize, base: usize, sets: u32, ways: u32): void {
  store<u32>(d, <u32>base);
  store<u32>(d, sets, 4);
  store<u32>(d, ways, 8);
  store<u32>(d, sets != 0 && (sets & (sets - 1)) == 0 ? sets - 1 : MASK_MOD, 12);
  store<u64>(d, 0, 16);
  store<u32>(d, 0, 24);
  store<u32>(d, sets * ways != 0 ? 1 : 0, 28);
  memory.fill(base, 0, <usize>sets * ways * CENTRY);
}

/** Address of way 0 of the set that holds `tag`. */
// @ts-ignore: decorator
@inline function setOf(d: usize, tag: u64): usize {
  const mask = load<u32>(d, 12);
  const set = mask != MASK_MOD ? <u32>tag & mask : <u32>(tag % <u64>load<u32>(d, 4));
  return dBase(d) + <usize>set * load<u32>(d, 8) * CENTRY;
}

/** Key of an entry of class `cls` with `tag`. */
// @ts-ignore: decorator
@inline export function cacheKey(tag: u64, cls: u32): u64 { return (tag << 4) | (<u64>cls << 1) | VALID; }

/** Gives `e` the next LRU stamp (a u64 clock: it never wraps in a simulation's lifetime). */
// @ts-ignore: decorator
@inline export function cacheTouch(d: usize, e: usize): void {
  const clk = load<u64>(d, 16) + 1;
  store<u64>(d, clk, 16);
  store<u64>(e, clk, 24);
}

/** The way holding (tag, cls, asid), or 0; does not touch LRU state. */
// @ts-ignore: decorator
@inline export function cacheFind(d: usize, tag: u64, cls: u32, asid: u32): usize {
  const key = cacheKey(tag, cls);
  const ways = load<u32>(d, 8);
  let e = setOf(d, tag);
  const end = e + <usize>ways * CENTRY;
  for (; e < end; e += CENTRY) {
    if (load<u64>(e) == key && load<u32>(e, 8) == asid) return e;
  }
  return 0;
}

/**
 * Installs (tag, cls, asid) -> (flags, value) as the most recently used way of its set,
 * overwriting a matching entry, else the first invalid way, else the LRU way. Returns the way.
 */
export function cacheFill(d: usize, tag: u64, cls: u32, asid: u32, flags: u32, value: u64): usize {
  const key = cacheKey(tag, cls);
  const ways = load<u32>(d, 8);
  const w0 = setOf(d, tag);
  let victim: usize = 0;
  let free: usize = 0;
  let oldest: u64 = 0xFFFFFFFFFFFFFFFF;
  for (let i: u32 = 0; i < ways; i++) {
    const e = w0 + <usize>i * CENTRY;
    const k = load<u64>(e);
    if (k == key && load<u32>(e, 8) == asid) { victim = e; free = e; break; }
    if (k == 0) { if (free == 0) free = e; continue; }
    const st = load<u64>(e, 24);
    if (st < oldest) { oldest = st; victim = e; }
  }
  const e = free != 0 ? free : victim;
  if (DEBUG) assert(e != 0, "cacheFill: a set with no ways");
  const old = load<u64>(e);
  if (old != 0 && ((<u32>old >> 1) & 7) != 0) store<u32>(d, load<u32>(d, 24) - 1, 24);
  if (cls != 0) store<u32>(d, load<u32>(d, 24) + 1, 24);
  store<u64>(e, key);
  store<u32>(e, asid, 8);
  store<u32>(e, flags, 12);
  store<u64>(e, value, 16);
  cacheTouch(d, e);
  return e;
}

/** Invalidates way `e`. */
export function cacheDrop(d: usize, e: usize): void {
  const k = load<u64>(e);
  if (k == 0) return;
  if (((<u32>k >> 1) & 7) != 0) {
    if (DEBUG) assert(load<u32>(d, 24) > 0, "cacheDrop: large-entry count underflow");
    store<u32>(d, load<u32>(d, 24) - 1, 24);
  }
  store<u64>(e, 0);
  store<u64>(e, 0, 24);
}

/** Invalidates (tag, cls, asid) if present; returns true if it was. */
export function cacheDropTag(d: usize, tag: u64, cls: u32, asid: u32): bool {
  if (!cacheOn(d)) return false;
  const e = cacheFind(d, tag, cls, asid);
  if (e == 0) return false;
  cacheDrop(d, e);
  return true;
}

/** Invalidates the entries of (tag, cls) whose asid & `mask` == `match`. */
export function cacheDropTagMasked(d: usize, tag: u64, cls: u32, match: u32, mask: u32): void {
  if (!cacheOn(d)) return;
  const key = cacheKey(tag, cls);
  const ways = load<u32>(d, 8);
  let e = setOf(d, tag);
  const end = e + <usize>ways * CENTRY;
  for (; e < end; e += CENTRY) {
    if (load<u64>(e) == key && (load<u32>(e, 8) & mask) == match) cacheDrop(d, e);
  }
}

/** Invalidates every entry whose asid & `mask` == `match` (mask 0: every entry). Returns the count. */
export function cacheFlushAsid(d: usize, match: u32, mask: u32): u32 {
  const n = cacheEntries(d);
  let dropped: u32 = 0;
  let e = dBase(d);
  for (let i: u32 = 0; i < n; i++, e += CENTRY) {
    if (load<u64>(e) != 0 && (load<u32>(e, 8) & mask) == match) { cacheDrop(d, e); dropped++; }
  }
  return dropped;
}

/**
 * Invalidates every entry whose target pages [value, value + pages(class)) overlap the frames
 * [lo, hi) (page frame numbers). Used by coherence: drops TLB entries that reach old frames.
 */
export function cacheFlushFrames(d: usize, lo: u64, hi: u64): u32 {
  const n = cacheEntries(d);
  let dropped: u32 = 0;
  let e = dBase(d);
  for (let i: u32 = 0; i < n; i++, e += CENTRY) {
    const k = load<u64>(e);
    if (k == 0) continue;
    const v = load<u64>(e, 16);
    const span: u64 = <u64>1 << (9 * ((<u32>k >> 1) & 7));
    if (v < hi && v + span > lo) { cacheDrop(d, e); dropped++; }
  }
  return dropped;
}

/** Valid entries currently held (for tests and stats). */
export function cacheValid(d: usize): u32 {
  const n = cacheEntries(d);
  let c: u32 = 0;
  let e = dBase(d);
  for (let i: u32 = 0; i < n; i++, e += CENTRY) if (load<u64>(e) != 0) c++;
  return c;
}
