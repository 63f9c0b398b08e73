/**
 * The built package, imported the way another package would: by name, through the `exports`
 * map, from dist/ and build/release.wasm (npm test builds both first). Not src/.
 */
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, symlinkSync, writeFileSync, rmSync, existsSync } from 'node:fs';
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
const e = m.Engine.create({ machineMemoryMiB: 4 });
const f = e.frameAlloc(m.FrameKind.Guest);
let err = '';
try { m.Engine.create({ machineMemoryMiB: -5 }); } catch (x) { err = x.constructor.name + ': ' + x.message; }
console.log(JSON.stringify({ flavor: e.flavor, total: e.frameCounts().total, f, exports: Object.keys(m).sort(), err }));`,
      );
      const env = { ...process.env };
      delete env.MEMVISOR_DEBUG;
      const out = JSON.parse(execFileSync(process.execPath, ['main.js'], { cwd: dir, env, encoding: 'utf8' }));
      expect(out.flavor).toBe('release');
      expect(out.total).toBe(1024);
      expect(out.f).toBe(0);
      expect(out.exports).toContain('Engine');
      expect(out.err).toMatch(/^ConfigError: machineMemoryMiB: got -5/);
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

describe('demo (npm start)', () => {
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
