/**
 * Reclaim benchmarks on the release build, with real page contents (the shared corpus):
 * first-touch faults, copy-on-write breaks, a full sharing pass, compression into the zip cache
 * and swap out + in through the memory and the file store.
 *
 * Sharing passes over SHARING_MIB (256) MiB of corpus pages, random (ESX) and sequential (KSM)
 * order: the first pass over fresh pages, which merges (each iteration re-loads the pages into
 * a VM whose pages were all ballooned away, untimed on a clock that stops meanwhile), and the
 * repeat pass over what is left private, side by side with a floor in C that hashes the same
 * pages in the same kind of order (XXH3 from xxhash.h), looks each hash up in an open-addressing
 * table and compares in full on a hit (bench/native/sharing-floor.c; built with gcc where
 * libxxhash-dev is installed, skipped with a note elsewhere).
 *
 * Each task is a cycle that leaves the state as it found it (a page-out is followed by the
 * faults that bring the pages back), so tinybench can repeat it; what a row measures is named in it.
 * Reads go into one reused buffer: a fresh 64 MiB array per round would time the OS mapping and
 * zeroing it, not the simulator. Copy-on-write breaks use up a pool of shared pages that is
 * re-shared in tinybench's setup (before warmup and before the run), outside the timed region.
 */
import { afterAll, bench, describe } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Host, lz4Codec } from '../src/node.js'; // file swap: the Node entry
import { buildCorpus } from '../src/workload/corpus.js';
import { corpus, freshPagesHost, pausableClock, recordUnits, target, task } from './lib.js';
import { engineOf } from '../src/engine/engine.js';
import { nativeProgram, removeNativeFiles, roundNs, tempFile, virtualClock } from './native.js';

recordUnits(import.meta.url);

const PAGE = 4096;
const c = corpus();
const flavor = 'release' as const;

// ---- first touch ------------------------------------------------------------------------------
const ftPages = 16384; // 64 MiB
const ft = await Host.create({ machineMemoryMiB: 128, flavor, balloonMaxPercent: 100 });
const ftVm = ft.addVM({ name: 'ft', memoryMiB: ftPages / 256 });
const all = Array.from({ length: ftPages }, (_, i) => i);
const ftOut = new Uint8Array(ftPages * PAGE);

// ---- copy-on-write ------------------------------------------------------------------------------
/** `n` (<= 65536) distinct pages (no zero pages) made from the corpus. */
function distinctPages(n: number): Uint8Array {
  const out = new Uint8Array(n * PAGE);
  for (let g = 0; g < n; g++) {
    out.set(c.pages.subarray((g % c.count) * PAGE, (g % c.count + 1) * PAGE), g * PAGE);
    out[g * PAGE + 8] ^= g & 0xff;
    out[g * PAGE + 9] ^= g >> 8;
    out[g * PAGE + 10] |= 1;
  }
  return out;
}
const cowPages = 16384; // 64 MiB: the distinct-pages sharing scan below
const unique = distinctPages(cowPages);
// the pool: distinct pages, shared only across the two VMs; large enough that a sample of
// COW_SPAN breaks takes ~0.5 ms and a whole run fits without re-sharing
const COW_SPAN = 1024;
const COW_POOL = 65536;
// iterations per phase, each breaking COW_SPAN fresh shared pages; tinybench calls the task once
// more per phase to see whether it is async, so leave room for that call
const COW_ROUNDS = COW_POOL / COW_SPAN - 2;
const cowImage = distinctPages(COW_POOL);
const cow = await Host.create({ machineMemoryMiB: 3 * COW_POOL / 256, flavor, sharing: { salting: 'host', order: 'sequential' } });
const cowA = cow.addVM({ name: 'a', memoryMiB: COW_POOL / 256 });
const cowB = cow.addVM({ name: 'b', memoryMiB: COW_POOL / 256 });
cowB.writePhys(0, cowImage);
let cowCursor = 0;
const one = new Uint8Array([0xee]);
/** Restores A's pages and shares them with B's again: every page of the pool is shared once more. */
function cowReset(): void {
  cowA.writePhys(0, cowImage);
  cow.shareScan();
  cowCursor = 0;
}
cowReset();

