/**
 * sharing: transparent page sharing (TPS). A scanner visits guest pages under a page budget,
 * hashes each private page, looks the hash up in one table, and on a hit compares the pages
 * in full and merges them copy-on-write into one frame.
 *
 * How a page gets shared (one pass visits every pmap entry once):
 *
 *   visit private page P (hash h, salt s)
 *     zero?                    -> map P to the domain's zero frame (Zero state); the first zero
 *                                 page of a domain becomes that frame
 *     shared entry (h, s) with equal contents -> map P to it (Shared), free P's frame
 *     hint entry (h, s)        -> re-validate: the hinted frame must still be private, mapped by
 *                                 the page it names, in salt s, and equal to P in full; then it
 *                                 turns into a shared entry and P maps to it
 *     nothing                  -> insert a hint for P: "seen once, not yet shared"
 *
 * Hints are not kept up to date when their page changes or goes away (a guest write does not
 * fault): they are re-validated on use and dropped at the end of each pass (but large pages', below), as KSM rebuilds
 * its unstable tree per full scan. Shared frames cannot change (they are mapped read-only), so
 * their entries stay exact and are removed when the frame's last user leaves.
 *
 * Sharing table (region shareTable, SHARE_ENTRY = 16 bytes, power-of-two entries, linear
 * probing; removal shifts later entries back, so there are no tombstones):
 *
 *   +0  u64 key    page hash mixed with the salt (pages of different salts rarely collide, and
 *                  a collision is still told apart by the salt check)
 *   +8  u32 mpn    shared frame, or the hinted private frame
 *   +12 u32 type   0 empty, 1 shared, 2 hint
 *
 * A shared frame's table entry holds no reference: its reference count is the number of pmap
 * entries (Shared or Zero) naming it. Its frame link is SHARED_OWNER and its aux is its salt.
 *
 * Large pages (large.ts) are not merged: the scanner hashes each page of a LARGE group, leaves
 * a hint for it (one per page: a pass's end keeps it, a later visit replaces it if the page
 * changed) and records the hash's home slot in its pmap entry, so that when the group is
 * broken (largeBreak with merge) each page is merged at once with an equal page of its domain
 * (mergeBrokenPage), probing from the recorded slot and comparing in full, without hashing it
 * again, as ESX computes the small pages' hashes while it scans large pages.
 *
 * Most users per frame (KSM max_page_sharing): with a cap, a shared frame with that many users
 * takes no more; an equal page then starts a new shared frame (through a hint, or at once for a
 * zero page), as KSM chains stable nodes. 0: no cap (ESX).
 *
 * Scan order: sequential (KSM) or random (ESX). A random pass walks a bijection of
 * [0, 2^k) (multiply by an odd number, xor-shift, multiply again, all mod 2^k) and skips the
 * indices past the last pmap entry, so every page is still visited exactly once per pass.
 *
 * Invariants:
 *   - only pages of the same salt share a frame (every mapper's salt == the frame's aux);
 *   - each shared frame has exactly one shared entry, found from its key's home slot;
 *   - live entries <= half the table: shared entries <= frames <= table / 4, and hints are
 *     inserted only while the table is less than half full;
 *   - with a cap, no shared frame has more users than the cap.
 */

import { Region, regionOffset, regionSize, SHARE_ENTRY } from "../ram/memmap";
import {
  frameAddr, frameGet, framePut, frameRefs, frameKind, frameLink, frameAux, frameSetLink, frameSetAux,
  framesTotal, FrameKind,
} from "../ram/frames";
import {
  PState, vmTotal, vmPages, vmSalt, vmEntry, pmapEntries, pmapAddr, pmapSet, pentry, pstate, pframe,
  ACCESSED, DIRTY, PENDING, SHARED_OWNER, LARGE, SEEN, HOME_MASK, HOME_SHIFT,
} from "./pmap";
import { pageIsZero, pageEqual } from "../ram/page";
import { pageHash } from "../codec/hash";
import { backingChanged, eptLargeBacked } from "./hook";
import { rand64 } from "../ram/prng";
import { Call, callSet } from "../ram/callctx";

const EMPTY: u32 = 0;
const T_SHARED: u32 = 1;
const T_HINT: u32 = 2;
const NONE: u32 = 0xFFFFFFFF;

