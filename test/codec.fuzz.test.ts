/**
 * Seeded fuzzing of the LZ4 codec in WebAssembly: malformed and truncated blocks for the
 * decompressor, random inputs and limits for the compressor.
 *
 *   npm test        MEMVISOR_FUZZ_ITERATIONS defaults to 300,000 decoder cases (+ 1/10 encoder cases)
 *   npm run fuzz    10,000,000 (or MEMVISOR_FUZZ_ITERATIONS=N npm run fuzz); MEMVISOR_FUZZ_SEED picks the seed
 *
 * Layout of each case in the engine's linear memory:
 *
 *   staging ... [canary 64][dst: cap bytes][canary 64] ...... [src: n bytes] | end of linear memory
 *
 * src ends exactly at the end of linear memory, so reading one byte past it traps (a failed
 * case); the canaries catch any write outside [dst, dst+cap); src is compared after each call.
 */
import { describe, expect, it } from 'vitest';
// @ts-expect-error: lz4js ships no types
import lz4js from 'lz4js';
import { Lz4Status, lz4Compress } from '../src/index.js';
import { Engine } from '../src/engine/engine.js';
import { KINDS, Prng, makeInput, type Kind } from './support/lz4data.js';

const ITERATIONS = Number(process.env.MEMVISOR_FUZZ_ITERATIONS ?? 300_000);
const SEED = Number(process.env.MEMVISOR_FUZZ_SEED ?? 0xf022);
const CANARY = 64;
const DECODE_ERRORS = new Set<number>([
  Lz4Status.Truncated, Lz4Status.ZeroOffset, Lz4Status.OffsetBeforeStart, Lz4Status.OutputOverflow, Lz4Status.Trailing,
]);

interface Base {
  input: Uint8Array;
  block: Uint8Array;
  /** positions of the offset fields in `block` */
  offsets: number[];
}

/** Positions of the offset fields of a well-formed block. */
function offsetFields(b: Uint8Array): number[] {
  const at: number[] = [];
  let ip = 0;
  while (ip < b.length) {
    const t = b[ip++];
    let lit = t >> 4;
    if (lit === 15) for (let x = 255; x === 255; lit += x) x = b[ip++];
    ip += lit;
    if (ip >= b.length) break;
    at.push(ip);
    ip += 2;
    if ((t & 15) === 15) for (let x = 255; x === 255; ) x = b[ip++];
  }
  return at;
}

/** Valid blocks to mutate: ours and lz4js's, of every kind, mostly page-sized or smaller. */
function bases(rng: Prng): Base[] {
  const out: Base[] = [];
  for (let i = 0; i < 400; i++) {
    const kind = KINDS[i % KINDS.length] as Kind;
    const n = i % 10 === 0 ? rng.int(20000) : i % 3 === 0 ? 4096 : rng.int(600);
    const input = makeInput(rng, kind, n);
    let block = lz4Compress(input);
    if (i % 4 === 1 && n >= 13) {
      const buf = new Uint8Array(n + Math.floor(n / 255) + 16);
      const m = lz4js.compressBlock(input, buf, 0, n, new Uint32Array(1 << 16));
      if (m > 0) block = buf.slice(0, m);
    }
    out.push({ input, block, offsets: offsetFields(block) });
  }
  return out;
}

type Mutation = 'none' | 'flip' | 'bytes' | 'truncate' | 'append' | 'hugeLength' | 'badOffset' | 'random' | 'slice' | 'splice';
const MUTATIONS: Mutation[] = ['none', 'flip', 'bytes', 'truncate', 'append', 'hugeLength', 'badOffset', 'random', 'slice', 'splice'];

