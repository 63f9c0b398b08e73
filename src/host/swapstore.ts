/**
 * Swap stores: where a VM's swapped-out pages live, outside machine RAM (like ESX's .vswp file).
 * One store per VM, sized VM memory minus reservation. Two backings behind one interface:
 *
 *   SwapStore (slots, checksums, clusters, fault injection)
 *     ├── MemorySwapStore   pages in JS memory, 1 MiB chunks of positions reused before new ones
 *     └── FileSwapStore     a real file: slot s at byte offset s * 4096 (fileswap.ts, Node only:
 *                           node:fs, synchronous; a cluster is one gathering write or
 *                           scattering read, writev/readv)
 *
 * Slots: a bump pointer over never-used slots, then a LIFO free list. `alloc(n)` hands out runs
 * of consecutive slots when it can, and `writePages` writes each run of consecutive slots with
 * one write (a cluster), as ESX writes victims in clusters.
 *
 * Checksums: every stored page carries an XXH64 seeded with its GPPN, checked on every read: a
 * flipped bit, a torn write, or a page read from the wrong slot is a typed SwapChecksumError, and
 * the wrong bytes never reach the guest. The engine computes them, a whole batch per call
 * (assembly/codec/hash.ts xxh64PageList): the pages a Host's store writes and reads are views of
 * its engine's memory (frames, staging), hashed where they are; other pages (a store used on its
 * own) are copied into the utility engine. Bit-identical to the reference XXH64 (xxhash-wasm in
 * test/hash.test.ts), so sums are comparable with any xxHash; kept as two u32 words per slot, so
 * no BigInt is made per page. bench/swapstore.bench.ts measures this against xxhash-wasm.
 *
 * Reads are retried: a page that fails to read or to verify is read again, up to `readRetries`
 * more times (transient errors, a bit flipped in transit), before the error goes to the VM.
 * Failed writes are not retried here: the page stays resident and the caller decides.
 *
 * Fault injection (tests): `inject({ kind, count })` makes the next `count` operations of a kind
 * fail as the real ones would:
 *
 *   write-error   a cluster write fails with EIO          (the pages stay resident)
 *   enospc        a cluster write fails with ENOSPC       (the pages stay resident)
 *   torn-write    a cluster write reports success but only the first half of its first page
 *                 reaches the store (the rest keeps what the slot held: caught by the checksum)
 *   read-error    a page read fails with EIO              (retried)
 *   short-read    a page read ends after half a page      (retried)
 *   bit-flip      a page read returns one bit flipped in transit, the stored page intact (retried)
 *   file-removed  the swap file is unlinked now (file stores; the open descriptor still works)
 *
 * `corrupt(slot, bit)` flips one stored bit (persistent: every retry fails); a small `capacity`
 * models a full store.
 *
 * Files (FileSwapStore, fileswap.ts): created O_CREAT | O_EXCL | O_NOFOLLOW with mode 0600 in the
 * host's own directory (swapdir.ts); `close()` closes the descriptor and removes the file, and
 * reports what it could not do instead of throwing. This file imports nothing of Node.
 */
import { PAGE } from '../engine/addr.js';
import { utilityEngine, type Engine } from '../engine/engine.js';
import { ConfigError, SwapChecksumError, SwapIoError, checkInt } from '../errors.js';
import type { CloseReport } from './cleanup.js';

/**
 * Seeded XXH64 of pages: XXH64(pages[k], 4096, seeds[k]) for k in [from, to) into out[2k] (low
 * u32) and out[2k + 1] (high u32).
 */
export type PageChecksum = (pages: readonly Uint8Array[], seeds: ArrayLike<number>, from: number, to: number, out: Uint32Array) => void;

/** The engine's checksum: pages in `engine`'s memory hashed there, any others copied into the utility engine. */
export function engineChecksum(engine: Engine | null): PageChecksum {
  return (pages, seeds, from, to, out) => {
    if (!engine?.codec.pageSums(pages, seeds, from, to, out)) utilityEngine().codec.pageSumsCopied(pages, seeds, from, to, out);
  };
}