/** Scan orders. */
export const SCAN_SEQUENTIAL: u32 = 0;
export const SCAN_RANDOM: u32 = 1;

let mask: u32 = 0;
let shared: u32 = 0;
let hints: u32 = 0;
let zeroHash: u64 = 0;
let zeroHashKnown = false;

// scanner position and counters
let order: u32 = SCAN_SEQUENTIAL;
let passStarted = false;
let cursor: u32 = 0;
let passLen: u32 = 0;
let passTotal: u32 = 0;
let mul1: u32 = 1, mul2: u32 = 1, add1: u32 = 0, shift: u32 = 1;
let fullScans: u64 = 0;
let volatilePages: u64 = 0;
let scannedPages: u64 = 0;
let mergedPages: u64 = 0;
let largeSkipped: u64 = 0;
let lastScanned: u32 = 0;
let lastMerged: u32 = 0;
let maxSharing: u32 = 0;
let largeHashed: u64 = 0;
let brokenMerged: u64 = 0;

/** Sets the most users a shared frame may have (KSM max_page_sharing, at least 2; 0: no cap). */
export function sharingSetMaxSharing(n: u32): void { maxSharing = n == 1 ? 2 : n; }
/** The cap on users per shared frame (0: none). */
export function sharingMaxSharing(): u32 { return maxSharing; }
/** The most users any shared frame has now (a cap below it would be broken at once). */
export function sharingMaxUsers(): u32 {
  let most: u32 = 0;
  for (let i: u32 = 0; i <= mask; i++) if (ttype(i) == T_SHARED) most = max<u32>(most, frameRefs(tmpn(i)));
  return most;
}
/** Pages of large groups hashed by the scanner (cumulative). */
export function sharingLargeHashed(): f64 { return <f64>largeHashed; }
/** Pages merged when their large group was broken (cumulative). */
export function sharingBrokenMerged(): f64 { return <f64>brokenMerged; }
/** True if shared frame `m` may take another user. */
// @ts-ignore: decorator
@inline function hasRoom(m: u32): bool { return maxSharing == 0 || frameRefs(m) < maxSharing; }

/** Visits gathered before any of them is made (see scanBatch). */
const BATCH: u32 = 16;
const BATCH_IDX = memory.data(<i32>BATCH * 4, 4);
const BATCH_VM = memory.data(<i32>BATCH * 4, 4);
const BATCH_G = memory.data(<i32>BATCH * 4, 4);
const BATCH_MPN = memory.data(<i32>BATCH * 4, 4);
const BATCH_HASH = memory.data(<i32>BATCH * 8, 8);
const BATCH_ZERO = memory.data(<i32>BATCH, 1);
let touchSink: u64 = 0;

// @ts-ignore: decorator
@inline function slot(i: u32): usize { return regionOffset(Region.ShareTable) + (<usize>i << 4); }
// @ts-ignore: decorator
@inline function tkey(i: u32): u64 { return load<u64>(slot(i)); }
// @ts-ignore: decorator
@inline function tmpn(i: u32): u32 { return load<u32>(slot(i), 8); }
// @ts-ignore: decorator
@inline function ttype(i: u32): u32 { return load<u32>(slot(i), 12); }
/** Table key of a page with hash `h` in sharing domain `salt`. */
// @ts-ignore: decorator
@inline function keyOf(h: u64, salt: u32): u64 { return h ^ ((<u64>salt + 1) * 0x9E3779B97F4A7C15); }
/** Home slot of `key`. */
// @ts-ignore: decorator
@inline function home(key: u64): u32 { return <u32>(key ^ (key >> 32)) & mask; }

/** Sets up the empty table over region shareTable; called once by init. */
export function sharingInit(): void {
  mask = <u32>(regionSize(Region.ShareTable) >> 4) - 1;
  memory.fill(regionOffset(Region.ShareTable), 0, regionSize(Region.ShareTable));
  shared = 0;
  hints = 0;
  passStarted = false;
  cursor = passLen = passTotal = 0;
  fullScans = volatilePages = scannedPages = mergedPages = 0;
}

/** Hash of the page at `addr` (the zero page's hash is computed once). */
function hashOf(addr: usize, zero: bool): u64 {
  if (!zero) return pageHash(addr);
  if (!zeroHashKnown) {
    zeroHash = pageHash(addr);
    zeroHashKnown = true;
  }
  return zeroHash;
}

