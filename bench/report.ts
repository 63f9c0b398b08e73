/**
 * Turns vitest's benchmark JSON (bench/results/latest.json) and the units the bench files
 * recorded (bench/results/units-*.json) into the README's performance table: throughput per
 * task and its ratio to the first task of its group (the memvisor contender), measured in one run.
 *
 *   npx tsx bench/report.ts            prints the markdown table and writes bench/results/report.{md,json}
 */
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';

interface Bench { name: string; hz: number; rme: number; sampleCount: number }
interface Unit { amount: number; unit: 'B' | 'item'; group: string; where?: 'engine' | 'js' | 'native' }
interface Target { label: string; task: string; over: string; min: number }

/** How the table says where a row's data starts. */
const WHERE: Record<string, string> = { engine: 'engine memory', js: 'JavaScript', native: 'C (native)' };

const dir = 'bench/results';
const latest = JSON.parse(readFileSync(`${dir}/latest.json`, 'utf8')) as {
  files: { groups: { benchmarks: Bench[] }[] }[];
};
const units: Record<string, Unit> = {};
const targets: Target[] = [];
for (const f of readdirSync(dir).filter((n) => n.endsWith('.json')).sort()) {
  if (f.startsWith('units-')) Object.assign(units, JSON.parse(readFileSync(`${dir}/${f}`, 'utf8')));
  if (f.startsWith('targets-')) targets.push(...(JSON.parse(readFileSync(`${dir}/${f}`, 'utf8')) as Target[]));
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

const rows: { group: string; task: string; where: string; rate: string; ratio: string; rme: string; value: number }[] = [];
/** Throughput of every measured task, by full name (for the targets). */
const measured = new Map<string, number>();
const baseline = new Map<string, number>();
for (const file of latest.files) {
  for (const g of file.groups) {
    for (const b of g.benchmarks) {
      const u = units[b.name];
      if (!u) continue;
      const r = rate(b, u);
      if (!baseline.has(u.group)) baseline.set(u.group, r.value);
      const ratio = r.value / baseline.get(u.group)!;
      measured.set(b.name, r.value);
      rows.push({
        group: u.group,
        task: b.name.slice(u.group.length + 2),
        where: u.where ? WHERE[u.where] : '?',
        rate: r.text,
        ratio: `${ratio.toFixed(2)}x`,
        rme: `±${b.rme.toFixed(1)}%`,
        value: r.value,
      });
    }
  }
}

/**
 * The CPU by name and, on Linux, by x86 family and model: a virtual machine may name only the
 * vendor ("AMD EPYC"), and the family tells the microarchitecture (AMD 25 Zen 3/4, 26 Zen 5).
 */
function cpuName(): string {
  const model = cpus()[0]?.model.trim() || 'unknown CPU';
  if (!existsSync('/proc/cpuinfo')) return model;
  const info = readFileSync('/proc/cpuinfo', 'utf8');
  const field = (name: string) => new RegExp(`^${name}\\s*:\\s*(\\S+)`, 'm').exec(info)?.[1];
  const family = field('cpu family'), num = field('model');
  return family && num ? `${model} (x86 family ${family}, model ${num})` : model;
}

const head = `Measured ${new Date().toISOString().slice(0, 10)} on ${cpuName()} (${cpus().length} cores), Node ${process.version}. Clock: ${process.env.MEMVISOR_BENCH_CLOCK === 'cpu' ? 'CPU time of each process (MEMVISOR_BENCH_CLOCK=cpu)' : 'wall-clock'}; load average ${loadavg()[1].toFixed(1)} over the last 5 minutes when the report was written. Ratio: throughput relative to the first row of its group. Data starts in: engine memory (WebAssembly linear memory, no copy timed), JavaScript (arrays; every copy in and out timed), C (a native program's own memory).\n`;
const table = [
  '| group | contender | data starts in | throughput | ratio | ± |',
  '|---|---|---|---:|---:|---:|',
  ...rows.map((r) => `| ${r.group} | ${r.task} | ${r.where} | ${r.rate} | ${r.ratio} | ${r.rme} |`),
].join('\n');
/** Each target: the ratio of two rows of this run, or why it could not be computed (a row not run, e.g. no gcc). */
const checks = targets.map((t) => {
  const a = measured.get(t.task);
  const b = measured.get(t.over);
  const ratio = a !== undefined && b !== undefined ? a / b : null;
  const short = (name: string) => name.slice(name.indexOf(': ') + 2);
  return {
    ...t,
    ratio,
    line: `| ${t.label} | ${short(t.task)} / ${short(t.over)} | ${ratio === null ? 'not measured' : `${ratio.toFixed(2)}x`} | >= ${t.min}x | ${ratio === null ? '-' : ratio >= t.min ? 'yes' : 'NO'} |`,
  };
});
const targetTable = checks.length
  ? ['', 'Targets (ratios of two rows of this run):', '', '| target | rows | ratio | goal | met |', '|---|---|---:|---:|---|', ...checks.map((c) => c.line)].join('\n')
  : '';
/** The paired run of the batch codec targets (bench/paired.ts), when it ran after vitest. */
let pairedTable = '';
try {
  const p = JSON.parse(readFileSync(`${dir}/paired.json`, 'utf8')) as { table: string };
  pairedTable = `\nThe targets of issue 7, paired (bench/paired.ts: every contender once per round, in turn; the median of the rounds' ratios):\n\n${p.table}\n`;
} catch {
  pairedTable = '';
}
writeFileSync(`${dir}/report.md`, `${head}\n${table}\n${targetTable}\n${pairedTable}`);
writeFileSync(`${dir}/report.json`, JSON.stringify({ rows, targets: checks.map(({ line, ...c }) => c) }, null, 1));
process.stdout.write(`${head}\n${table}\n${targetTable}\n${pairedTable}`);
