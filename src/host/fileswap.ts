/**
 * FileSwapStore: a VM's swap store in a real file (Node only; the main entry's stores live in
 * memory). Slot s sits at byte offset s * 4096; a cluster of consecutive slots is one gathering
 * write or one scattering read (writev / readv), synchronous. Checksums, slots, retries and fault
 * injection are SwapStore's (swapstore.ts).
 */
import { closeSync, constants, openSync, readSync, readvSync, writeSync, writevSync, unlinkSync } from 'node:fs';
import { PAGE } from '../engine/addr.js';
import { SwapStore, errnoError, type SwapStoreOptions } from './swapstore.js';
import { problem, type CloseReport } from './cleanup.js';

/** Flags of a new swap file: created here or not at all, never through a symbolic link. */
export const SWAP_OPEN_FLAGS = constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
export const SWAP_FILE_MODE = 0o600;

/**
 * Swap pages in a real file at `path`, created here: exclusively (an existing file or a symbolic
 * link there is an error, never followed or truncated), mode 0600. Removed on close.
 */
export class FileSwapStore extends SwapStore {
  private fd: number;

  constructor(
    vm: string,
    capacity: number,
    readonly path: string,
    opts: SwapStoreOptions = {},
  ) {
    super(vm, capacity, opts);
    this.fd = openSync(path, SWAP_OPEN_FLAGS, SWAP_FILE_MODE);
  }
  /** The descriptor, or the error a closed store's I/O gets. */
  private get open(): number {
    if (this.fd < 0) throw errnoError('EBADF', 'swap I/O after close');
    return this.fd;
  }
  protected writeRun(first: number, pages: readonly Uint8Array[], from: number, to: number): void {
    const fd = this.open;
    // one gathering write for the cluster (no joined copy); a short write finishes page by page
    let done = to - from === 1 ? 0 : writevSync(fd, pages.slice(from, to), first * PAGE);
    while (done < (to - from) * PAGE) {
      const k = from + Math.floor(done / PAGE), o = done % PAGE;
      done += writeSync(fd, pages[k], o, PAGE - o, first * PAGE + done);
    }
  }
  protected readSlot(slot: number, dst: Uint8Array): void {
    this.readRun(slot, [dst], 0, 1);
  }
  protected readRun(first: number, dsts: readonly Uint8Array[], from: number, to: number): void {
    const fd = this.open;
    // one scattering read for the cluster; a short read finishes page by page
    let done = to - from === 1 ? 0 : readvSync(fd, dsts.slice(from, to), first * PAGE);
    while (done < (to - from) * PAGE) {
      const k = from + Math.floor(done / PAGE), o = done % PAGE;
      const n = readSync(fd, dsts[k], o, PAGE - o, first * PAGE + done);
      if (n === 0) throw new Error(`short read: the swap file ends inside slot ${first + Math.floor(done / PAGE)}`);
      done += n;
    }
  }
  protected patch(slot: number, offset: number, bytes: Uint8Array): void {
    writeSync(this.open, bytes, 0, bytes.length, slot * PAGE + offset);
  }
  protected override removeBacking(): void {
    try {
      unlinkSync(this.path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
  /** Closes the descriptor and removes the file (already gone is fine); reports what failed. Idempotent. */
  close(): CloseReport {
    const report: CloseReport = { descriptorsClosed: 0, removed: 0, problems: [] };
    if (this.fd < 0) return report;
    const fd = this.fd;
    this.fd = -1;
    try {
      closeSync(fd);
      report.descriptorsClosed++;
    } catch (e) {
      report.problems.push(problem(this.path, 'close', e));
    }
    try {
      unlinkSync(this.path);
      report.removed++;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') report.removed++;
      else report.problems.push(problem(this.path, 'unlink', e));
    }
    return report;
  }
}
