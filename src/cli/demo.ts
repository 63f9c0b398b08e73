/**
 * `memvisor demo`: the default run of `npm start` until the scenario runner exists. Four VMs boot
 * the same "image" (a corpus of real pages from this machine's files) on an overcommitted host,
 * each writes private data of its own; the host pages out under pressure (LZ4 zip cache, then
 * swap), one sharing pass merges what is identical, and every byte is read back and checked.
 */
import { Host } from '../host/host.js';
import { buildCorpus } from '../workload/corpus.js';
import { statSync } from 'node:fs';
import { PAGE } from '../engine/addr.js';
import { MAX_MACHINE_MIB } from '../engine/engine.js';
import { MemvisorError, UsageError } from '../errors.js';
import '../node.js'; // file swap, image and trace files: the Node entry registers them
import type { VmStats } from '../host/vm.js';

export const DEMO_HELP = `usage: memvisor demo [options]

N VMs boot the same image (real 4 KiB pages of files on this machine, 10% zero pages) and each
writes 1/8 as much private data of its own, on a host with 60% of the memory they touch: the
host reclaims under pressure (LZ4 zip cache, then swap), one sharing pass merges identical
pages, and every byte is read back and checked.

options:
  --mib N       image size per VM in MiB, 4..512 (default 64)
  --vms N       number of VMs, 1..16 (default 4); the host needs 60% of N x (MiB + MiB/8),
                at most ${MAX_MACHINE_MIB} MiB of machine memory
  --root DIR    take the image's pages from files under DIR (repeatable; default /usr/bin,
                /usr/lib, /usr/share)
  --help        this text

Exit codes: 0 done, 1 a check failed, 2 bad options.
`;

interface Out {
  write(s: string): unknown;
}

interface DemoArgs {
  mib: number;
  vms: number;
  roots: string[];
  help: boolean;
}

/** Machine memory of the demo's host: 60% of what the VMs touch, so loading the last VMs forces reclamation. */
function demoMachineMiB(mib: number, vms: number): number {
  return Math.ceil(((mib + privateMiBOf(mib)) * vms * 0.6) / 4) * 4;
}
/** Private data each VM writes after its image, MiB. */
function privateMiBOf(mib: number): number {
  return Math.max(1, mib >> 3);
}

/** Parses `--mib N`, `--vms N`, `--root DIR` (repeatable) and `--help`; `--opt=value` works too. */
export function parseDemoArgs(args: string[]): DemoArgs {
  const a: DemoArgs = { mib: 64, vms: 4, roots: [], help: false };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const value = () => (eq > 0 ? arg.slice(eq + 1) : args[++i]);
    if (flag === '--help' || flag === '-h') a.help = true;
    else if (flag === '--mib' || flag === '--vms') {
      const v = value();
      const n = Number(v);
      const [lo, hi] = flag === '--mib' ? [4, 512] : [1, 16];
      if (v === undefined || v.trim() === '' || !Number.isInteger(n) || n < lo || n > hi) throw new UsageError(flag, v ?? '(missing)', `an integer in [${lo}, ${hi}]`);
      if (flag === '--mib') a.mib = n;
      else a.vms = n;
    } else if (flag === '--root') {
      const v = value();
      if (!v) throw new UsageError('--root', v ?? '(missing)', 'a directory');
      let dir = false;
      try {
        dir = statSync(v).isDirectory();
      } catch {
        // reported below
      }
      if (!dir) throw new UsageError('--root', v, 'an existing directory of files to take pages from');
      a.roots.push(v);
    } else {
      throw new UsageError(flag, arg, 'one of --mib N, --vms N, --root DIR, --help (see memvisor demo --help)');
    }
  }
  const machine = demoMachineMiB(a.mib, a.vms);
  if (!a.help && machine > MAX_MACHINE_MIB) {
    throw new UsageError('--mib/--vms', `--mib ${a.mib} --vms ${a.vms}`, `at most ${MAX_MACHINE_MIB} MiB of machine memory for the host (60% of ${a.vms} x ${a.mib + privateMiBOf(a.mib)} MiB = ${machine} MiB); lower --mib or --vms`);
  }
  return a;
}

/** Lets pending events run (an EPIPE on stdout ends the process there, not after the next phase). */
const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A deterministic xorshift32 stream: private guest data that neither shares nor compresses. */
function fillRandom(buf: Uint8Array, seed: number): void {
  let x = seed >>> 0 || 1;
  const w = new Uint32Array(buf.buffer, buf.byteOffset, buf.byteLength >>> 2);
  for (let i = 0; i < w.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    w[i] = x >>> 0;
  }
}

const mib = (pages: number) => ((pages * PAGE) / 2 ** 20).toFixed(1);

