/**
 * Page compression, per 4 KiB page over the bench corpus: memvisor's LZ4 on pages in machine
 * RAM (engine memory: one WebAssembly call per batch) and on pages that start in JavaScript
 * (the page batch forms, and the into-buffer forms called once per page; every copy timed),
 * against the reference liblz4 in C (bench/native/lz4.c, built with gcc where liblz4-dev is
 * installed, timed by itself round by round in this run; skipped with a note elsewhere),
 * lz4js's block API, lz4-wasm (lz4_flex in WebAssembly; an optional peer that loads only under
 * `--experimental-wasm-modules --experimental-detect-module`, as `npm run bench` sets) and
 * fflate's raw deflate at level 1. Throughput counts input bytes for compression and output
 * bytes for decompression. Every LZ4 decoder of memvisor and liblz4 decodes the same blocks
 * (memvisor's, which liblz4's compressor matches byte for byte on this corpus).
 *
 * Sizes per contender (mean compressed size, fraction of pages <= 2048 bytes: what a zip cache
 * keeps) go to bench/results/codec-sizes.json and are printed.
 */
import { afterAll, bench, describe } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { deflateSync, inflateSync } from 'fflate';
// @ts-expect-error: lz4js ships no types
import lz4js from 'lz4js';
import {
  lz4Bound, lz4CompressInto, lz4CompressPagesInto, lz4DecompressInto, lz4DecompressPagesInto,
} from '../src/index.js';
import { Engine } from '../src/engine/engine.js';
import { corpus, recordUnits, target, task } from './lib.js';
import { liblz4Program, removeNativeFiles, roundNs, virtualClock } from './native.js';

recordUnits(import.meta.url);

const c = corpus();
const n = c.count;
const bytes = n * 4096;
const pages = Array.from({ length: n }, (_, i) => c.pages.subarray(i * 4096, (i + 1) * 4096));

// ---- memvisor: pages, slots, sizes and decoded pages in staging ----------------------------
const engine = Engine.create({ flavor: 'release' });
const SLOT = (engine.codec.lz4Bound(4096) + 15) & ~15;
//   staging: [ pages | slots (SLOT each) | sizes | decoded pages | 2048-byte slots | their sizes ]
const src = engine.gateway.stage(n * (4096 + SLOT + 4 + 4096 + 2048 + 4));
const slots = src + n * 4096;
const sizes = slots + n * SLOT;
const out = sizes + n * 4;
const slots2k = out + n * 4096;
const sizes2k = slots2k + n * 2048;
engine.gateway.u8.set(c.pages, src);
if (engine.codec.lz4CompressPages(src, n, slots, SLOT, sizes) !== n) throw new Error('memvisor: a page did not fit lz4Bound');
if (engine.codec.lz4DecompressPages(slots, SLOT, sizes, n, out) !== n) throw new Error(`memvisor: page failed: ${engine.codec.lz4LastError()}`);
if (Buffer.compare(Buffer.from(c.pages), engine.gateway.u8.subarray(out, out + bytes)) !== 0) throw new Error('memvisor: round trip differs');
const memvisorSizes = Array.from(new Int32Array(engine.gateway.u8.slice(sizes, sizes + n * 4).buffer));

// ---- memvisor from JavaScript: packed blocks with offsets, and one call per page ------------
const packed = new Uint8Array(n * lz4Bound(4096));
const offsets = new Uint32Array(n + 1);
const packedBytes = lz4CompressPagesInto(c.pages, packed, offsets);
const decoded = new Uint8Array(bytes);
lz4DecompressPagesInto(packed.subarray(0, packedBytes), offsets, decoded);
if (Buffer.compare(Buffer.from(c.pages), decoded) !== 0) throw new Error('memvisor (from JavaScript): round trip differs');
const blocks = Array.from({ length: n }, (_, i) => packed.subarray(offsets[i], offsets[i + 1]));
const onePage = new Uint8Array(4096);
const oneBlock = new Uint8Array(lz4Bound(4096));

// ---- liblz4 in C: the same pages, the same blocks ---------------------------------------------
const liblz4 = await liblz4Program(c.pages, packed, offsets);
if (liblz4) {
  const [, liblz4Bytes] = await liblz4.round('c');
  console.log(`[codec.bench] liblz4 compresses the corpus to ${liblz4Bytes} bytes, memvisor to ${packedBytes}`);
}
afterAll(() => {
  liblz4?.close();
  removeNativeFiles();
});
const compressClock = virtualClock();
const decompressClock = virtualClock();

