/**
 * Native references for the benchmarks: small C programs (bench/native/*.c) that time a C
 * library on the same pages as a bench file, built with gcc where the library is installed
 * (as test/support/liblz4.ts builds the codec tests' harness).
 *
 * A program loads its input files once, then runs one round per command line it reads and
 * replies with the nanoseconds the round took. A bench task sends the command and advances a
 * virtual clock (`virtualClock`) by that amount, so the native row is timed by the program but
 * sampled by vitest like every other row: same warm-up and iterations, same place in the run.
 *
 *   const lz4 = await nativeProgram('lz4', [pagesFile, blocksFile]);   // null + reason if not built
 *   const clock = virtualClock();
 *   bench(name, async () => clock.advance(roundNs(await lz4.round('c'))), { now: clock.now });
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuClock } from './lib.js';

/** How a native program is built: from `source`.c (default: its own name), with `flags` and `libs`; `needs` names the Debian package that brings the library. */
interface Program {
  source?: string;
  flags?: string[];
  libs: string[];
  needs: string;
}

/** The native programs, with the libraries each needs and the package that brings them on Debian. */
const PROGRAMS = {
  lz4: { libs: ['-llz4'], needs: 'liblz4-dev' },
  'sharing-floor': { libs: [], needs: 'libxxhash-dev (xxhash.h)' },
  xxhash: { libs: [], needs: 'libxxhash-dev (xxhash.h)' },
  // the same source for a CPU with AVX2: XXH3's wide kernel (exits before "ready" on one without)
  'xxhash-avx2': { source: 'xxhash', flags: ['-mavx2'], libs: [], needs: 'libxxhash-dev (xxhash.h)' },
} satisfies Record<string, Program>;
export type NativeName = keyof typeof PROGRAMS;

/** A running native program. */
export interface NativeProgram {
  /** Runs one round (`cmd`, one line) and resolves to the words of the reply, the first being nanoseconds. */
  round(cmd: string): Promise<number[]>;
  /** Ends the program (stdin closed) and removes its temporary files. */
  close(): void;
}

const dir = mkdtempSync(join(tmpdir(), 'memvisor-bench-native-'));

/** A file in this process's temporary directory holding `bytes`; its path. */
export function tempFile(name: string, bytes: Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

/** Builds program `name` with gcc -O2 (the optimization Debian builds its libraries with) and its own flags; the binary, or null with the reason. */
function build(name: NativeName): { bin: string | null; reason: string } {
  const program: Program = PROGRAMS[name];
  const { source = name, flags = [], libs } = program;
  const path = fileURLToPath(new URL(`./native/${source}.c`, import.meta.url));
  const bin = join(dir, name);
  const cc = spawnSync('gcc', ['-O2', ...flags, '-o', bin, path, ...libs], { encoding: 'utf8' });
  if (cc.error || cc.status !== 0 || !existsSync(bin)) {
    const why = cc.error ? `gcc not runnable (${cc.error.message})` : `gcc failed: ${(cc.stderr ?? '').split('\n')[0]}`;
    return { bin: null, reason: `${why}; install gcc and ${program.needs} for this row` };
  }
  return { bin, reason: 'built' };
}

/** Starts program `name` on `args` and waits until it has loaded its input; null (and a printed note) when it cannot be built. */
export async function nativeProgram(name: NativeName, args: string[]): Promise<NativeProgram | null> {
  const { bin, reason } = build(name);
  if (!bin) {
    console.warn(`[bench] native ${name} skipped: ${reason}`);
    return null;
  }
  const child: ChildProcessWithoutNullStreams = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let buffered = '';
  const waiting: { resolve: (line: string) => void; reject: (e: Error) => void }[] = [];
  let ended: Error | null = null;
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    buffered += chunk;
    for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      waiting.shift()?.resolve(line);
    }
  });
  child.on('exit', (code) => {
    ended = new Error(`native ${name} exited with status ${code}`);
    for (const w of waiting.splice(0)) w.reject(ended);
  });
  const line = () =>
    new Promise<string>((resolve, reject) => (ended ? reject(ended) : waiting.push({ resolve, reject })));
  let ready: string;
  try {
    ready = await line();
  } catch (e) {
    // it could not start on this machine (xxhash-avx2 on a CPU without AVX2): its rows are skipped
    console.warn(`[bench] native ${name} skipped: ${(e as Error).message} before it was ready`);
    return null;
  }
  if (!ready.startsWith('ready')) throw new Error(`native ${name}: expected "ready", got ${JSON.stringify(ready)}`);
  return {
    async round(cmd: string) {
      const reply = line();
      child.stdin.write(`${cmd}\n`);
      return (await reply).trim().split(/\s+/).map(Number);
    },
    close() {
      child.stdin.end();
    },
  };
}

