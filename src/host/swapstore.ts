/**
 * Swap stores: where a VM's swapped-out pages live, outside machine RAM (like ESX's .vswp file).
 * One store per VM, sized VM memory minus reservation. Two backings behind one interface:
 *
 *   SwapStore (slots, checksums, clusters, fault injection)
 *     ├── MemorySwapStore   pages in JS memory, in 1 MiB chunks allocated on first use
 *     └── FileSwapStore     a real file: slot s at byte offset s * 4096 (node:fs, synchronous;
 *                           a cluster is one gathering write or scattering read, writev/readv)
 *
 * Slots: a bump pointer over never-used slots, then a LIFO free list. `alloc(n)` hands out runs
 * of consecutive slots when it can, and `writePages` writes each run of consecutive slots with
 * one write (a cluster), as ESX writes victims in clusters.
 *
 * Checksums: every stored page carries an XXH64 (xxhash-wasm) seeded with its GPPN, checked on
 * every read: a flipped bit, a torn write, or a page read from the wrong slot is a typed
 * SwapChecksumError, and the wrong bytes never reach the guest.
 *
 * Fault injection (tests): `inject({ kind: 'write-error' | 'read-error', count })` makes the next
 * `count` writes (whole clusters) or reads fail with an I/O error; `corrupt(slot, bit)` flips one
 * stored bit; `capacity` small or full models a full store.
 */
import { closeSync, openSync, readSync, readvSync, writeSync, writevSync, unlinkSync, ftruncateSync } from 'node:fs';
import xxhash, { type XXHashAPI } from 'xxhash-wasm';
import { PAGE } from '../engine/addr.js';
import { ConfigError, SwapChecksumError, SwapIoError, checkInt } from '../errors.js';

let hasher: XXHashAPI | null = null;
/** Loads xxhash-wasm once per process (asynchronous: WebAssembly instantiation). */
export async function loadChecksum(): Promise<void> {
  if (!hasher) hasher = await xxhash();
}

/** A fault to inject into a store's next operations. */
export interface SwapFault {
  kind: 'write-error' | 'read-error';
  /** how many operations fail (default 1) */
  count?: number;
}

/** Counters of one store. Units: slots (4 KiB pages) and operations. */
export interface SwapStoreStats {
  /** slots in the store */
  capacity: number;
  /** slots holding a page */
  used: number;
  /** pages written / read (cumulative) */
  writes: number;
  reads: number;
  /** write calls, one per run of consecutive slots (cumulative) */
  clusters: number;
  /** failed writes and reads, and checksum mismatches (cumulative) */
  writeErrors: number;
  readErrors: number;
  checksumErrors: number;
}

export abstract class SwapStore {
  readonly capacity: number;
  private readonly freeList: Uint32Array;
  private freeTop = 0;
  private bump = 0;
  private used = 0;
  private readonly sums: BigUint64Array;
  private readonly gppns: Uint32Array;
  private readonly faults: { write: number; read: number } = { write: 0, read: 0 };
  private readonly counters = { writes: 0, reads: 0, clusters: 0, writeErrors: 0, readErrors: 0, checksumErrors: 0 };

  /** `vm` names the owner in error messages. */
  constructor(
    readonly vm: string,
    capacity: number,
  ) {
    this.capacity = checkInt('swap capacity (pages)', capacity, 0, 2 ** 32 - 2);
    if (!hasher) throw new ConfigError('swap store', 'created before loadChecksum()', 'await loadChecksum() first (Host.create does)');
    this.freeList = new Uint32Array(Math.max(1, capacity));
    this.sums = new BigUint64Array(capacity);
    this.gppns = new Uint32Array(capacity);
  }

  /** Backing-specific: writes `pages[from..to)` (4 KiB each) at slots first, first + 1, ... */
  protected abstract writeRun(first: number, pages: readonly Uint8Array[], from: number, to: number): void;
  /** Backing-specific: reads the page of `slot` into `dst` (4 KiB). */
  protected abstract readSlot(slot: number, dst: Uint8Array): void;
  /** Backing-specific: reads the pages of slots first, first + 1, ... into `dsts[from..to)` (4 KiB each). */
  protected abstract readRun(first: number, dsts: readonly Uint8Array[], from: number, to: number): void;
  /** Backing-specific: flips bit `bit` of the stored page of `slot`. */
  protected abstract flip(slot: number, bit: number): void;
  /** Releases the backing (closes and removes a file). */
  abstract close(): void;

  /** Slots not in use. */
  get free(): number {
    return this.capacity - this.used;
  }