/** A mutated copy of `base.block` (or a wholly random one). */
function mutate(rng: Prng, m: Mutation, base: Base, other: Base): Uint8Array {
  const b = base.block;
  switch (m) {
    case 'none':
      return b;
    case 'flip': {
      const c = b.slice();
      for (let k = 1 + rng.int(4); k > 0; k--) c[rng.int(c.length)] ^= 1 << rng.int(8);
      return c;
    }
    case 'bytes': {
      const c = b.slice();
      for (let k = 1 + rng.int(8); k > 0; k--) c[rng.int(c.length)] = rng.u32() & 0xff;
      return c;
    }
    case 'truncate':
      return b.subarray(0, rng.int(b.length));
    case 'append': {
      const c = new Uint8Array(b.length + 1 + rng.int(16));
      c.set(b);
      c.set(rng.bytes(c.length - b.length), b.length);
      return c;
    }
    case 'hugeLength': {
      // a token with both lengths at 15 and a long run of 255s, spliced in anywhere
      const run = 1 + rng.int(rng.chance(0.1) ? 20000 : 600);
      const at = rng.int(b.length + 1);
      const c = new Uint8Array(b.length + 1 + run + (rng.chance(0.5) ? 1 : 0));
      c.set(b.subarray(0, at));
      c[at] = rng.chance(0.5) ? 0xff : 0xf0 | rng.int(16);
      c.fill(255, at + 1, at + 1 + run);
      c.set(b.subarray(at, c.length - at - 1 - run), at + 1 + run);
      return c;
    }
    case 'badOffset': {
      const c = b.slice();
      if (base.offsets.length === 0) return mutate(rng, 'bytes', base, other);
      const at = base.offsets[rng.int(base.offsets.length)];
      const v = rng.chance(0.3) ? 0 : rng.chance(0.5) ? 0xffff : 1 + rng.int(base.input.length + 64);
      c[at] = v & 0xff;
      c[at + 1] = v >> 8;
      return c;
    }
    case 'random':
      return rng.bytes(rng.int(rng.chance(0.9) ? 64 : 4000));
    case 'slice': {
      const c = Array.from(b);
      const at = rng.int(c.length + 1);
      if (rng.chance(0.5)) c.splice(at, 1 + rng.int(8));
      else c.splice(at, 0, ...rng.bytes(1 + rng.int(8)));
      return Uint8Array.from(c);
    }
    case 'splice': {
      const a = rng.int(b.length + 1);
      const o = other.block;
      const s = rng.int(o.length + 1);
      const c = new Uint8Array(a + o.length - s);
      c.set(b.subarray(0, a));
      c.set(o.subarray(s), a);
      return c;
    }
  }
}

/** The memory layout of the cases; `run*` place the data and check every invariant. */
class Rig {
  readonly e = Engine.create({ stagingBytes: 1 << 20 });
  readonly dst = this.e.gateway.stage(1 << 20) + CANARY;
  private readonly pattern: Uint8Array;

  constructor(rng: Prng) {
    this.pattern = rng.bytes(CANARY);
  }

  /** Puts `src` at the very end of linear memory and canaries around [dst, dst+cap); returns src's address. */
  private place(src: Uint8Array, cap: number): number {
    const u8 = this.e.gateway.u8;
    const at = this.e.gateway.memoryBytes - src.length;
    if (this.dst + cap + CANARY > at) throw new Error(`case too large: cap ${cap}, src ${src.length}`);
    u8.set(src, at);
    u8.set(this.pattern, this.dst - CANARY);
    u8.set(this.pattern, this.dst + cap);
    return at;
  }

  /** Asserts that the canaries and src are untouched. */
  private check(src: Uint8Array, at: number, cap: number, what: () => string): void {
    const u8 = this.e.gateway.u8;
    const p = Buffer.from(this.pattern);
    if (Buffer.compare(p, u8.subarray(this.dst - CANARY, this.dst)) !== 0) throw new Error(`write before dst: ${what()}`);
    if (Buffer.compare(p, u8.subarray(this.dst + cap, this.dst + cap + CANARY)) !== 0) throw new Error(`write past dst+cap: ${what()}`);
    if (Buffer.compare(Buffer.from(src.buffer, src.byteOffset, src.length), u8.subarray(at, at + src.length)) !== 0) {
      throw new Error(`src changed: ${what()}`);
    }
  }

  /** Decodes `block` into `cap` bytes; returns the status after checking the invariants. */
  decode(block: Uint8Array, cap: number, what: () => string): number {
    const at = this.place(block, cap);
    const r = this.e.codec.lz4Decompress(at, block.length, this.dst, cap);
    this.check(block, at, cap, what);
    if (r >= 0 ? r > cap : !DECODE_ERRORS.has(r)) throw new Error(`status ${r} with cap ${cap}: ${what()}`);
    return r;
  }

