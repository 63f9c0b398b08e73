/**
 * Shared bench helpers: the page corpus every contender sees, the units that turn vitest's
 * operations per second into GB/s, MB/s or items/s in the report (bench/report.ts), where each
 * contender's data starts, and the targets the report checks.
 *
 * A bench file names each task through `task(group, name, amount, unit, where)`; the amount per
 * operation is written next to vitest's JSON (bench/results/units-*.json) when the file's
 * benches finish, with the targets (bench/results/targets-*.json).
 */
import { afterAll } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { buildCorpus, type Corpus } from '../src/workload/corpus.js';
import { Host } from '../src/index.js';

/**
 * MEMVISOR_BENCH_CLOCK=cpu times every row on this process's CPU time (user + system, all its
 * threads) and the native programs on theirs, instead of wall-clock time: on a machine shared
 * with other jobs, time spent waiting for a core no longer counts, which keeps the ratios
 * between rows (the targets) steady. Absolute figures are then not comparable with a
 * wall-clock run. tinybench and pausableClock read performance.now, so it is replaced here,
 * in the bench worker only, before any bench runs.
 */
export const cpuClock = process.env.MEMVISOR_BENCH_CLOCK === 'cpu';
if (cpuClock) {
  const start = process.cpuUsage();
  performance.now = () => {
    const d = process.cpuUsage(start);
    return (d.user + d.system) / 1000;
  };
}

let cached: Corpus | null = null;

/** The benchmark corpus (MEMVISOR_BENCH_MIB MiB, default 64), built once per worker. */
export function corpus(): Corpus {
  if (!cached) cached = buildCorpus({ mib: Number(process.env.MEMVISOR_BENCH_MIB ?? 64) });
  return cached;
}

export type Unit = 'B' | 'item';
/**
 * Where a contender's data starts: 'engine' in WebAssembly linear memory (no copy timed), 'js'
 * in JavaScript arrays (every copy in and out timed), 'native' in a C program's own memory.
 */
export type Where = 'engine' | 'js' | 'native';
const units: Record<string, { amount: number; unit: Unit; group: string; where?: Where }> = {};
const targets: { label: string; task: string; over: string; min: number }[] = [];

/**
 * Registers a task: each operation processes `amount` bytes (unit 'B') or items ('item'), on
 * data that starts `where`. Tasks of one `group` are compared with each other; the first
 * registered is the baseline.
 */
export function task(group: string, name: string, amount: number, unit: Unit = 'B', where?: Where): string {
  const full = `${group}: ${name}`;
  units[full] = { amount, unit, group, ...(where ? { where } : {}) };
  return full;
}

/** A target the report checks: throughput of `taskName` over that of `over` (full task names) at least `min`. */
export function target(label: string, taskName: string, over: string, min: number): void {
  targets.push({ label, task: taskName, over, min });
}

/** Call once at the top of a bench file: writes its units and targets when its benches are done. */
export function recordUnits(file: string): void {
  afterAll(() => {
    const name = basename(file).replace(/\.bench\.ts$/, '');
    mkdirSync('bench/results', { recursive: true });
    writeFileSync(`bench/results/units-${name}.json`, JSON.stringify(units, null, 1));
    writeFileSync(`bench/results/targets-${name}.json`, JSON.stringify(targets, null, 1));
  });
}

/** A clock for tinybench (`now` option, ms) that stops while `untimed` runs: set-up inside a timed task. */
export function pausableClock() {
  let paused = 0;
  return {
    now: () => performance.now() - paused,
    /** Runs `f` without its time counting. */
    untimed<T>(f: () => T): T {
      const t = performance.now();
      try {
        return f();
      } finally {
        paused += performance.now() - t;
      }
    },
  };
}

/**
 * A host whose one VM holds `pages` (a corpus), for first (merging) sharing passes in `order`,
 * and `fresh()`, which brings the VM back to fresh private pages: ballooned from the last page
 * down, so that the free list hands frames back in ascending order and every pass sees the
 * pages in frames laid out as on a new host, then written again.
 */
export async function freshPagesHost(pages: Corpus, order: 'random' | 'sequential') {
  const mib = (pages.count * 4096) / (1 << 20);
  const host = await Host.create({ machineMemoryMiB: 2 * mib, flavor: 'release', sharing: { order }, balloonMaxPercent: 100 });
  const vm = host.addVM({ name: order, memoryMiB: mib });
  const down = Array.from({ length: pages.count }, (_, i) => pages.count - 1 - i);
  const fresh = () => {
    vm.balloonInflate(down);
    vm.balloonDeflate(down);
    vm.writePhys(0, pages.pages);
  };
  vm.writePhys(0, pages.pages);
  return { host, fresh };
}