  /** Allocates `n` slots (n <= free), consecutive runs first; the caller writes or releases them. */
  alloc(n: number): number[] {
    if (n > this.free) throw new ConfigError('swap slots', n, `at most the ${this.free} free slots`);
    const out: number[] = [];
    while (out.length < n && this.bump < this.capacity) out.push(this.bump++);
    // the top of the free list in release order (not popped one by one, which would reverse it):
    // slots released in a run come back as a run, so their next write is one cluster
    const take = n - out.length;
    for (let k = this.freeTop - take; k < this.freeTop; k++) out.push(this.freeList[k]);
    this.freeTop -= take;
    this.used += n;
    return out;
  }

  /** Returns `slot` to the free list (its page was read back, or the write failed, or it was ballooned). */
  release(slot: number): void {
    this.gppns[slot] = 0;
    this.sums[slot] = 0n;
    this.freeList[this.freeTop++] = slot;
    this.used--;
  }

  /**
   * Writes page i (`pages[i]`, 4 KiB views) of GPPN `gppns[i]` to `slots[i]`, one write per run
   * of consecutive slots. Returns which pages were written; a failed run is reported by index
   * (its slots are still allocated: the caller releases them) with the error.
   */
  writePages(slots: number[], gppns: number[], pages: Uint8Array[]): { ok: boolean[]; error: SwapIoError | null } {
    const ok = new Array<boolean>(slots.length).fill(false);
    let error: SwapIoError | null = null;
    let i = 0;
    while (i < slots.length) {
      let j = i + 1;
      while (j < slots.length && slots[j] === slots[j - 1] + 1) j++;
      try {
        if (this.faults.write > 0) {
          this.faults.write--;
          throw new Error('injected write error');
        }
        this.writeRun(slots[i], pages, i, j);
        this.counters.clusters++;
        for (let k = i; k < j; k++) {
          this.sums[slots[k]] = hasher!.h64Raw(pages[k], BigInt(gppns[k]));
          this.gppns[slots[k]] = gppns[k];
          ok[k] = true;
        }
        this.counters.writes += j - i;
      } catch (e) {
        this.counters.writeErrors++;
        error ??= new SwapIoError('write', this.vm, slots[i], gppns[i], e);
      }
      i = j;
    }
    return { ok, error };
  }

  /**
   * Reads the page of GPPN `gppn` from `slot` into `dst` and checks it: a typed SwapIoError or
   * SwapChecksumError when it cannot be returned as written (dst then holds no guest data).
   */
  readPage(slot: number, gppn: number, dst: Uint8Array): void {
    try {
      if (this.faults.read > 0) {
        this.faults.read--;
        throw new Error('injected read error');
      }
      this.readSlot(slot, dst);
    } catch (e) {
      this.counters.readErrors++;
      dst.fill(0);
      throw new SwapIoError('read', this.vm, slot, gppn, e);
    }
    this.verify(slot, gppn, dst);
  }

  /**
   * Reads pages i < n of GPPN `gppns[i]` from `slots[i]` into `dsts[i]` (4 KiB views) and
   * checks each as readPage does, reading each run of consecutive slots at once (a cluster).
   * Stops at the first page that fails: `done` pages were read and verified, `error` says why.
   */
  readPages(slots: ArrayLike<number>, gppns: ArrayLike<number>, n: number, dsts: readonly Uint8Array[]): { done: number; error: SwapIoError | SwapChecksumError | null } {
    let i = 0;
    while (i < n) {
      let j = i + 1;
      while (j < n && slots[j] === slots[j - 1] + 1) j++;
      let read = false;
      if (j - i > 1 && this.faults.read === 0) {
        try {
          this.readRun(slots[i], dsts, i, j);
          read = true;
        } catch {
          // read page by page below, which names the page that fails
        }
      }
      for (let k = i; k < j; k++) {
        const page = dsts[k];
        try {
          if (read) this.verify(slots[k], gppns[k], page);
          else this.readPage(slots[k], gppns[k], page);
        } catch (e) {
          if (e instanceof SwapIoError || e instanceof SwapChecksumError) return { done: k, error: e };
          throw e;
        }
      }
      i = j;
    }
    return { done: n, error: null };
  }

  /** Checks the page read from `slot` into `dst` against its GPPN and checksum; counts the read. */
  private verify(slot: number, gppn: number, dst: Uint8Array): void {
    if (this.gppns[slot] !== gppn || hasher!.h64Raw(dst, BigInt(gppn)) !== this.sums[slot]) {
      this.counters.checksumErrors++;
      dst.fill(0);
      throw new SwapChecksumError(this.vm, gppn, slot);
    }
    this.counters.reads++;
  }

