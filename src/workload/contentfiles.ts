/**
 * The Node side of a scenario's content (registered by the Node entry through src/platform.ts):
 * OS image pages from the real files under content.roots, a workload's file image, and what a
 * path names for the scenario validator. src/workload/images.ts plans and loads the content
 * area and reaches these only through the registration, so the main entry stays free of Node.
 */
import { readdirSync, lstatSync, statSync, openSync, readSync, closeSync, fstatSync } from 'node:fs';
import { join } from 'node:path';
import { PAGE } from '../engine/addr.js';
import { ConfigError } from '../errors.js';
import type { PathInfo } from '../platform.js';

/** What `path` names (symlinks followed unless `follow` is false), or null when it cannot be looked at. */
export function pathInfo(path: string, follow = true): PathInfo | null {
  try {
    const st = follow ? statSync(path) : lstatSync(path);
    return { kind: st.isFile() ? 'file' : st.isDirectory() ? 'dir' : 'other', size: st.size };
  } catch {
    return null;
  }
}

/** Regular files of at least a page under `root`, sorted, depth first, symlinks not followed. */
export function* walk(root: string): Generator<string> {
  let names: string[];
  try {
    names = readdirSync(root).sort();
  } catch {
    return;
  }
  for (const n of names) {
    const p = join(root, n);
    let st;
    try {
      st = lstatSync(p);
    } catch {
      continue;
    }
    if (st.isDirectory()) yield* walk(p);
    else if (st.isFile() && st.size >= PAGE) yield p;
  }
}

/** `pages` whole pages of the files under `roots` in sorted order, or null when they hold fewer. */
export function rootPages(roots: readonly string[], pages: number): Uint8Array | null {
  const out = new Uint8Array(pages * PAGE);
  let got = 0;
  for (const root of roots) {
    for (const file of walk(root)) {
      if (got >= pages) return out;
      let fd: number;
      try {
        fd = openSync(file, 'r');
      } catch {
        continue;
      }
      try {
        const n = Math.min(Math.floor(fstatSync(fd).size / PAGE), pages - got);
        let done = 0;
        while (done < n * PAGE) {
          const r = readSync(fd, out, got * PAGE + done, n * PAGE - done, done);
          if (r === 0) break;
          done += r;
        }
        got += Math.floor(done / PAGE);
      } catch {
        // an unreadable file is skipped, like a missing root
      } finally {
        closeSync(fd);
      }
    }
  }
  return got >= pages ? out : null;
}

/** The first `pages` whole pages of `path` (zero past its end); a ConfigError naming `field` when it cannot be opened. */
export function filePages(field: string, path: string, pages: number): Uint8Array {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new ConfigError(field, path, `a readable file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    const buf = new Uint8Array(pages * PAGE);
    let done = 0;
    while (done < buf.length) {
      const r = readSync(fd, buf, done, buf.length - done, done);
      if (r === 0) break;
      done += r;
    }
    return buf;
  } finally {
    closeSync(fd);
  }
}
