/**
 * Trace inputs verified (src/translate/trace.ts): bounded lines, binary data refused, the binary
 * trace format's count and checksums, and --write-binary's temporary file, rename and
 * same-file refusal. Every damaged input is a TraceParseError, never a raw error or a partial
 * result.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, linkSync, mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Mmu, ConfigError, type MmuStats } from '../src/index.js';
import { BINARY_HEADER_BYTES, replayBytes } from '../src/translate/trace.js';
import { replayFile } from '../src/translate/tracefile.js';
import { TraceParseError } from '../src/errors.js';
import { mulberry32 } from './prng.js';

const FIXTURE = new URL('./fixtures/tiny.lackey', import.meta.url).pathname;
const TEXT = readFileSync(FIXTURE);
const small = { mode: 'native' as const, guestMemoryMiB: 64, machineMemoryMiB: 16 };
const enc = (s: string) => new TextEncoder().encode(s);
const key = (s: MmuStats) => [s.records, s.lines, s.translations, s.l1iAccesses, s.l1dAccesses, s.badLines, s.traceBytes].join(',');

function errorOf(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  return undefined;
}

/** The fixture as a binary trace, written by --write-binary. */
function binaryFixture(): { bin: Uint8Array; clean: string } {
  const dir = mkdtempSync(join(tmpdir(), 'memvisor-mvt-'));
  const path = join(dir, 't.mvt');
  const stats = replayFile(Mmu.create(small), FIXTURE, { writeBinary: path }).stats;
  return { bin: readFileSync(path), clean: `${stats.records}` };
}

describe('text traces: bounded lines, binary data, empty input', () => {
  it('a line over 4096 bytes is an error naming its line, or a skipped bad line; time stays linear', () => {
    const long = 'x'.repeat(5000);
    const e = errorOf(() => replayBytes(Mmu.create(small), enc(`I  10,4\n${long}\n S 20,4\n`), { name: 'l.lackey' })) as TraceParseError;
    expect(e).toBeInstanceOf(TraceParseError);
    expect(e.line).toBe(2);
    expect(e.offset).toBe(8);
    expect(e.message).toMatch(/^l\.lackey:2: line longer than 4096 bytes \(from byte 8 of the text\)/);
    // a record padded past the bound is refused the same way (its trailing blanks would be carried forever)
    expect(errorOf(() => replayBytes(Mmu.create(small), enc(`I  10,4${' '.repeat(5000)}\n`)))).toBeInstanceOf(TraceParseError);
    // exactly 4096 bytes is accepted (a banner line of that length is ignored)
    expect(replayBytes(Mmu.create(small), enc(`${'y'.repeat(4096)}\nI  10,4\n`)).stats.records).toBe(1);
    const s = replayBytes(Mmu.create(small), enc(`I  10,4\n${long}\n S 20,4\n`), { skipBadLines: true }).stats;
    expect([s.records, s.badLines, s.lines]).toEqual([2, 1, 3]);
  });

  it('an overlong line that spans chunks is skipped to its newline with skipBadLines, and counted once', () => {
    // 9 MiB without a newline crosses two 4 MiB reads of the file path
    const dir = mkdtempSync(join(tmpdir(), 'memvisor-long-'));
    const path = join(dir, 'long.lackey');
    const body = new Uint8Array(9 << 20).fill(0x61);
    writeFileSync(path, Buffer.concat([enc('I  10,4\n'), body, enc('\n L 30,8\n')]));
    const s = replayFile(Mmu.create(small), path, { skipBadLines: true }).stats;
    expect([s.records, s.badLines, s.lines]).toEqual([2, 1, 3]);
    const e = errorOf(() => replayFile(Mmu.create(small), path)) as TraceParseError;
    expect(e.line).toBe(2);
    expect(e.message).toMatch(/line longer than 4096 bytes/);
  });

  it('a NUL byte (an ELF binary, any binary data) is an error at its byte; an empty input or one without records is an error', () => {
    const elf = readFileSync(process.execPath).subarray(0, 1 << 16);
    const e = errorOf(() => replayBytes(Mmu.create(small), elf, { name: 'node' })) as TraceParseError;
    expect(e).toBeInstanceOf(TraceParseError);
    expect(e.offset).toBe(elf.indexOf(0));
    expect(e.message).toMatch(/^node:1: byte \d+ of the text is NUL: binary data, not a lackey text trace/);
    // skipping bad lines still finds no records in a binary
    expect(errorOf(() => replayBytes(Mmu.create(small), elf, { skipBadLines: true }))).toBeInstanceOf(TraceParseError);
    expect((errorOf(() => replayBytes(Mmu.create(small), new Uint8Array(0), { name: 'e' })) as Error).message).toBe('e: byte 0: the input is empty: no trace records');
    const banner = errorOf(() => replayBytes(Mmu.create(small), enc('==1== Lackey\n==1== done\n'), { name: 'b' })) as Error;
    expect(banner.message).toMatch(/^b: byte 0: no lackey records in 2 lines: expected the output of valgrind --tool=lackey --trace-mem=yes/);
  });

  it('replay options: unknown keys and wrong types are refused', () => {
    expect(() => replayBytes(Mmu.create(small), TEXT, { skipBadLine: true } as never)).toThrow(/skipBadLine: got true, expected no such option/);
    expect(() => replayBytes(Mmu.create(small), TEXT, { skipBadLines: 'yes' } as never)).toThrow(ConfigError);
    expect(() => replayBytes(Mmu.create(small), 'I  10,4\n' as never)).toThrow(/data: got "I  10,4\\n", expected a Uint8Array/);
    expect(() => replayFile(Mmu.create(small), tmpdir())).toThrow(/trace file: got ".*", expected a file, not a directory/);
  });
});

