import { bench, describe } from 'vitest';
import { Engine } from '../src/engine/engine.js';
import { corpus, recordUnits, task } from './lib.js';

recordUnits(import.meta.url);

const c = corpus();
const engine = Engine.create({ machineMemoryMiB: 2 * Math.ceil(c.count / 256), flavor: 'release' });
const ram = engine.gateway.region('ram').offset;
engine.gateway.u8.set(c.pages, ram);
const copy = ram + c.count * 4096;
const bytes = c.count * 4096;
engine.ram.pagesCopy(copy, ram, c.count);

describe('page primitives', () => {
  bench(task('page compare', 'memvisor pagesCountEqual (SIMD, equal pages)', bytes, 'B', 'engine'), () => {
    engine.ram.pagesCountEqual(ram, copy, c.count);
  });
  bench(task('page compare', 'Buffer.compare per page (node, memcmp)', bytes, 'B', 'engine'), () => {
    const u8 = engine.gateway.u8;
    let eq = 0;
    for (let i = 0; i < c.count; i++) {
      const a = Buffer.from(u8.buffer, ram + i * 4096, 4096);
      const b = Buffer.from(u8.buffer, copy + i * 4096, 4096);
      eq += a.compare(b) === 0 ? 1 : 0;
    }
    if (eq !== c.count) throw new Error('pages differ');
  });
  bench(task('page copy', 'memvisor pagesCopy (memory.copy)', bytes, 'B', 'engine'), () => {
    engine.ram.pagesCopy(copy, ram, c.count);
  });
  bench(task('page copy', 'Uint8Array.copyWithin per page (node)', bytes, 'B', 'engine'), () => {
    const u8 = engine.gateway.u8;
    for (let i = 0; i < c.count; i++) u8.copyWithin(copy + i * 4096, ram + i * 4096, ram + i * 4096 + 4096);
  });
  // worst case for the zero test: pages that are zero to the last byte (no early exit)
  const zeros = engine.gateway.stage(bytes);
  engine.gateway.u8.fill(0, zeros, zeros + bytes);
  bench(task('zero-page scan', 'memvisor pagesCountZero (SIMD, all-zero pages)', bytes, 'B', 'engine'), () => {
    engine.ram.pagesCountZero(zeros, c.count);
  });
});

// the simulation's generated page contents (workload/content.ts), one call per 16 MiB image:
// 12% zero pages, 44% binary-like, 44% text with repeated phrases, the same bytes on any machine
const GEN_PAGES = 4096;
const gen = Engine.create({ machineMemoryMiB: 1, simContentPages: GEN_PAGES, flavor: 'release' });
if (!gen.workload.imageSet(0, 0, GEN_PAGES)) throw new Error('content area too small');
let genKey = 1n;
describe('page contents', () => {
  bench(task('page contents', 'memvisor contentGenerate (one call per 16 MiB image)', GEN_PAGES * 4096, 'B', 'engine'), () => {
    gen.workload.generateImage(0, genKey++);
  });
});
