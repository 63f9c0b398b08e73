/**
 * assembly/ keeps its layers (DESIGN.md §3): no import cycle anywhere, and every import points
 * down the folder arrows. The checker itself is tested on graphs with a known cycle and a known
 * upward import, so a broken parser cannot pass the real tree by seeing nothing.
 */
import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ASSEMBLY_LAYERS, ASSEMBLY_ROOT, importCycles, importGraph, importsOf, layerViolations, type ImportGraph } from './support/layers.js';

const graph = (edges: Record<string, string[]>): ImportGraph => new Map(Object.entries(edges));

describe('assembly/ import graph', () => {
  const g = importGraph(ASSEMBLY_ROOT);

  it('is read whole: every module, every import resolving to a module', () => {
    expect(g.size).toBeGreaterThan(20);
    expect(g.get('index.ts')).toContain('reclaim/pmap.ts');
    expect(g.get('reclaim/sharing.ts')).toContain('reclaim/hook.ts');
    for (const [from, deps] of g) for (const to of deps) expect(existsSync(join(ASSEMBLY_ROOT, to)), `${from} imports ${to}`).toBe(true);
  });

  it('has no import cycle', () => {
    expect(importCycles(g).map((c) => c.join(' <-> '))).toEqual([]);
  });

  it('points down the folder arrows: ram <- codec <- reclaim <- translate <- guest <- index, workload <- guest (reclaim reaches translation only through reclaim/hook.ts)', () => {
    expect(layerViolations(g, ASSEMBLY_LAYERS)).toEqual([]);
  });
});

describe('the layer checker fires', () => {
  it('reads import and re-export forms, across lines, ignoring comments', () => {
    const src = `import { a } from "./a";
import {
  b, c,
} from '../ram/b';
export { d } from "./d";
export * from "./e";
import "./f";
// import { x } from "./commented";
/* export { y } from "./block"; */
const s = "not an import";`;
    expect(importsOf(src)).toEqual(['./a', '../ram/b', './d', './e', './f']);
  });

  it('finds a cycle of three, a self-import, and nothing in a tree', () => {
    const cyclic = graph({ 'r/a.ts': ['r/b.ts'], 'r/b.ts': ['r/c.ts'], 'r/c.ts': ['r/a.ts', 'r/d.ts'], 'r/d.ts': [], 'r/s.ts': ['r/s.ts'] });
    expect(importCycles(cyclic)).toEqual([['r/a.ts', 'r/b.ts', 'r/c.ts'], ['r/s.ts']]);
    expect(importCycles(graph({ 'a.ts': ['ram/b.ts', 'ram/c.ts'], 'ram/b.ts': ['ram/c.ts'], 'ram/c.ts': [] }))).toEqual([]);
  });

  it('finds an upward import and a module outside the layers', () => {
    const g = graph({ 'ram/frames.ts': ['reclaim/pmap.ts'], 'reclaim/pmap.ts': ['ram/frames.ts', 'translate/coherence.ts'], 'util/x.ts': [] });
    expect(layerViolations(g, ASSEMBLY_LAYERS)).toEqual([
      'ram/frames.ts -> reclaim/pmap.ts',
      'reclaim/pmap.ts -> translate/coherence.ts',
      'util/x.ts: folder util/ has no place in the layers',
    ]);
  });
});