  /** Makes the next operations of a kind fail (tests). */
  inject(fault: SwapFault): void {
    const n = checkInt('fault.count', fault.count ?? 1, 0, 2 ** 31);
    if (fault.kind === 'write-error') this.faults.write += n;
    else if (fault.kind === 'read-error') this.faults.read += n;
    else throw new ConfigError('fault.kind', fault.kind, "'write-error' or 'read-error'");
  }

  /** Flips bit `bit` (0..32767) of the page stored in `slot` (tests). */
  corrupt(slot: number, bit: number): void {
    checkInt('slot', slot, 0, this.capacity - 1);
    checkInt('bit', bit, 0, PAGE * 8 - 1);
    this.flip(slot, bit);
  }

  stats(): SwapStoreStats {
    return { capacity: this.capacity, used: this.used, ...this.counters };
  }
}

const CHUNK_PAGES = 256;

/** Swap pages kept in JS memory, in chunks of 1 MiB allocated when first written. */
export class MemorySwapStore extends SwapStore {
  private readonly chunks: (Uint8Array | undefined)[] = [];

  private chunk(slot: number): Uint8Array {
    const c = Math.floor(slot / CHUNK_PAGES);
    return (this.chunks[c] ??= new Uint8Array(CHUNK_PAGES * PAGE));
  }
  protected writeRun(first: number, pages: readonly Uint8Array[], from: number, to: number): void {
    for (let k = from; k < to; k++) {
      const s = first + k - from;
      this.chunk(s).set(pages[k], (s % CHUNK_PAGES) * PAGE);
    }
  }
  protected readSlot(slot: number, dst: Uint8Array): void {
    const o = (slot % CHUNK_PAGES) * PAGE;
    dst.set(this.chunk(slot).subarray(o, o + PAGE));
  }
  protected readRun(first: number, dsts: readonly Uint8Array[], from: number, to: number): void {
    for (let k = from; k < to; k++) this.readSlot(first + k - from, dsts[k]);
  }
  protected flip(slot: number, bit: number): void {
    this.chunk(slot)[(slot % CHUNK_PAGES) * PAGE + (bit >> 3)] ^= 1 << (bit & 7);
  }
  close(): void {
    this.chunks.length = 0;
  }
}

/** Swap pages in a real file (created, truncated; removed on close unless `keep`). */
export class FileSwapStore extends SwapStore {
  private fd: number;

  constructor(
    vm: string,
    capacity: number,
    readonly path: string,
    private readonly keep = false,
  ) {
    super(vm, capacity);
    this.fd = openSync(path, 'w+');
    ftruncateSync(this.fd, 0);
  }
  protected writeRun(first: number, pages: readonly Uint8Array[], from: number, to: number): void {
    // one gathering write for the cluster (no joined copy); a short write finishes page by page
    let done = to - from === 1 ? 0 : writevSync(this.fd, pages.slice(from, to), first * PAGE);
    while (done < (to - from) * PAGE) {
      const k = from + Math.floor(done / PAGE), o = done % PAGE;
      done += writeSync(this.fd, pages[k], o, PAGE - o, first * PAGE + done);
    }
  }
  protected readSlot(slot: number, dst: Uint8Array): void {
    this.readRun(slot, [dst], 0, 1);
  }
  protected readRun(first: number, dsts: readonly Uint8Array[], from: number, to: number): void {
    // one scattering read for the cluster; a short read finishes page by page
    let done = to - from === 1 ? 0 : readvSync(this.fd, dsts.slice(from, to), first * PAGE);
    while (done < (to - from) * PAGE) {
      const k = from + Math.floor(done / PAGE), o = done % PAGE;
      const n = readSync(this.fd, dsts[k], o, PAGE - o, first * PAGE + done);
      if (n === 0) throw new Error(`short read at slot ${first + Math.floor(done / PAGE)}`);
      done += n;
    }
  }
  protected flip(slot: number, bit: number): void {
    const b = new Uint8Array(1);
    readSync(this.fd, b, 0, 1, slot * PAGE + (bit >> 3));
    b[0] ^= 1 << (bit & 7);
    writeSync(this.fd, b, 0, 1, slot * PAGE + (bit >> 3));
  }
  close(): void {
    if (this.fd >= 0) {
      closeSync(this.fd);
      this.fd = -1;
      if (!this.keep) unlinkSync(this.path);
    }
  }
}
