/**
 * `memvisor image <file>...`: what overcommit would save on real guest memory images. Each raw
 * image (a VMware .vmem, a QEMU dump, any file of guest-physical memory) is streamed into a VM
 * of its own on a host large enough to hold them all; one sharing pass merges identical pages,
 * then an LZ4 survey of the pages left private tells what the zip cache would keep. Nothing is
 * reclaimed: the figures are the potential, for capacity planning.
 */
import { statSync } from 'node:fs';
import { basename } from 'node:path';
import { Host } from '../host/host.js';
import { MAX_MACHINE_MIB } from '../engine/engine.js';
import { ConfigError, UsageError } from '../errors.js';
import '../node.js'; // file swap, image and trace files: the Node entry registers them

export const IMAGE_HELP = `usage: memvisor image <file> [<file>...] [options]

Measures the page sharing and compression potential of raw guest memory images (a VMware
.vmem, a raw QEMU dump, any file of guest-physical memory, one VM per file). Each image is
streamed into its own VM; one sharing pass merges identical pages (hash, full compare); an LZ4
survey of the pages left private says which would fit the zip cache (<= 2 KiB, ESX's rule).

options:
  --salting host|per-vm   host (default): the images form one sharing domain, so identical
                          pages of different VMs merge (ESX before 6.0, KSM); per-vm: only
                          within each image (ESXi 6.0+ default salting)
  --json                  print one JSON object instead of a table
  --help                  this text

Images together may hold at most ${MAX_MACHINE_MIB - 64} MiB (one engine's machine memory).
Exit codes: 0 done, 1 an image cannot be read, 2 bad options.
`;

/** Most images one run measures: the VMs one host holds. */
const MAX_IMAGES = 4096;

interface ImageArgs {
  files: string[];
  salting: 'host' | 'per-vm';
  json: boolean;
  help: boolean;
}

/** Parses the command line of `memvisor image`; UsageError names the option and what it takes. */
export function parseImageArgs(argv: string[]): ImageArgs {
  const a: ImageArgs = { files: [], salting: 'host', json: false, help: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') a.help = true;
    else if (arg === '--json') a.json = true;
    else if (arg === '--salting') {
      const v = argv[++i];
      if (v !== 'host' && v !== 'per-vm') throw new UsageError('--salting', v ?? '(missing)', 'host or per-vm');
      a.salting = v;
    } else if (arg.startsWith('--')) throw new UsageError('option', arg, 'one of --salting, --json, --help');
    else a.files.push(arg);
  }
  if (!a.help && a.files.length === 0) throw new UsageError('<file>', '(none)', 'at least one image file');
  // one VM per image, on one host (Host.create's maxVMs limit)
  if (a.files.length > MAX_IMAGES) throw new UsageError('<file>', `${a.files.length} files`, `at most ${MAX_IMAGES} images (one VM each on one host)`);
  return a;
}

/** What one image would cost and save. Pages are 4 KiB. */
export interface ImageReport {
  file: string;
  bytes: number;
  pages: number;
  /** all-zero pages (never backed: they read zero) */
  zeroPages: number;
  /** pages backed by a frame shared with other pages after the sharing pass */
  sharedPages: number;
  /** pages saved by sharing (esxtop SHRDSVD), fractional */
  savedBySharing: number;
  /** pages left private after the sharing pass */
  privatePages: number;
  /** private pages that LZ4-compress to <= 1 KiB and to <= 2 KiB (the zip cache keeps the latter) */
  zipTo1K: number;
  zipTo2K: number;
  /** mean LZ4 size of the private pages, bytes */
  meanLz4Bytes: number;
}

export interface ImagesReport {
  salting: 'host' | 'per-vm';
  images: ImageReport[];
  /** totals over the images: pages in all, machine frames after sharing, and after sharing and the zip cache */
  pages: number;
  framesAfterSharing: number;
  framesAfterSharingAndZip: number;
  seconds: number;
}