// ---- lz4js: block API, one page at a time ------------------------------------------------
// compressBlock needs a zeroed table for each block: with a table left over from another page
// it emits blocks that decode to the wrong bytes (a third of this corpus), so clearing its
// 64 Ki entries is part of its cost
const table = new Uint32Array(1 << 16);
const lz4jsOut = new Uint8Array(4096);
const lz4jsBuf = new Uint8Array(SLOT);
/** lz4js blocks; null where lz4js finds no match (its frame format would store the page raw). */
const lz4jsBlocks = pages.map((p) => {
  table.fill(0);
  const m = lz4js.compressBlock(p, lz4jsBuf, 0, 4096, table);
  return m > 0 ? lz4jsBuf.slice(0, m) : null;
});
lz4jsBlocks.forEach((b, i) => {
  if (b && lz4js.decompressBlock(b, lz4jsOut, 0, b.length, 0) !== 4096) throw new Error(`lz4js: page ${i} does not round-trip`);
  if (b && Buffer.compare(lz4jsOut, pages[i]) !== 0) throw new Error(`lz4js: page ${i} decodes to other bytes`);
});

// ---- lz4-wasm (optional) -----------------------------------------------------------------
interface Lz4Wasm {
  compress(input: Uint8Array): Uint8Array;
  decompress(input: Uint8Array): Uint8Array;
}
let lz4wasm: Lz4Wasm | null = null;
try {
  lz4wasm = (await import('lz4-wasm/lz4_wasm.js' as string)) as Lz4Wasm;
} catch (e) {
  lz4wasm = null;
  console.warn(`[codec.bench] lz4-wasm skipped (run with NODE_OPTIONS='--experimental-wasm-modules --experimental-detect-module'): ${(e as Error).message.split('\n')[0]}`);
}
/** lz4-wasm output: a 4-byte size, then the block. */
const lz4wasmBlocks = lz4wasm ? pages.map((p) => lz4wasm!.compress(p)) : [];
lz4wasmBlocks.forEach((b, i) => {
  if (Buffer.compare(lz4wasm!.decompress(b), pages[i]) !== 0) throw new Error(`lz4-wasm: page ${i} does not round-trip`);
});

// ---- fflate: raw deflate, level 1 --------------------------------------------------------
const deflated = pages.map((p) => deflateSync(p, { level: 1 }));
const inflateOut = new Uint8Array(4096);
deflated.forEach((b, i) => {
  if (Buffer.compare(inflateSync(b, { out: inflateOut }), pages[i]) !== 0) throw new Error(`fflate: page ${i} does not round-trip`);
});

// ---- sizes -------------------------------------------------------------------------------
/** Mean size and the fraction of pages that fit a 2048-byte slot. */
function summary(sz: number[]) {
  const total = sz.reduce((a, b) => a + b, 0);
  return {
    meanBytes: +(total / sz.length).toFixed(1),
    fitFraction2048: +(sz.filter((s) => s <= 2048).length / sz.length).toFixed(4),
    ratio: +(bytes / total).toFixed(3),
  };
}
const sizeReport: Record<string, unknown> = {
  corpus: { pages: n, mib: bytes / (1 << 20), from: c.from },
  'memvisor lz4': summary(memvisorSizes),
  'lz4js block (pages without a match counted as 4096 raw)': summary(lz4jsBlocks.map((b) => (b ? b.length : 4096))),
  ...(lz4wasm ? { 'lz4-wasm (block, without its 4-byte size prefix)': summary(lz4wasmBlocks.map((b) => b.length - 4)) } : {}),
  'fflate raw deflate level 1': summary(deflated.map((b) => b.length)),
};
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/codec-sizes.json', JSON.stringify(sizeReport, null, 1));
console.log(`[codec.bench] compressed sizes per 4 KiB page:\n${JSON.stringify(sizeReport, null, 1)}`);

/** memvisor's tasks take ~0.1 s: a longer warm-up lets the collector finish with the set-up garbage first */
const fast = { time: 2000, warmupTime: 1000 };
const slow = { iterations: 5, time: 1000, warmupIterations: 1 };

