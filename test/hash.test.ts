import { beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import xxhash from 'xxhash-wasm';
import { xxhash3 } from 'hash-wasm';
import { ConfigError, EngineAbortError, xxh3, xxh3Pages, xxh64, xxh64Pages } from '../src/index.js';
import { Engine } from '../src/engine/engine.js';
import { buildCorpus } from '../src/workload/corpus.js';

const U64 = (1n << 64n) - 1n;
const PRIME32_1 = 2654435761n;
const PRIME64_1 = 11400714785074694797n;

let h64Raw: (data: Uint8Array, seed?: bigint) => bigint;
beforeAll(async () => {
  ({ h64Raw } = await xxhash());
});

/** The reference XXH3-64 (hash-wasm, the C implementation compiled to wasm), as a bigint. */
async function refXxh3(data: Uint8Array, seed: bigint): Promise<bigint> {
  return BigInt('0x' + (await xxhash3(data, Number(seed & 0xffffffffn), Number(seed >> 32n))));
}

/** xxHash's own sanity buffer: the top byte of a running product of its primes. */
function sanityBuffer(n: number): Uint8Array {
  const b = new Uint8Array(n);
  let g = PRIME32_1;
  for (let i = 0; i < n; i++) {
    b[i] = Number(g >> 56n);
    g = (g * PRIME64_1) & U64;
  }
  return b;
}

/** Seeded pseudo-random bytes (xorshift32), so every run hashes the same inputs. */
function randomBytes(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

const POOL = randomBytes(64 << 10, 0x9e3779b1);
const FC = { seed: 0x5eed1, numRuns: 3000 };
/** Lengths at and around every XXH64 and XXH3 class boundary and long-hash block edge. */
const EDGES = [
  0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 95, 96, 97, 127, 128, 129, 239, 240,
  241, 255, 256, 257, 1023, 1024, 1025, 1087, 1088, 1089, 2047, 2048, 2049, 3072, 3073, 4095, 4096,
  4097, 8191, 8192,
];
/** An input: a slice of the pool at any offset (unaligned too), of a length that favours edges. */
const input = fc
  .tuple(fc.oneof(fc.integer({ min: 0, max: 8192 }), fc.constantFrom(...EDGES)), fc.integer({ min: 0, max: 32 << 10 }))
  .map(([len, off]) => POOL.subarray(off, off + len));
const seed = fc.oneof(fc.constant(0n), fc.bigInt({ min: 0n, max: U64 }), fc.constantFrom(1n, 1n << 63n, U64));

describe('xxh64', () => {
  it('matches the published sanity vectors', () => {
    const b = sanityBuffer(256);
    const te = new TextEncoder();
    expect(xxh64(new Uint8Array(0))).toBe(0xef46db3751d8e999n);
    expect(xxh64(te.encode('a'))).toBe(0xd24ec4f1a98c6e5bn);
    expect(xxh64(te.encode('abc'))).toBe(0x44bc2cf5ad770999n);
    expect(xxh64(b.subarray(0, 1))).toBe(0xe934a84adb052768n);
    expect(xxh64(b.subarray(0, 1), PRIME32_1)).toBe(0x5014607643a9b4c3n);
    expect(xxh64(b.subarray(0, 4))).toBe(0x9136a0dca57457een);
    expect(xxh64(b.subarray(0, 14))).toBe(0x8282dcc4994e35c8n);
    expect(xxh64(b.subarray(0, 222))).toBe(0xb641ae8cb691c174n);
    expect(xxh64(b.subarray(0, 222), PRIME32_1)).toBe(0x20cb8ab7ae10c14an);
  });

  it('equals xxhash-wasm h64 on every length 0..300', () => {
    for (let len = 0; len <= 300; len++) {
      const d = POOL.subarray(len, 2 * len);
      expect(xxh64(d, BigInt(len) * PRIME64_1 & U64), `len ${len}`).toBe(h64Raw(d, BigInt(len) * PRIME64_1 & U64));
    }
  });

  it('equals xxhash-wasm h64 on random inputs of 0..8192 bytes and random seeds (seeded)', () => {
    fc.assert(
      fc.property(input, seed, (d, s) => xxh64(d, s) === h64Raw(d, s)),
      FC,
    );
  });
});

describe('xxh3', () => {
  it('matches the sanity vectors of every length class', async () => {
    const b = sanityBuffer(2400);
    const cases: [number, bigint, bigint][] = [
      [0, 0n, 0x2d06800538d394c2n],
      [0, PRIME64_1, 0xa8a6b918b2f0364an],
      [1, 0n, 0xc44bdff4074eecdbn],
      [1, PRIME64_1, 0x032be332dd766ef8n],
      [6, 0n, 0x27b56a84cd2d7325n],
      [6, PRIME64_1, 0x84589c116ab59ab9n],
      [12, 0n, 0xa713daf0dfbb77e7n],
      [12, PRIME64_1, 0xe7303e1b2336de0en],
      [24, 0n, 0xa3fe70bf9d3510ebn],
      [24, PRIME64_1, 0x850e80fc35bdd690n],
      [48, 0n, 0x397da259ecba1f11n],
      [48, PRIME64_1, 0xadc2cbaa44acc616n],
      [80, 0n, 0xbcdefbbb2c47c90an],
      [195, 0n, 0xcd94217ee362ec3an],
      [403, 0n, 0xcdeb804d65c6dea4n], // one block, last stripe overlapping
      [512, 0n, 0x617e49599013cb6bn], // one block, ending on a stripe boundary
      [2048, 0n, 0xdd59e2c3a5f038e0n], // two blocks, ending on a block boundary
      [2240, 0n, 0x6e73a90539cf2948n], // three blocks, ending on a stripe boundary
      [2367, 0n, 0xcb37aeb9e5d361edn], // three blocks, last stripe overlapping
      [2367, PRIME64_1, 0xd2db3415b942b42an], // derived secret
    ];
    for (const [len, s, want] of cases) {
      const d = b.subarray(0, len);
      expect(xxh3(d, s), `len ${len} seed ${s}`).toBe(want);
      expect(await refXxh3(d, s), `reference, len ${len} seed ${s}`).toBe(want);
    }
    const te = new TextEncoder();
    expect(xxh3(te.encode('a'))).toBe(0xe6c632b61e964e1fn);
    expect(xxh3(te.encode('abc'))).toBe(0x78af5f94892f3950n);
  });

  it('equals hash-wasm xxhash3 on every length 0..1100 (all classes, first blocks)', async () => {
    for (let len = 0; len <= 1100; len++) {
      const d = POOL.subarray(3 * len, 4 * len);
      const s = len % 3 === 0 ? 0n : (BigInt(len) * PRIME64_1) & U64;
      expect(xxh3(d, s), `len ${len}`).toBe(await refXxh3(d, s));
    }
  });

  it('equals hash-wasm xxhash3 on random inputs of 0..8192 bytes and random seeds (seeded)', async () => {
    await fc.assert(
      fc.asyncProperty(input, seed, async (d, s) => xxh3(d, s) === (await refXxh3(d, s))),
      FC,
    );
  });

  it('hashes inputs larger than the staging region (staging grows, views follow)', async () => {
    const d = randomBytes(3 << 20, 7);
    expect(xxh3(d, U64)).toBe(await refXxh3(d, U64));
    expect(xxh64(d, U64)).toBe(h64Raw(d, U64));
  });
});

describe('page hashes', () => {
  const corpus = buildCorpus({ mib: 4 });
  const n = corpus.count;

  /** An engine holding the corpus in machine RAM, and room for n u64 results in staging. */
  function load(flavor: 'debug' | 'release') {
    const e = Engine.create({ machineMemoryMiB: Math.ceil(n / 256), flavor });
    const ram = e.gateway.region('ram').offset;
    e.gateway.u8.set(corpus.pages, ram);
    const out = e.gateway.stage(n * 8);
    const read = () => Array.from({ length: n }, (_, i) => e.gateway.view.getBigUint64(out + 8 * i, true));
    return { e, ram, out, read };
  }

  it('pages of real files hash as the references do, one by one and in a batch', async () => {
    const { e, ram, out, read } = load('debug');
    e.codec.pagesHash(ram, n, out);
    const batch = read();
    e.codec.pagesXxh3(ram, n, out);
    expect(read()).toEqual(batch);
    e.codec.pagesXxh64(ram, n, out);
    const batch64 = read();
    for (let i = 0; i < n; i++) {
      const page = corpus.pages.subarray(i * 4096, i * 4096 + 4096);
      expect(e.codec.xxh3(ram + i * 4096, 4096), `page ${i}`).toBe(batch[i]);
      expect(batch[i], `page ${i}`).toBe(await refXxh3(page, 0n));
      expect(batch64[i], `page ${i}`).toBe(h64Raw(page));
    }
    expect(new Set(batch).size).toBeGreaterThan(n / 2); // real content, not one repeated page
  });

  it('release and debug flavours agree', () => {
    const d = load('debug');
    const r = load('release');
    d.e.codec.pagesHash(d.ram, n, d.out);
    r.e.codec.pagesHash(r.ram, n, r.out);
    expect(r.read()).toEqual(d.read());
    d.e.codec.pagesXxh64(d.ram, n, d.out);
    r.e.codec.pagesXxh64(r.ram, n, r.out);
    expect(r.read()).toEqual(d.read());
    for (const len of EDGES) {
      const p = r.ram + 1; // unaligned
      expect(r.e.codec.xxh3(p, len, U64)).toBe(d.e.codec.xxh3(d.ram + 1, len, U64));
      expect(r.e.codec.xxh64(p, len, U64)).toBe(d.e.codec.xxh64(d.ram + 1, len, U64));
    }
  });

  it('xxh64PagesInCache writes what xxh64Pages writes, for odd and even counts, and nothing past them', () => {
    for (const flavor of ['debug', 'release'] as const) {
      const { e, ram, out, read } = load(flavor);
      const fresh = e.gateway.stage(n * 8);
      for (const count of [0, 1, 2, 3, 5, 63, 64, 65, n - 1, n]) {
        for (const sd of [0n, 7n, U64]) {
          e.codec.xxh64Pages(ram, count, sd, out);
          const want = read().slice(0, count);
          new BigUint64Array(e.gateway.u8.buffer, fresh, n).fill(42n);
          e.codec.xxh64PagesInCache(ram, count, sd, fresh);
          const got = Array.from(new BigUint64Array(e.gateway.u8.buffer, fresh, n));
          expect(got.slice(0, count), `${flavor}, ${count} pages, seed ${sd}`).toEqual(want);
          expect(got.slice(count).every((h) => h === 42n), `${flavor}, ${count} pages: nothing written past them`).toBe(true);
        }
      }
    }
  });

  it('a batch of zero pages writes nothing', () => {
    const { e, ram, out } = load('debug');
    e.gateway.view.setBigUint64(out, 42n, true);
    e.codec.pagesHash(ram, 0, out);
    expect(e.gateway.view.getBigUint64(out, true)).toBe(42n);
  });
});

describe('xxh64Pages and xxh3Pages (pages that start in JavaScript)', () => {
  const corpus = buildCorpus({ mib: 4 });

  it('give each page the hash the references give it, across chunk edges and seeds', async () => {
    // 0, 1, a chunk less one, a chunk, a chunk and one, and most of the corpus (several chunks)
    for (const pages of [0, 1, 255, 256, 257, corpus.count - 3]) {
      // an unaligned view of the pages, so the copy in reads across the source's own alignment
      const buf = new Uint8Array(pages * 4096 + 1);
      buf.set(corpus.pages.subarray(0, pages * 4096), 1);
      const data = buf.subarray(1);
      for (const seed of [0n, 1n, 0x9e3779b97f4a7c15n, U64]) {
        const h64 = xxh64Pages(data, seed);
        const h3 = xxh3Pages(data, seed);
        expect(h64).toBeInstanceOf(BigUint64Array);
        expect([h64.length, h3.length]).toEqual([pages, pages]);
        // every page for small batches, a seeded sample of the large one
        const step = pages > 300 ? 37 : 1;
        for (let i = 0; i < pages; i += step) {
          const page = data.subarray(i * 4096, i * 4096 + 4096);
          expect(h64[i], `xxh64 page ${i} of ${pages}, seed ${seed}`).toBe(h64Raw(page, seed));
          expect(h3[i], `xxh3 page ${i} of ${pages}, seed ${seed}`).toBe(await refXxh3(page, seed));
        }
      }
    }
  });

  it('equal the one-shot functions page by page (fast-check, seeded)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 600 }), fc.integer({ min: 0, max: 600 }), seed, (first, count, sd) => {
        const n = Math.min(count, corpus.count - first);
        const data = corpus.pages.subarray(first * 4096, (first + Math.max(n, 0)) * 4096);
        const h64 = xxh64Pages(data, sd);
        const h3 = xxh3Pages(data, sd);
        for (let i = 0; i < h64.length; i += 17) {
          const page = data.subarray(i * 4096, i * 4096 + 4096);
          expect(h64[i]).toBe(xxh64(page, sd));
          expect(h3[i]).toBe(xxh3(page, sd));
        }
      }),
      { seed: 0x5eed2, numRuns: 40 },
    );
  });

  it('reject data that is not a whole number of pages, and bad seeds, naming the field', () => {
    expect(() => xxh64Pages(new Uint8Array(4097))).toThrow(/data: got Uint8Array\(4097\), expected a whole number of 4096-byte pages/);
    expect(() => xxh3Pages(new Uint8Array(100))).toThrow(ConfigError);
    expect(() => xxh3Pages([0] as unknown as Uint8Array)).toThrow(/data: got array\(1\), expected a Uint8Array/);
    expect(() => xxh64Pages(new Uint8Array(4096), -1n)).toThrow(/seed: got -1n/);
    expect(() => xxh3Pages(new Uint8Array(4096), 1 as unknown as bigint)).toThrow(/seed: got 1/);
  });

  it('write into a given array: that array when it has one entry per page, its first entries when longer', () => {
    const data = corpus.pages.subarray(0, 300 * 4096);
    for (const [hash, fresh] of [[xxh64Pages, xxh64Pages(data, 5n)], [xxh3Pages, xxh3Pages(data, 5n)]] as const) {
      const exact = new BigUint64Array(300);
      expect(hash(data, 5n, exact)).toBe(exact);
      expect(exact).toEqual(fresh);
      const longer = new BigUint64Array(310).fill(7n);
      const got = hash(data, 5n, longer);
      expect(got.buffer).toBe(longer.buffer);
      expect(got.length).toBe(300);
      expect(got).toEqual(fresh);
      expect([...longer.subarray(300)]).toEqual(Array(10).fill(7n));
      const none = new BigUint64Array(0);
      expect(hash(new Uint8Array(0), 0n, none)).toBe(none);
    }
  });

  it('refuse an array to write into without room for every page, naming the field and the room needed', () => {
    const two = corpus.pages.subarray(0, 2 * 4096);
    expect(() => xxh64Pages(two, 0n, new BigUint64Array(1))).toThrow(/into: got BigUint64Array\(1\), expected a BigUint64Array with room for 2 hashes \(one per page of data\)/);
    expect(() => xxh3Pages(two, 0n, new Uint32Array(4) as unknown as BigUint64Array)).toThrow(ConfigError);
    expect(() => xxh3Pages(two, 0n, new BigInt64Array(2) as unknown as BigUint64Array)).toThrow(/into: got BigInt64Array\(2\)/);
  });

  it('refuse an array to write into that overlaps the pages, and take one beside them in the same buffer', () => {
    const buf = new ArrayBuffer(3 * 4096 + 64);
    const data = new Uint8Array(buf, 0, 3 * 4096);
    data.set(corpus.pages.subarray(0, 3 * 4096));
    const want = xxh64Pages(data);
    // its last hash would land in the third page before that page is hashed
    expect(() => xxh64Pages(data, 0n, new BigUint64Array(buf, 3 * 4096 - 16, 3))).toThrow(/into: got BigUint64Array\(3\), expected an array whose bytes do not overlap those of data/);
    expect(() => xxh3Pages(data, 0n, new BigUint64Array(buf, 0, 3))).toThrow(ConfigError);
    expect(xxh64Pages(data, 0n, new BigUint64Array(buf, 3 * 4096, 3))).toEqual(want);
    expect(data).toEqual(corpus.pages.subarray(0, 3 * 4096));
  });

  it('the debug flavour aborts on pages or output past the end of linear memory', () => {
    const e = Engine.create({ flavor: 'debug' });
    expect(() => e.codec.xxh3Pages(e.gateway.memoryBytes - 4096, 2, 0n, 0)).toThrow(/xxh3Pages: pages or output past the end/);
    const f = Engine.create({ flavor: 'debug' });
    expect(() => f.codec.xxh64Pages(0, 1, 0n, f.gateway.memoryBytes - 4)).toThrow(/xxh64Pages: pages or output past the end/);
  });
});

describe('argument validation', () => {
  it('rejects a non-byte-array input with a typed error naming the field', () => {
    expect(() => xxh64('abc' as unknown as Uint8Array)).toThrow(ConfigError);
    expect(() => xxh3([1, 2, 3] as unknown as Uint8Array)).toThrow(/data: got array\(3\), expected a Uint8Array/);
  });

  it('rejects a seed outside [0, 2^64) or not a bigint', () => {
    const d = new Uint8Array(8);
    expect(() => xxh64(d, -1n)).toThrow(/seed: got -1n, expected a bigint in \[0, 2\^64\)/);
    expect(() => xxh3(d, 1n << 64n)).toThrow(ConfigError);
    expect(() => xxh3(d, 5 as unknown as bigint)).toThrow(/seed: got 5/);
  });

  it('the debug flavour aborts on input past the end of linear memory', () => {
    const e = Engine.create({ flavor: 'debug' });
    expect(() => e.codec.xxh3(e.gateway.memoryBytes - 100, 200)).toThrow(EngineAbortError);
    const f = Engine.create({ flavor: 'debug' });
    expect(() => f.codec.pagesHash(f.gateway.memoryBytes - 4096, 2, 0)).toThrow(/pagesHash: pages or output past the end/);
  });
});