// ---- sharing scan ----------------------------------------------------------------------------------
const scanHost = await Host.create({ machineMemoryMiB: Math.max(64, 2 * Math.ceil(c.count / 256)), flavor, sharing: { order: 'random' } });
const scanVm = scanHost.addVM({ name: 's', memoryMiB: Math.ceil(c.count / 256) });
scanVm.writePhys(0, c.pages);
scanHost.shareScan(); // merge once; later passes re-hash every private page (the steady state)
const scanPages = engineOf(scanHost).reclaim.pmapEntries();
const scanPrivate = scanVm.stats().mapped;
// worst case: every page private and distinct, so every visit hashes, probes and leaves a hint
const scanUnique = await Host.create({ machineMemoryMiB: 128, flavor, sharing: { order: 'random' } });
scanUnique.addVM({ name: 'u', memoryMiB: cowPages / 256 }).writePhys(0, unique);
scanUnique.shareScan();
console.log(`sharing bench: corpus VM ${scanPages} pages, ${scanPrivate} still private after the first pass; distinct VM ${cowPages} pages`);
const scanSeq = await Host.create({ machineMemoryMiB: Math.max(64, 2 * Math.ceil(c.count / 256)), flavor, sharing: { order: 'sequential' } });
scanSeq.addVM({ name: 's', memoryMiB: Math.ceil(c.count / 256) }).writePhys(0, c.pages);
scanSeq.shareScan();

// ---- sharing passes: merging and repeat, against a floor in C --------------------------------------
const SHARING_MIB = Number(process.env.MEMVISOR_SHARING_MIB ?? 256);
const big = buildCorpus({ mib: SHARING_MIB });
const bigBytes = big.count * PAGE;
/** A host whose one VM holds the big corpus, and how to bring it back to fresh private pages (lib.ts). */
async function mergeHost(order: 'random' | 'sequential') {
  return { ...(await freshPagesHost(big, order)), merged: -1 };
}
const mergeRandom = await mergeHost('random');
const mergeSeq = await mergeHost('sequential');
const floor = await nativeProgram('sharing-floor', [tempFile('sharing-pages', big.pages), '1']);
afterAll(() => {
  floor?.close();
  removeNativeFiles();
});
const clocks = { random: pausableClock(), sequential: pausableClock(), floorRandom: virtualClock(), floorSeq: virtualClock() };
const passName = (what: string) => task('sharing pass', `${what}, ${SHARING_MIB} MiB of corpus pages`, bigBytes, 'B', what.startsWith('C floor') ? 'native' : 'engine');
const firstRandom = passName('memvisor first (merging) pass, random order');
const floorRandom = passName('C floor (XXH3, table, memcmp on a hit), random order');
const firstSeq = passName('memvisor first (merging) pass, sequential order');
const floorSeq = passName('C floor (XXH3, table, memcmp on a hit), sequential order');
target('first sharing pass, random order (>= 0.8x the C floor)', firstRandom, floorRandom, 0.8);
target('first sharing pass, sequential order (>= 0.8x the C floor)', firstSeq, floorSeq, 0.8);
/** One first pass over fresh pages; it merges as many pages every time, or it is not the pass it was. */
function firstPass(m: typeof mergeRandom, clock: ReturnType<typeof pausableClock>): void {
  clock.untimed(m.fresh);
  const merged = m.host.shareScan().merged;
  if (m.merged >= 0 && merged !== m.merged) throw new Error(`first pass merged ${merged} pages, earlier ${m.merged}`);
  m.merged = merged;
}