const compressPagesInto = task('lz4 compress', 'memvisor lz4CompressPagesInto (packed blocks, one call for all pages)', bytes, 'B', 'js');
const compressNative = task('lz4 compress', 'liblz4 LZ4_compress_default per page (C, -O2)', bytes, 'B', 'native');
const decompressPagesInto = task('lz4 decompress', 'memvisor lz4DecompressPagesInto (packed blocks, one call for all pages)', bytes, 'B', 'js');
const decompressNative = task('lz4 decompress', 'liblz4 LZ4_decompress_safe per page (C, -O2)', bytes, 'B', 'native');
target('LZ4 compression of pages from JavaScript (>= 0.8x liblz4)', compressPagesInto, compressNative, 0.8);
target('LZ4 decompression of pages from JavaScript (>= 0.7x liblz4)', decompressPagesInto, decompressNative, 0.7);

describe('lz4 compress', () => {
  bench(task('lz4 compress', 'memvisor lz4CompressPages (one call per batch)', bytes, 'B', 'engine'), () => {
    engine.codec.lz4CompressPages(src, n, slots, SLOT, sizes);
  }, fast);
  bench(task('lz4 compress', 'memvisor lz4CompressPages, 2048-byte slots (zip cache: bail out early)', bytes, 'B', 'engine'), () => {
    engine.codec.lz4CompressPages(src, n, slots2k, 2048, sizes2k);
  }, fast);
  bench(compressPagesInto, () => {
    lz4CompressPagesInto(c.pages, packed, offsets);
  }, fast);
  bench(task('lz4 compress', 'memvisor lz4CompressInto per page', bytes, 'B', 'js'), () => {
    for (let i = 0; i < n; i++) lz4CompressInto(pages[i], oneBlock);
  }, fast);
  if (liblz4) {
    bench(compressNative, async () => {
      compressClock.advance(roundNs(await liblz4.round('c')));
    }, { ...fast, now: compressClock.now });
  }
  bench(task('lz4 compress', 'lz4js compressBlock per page', bytes, 'B', 'js'), () => {
    for (let i = 0; i < n; i++) {
      table.fill(0);
      lz4js.compressBlock(pages[i], lz4jsBuf, 0, 4096, table);
    }
  }, slow);
  if (lz4wasm) {
    bench(task('lz4 compress', 'lz4-wasm compress per page', bytes, 'B', 'js'), () => {
      for (let i = 0; i < n; i++) lz4wasm!.compress(pages[i]);
    }, slow);
  }
  bench(task('lz4 compress', 'fflate deflateSync level 1 per page (raw deflate)', bytes, 'B', 'js'), () => {
    for (let i = 0; i < n; i++) deflateSync(pages[i], { level: 1 });
  }, slow);
});

describe('lz4 decompress', () => {
  bench(task('lz4 decompress', 'memvisor lz4DecompressPages (one call per batch)', bytes, 'B', 'engine'), () => {
    engine.codec.lz4DecompressPages(slots, SLOT, sizes, n, out);
  }, fast);
  bench(decompressPagesInto, () => {
    lz4DecompressPagesInto(packed, offsets, decoded);
  }, fast);
  bench(task('lz4 decompress', 'memvisor lz4DecompressInto per page', bytes, 'B', 'js'), () => {
    for (let i = 0; i < n; i++) lz4DecompressInto(blocks[i], onePage);
  }, fast);
  if (liblz4) {
    bench(decompressNative, async () => {
      decompressClock.advance(roundNs(await liblz4.round('d')));
    }, { ...fast, now: decompressClock.now });
  }
  bench(task('lz4 decompress', 'lz4js decompressBlock per page', bytes, 'B', 'js'), () => {
    for (let i = 0; i < n; i++) {
      const b = lz4jsBlocks[i];
      if (b) lz4js.decompressBlock(b, lz4jsOut, 0, b.length, 0);
      else lz4jsOut.set(pages[i]);
    }
  }, slow);
  if (lz4wasm) {
    bench(task('lz4 decompress', 'lz4-wasm decompress per page', bytes, 'B', 'js'), () => {
      for (let i = 0; i < n; i++) lz4wasm!.decompress(lz4wasmBlocks[i]);
    }, slow);
  }
  bench(task('lz4 decompress', 'fflate inflateSync per page (raw deflate)', bytes, 'B', 'js'), () => {
    for (let i = 0; i < n; i++) inflateSync(deflated[i], { out: inflateOut });
  }, slow);
});
