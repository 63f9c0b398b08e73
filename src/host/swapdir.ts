/**
 * The directory of a host's swap files, and what happens to it when the host closes, when the
 * process exits, and after a crash.
 *
 *   <swap.dir>/                         default: the OS temporary directory
 *     memvisor-<pid>-<6 random>/        one per Host, made by mkdtemp (mode 0700, a fresh name)
 *       vm<id>-<n>.vswp                 one per VM, O_CREAT | O_EXCL | O_NOFOLLOW, mode 0600
 *
 * - host.close() closes every descriptor, removes every file and the directory, and reports
 *   what it could not remove (never a raw error: a file or directory already gone is fine).
 * - process exit: one 'exit' listener for all open directories (it does not keep the process
 *   alive), removed when the last one closes. A signal that kills the process skips it.
 * - a crash: the pid in the name tells whose it was; `cleanSwapDirs(parent)` (and the CLI's
 *   `memvisor clean`) removes the directories whose process is gone, with the swap files in
 *   them, and leaves anything it did not create.
 *
 * Node only: the Node entry (src/node.ts) hands SwapDir to a Host through platform.ts.
 */
import { lstatSync, mkdtempSync, readdirSync, rmdirSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../errors.js';
import { merge, problem, type CleanupProblem, type CloseReport } from './cleanup.js';
import { FileSwapStore } from './fileswap.js';
import type { SwapStore, SwapStoreOptions } from './swapstore.js';
import type { SwapDirHandle } from '../platform.js';

/** Name of a host's swap directory: memvisor-<pid>-<mkdtemp's 6 characters>. */
const DIR_RE = /^memvisor-(\d+)-[A-Za-z0-9]{6}$/;
/** Name of a swap file inside it. */
const FILE_RE = /^vm\d+-\d+\.vswp$/;
/** Swap files of memvisor 0.1, written straight into the parent directory. */
const OLD_FILE_RE = /^memvisor-(\d+)-[0-9a-z]+-\d+\.vswp$/;


/** Runs `fn`; an error other than ENOENT (already gone) becomes a problem. Returns whether the thing is gone. */
function removeQuietly(path: string, op: 'unlink' | 'rmdir', fn: () => void, problems: CleanupProblem[]): boolean {
  try {
    fn();
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException)?.code === 'ENOENT') return true;
    problems.push(problem(path, op, e));
    return false;
  }
}


const open = new Set<SwapDir>();
let hooked = false;

/** The 'exit' listener: closes every directory still open (synchronously, as 'exit' requires). */
function onExit(): void {
  for (const d of [...open]) d.close();
}

/** A host's swap directory (the Node side of platform.ts SwapDirHandle). */
export class SwapDir implements SwapDirHandle {
  private readonly members = new Set<SwapStore>();
  private seq = 0;
  private closed = false;
  /** The directory's path. */
  readonly path: string;

  /** Creates memvisor-<pid>-XXXXXX in `parent` (throws the fs error when it cannot). */
  constructor(parent: string) {
    this.path = mkdtempSync(join(parent, `memvisor-${process.pid}-`));
    open.add(this);
    if (!hooked) {
      process.on('exit', onExit);
      hooked = true;
    }
  }

  /** A fresh file name in the directory for VM `id` (never used before in it). */
  nextFile(id: number): string {
    return join(this.path, `vm${id}-${this.seq++}.vswp`);
  }

  /** A new swap file in the directory for VM `name` (engine id `id`), closed with the directory unless its VM closes it first. */
  createStore(name: string, pages: number, id: number, opts: SwapStoreOptions): SwapStore {
    const store = new FileSwapStore(name, pages, this.nextFile(id), opts);
    this.members.add(store);
    return store;
  }
  /** `m` was closed on its own (a VM powered off). */
  remove(m: SwapStore): void {
    this.members.delete(m);
  }

  /** Closes every member, removes the directory, unhooks the exit listener when no directory is left. Idempotent. */
  close(): CloseReport {
    const report: CloseReport = { descriptorsClosed: 0, removed: 0, problems: [] };
    for (const m of this.members) merge(report, m.close());
    this.members.clear();
    if (!this.closed) {
      this.closed = true;
      if (removeQuietly(this.path, 'rmdir', () => rmdirSync(this.path), report.problems)) report.removed++;
      open.delete(this);
      if (open.size === 0 && hooked) {
        process.off('exit', onExit);
        hooked = false;
      }
    }
    return report;
  }
}


/** True if process `pid` exists (EPERM: it does, but is not ours). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** What `cleanSwapDirs` did. */
export interface CleanReport {
  /** directories and files removed */
  removed: string[];
  /** leftovers of live processes, or holding files memvisor did not create: left alone */
  kept: { path: string; reason: string }[];
  problems: CleanupProblem[];
}

/**
 * Removes the swap leftovers of memvisor processes that are gone from `parent` (default: the OS
 * temporary directory): each memvisor-<pid>-XXXXXX directory whose pid is not a running process,
 * with the vm*.vswp files in it (a directory holding anything else is kept), and the swap files
 * memvisor 0.1 wrote straight into `parent`. With `dryRun`, lists what it would remove.
 */
export function cleanSwapDirs(parent: string = tmpdir(), opts: { dryRun?: boolean } = {}): CleanReport {
  const report: CleanReport = { removed: [], kept: [], problems: [] };
  const dry = opts.dryRun === true;
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch (e) {
    throw new ConfigError('dir', parent, `a readable directory (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  for (const name of names) {
    const path = join(parent, name);
    const m = DIR_RE.exec(name) ?? OLD_FILE_RE.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || alive(pid)) {
      report.kept.push({ path, reason: `process ${pid} is running` });
      continue;
    }
    let st;
    try {
      st = lstatSync(path);
    } catch (e) {
      report.problems.push(problem(path, 'unlink', e));
      continue;
    }
    if (st.isFile() && OLD_FILE_RE.test(name)) {
      if (dry || removeQuietly(path, 'unlink', () => unlinkSync(path), report.problems)) report.removed.push(path);
      continue;
    }
    if (!st.isDirectory()) {
      report.kept.push({ path, reason: 'not a directory (a symbolic link or another kind of file): not ours' });
      continue;
    }
    const inside = readdirSync(path);
    const foreign = inside.filter((f) => !FILE_RE.test(f) || !lstatSync(join(path, f)).isFile());
    if (foreign.length > 0) {
      report.kept.push({ path, reason: `holds ${foreign.length} entr${foreign.length === 1 ? 'y' : 'ies'} memvisor did not create (${foreign.slice(0, 3).join(', ')})` });
      continue;
    }
    let all = true;
    for (const f of inside) {
      const fp = join(path, f);
      if (dry || removeQuietly(fp, 'unlink', () => unlinkSync(fp), report.problems)) report.removed.push(fp);
      else all = false;
    }
    if (all && (dry || removeQuietly(path, 'rmdir', () => rmdirSync(path), report.problems))) report.removed.push(path);
  }
  return report;
}
