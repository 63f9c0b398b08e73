/**
 * gzip trace input (src/translate/gunzip.ts through replayBytes): every damaged stream is a
 * TraceParseError, never a raw inflater error and never a result that differs from the clean one.
 */
import { describe, expect, it } from 'vitest';
import { engineOf } from '../src/engine/engine.js';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'fflate';
import { Mmu, MemvisorError, type MmuStats } from '../src/index.js';
import { replayBytes } from '../src/translate/trace.js';
import { TraceParseError } from '../src/errors.js';
import { VerifiedGunzip } from '../src/translate/gunzip.js';
import { mulberry32 } from './prng.js';

const GZ = readFileSync(new URL('./fixtures/tiny.lackey.gz', import.meta.url));
const TEXT = readFileSync(new URL('./fixtures/tiny.lackey', import.meta.url));
/** Length of the fixture's gzip header: 10 bytes and its NUL-terminated file name (FLG.FNAME). */
const HEADER = GZ[3] & 8 ? GZ.indexOf(0, 10) + 1 : 10;
const small = { mode: 'native' as const, guestMemoryMiB: 64, machineMemoryMiB: 16 };
// what a partial result would change, independent of the core's warm TLBs (one core serves every case)
const key = (s: MmuStats) => [s.records, s.lines, s.translations, s.l1iAccesses, s.l1dAccesses, s.badLines, s.traceBytes].join(',');

/** Outcome of replaying `data` on a fresh core: the stats, or the error. */
function attempt(mmu: Mmu, data: Uint8Array): { stats?: MmuStats; error?: unknown } {
  mmu.resetStats();
  try {
    return { stats: replayBytes(mmu, data).stats };
  } catch (error) {
    return { error };
  }
}

/** Tallies outcomes: typed errors (with a byte or line), raw errors, and successes equal to or different from the clean run. */
class Tally {
  typed = 0;
  raw: string[] = [];
  same = 0;
  partial: string[] = [];
  constructor(private readonly clean: string) {}
  add(label: string, r: { stats?: MmuStats; error?: unknown }): void {
    if (r.error !== undefined) {
      const e = r.error as Error;
      if (e instanceof TraceParseError && /(byte \d+|:\d+:)/.test(e.message)) this.typed++;
      else this.raw.push(`${label}: ${e?.constructor?.name} ${e?.message}`);
    } else if (key(r.stats!) === this.clean) this.same++;
    else this.partial.push(`${label}: ${key(r.stats!)}`);
  }
}