/** Loads, shares and surveys the images; the host is closed before it returns. */
export async function measureImages(files: string[], salting: 'host' | 'per-vm'): Promise<ImagesReport> {
  const sizes = files.map((f) => {
    try {
      return statSync(f).size;
    } catch (e) {
      // bad input, not a bad option: exit 1, as the help says
      throw new ConfigError('<file>', f, `a readable image file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  });
  const mibs = sizes.map((b) => Math.max(1, Math.ceil(b / 2 ** 20)));
  const total = mibs.reduce((s, m) => s + m, 0);
  if (total > MAX_MACHINE_MIB - 64) throw new UsageError('<file>', files.join(' '), `images of at most ${MAX_MACHINE_MIB - 64} MiB together (got ${total} MiB)`);
  const t0 = performance.now();
  // room for every image page and the zpool frames of the survey, so nothing is reclaimed
  const host = await Host.create({ machineMemoryMiB: total + 64, guestMemoryMiB: total, maxVMs: files.length, sharing: { salting, order: 'sequential' } });
  try {
    const vms = files.map((f, i) => {
      const vm = host.addVM({ name: `${i}:${basename(f)}`, memoryMiB: mibs[i] });
      vm.loadImage(f);
      return vm;
    });
    host.shareScan();
    const images = vms.map((vm, i): ImageReport => {
      const s = vm.stats();
      const z = vm.zipSurvey();
      const upTo = (kib: number) => z.histogram.slice(0, kib * 4).reduce((a, b) => a + b, 0);
      const pages = Math.ceil(sizes[i] / 4096);
      return {
        file: files[i],
        bytes: sizes[i],
        pages,
        zeroPages: pages - (s.mapped + s.SHRD - s.ZERO),
        sharedPages: s.SHRD - s.ZERO,
        savedBySharing: s.SHRDSVD,
        privatePages: s.mapped,
        zipTo1K: upTo(1),
        zipTo2K: upTo(2),
        meanLz4Bytes: z.pages ? z.bytes / z.pages : 0,
      };
    });
    const h = host.stats().host;
    // a private page that fits 2 KiB would live in a slot of 1 or 2 KiB instead of a frame
    const slotsKiB = images.reduce((a, r) => a + r.zipTo1K + 2 * (r.zipTo2K - r.zipTo1K), 0);
    const zipped = images.reduce((a, r) => a + r.zipTo2K, 0);
    return {
      salting,
      images,
      pages: images.reduce((a, r) => a + r.pages, 0),
      framesAfterSharing: h.guestFrames,
      framesAfterSharingAndZip: h.guestFrames - zipped + Math.ceil(slotsKiB / 4),
      seconds: (performance.now() - t0) / 1e3,
    };
  } finally {
    host.close();
  }
}

const mib = (pages: number) => ((pages * 4096) / 2 ** 20).toFixed(1);
const pct = (part: number, whole: number) => (whole ? `${((100 * part) / whole).toFixed(1)}%` : '-');

/** The report as a table. */
export function formatImages(r: ImagesReport): string {
  const cols: [string, (x: ImageReport) => string][] = [
    ['image', (x) => basename(x.file)],
    ['MiB', (x) => mib(x.pages)],
    ['zero', (x) => pct(x.zeroPages, x.pages)],
    ['shared', (x) => pct(x.sharedPages, x.pages)],
    ['saved', (x) => pct(x.savedBySharing, x.pages)],
    ['private', (x) => pct(x.privatePages, x.pages)],
    ['zip<=1K', (x) => pct(x.zipTo1K, x.privatePages)],
    ['zip<=2K', (x) => pct(x.zipTo2K, x.privatePages)],
    ['mean LZ4', (x) => x.meanLz4Bytes.toFixed(0)],
  ];
  const rows = [cols.map((c) => c[0]), ...r.images.map((x) => cols.map((c) => c[1](x)))];
  const w = cols.map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  const table = rows.map((row) => '  ' + row.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ')).join('\n');
  return (
    `memvisor image — ${r.images.length} image(s), salting ${r.salting}; zip columns are shares of the private pages\n\n${table}\n\n` +
    `  machine memory for ${mib(r.pages)} MiB of images: ${mib(r.framesAfterSharing)} MiB after sharing (zero pages free), ` +
    `${mib(r.framesAfterSharingAndZip)} MiB with the zip cache (${pct(r.framesAfterSharingAndZip, r.pages)} of the images)\n` +
    `  measured in ${r.seconds.toFixed(2)} s\n`
  );
}

export async function runImage(argv: string[], out: { write(s: string): unknown }): Promise<void> {
  const a = parseImageArgs(argv);
  if (a.help) {
    out.write(IMAGE_HELP);
    return;
  }
  const r = await measureImages(a.files, a.salting);
  out.write(a.json ? JSON.stringify(r) + '\n' : formatImages(r));
}
