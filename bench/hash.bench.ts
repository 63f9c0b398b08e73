/**
 * Page hashing, per 4 KiB page of the bench corpus: memvisor's batch hashes on pages already in
 * machine RAM (engine memory), memvisor's xxh3Pages / xxh64Pages on pages that start in a
 * JavaScript array (the copy into linear memory and the hashes back as a BigUint64Array are
 * timed), and the peers, which hash one JavaScript page per call: xxhash-wasm's h64Raw (which
 * copies each page into its own linear memory) and hash-wasm's XXH3. The native rows run
 * xxHash's own C code (bench/native/xxhash.c, where gcc and xxhash.h are installed) on the same
 * pages in its own memory; it is checked to produce the same hashes before it is timed.
 */
import { afterAll, bench, describe } from 'vitest';
import xxhash from 'xxhash-wasm';
import { createXXHash3 } from 'hash-wasm';
import { xxh3Pages, xxh64Pages } from '../src/index.js';
import { Engine } from '../src/engine/engine.js';
import { corpus, recordUnits, target, task } from './lib.js';
import { removeNativeFiles, roundNs, virtualClock, XXHASH_COMMANDS, xxhashProgram } from './native.js';

recordUnits(import.meta.url);

const c = corpus();
const engine = Engine.create({ machineMemoryMiB: Math.ceil(c.count / 256), flavor: 'release' });
const ram = engine.gateway.region('ram').offset;
engine.gateway.u8.set(c.pages, ram);
const out = engine.gateway.stage(c.count * 8);
const bytes = c.count * 4096;
const { h64Raw } = await xxhash();
const hasher = await createXXHash3();
const expected = { xxh64: xxh64Pages(c.pages), xxh3: xxh3Pages(c.pages) };
const native = await xxhashProgram(c.pages, expected);
const nativeAvx2 = await xxhashProgram(c.pages, expected, 'xxhash-avx2');
afterAll(() => {
  native?.close();
  nativeAvx2?.close();
  removeNativeFiles();
});

const h64RawTask = task('page hash', 'xxhash-wasm h64Raw per page (XXH64)', bytes, 'B', 'js');
const xxh3PagesTask = task('page hash', 'memvisor xxh3Pages (XXH3-64, one call for all pages)', bytes, 'B', 'js');
const xxh64PagesTask = task('page hash', 'memvisor xxh64Pages (XXH64, one call for all pages)', bytes, 'B', 'js');
target('hashing pages from JavaScript, XXH3 (>= 2x xxhash-wasm)', xxh3PagesTask, h64RawTask, 2);
target('hashing pages from JavaScript, XXH64 (>= 2x xxhash-wasm)', xxh64PagesTask, h64RawTask, 2);

describe('page hash', () => {
  bench(task('page hash', 'memvisor pagesHash (XXH3-64, SIMD, batch)', bytes, 'B', 'engine'), () => {
    engine.codec.pagesHash(ram, c.count, out);
  });
  bench(task('page hash', 'memvisor pagesXxh64 (XXH64, batch)', bytes, 'B', 'engine'), () => {
    engine.codec.pagesXxh64(ram, c.count, out);
  });
  bench(xxh3PagesTask, () => {
    xxh3Pages(c.pages);
  });
  bench(xxh64PagesTask, () => {
    xxh64Pages(c.pages);
  });
  bench(h64RawTask, () => {
    const p = c.pages;
    for (let i = 0; i < c.count; i++) h64Raw(p.subarray(i * 4096, i * 4096 + 4096));
  });
  bench(task('page hash', 'hash-wasm createXXHash3 per page (XXH3-64)', bytes, 'B', 'js'), () => {
    const p = c.pages;
    for (let i = 0; i < c.count; i++) hasher.init().update(p.subarray(i * 4096, i * 4096 + 4096)).digest('binary');
  });
  const rows = [
    [native, 'xxh64', "xxHash's C code XXH64 per page (C, -O2)"],
    [native, 'xxh64c', 'XXH64 in C the way xxh64Pages works: 64-page chunks copied to a staging buffer, hashed two pages at a time (-O2)'],
    [native, 'xxh3', "xxHash's C code XXH3_64bits per page (C, -O2: SSE2)"],
    [nativeAvx2, 'xxh3', "xxHash's C code XXH3_64bits per page (C, -O2 -mavx2)"],
  ] as const;
  for (const [program, name, label] of rows) {
    if (!program) continue;
    const clock = virtualClock();
    bench(task('page hash', label, bytes, 'B', 'native'), async () => {
      clock.advance(roundNs(await program.round(XXHASH_COMMANDS[name])));
    }, { now: clock.now });
  }
});

// The XXH64 kernels over one 64-page chunk that stays in L2, as xxh64Pages hashes each chunk it
// copied in (the same bytes hashed c.count / 64 times, so the throughput counts the corpus):
// one page at a time, and two neighbouring pages at a time (xxh64PagesInCache, what the
// JavaScript form runs).
describe('page hash, a 64-page chunk in L2', () => {
  const chunk = 64;
  const group = 'page hash, a 64-page chunk in L2';
  bench(task(group, 'memvisor xxh64Pages (XXH64, one page at a time)', bytes, 'B', 'engine'), () => {
    for (let first = 0; first < c.count; first += chunk) engine.codec.xxh64Pages(ram, chunk, 0n, out);
  });
  bench(task(group, 'memvisor xxh64PagesInCache (XXH64, two pages at a time)', bytes, 'B', 'engine'), () => {
    for (let first = 0; first < c.count; first += chunk) engine.codec.xxh64PagesInCache(ram, chunk, 0n, out);
  });
  bench(task(group, 'memvisor xxh3Pages (XXH3-64)', bytes, 'B', 'engine'), () => {
    for (let first = 0; first < c.count; first += chunk) engine.codec.xxh3Pages(ram, chunk, 0n, out);
  });
});