describe('gzip trace input', () => {
  const mmu = Mmu.create(small);
  const clean = key(replayBytes(mmu, GZ).stats);

  it('the fixture is one gzip member of the plain fixture, and replays like it', () => {
    expect(clean).toBe(key(replayBytes(Mmu.create(small), TEXT).stats));
  });

  it('every cut point of the gzip fixture is a TraceParseError naming a byte: 0 raw errors, 0 partial results', () => {
    const t = new Tally(clean);
    for (let cut = 0; cut < GZ.length; cut++) t.add(`cut ${cut}`, attempt(mmu, GZ.subarray(0, cut)));
    expect(t.raw).toEqual([]);
    expect(t.partial).toEqual([]);
    expect(t.same).toBe(0);
    expect(t.typed).toBe(GZ.length);
    console.log(`gzip truncation scan: ${GZ.length} cut points, ${t.typed} TraceParseErrors, 0 raw, 0 partial`);
  });

  it('seeded bit flips: each is a TraceParseError or leaves the data intact (a flip in an unchecked header field)', () => {
    const rnd = mulberry32(0x6a1f);
    const t = new Tally(clean);
    const flips = 600;
    for (let k = 0; k < flips; k++) {
      const bad = Uint8Array.from(GZ);
      const n = 1 + ((rnd() * 3) | 0);
      const where: number[] = [];
      for (let i = 0; i < n; i++) {
        const at = (rnd() * bad.length) | 0;
        bad[at] ^= 1 << ((rnd() * 8) | 0);
        where.push(at);
      }
      const r = attempt(mmu, bad);
      // only header bytes no checksum covers (FLG's FTEXT bit, MTIME, XFL, OS, the file name) may change without an error
      if (r.error === undefined) expect(where.every((at) => at >= 3 && at < HEADER), `flips at ${where}`).toBe(true);
      t.add(`flips at ${where}`, r);
    }
    expect(t.raw).toEqual([]);
    expect(t.partial).toEqual([]);
    expect(t.typed + t.same).toBe(flips);
    expect(t.typed).toBeGreaterThan(flips * 0.9);
    console.log(`gzip bit flips: ${flips} cases, ${t.typed} TraceParseErrors, ${t.same} intact (unchecked header fields), 0 raw, 0 partial`);
  });

  it('several members replay as their concatenation; a damaged trailer of any member is caught', () => {
    const cut = TEXT.lastIndexOf(10, TEXT.length >> 1) + 1;
    const a = gzipSync(TEXT.subarray(0, cut), { level: 1 });
    const b = gzipSync(TEXT.subarray(cut), { level: 9, filename: 'part2' });
    const both = new Uint8Array(a.length + b.length);
    both.set(a);
    both.set(b, a.length);
    expect(key(replayBytes(Mmu.create(small), both).stats)).toBe(clean);
    for (const at of [a.length - 8, a.length - 1, both.length - 8, both.length - 2]) {
      const bad = Uint8Array.from(both);
      bad[at] ^= 0x40;
      const r = attempt(mmu, bad);
      expect(r.error, `trailer byte ${at}`).toBeInstanceOf(TraceParseError);
      expect((r.error as TraceParseError).offset).toBe(at < a.length ? a.length - 8 : both.length - 8);
      expect((r.error as Error).message).toMatch(/gzip member [12]: its trailer says CRC-32/);
    }
    // a member cut short and bytes after the last member are errors too
    const cutMember = both.subarray(0, a.length + 30);
    expect(attempt(mmu, cutMember).error).toBeInstanceOf(TraceParseError);
    for (const junk of [[0], [0, 0, 0], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]]) {
      const tail = new Uint8Array(both.length + junk.length);
      tail.set(both);
      tail.set(junk, both.length);
      const r = attempt(mmu, tail);
      expect(r.error, `junk ${junk}`).toBeInstanceOf(TraceParseError);
    }
  });

  it('the verifier checks what the inflater skips: a trailer that lies is caught even when the deflate data is whole', () => {
    const gz = Uint8Array.from(GZ);
    // ISIZE off by one: fflate inflates the data without complaint
    gz[gz.length - 4] ^= 1;
    const out: Uint8Array[] = [];
    const v = new VerifiedGunzip('x.gz', (d, crc) => crcHelper.crc(d, crc), (d) => out.push(d.slice()));
    expect(() => v.push(gz, true)).toThrow(/x\.gz: byte \d+: gzip member 1: its trailer says CRC-32 0x[0-9a-f]{8} and length \d+/);
    expect(out.reduce((n, d) => n + d.length, 0)).toBe(TEXT.length);
  });

  it('errors from the sink pass through unchanged (a bad line inside gzip data names its line)', () => {
    const gz = gzipSync(new TextEncoder().encode('I  10,4\n L zz,4\n'));
    const r = attempt(mmu, gz);
    expect(r.error).toBeInstanceOf(TraceParseError);
    expect((r.error as TraceParseError).line).toBe(2);
    expect(r.error).toBeInstanceOf(MemvisorError);
  });
});

/** A CRC-32 over JavaScript bytes for the verifier's direct test (the engine's, through staging). */
const crcHelper = {
  engine: engineOf(Mmu.create(small)),
  crc(d: Uint8Array, crc: number): number {
    return this.engine.codec.crc32Bytes(d, crc);
  },
};