/** Writes an entry into the first empty slot of `key`'s probe sequence. */
function insert(key: u64, mpn: u32, type: u32): void {
  let i = home(key);
  while (ttype(i) != EMPTY) i = (i + 1) & mask;
  const a = slot(i);
  store<u64>(a, key);
  store<u32>(a, mpn, 8);
  store<u32>(a, type, 12);
}

/** Removes entry `i`, shifting later entries of the cluster back so every probe still finds them. */
function removeAt(i: u32): void {
  let j = i;
  while (true) {
    j = (j + 1) & mask;
    if (ttype(j) == EMPTY) break;
    const k = home(tkey(j));
    // entry j stays if its home lies cyclically in (i, j]
    const stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
    if (stays) continue;
    memory.copy(slot(i), slot(j), SHARE_ENTRY);
    i = j;
  }
  memory.fill(slot(i), 0, SHARE_ENTRY);
}

/** Index of the shared entry of frame `mpn` (whose contents hash to `key`), or NONE. */
function findShared(key: u64, mpn: u32): u32 {
  let i = home(key);
  while (ttype(i) != EMPTY) {
    if (ttype(i) == T_SHARED && tmpn(i) == mpn) return i;
    i = (i + 1) & mask;
  }
  return NONE;
}

/** Removes the table entry of shared frame `mpn`, whose last user is leaving. */
function forget(mpn: u32): void {
  const addr = frameAddr(mpn);
  const key = keyOf(hashOf(addr, pageIsZero(addr)), frameAux(mpn));
  const i = findShared(key, mpn);
  assert(i != NONE, "sharing: shared frame missing from the table");
  removeAt(i);
  shared--;
}

/** Drops one user's reference to shared frame `mpn`; the table forgets it with its last user. */
export function sharedRelease(mpn: u32): void {
  if (DEBUG) assert(frameLink(mpn) == SHARED_OWNER, "sharedRelease: frame is not shared");
  if (frameRefs(mpn) == 1) forget(mpn);
  framePut(mpn);
}

/** The last user of shared frame `mpn` takes it back as private (caller sets link and aux). */
export function sharedTakeBack(mpn: u32): void {
  if (DEBUG) assert(frameRefs(mpn) == 1 && frameLink(mpn) == SHARED_OWNER, "sharedTakeBack: frame has other users");
  forget(mpn);
}

/** Shared frames in the table, zero frames included (KSM pages_shared). */
export function sharedCount(): u32 { return shared; }
/** Hint entries in the table (KSM pages_unshared: seen once, not shared; some may be stale). */
export function sharingHints(): u32 { return hints; }
/** Completed passes over every guest page (KSM full_scans). */
export function sharingFullScans(): f64 { return <f64>fullScans; }
/** Pages found written since the scanner's previous visit (KSM pages_volatile, cumulative). */
export function sharingVolatile(): f64 { return <f64>volatilePages; }
/** Pages visited by the scanner (cumulative). */
export function sharingScanned(): f64 { return <f64>scannedPages; }
/** Pages merged into a shared or zero frame (cumulative). */
export function sharingMerged(): f64 { return <f64>mergedPages; }
/** Visits that left a page alone because a large EPT leaf maps it (cumulative). */
export function sharingLargeSkipped(): f64 { return <f64>largeSkipped; }
/** Capacity of the table in entries. */
export function sharingCapacity(): u32 { return mask + 1; }
/** Pages a full pass visits (pmap entries at the start of the current pass). */
export function sharingPassPages(): u32 { return passStarted ? passTotal : pmapEntries(); }
/** Position of the scanner in its pass (visits done, or permutation index in a random pass). */
export function sharingCursor(): u32 { return cursor; }

/**
 * Drops every hint (end of a pass) but those of pages of large groups, which the scanner keeps
 * one each (hashLarge) so that breaking a group can still find them; re-checks a slot after a
 * removal shifted an entry into it.
 */
