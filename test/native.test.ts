/**
 * The benchmarks' C programs (bench/native/*.c through bench/native.ts): each must do the same
 * work as the memvisor row it stands beside, or its figure compares nothing. Built with gcc
 * where the headers are installed (.ci/run installs them); skipped with a note otherwise.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { lz4Bound, lz4CompressPagesInto, xxh3Pages, xxh64Pages } from '../src/index.js';
import { buildCorpus } from '../src/workload/corpus.js';
import { hashSum, liblz4Program, nativeProgram, removeNativeFiles, tempFile, xxhashProgram } from '../bench/native.js';

const gcc = !spawnSync('gcc', ['--version']).error;
const haveXxhash = gcc && existsSync('/usr/include/xxhash.h');
const haveLz4 = gcc && existsSync('/usr/include/lz4.h');
if (!haveXxhash || !haveLz4) console.warn('[native.test] skipped in part: install gcc, libxxhash-dev and liblz4-dev');
const avx2 = existsSync('/proc/cpuinfo') && /\bavx2\b/.test(readFileSync('/proc/cpuinfo', 'utf8'));

// 1 MiB of real pages (10% zero pages, so the sharing floor has duplicates to find)
const corpus = buildCorpus({ mib: 1 });
const pages = corpus.pages;
const n = corpus.count;
afterAll(() => removeNativeFiles());

describe.skipIf(!haveXxhash)('xxHash C program', () => {
  const expected = { xxh64: xxh64Pages(pages), xxh3: xxh3Pages(pages) };

  it('hashes the pages to the sum of memvisor hashes, for both builds where the CPU runs them', async () => {
    for (const build of ['xxhash', 'xxhash-avx2'] as const) {
      const program = await xxhashProgram(pages, expected, build);
      if (build === 'xxhash-avx2' && !avx2) {
        expect(program).toBeNull();
        continue;
      }
      expect(program).not.toBeNull();
      const [ns, hi, lo, cpu] = await program!.round('64');
      expect(ns).toBeGreaterThan(0);
      expect(cpu).toBeGreaterThanOrEqual(0);
      expect((BigInt(hi) << 32n) | BigInt(lo)).toBe(hashSum(expected.xxh64));
      program!.close();
    }
  });

  it('hashes through its staging buffer, two pages at a time, to XXH64: a short last chunk with an odd page included', async () => {
    // 255 pages: three chunks of 64, then 63 (31 pairs and one page alone)
    const odd = pages.subarray(0, (n - 1) * 4096);
    const want = xxh64Pages(odd);
    const program = await xxhashProgram(odd, { xxh64: want, xxh3: xxh3Pages(odd) });
    expect(program).not.toBeNull();
    const [, hi, lo] = await program!.round('64c');
    expect((BigInt(hi) << 32n) | BigInt(lo)).toBe(hashSum(want));
    program!.close();
  });

  it('refuses to start when its hashes differ from the ones it is given', async () => {
    const wrong = expected.xxh3.slice();
    wrong[5] ^= 1n;
    await expect(xxhashProgram(pages, { xxh64: expected.xxh64, xxh3: wrong })).rejects.toThrow(/the xxh3 hashes of the corpus sum to \d+, memvisor's to \d+/);
  });

  it('is skipped, not fatal, when it stops before it is ready (input not whole pages)', async () => {
    const program = await nativeProgram('xxhash', [tempFile('ragged', pages.subarray(0, 4096 + 1))]);
    expect(program).toBeNull();
  });
});

describe.skipIf(!haveLz4)('liblz4 C program', () => {
  const packed = new Uint8Array(n * lz4Bound(4096));
  const offsets = new Uint32Array(n + 1);
  const size = lz4CompressPagesInto(pages, packed, offsets);

  it('decodes memvisor blocks to their pages and compresses every page', async () => {
    const program = await liblz4Program(pages, packed.subarray(0, size), offsets);
    expect(program).not.toBeNull();
    const [, bytes] = await program!.round('c');
    expect(bytes).toBeGreaterThan(0);
    expect(bytes).toBeLessThan(n * 4096);
    const [ns] = await program!.round('d');
    expect(ns).toBeGreaterThan(0);
    program!.close();
  });

  it('ends with an error when a block decodes to another page than its own', async () => {
    // two different pages' blocks swapped: each still decodes to 4096 bytes, of the other page
    const a = 0;
    const b = [...Array(n).keys()].find((i) => i > 0 && Buffer.compare(pages.subarray(0, 4096), pages.subarray(i * 4096, i * 4096 + 4096)) !== 0)!;
    const blocks = Array.from({ length: n }, (_, i) => packed.subarray(offsets[i], offsets[i + 1]));
    [blocks[a], blocks[b]] = [blocks[b], blocks[a]];
    const swapped = new Uint8Array(size);
    const swappedOffsets = new Uint32Array(n + 1);
    blocks.forEach((blk, i) => {
      swapped.set(blk, swappedOffsets[i]);
      swappedOffsets[i + 1] = swappedOffsets[i] + blk.length;
    });
    const program = await liblz4Program(pages, swapped, swappedOffsets);
    await expect(program!.round('d')).rejects.toThrow(/exited with status 3/);
  });
});

describe.skipIf(!haveXxhash)('sharing floor C program', () => {
  it('merges each page equal to one seen before it, in page order and in a random order', async () => {
    const seen = new Set<string>();
    let duplicates = 0;
    for (let i = 0; i < n; i++) {
      const key = Buffer.from(pages.buffer, pages.byteOffset + i * 4096, 4096).toString('base64');
      if (seen.has(key)) duplicates++;
      else seen.add(key);
    }
    expect(duplicates).toBeGreaterThan(0);
    const program = await nativeProgram('sharing-floor', [tempFile('floor-pages', pages), '7']);
    expect(program).not.toBeNull();
    for (const order of ['s', 'r']) {
      const [, merged] = await program!.round(order);
      expect(merged).toBe(duplicates);
    }
    program!.close();
  });
});
