/**
 * Nothing lost: several VMs on an overcommitted host, random reads and writes (whole and partial
 * pages, across page boundaries) interleaved with every reclaim mechanism (share scans, page-out
 * into the zip cache and swap, balloon inflate and deflate), every read checked against a
 * TypeScript oracle of the guest contents, and the conservation audit after every step.
 *
 * `npm test` runs 4 seeds x 260k operations; `npm run soak` (MEMVISOR_SOAK=1) 8 seeds x 1.3M.
 */
import { describe, expect, it } from 'vitest';
import { Host, PState, type VM } from '../src/index.js';
import { mulberry32 } from './prng.js';
import { oracleBalloon, oracleRead, oracleWrite } from './support/oracle.js';

const PAGE = 4096;
const SOAK = process.env.MEMVISOR_SOAK === '1';
const SEEDS = SOAK ? [1, 2, 3, 4, 5, 6, 7, 8] : [11, 22, 33, 44];
const OPS = Number(process.env.MEMVISOR_OPS ?? (SOAK ? 1_300_000 : 260_000));


interface Guest {
  vm: VM;
  oracle: Uint8Array;
  ballooned: Set<number>;
}

/** Runs `ops` random operations on a fresh host, checking every read; returns counters. */
async function runAsync(seed: number, ops: number, store: 'memory' | 'file') {
  const rnd = mulberry32(seed);
  const int = (n: number) => Math.floor(rnd() * n);
  const templates: Uint8Array[] = [];
  for (let t = 0; t < 6; t++) {
    const p = new Uint8Array(PAGE);
    for (let i = 0; i < PAGE; i++) p[i] = t % 2 ? (i >> (t + 2)) & 0xff : int(256);
    templates.push(p);
  }
  // 3 MiB of guest memory on 2 MiB of machine memory: faults must reclaim
  const host = await Host.create({
    machineMemoryMiB: 2,
    seed,
    swap: { backing: store },
    sharing: { order: seed % 2 ? 'random' : 'sequential' },
    compression: { cachePercent: 10 },
    victimPolicy: seed % 3 === 0 ? 'lru' : 'random',
  });
  const guests: Guest[] = [
    { vm: host.addVM({ name: 'a', memoryMiB: 1, salt: 7 }), oracle: new Uint8Array(256 * PAGE), ballooned: new Set() },
    { vm: host.addVM({ name: 'b', memoryMiB: 1, salt: 7, reservationMiB: 0 }), oracle: new Uint8Array(256 * PAGE), ballooned: new Set() },
    { vm: host.addVM({ name: 'c', memoryMiB: 1, limitMiB: 1 }), oracle: new Uint8Array(256 * PAGE), ballooned: new Set() },
  ];
  let reads = 0;
  let bytesChecked = 0;
  const fill = (len: number): Uint8Array => {
    const kind = int(4);
    const b = new Uint8Array(len);
    if (kind === 0) for (let i = 0; i < len; i++) b[i] = int(256);
    else if (kind === 1) b.fill(int(4));
    else if (kind === 2) {
      const t = templates[int(templates.length)];
      for (let i = 0; i < len; i++) b[i] = t[i % PAGE];
    } // kind 3: zeros
    return b;
  };
  for (let op = 0; op < ops; op++) {
    const g = guests[int(guests.length)];
    const r = rnd();
    if (r < 0.42) {
      oracleWrite(g, int, rnd, fill);
    } else if (r < 0.8) {
      bytesChecked += oracleRead(g, int, `seed ${seed} op ${op}`);
      reads++;
    } else if (r < 0.86) {
      host.shareScan(1 + int(400));
    } else if (r < 0.93) {
      g.vm.pageOut(1 + int(48));
    } else if (r < 0.965) {
      oracleBalloon(g, int);
    } else {
      const all = [...g.ballooned];
      const gppns = all.slice(0, 1 + int(10));
      if (gppns.length) {
        g.vm.balloonDeflate(gppns);
        for (const p of gppns) g.ballooned.delete(p);
      }
    }
    host.audit(op % 4096 === 0);
  }
  // the pmap agrees with the test's idea of which pages are ballooned
  for (const g of guests) {
    for (const p of g.ballooned) expect(g.vm.pageState(p)).toBe(PState.Ballooned);
    expect(g.vm.stats().MCTLSZ).toBe(g.ballooned.size);
  }
  // and a final full read of every VM
  for (const g of guests) {
    expect(Buffer.from(g.vm.readPhys(0, g.oracle.length)).equals(Buffer.from(g.oracle))).toBe(true);
  }
  host.audit(true);
  const stats = host.stats();
  host.close();
  return { reads, bytesChecked, stats };
}

describe('nothing lost (seeded random operations against an oracle)', () => {
  for (const seed of SEEDS) {
    it(`seed ${seed}: ${OPS} operations, every read checked, audited after every step`, async () => {
      const { reads, stats } = await runAsync(seed, OPS, seed === SEEDS[0] ? 'file' : 'memory');
      expect(reads).toBeGreaterThan(OPS / 3);
      // every mechanism was exercised
      const sum = (k: 'ZIP' | 'UNZIP' | 'SWW' | 'SWR' | 'cowBreaks' | 'balloonTouches' | 'zipEvictions' | 'SHRD') =>
        stats.vms.reduce((a, v) => a + v[k], 0);
      expect(stats.host.full_scans).toBeGreaterThan(0);
      expect(stats.host.pagesMerged).toBeGreaterThan(0);
      expect(stats.host.cow_breaks).toBeGreaterThan(0);
      expect(sum('ZIP')).toBeGreaterThan(0);
      expect(sum('UNZIP')).toBeGreaterThan(0);
      expect(sum('SWW')).toBeGreaterThan(0);
      expect(sum('SWR')).toBeGreaterThan(0);
      expect(sum('balloonTouches')).toBeGreaterThan(0);
    }, SOAK ? 3_600_000 : 300_000);
  }
});
