/**
 * Why copies across the boundary are placed (src/engine/gateway.ts SKEW_ROOM): V8 copies typed
 * arrays with the C library's memmove, and glibc's `rep movsb` path (4 KiB up to the L2 size)
 * is far slower on AMD Zen 3 when the destination lies just past the source within a 4 KiB
 * page. Rows of 256 KiB copies (a chunk of the page batch forms):
 *
 *   - inside linear memory (copyWithin, so both addresses are known), destination 16 bytes
 *     and half a page past the source: the two sides of the slow band;
 *   - from a JavaScript array into linear memory at `skewed`'s address, as the codecs copy;
 *   - 64 MiB out of a large JavaScript array in 256 KiB chunks, at `skewed`'s address and 16,
 *     32, 48 bytes past it: `rep movsb` wants both sides at the same place in a 64-byte line;
 *   - 64 MiB into a large JavaScript array in 256 KiB chunks, with a plain set and with
 *     `Gateway.copyOut`, which first reads one byte of each destination page (gateway.ts says
 *     why), alone and with each chunk hashed before its copy;
 *
 * and a guest-physical read page by page into one large JavaScript array (VM.readPhys through
 * the staging window, which places its copies the same way), and guest-physical reads and writes
 * of 64 bytes, which the module copies itself (assembly/ram/page.ts bytesCopy).
 *
 * A JavaScript array's own address is not visible, so no row can put it in the band on
 * purpose; the first two rows show what a copy that lands there costs.
 */
import { bench, describe } from 'vitest';
import { SKEW_ROOM, skewed } from '../src/engine/gateway.js';
import { Engine } from '../src/engine/engine.js';
import { Host } from '../src/index.js';
import { recordUnits, task } from './lib.js';

recordUnits(import.meta.url);

const LEN = 256 << 10;
const engine = Engine.create({ flavor: 'release' });
const base = engine.gateway.stage(3 * LEN + 2 * SKEW_ROOM);
const src = (base + 4095) & ~4095;
const js = new Uint8Array(4 * LEN);
for (let i = 0; i < js.length; i += 64) js[i] = i >>> 6;
const from = js.subarray(LEN, 2 * LEN);

describe('copy 256 KiB', () => {
  bench(task('copy 256 KiB', 'memmove in linear memory, destination half a page past the source', LEN, 'B', 'engine'), () => {
    engine.gateway.u8.copyWithin(src + LEN + 2048, src, src + LEN);
  });
  bench(task('copy 256 KiB', 'memmove in linear memory, destination 16 bytes past the source in a page', LEN, 'B', 'engine'), () => {
    engine.gateway.u8.copyWithin(src + LEN + 16, src, src + LEN);
  });
  bench(task('copy 256 KiB', 'JavaScript array into linear memory at skewed()', LEN, 'B', 'js'), () => {
    engine.gateway.u8.set(from, skewed(src + LEN, from.byteOffset));
  });
});

// 64 MiB out of a JavaScript array in 256 KiB chunks (as the page batch forms copy), each at
// skewed()'s address and 16, 32, 48 bytes past it: which place in a 64-byte line the copies
// want, that is where the array's bytes start (BACKING_PHASE)
const BIG = 64 << 20;
const big = new Uint8Array(BIG);
for (let i = 0; i < BIG; i += 64) big[i] = i >>> 6;
const chunks = engine.gateway.stage(LEN + 2 * SKEW_ROOM);
describe('copy 64 MiB from JavaScript in 256 KiB chunks', () => {
  for (const delta of [0, 16, 32, 48]) {
    const name = delta === 0 ? 'at skewed() (the array\'s place in a 64-byte line)' : `${delta} bytes past skewed()`;
    bench(task('copy 64 MiB from JavaScript in 256 KiB chunks', name, BIG, 'B', 'js'), () => {
      const u8 = engine.gateway.u8;
      for (let o = 0; o < BIG; o += LEN) u8.set(big.subarray(o, o + LEN), skewed(chunks, big.byteOffset + o) + delta);
    });
  }
});

// 64 MiB into a large JavaScript array in 256 KiB chunks, as the page batch forms copy out: a
// plain set, and Gateway.copyOut, which reads one byte of each destination page before its window
// is copied; each alone, and each with the chunk hashed (XXH3, about 10 us) before it is copied,
// as a kernel comes before each chunk's copy in the batch forms
const OUT = 'copy 64 MiB to JavaScript in 256 KiB chunks';
const outChunk = engine.gateway.stage(LEN + 2 * SKEW_ROOM + 8 * 64);
const outHashes = outChunk + LEN + SKEW_ROOM;
engine.gateway.u8.set(big.subarray(0, LEN), outChunk);
function copyOutRow(warm: boolean, hash: boolean): () => void {
  return () => {
    for (let o = 0; o < BIG; o += LEN) {
      const at = skewed(outChunk, big.byteOffset + o);
      if (hash) engine.codec.xxh3Pages(at, LEN >> 12, 0n, outHashes);
      if (warm) engine.gateway.copyOut(big, o, at, LEN);
      else big.set(engine.gateway.u8.subarray(at, at + LEN), o);
    }
  };
}
describe(OUT, () => {
  bench(task(OUT, 'set (TypedArray.prototype.set)', BIG, 'B', 'engine'), copyOutRow(false, false));
  bench(task(OUT, 'copyOut (one read per destination page first)', BIG, 'B', 'engine'), copyOutRow(true, false));
  bench(task(OUT, 'set, each chunk hashed before it is copied', BIG, 'B', 'engine'), copyOutRow(false, true));
  bench(task(OUT, 'copyOut, each chunk hashed before it is copied', BIG, 'B', 'engine'), copyOutRow(true, true));
});

const PAGES = 4096;
const host = await Host.create({ machineMemoryMiB: 32, flavor: 'release' });
const vm = host.addVM({ name: 'copy', memoryMiB: PAGES / 256 });
const image = new Uint8Array(PAGES * 4096);
for (let i = 0; i < image.length; i += 64) image[i] = (i >>> 6) & 255;
vm.writePhys(0, image);
const back = new Uint8Array(PAGES * 4096);

describe('guest-physical read per page', () => {
  bench(task('guest-physical read per page', 'VM.readPhys of one 4 KiB page into a large JavaScript array', PAGES, 'item', 'js'), () => {
    for (let i = 0; i < PAGES; i++) vm.readPhys(i * 4096, 4096, back.subarray(i * 4096));
  });
});

// 64 bytes at a time, one page apart (a simulator embedding memvisor reads and writes guest
// memory in small pieces): the module copies short ones itself instead of calling memmove
const small = new Uint8Array(64).fill(7);
const smallBack = new Uint8Array(64);
describe('guest-physical access, 64 bytes', () => {
  bench(task('guest-physical access, 64 bytes', 'VM.writePhys of 64 bytes, one page apart', PAGES, 'item', 'js'), () => {
    for (let i = 0; i < PAGES; i++) vm.writePhys(i * 4096 + 64, small);
  });
  bench(task('guest-physical access, 64 bytes', 'VM.readPhys of 64 bytes into one array, one page apart', PAGES, 'item', 'js'), () => {
    for (let i = 0; i < PAGES; i++) vm.readPhys(i * 4096 + 64, 64, smallBack);
  });
});
