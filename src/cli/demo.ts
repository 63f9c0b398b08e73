/**
 * `memvisor demo`: the default run of `npm start` until the scenario runner exists. Four VMs boot
 * the same "image" (a corpus of real pages from this machine's files) on an overcommitted host,
 * each writes private data of its own; the host pages out under pressure (LZ4 zip cache, then
 * swap), one sharing pass merges what is identical, and every byte is read back and checked.
 */
import { Host } from '../host/host.js';
import { buildCorpus } from '../workload/corpus.js';
import { PAGE } from '../engine/addr.js';
import { UsageError } from '../errors.js';
import type { VmStats } from '../host/vm.js';

interface Out {
  write(s: string): unknown;
}

interface DemoArgs {
  mib: number;
  vms: number;
  roots: string[];
}

/** Parses `--mib N`, `--vms N` and `--root DIR` (repeatable). */
function parseArgs(args: string[]): DemoArgs {
  const a: DemoArgs = { mib: 64, vms: 4, roots: [] };
  for (let i = 0; i < args.length; i++) {
    const flag = args[i];
    const v = args[i + 1];
    if (flag === '--mib' || flag === '--vms') {
      const n = Number(v);
      const [lo, hi] = flag === '--mib' ? [4, 512] : [1, 16];
      if (!Number.isInteger(n) || n < lo || n > hi) throw new UsageError(flag, v, `an integer in [${lo}, ${hi}]`);
      if (flag === '--mib') a.mib = n;
      else a.vms = n;
      i++;
    } else if (flag === '--root') {
      if (!v) throw new UsageError('--root', v, 'a directory');
      a.roots.push(v);
      i++;
    } else {
      throw new UsageError('demo argument', flag, '--mib N, --vms N or --root DIR');
    }
  }
  return a;
}

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
  const a = parseArgs(args);
  const t0 = performance.now();
  const corpus = buildCorpus({
    mib: a.mib,
    sources: a.roots.length ? a.roots.map((root) => ({ root, share: 0.9 / a.roots.length })) : undefined,
  });
  const tCorpus = performance.now() - t0;
  // machine memory: 60% of what the VMs will touch, so loading the last VMs forces reclamation
  const privateMiB = Math.max(1, a.mib >> 3);
  const machineMiB = Math.ceil(((a.mib + privateMiB) * a.vms * 0.6) / 4) * 4;
  const host = await Host.create({ machineMemoryMiB: machineMiB, seed: 42, sharing: { salting: 'host' } });
  out.write(
    `memvisor demo: ${a.vms} VMs x ${a.mib + privateMiB} MiB on a host with ${machineMiB} MiB of machine memory\n` +
      `  image: ${corpus.count} pages of real files (${Object.entries(corpus.from).map(([k, v]) => `${k} ${v}`).join(', ')}), read in ${tCorpus.toFixed(0)} ms\n`,
  );

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

  // nothing lost: every VM reads back its image and its private data, through swap-in and decompression
  const t3 = performance.now();
  let checked = 0;
  for (let i = 0; i < a.vms; i++) {
    const vm = host.vms[i];
    fillRandom(priv, 0x9e3779b9 * (i + 1));
    const img = vm.readPhys(0, corpus.pages.length);
    const mine = vm.readPhys(a.mib << 20, priv.length);
    if (Buffer.compare(img, corpus.pages) !== 0 || Buffer.compare(mine, priv) !== 0) {
      throw new Error(`demo: ${vm.name} did not read back what it wrote`);
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
