/**
 * Nothing lost with the host policies' mechanisms on: the random-operation oracle of
 * reclaim.oracle.test.ts, with large pages (backed, hashed by the scanner, broken with and
 * without merging, broken by page-out and the balloon, freed by power-off), working-set
 * sampling, a max_page_sharing cap, share before swap and a host-wide compressed pool cap, all
 * interleaved with reads, writes, share scans, page-outs and balloon inflates and deflates. Every
 * read is checked against a TypeScript oracle of the guest contents and the audit (large groups
 * and frame blocks included) runs after every step.
 */
import { describe, expect, it } from 'vitest';
import { Host, PState, type VM } from '../src/index.js';
import { mulberry32 } from './prng.js';
import { oracleBalloon, oracleRead, oracleWrite } from './support/oracle.js';

const PAGE = 4096;
const SEEDS = process.env.MEMVISOR_SEEDS ? process.env.MEMVISOR_SEEDS.split(",").map(Number) : [101, 202, 303];
const OPS = Number(process.env.MEMVISOR_OPS ?? 20_000);

interface Guest {
  name: string;
  mib: number;
  vm: VM;
  oracle: Uint8Array;
  ballooned: Set<number>;
  armed: Uint32Array | null;
}

async function run(seed: number, ops: number) {
  const rnd = mulberry32(seed);
  const int = (n: number) => Math.floor(rnd() * n);
  const templates = Array.from({ length: 5 }, (_, t) => Uint8Array.from({ length: PAGE }, (_, i) => (t % 2 ? (i >> (t + 2)) & 0xff : (i * (t + 3)) & 0xff)));
  // 10 MiB of guest memory on 6 MiB (three 2 MiB blocks) of machine memory
  const host = await Host.create({
    machineMemoryMiB: 6,
    seed,
    largePages: true,
    sharing: { order: seed % 2 ? 'random' : 'sequential', salting: 'host', maxPageSharing: 3 + (seed % 3), beforeSwap: true },
    compression: { cachePercent: 25, poolPercent: 5 },
    victimPolicy: seed % 3 === 0 ? 'lru' : 'random',
  });
  const add = (name: string, mib: number): Guest => ({ name, mib, vm: host.addVM({ name, memoryMiB: mib }), oracle: new Uint8Array(mib * 256 * PAGE), ballooned: new Set(), armed: null });
  const guests: Guest[] = [add('a', 2), add('b', 2), add('c', 2), add('d', 4)];
  const counts = { reads: 0, samples: 0, powerCycles: 0 };
  const fill = (len: number): Uint8Array => {
    const kind = int(4);
    const b = new Uint8Array(len);
    if (kind === 0) for (let i = 0; i < len; i++) b[i] = int(256);
    else if (kind === 1) b.fill(int(3));
    else if (kind === 2) {
      const t = templates[int(templates.length)];
      for (let i = 0; i < len; i++) b[i] = t[i % PAGE];
    }
    return b;
  };
  // a start on large pages: a, b and c each fill a block with templates (equal pages across VMs),
  // and a full scan hashes them while large, so breaking merges them (large.ts, sharing.ts)
  for (const g of guests.slice(0, 3)) {
    for (let p = 0; p < 64; p++) {
      const t = templates[int(templates.length)];
      g.vm.writePhys(p * PAGE, t);
      g.oracle.set(t, p * PAGE);
    }
  }
  expect(host.stats().host.largePages).toBe(3);
  host.shareScan();
  host.audit();
  for (let op = 0; op < ops; op++) {
    const gi = int(guests.length);
    const g = guests[gi];
    const r = rnd();
    if (r < 0.4) {
      oracleWrite(g, int, rnd, fill);
    } else if (r < 0.76) {
      oracleRead(g, int, `seed ${seed} op ${op}`);
      counts.reads++;
    } else if (r < 0.81) {
      host.shareScan(1 + int(600));
    } else if (r < 0.86) {
      g.vm.pageOut(1 + int(48));
    } else if (r < 0.89) {
      oracleBalloon(g, int);
    } else if (r < 0.91) {
      const gppns = [...g.ballooned].slice(0, 1 + int(10));
      if (gppns.length) {
        g.vm.balloonDeflate(gppns);
        for (const p of gppns) g.ballooned.delete(p);
      }
    } else if (r < 0.94) {
      const s = g.vm.sampleWorkingSet(g.armed, 1 + int(64), seed * 1_000_000 + op);
      expect(s.touched).toBeLessThanOrEqual(s.sampled);
      g.armed = s.armed;
      counts.samples++;
    } else if (r < 0.96) {
      host.breakLargePages({ vm: rnd() < 0.5 ? g.vm : undefined, maxGroups: 1 + int(2), merge: rnd() < 0.7 });
    } else if (r < 0.98) {
      host.allowLargePages(rnd() < 0.6);
    } else if (r < 0.985) {
      // power-cycle: everything the VM held (large groups included) is freed; a fresh VM of the name starts unbacked
      g.vm.powerOff();
      guests[gi] = add(g.name, g.mib);
      counts.powerCycles++;
    } else {
      // a cap below the users a frame has now is refused (as KSM refuses any change while pages are shared)
      const cap = rnd() < 0.5 ? 2 + int(4) : 0;
      try {
        host.setMaxPageSharing(cap);
      } catch (e) {
        expect(String(e)).toMatch(/maxPageSharing: got \d+, expected 0 or at least/);
      }
    }
    host.audit(op % 4096 === 0);
  }
  for (const g of guests) {
    for (const p of g.ballooned) expect(g.vm.pageState(p)).toBe(PState.Ballooned);
    expect(Buffer.from(g.vm.readPhys(0, g.oracle.length)).equals(Buffer.from(g.oracle))).toBe(true);
  }
  host.audit(true);
  const stats = host.stats();
  host.close();
  return { counts, stats };
}

describe('nothing lost with large pages, sampling, a sharing cap, share before swap and a pool cap', () => {
  for (const seed of SEEDS) {
    it(`seed ${seed}: ${OPS} operations, every read checked, audited after every step`, async () => {
      const { counts, stats } = await run(seed, OPS);
      expect(counts.reads).toBeGreaterThan(OPS / 4);
      // every mechanism did work
      const h = stats.host;
      expect(h.largeAllocs).toBeGreaterThan(0);
      expect(h.largeBreaks).toBeGreaterThan(0);
      expect(h.pagesLargeHashed).toBeGreaterThanOrEqual(3 * 512);
      expect(h.pagesBrokenMerged).toBeGreaterThan(0);
      expect(h.pagesMerged).toBeGreaterThan(h.pagesBrokenMerged);
      expect(counts.samples).toBeGreaterThan(0);
      expect(counts.powerCycles).toBeGreaterThan(0);
      const sum = (k: 'ZIP' | 'SWW' | 'SWR' | 'UNZIP') => stats.vms.reduce((a, v) => a + v[k], 0);
      expect(sum('SWW')).toBeGreaterThan(0);
      expect(sum('SWR')).toBeGreaterThan(0);
    }, 900_000);
  }
});