// ---- zip cache and swap ------------------------------------------------------------------------------
const RT = 4096; // pages per round trip (16 MiB)
const rtOut = new Uint8Array(RT * PAGE);
async function reclaimHost(cachePercent: number, backing: 'memory' | 'file', image: Uint8Array) {
  const h = await Host.create({
    machineMemoryMiB: 64, flavor, compression: { cachePercent },
    swap: { backing, dir: mkdtempSync(join(tmpdir(), 'memvisor-bench-')) },
  });
  const vm = h.addVM({ name: 'r', memoryMiB: RT / 256 });
  vm.writePhys(0, image);
  return vm;
}
// the zip cache row gets corpus pages that fit a 2 KiB slot: with the corpus as it comes most
// pages do not compress that far and would go to swap, so the row would mostly time swap
const zipImage = new Uint8Array(RT * PAGE);
for (let i = 0, k = 0; k < RT && i < c.count; i++) {
  const page = c.pages.subarray(i * PAGE, (i + 1) * PAGE);
  if (lz4Codec.compress(page, 2048) !== null) zipImage.set(page, PAGE * k++);
}
const zipVm = await reclaimHost(100, 'memory', zipImage);
const corpusImage = c.pages.subarray(0, Math.min(c.pages.length, RT * PAGE));
const memVm = await reclaimHost(0, 'memory', corpusImage);
const fileVm = await reclaimHost(0, 'file', corpusImage);
{
  const z = zipVm.pageOut(RT);
  zipVm.readPhys(0, RT * PAGE, rtOut);
  console.log(`zip cache bench: ${z.compressed} of ${RT} pages compressed, ${z.swapped} swapped`);
}

describe('sharing passes', () => {
  bench(firstRandom, () => firstPass(mergeRandom, clocks.random), { now: clocks.random.now });
  if (floor) {
    bench(floorRandom, async () => {
      clocks.floorRandom.advance(roundNs(await floor.round('r')));
    }, { now: clocks.floorRandom.now });
  }
  bench(firstSeq, () => firstPass(mergeSeq, clocks.sequential), { now: clocks.sequential.now });
  if (floor) {
    bench(floorSeq, async () => {
      clocks.floorSeq.advance(roundNs(await floor.round('s')));
    }, { now: clocks.floorSeq.now });
  }
  // the hosts as the first passes left them: what is still private is hashed and probed again
  bench(passName('memvisor repeat pass, random order'), () => {
    mergeRandom.host.shareScan();
  });
  bench(passName('memvisor repeat pass, sequential order'), () => {
    mergeSeq.host.shareScan();
  });
});

describe('reclaim', () => {
  bench(task('first touch', 'first-touch faults: readPhys of 64 MiB unbacked (incl. balloon reset)', ftPages, 'item', 'engine'), () => {
    ftVm.balloonInflate(all);
    ftVm.balloonDeflate(all);
    ftVm.readPhys(0, ftPages * PAGE, ftOut);
  });
  bench(task('copy-on-write', `copy-on-write breaks: 1-byte writes to ${COW_SPAN} shared pages (re-share untimed)`, COW_SPAN, 'item', 'engine'), () => {
    if (cowCursor + COW_SPAN > COW_POOL) throw new Error('copy-on-write pool used up: more iterations than COW_ROUNDS');
    for (let g = cowCursor; g < cowCursor + COW_SPAN; g++) cowA.writePhys(g * PAGE + 100, one);
    cowCursor += COW_SPAN;
  }, { setup: cowReset, time: 0, iterations: COW_ROUNDS, warmupTime: 0, warmupIterations: 8 });
  bench(task('sharing scan', 'full pass, random order, 64 MiB of distinct private pages (worst case)', cowPages * PAGE, 'B', 'engine'), () => {
    scanUnique.shareScan();
  });
  bench(task('sharing scan', 'full pass, random order (ESX), corpus after merging', scanPages * PAGE, 'B', 'engine'), () => {
    scanHost.shareScan();
  });
  bench(task('sharing scan', 'full pass, sequential order (KSM), corpus after merging', scanPages * PAGE, 'B', 'engine'), () => {
    scanSeq.shareScan();
  });
  bench(task('page-out', 'zip cache: compress 16 MiB out + decompress on access (pages that fit 2 KiB)', RT, 'item', 'engine'), () => {
    zipVm.pageOut(RT);
    zipVm.readPhys(0, RT * PAGE, rtOut);
  });
  bench(task('page-out', 'swap, memory store: 16 MiB out + swap-in on access', RT, 'item', 'engine'), () => {
    memVm.pageOut(RT);
    memVm.readPhys(0, RT * PAGE, rtOut);
  });
  bench(task('page-out', 'swap, file store: 16 MiB out + swap-in on access', RT, 'item', 'engine'), () => {
    fileVm.pageOut(RT);
    fileVm.readPhys(0, RT * PAGE, rtOut);
  });
});