function table(rows: VmStats[]): string {
  const cols: [string, (s: VmStats) => string][] = [
    ['VM', (s) => s.name],
    ['MEMSZ', (s) => mib(s.MEMSZ)],
    ['RESID', (s) => mib(s.resident)],
    ['SHRD', (s) => mib(s.SHRD)],
    ['ZERO', (s) => mib(s.ZERO)],
    ['SHRDSVD', (s) => mib(s.SHRDSVD)],
    ['ZIP', (s) => mib(s.compressed)],
    ['CACHEUSD', (s) => (s.CACHEUSD / 2 ** 20).toFixed(1)],
    ['SWCUR', (s) => mib(s.SWCUR)],
    ['SWR', (s) => mib(s.SWR)],
    ['UNZIP', (s) => mib(s.UNZIP)],
  ];
  const cells = [cols.map((c) => c[0]), ...rows.map((r) => cols.map((c) => c[1](r)))];
  const width = cols.map((_, i) => Math.max(...cells.map((row) => row[i].length)));
  return cells.map((row) => '  ' + row.map((c, i) => (i === 0 ? c.padEnd(width[i]) : c.padStart(width[i]))).join('  ')).join('\n') + '\n';
}

export async function runDemo(args: string[], out: Out): Promise<void> {
  const a = parseDemoArgs(args);
  if (a.help) {
    out.write(DEMO_HELP);
    return;
  }
  const t0 = performance.now();
  const corpus = buildCorpus({
    mib: a.mib,
    sources: a.roots.length ? a.roots.map((root) => ({ root, share: 0.9 / a.roots.length })) : undefined,
  });
  const tCorpus = performance.now() - t0;
  const privateMiB = privateMiBOf(a.mib);
  const machineMiB = demoMachineMiB(a.mib, a.vms);
  const host = await Host.create({ machineMemoryMiB: machineMiB, seed: 42, sharing: { salting: 'host' } });
  out.write(
    `memvisor demo: ${a.vms} VMs x ${a.mib + privateMiB} MiB on a host with ${machineMiB} MiB of machine memory\n` +
      `  image: ${corpus.count} pages of real files (${Object.entries(corpus.from).map(([k, v]) => `${k} ${v}`).join(', ')}), read in ${tCorpus.toFixed(0)} ms\n`,
  );

  await tick();
  const priv = new Uint8Array(privateMiB << 20);
  const t1 = performance.now();
  for (let i = 0; i < a.vms; i++) {
    const vm = host.addVM({ name: `vm${i + 1}`, memoryMiB: a.mib + privateMiB });
    vm.loadImage(corpus.pages);
    fillRandom(priv, 0x9e3779b9 * (i + 1));
    vm.writePhys(a.mib << 20, priv);
  }
  const tLoad = performance.now() - t1;
  const loaded = host.stats();
  const touchedMiB = a.vms * (a.mib + privateMiB);
  out.write(`\nafter boot (${touchedMiB} MiB written in ${tLoad.toFixed(0)} ms; the host reclaimed under pressure):\n`);
  out.write(table(loaded.vms));
  await tick();

  const t2 = performance.now();
  const scan = host.shareScan();
  const tScan = performance.now() - t2;
  const st = host.stats();
  const scannedGB = (scan.scanned * PAGE) / 1e9;
  out.write(`\nafter one sharing pass (${scan.scanned} pages in ${tScan.toFixed(0)} ms, ${(scannedGB / (tScan / 1e3)).toFixed(2)} GB/s; ${scan.merged} merged):\n`);
  out.write(table(st.vms));
  const h = st.host;
  const resident = st.vms.reduce((n, v) => n + v.resident, 0);
  out.write(
    `\nhost: ${mib(h.guestFrames)} MiB of guest frames back ${mib(resident)} MiB of resident guest pages; ` +
      `${mib(h.freeFrames)} MiB free; zip cache ${mib(h.zpoolFrames)} MiB; pages_shared ${h.pages_shared}, pages_sharing ${h.pages_sharing}\n`,
  );

  await tick();
  // nothing lost: every VM reads back its image and its private data, through swap-in and decompression
  const t3 = performance.now();
  let checked = 0;
  for (let i = 0; i < a.vms; i++) {
    const vm = host.vms[i];
    fillRandom(priv, 0x9e3779b9 * (i + 1));
    const img = vm.readPhys(0, corpus.pages.length);
    const mine = vm.readPhys(a.mib << 20, priv.length);
    if (Buffer.compare(img, corpus.pages) !== 0 || Buffer.compare(mine, priv) !== 0) {
      throw new MemvisorError(`demo: ${vm.name} did not read back what it wrote: data lost`);
    }
    checked += img.length + mine.length;
  }
  const tCheck = performance.now() - t3;
  const end = host.stats();
  const swr = end.vms.reduce((s, v) => s + v.SWR, 0);
  const unzip = end.vms.reduce((s, v) => s + v.UNZIP, 0);
  out.write(
    `read back and verified ${(checked / 2 ** 20).toFixed(0)} MiB in ${tCheck.toFixed(0)} ms ` +
      `(${mib(swr)} MiB swapped in, ${mib(unzip)} MiB decompressed): nothing lost\n`,
  );
  host.close();
}
