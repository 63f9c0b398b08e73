/**
 * `memvisor run <scenario.json> [--json out.json] [--quiet]`: runs a scenario on simulated time
 * and prints one line per sample and a summary per VM; `--json` writes the run's JSON (the
 * RunResult: config, seed, version, verified, samples) to a file, or to stdout with `-`.
 *
 * An invalid scenario prints one line per problem, each naming the field path, the value and what
 * was expected, and exits 2 (as a bad option does). A run whose oracle finds a page that differs
 * from what its guest wrote exits 1.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { UsageError } from '../errors.js';
import { ScenarioError } from '../sim/scenario.js';
import { Simulation, type RunResult } from '../sim/simulation.js';
import type { Sample } from '../sim/sample.js';

export const RUN_HELP = `usage: memvisor run <scenario.json> [--json out.json] [--quiet]

Runs a scenario (JSON; its JSON Schema ships as memvisor/scenario.schema.json) on simulated
time: a host, its VMs, a guest OS with a balloon driver in each, their workloads, the policy.
Prints one line per sample and a summary; the run ends by checking every VM's memory against
what its guest wrote.

  --json FILE    write the run as JSON (config, seed, version, verified, samples); - for stdout
  --quiet        no line per sample
Exit codes: 0 done and verified, 1 the oracle found a difference or the run failed, 2 an invalid
scenario or option (one line per problem, naming the field path).
`;

/** Parses the options of `run`. */
function parseArgs(args: string[]): { file: string; json: string | null; quiet: boolean } {
  let file: string | null = null, json: string | null = null, quiet = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--json') {
      json = args[++i] ?? null;
      if (json === null) throw new UsageError('--json', undefined, 'a file name, or - for stdout');
    } else if (a === '--quiet') quiet = true;
    else if (a.startsWith('-') && a !== '-') throw new UsageError(a, a, 'one of --json FILE, --quiet');
    else if (file === null) file = a;
    else throw new UsageError('scenario', a, 'one scenario file');
  }
  if (file === null) throw new UsageError('scenario', undefined, 'a scenario file (memvisor run <scenario.json>)');
  return { file, json, quiet };
}

/** One line per sample: time, host free memory, and per VM granted, ballooned, swapped, stall. */
function sampleLine(s: Sample): string {
  const vms = Object.entries(s.vms).map(([n, v]) => `${n} ${v.GRANT.toFixed(0)}/${v.MCTLSZ.toFixed(0)}/${v.SWCUR.toFixed(0)} ${v.stall.toFixed(3)}`);
  const state = typeof s.host.state === 'string' ? ` ${s.host.state}` : '';
  return `t=${s.t}s free ${s.host.freeMiB.toFixed(0)} MiB${state} | ${vms.join(' | ')}`;
}

function summary(r: RunResult): string {
  const names = Object.keys(r.samples[0]?.vms ?? {});
  const rows = names.map((n) => {
    const ss = r.samples.map((s) => s.vms[n]);
    const asked = ss.reduce((a, v) => a + v.touchesAsked, 0), done = ss.reduce((a, v) => a + v.touchesCompleted, 0);
    const last = ss[ss.length - 1];
    const stall = ss.reduce((a, v) => a + v.stall, 0) / ss.length;
    return `${n.padEnd(14)} ${last.GRANT.toFixed(1).padStart(8)} ${last.SHRD.toFixed(1).padStart(7)} ${last.MCTLSZ.toFixed(1).padStart(7)} ${last.SWCUR.toFixed(1).padStart(7)} ${stall.toFixed(4).padStart(8)} ${Math.max(...ss.map((v) => v.slowdown)).toFixed(3).padStart(8)} ${(asked ? done / asked : 1).toFixed(3).padStart(9)}`;
  });
  return [
    `${'VM'.padEnd(14)} ${'GRANT'.padStart(8)} ${'SHRD'.padStart(7)} ${'MCTLSZ'.padStart(7)} ${'SWCUR'.padStart(7)} ${'stall'.padStart(8)} ${'slowdn'.padStart(8)} ${'done/ask'.padStart(9)}`,
    ...rows,
    `(MiB at the end; stall: mean simulated s lost per s; slowdown: the worst interval)`,
    `verified: ${r.verified.ok ? 'ok' : 'FAILED'}, ${(r.verified.bytes / (1 << 20)).toFixed(1)} MiB compared`,
  ].join('\n');
}

/** Runs `memvisor run`; returns the exit code. */
export async function runRun(args: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    out.write(RUN_HELP);
    return 0;
  }
  const { file, json, quiet } = parseArgs(args);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError('scenario', file, `a readable file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  let input: unknown;
  try {
    input = JSON.parse(text);
  } catch (e) {
    throw new UsageError('scenario', file, `a JSON file (${(e as Error).message})`);
  }
  let sim: Simulation;
  try {
    sim = await Simulation.create(input);
  } catch (e) {
    if (e instanceof ScenarioError) {
      for (const p of e.message.split('\n')) err.write(`memvisor run: ${file}: ${p}\n`);
      return 2;
    }
    throw e;
  }
  try {
    const toStdout = json === '-';
    const result = sim.run(quiet || toStdout ? undefined : (s) => out.write(sampleLine(s) + '\n'));
    const body = JSON.stringify(result, null, 1) + '\n';
    if (toStdout) out.write(body);
    else {
      if (json !== null) writeFileSync(json, body);
      out.write(summary(result) + '\n');
    }
    if (!result.verified.ok) {
      err.write(`memvisor run: the oracle found guest memory that differs from what its guest wrote\n`);
      return 1;
    }
    return 0;
  } finally {
    sim.close();
  }
}