describe('binary traces (format version 2)', () => {
  const { bin } = binaryFixture();
  const mmu = Mmu.create(small);
  const clean = key(replayBytes(mmu, bin).stats);

  it('the header carries magic, version, record count, payload length and both checksums', () => {
    const dv = new DataView(bin.buffer, bin.byteOffset);
    expect(new TextDecoder().decode(bin.subarray(0, 4))).toBe('MVTR');
    expect(dv.getUint32(4, true)).toBe(2);
    expect(Number(dv.getBigUint64(8, true))).toBe(11994);
    expect(Number(dv.getBigUint64(16, true))).toBe(bin.length - BINARY_HEADER_BYTES);
    const text = replayBytes(Mmu.create(small), TEXT).stats;
    expect(clean.split(',')[0]).toBe(String(text.records));
  });

  it('seeded corruption (bit flips, truncations, header damage, appended bytes, zeroed runs): every case a TraceParseError, 0 raw, 0 partial', () => {
    const rnd = mulberry32(0xb1a7);
    const kinds: Record<string, number> = { 'bit flips': 0, truncation: 0, 'header damage': 0, 'appended bytes': 0, 'zeroed run': 0 };
    const raw: string[] = [];
    const partial: string[] = [];
    let typed = 0;
    const cases = 500;
    for (let k = 0; k < cases; k++) {
      const kind = Object.keys(kinds)[k % 5];
      kinds[kind]++;
      let bad: Uint8Array;
      if (kind === 'bit flips') {
        bad = Uint8Array.from(bin);
        for (let i = 0, n = 1 + ((rnd() * 4) | 0); i < n; i++) bad[(rnd() * bad.length) | 0] ^= 1 << ((rnd() * 8) | 0);
      } else if (kind === 'truncation') {
        bad = bin.slice(0, (rnd() * bin.length) | 0);
      } else if (kind === 'header damage') {
        bad = Uint8Array.from(bin);
        const at = (rnd() * BINARY_HEADER_BYTES) | 0;
        bad[at] = (bad[at] + 1 + ((rnd() * 255) | 0)) & 0xff;
      } else if (kind === 'appended bytes') {
        const extra = 1 + ((rnd() * 40) | 0);
        bad = new Uint8Array(bin.length + extra);
        bad.set(bin);
        for (let i = bin.length; i < bad.length; i++) bad[i] = (rnd() * 256) | 0;
      } else {
        bad = Uint8Array.from(bin);
        const at = BINARY_HEADER_BYTES + ((rnd() * (bin.length - BINARY_HEADER_BYTES - 64)) | 0);
        bad.fill(0, at, at + 8 + ((rnd() * 56) | 0));
      }
      mmu.resetStats();
      try {
        partial.push(`${kind}: ${key(replayBytes(mmu, bad).stats)}`);
      } catch (e) {
        if (e instanceof TraceParseError && /byte \d+|:\d+:/.test(e.message)) typed++;
        else raw.push(`${kind}: ${(e as Error)?.constructor?.name} ${(e as Error)?.message}`);
      }
    }
    expect(raw).toEqual([]);
    expect(partial).toEqual([]);
    expect(typed).toBe(cases);
    console.log(`binary trace corruption: ${JSON.stringify(kinds)}, ${typed} TraceParseErrors, 0 raw, 0 partial`);
  });

  it('each check fires with its own message', () => {
    const at = (b: Uint8Array) => errorOf(() => replayBytes(Mmu.create(small), b, { name: 't.mvt' })) as TraceParseError;
    const flip = (i: number) => { const b = Uint8Array.from(bin); b[i] ^= 1; return b; };
    expect(at(bin.subarray(0, 20)).message).toBe('t.mvt: byte 20: the binary trace ends after 20 bytes, inside its 32-byte header: truncated');
    expect(at(flip(9)).message).toMatch(/^t\.mvt: byte 28: the binary trace header fails its CRC-32/);
    expect(at(flip(100)).message).toMatch(/^t\.mvt: byte 24: the binary trace payload fails its CRC-32/);
    expect(at(bin.subarray(0, bin.length - 16)).message).toMatch(/^t\.mvt: byte \d+: the binary trace ends after \d+ of the \d+ payload bytes its header declares: truncated/);
    const longer = new Uint8Array(bin.length + 8);
    longer.set(bin);
    expect(at(longer).message).toMatch(/continues past the \d+ payload bytes its header declares/);
    // version 1 (an 8-byte header, no count, no checksum) and unknown versions are refused
    const v1 = Uint8Array.from([0x4d, 0x56, 0x54, 0x52, 1, 0, 0, 0, ...bin.subarray(BINARY_HEADER_BYTES, BINARY_HEADER_BYTES + 800)]);
    expect(at(v1).message).toMatch(/^t\.mvt: byte 4: binary trace version 1 carries no record count or checksum/);
    const v3 = Uint8Array.from(bin);
    v3[4] = 3;
    expect(at(v3).message).toMatch(/version 3: this memvisor reads version 2/);
  });
});

