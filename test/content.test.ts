/**
 * Page content and the workload sampler, in WebAssembly: the generators are deterministic
 * functions of (kind, key, page) with the compressibility their kind promises, the generated OS
 * image is the same bytes on every machine (a golden hash), and the Zipf sampler of the touch
 * loop draws the Zipf distribution (chi-square), also truncated to a smaller active set.
 */
import { describe, expect, it } from 'vitest';
import { lz4Codec, xxh64 } from '../src/index.js';
import { Engine } from '../src/engine/engine.js';
import { ContentKind } from '../src/engine/workload.js';
import { asGppn } from '../src/engine/addr.js';
import { nameKey } from '../src/workload/keys.js';

function simEngine(contentPages = 0) {
  const e = Engine.create({ machineMemoryMiB: 1, simTables: true, simContentPages: contentPages, maxVMs: 2, guestMemoryMiB: 64 });
  const vm = e.reclaim.vmCreate(8192, 0);
  expect(e.guest.guestSetup(vm, 0, 0, 0, 8192, asGppn(8192), asGppn(8192))).toBe(true);
  return { e, se: e.guest, content: e.workload, vm };
}

describe('content generators', () => {
  const { content } = simEngine();
  const page = (k: ContentKind, key: bigint, p: number) => content.contentPage(k, 0, key, p);
  const lz4 = (b: Uint8Array) => lz4Codec.compress(b, 4096)?.length ?? 4096;

  it('are deterministic in (kind, key, page) and differ across pages and keys', () => {
    for (const k of [ContentKind.Text, ContentKind.Binary, ContentKind.Random, ContentKind.Unique]) {
      expect(page(k, 7n, 3)).toEqual(page(k, 7n, 3));
      expect(page(k, 7n, 3)).not.toEqual(page(k, 7n, 4));
      expect(page(k, 7n, 3)).not.toEqual(page(k, 8n, 3));
    }
    expect(page(ContentKind.Zero, 7n, 3).every((b) => b === 0)).toBe(true);
  });

  it('compress as their kinds promise: text best, then unique and binary; random not at all', () => {
    const mean = (k: ContentKind) => {
      let s = 0;
      for (let p = 0; p < 32; p++) s += lz4(page(k, 11n, p));
      return s / 32;
    };
    const text = mean(ContentKind.Text), binary = mean(ContentKind.Binary), unique = mean(ContentKind.Unique), random = mean(ContentKind.Random);
    expect(text).toBeLessThan(2048);
    expect(unique).toBeLessThan(3400);
    expect(binary).toBeLessThan(3400);
    expect(text).toBeLessThan(Math.min(binary, unique));
    expect(random).toBe(4096);
    expect(page(ContentKind.Text, 11n, 0).every((b) => b === 10 || (b >= 32 && b < 127))).toBe(true);
  });

  it('a generated OS image is the same bytes on every machine for a seed (golden hash), and another seed another image', () => {
    const image = (seed: number) => {
      const { content: s } = simEngine(64);
      expect(s.imageSet(0, 0, 64)).toBe(true);
      s.generateImage(0, nameKey(seed, 'linux'));
      const all = new Uint8Array(64 * 4096);
      for (let p = 0; p < 64; p++) all.set(s.readContent(p), p * 4096);
      return all;
    };
    const a = image(1);
    expect(xxh64(a, 0n).toString(16)).toBe(GOLDEN_IMAGE_HASH);
    expect(image(1)).toEqual(a);
    expect(image(2)).not.toEqual(a);
    let zero = 0;
    for (let p = 0; p < 64; p++) if (a.subarray(p * 4096, (p + 1) * 4096).every((b) => b === 0)) zero++;
    expect(zero).toBeGreaterThan(2);
    expect(zero).toBeLessThan(20);
  });
});

/** xxh64 of 64 generated pages of image "linux" under seed 1: changes only when the generator does. */
const GOLDEN_IMAGE_HASH = 'ae72c43685f1695b';

describe('the Zipf sampler', () => {
  const { se, vm } = simEngine();
  const chi2 = (counts: Uint32Array, s: number) => {
    const n = counts.length, draws = counts.reduce((a, b) => a + b, 0);
    let h = 0;
    for (let k = 1; k <= n; k++) h += k ** -s;
    let x = 0;
    for (let k = 1; k <= n; k++) {
      const want = (draws * k ** -s) / h;
      x += (counts[k - 1] - want) ** 2 / want;
    }
    return x / n;
  };

  for (const [n, table, s] of [[500, 500, 1.0], [500, 500, 0.6], [500, 2000, 1.2], [300, 300, 2.5]] as const) {
    it(`draws Zipf(${s}) over ${n} pages${table > n ? ` from a table of ${table} (a ramp)` : ''}: chi-square per degree of freedom near 1`, () => {
      const c = se.zipfCounts(vm, 99n, n, table, s, 500_000);
      expect(c.reduce((a, b) => a + b, 0)).toBe(500_000);
      expect(chi2(c, s)).toBeLessThan(1.4);
      expect(c[0]).toBeGreaterThan(c[1]);
    });
  }

  it('is deterministic for a seed', () => {
    expect(se.zipfCounts(vm, 5n, 100, 100, 1, 10_000)).toEqual(se.zipfCounts(vm, 5n, 100, 100, 1, 10_000));
    expect(se.zipfCounts(vm, 5n, 100, 100, 1, 10_000)).not.toEqual(se.zipfCounts(vm, 6n, 100, 100, 1, 10_000));
  });
});