function dropHints(): void {
  for (let i: u32 = 0; i <= mask; ) {
    if (ttype(i) == T_HINT && !largeHint(tmpn(i))) {
      removeAt(i);
      hints--;
    } else {
      i++;
    }
  }
  if (DEBUG) {
    // recounted after the sweep: a removal near the end of the table may shift a wrapped entry
    // from its start to the slot being swept, so counting during the sweep could count it twice
    let kept: u32 = 0;
    for (let i: u32 = 0; i <= mask; i++) if (ttype(i) == T_HINT) kept++;
    assert(hints == kept, "dropHints: hint count drifted");
  }
}

/** True if `m` is the private frame of a page of a large group (its hint outlives a pass). */
function largeHint(m: u32): bool {
  if (m >= framesTotal() || frameKind(m) != <u32>FrameKind.Guest || frameRefs(m) != 1) return false;
  const vm = frameLink(m), g = frameAux(m);
  if (vm >= vmTotal() || g >= vmPages(vm)) return false;
  const e = load<u64>(pmapAddr(vm, g));
  return (e & LARGE) != 0 && pframe(e) == m;
}

/** Ends the current pass (counting it when `complete`) and starts the next one. */
function newPass(complete: bool): void {
  if (complete) fullScans++;
  dropHints();
  passTotal = pmapEntries();
  cursor = 0;
  if (order == SCAN_RANDOM) {
    let bits: u32 = 1;
    while ((<u64>1 << bits) < <u64>passTotal) bits++;
    passLen = passTotal == 0 ? 0 : <u32>(<u64>1 << bits);
    mul1 = <u32>rand64() | 1;
    mul2 = <u32>rand64() | 1;
    add1 = <u32>rand64();
    shift = max<u32>(1, bits >> 1);
  } else {
    passLen = passTotal;
  }
  passStarted = true;
}

/** Position `i` of the current pass as a pmap index (>= passTotal: skip). */
// @ts-ignore: decorator
@inline function permute(i: u32): u32 {
  if (order != SCAN_RANDOM) return i;
  const m = passLen - 1;
  let x = (i * mul1 + add1) & m;
  x ^= x >> shift; // a xor-shift is a bijection on k-bit values
  return (x * mul2) & m;
}

/** VM owning pmap index `idx` (VMs' pmap ranges are consecutive, in creation order). */
function vmOf(idx: u32): u32 {
  let lo: u32 = 0, hi = vmTotal() - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (load<u32>(vmEntry(mid)) <= idx) lo = mid; else hi = mid - 1;
  }
  return lo;
}

/** True if hint frame `m` is still the private frame of a Mapped page of `salt`, other than `own`. */
function hintValid(m: u32, salt: u32, own: u32): bool {
  if (m == own || m >= framesTotal() || frameKind(m) != <u32>FrameKind.Guest || frameRefs(m) != 1) return false;
  const vm = frameLink(m), g = frameAux(m);
  if (vm >= vmTotal() || g >= vmPages(vm) || vmSalt(vm) != salt) return false;
  const e = load<u64>(pmapAddr(vm, g));
  return pstate(e) == <u32>PState.Mapped && pframe(e) == m && !(e & (PENDING | LARGE));
}

/** Maps Mapped (vm, g) at `p` to shared frame `m`, freeing its own frame. */
function mergeInto(vm: u32, g: u32, p: usize, e: u64, m: u32, zero: bool): void {
  frameGet(m);
  const r = framePut(pframe(e));
  if (DEBUG) assert(r == 0, "mergeInto: private frame had other references");
  pmapSet(vm, p, e, pentry(zero ? PState.Zero : PState.Shared, m) | (e & (ACCESSED | SEEN)));
  backingChanged(vm, g);
  mergedPages++;
  lastMerged++;
}

/** Turns the private frame of Mapped (vm, g) into a shared frame of `salt` (it keeps its one user). */
function promote(vm: u32, g: u32, m: u32, salt: u32, zero: bool): void {
  const p = pmapAddr(vm, g);
  const e = load<u64>(p);
  frameSetLink(m, SHARED_OWNER);
  frameSetAux(m, salt);
  pmapSet(vm, p, e, pentry(zero ? PState.Zero : PState.Shared, m) | (e & (ACCESSED | SEEN)));
  backingChanged(vm, g); // it loses write permission
  shared++;
}