/** Removes the temporary directory (binaries and input files); call when the programs are closed. */
export function removeNativeFiles(): void {
  rmSync(dir, { recursive: true, force: true });
}

/** A native round's time in ns from its reply: wall-clock (first word), or its CPU time (last word) under MEMVISOR_BENCH_CLOCK=cpu. */
export function roundNs(reply: number[]): number {
  return cpuClock ? reply[reply.length - 1] : reply[0];
}

/** A clock for tinybench (`now` option, ms) that moves only when told: by a native round's own time. */
export function virtualClock() {
  let ms = 0;
  return {
    now: () => ms,
    /** Adds `ns` nanoseconds. */
    advance(ns: number) {
      ms += ns / 1e6;
    },
  };
}

/**
 * Starts the liblz4 program (bench/native/lz4.c) on `pages` and their blocks, packed back to
 * back in `packed` with block i at [offsets[i], offsets[i+1]): writes its two input files (the
 * block file as lz4.c reads it: u32 LE n, n u32 LE sizes, the blocks). Null where it cannot be built.
 */
export async function liblz4Program(pages: Uint8Array, packed: Uint8Array, offsets: Uint32Array): Promise<NativeProgram | null> {
  const n = offsets.length - 1;
  const packedBytes = offsets[n];
  const blockFile = new Uint8Array(4 + 4 * n + packedBytes);
  const view = new DataView(blockFile.buffer);
  view.setUint32(0, n, true);
  for (let i = 0; i < n; i++) view.setUint32(4 + 4 * i, offsets[i + 1] - offsets[i], true);
  blockFile.set(packed.subarray(0, packedBytes), 4 + 4 * n);
  return nativeProgram('lz4', [tempFile('pages', pages), tempFile('blocks', blockFile)]);
}

/**
 * The hash functions bench/native/xxhash.c times, by the command that runs one round of each:
 * xxHash's XXH64 and XXH3_64bits over the pages where they lie; and `xxh64c`, `xxh3c`: the same
 * hashes made the way memvisor's xxh64Pages and xxh3Pages make them from JavaScript, all of it in
 * C (64-page chunks copied into a staging buffer, then hashed; XXH64 two pages at a time, the
 * fastest schedule of it we know).
 */
export const XXHASH_COMMANDS = { xxh64: '64', xxh64c: '64c', xxh3: '3', xxh3c: '3c' } as const;
/** The hash each command computes, which memvisor's hashes of the same pages must sum to. */
const XXHASH_OF: Record<keyof typeof XXHASH_COMMANDS, 'xxh64' | 'xxh3'> = { xxh64: 'xxh64', xxh64c: 'xxh64', xxh3: 'xxh3', xxh3c: 'xxh3' };

/** Sum mod 2^64 of `hashes`: what bench/native/xxhash.c replies after a round, to check it hashed the same pages the same way. */
export function hashSum(hashes: BigUint64Array): bigint {
  let s = 0n;
  for (const h of hashes) s += h;
  return BigInt.asUintN(64, s);
}

/**
 * Starts xxHash's C code (bench/native/xxhash.c) on `pages` and checks one round of each hash
 * against `expected` (memvisor's hashes of the same pages, seed 0): a native row that hashed
 * something else would compare nothing. Null where it cannot be built.
 */
export async function xxhashProgram(
  pages: Uint8Array,
  expected: Record<'xxh64' | 'xxh3', BigUint64Array>,
  build: 'xxhash' | 'xxhash-avx2' = 'xxhash',
): Promise<NativeProgram | null> {
  const program = await nativeProgram(build, [tempFile(`${build}-pages`, pages)]);
  if (!program) return null;
  for (const [name, cmd] of Object.entries(XXHASH_COMMANDS) as [keyof typeof XXHASH_COMMANDS, string][]) {
    const [, hi, lo] = await program.round(cmd);
    const got = (BigInt(hi) << 32n) | BigInt(lo);
    const want = hashSum(expected[XXHASH_OF[name]]);
    if (got !== want) {
      program.close();
      throw new Error(`native xxhash: the ${name} hashes of the corpus sum to ${got}, memvisor's to ${want}`);
    }
  }
  return program;
}
