/**
 * The reference liblz4, reached through a small C harness (liblz4-harness.c) that the tests
 * compile with gcc when gcc and lz4.h are present. `liblz4()` returns null otherwise, with the
 * reason, so the interoperability tests skip with a visible note instead of failing.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface LibLz4 {
  /** LZ4_compress_default of each input into at most `cap` bytes (0 when it does not fit). */
  compress(inputs: Uint8Array[], cap?: (n: number) => number): (Uint8Array | null)[];
  /** LZ4_decompress_safe of each block into at most caps[i] bytes: the bytes, or the negative result. */
  decompress(blocks: Uint8Array[], caps: number[]): (Uint8Array | number)[];
}

let cached: { lib: LibLz4 | null; reason: string } | null = null;

/** Runs the harness in `mode` over length-prefixed records; returns the parsed results. */
function run(bin: string, mode: 'c' | 'd', inputs: Uint8Array[], caps: number[]): (Uint8Array | number)[] {
  const parts: Buffer[] = [];
  inputs.forEach((x, i) => {
    const h = Buffer.alloc(8);
    h.writeUInt32LE(x.length, 0);
    h.writeUInt32LE(caps[i], 4);
    parts.push(h, Buffer.from(x.buffer, x.byteOffset, x.length));
  });
  const r = spawnSync(bin, [mode], { input: Buffer.concat(parts), maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`liblz4 harness ${mode}: exit ${r.status} ${r.stderr}`);
  const out = r.stdout;
  const res: (Uint8Array | number)[] = [];
  let at = 0;
  for (let i = 0; i < inputs.length; i++) {
    const n = out.readInt32LE(at);
    at += 4;
    if (n > 0) {
      res.push(new Uint8Array(out.subarray(at, at + n)));
      at += n;
    } else {
      res.push(n);
    }
  }
  return res;
}

/** The harness, built once per process; null (with the reason) when it cannot be built here. */
export function liblz4(): { lib: LibLz4 | null; reason: string } {
  if (cached) return cached;
  const source = fileURLToPath(new URL('./liblz4-harness.c', import.meta.url));
  const bin = join(mkdtempSync(join(tmpdir(), 'memvisor-lz4-')), 'liblz4-harness');
  const cc = spawnSync('gcc', ['-O2', '-o', bin, source, '-llz4'], { encoding: 'utf8' });
  if (cc.error || cc.status !== 0 || !existsSync(bin)) {
    const why = cc.error ? `gcc not runnable (${cc.error.message})` : `gcc failed: ${(cc.stderr ?? '').split('\n')[0]}`;
    cached = { lib: null, reason: `${why}; install gcc and liblz4-dev to run the liblz4 interoperability tests` };
    return cached;
  }
  const lib: LibLz4 = {
    compress: (inputs, cap = (n) => n + Math.floor(n / 255) + 16) =>
      run(bin, 'c', inputs, inputs.map((x) => cap(x.length))).map((r) => (typeof r === 'number' ? null : r)),
    decompress: (blocks, caps) => run(bin, 'd', blocks, caps),
  };
  cached = { lib, reason: 'gcc + liblz4' };
  return cached;
}