/**
 * Visits (vm, g): merges it with an equal page of its domain, or leaves a hint. `known` is the
 * frame whose `hash` and `zero` the batch computed ahead (NONE: none); frames do not change
 * during a scanner step, so they hold for the page as long as it is still backed by that frame.
 */
function scanPage(vm: u32, g: u32, known: u32, hash: u64, knownZero: bool): void {
  const p = pmapAddr(vm, g);
  let e = load<u64>(p);
  if (pstate(e) != <u32>PState.Mapped || (e & PENDING)) return;
  if (!(e & LARGE) && eptLargeBacked(vm, g)) { largeSkipped++; return; }
  if (e & DIRTY) {
    volatilePages++;
    e &= ~DIRTY;
    store<u64>(p, e);
  }
  const mpn = pframe(e);
  const addr = frameAddr(mpn);
  const salt = vmSalt(vm);
  let zero = knownZero;
  if (mpn != known) {
    zero = pageIsZero(addr);
    hash = hashOf(addr, zero);
  }
  if (e & LARGE) { hashLarge(vm, p, e, keyOf(hash, salt)); return; }
  const key = keyOf(hash, salt);
  let i = home(key);
  while (ttype(i) != EMPTY) {
    if (tkey(i) == key) {
      const m = tmpn(i);
      if (ttype(i) == T_SHARED) {
        if (frameAux(m) == salt && hasRoom(m) && pageEqual(frameAddr(m), addr)) {
          mergeInto(vm, g, p, e, m, zero);
          return;
        }
      } else if (m == mpn) {
        return; // this page's own hint: nothing to merge with yet
      } else if (!hintValid(m, salt, mpn)) {
        removeAt(i); // stale: the next entry of the cluster may now sit at i
        hints--;
        continue;
      } else if (pageEqual(frameAddr(m), addr)) {
        store<u32>(slot(i), T_SHARED, 12);
        hints--;
        promote(frameLink(m), frameAux(m), m, salt, zero);
        mergeInto(vm, g, p, e, m, zero);
        return;
      }
    }
    i = (i + 1) & mask;
  }
  if (zero) {
    insert(key, mpn, T_SHARED);
    promote(vm, g, mpn, salt, true);
  } else if ((shared + hints) < ((mask + 1) >> 1)) {
    insert(key, mpn, T_HINT);
    hints++;
  }
}

/**
 * Visits a page of a large group: hashes it, leaves a hint (if the table has room and the page
 * has none) and records the hash's home slot in its entry, without merging it (large pages are
 * not shared). Home slot 0 is not recorded (0 means "not hashed"): that page waits for the scanner.
 */
function hashLarge(vm: u32, p: usize, e: u64, key: u64): void {
  const mpn = pframe(e);
  const h = home(key);
  largeHashed++;
  // its hint from an earlier visit: still right, or replaced (the page was written since)
  const was = <u32>((e & HOME_MASK) >> HOME_SHIFT);
  if (was != 0) {
    for (let i = was & mask; ttype(i) != EMPTY; i = (i + 1) & mask) {
      if (ttype(i) != T_HINT || tmpn(i) != mpn) continue;
      if (tkey(i) == key) return;
      removeAt(i);
      hints--;
      break;
    }
  }
  store<u64>(p, (e & ~HOME_MASK) | (<u64>h << HOME_SHIFT));
  if ((shared + hints) < ((mask + 1) >> 1)) {
    insert(key, mpn, T_HINT);
    hints++;
  }
}

/**
 * Merges (vm, g), a page of a large group just broken, with an equal page of its domain, found
 * by probing from `h`, the home slot its hash had when the scanner visited it (entries of other
 * homes are skipped; contents are compared in full, so a page written since finds nothing).
 * A shared frame with room takes it; else a valid hint of another small page is promoted and
 * takes it (the one page hashed here: the hinted page, to check its hint is not stale, since a
 * shared entry must sit under its contents' true key). Returns true if it merged.
 */
