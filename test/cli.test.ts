/**
 * Every CLI path clean (src/cli/*): standard input and FIFOs, plain and gzip; a reader that goes
 * away (EPIPE) ends the run quietly with exit 0; every command takes --help; option values are
 * checked against the engine's limits with the option's own name; exit codes 0 / 1 / 2.
 * Processes are spawned only where a real pipe or FIFO is the point.
 */
import { describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { createReadStream, createWriteStream, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../src/cli/main.js';

const ROOT = new URL('..', import.meta.url).pathname;
const FIXTURE = new URL('./fixtures/tiny.lackey', import.meta.url).pathname;
const CLI = ['--import', 'tsx', join(ROOT, 'src/cli/main.ts')];

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the CLI in a child process. `stdin`: bytes to pipe in; `fifo`: a file to write into a
 * FIFO the child reads (its path replaces FIFO in `args`); `closeStdout`: 'now' closes the
 * reading end at once, 'first' after the first output (as `| head -1` does).
 */
function cli(args: string[], opts: { stdin?: Uint8Array; fifo?: string; closeStdout?: 'now' | 'first' } = {}): Promise<Run> {
  let fifoPath = '';
  if (opts.fifo) {
    fifoPath = join(mkdtempSync(join(tmpdir(), 'memvisor-fifo-')), 'trace.fifo');
    const mk = spawnSync('mkfifo', [fifoPath]);
    if (mk.status !== 0) throw new Error(`mkfifo failed: ${mk.stderr}`);
  }
  const child = spawn(process.execPath, [...CLI, ...args.map((a) => (a === 'FIFO' ? fifoPath : a))], {
    cwd: ROOT,
    stdio: [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const out = child.stdout!;
  child.stderr!.on('data', (d) => (stderr += d));
  if (opts.closeStdout === 'now') out.destroy();
  else out.on('data', (d) => {
    stdout += d;
    if (opts.closeStdout === 'first') out.destroy();
  });
  if (opts.stdin) child.stdin!.end(opts.stdin);
  // opening a FIFO for writing waits for its reader: the child
  if (opts.fifo) createReadStream(opts.fifo).pipe(createWriteStream(fifoPath));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

/** Runs main() in this process, capturing what it prints. */
async function inProcess(args: string[]): Promise<Run> {
  const out = process.stdout.write;
  const err = process.stderr.write;
  let stdout = '';
  let stderr = '';
  process.stdout.write = ((s: string) => ((stdout += s), true)) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => ((stderr += s), true)) as typeof process.stderr.write;
  try {
    return { code: await main(args), stdout, stderr };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
}

const records = (r: Run) => JSON.parse(r.stdout).records;

describe('memvisor CLI in a real process', () => {
  it('reads plain and gzip traces from standard input (-) and from FIFOs, told apart by their bytes', async () => {
    const plain = readFileSync(FIXTURE);
    const gz = readFileSync(FIXTURE + '.gz');
    const [a, b, c, d] = await Promise.all([
      cli(['trace', '-', '--json'], { stdin: plain }),
      cli(['trace', '-', '--json'], { stdin: gz }),
      cli(['trace', 'FIFO', '--json'], { fifo: FIXTURE }),
      cli(['trace', 'FIFO', '--json'], { fifo: FIXTURE + '.gz' }),
    ]);
    for (const r of [a, b, c, d]) {
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(records(r)).toBe(11994);
    }
    expect([a, b, c, d].map((r) => JSON.parse(r.stdout).format)).toEqual(['lackey', 'lackey-gz', 'lackey', 'lackey-gz']);
    // a damaged gzip stream through a pipe is a one-line error with exit 1, no stack
    const cut = await cli(['trace', '-'], { stdin: gz.subarray(0, gz.length - 3) });
    expect(cut.code).toBe(1);
    expect(cut.stderr).toMatch(/^memvisor trace: <stdin>: byte \d+: gzip member 1: its trailer says CRC-32 .*\n$/);
  });

  it('a reader that goes away (EPIPE) ends trace, demo and help quietly with exit 0', async () => {
    const runs = await Promise.all([
      cli(['trace', FIXTURE], { closeStdout: 'now' }),
      cli(['help'], { closeStdout: 'now' }),
      cli(['demo', '--mib', '4', '--vms', '1'], { closeStdout: 'first' }),
    ]);
    for (const r of runs) {
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
    }
  });
});

describe('memvisor CLI paths', () => {
  it('every command listed by help takes --help (exit 0); help <command> prints the same', async () => {
    const top = await inProcess(['help']);
    expect(top.code).toBe(0);
    const section = top.stdout.slice(top.stdout.indexOf('commands:'));
    const commands = [...section.matchAll(/^ {2}([a-z]+)\b/gm)].map((m) => m[1]).filter((c) => c !== 'help');
    expect(commands).toEqual(expect.arrayContaining(['demo', 'trace', 'image']));
    for (const c of commands) {
      for (const flag of ['--help', '-h']) {
        const r = await inProcess([c, flag]);
        expect(r.code, `${c} ${flag}`).toBe(0);
        expect(r.stdout, `${c} ${flag}`).toMatch(new RegExp(`^usage: memvisor ${c}`));
        expect(r.stderr).toBe('');
      }
      expect((await inProcess(['help', c])).stdout).toBe((await inProcess([c, '--help'])).stdout);
    }
    expect((await inProcess(['--help'])).code).toBe(0);
    const unknown = await inProcess(['help', 'nope']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/help: got "nope", expected one of demo, trace, image/);
  });

  it('option values are checked against the engine limits, in the option the user typed (exit 2)', async () => {
    const demo = await inProcess(['demo', '--mib', '512', '--vms', '16']);
    expect(demo.code).toBe(2);
    expect(demo.stderr).toMatch(/^memvisor demo: --mib\/--vms: got "--mib 512 --vms 16", expected at most 3584 MiB of machine memory for the host \(60% of 16 x 576 MiB = 5532 MiB\)/);
    for (const args of [['--mib', '3'], ['--vms', '17'], ['--mib'], ['--vms', 'x'], ['--root', '/nonexistent'], ['--bogus']]) {
      const r = await inProcess(['demo', ...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toContain(args[0]);
    }
    const images = await inProcess(['image', ...Array.from({ length: 4097 }, (_, i) => `img${i}`)]);
    expect(images.code).toBe(2);
    expect(images.stderr).toMatch(/<file>: got "4097 files", expected at most 4096 images/);
    // a TLB geometry the parser accepts is one the engine holds: the standalone core sizes its cache
    const big = await inProcess(['trace', FIXTURE, '--tlb', 'L2=131072x4', '--json']);
    expect(big.stderr).toBe('');
    expect(big.code).toBe(0);
    expect(JSON.parse(big.stdout).config.tlb.l2).toEqual({ entries: 131072, ways: 4 });
    const all = await inProcess(['trace', FIXTURE, '--tlb', 'L1d=1048576x64,L1i=1048576x64,L2=1048576x64', '--json']);
    expect(all.code).toBe(0);
  });

  it('1 GiB host pages replay under every guest page size and MMU: no unhandled fault, splinters when a group does not fit', async () => {
    const splinters: Record<string, number> = {};
    for (const sizes of [['--page-size', '2m'], ['--page-size', '1g'], ['--mmu', 'shadow', '--page-size', '2m'], ['--mmu', 'shadow', '--page-size', '1g']]) {
      const r = await inProcess(['trace', FIXTURE, ...sizes, '--host-page-size', '1g', '--json']);
      expect(r.stderr, sizes.join(' ')).toBe('');
      expect(r.code, sizes.join(' ')).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(out.translations, sizes.join(' ')).toBe(out.records);
      expect(out.unhandledFaults, sizes.join(' ')).toBe(0);
      splinters[sizes.join(' ')] = out.largePageSplinters;
    }
    // 2 MiB guest pages touch two 1 GiB groups: both fit the 3584 MiB default
    expect(splinters['--page-size 2m']).toBe(0);
    // 1 GiB guest pages (8192 MiB guest) touch a third group that no longer fits whole
    expect(splinters['--page-size 1g']).toBeGreaterThan(0);
  });

  it('exit codes: 2 for --write-binary onto the input, 1 for bad input, never a stack', async () => {
    const same = await inProcess(['trace', FIXTURE, '--write-binary', FIXTURE]);
    expect(same.code).toBe(2);
    expect(same.stderr).toMatch(/--write-binary: got ".*tiny\.lackey", expected a file other than the trace being read/);
    const elf = await inProcess(['trace', process.execPath]);
    expect(elf.code).toBe(1);
    expect(elf.stderr).toMatch(/^memvisor trace: .*:1: byte \d+ of the text is NUL: binary data, not a lackey text trace/);
    expect(elf.stderr.split('\n').length).toBe(2); // one line
  });
});
