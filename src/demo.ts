/**
 * `memvisor demo`: what the engine can do so far, on real pages. Until the scenario runner
 * exists this is what `npm start` runs.
 */
import { Engine } from './engine.js';
import { buildCorpus, PAGE } from './corpus.js';
import { ConfigError } from './errors.js';

interface Out {
  write(s: string): unknown;
}

/** Parses `--mib N` and `--root DIR` (repeatable). */
function parseArgs(args: string[]): { mib: number; roots: string[] } {
  let mib = 64;
  const roots: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const v = args[i + 1];
    if (a === '--mib') {
      mib = Number(v);
      if (!Number.isInteger(mib) || mib < 1 || mib > 2048) throw new ConfigError('--mib', v, 'an integer in [1, 2048]');
      i++;
    } else if (a === '--root') {
      if (!v) throw new ConfigError('--root', v, 'a directory');
      roots.push(v);
      i++;
    } else {
      throw new ConfigError('demo argument', a, '--mib N or --root DIR');
    }
  }
  return { mib, roots };
}

export async function runDemo(args: string[], out: Out): Promise<void> {
  const { mib, roots } = parseArgs(args);
  const t0 = performance.now();
  const corpus = buildCorpus({
    mib,
    sources: roots.length ? roots.map((root) => ({ root, share: 0.9 / roots.length })) : undefined,
  });
  const tRead = performance.now() - t0;
  const engine = Engine.create({ machineMemoryMiB: mib });
  const ram = engine.region('ram').offset;
  engine.u8.set(corpus.pages, ram);
  const t1 = performance.now();
  const zero = engine.pagesCountZero(ram, corpus.count);
  const tZero = performance.now() - t1;
  out.write(`memvisor demo: ${corpus.count} pages (${mib} MiB) of real files, read in ${tRead.toFixed(0)} ms\n`);
  for (const [src, n] of Object.entries(corpus.from)) out.write(`  ${src.padEnd(12)} ${String(n).padStart(8)} pages\n`);
  out.write(`  zero pages found: ${zero} (${((corpus.count * PAGE) / 1e9 / (tZero / 1e3)).toFixed(1)} GB/s scan)\n`);
}
