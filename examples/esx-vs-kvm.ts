/**
 * ESXi against KVM: the default scenario (scenarios/default.json) run under both host policies,
 * everything else equal, and `memvisor compare`'s page of the two.
 *
 *   esx   memory states from free memory against minFree; allocation targets from shares and
 *         the idle memory tax; balloon in soft, compress (per-VM zip cache) and swap in hard;
 *         sharing with ESX's scan rate; random victims
 *   kvm   no states, no targets: kswapd reclaims from the global LRU between the watermarks;
 *         KSM at pages_to_scan per sleep_millisecs; one zswap pool; the balloon moves only by
 *         free page reporting and deflate-on-OOM
 *
 * Writes esx.json and kvm.json (what `memvisor run --json` writes) and esx-vs-kvm.html (what
 * `memvisor compare esx.json kvm.json --html` writes) into `outDir`, and returns the compare
 * table. The same as, from a shell:
 *
 *   memvisor run --json esx.json && memvisor run --policy kvm --json kvm.json
 *   memvisor compare esx.json kvm.json --html esx-vs-kvm.html
 *
 *   npx tsx examples/esx-vs-kvm.ts [outDir] [seconds]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  Simulation, defaultScenario, parseRun, summarizeRun, compareLines, writeCompareHtml, type RunSummary, type Run,
} from '../src/node.js'; // in your project: from 'memvisor/node'

export type Kind = 'esx' | 'kvm';

export interface EsxKvmOptions {
  /** where the two JSON files and the HTML page go */
  outDir: string;
  /** simulated seconds (default: the default scenario's, 150) */
  duration?: number;
  flavor?: 'release' | 'debug';
}

export interface EsxKvmResult {
  files: { esx: string; kvm: string; html: string };
  runs: Record<Kind, Run>;
  summaries: Record<Kind, RunSummary>;
  /** `memvisor compare`'s text */
  text: string;
}

/** Runs the default scenario under policy `kind`; returns the run's JSON text. */
export async function runDefault(kind: Kind, o: Omit<EsxKvmOptions, 'outDir'> = {}): Promise<string> {
  const s = defaultScenario();
  s.policy = { ...s.policy, kind };
  if (o.duration !== undefined) s.duration = o.duration;
  const sim = await Simulation.create(s, { flavor: o.flavor });
  try {
    return JSON.stringify(sim.run(), null, 1) + '\n';
  } finally {
    sim.close();
  }
}

/** Both runs, their files and their comparison (see the module overview). */
export async function esxVsKvm(o: EsxKvmOptions): Promise<EsxKvmResult> {
  mkdirSync(o.outDir, { recursive: true });
  const files = { esx: join(o.outDir, 'esx.json'), kvm: join(o.outDir, 'kvm.json'), html: join(o.outDir, 'esx-vs-kvm.html') };
  const runs = {} as Record<Kind, Run>;
  for (const kind of ['esx', 'kvm'] as const) {
    const text = await runDefault(kind, o);
    writeFileSync(files[kind], text);
    runs[kind] = parseRun(JSON.parse(text), `${kind}.json`);
  }
  writeCompareHtml(files.html, runs.esx, runs.kvm, ['esx.json', 'kvm.json']);
  const summaries = { esx: summarizeRun(runs.esx), kvm: summarizeRun(runs.kvm) };
  return { files, runs, summaries, text: compareLines(summaries.esx, summaries.kvm, ['esx.json', 'kvm.json']).join('\n') };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const outDir = process.argv[2] ?? 'esx-vs-kvm';
  const duration = process.argv[3] === undefined ? undefined : Number(process.argv[3]);
  const r = await esxVsKvm({ outDir, duration, flavor: 'release' });
  process.stdout.write(`${r.text}\nwrote ${r.files.esx}, ${r.files.kvm}, ${r.files.html}\n`);
}
