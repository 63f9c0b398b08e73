/**
 * Seeded inputs for the codec tests and fuzzers, and a reference reader of LZ4 blocks.
 * Every random choice comes from `Prng`, seeded by the caller, so a failure replays exactly.
 */
import { buildCorpus } from '../../src/workload/corpus.js';

/** A small seeded PRNG (sfc32): fast, good enough for tests, identical on every platform. */
export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  constructor(seed: number) {
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = 0xb7e15162;
    this.d = seed >>> 0;
    for (let i = 0; i < 16; i++) this.u32();
  }
  /** A uniform u32. */
  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }
  /** A uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor((this.u32() / 2 ** 32) * n);
  }
  /** True with probability p. */
  chance(p: number): boolean {
    return this.u32() / 2 ** 32 < p;
  }
  /** `n` uniform bytes. */
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.u32() & 0xff;
    return out;
  }
}

/** Kinds of generated input, from incompressible to highly repetitive. */
export const KINDS = ['random', 'text', 'periodic', 'runs', 'zero', 'mixed', 'real'] as const;
export type Kind = (typeof KINDS)[number];

const WORDS = 'the page frame guest host memory balloon share zero swap compress cache table walk fault vm'.split(' ');

let realPages: Uint8Array | null = null;

/** Pages of real files on this machine (1 MiB of the corpus; zero pages made up if none). */
export function realData(): Uint8Array {
  realPages ??= buildCorpus({ mib: 1, sources: [{ root: '/usr/bin', share: 0.6 }, { root: '/usr/share', share: 0.4 }] }).pages;
  return realPages;
}

/** `n` bytes of input of `kind`. */
export function makeInput(rng: Prng, kind: Kind, n: number): Uint8Array {
  const out = new Uint8Array(n);
  switch (kind) {
    case 'random':
      return rng.bytes(n);
    case 'text': {
      let at = 0;
      while (at < n) {
        const w = WORDS[rng.int(WORDS.length)] + (rng.chance(0.1) ? '.\n' : ' ');
        for (let i = 0; i < w.length && at < n; i++) out[at++] = w.charCodeAt(i);
      }
      return out;
    }
    case 'periodic': {
      const period = 1 + rng.int(rng.chance(0.5) ? 16 : 300);
      const unit = rng.bytes(period);
      for (let i = 0; i < n; i++) out[i] = unit[i % period];
      // a little noise, so matches end at odd places
      for (let k = rng.int(4); k > 0 && n > 0; k--) out[rng.int(n)] = rng.u32() & 0xff;
      return out;
    }
    case 'runs': {
      let at = 0;
      while (at < n) {
        const len = 1 + rng.int(rng.chance(0.2) ? 600 : 20);
        out.fill(rng.chance(0.5) ? 0 : rng.u32() & 0xff, at, Math.min(n, at + len));
        at += len;
      }
      return out;
    }
    case 'zero':
      return out;
    case 'mixed': {
      let at = 0;
      while (at < n) {
        const len = Math.min(n - at, 1 + rng.int(400));
        const k = KINDS[rng.int(5)] as Kind;
        out.set(makeInput(rng, k, len), at);
        // and a copy of something earlier, far back sometimes
        if (at > 0 && rng.chance(0.3)) {
          const from = rng.int(at);
          const l = Math.min(n - at - len, 1 + rng.int(200), at - from);
          if (l > 0) out.copyWithin(at + len, from, from + l);
          at += Math.max(l, 0);
        }
        at += len;
      }
      return out;
    }
    case 'real': {
      const r = realData();
      const start = rng.int(Math.max(1, r.length - n));
      out.set(r.subarray(start, start + n));
      return out;
    }
  }
}

/** One sequence of a parsed block. */
export interface Sequence {
  literals: number;
  /** offset and match length (>= 4); absent in the last sequence */
  offset?: number;
  matchLength?: number;
  /** position in the decoded output where the match starts */
  matchAt?: number;
}

/** Reads a well-formed block into its sequences (a plain reference reader: throws on bad input). */
export function parseBlock(b: Uint8Array): Sequence[] {
  const seqs: Sequence[] = [];
  let ip = 0;
  let out = 0;
  while (true) {
    if (ip >= b.length) throw new Error(`block ends at ${ip} where a token was expected`);
    const t = b[ip++];
    let lit = t >> 4;
    if (lit === 15) {
      let x;
      do {
        if (ip >= b.length) throw new Error('truncated literal length');
        x = b[ip++];
        lit += x;
      } while (x === 255);
    }
    ip += lit;
    out += lit;
    if (ip > b.length) throw new Error('truncated literals');
    if (ip === b.length) {
      seqs.push({ literals: lit });
      return seqs;
    }
    const offset = b[ip] | (b[ip + 1] << 8);
    ip += 2;
    let ml = t & 15;
    if (ml === 15) {
      let x;
      do {
        x = b[ip++];
        ml += x;
      } while (x === 255);
    }
    seqs.push({ literals: lit, offset, matchLength: ml + 4, matchAt: out });
    out += ml + 4;
  }
}
