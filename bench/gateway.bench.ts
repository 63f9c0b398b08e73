/**
 * What the gateway's wrapping costs per call (src/engine/gateway.ts): each export is wrapped once,
 * by arity, with the live check and the result adapted. Side by side, in one run, the same
 * export called 2^20 times per operation:
 *
 *   raw export        the instance's export called directly (no check, signed result)
 *   method + live()   what src/engine/engine.ts did before: a method that checks and adapts
 *   gateway binding   the wrapper every call of src/engine/ goes through now (its call site
 *                     warmed with ten exports first, as a real run makes it polymorphic)
 *
 * Data starts in engine memory (nothing crosses but the arguments).
 */
import { bench, describe } from 'vitest';
import { readFileSync } from 'node:fs';
import { Engine } from '../src/engine/engine.js';
import { FrameKind } from '../src/engine/ram.js';
import { recordUnits, task } from './lib.js';

recordUnits(import.meta.url);

const N = 1 << 20;
const engine = Engine.create({ machineMemoryMiB: 1, guestMemoryMiB: 1, flavor: 'release' });
const mpn = engine.ram.frameAlloc(FrameKind.Guest);
const vm = engine.reclaim.vmCreate(16, 0);

// a second instance of the same module, called without any wrapper
const module = new WebAssembly.Module(readFileSync(new URL('../build/release.wasm', import.meta.url)));
const inst = new WebAssembly.Instance(module, { env: { abort: () => { throw new Error('abort'); } } });
const raw = inst.exports as unknown as { frameRefs(m: number): number; pmapState(vm: number, g: number): number };

/** The pre-gateway style: a hand-written method that checks the engine is usable, then adapts. */
class Handwritten {
  private poison: Error | null = null;
  constructor(private readonly r: typeof raw) {}
  private live(): true {
    if (this.poison) throw this.poison;
    return true;
  }
  frameRefs(m: number): number {
    this.live();
    return this.r.frameRefs(m) >>> 0;
  }
  pmapState(v: number, g: number): number {
    this.live();
    return this.r.pmapState(v, g) >>> 0;
  }
}
const hand = new Handwritten(raw);
const bound = engine.gateway.bind(['frameRefs', 'pmapState']);
let sink = 0;

// Every wrapper of one arity and result type is a closure from the same source line, so in a real
// run its call site sees many exports (V8 shares its feedback): call several before measuring, so
// the figures are those of a polymorphic site, not of a site that only ever saw one export.
{
  const x = engine.gateway.bind(['frameGet', 'framePut', 'frameKind', 'framesUsed', 'pmapState', 'pmapFrame', 'pmapSample', 'vmStateCount', 'pagingStat', 'zslotLen']);
  const z = engine.ram.frameAlloc(FrameKind.Guest);
  for (let i = 0; i < 20000; i++) {
    sink += x.frameGet(z) + x.framePut(z) + x.frameKind(z) + x.framesUsed(1) + bound.frameRefs(z);
    sink += x.pmapState(vm, 1) + x.pmapFrame(vm, 1) + x.pmapSample(vm, 1, false) + x.vmStateCount(vm, 0) + x.pagingStat(vm, 0);
  }
}

describe('gateway call overhead', () => {
  bench(task('engine call, 1 argument (frameRefs)', 'raw export', N, 'item', 'engine'), () => {
    let s = 0;
    for (let i = 0; i < N; i++) s += raw.frameRefs(mpn);
    sink += s;
  });
  bench(task('engine call, 1 argument (frameRefs)', 'method + live()', N, 'item', 'engine'), () => {
    let s = 0;
    for (let i = 0; i < N; i++) s += hand.frameRefs(mpn);
    sink += s;
  });
  bench(task('engine call, 1 argument (frameRefs)', 'gateway binding', N, 'item', 'engine'), () => {
    let s = 0;
    for (let i = 0; i < N; i++) s += bound.frameRefs(mpn);
    sink += s;
  });
  bench(task('engine call, 2 arguments (pmapState)', 'raw export', N, 'item', 'engine'), () => {
    let s = 0;
    for (let i = 0; i < N; i++) s += raw.pmapState(0, i & 15);
    sink += s;
  });
  bench(task('engine call, 2 arguments (pmapState)', 'method + live()', N, 'item', 'engine'), () => {
    let s = 0;
    for (let i = 0; i < N; i++) s += hand.pmapState(0, i & 15);
    sink += s;
  });
  bench(task('engine call, 2 arguments (pmapState)', 'gateway binding', N, 'item', 'engine'), () => {
    let s = 0;
    for (let i = 0; i < N; i++) s += bound.pmapState(vm, i & 15);
    sink += s;
  });
});

// keeps the loops from being optimized away
if (sink < 0) console.log(sink);