export function mergeBrokenPage(vm: u32, g: u32, h: u32): bool {
  const p = pmapAddr(vm, g);
  const e = load<u64>(p);
  if (pstate(e) != <u32>PState.Mapped || (e & (PENDING | LARGE))) return false;
  const mpn = pframe(e);
  const addr = frameAddr(mpn);
  const salt = vmSalt(vm);
  const zeroKey = zeroHashKnown ? keyOf(zeroHash, salt) : 0;
  const at = h & mask;
  let i = at;
  while (ttype(i) != EMPTY) {
    const key = tkey(i);
    if (home(key) != at) { i = (i + 1) & mask; continue; }
    const m = tmpn(i);
    if (ttype(i) == T_SHARED) {
      // a shared frame never changes: its key is exact
      if (frameAux(m) == salt && hasRoom(m) && pageEqual(frameAddr(m), addr)) {
        mergeInto(vm, g, p, e, m, zeroHashKnown && key == zeroKey);
        brokenMerged++;
        return true;
      }
    } else if (m != mpn && hintValid(m, salt, mpn) && pageEqual(frameAddr(m), addr)) {
      // a hint's page may have changed since: it becomes a shared entry only under its true key
      const ma = frameAddr(m);
      const mz = pageIsZero(ma);
      if (keyOf(hashOf(ma, mz), salt) != key) {
        removeAt(i); // stale: the next entry of the cluster may now sit at i
        hints--;
        continue;
      }
      store<u32>(slot(i), T_SHARED, 12);
      hints--;
      promote(frameLink(m), frameAux(m), m, salt, mz);
      mergeInto(vm, g, p, e, m, mz);
      brokenMerged++;
      return true;
    }
    i = (i + 1) & mask;
  }
  return false;
}

/**
 * Visits (vm, g) now, out of the scanner's order, as reclaim does before it compresses or swaps
 * a page (share before swap). Returns true if the page is shared now: merged (its private frame
 * is free), or found all zero in a domain without a zero frame, so that it became that frame and
 * the zero victims after it merge into it (compressed or swapped, it would give the frame up and
 * the next zero victim would take its place the same way, a compression or a swap write each).
 */
export function sharePage(vm: u32, g: u32): bool {
  if (g >= vmPages(vm)) return false;
  const before = mergedPages;
  scanPage(vm, g, NONE, 0, false);
  return mergedPages != before || pstate(load<u64>(pmapAddr(vm, g))) == <u32>PState.Zero;
}

/**
 * Visits the `n` pages gathered in the batch (pmap indices at BATCH_IDX), in order. First it
 * asks for what they will touch: the pmap entries of all of them, in a random order the first
 * line of each frame, then (hashing each page meanwhile) the home slot of each key in the
 * table. These loads do not depend on one another, so in a random order their cache misses
 * overlap instead of coming one after another. The visits then run as before, with the hashes
 * computed here.
 *
 * Measured on 256 MiB of bench corpus (first pass, random order): 16 visits a batch took the
 * pass from ~87 to ~73 ms; 8 to 64 did about as well; asking for more lines of each page, or
 * for the frame a match would be compared with, made it slower. In page order the hardware
 * prefetcher already streams the frames, and asking for their first lines only got in its way
 * (+20%), so a sequential pass does not. The table slots are asked for after all the batch's
 * hashes, not between them: perf showed the scan waiting at each such load (the hash after it
 * filled the reorder buffer), and asking for them together took the first pass from 3.44 to
 * 3.91 GB/s in random order and from 5.85 to 6.59 GB/s in page order (paired, in one process).
 */
