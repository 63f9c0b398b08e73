/**
 * Swap checksums: a swap store's round trip (write 16 MiB of pages in batches of 256, read them
 * back, verified, release the slots) with the engine's seeded XXH64 (one call per batch, pages
 * hashed where they are) against xxhash-wasm's h64Raw (one call per page, each page copied into
 * its own memory, a BigInt per sum), on the memory and the file store; and with no checksum at
 * all, the floor. The pages start in engine memory (frames), as a Host's store sees them: the
 * host's page-out hands over views of its frames, its swap-in reads into frames.
 */
import { bench, describe } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import xxhash from 'xxhash-wasm';
import { Engine } from '../src/engine/engine.js';
import { MemorySwapStore, engineChecksum, type PageChecksum, type SwapStore } from '../src/host/swapstore.js';
import { FileSwapStore } from '../src/host/fileswap.js';
import { corpus, recordUnits, task } from './lib.js';

recordUnits(import.meta.url);

const PAGE = 4096;
const N = 4096; // 16 MiB per round trip
const BATCH = 256; // pages per page-out batch of a Host (STAGE_BATCH)
const c = corpus();
const engine = Engine.create({ machineMemoryMiB: N / 256 + 1, flavor: 'release' });
const ram = engine.gateway.region('ram').offset;
// the checksum's staging window made before the frames' views: making it may grow linear memory
engine.codec.pageSums([], [], 0, 0, new Uint32Array(0));
engine.gateway.u8.set(c.pages.subarray(0, N * PAGE), ram);
const frames = Array.from({ length: N }, (_, i) => engine.gateway.u8.subarray(ram + i * PAGE, ram + (i + 1) * PAGE));
const gppns = Array.from({ length: N }, (_, i) => i);
const { h64Raw } = await xxhash();
const dir = mkdtempSync(join(tmpdir(), 'memvisor-bench-swap-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

const checksums: Record<string, PageChecksum> = {
  'engine XXH64, one call per batch, pages in place': engineChecksum(engine),
  'xxhash-wasm h64Raw per page (copy, BigInt)': (pages, seeds, from, to, out) => {
    for (let k = from; k < to; k++) {
      const h = h64Raw(pages[k], BigInt(seeds[k]));
      out[2 * k] = Number(h & 0xffffffffn);
      out[2 * k + 1] = Number(h >> 32n);
    }
  },
  'no checksum (floor)': (_p, _s, from, to, out) => out.fill(0, 2 * from, 2 * to),
};

/** One round trip: every page written to `store` in batches, read back into its frame (verified), its slot released. */
function roundTrip(store: SwapStore): void {
  for (let first = 0; first < N; first += BATCH) {
    const g = gppns.slice(first, first + BATCH);
    const p = frames.slice(first, first + BATCH);
    const slots = store.alloc(BATCH);
    store.writePages(slots, g, p);
    const { done } = store.readPages(slots, g, BATCH, p);
    if (done !== BATCH) throw new Error('a page failed its checksum');
    for (const s of slots) store.release(s);
  }
}

for (const backing of ['memory', 'file'] as const) {
  describe(`swap store round trip, ${backing}`, () => {
    for (const [name, checksum] of Object.entries(checksums)) {
      const store = backing === 'memory' ? new MemorySwapStore('bench', N, { checksum }) : new FileSwapStore('bench', N, join(dir, `${name.length}.vswp`), { checksum });
      roundTrip(store); // the memory store's chunks and the file's blocks exist before timing
      bench(task(`swap store round trip, ${backing}`, name, N, 'item', 'engine'), () => roundTrip(store));
    }
  });
}