/** Options of a swap store. */
export interface SwapStoreOptions {
  /** times a failed page read is tried again before the error goes to the VM (default 3, 0 .. 100) */
  readRetries?: number;
  /** @internal the checksum (default: the engine's, on the utility engine; a Host gives its own engine's) */
  checksum?: PageChecksum;
}

/** Kinds of injected fault (see the module overview). */
export const SWAP_FAULT_KINDS = ['write-error', 'enospc', 'torn-write', 'read-error', 'short-read', 'bit-flip', 'file-removed'] as const;
export type SwapFaultKind = (typeof SWAP_FAULT_KINDS)[number];
type WriteFault = 'write-error' | 'enospc' | 'torn-write';
type ReadFault = 'read-error' | 'short-read' | 'bit-flip';

/** A fault to inject into a store's next operations. */
export interface SwapFault {
  kind: SwapFaultKind;
  /** how many operations fail (default 1): cluster writes, or page reads (each retry is one) */
  count?: number;
}

/** An error with an errno code, as node:fs throws them (declared here: this file is free of Node's types too). */
type ErrnoError = Error & { code: string; errno: number; syscall: string };

/** An error as node:fs throws it, with an errno code (the stores' own, and the injected faults'). */
/** @internal */
export function errnoError(code: 'EIO' | 'ENOSPC' | 'EBADF', syscall: string): ErrnoError {
  const text = { EIO: 'i/o error', ENOSPC: 'no space left on device', EBADF: 'bad file descriptor' }[code];
  const e = new Error(`${code}: ${text}, ${syscall}`) as ErrnoError;
  e.code = code;
  e.errno = { EIO: -5, ENOSPC: -28, EBADF: -9 }[code];
  e.syscall = syscall;
  return e;
}

/** A page that failed its checksum (internal: readPage turns it into a SwapChecksumError with the attempts). */
class Mismatch {}

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
  /** failed writes and reads, and checksum mismatches (cumulative; each failed attempt counts) */
  writeErrors: number;
  readErrors: number;
  checksumErrors: number;
  /** page reads tried again after a failure (cumulative) */
  readRetries: number;
}

export abstract class SwapStore {
  readonly capacity: number;
  private readonly freeList: Uint32Array;
  private freeTop = 0;
  private bump = 0;
  private used = 0;
  /** the checksum of each slot's page: two u32 words (low, high) per slot */
  private readonly sums: Uint32Array;
  private readonly gppns: Uint32Array;
  private readonly checksum: PageChecksum;
  /** scratch for the sums of one read or write batch, and of one page */
  private batchSums = new Uint32Array(2 * 256);
  private readonly oneSum = new Uint32Array(2);
  private readonly faults: Record<WriteFault | ReadFault, number> = {
    'write-error': 0, enospc: 0, 'torn-write': 0, 'read-error': 0, 'short-read': 0, 'bit-flip': 0,
  };
  private readonly counters = { writes: 0, reads: 0, clusters: 0, writeErrors: 0, readErrors: 0, checksumErrors: 0, readRetries: 0 };
  /** Times a failed page read is tried again before the error goes to the VM. */
  readonly readRetries: number;

  /** `vm` names the owner in error messages; `readRetries` (default 3) bounds the retries of a failed read. */
  constructor(
    readonly vm: string,
    capacity: number,
    opts: SwapStoreOptions = {},
  ) {
    this.capacity = checkInt('swap capacity (pages)', capacity, 0, 2 ** 32 - 2);
    this.readRetries = checkInt('swap.readRetries', opts.readRetries ?? 3, 0, 100);
    this.checksum = opts.checksum ?? engineChecksum(null);
    this.freeList = new Uint32Array(Math.max(1, capacity));
    this.sums = new Uint32Array(2 * capacity);
    this.gppns = new Uint32Array(capacity);
  }

  /** Scratch for the sums of `n` pages (grown when a batch is larger than any before). */
  private scratch(n: number): Uint32Array {
    if (this.batchSums.length < 2 * n) this.batchSums = new Uint32Array(2 * n);
    return this.batchSums;
  }