  /** Compresses `input` into `cap` bytes; returns the status and leaves the block at `dst`. */
  encode(input: Uint8Array, cap: number, what: () => string): number {
    const at = this.place(input, cap);
    const r = this.e.codec.lz4Compress(at, input.length, this.dst, cap);
    this.check(input, at, cap, what);
    if (r >= 0 ? r > cap : r !== Lz4Status.DoesNotFit) throw new Error(`status ${r} with cap ${cap}: ${what()}`);
    return r;
  }

  /** The bytes at dst. */
  out(n: number): Uint8Array {
    return this.e.gateway.u8.subarray(this.dst, this.dst + n);
  }
}

/** Room for the one-shot case sizes: at most about 25 KiB in and out. */
function capFor(rng: Prng, size: number): number {
  const r = rng.int(10);
  if (r < 6) return size;
  if (r < 8) return Math.max(0, size + rng.int(64) - 32);
  if (r < 9) return rng.int(2 * size + 16);
  return rng.int(20);
}

describe('lz4 fuzz (seeded)', () => {
  const timeout = 60_000 + ITERATIONS * 0.2;

  it(`decoder: ${ITERATIONS} malformed, truncated or valid blocks, never out of bounds`, () => {
    const rng = new Prng(SEED);
    const rig = new Rig(rng);
    const all = bases(rng);
    const seen = new Map<number, number>();
    for (let i = 0; i < ITERATIONS; i++) {
      const base = all[rng.int(all.length)];
      const m = MUTATIONS[rng.int(MUTATIONS.length)];
      const block = mutate(rng, m, base, all[rng.int(all.length)]);
      const cap = capFor(rng, base.input.length);
      const what = () => `case ${i} (seed ${SEED}), mutation ${m}, block ${Buffer.from(block).toString('hex').slice(0, 200)}`;
      const r = rig.decode(block, cap, what);
      seen.set(r < 0 ? r : 0, (seen.get(r < 0 ? r : 0) ?? 0) + 1);
      if (m === 'none' && cap === base.input.length) {
        if (r !== cap || Buffer.compare(Buffer.from(rig.out(cap)), Buffer.from(base.input)) !== 0) throw new Error(`valid block failed: ${what()}`);
      }
    }
    const names = Object.fromEntries([...seen].map(([k, v]) => [k === 0 ? 'decoded' : Lz4Status[k], v]));
    console.log(`[codec.fuzz] decoder, ${ITERATIONS} cases: ${JSON.stringify(names)}`);
    for (const code of [0, ...DECODE_ERRORS]) expect(seen.get(code) ?? 0).toBeGreaterThan(0);
  }, timeout);

  it(`encoder: ${Math.ceil(ITERATIONS / 10)} inputs under random limits, never out of bounds, fit agreeing with the size`, () => {
    const rng = new Prng(SEED + 1);
    const rig = new Rig(rng);
    let fits = 0;
    const n = Math.ceil(ITERATIONS / 10);
    for (let i = 0; i < n; i++) {
      const input = makeInput(rng, KINDS[rng.int(KINDS.length)] as Kind, rng.int(rng.chance(0.8) ? 600 : 9000));
      const what = () => `case ${i} (seed ${SEED + 1}), input ${input.length} bytes`;
      const bound = input.length + Math.floor(input.length / 255) + 16;
      const full = rig.encode(input, bound, what);
      if (full < 0) throw new Error(`did not fit its bound: ${what()}`);
      const block = rig.out(full).slice();
      const cap = rng.chance(0.5) ? Math.max(0, full + rng.int(16) - 8) : rng.int(full + 1);
      const r = rig.encode(input, cap, what);
      if ((r >= 0) !== (cap >= full)) throw new Error(`limit ${cap} vs size ${full} disagree (${r}): ${what()}`);
      if (r >= 0) {
        fits++;
        if (r !== full || Buffer.compare(Buffer.from(rig.out(r)), Buffer.from(block)) !== 0) throw new Error(`limited block differs: ${what()}`);
      }
      if (rig.decode(block, input.length, what) !== input.length || Buffer.compare(Buffer.from(rig.out(input.length)), Buffer.from(input)) !== 0) {
        throw new Error(`round trip failed: ${what()}`);
      }
    }
    expect(fits).toBeGreaterThan(n / 10);
  }, timeout);
});