function scanBatch(n: u32): void {
  const pmap = regionOffset(Region.Pmap);
  const entries = pmapEntries();
  let sink: u64 = 0;
  for (let i: u32 = 0; i < n; i++) {
    const idx = load<u32>(BATCH_IDX + (<usize>i << 2));
    // a VM powered off during the pass left its range unused (or gave it back: past the end)
    let vm = NONE, g: u32 = 0;
    if (idx < entries) {
      vm = vmOf(idx);
      g = idx - load<u32>(vmEntry(vm));
      if (g >= vmPages(vm)) vm = NONE;
    }
    store<u32>(BATCH_VM + (<usize>i << 2), vm);
    store<u32>(BATCH_G + (<usize>i << 2), g);
    let m = NONE;
    if (vm != NONE) {
      const e = load<u64>(pmap + (<usize>idx << 3));
      if (pstate(e) == <u32>PState.Mapped && !(e & PENDING)) {
        m = pframe(e);
        if (order == SCAN_RANDOM) sink += load<u64>(frameAddr(m));
      }
    }
    store<u32>(BATCH_MPN + (<usize>i << 2), m);
  }
  for (let i: u32 = 0; i < n; i++) {
    const m = load<u32>(BATCH_MPN + (<usize>i << 2));
    if (m == NONE) continue;
    const a = frameAddr(m);
    const zero = pageIsZero(a);
    const h = hashOf(a, zero);
    store<u64>(BATCH_HASH + (<usize>i << 3), h);
    store<u8>(BATCH_ZERO + <usize>i, <u8>zero);
  }
  // the table slots of the whole batch, asked for back to back once every page is hashed, so
  // that their misses overlap: asked for between the hashes, each miss held up the hash after
  // it, whose work filled the reorder buffer behind the waiting load
  for (let i: u32 = 0; i < n; i++) {
    if (load<u32>(BATCH_MPN + (<usize>i << 2)) == NONE) continue;
    sink += tkey(home(keyOf(load<u64>(BATCH_HASH + (<usize>i << 3)), vmSalt(load<u32>(BATCH_VM + (<usize>i << 2))))));
  }
  touchSink ^= sink; // keeps the touching loads: their values are not otherwise used
  for (let i: u32 = 0; i < n; i++) {
    const vm = load<u32>(BATCH_VM + (<usize>i << 2));
    if (vm == NONE) continue;
    scanPage(vm, load<u32>(BATCH_G + (<usize>i << 2)), load<u32>(BATCH_MPN + (<usize>i << 2)),
      load<u64>(BATCH_HASH + (<usize>i << 3)), load<u8>(BATCH_ZERO + <usize>i) != 0);
  }
}

/**
 * One scanner step: visits at most `maxPages` pages in `scanOrder` (SCAN_*), continuing the
 * current pass and starting new ones as passes complete. Returns the pages visited (the pages
 * merged: callCtx.scanMerged).
 */
export function shareScan(maxPages: u32, scanOrder: u32): u32 {
  lastScanned = 0;
  lastMerged = 0;
  if (!passStarted || scanOrder != order) {
    order = scanOrder;
    newPass(false);
  }
  while (lastScanned < maxPages) {
    if (cursor >= passLen) {
      newPass(true);
      if (passLen == 0) break;
    }
    // the next visits of this pass, within the budget, then all of them at once
    let n: u32 = 0;
    while (n < BATCH && cursor < passLen && lastScanned + n < maxPages) {
      const idx = permute(cursor++);
      if (idx >= passTotal) continue;
      store<u32>(BATCH_IDX + (<usize>n << 2), idx);
      n++;
    }
    scanBatch(n);
    lastScanned += n;
  }
  scannedPages += lastScanned;
  // a budget that ends exactly at the end of a pass completes it now, not on the next call
  while (cursor < passLen && permute(cursor) >= passTotal) cursor++;
  if (passLen > 0 && cursor >= passLen) newPass(true);
  callSet(Call.ScanMerged, lastMerged);
  return lastScanned;
}

/** Frame named by the last entry sharingAudit looked at (the failing one when it fails). */
export let sharingAuditMpn: u32 = 0;

/**
 * Checks the table: counts by type, every shared entry reachable; with `deep`, also that each
 * shared frame still hashes to its key (costs a page hash per shared frame). 0 when consistent.
 */
export function sharingAudit(deep: bool): u32 {
  let s: u32 = 0, h: u32 = 0;
  for (let i: u32 = 0; i <= mask; i++) {
    const t = ttype(i);
    if (t == EMPTY) continue;
    sharingAuditMpn = tmpn(i);
    if (t == T_HINT) { h++; continue; }
    if (t != T_SHARED) return 1;
    s++;
    const m = tmpn(i);
    if (m >= framesTotal() || frameKind(m) != <u32>FrameKind.Guest || frameLink(m) != SHARED_OWNER || frameRefs(m) == 0) return 2;
    const addr = frameAddr(m);
    // the frame still holds the contents it was entered with, and this is its only entry
    if (deep && keyOf(hashOf(addr, pageIsZero(addr)), frameAux(m)) != tkey(i)) return 3;
    if (findShared(tkey(i), m) != i) return 4;
    if (maxSharing != 0 && frameRefs(m) > maxSharing) return 6;
  }
  if (s != shared || h != hints) return 5;
  return 0;
}
