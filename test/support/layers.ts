/**
 * The import graph of assembly/ and the rules it keeps (DESIGN.md §3): no import cycle, and the
 * folders' arrows point down.
 *
 *   top (index.ts, audit.ts, debug.ts)   may import anything
 *   translate/                           ram/, codec/, reclaim/ (the pmap and its fault path)
 *   reclaim/                             ram/, codec/ (translation only through reclaim/hook.ts)
 *   codec/                               ram/
 *   ram/                                 nothing above it
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, posix, relative, sep } from 'node:path';

/** Module -> the modules it imports, as paths relative to the root ("reclaim/pmap.ts"). */
export type ImportGraph = Map<string, string[]>;

/** The folders each folder may import from ('.' is the top level of assembly/). */
export const ASSEMBLY_LAYERS: Readonly<Record<string, readonly string[]>> = {
  '.': ['.', 'ram', 'codec', 'reclaim', 'translate', 'workload', 'guest'],
  // the simulation's guest OS model runs workloads over the whole stack; workloads (content,
  // samplers) are pure mechanism beside ram and codec
  guest: ['ram', 'codec', 'reclaim', 'translate', 'workload', 'guest'],
  workload: ['ram', 'codec', 'workload'],
  translate: ['ram', 'codec', 'reclaim', 'translate'],
  reclaim: ['ram', 'codec', 'reclaim'],
  codec: ['ram', 'codec'],
  ram: ['ram'],
};

/** Relative module specifiers that `source` imports or re-exports (comments ignored). */
export function importsOf(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const out: string[] = [];
  for (const m of code.matchAll(/\b(?:import|export)\b[^;"']*?\bfrom\s*["'](\.\.?\/[^"']+)["']|\bimport\s*["'](\.\.?\/[^"']+)["']/g)) {
    out.push(m[1] ?? m[2]);
  }
  return out;
}

/** The import graph of every .ts file under `root` (declaration files excluded). */
export function importGraph(root: string): ImportGraph {
  const g: ImportGraph = new Map();
  const walk = (d: string): void => {
    for (const f of readdirSync(d).sort()) {
      const p = join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith('.ts') && !p.endsWith('.d.ts')) {
        const from = relative(root, p).split(sep).join('/');
        const deps = importsOf(readFileSync(p, 'utf8')).map((s) => posix.normalize(posix.join(posix.dirname(from), s)) + '.ts');
        g.set(from, [...new Set(deps)]);
      }
    }
  };
  walk(root);
  return g;
}

/** Every import cycle: strongly connected components of more than one module, or a module importing itself (Tarjan). */
export function importCycles(g: ImportGraph): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of g.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (g.get(v) ?? []).includes(v)) out.push(scc.sort());
    }
  };
  for (const v of g.keys()) if (!index.has(v)) visit(v);
  return out;
}

/** Imports that break the folder arrows of `layers` ("reclaim/x.ts -> translate/y.ts"), and modules in no known folder. */
export function layerViolations(g: ImportGraph, layers: Readonly<Record<string, readonly string[]>>): string[] {
  const folder = (m: string) => (m.includes('/') ? m.slice(0, m.indexOf('/')) : '.');
  const out: string[] = [];
  for (const [from, deps] of g) {
    const allowed = layers[folder(from)];
    if (!allowed) {
      out.push(`${from}: folder ${folder(from)}/ has no place in the layers`);
      continue;
    }
    for (const to of deps) if (!allowed.includes(folder(to))) out.push(`${from} -> ${to}`);
  }
  return out;
}

/** The root of assembly/ in this checkout. */
export const ASSEMBLY_ROOT = join(dirname(new URL(import.meta.url).pathname), '..', '..', 'assembly');
