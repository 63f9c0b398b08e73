/**
 * EPT against shadow paging on a page-table-heavy workload: a build server whose short-lived
 * processes map a fresh 128 MiB, touch it hard and exit, every two seconds. Every new page is a
 * guest page fault that writes a guest page-table entry; the pages it touches are spread wide,
 * so most touches miss the TLB and walk the tables.
 *
 *   EPT      a TLB miss walks the guest tables and, for every guest-physical reference, the
 *            EPT: up to 24 memory references (a 2D walk); a guest page-table write costs nothing
 *            extra, a new page one EPT violation
 *   shadow   a TLB miss walks the shadow table the hypervisor keeps: 4 references; but every
 *            guest page-table write to a shadowed table traps and is emulated, and every new
 *            page is a hidden fault that fills the shadow table in software
 *
 * The same scenario runs once per MMU mode, one VM alone on an uncontended host, so what differs
 * is translation alone: `translation` (simulated s per s spent in TLB misses and walks), `stall`
 * (s per s lost to faults: guest page faults, exits, shadow fills, trapped page-table writes),
 * the work done, and the machine memory the host's page tables take. A steady workload (one
 * process, no churn) runs beside it for contrast: there the 2D walks are EPT's whole cost.
 * With `outDir`, writes both churn runs' JSON and `memvisor compare`'s HTML page.
 *
 *   npx tsx examples/ept-vs-shadow.ts [seconds] [outDir]
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Simulation, parseRun, writeCompareHtml, type ScenarioInput, type PhaseScenario } from '../src/node.js'; // in your project: from 'memvisor/node'

export type MmuMode = 'ept' | 'shadow';
export type Workload = 'churn' | 'steady';

export interface EptShadowOptions {
  /** simulated seconds (default 20) */
  duration?: number;
  /** page touches per simulated second (default 400k) */
  touchesPerSecond?: number;
  seed?: number;
  flavor?: 'release' | 'debug';
}

export interface MmuResult {
  mmu: MmuMode;
  workload: Workload;
  /** time-weighted mean simulated s per s in address translation */
  translation: number;
  /** time-weighted mean simulated s per s lost to faults */
  stall: number;
  /** worst interval's slowdown against the same VM unconstrained */
  maxSlowdown: number;
  /** touches completed over touches asked */
  workDone: number;
  /** simulated ns per completed touch spent translating, and lost to faults */
  translateNsPerTouch: number;
  stallNsPerTouch: number;
  /** machine memory in EPT or shadow tables at the end, MiB */
  pageTablesMiB: number;
  verified: boolean;
}

/** The build server's phases: 128 MiB mapped every 2 s and released 1.5 s later ('churn'), or one steady set. */
export function phases(workload: Workload, duration: number, rate: number): PhaseScenario[] {
  const p = (at: number, activeMiB: number, release = false): PhaseScenario => ({ at, activeMiB, touchesPerSecond: rate, writeFraction: 0.3, skew: 'uniform', ramp: 0, release });
  if (workload === 'steady') return [p(0, 128)];
  const out: PhaseScenario[] = [];
  for (let t = 0; t < duration; t += 2) out.push(p(t, 128), p(t + 1.5, 4, true));
  return out;
}

/** One VM with `mmu` running `workload`, alone on the host. */
export function eptShadowScenario(mmu: MmuMode, workload: Workload, o: EptShadowOptions = {}): ScenarioInput {
  const duration = o.duration ?? 20;
  return {
    description: `examples/ept-vs-shadow.ts: ${workload} workload through ${mmu}`,
    seed: o.seed ?? 1,
    duration,
    content: { source: 'generated' },
    host: { machineMemoryMiB: 512, sharing: { enabled: false } },
    // large pages would hide the 2D walk's cost (one 2 MiB EPT leaf per group): 4 KiB pages for both
    policy: { kind: 'esx', largePages: false },
    vms: [{
      name: 'build', memoryMiB: 256, mmu,
      os: { kernelMiB: 8, cacheMiB: 16, anonMiB: 16 },
      workload: { content: [{ kind: 'unique', weight: 1 }], phases: phases(workload, duration, o.touchesPerSecond ?? 400_000) },
    }],
  };
}

