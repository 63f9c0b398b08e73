/**
 * The built package, imported the way another package would: by name, through the `exports`
 * map, from dist/ and build/release.wasm (npm test builds both first). Not src/.
 */
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, symlinkSync, writeFileSync, rmSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');

describe('built package', () => {
  it('is importable by name from another package and runs the release module', () => {
    expect(existsSync(join(root, 'dist/index.js')), 'run `npm run build` first').toBe(true);
    const dir = mkdtempSync(join(tmpdir(), 'memvisor-consumer-'));
    try {
      mkdirSync(join(dir, 'node_modules'));
      symlinkSync(root, join(dir, 'node_modules', 'memvisor'), 'dir');
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', type: 'module', private: true }));
      writeFileSync(
        join(dir, 'main.js'),
        `import * as m from 'memvisor';
const host = await m.Host.create({ machineMemoryMiB: 4 });
const vm = host.addVM({ name: 'a', memoryMiB: 1 });
vm.writePhys(4096, Uint8Array.of(1, 2, 3));
let err = '';
try { await m.Host.create({ machineMemoryMiB: -5 }); } catch (x) { err = x.constructor.name + ': ' + x.message; }
console.log(JSON.stringify({ total: host.frameCounts().total, read: Array.from(vm.readPhys(4096, 3)), exports: Object.keys(m).sort(), err, version: m.VERSION }));`,
      );
      const env = { ...process.env };
      delete env.MEMVISOR_DEBUG;
      const out = JSON.parse(execFileSync(process.execPath, ['main.js'], { cwd: dir, env, encoding: 'utf8' }));
      expect(out.total).toBe(1024);
      expect(out.read).toEqual([1, 2, 3]);
      for (const name of ['Host', 'VM', 'Mmu', 'replayBytes', 'TraceParseError', 'xxh64', 'lz4Codec', 'ConfigError']) expect(out.exports).toContain(name);
      // the engine is internal: nothing of it is exported
      for (const name of ['Engine', 'FrameKind', 'NO_FRAME', 'utilityEngine']) expect(out.exports).not.toContain(name);
      expect(out.err).toMatch(/^ConfigError: machineMemoryMiB: got -5/);
      // the version a run reports is the package's (a constant in src/version.ts: no file read in a browser)
      expect(out.version).toBe(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("has a Node entry, 'memvisor/node': the main entry's names and the file ones; the main entry alone refuses file swap, naming it", () => {
    const dir = mkdtempSync(join(tmpdir(), 'memvisor-consumer-'));
    try {
      mkdirSync(join(dir, 'node_modules'));
      symlinkSync(root, join(dir, 'node_modules', 'memvisor'), 'dir');
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', type: 'module', private: true }));
      // the main entry first, alone: no file operations are registered yet
      writeFileSync(
        join(dir, 'main.js'),
        `import * as m from 'memvisor';
let refused = '';
try { await m.Host.create({ machineMemoryMiB: 2, swap: { backing: 'file' } }); } catch (x) { refused = x.constructor.name + ': ' + x.message; }
const n = await import('memvisor/node');
const host = await n.Host.create({ machineMemoryMiB: 2, swap: { backing: 'file' } });
const vm = host.addVM({ name: 'f', memoryMiB: 1 });
vm.writePhys(0, new Uint8Array(8192).fill(9));
vm.pageOut(2);
const back = vm.readPhys(0, 8192).every((b) => b === 9);
const file = host.vms[0].swap.path;
host.close();
console.log(JSON.stringify({ refused, back, file, sameHost: n.Host === m.Host, main: Object.keys(m).sort(), node: Object.keys(n).sort() }));`,
      );
      const env = { ...process.env };
      delete env.MEMVISOR_DEBUG;
      const out = JSON.parse(execFileSync(process.execPath, ['main.js'], { cwd: dir, env, encoding: 'utf8' }));
      expect(out.refused).toMatch(/^ConfigError: swap\.backing: got "file", expected 'memory' in this build: files need Node, and the 'memvisor\/node' entry/);
      expect(out.back).toBe(true);
      expect(out.file).toMatch(/\.vswp$/);
      expect(out.sameHost).toBe(true);
      for (const name of out.main) expect(out.node).toContain(name);
      for (const name of ['replayFile', 'FileSwapStore', 'cleanSwapDirs', 'writeReportHtml', 'readRunFile', 'readRunParts', 'createLiveView']) {
        expect(out.node).toContain(name);
        expect(out.main).not.toContain(name);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('ships typings without @internal members that a strict TypeScript consumer compiles against', () => {
    const dts = readdirSync(join(root, 'dist'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.d.ts'));
    expect(dts.length).toBeGreaterThan(5);
    for (const f of dts) expect(readFileSync(join(root, 'dist', f), 'utf8'), f).not.toMatch(/@internal/);
    const index = readFileSync(join(root, 'dist/index.d.ts'), 'utf8');
    expect(index).not.toMatch(/\bEngine\b[^F]/);
    const dir = mkdtempSync(join(tmpdir(), 'memvisor-typed-'));
    try {
      mkdirSync(join(dir, 'node_modules'));
      symlinkSync(root, join(dir, 'node_modules', 'memvisor'), 'dir');
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', type: 'module', private: true }));
      writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
        compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: false, types: [], typeRoots: [join(root, 'node_modules/@types')] },
        files: ['main.ts'],
      }));
      writeFileSync(join(dir, 'main.ts'), `import { Host, Mmu, type Hpa, type VmStats } from 'memvisor';
const host = await Host.create({ machineMemoryMiB: 4 });
const vm = host.addVM({ name: 'a', memoryMiB: 1 });
const core = host.mmu();
core.attach(vm);
const hpa: Hpa = core.translateOrThrow(0x400000n, 'write');
const asBig: bigint = hpa;
host.writeMachine(asBig, Uint8Array.of(1));
const s: VmStats = vm.stats();
// @ts-expect-error: the engine is not part of the API
host.engine;
// @ts-expect-error: a VM is created by host.addVM only
new (vm.constructor as typeof import('memvisor').VM)();
console.log(s.MEMSZ, Mmu.name);
`);
      execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', dir], { encoding: 'utf8', stdio: 'pipe' });
    } catch (e) {
      throw new Error(`the consumer does not compile: ${(e as { stdout?: string }).stdout ?? e}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('ships a CLI whose help names its commands', () => {
    const out = execFileSync(process.execPath, [join(root, 'dist/cli/main.js'), '--help'], { encoding: 'utf8' });
    expect(out).toMatch(/usage: memvisor/);
    expect(out).toMatch(/demo/);
  });
});

describe('npm start: the default scenario from the built package', () => {
  it('npm start builds and runs `memvisor run`, which finds scenarios/default.json beside dist/ (shipped in files)', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    expect(pkg.scripts.start).toBe('npm run build && node dist/cli/main.js run');
    expect(pkg.files).toContain('scenarios');
    // checked before it runs: a bad policy kind names the default scenario's field
    let err: { status?: number; stderr?: string } = {};
    try {
      execFileSync(process.execPath, [join(root, 'dist/cli/main.js'), 'run', '--policy', 'nope'], { encoding: 'utf8', stdio: 'pipe' });
    } catch (e) {
      err = e as typeof err;
    }
    expect(err.status).toBe(2);
    expect(err.stderr).toBe(`memvisor run: default scenario: policy.kind: got "nope", expected one of 'esx', 'kvm', 'basic'\n`);
  });
});

describe('demo', () => {
  it('boots VMs on an overcommitted host, reclaims, shares and reads everything back', () => {
    const out = execFileSync(process.execPath, [join(root, 'dist/cli/main.js'), 'demo', '--mib', '8', '--vms', '3'], { encoding: 'utf8' });
    expect(out).toMatch(/3 VMs x 9 MiB/);
    expect(out).toMatch(/nothing lost/);
    const merged = Number(/; (\d+) merged\)/.exec(out)?.[1]);
    expect(merged).toBeGreaterThan(0);
  });

  it('rejects a bad option with a message naming it, exit code 2 (as every command does)', () => {
    let err: { status?: number; stderr?: string } = {};
    try {
      execFileSync(process.execPath, [join(root, 'dist/cli/main.js'), 'demo', '--vms', '99'], { encoding: 'utf8', stdio: 'pipe' });
    } catch (e) {
      err = e as typeof err;
    }
    expect(err.status).toBe(2);
    expect(err.stderr).toMatch(/--vms: got "99", expected an integer in \[1, 16\]/);
  });
});
