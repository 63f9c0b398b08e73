/**
 * Reclaim benchmarks on the release build, with real page contents (the shared corpus):
 * first-touch faults, copy-on-write breaks, a full sharing pass, compression into the zip cache
 * and swap out + in through the memory and the file store.
 *
 * Each task is a cycle that leaves the state as it found it (a page-out is followed by the
 * faults that bring the pages back), so tinybench can repeat it; what a row measures is named in it.
 */
import { bench, describe } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Host } from '../src/index.js';
import { corpus, recordUnits, task } from './lib.js';

recordUnits(import.meta.url);

const PAGE = 4096;
const c = corpus();
const flavor = 'release' as const;

// ---- first touch ------------------------------------------------------------------------------
const ftPages = 16384; // 64 MiB
const ft = await Host.create({ machineMemoryMiB: 128, flavor, balloonMaxPercent: 100 });
const ftVm = ft.addVM({ name: 'ft', memoryMiB: ftPages / 256 });
const all = Array.from({ length: ftPages }, (_, i) => i);

// ---- copy-on-write ------------------------------------------------------------------------------
const cowPages = 16384;
const cow = await Host.create({ machineMemoryMiB: 256, flavor, sharing: { salting: 'host', order: 'sequential' } });
const cowA = cow.addVM({ name: 'a', memoryMiB: cowPages / 256 });
const cowB = cow.addVM({ name: 'b', memoryMiB: cowPages / 256 });
const unique = new Uint8Array(cowPages * PAGE);
for (let g = 0; g < cowPages; g++) {
  unique.set(c.pages.subarray((g % c.count) * PAGE, (g % c.count + 1) * PAGE), g * PAGE);
  unique[g * PAGE + 8] ^= g & 0xff; // distinct pages (no zero pages), shared only across the two VMs
  unique[g * PAGE + 9] ^= g >> 8;
  unique[g * PAGE + 10] |= 1;
}
cowA.writePhys(0, unique);
cowB.writePhys(0, unique);
cow.shareScan();
let cowCursor = 0;
const COW_SPAN = 256;
const one = new Uint8Array([0xee]);

// ---- sharing scan ----------------------------------------------------------------------------------
const scanHost = await Host.create({ machineMemoryMiB: Math.max(64, 2 * Math.ceil(c.count / 256)), flavor, sharing: { order: 'random' } });
const scanVm = scanHost.addVM({ name: 's', memoryMiB: Math.ceil(c.count / 256) });
scanVm.writePhys(0, c.pages);
scanHost.shareScan(); // merge once; later passes re-hash every private page (the steady state)
const scanPages = scanHost.engine.pmapEntries();
const scanPrivate = scanVm.stats().mapped;
// worst case: every page private and distinct, so every visit hashes, probes and leaves a hint
const scanUnique = await Host.create({ machineMemoryMiB: 128, flavor, sharing: { order: 'random' } });
scanUnique.addVM({ name: 'u', memoryMiB: cowPages / 256 }).writePhys(0, unique);
scanUnique.shareScan();
console.log(`sharing bench: corpus VM ${scanPages} pages, ${scanPrivate} still private after the first pass; distinct VM ${cowPages} pages`);
const scanSeq = await Host.create({ machineMemoryMiB: Math.max(64, 2 * Math.ceil(c.count / 256)), flavor, sharing: { order: 'sequential' } });
scanSeq.addVM({ name: 's', memoryMiB: Math.ceil(c.count / 256) }).writePhys(0, c.pages);
scanSeq.shareScan();

// ---- zip cache and swap ------------------------------------------------------------------------------
const RT = 4096; // pages per round trip (16 MiB)
async function reclaimHost(cachePercent: number, backing: 'memory' | 'file') {
  const h = await Host.create({
    machineMemoryMiB: 64, flavor, compression: { cachePercent },
    swap: { backing, dir: mkdtempSync(join(tmpdir(), 'memvisor-bench-')) },
  });
  const vm = h.addVM({ name: 'r', memoryMiB: RT / 256 });
  vm.writePhys(0, c.pages.subarray(0, Math.min(c.pages.length, RT * PAGE)));
  return vm;
}
const zipVm = await reclaimHost(100, 'memory');
const memVm = await reclaimHost(0, 'memory');
const fileVm = await reclaimHost(0, 'file');

describe('reclaim', () => {
  bench(task('first touch', 'first-touch faults: readPhys of 64 MiB unbacked (incl. balloon reset)', ftPages, 'item'), () => {
    ftVm.balloonInflate(all);
    ftVm.balloonDeflate(all);
    ftVm.readPhys(0, ftPages * PAGE);
  });
  bench(task('copy-on-write', `copy-on-write breaks: 1-byte writes to ${COW_SPAN} shared pages (re-share amortized)`, COW_SPAN, 'item'), () => {
    if (cowCursor + COW_SPAN > cowPages) {
      cowA.writePhys(0, unique); // restore, then share again
      cow.shareScan();
      cowCursor = 0;
    }
    for (let g = cowCursor; g < cowCursor + COW_SPAN; g++) cowA.writePhys(g * PAGE + 100, one);
    cowCursor += COW_SPAN;
  });
  bench(task('sharing scan', 'full pass, random order, 64 MiB of distinct private pages (worst case)', cowPages * PAGE, 'B'), () => {
    scanUnique.shareScan();
  });
  bench(task('sharing scan', 'full pass, random order (ESX), corpus after merging', scanPages * PAGE, 'B'), () => {
    scanHost.shareScan();
  });
  bench(task('sharing scan', 'full pass, sequential order (KSM), corpus after merging', scanPages * PAGE, 'B'), () => {
    scanSeq.shareScan();
  });
  bench(task('page-out', 'zip cache: compress 16 MiB out + decompress on access', RT, 'item'), () => {
    zipVm.pageOut(RT);
    zipVm.readPhys(0, RT * PAGE);
  });
  bench(task('page-out', 'swap, memory store: 16 MiB out + swap-in on access', RT, 'item'), () => {
    memVm.pageOut(RT);
    memVm.readPhys(0, RT * PAGE);
  });
  bench(task('page-out', 'swap, file store: 16 MiB out + swap-in on access', RT, 'item'), () => {
    fileVm.pageOut(RT);
    fileVm.readPhys(0, RT * PAGE);
  });
});