  /** Backing-specific: writes `pages[from..to)` (4 KiB each) at slots first, first + 1, ... */
  protected abstract writeRun(first: number, pages: readonly Uint8Array[], from: number, to: number): void;
  /** Backing-specific: reads the page of `slot` into `dst` (4 KiB). */
  protected abstract readSlot(slot: number, dst: Uint8Array): void;
  /** Backing-specific: reads the pages of slots first, first + 1, ... into `dsts[from..to)` (4 KiB each). */
  protected abstract readRun(first: number, dsts: readonly Uint8Array[], from: number, to: number): void;
  /** Backing-specific: overwrites the stored bytes of `slot` from `offset` with `bytes`. */
  protected abstract patch(slot: number, offset: number, bytes: Uint8Array): void;
  /** Releases the backing (closes and removes a file); never throws: says what it could not release. */
  abstract close(): CloseReport;

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
    this.sums[2 * slot] = 0;
    this.sums[2 * slot + 1] = 0;
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
    // the sums of the whole batch in one engine call, of the pages as the guest left them
    const sums = this.scratch(slots.length);
    this.checksum(pages, gppns, 0, slots.length, sums);
    let i = 0;
    while (i < slots.length) {
      let j = i + 1;
      while (j < slots.length && slots[j] === slots[j - 1] + 1) j++;
      try {
        const fault = this.take(['write-error', 'enospc', 'torn-write']);
        if (fault === 'write-error') throw errnoError('EIO', 'write');
        if (fault === 'enospc') throw errnoError('ENOSPC', 'write');
        // a torn write: what the slot held stays in the second half of the first page
        const old = fault === 'torn-write' ? new Uint8Array(PAGE) : null;
        if (old) {
          try {
            this.readSlot(slots[i], old);
          } catch {
            old.fill(0); // a slot past the end of the file: what it holds is zeros
          }
        }
        this.writeRun(slots[i], pages, i, j);
        if (old) this.patch(slots[i], PAGE / 2, old.subarray(PAGE / 2));
        this.counters.clusters++;
        for (let k = i; k < j; k++) {
          this.sums[2 * slots[k]] = sums[2 * k];
          this.sums[2 * slots[k] + 1] = sums[2 * k + 1];
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
   * Reads the page of GPPN `gppn` from `slot` into `dst` and checks it, trying again up to
   * `readRetries` times: a typed SwapIoError or SwapChecksumError (with the attempts) when it
   * cannot be returned as written (dst then holds no guest data).
   */
  readPage(slot: number, gppn: number, dst: Uint8Array): void {
    for (let attempt = 1; ; attempt++) {
      let err: unknown;
      try {
        this.readOnce(slot, gppn, dst);
        return;
      } catch (e) {
        err = e;
      }
      dst.fill(0);
      if (attempt <= this.readRetries) {
        this.counters.readRetries++;
        continue;
      }
      if (err instanceof Mismatch) throw new SwapChecksumError(this.vm, gppn, slot, attempt);
      throw new SwapIoError('read', this.vm, slot, gppn, err, attempt);
    }
  }

  /** One read of `slot` into `dst` and its check; throws the fs error or a Mismatch (counted). */
  private readOnce(slot: number, gppn: number, dst: Uint8Array): void {
    const fault = this.take(['read-error', 'short-read', 'bit-flip']);
    try {
      if (fault === 'read-error') throw errnoError('EIO', 'read');
      this.readSlot(slot, dst);
      if (fault === 'short-read') throw new Error(`short read: the swap device returned ${PAGE / 2} of ${PAGE} bytes`);
    } catch (e) {
      this.counters.readErrors++;
      throw e;
    }
    if (fault === 'bit-flip') dst[(Math.imul(slot + 1, 0x9e3779b1) >>> 0) % PAGE] ^= 0x10; // in transit: the stored page is intact
    this.checksum([dst], [gppn], 0, 1, this.oneSum);
    this.verify(slot, gppn, dst, this.oneSum, 0);
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
      if (j - i > 1 && this.faults['read-error'] + this.faults['short-read'] + this.faults['bit-flip'] === 0) {
        try {
          this.readRun(slots[i], dsts, i, j);
          read = true;
        } catch {
          // read page by page below, which names the page that fails
        }
      }
      // the sums of the whole cluster in one engine call
      const sums = this.scratch(j);
      if (read) this.checksum(dsts, gppns, i, j, sums);
      for (let k = i; k < j; k++) {
        const page = dsts[k];
        try {
          let verified = false;
          if (read) {
            try {
              this.verify(slots[k], gppns[k], page, sums, k);
              verified = true;
            } catch (e) {
              if (!(e instanceof Mismatch)) throw e;
              // read once already: the retries read it alone
              if (this.readRetries === 0) throw new SwapChecksumError(this.vm, gppns[k], slots[k], 1);
              this.counters.readRetries++;
            }
          }
          if (!verified) this.readPage(slots[k], gppns[k], page);
        } catch (e) {
          if (e instanceof SwapIoError || e instanceof SwapChecksumError) return { done: k, error: e };
          throw e;
        }
      }
      i = j;
    }
    return { done: n, error: null };
  }

  /** Checks the page read from `slot` into `dst` against its GPPN and the checksum the slot holds (`sums[2k]`, `sums[2k + 1]`: the page's as read); counts the read. */
  private verify(slot: number, gppn: number, dst: Uint8Array, sums: Uint32Array, k: number): void {
    if (this.gppns[slot] !== gppn || sums[2 * k] !== this.sums[2 * slot] || sums[2 * k + 1] !== this.sums[2 * slot + 1]) {
      this.counters.checksumErrors++;
      dst.fill(0);
      throw new Mismatch();
    }
    this.counters.reads++;
  }

  /** The first of `kinds` with an injected fault pending, consumed; null if none. */
  private take<K extends WriteFault | ReadFault>(kinds: K[]): K | null {
    for (const k of kinds) {
      if (this.faults[k] > 0) {
        this.faults[k]--;
        return k;
      }
    }
    return null;
  }

  /** Makes the next `count` operations of a kind fail (tests; see the module overview). */
  inject(fault: SwapFault): void {
    if (fault === null || typeof fault !== 'object') throw new ConfigError('fault', fault, 'an object { kind, count? }');
    const n = checkInt('fault.count', fault.count ?? 1, 0, 2 ** 31);
    if (!(SWAP_FAULT_KINDS as readonly string[]).includes(fault.kind)) {
      throw new ConfigError('fault.kind', fault.kind, SWAP_FAULT_KINDS.map((k) => `'${k}'`).join(', '));
    }
    if (fault.kind === 'file-removed') this.removeBacking();
    else this.faults[fault.kind] += n;
  }

  /** Injected faults not yet met, by kind (tests). */
  pendingFaults(): Readonly<Record<Exclude<SwapFaultKind, 'file-removed'>, number>> {
    return { ...this.faults };
  }

  /** Drops every injected fault not yet met (tests); returns how many there were. */
  clearFaults(): number {
    let n = 0;
    for (const k of Object.keys(this.faults) as (WriteFault | ReadFault)[]) {
      n += this.faults[k];
      this.faults[k] = 0;
    }
    return n;
  }

  /** Backing-specific: the 'file-removed' fault (a store with no file refuses it). */
  protected removeBacking(): void {
    throw new ConfigError('fault.kind', 'file-removed', 'a fault of a file-backed store (swap.backing: \'file\')');
  }

  /** Flips bit `bit` (0..32767) of the page stored in `slot` (tests). */
  corrupt(slot: number, bit: number): void {
    checkInt('slot', slot, 0, this.capacity - 1);
    checkInt('bit', bit, 0, PAGE * 8 - 1);
    const page = new Uint8Array(PAGE);
    this.readSlot(slot, page);
    this.patch(slot, bit >> 3, Uint8Array.of(page[bit >> 3] ^ (1 << (bit & 7))));
  }

  stats(): SwapStoreStats {
    return { capacity: this.capacity, used: this.used, ...this.counters };
  }

  /** Bytes of this process's memory that hold stored pages (none for a store whose pages live elsewhere, a file). */
  heldBytes(): number {
    return 0;
  }
}

const CHUNK_PAGES = 256;
/** Byte offset of position `p`'s page in its chunk. */
const offsetOf = (p: number) => (p % CHUNK_PAGES) * PAGE;

/**
 * Swap pages kept in JS memory, in 1 MiB chunks of positions. A slot gets a position when a page
 * is first written to it and gives it back when released; new pages take the positions given back
 * last before fresh ones. So the chunks follow the most pages stored at once, not the slots
 * handed out: slots come from a bump pointer first (runs, for clusters) and over a long run spread
 * over the whole capacity, and chunks indexed by slot grew toward the VMs' whole swap size (on
 * the default scenario 690 MiB of chunks for at most 211 MiB swapped at once; 289 MiB now).
 *
 *   slot ──at[slot]──► position p ──► chunks[p / 256], bytes (p % 256) * 4 KiB ..+4 KiB
 *   released: p onto the free positions (a stack), taken again before a fresh one
 */
export class MemorySwapStore extends SwapStore {
  private readonly chunks: Uint8Array[] = [];
  /** each slot's position, -1 when it holds no page */
  private readonly at: Int32Array;
  /** positions given back, the last one on top */
  private readonly freePositions: Int32Array;
  private positionsTop = 0;
  /** positions ever used: 0 .. high - 1 */
  private high = 0;
  private closed = false;

  constructor(vm: string, capacity: number, opts: SwapStoreOptions = {}) {
    super(vm, capacity, opts);
    this.at = new Int32Array(this.capacity).fill(-1);
    this.freePositions = new Int32Array(this.capacity);
  }

  /** The chunk of position `p` (chunks made on first use); its page starts at `offsetOf(p)`. */
  private chunkOf(p: number): Uint8Array {
    if (this.closed) throw errnoError('EBADF', 'swap I/O after close');
    const c = Math.floor(p / CHUNK_PAGES);
    while (this.chunks.length <= c) this.chunks.push(new Uint8Array(CHUNK_PAGES * PAGE));
    return this.chunks[c];
  }

  /** The position of `slot`; a slot without one takes one, zeroed when `zero` (else the caller fills all of it). */
  private place(slot: number, zero: boolean): number {
    let p = this.at[slot];
    if (p >= 0) return p;
    p = this.positionsTop > 0 ? this.freePositions[--this.positionsTop] : this.high++;
    this.at[slot] = p;
    if (zero) this.chunkOf(p).fill(0, offsetOf(p), offsetOf(p) + PAGE); // a position given back holds its last page
    return p;
  }

  protected writeRun(first: number, pages: readonly Uint8Array[], from: number, to: number): void {
    for (let k = from; k < to; k++) {
      const p = this.place(first + k - from, false);
      this.chunkOf(p).set(pages[k], offsetOf(p));
    }
  }
  protected readSlot(slot: number, dst: Uint8Array): void {
    const p = this.at[slot];
    if (p < 0) {
      if (this.closed) throw errnoError('EBADF', 'swap I/O after close');
      dst.fill(0, 0, PAGE); // a slot holding no page reads as zeros
      return;
    }
    const o = offsetOf(p);
    dst.set(this.chunkOf(p).subarray(o, o + PAGE));
  }
  protected readRun(first: number, dsts: readonly Uint8Array[], from: number, to: number): void {
    for (let k = from; k < to; k++) this.readSlot(first + k - from, dsts[k]);
  }
  protected patch(slot: number, offset: number, bytes: Uint8Array): void {
    const p = this.place(slot, true);
    this.chunkOf(p).set(bytes, offsetOf(p) + offset);
  }

  /** Frees `slot`, and gives its position back. */
  override release(slot: number): void {
    super.release(slot);
    const p = this.at[slot];
    if (p < 0) return; // its write failed before it stored anything
    this.at[slot] = -1;
    this.freePositions[this.positionsTop++] = p;
  }

  /** Its chunks: they follow the most pages stored at once. */
  override heldBytes(): number {
    return this.chunks.length * CHUNK_PAGES * PAGE;
  }

  close(): CloseReport {
    this.chunks.length = 0;
    this.closed = true;
    return { descriptorsClosed: 0, removed: 0, problems: [] };
  }
}
