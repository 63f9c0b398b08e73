import { describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'fflate';
import { Mmu, type MmuMode } from '../src/index.js';
import { replayBytes } from '../src/translate/trace.js';
import { replayFile } from '../src/translate/tracefile.js';
import { TraceParseError, UsageError } from '../src/errors.js';
import { parseTraceArgs, parseTlbSpec } from '../src/cli/trace.js';
import { main } from '../src/cli/main.js';

const FIXTURE = new URL('./fixtures/tiny.lackey', import.meta.url).pathname;
const MODES: MmuMode[] = ['native', 'ept', 'shadow'];
const small = { guestMemoryMiB: 256, machineMemoryMiB: 64 };

function valgrindTrace(): string | null {
  const which = spawnSync('sh', ['-c', 'command -v valgrind'], { encoding: 'utf8' });
  if (which.status !== 0) return null;
  const dir = mkdtempSync(join(tmpdir(), 'memvisor-lackey-'));
  const out = join(dir, 'true.lackey');
  const r = spawnSync('valgrind', ['--tool=lackey', '--trace-mem=yes', `--log-file=${out}`, '/bin/true'], { encoding: 'utf8', timeout: 60_000 });
  return r.status === 0 && existsSync(out) ? out : null;
}

describe('lackey replay', () => {
  it('replays the shipped fixture in all three modes with identical TLB miss counts', () => {
    const results = MODES.map((mode) => replayFile(Mmu.create({ mode, ...small }), FIXTURE).stats);
    for (const s of results) {
      expect(s.records).toBe(11994);
      expect(s.unhandledFaults).toBe(0);
      expect(s.walks).toBe(s.l2Misses);
      expect([s.l1iMisses, s.l1dMisses, s.l2Misses, s.translations]).toEqual([results[0].l1iMisses, results[0].l1dMisses, results[0].l2Misses, results[0].translations]);
    }
    expect(results[1].eptViolations).toBeGreaterThan(0);
    expect(results[2].shadowFills).toBeGreaterThan(0);
    expect(results[0].vmExits).toBe(0);
  });

  it('with walk caches off, walkRefs = walks x (g*(h+1)+h) exactly on a real trace', () => {
    const s = replayFile(Mmu.create({ mode: 'ept', pwc: false, ntlb: false, ...small }), FIXTURE).stats;
    expect(s.walkRefs).toBe(s.walks * 24);
    expect(s.faultWalkRefs).toBeGreaterThan(0);
    const n = replayFile(Mmu.create({ mode: 'native', pwc: false, ...small }), FIXTURE).stats;
    expect(n.walkRefs).toBe(n.walks * 4);
  });

  it('gzip and plain give the same counts; a written binary trace replays to the same counts', () => {
    const dir = mkdtempSync(join(tmpdir(), 'memvisor-trace-'));
    const bin = join(dir, 't.mvt');
    const plain = replayFile(Mmu.create(small), FIXTURE, { writeBinary: bin }).stats;
    const gz = replayFile(Mmu.create(small), FIXTURE + '.gz');
    expect(gz.format).toBe('lackey-gz');
    const b = replayFile(Mmu.create(small), bin);
    expect(b.format).toBe('binary');
    for (const s of [gz.stats, b.stats]) {
      expect([s.records, s.translations, s.l1iMisses, s.l1dMisses, s.l2Misses, s.walkRefs, s.cycles]).toEqual(
        [plain.records, plain.translations, plain.l1iMisses, plain.l1dMisses, plain.l2Misses, plain.walkRefs, plain.cycles]);
    }
    expect(readFileSync(bin).length).toBeLessThan(readFileSync(FIXTURE).length);
  });

  it('a text longer than one chunk is cut mid-line and replays exactly like its parts fed whole', () => {
    // replayBytes feeds 1 MiB chunks: seven copies of the fixture's records put the first cut
    // inside a line, and a prefix of 0..9 lines moves it across the line's bytes
    const lines = readFileSync(FIXTURE, 'utf8').split('\n').filter((l) => l && !l.startsWith('=='));
    const body = new TextEncoder().encode(lines.join('\n') + '\n');
    const copies = Math.ceil((1 << 20) / body.length) + 1;
    for (let shift = 0; shift < 10; shift++) {
      const prefix = new TextEncoder().encode(lines.slice(0, shift).map((l) => l + '\n').join(''));
      const all = new Uint8Array(prefix.length + copies * body.length);
      all.set(prefix);
      for (let c = 0; c < copies; c++) all.set(body, prefix.length + c * body.length);
      const cut = new TextDecoder().decode(all.subarray((1 << 20) - 1, (1 << 20) + 1));
      if (shift === 0) expect(cut).not.toContain('\n'); // the cut is inside a line
      const one = Mmu.create(small);
      const s1 = replayBytes(one, all).stats;
      const parts = Mmu.create(small);
      if (shift) replayBytes(parts, prefix);
      for (let c = 0; c < copies; c++) replayBytes(parts, body);
      const s2 = parts.stats();
      expect(s1.records).toBe(shift + copies * lines.length);
      expect([s1.records, s1.translations, s1.l1iMisses, s1.l1dMisses, s1.l2Misses, s1.badLines]).toEqual([s2.records, s2.translations, s2.l1iMisses, s2.l1dMisses, s2.l2Misses, s2.badLines]);
    }
  });

  it('a gzip trace replays like its plain text', () => {
    const text = readFileSync(FIXTURE);
    const whole = replayBytes(Mmu.create(small), text).stats;
    const m = Mmu.create(small);
    const gz = gzipSync(text, { level: 1 });
    const s = replayBytes(m, gz).stats;
    expect([s.records, s.translations, s.l2Misses]).toEqual([whole.records, whole.translations, whole.l2Misses]);
  });

  it('a record crossing a 4 KiB boundary translates both pages; M is one write', () => {
    const m = Mmu.create({ mode: 'native', ...small });
    const s = replayBytes(m, new TextEncoder().encode('I  0ffe,4\n M 2000,8\n S 3ff8,8\n')).stats;
    expect(s.records).toBe(3);
    expect(s.translations).toBe(4);
    expect(s.l1iAccesses).toBe(2);
    expect(s.l1dAccesses).toBe(2);
  });

  it('a malformed line is a typed error naming its number and text; --skip-bad-lines counts it', () => {
    const bad = '==1== banner\nI  0400000,3\n L 1ffefff,zz\n S 10,4\n';
    let err: unknown;
    try {
      replayBytes(Mmu.create(small), new TextEncoder().encode(bad), { name: 'x.lackey' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TraceParseError);
    expect((err as TraceParseError).line).toBe(3);
    expect((err as TraceParseError).text).toBe(' L 1ffefff,zz');
    expect((err as Error).message).toMatch(/x\.lackey:3/);
    for (const line of [' L ,4', 'I  12', ' S 12,', ' M 12,0', ' L 12,4 x', 'I  123456789abcdef01,4']) {
      expect(() => replayBytes(Mmu.create(small), new TextEncoder().encode(`I  10,1\n${line}\n`))).toThrow(/:2: /);
    }
    const s = replayBytes(Mmu.create(small), new TextEncoder().encode(bad), { skipBadLines: true }).stats;
    expect(s.badLines).toBe(1);
    expect(s.records).toBe(2);
    expect(s.lines).toBe(4);
  });

  it('replays a trace generated with valgrind in all three modes, when valgrind is present', () => {
    const path = valgrindTrace();
    if (!path) return; // valgrind not installed: the shipped fixture covers the format
    const results = MODES.map((mode) => replayFile(Mmu.create({ mode, ...small }), path).stats);
    expect(results[0].records).toBeGreaterThan(1000);
    for (const s of results) expect([s.l1iMisses, s.l1dMisses, s.l2Misses]).toEqual([results[0].l1iMisses, results[0].l1dMisses, results[0].l2Misses]);
  });
});

describe('memvisor trace command', () => {
  it('parses options and rejects bad ones with a UsageError naming the option', () => {
    const a = parseTraceArgs(['f', '--mmu', 'shadow', '--levels', '5', '--page-size', '2m', '--tlb', 'L1d=32x4,L2=1024x8', '--no-pwc', '--json']);
    expect(a.opts.mode).toBe('shadow');
    expect(a.opts.levels).toBe(5);
    expect(a.opts.tlb?.l1d).toEqual({ entries: 32, ways: 4 });
    expect(a.opts.tlb?.l1i).toEqual({ entries: 128, ways: 8 });
    expect(a.opts.pwc).toBe(false);
    expect(() => parseTraceArgs(['f', '--mmu', 'npt'])).toThrow(/--mmu.*one of native, ept, shadow/);
    expect(() => parseTraceArgs(['f', '--levels', '3'])).toThrow(UsageError);
    expect(() => parseTlbSpec('L3=8x2')).toThrow(/--tlb/);
    expect(() => parseTlbSpec('L1d=10x4')).toThrow(/multiple of ways/);
    expect(() => parseTlbSpec('L1d=99999999x1')).toThrow(UsageError); // a bad option (exit 2), not a ConfigError later
    expect(parseTraceArgs(['f', '--cost', 'walkRef=30,vmExit=0']).opts.costs).toEqual({ walkRef: 30, vmExit: 0 });
    expect(() => parseTraceArgs(['f', '--cost', 'toString=5'])).toThrow(/--cost: got "toString=5"/);
    expect(() => parseTraceArgs(['f', '--cost', 'walkRef=99999999999'])).toThrow(UsageError);
    expect(() => parseTraceArgs(['f', '--bogus'])).toThrow(/--bogus/);
    expect(() => parseTraceArgs([])).toThrow(/<file>/);
  });

  it('exits 2 on a bad option and 1 on a malformed trace; --json prints the counters', async () => {
    const err = process.stderr.write;
    const out = process.stdout.write;
    let printed = '';
    process.stderr.write = (() => true) as typeof process.stderr.write;
    process.stdout.write = ((s: string) => { printed += s; return true; }) as typeof process.stdout.write;
    try {
      expect(await main(['trace', FIXTURE, '--mmu', 'x'])).toBe(2);
      const dir = mkdtempSync(join(tmpdir(), 'memvisor-bad-'));
      writeFileSync(join(dir, 'bad.lackey'), 'I  10,1\nI  zz,1\n');
      expect(await main(['trace', join(dir, 'bad.lackey')])).toBe(1);
      expect(await main(['trace', FIXTURE, '--mmu', 'ept', '--json'])).toBe(0);
    } finally {
      process.stderr.write = err;
      process.stdout.write = out;
    }
    const j = JSON.parse(printed.trim());
    for (const k of ['records', 'translations', 'l1iMisses', 'l1dMisses', 'l2Misses', 'walks', 'walkRefs', 'faultWalkRefs', 'guestPageFaults', 'eptViolations', 'vmExits', 'cycles']) {
      expect(typeof j[k]).toBe('number');
    }
    expect(j.records).toBe(11994);
  });

  it('a trace file that cannot be opened, or a binary output that cannot be written, is a one-line error with exit 1', async () => {
    const err = process.stderr.write;
    let said = '';
    process.stderr.write = ((s: string) => { said += s; return true; }) as typeof process.stderr.write;
    try {
      expect(await main(['trace', '/nonexistent/trace.lackey'])).toBe(1);
      expect(await main(['trace', FIXTURE, '--write-binary', '/nonexistent/dir/out.mvt'])).toBe(1);
    } finally {
      process.stderr.write = err;
    }
    expect(said).toMatch(/trace file: got "\/nonexistent\/trace.lackey", expected a readable file \(ENOENT\)/);
    expect(said).toMatch(/--write-binary: got "\/nonexistent\/dir\/out.mvt", expected a path in a writable directory \(ENOENT creating \/nonexistent\/dir\/\.out\.mvt\.\d+-[0-9a-f]+\.tmp\)/);
    expect(said).not.toMatch(/at \w+ \(/); // no stack trace
  });

  it('--help explains every option', () => {
    const out = execFileSync('npx', ['tsx', 'src/cli/main.ts', 'trace', '--help'], { encoding: 'utf8' });
    for (const o of ['--mmu', '--levels', '--host-levels', '--page-size', '--tlb', '--no-pwc', '--no-ntlb', '--json', '--skip-bad-lines']) expect(out).toContain(o);
    for (const o of ['--host-mib', '--vm-mib', '--zip-percent', '--swap', '--share-pages', '--victim', '--seed']) expect(out).toContain(o);
  });
});

/** Runs `memvisor` in this process: exit code, what it printed on stdout and stderr. */
async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = process.stdout.write, err = process.stderr.write;
  let stdout = '', stderr = '';
  process.stdout.write = ((t: string) => { stdout += t; return true; }) as typeof process.stdout.write;
  process.stderr.write = ((t: string) => { stderr += t; return true; }) as typeof process.stderr.write;
  try {
    return { code: await main(args), stdout, stderr };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
}

describe('memvisor trace over an overcommitted host (--host-mib)', () => {
  // the fixture's records spread over 32 more data pages each pass, 6 passes: a footprint of
  // about 200 pages plus page tables, on a host of 1 MiB (256 frames, some held by the hypervisor)
  const dir = mkdtempSync(join(tmpdir(), 'memvisor-trace-host-'));
  const file = join(dir, 'spread.lackey');
  const fixture = readFileSync(FIXTURE, 'utf8');
  const lines: string[] = [];
  for (let pass = 0; pass < 6; pass++) {
    for (const l of fixture.split('\n')) {
      const m = /^ ([LSM]) ([0-9a-f]+),(\d+)$/.exec(l);
      lines.push(m ? ` ${m[1]} ${(parseInt(m[2], 16) + ((lines.length * 7) % 32) * 4096 + pass * 128 * 4096).toString(16)},${m[3]}` : l);
    }
  }
  writeFileSync(file, lines.join('\n'));

  it('replays through a VM of the host: the MMU counters, the host faults, and the host side (swap-ins, swap-outs) in the JSON', async () => {
    const alone = await run(['trace', file, '--vm-mib', '16', '--json']);
    const over = await run(['trace', file, '--host-mib', '1', '--vm-mib', '16', '--zip-percent', '0', '--json']);
    expect([alone.code, over.code, over.stderr]).toEqual([0, 0, '']);
    const a = JSON.parse(alone.stdout), o = JSON.parse(over.stdout);
    expect(a.host).toBeUndefined();
    expect(o.host.machineMemoryMiB).toBe(1);
    expect(o.host.vm.MEMSZ).toBe(16 * 256);
    expect(o.host.vm.SWW).toBeGreaterThan(0);
    expect(o.host.vm.SWR).toBeGreaterThan(0);
    expect(o.host.vm.ZIP).toBe(0);
    expect(o.host.stats.machineFrames).toBe(256);
    expect(o.hostFaults).toBeGreaterThan(0);
    expect(a.hostFaults).toBe(0);
    for (const k of ['records', 'lines', 'traceBytes']) expect(o[k], k).toBe(a[k]);
    expect([o.unhandledFaults, a.unhandledFaults]).toEqual([0, 0]);
    expect(o.translations - o.hostFaults).toBe(a.translations);
  });

  it('prints the host side below the MMU table; sharing passes between chunks, file swap, lru victims', async () => {
    const r = await run(['trace', file, '--host-mib', '1', '--vm-mib', '16', '--share-pages', 'all', '--swap', 'file', '--victim', 'lru', '--seed', '9']);
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(r.stdout).toMatch(/^ {2}host faults +\d+ +stopped for the host, resolved and retried$/m);
    expect(r.stdout).toMatch(/^host: 1 MiB of machine memory, VM "trace" of 16 MiB; zip cache 10%, file swap, lru victims, sharing a full pass per chunk$/m);
    for (const row of ['swap-outs (SWW)', 'swap-ins (SWR)', 'compressions / decompressions', 'copy-on-write breaks', 'pages merged']) expect(r.stdout).toContain(row);
    const merged = Number(/^ {2}pages merged +(\d+)/m.exec(r.stdout)![1]);
    expect(merged).toBeGreaterThan(0);
  });

  it('refuses host options without --host-mib, native paging over a host, and a host too small for the VM (exit 2, naming the option)', async () => {
    const lone = await run(['trace', file, '--zip-percent', '5']);
    expect(lone.code).toBe(2);
    expect(lone.stderr).toMatch(/--zip-percent: got "\(without --host-mib\)", expected --host-mib N as well/);
    const native = await run(['trace', file, '--host-mib', '64', '--mmu', 'native']);
    expect(native.code).toBe(2);
    expect(native.stderr).toMatch(/--mmu: got "native", expected ept or shadow with --host-mib/);
    const tiny = await run(['trace', file, '--host-mib', '1', '--vm-mib', '4096']);
    expect(tiny.code).toBe(2);
    expect(tiny.stderr).toMatch(/--host-mib: got 1, expected room for the page tables of a 4096 MiB VM/);
    const bad = await run(['trace', file, '--host-mib', '0']);
    expect(bad.stderr).toMatch(/--host-mib: got "0", expected a whole number in \[1, 3584\]/);
  });
});
