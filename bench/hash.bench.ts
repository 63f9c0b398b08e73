import { bench, describe } from 'vitest';
import xxhash from 'xxhash-wasm';
import { createXXHash3 } from 'hash-wasm';
import { Engine } from '../src/engine/engine.js';
import { corpus, recordUnits, task } from './lib.js';

recordUnits(import.meta.url);

const c = corpus();
const engine = Engine.create({ machineMemoryMiB: Math.ceil(c.count / 256), flavor: 'release' });
const ram = engine.gateway.region('ram').offset;
engine.gateway.u8.set(c.pages, ram);
const out = engine.gateway.stage(c.count * 8);
const bytes = c.count * 4096;
const { h64Raw } = await xxhash();
const hasher = await createXXHash3();

describe('page hash', () => {
  bench(task('page hash', 'memvisor pagesHash (XXH3-64, SIMD, batch)', bytes), () => {
    engine.codec.pagesHash(ram, c.count, out);
  });
  bench(task('page hash', 'memvisor pagesXxh64 (XXH64, batch)', bytes), () => {
    engine.codec.pagesXxh64(ram, c.count, out);
  });
  bench(task('page hash', 'xxhash-wasm h64Raw per page (XXH64)', bytes), () => {
    const p = c.pages;
    for (let i = 0; i < c.count; i++) h64Raw(p.subarray(i * 4096, i * 4096 + 4096));
  });
  bench(task('page hash', 'hash-wasm createXXHash3 per page (XXH3-64)', bytes), () => {
    const p = c.pages;
    for (let i = 0; i < c.count; i++) hasher.init().update(p.subarray(i * 4096, i * 4096 + 4096)).digest('binary');
  });
});
