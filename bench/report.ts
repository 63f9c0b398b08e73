/**
 * Turns vitest's benchmark JSON (bench/results/latest.json) and the units the bench files
 * recorded (bench/results/units-*.json) into the README's performance table: throughput per
 * task and its ratio to the first task of its group (the memvisor contender), measured in one run.
 *
 *   npx tsx bench/report.ts            prints the markdown table and writes bench/results/report.{md,json}
 */
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';

interface Bench { name: string; hz: number; rme: number; sampleCount: number }
interface Unit { amount: number; unit: 'B' | 'item'; group: string }

const dir = 'bench/results';
const latest = JSON.parse(readFileSync(`${dir}/latest.json`, 'utf8')) as {
  files: { groups: { benchmarks: Bench[] }[] }[];
};
const units: Record<string, Unit> = {};
for (const f of readdirSync(dir).filter((n) => n.startsWith('units-') && n.endsWith('.json')).sort()) {
  Object.assign(units, JSON.parse(readFileSync(`${dir}/${f}`, 'utf8')));
}

function rate(b: Bench, u: Unit): { value: number; text: string } {
  const perSec = b.hz * u.amount;
  if (u.unit === 'B') {
    return perSec >= 1e9 ? { value: perSec, text: `${(perSec / 1e9).toFixed(2)} GB/s` } : { value: perSec, text: `${(perSec / 1e6).toFixed(0)} MB/s` };
  }
  if (perSec >= 1e6) return { value: perSec, text: `${(perSec / 1e6).toFixed(2)} M/s` };
  // below a thousand per second (simulated seconds per wall second): two decimals, not 0.0 k/s
  return perSec >= 1e3 ? { value: perSec, text: `${(perSec / 1e3).toFixed(1)} k/s` } : { value: perSec, text: `${perSec.toFixed(2)} /s` };
}

const rows: { group: string; task: string; rate: string; ratio: string; rme: string; value: number }[] = [];
const baseline = new Map<string, number>();
for (const file of latest.files) {
  for (const g of file.groups) {
    for (const b of g.benchmarks) {
      const u = units[b.name];
      if (!u) continue;
      const r = rate(b, u);
      if (!baseline.has(u.group)) baseline.set(u.group, r.value);
      const ratio = r.value / baseline.get(u.group)!;
      rows.push({
        group: u.group,
        task: b.name.slice(u.group.length + 2),
        rate: r.text,
        ratio: `${ratio.toFixed(2)}x`,
        rme: `±${b.rme.toFixed(1)}%`,
        value: r.value,
      });
    }
  }
}

const head = `Measured ${new Date().toISOString().slice(0, 10)} on ${cpus()[0]?.model ?? 'unknown CPU'} (${cpus().length} cores), Node ${process.version}. Ratio: throughput relative to the first row of its group.\n`;
const table = [
  '| group | contender | throughput | ratio | ± |',
  '|---|---|---:|---:|---:|',
  ...rows.map((r) => `| ${r.group} | ${r.task} | ${r.rate} | ${r.ratio} | ${r.rme} |`),
].join('\n');
writeFileSync(`${dir}/report.md`, `${head}\n${table}\n`);
writeFileSync(`${dir}/report.json`, JSON.stringify(rows, null, 1));
process.stdout.write(`${head}\n${table}\n`);
