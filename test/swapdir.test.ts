/**
 * Safe swap files: a directory of the host's own (mkdtemp, named with the pid), files created
 * exclusively with mode 0600 and never through a symbolic link, everything removed on close()
 * (which reports instead of throwing) and on process exit, and a crashed run's leftovers
 * recognised and removed by cleanSwapDirs / `memvisor clean`.
 */
import { describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import {
  existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, FileSwapStore, Host, cleanSwapDirs } from '../src/node.js';
import { main } from '../src/cli/main.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SRC = join(ROOT, 'src', 'node.ts');

function parent(): string {
  return mkdtempSync(join(tmpdir(), 'memvisor-swapdir-test-'));
}

/** Descriptors of this process open on paths under `dir` (Linux /proc). */
function fdsUnder(dir: string): string[] {
  const out: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const t = readlinkSync(`/proc/self/fd/${fd}`);
      if (t.startsWith(dir)) out.push(t);
    } catch {
      // the descriptor readdir itself used, already closed
    }
  }
  return out;
}

/** A pid that belonged to a process that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(r.stdout.toString());
}

describe('swap files', () => {
  it('live in a fresh directory named with the pid (0700), as 0600 files; close() removes them all', async () => {
    const p = parent();
    const host = await Host.create({ machineMemoryMiB: 4, swap: { backing: 'file', dir: p } });
    expect(readdirSync(p)).toEqual([]); // nothing until a VM needs a store
    const a = host.addVM({ name: 'a', memoryMiB: 1 });
    const b = host.addVM({ name: 'b/../../x', memoryMiB: 1 }); // a name is never part of a path
    const [dir] = readdirSync(p);
    expect(dir).toMatch(new RegExp(`^memvisor-${process.pid}-[A-Za-z0-9]{6}$`));
    expect(statSync(join(p, dir)).mode & 0o777).toBe(0o700);
    const files = readdirSync(join(p, dir)).sort();
    expect(files).toEqual([`vm${a.id}-0.vswp`, `vm${b.id}-1.vswp`]);
    for (const f of files) expect(statSync(join(p, dir, f)).mode & 0o777).toBe(0o600);
    a.writePhys(0, new Uint8Array(4096).fill(1));
    a.pageOut(1);
    expect(fdsUnder(join(p, dir)).length).toBe(2);
    const before = process.listenerCount('exit');
    const r = host.close();
    expect(r).toEqual({ descriptorsClosed: 2, removed: 3, problems: [] });
    expect(readdirSync(p)).toEqual([]);
    expect(fdsUnder(join(p, dir))).toEqual([]);
    expect(process.listenerCount('exit')).toBeLessThanOrEqual(before); // the exit hook goes with the last host
    expect(host.close()).toEqual({ descriptorsClosed: 0, removed: 0, problems: [] }); // idempotent
    rmSync(p, { recursive: true });
  });

  it('are created exclusively: a planted file or symbolic link is neither followed nor truncated', async () => {
    const p = parent();
    const victim = join(p, 'precious');
    writeFileSync(victim, 'keep me');
    symlinkSync(victim, join(p, 'link.vswp'));
    expect(() => new FileSwapStore('v', 16, join(p, 'link.vswp'))).toThrow(/EEXIST/);
    writeFileSync(join(p, 'plain.vswp'), 'keep me too');
    expect(() => new FileSwapStore('v', 16, join(p, 'plain.vswp'))).toThrow(/EEXIST/);
    expect(readFileSync(victim, 'utf8')).toBe('keep me');
    expect(readFileSync(join(p, 'plain.vswp'), 'utf8')).toBe('keep me too');
    // the host's own directory: a link planted at the next name makes addVM fail cleanly
    const host = await Host.create({ machineMemoryMiB: 4, swap: { backing: 'file', dir: p } });
    host.addVM({ name: 'a', memoryMiB: 1 });
    const dir = readdirSync(p).find((f) => f.startsWith('memvisor-'))!;
    symlinkSync(victim, join(p, dir, 'vm1-1.vswp'));
    expect(() => host.addVM({ name: 'b', memoryMiB: 1 })).toThrow(ConfigError);
    expect(() => host.addVM({ name: 'b', memoryMiB: 1 })).not.toThrow(); // the next name is free
    expect(readFileSync(victim, 'utf8')).toBe('keep me');
    const r = host.close();
    // the planted link is not memvisor's: it stays, and so does the directory, reported
    expect(r.problems).toEqual([expect.objectContaining({ op: 'rmdir', code: 'ENOTEMPTY', path: join(p, dir) })]);
    expect(readdirSync(join(p, dir))).toEqual(['vm1-1.vswp']);
    rmSync(p, { recursive: true });
  });

  it('close() after the swap directory was removed closes every descriptor and reports no raw error', async () => {
    const p = parent();
    const host = await Host.create({ machineMemoryMiB: 4, swap: { backing: 'file', dir: p } });
    const vms = ['a', 'b', 'c'].map((name) => host.addVM({ name, memoryMiB: 1 }));
    for (const vm of vms) {
      vm.writePhys(0, new Uint8Array(8192).fill(3));
      vm.pageOut(2);
    }
    const dir = join(p, readdirSync(p)[0]);
    rmSync(dir, { recursive: true });
    // the open descriptors still hold the data
    expect(vms[0].readPhys(0, 8192)).toEqual(new Uint8Array(8192).fill(3));
    expect(fdsUnder(dir).length).toBe(3);
    const r = host.close();
    expect(r.problems).toEqual([]);
    expect(r.descriptorsClosed).toBe(3);
    expect(fdsUnder(dir)).toEqual([]);
    rmSync(p, { recursive: true });
  });

  it('a VM powered off takes its file with it; a problem then is reported by close()', async () => {
    const p = parent();
    const host = await Host.create({ machineMemoryMiB: 4, swap: { backing: 'file', dir: p } });
    const a = host.addVM({ name: 'a', memoryMiB: 1 });
    const b = host.addVM({ name: 'b', memoryMiB: 1 });
    const dir = join(p, readdirSync(p)[0]);
    const pa = (a.swap as FileSwapStore).path;
    a.powerOff();
    expect(existsSync(pa)).toBe(false);
    expect(readdirSync(dir)).toEqual([basename((b.swap as FileSwapStore).path)]);
    expect(host.close()).toEqual({ descriptorsClosed: 1, removed: 2, problems: [] });
    rmSync(p, { recursive: true });
  });
});

/** Runs a child process that creates a host with file swap in `p` and ends as `mode` says. */
function child(p: string, mode: 'exit' | 'hang'): Promise<{ pid: number; code: number | null; signal: string | null }> {
  const script = join(p, 'child.mts');
  writeFileSync(script, `
const { Host } = await import(${JSON.stringify(SRC)});
const host = await Host.create({ machineMemoryMiB: 2, swap: { backing: 'file', dir: ${JSON.stringify(p)} } });
const vm = host.addVM({ name: 'c', memoryMiB: 1 });
vm.writePhys(0, new Uint8Array(8192).fill(7));
vm.pageOut(2);
process.stdout.write('ready\\n');
if (${JSON.stringify(mode)} === 'hang') setInterval(() => {}, 1000);
`);
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, ['--import', 'tsx', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    c.stdout.on('data', (d: Buffer) => {
      if (mode === 'hang' && d.toString().includes('ready')) c.kill('SIGKILL');
    });
    c.on('error', reject);
    c.on('exit', (code, signal) => resolve({ pid: c.pid!, code, signal }));
  });
}

