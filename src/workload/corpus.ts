/**
 * A page corpus: 4 KiB pages of real files on this machine (ELF binaries and libraries, text),
 * plus zero pages, for the demo and the benchmarks. Deterministic on a given machine: files are
 * walked in sorted order and taken whole-page by whole-page until each share is filled, so every
 * contender sees the same pages. A missing root is skipped, not an error.
 */
import { readFileSync } from 'node:fs';
import { PAGE } from '../engine/addr.js';
import { ConfigError } from '../errors.js';
import { walk } from './contentfiles.js';

export interface CorpusSource {
  /** directory walked in sorted order */
  root: string;
  /** share of the corpus taken from it, 0..1 */
  share: number;
}

export interface CorpusOptions {
  /** corpus size in MiB (default 64) */
  mib?: number;
  /** sources; default /usr/bin 35%, /usr/lib 35%, /usr/share 20%; the rest (and whatever a source lacks) are zero pages */
  sources?: CorpusSource[];
}

export interface Corpus {
  /** pages.length === count * 4096 */
  pages: Uint8Array;
  count: number;
  /** pages taken from each root, and zero pages */
  from: Record<string, number>;
}

export const DEFAULT_SOURCES: CorpusSource[] = [
  { root: '/usr/bin', share: 0.35 },
  { root: '/usr/lib', share: 0.35 },
  { root: '/usr/share', share: 0.2 },
];

/** Builds the corpus; pages from sources that run short are made up with zero pages. */
export function buildCorpus(opts: CorpusOptions = {}): Corpus {
  const mib = opts.mib ?? 64;
  if (!Number.isInteger(mib) || mib < 1 || mib > 2048) throw new ConfigError('mib', mib, 'an integer in [1, 2048]');
  const sources = opts.sources ?? DEFAULT_SOURCES;
  const count = mib * 256;
  const pages = new Uint8Array(count * PAGE);
  const from: Record<string, number> = {};
  let at = 0;
  for (const { root, share } of sources) {
    const want = Math.floor(count * share);
    let got = 0;
    for (const file of walk(root)) {
      if (got >= want) break;
      let bytes: Buffer;
      try {
        bytes = readFileSync(file);
      } catch {
        continue;
      }
      const n = Math.min(Math.floor(bytes.length / PAGE), want - got);
      pages.set(bytes.subarray(0, n * PAGE), at * PAGE);
      at += n;
      got += n;
    }
    from[root] = got;
  }
  // the rest stays zero: zero pages, as a booted guest has plenty of
  from.zero = count - at;
  return { pages, count, from };
}
