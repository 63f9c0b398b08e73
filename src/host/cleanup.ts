/**
 * What releasing swap files reports: what was closed and removed, and what could not be. Shared
 * by a host's close (host.ts), its swap stores and directory (fileswap.ts, swapdir.ts) and
 * `cleanSwapDirs`; free of Node, so a Host in a browser reports the same shape.
 */

/** Something `close()` or `cleanSwapDirs` could not release. */
export interface CleanupProblem {
  /** the file or directory */
  path: string;
  /** what failed on it */
  op: 'close' | 'unlink' | 'rmdir';
  /** errno code ('EACCES', 'ENOTEMPTY', ...), null if none */
  code: string | null;
  message: string;
}

/** What `host.close()` released, and what it could not. */
export interface CloseReport {
  /** swap file descriptors closed */
  descriptorsClosed: number;
  /** swap files and directories removed (or found already gone) */
  removed: number;
  /** what could not be released; empty when everything was */
  problems: CleanupProblem[];
}

/** A cleanup problem from a failed file system call. */
export function problem(path: string, op: CleanupProblem['op'], e: unknown): CleanupProblem {
  const code = (e as { code?: unknown } | null)?.code;
  return { path, op, code: typeof code === 'string' ? code : null, message: e instanceof Error ? e.message : String(e) };
}

/** Adds `b` into `a`. */
export function merge(a: CloseReport, b: CloseReport): CloseReport {
  a.descriptorsClosed += b.descriptorsClosed;
  a.removed += b.removed;
  a.problems.push(...b.problems);
  return a;
}