describe('process exit and crashes', () => {
  it('a process that ends without close() leaves nothing (the exit hook did not keep it alive)', async () => {
    const p = parent();
    const r = await child(p, 'exit');
    expect(r.code).toBe(0);
    expect(readdirSync(p)).toEqual(['child.mts']);
    rmSync(p, { recursive: true });
  }, 60_000);

  it("a killed process's leftovers are recognised by pid and removed by memvisor clean; nothing else is", async () => {
    const p = parent();
    const r = await child(p, 'hang');
    expect(r.signal).toBe('SIGKILL');
    const left = readdirSync(p).filter((f) => f.startsWith('memvisor-'));
    expect(left).toEqual([expect.stringMatching(new RegExp(`^memvisor-${r.pid}-`))]);
    expect(readdirSync(join(p, left[0]))).toEqual(['vm0-0.vswp']);
    // other things that look alike: a live process's directory, a directory with a foreign file,
    // a symbolic link, a 0.1 swap file of a dead process, an unrelated file
    const dead = deadPid();
    mkdirSync(join(p, `memvisor-${process.pid}-aaaaaa`));
    mkdirSync(join(p, `memvisor-${dead}-bbbbbb`));
    writeFileSync(join(p, `memvisor-${dead}-bbbbbb`, 'notes.txt'), 'mine');
    symlinkSync(tmpdir(), join(p, `memvisor-${dead}-cccccc`));
    writeFileSync(join(p, `memvisor-${dead}-lq2x9k-0.vswp`), 'old');
    writeFileSync(join(p, 'memvisor-notes'), 'x');
    const dry = cleanSwapDirs(p, { dryRun: true });
    expect(dry.removed.length).toBe(3);
    expect(existsSync(join(p, left[0]))).toBe(true);
    const out: string[] = [];
    const sink = { write: (s: string) => out.push(s) } as unknown as NodeJS.WritableStream;
    const { runClean } = await import('../src/cli/clean.js');
    expect(runClean(['--dir', p], sink)).toBe(0);
    expect(existsSync(join(p, left[0]))).toBe(false);
    expect(existsSync(join(p, `memvisor-${dead}-lq2x9k-0.vswp`))).toBe(false);
    expect(readdirSync(p).sort()).toEqual(['child.mts', `memvisor-${dead}-bbbbbb`, `memvisor-${dead}-cccccc`, `memvisor-${process.pid}-aaaaaa`, 'memvisor-notes'].sort());
    expect(lstatSync(join(p, `memvisor-${dead}-cccccc`)).isSymbolicLink()).toBe(true);
    expect(readFileSync(join(p, `memvisor-${dead}-bbbbbb`, 'notes.txt'), 'utf8')).toBe('mine');
    expect(out.join('')).toMatch(/removed .*vm0-0\.vswp\n/);
    expect(out.join('')).toMatch(/kept .*aaaaaa: process \d+ is running/);
    expect(out.join('')).toMatch(/kept .*bbbbbb: holds 1 entry memvisor did not create \(notes\.txt\)/);
    expect(out.join('')).toMatch(/3 entries removed, 3 kept, 0 problems\n$/);
    expect(await main(['clean', '--bogus'])).toBe(2);
    expect(await main(['clean', '--dir', join(p, 'nonexistent')])).toBe(1);
    rmSync(p, { recursive: true });
  }, 60_000);
});
