/**
 * Shared bench helpers: the page corpus every contender sees, and the units that turn vitest's
 * operations per second into GB/s, MB/s or items/s in the report (bench/report.ts).
 *
 * A bench file names each task through `task(name, amount, unit)`; the amount per operation is
 * written next to vitest's JSON (bench/results/units-*.json) when the file's benches finish.
 */
import { afterAll } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { buildCorpus, type Corpus } from '../src/workload/corpus.js';

let cached: Corpus | null = null;

/** The benchmark corpus (MEMVISOR_BENCH_MIB MiB, default 64), built once per worker. */
export function corpus(): Corpus {
  if (!cached) cached = buildCorpus({ mib: Number(process.env.MEMVISOR_BENCH_MIB ?? 64) });
  return cached;
}

export type Unit = 'B' | 'item';
const units: Record<string, { amount: number; unit: Unit; group: string }> = {};

/**
 * Registers a task: each operation processes `amount` bytes (unit 'B') or items ('item').
 * Tasks of one `group` are compared with each other; the first registered is the baseline.
 */
export function task(group: string, name: string, amount: number, unit: Unit = 'B'): string {
  const full = `${group}: ${name}`;
  units[full] = { amount, unit, group };
  return full;
}

/** Call once at the top of a bench file: writes its units when its benches are done. */
export function recordUnits(file: string): void {
  afterAll(() => {
    mkdirSync('bench/results', { recursive: true });
    writeFileSync(`bench/results/units-${basename(file).replace(/\.bench\.ts$/, '')}.json`, JSON.stringify(units, null, 1));
  });
}