/** Runs one case; `keep` receives the run's result (for the JSON). */
export async function runMmu(mmu: MmuMode, workload: Workload, o: EptShadowOptions = {}, keep?: (r: unknown) => void): Promise<MmuResult> {
  const sim = await Simulation.create(eptShadowScenario(mmu, workload, o), { flavor: o.flavor });
  try {
    const r = sim.run();
    keep?.(r);
    const vs = r.samples.map((s) => s.vms.build);
    const mean = (f: (v: (typeof vs)[number]) => number) => vs.reduce((a, v) => a + f(v), 0) / vs.length;
    const done = vs.reduce((a, v) => a + v.touchesCompleted, 0), asked = vs.reduce((a, v) => a + v.touchesAsked, 0);
    const seconds = r.config.duration;
    return {
      mmu, workload,
      translation: mean((v) => v.translation),
      stall: mean((v) => v.stall),
      maxSlowdown: Math.max(...vs.map((v) => v.slowdown)),
      workDone: asked > 0 ? done / asked : 1,
      translateNsPerTouch: (mean((v) => v.translation) * seconds * 1e9) / done,
      stallNsPerTouch: (mean((v) => v.stall) * seconds * 1e9) / done,
      pageTablesMiB: r.samples[r.samples.length - 1].host.pageTablesMiB,
      verified: r.verified.ok,
    };
  } finally {
    sim.close();
  }
}

/** Both modes on both workloads (churn first); with `outDir`, the churn runs' JSON and their compare page. */
export async function eptVsShadow(o: EptShadowOptions & { outDir?: string } = {}): Promise<MmuResult[]> {
  const out: MmuResult[] = [];
  const json: Partial<Record<MmuMode, unknown>> = {};
  for (const workload of ['churn', 'steady'] as const) {
    for (const mmu of ['ept', 'shadow'] as const) out.push(await runMmu(mmu, workload, o, workload === 'churn' ? (r) => (json[mmu] = r) : undefined));
  }
  if (o.outDir) {
    mkdirSync(o.outDir, { recursive: true });
    for (const m of ['ept', 'shadow'] as const) writeFileSync(join(o.outDir, `${m}.json`), JSON.stringify(json[m], null, 1) + '\n');
    writeCompareHtml(join(o.outDir, 'ept-vs-shadow.html'), parseRun(json.ept, 'ept.json'), parseRun(json.shadow, 'shadow.json'), ['ept.json', 'shadow.json']);
  }
  return out;
}

/** The example's text: one row per case. */
export function eptVsShadowText(rs: MmuResult[]): string {
  const head = 'workload  mmu     translation  stall    ns/touch: walk  fault   slowdown max  work done  page tables  verified';
  return [head, ...rs.map((r) => `${r.workload.padEnd(8)}  ${r.mmu.padEnd(6)}  ${r.translation.toFixed(4).padStart(11)}  ${r.stall.toFixed(4).padStart(6)}  ${r.translateNsPerTouch.toFixed(1).padStart(14)}  ${r.stallNsPerTouch.toFixed(1).padStart(6)}  ${r.maxSlowdown.toFixed(3).padStart(12)}  ${(100 * r.workDone).toFixed(1).padStart(8)} %  ${r.pageTablesMiB.toFixed(2).padStart(7)} MiB  ${r.verified ? 'ok' : 'FAILED'}`),
    '(translation, stall: simulated s per s; ns/touch: simulated ns per completed touch; slowdown: the worst interval against the VM unconstrained, which translates too)'].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const duration = Number(process.argv[2] ?? 20);
  process.stdout.write(eptVsShadowText(await eptVsShadow({ duration, flavor: 'release', outDir: process.argv[3] })) + '\n');
}