describe('--write-binary output', () => {
  it('is written to a temporary file (mode 0600) and renamed only when the whole input replayed', () => {
    const dir = mkdtempSync(join(tmpdir(), 'memvisor-wb-'));
    const out = join(dir, 'out.mvt');
    writeFileSync(join(dir, 'bad.lackey'), Buffer.concat([TEXT, enc(' L zz,4\n')]));
    expect(errorOf(() => replayFile(Mmu.create(small), join(dir, 'bad.lackey'), { writeBinary: out }))).toBeInstanceOf(TraceParseError);
    expect(readdirSync(dir)).toEqual(['bad.lackey']); // no target, no temporary file left
    // a target that exists is replaced only on success: a failed run leaves it as it was
    writeFileSync(out, 'previous');
    expect(errorOf(() => replayFile(Mmu.create(small), join(dir, 'bad.lackey'), { writeBinary: out }))).toBeInstanceOf(TraceParseError);
    expect(readFileSync(out, 'utf8')).toBe('previous');
    replayFile(Mmu.create(small), FIXTURE, { writeBinary: out });
    expect(statSync(out).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir).sort()).toEqual(['bad.lackey', 'out.mvt']);
    expect(replayFile(Mmu.create(small), out).stats.records).toBe(11994);
  });

  it('refuses to write over its input: same device and inode, whatever the name (a hard link, a symlink)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'memvisor-same-'));
    const input = join(dir, 'in.lackey');
    writeFileSync(input, TEXT);
    linkSync(input, join(dir, 'hard.mvt'));
    symlinkSync(input, join(dir, 'soft.mvt'));
    for (const target of [input, join(dir, 'hard.mvt'), join(dir, 'soft.mvt'), join(dir, '.', 'in.lackey')]) {
      const e = errorOf(() => replayFile(Mmu.create(small), input, { writeBinary: target }));
      expect(e, target).toBeInstanceOf(ConfigError);
      expect((e as Error).message).toMatch(/writeBinary: got ".*", expected a file other than the trace being read/);
    }
    expect(readFileSync(input)).toEqual(TEXT); // untouched
    expect(existsSync(join(dir, 'soft.mvt'))).toBe(true);
  });

  it('refuses a binary input (nothing to convert) and a directory as target', () => {
    const dir = mkdtempSync(join(tmpdir(), 'memvisor-wb2-'));
    const mvt = join(dir, 'a.mvt');
    replayFile(Mmu.create(small), FIXTURE, { writeBinary: mvt });
    expect(() => replayFile(Mmu.create(small), mvt, { writeBinary: join(dir, 'b.mvt') })).toThrow(/the input is already a binary trace/);
    expect(() => replayFile(Mmu.create(small), FIXTURE, { writeBinary: dir })).toThrow(/a file path, not a directory/);
  });
});
