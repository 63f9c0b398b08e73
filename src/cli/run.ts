/**
 * `memvisor run [scenario.json] [--json out.json] [--html report.html] [--quiet] [--policy KIND] [--set PATH=VALUE]...`:
 * runs a scenario on simulated time (without a file: the built-in default scenario,
 * scenarios/default.json) and shows it as it runs:
 *
 *   stdout is      while it runs                                      at the end
 *   a terminal     progress bar (simulated time, ETA) over the         the esxtop table of the last
 *                  esxtop screen, redrawn each sample (live view)      sample, the run's summary
 *   not one        one plain line per sample, no escape codes          the same
 *   --quiet        nothing                                             the table and the verdict
 *   --json -       nothing (stdout holds the JSON alone)               -
 *
 * `--json` writes the run's JSON (the RunResult: config, seed, version, samples, verified) to a
 * file, or to stdout with `-`; `--html` writes the self-contained HTML report of the run.
 *
 * Nothing here keeps the run's samples: each one, as the simulation takes it, goes to the live
 * view, to the JSON (written as it comes), to the summary and to the chart roll-up, and is then
 * dropped; so a run of any length (a week at one sample per second) takes no more memory than a
 * short one, and the outputs are those the whole run in memory would give.
 *
 * An invalid scenario prints one line per problem, each naming the field path, the value and what
 * was expected, and exits 2 (as a bad option does). A run whose oracle finds a page that differs
 * from what its guest wrote exits 1.
 */
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { ScenarioError } from '../sim/scenario.js';
import { Simulation, VERSION } from '../sim/simulation.js';
import { DEFAULT_SCENARIO_FILE } from '../sim/default.js';
import { createLiveView, type LiveOutput } from '../report/live.js';
import { parseSample, RunJsonWriter, type Run } from '../report/runfile.js';
import { RunSummarizer, summaryLines } from '../report/summary.js';
import { RollUpStream, samplesPerPoint } from '../report/rollup.js';
import { RunFileSink, writeReportHtml } from '../report/files.js';
import type { Sample } from '../sim/sample.js';

export const RUN_HELP = `usage: memvisor run [scenario.json] [--json out.json] [--html report.html] [--quiet] [--policy KIND] [--set PATH=VALUE]...

Runs a scenario (JSON; its JSON Schema ships as memvisor/scenario.schema.json) on simulated
time: a host, its VMs, a guest OS with a balloon driver in each, their workloads, the policy.
Without a file it runs the built-in default scenario (scenarios/default.json: six VMs, 2x
overcommitted, through every ESXi memory state and back). On a terminal it shows a progress
bar and the esxtop memory screen, redrawn each simulated second; otherwise one line per
sample. At the end: the esxtop table of the last sample, a summary, and the verdict of the
oracle that checks every VM's memory against what its guest wrote.

  --json FILE    write the run as JSON (config, seed, version, samples, verified); - for stdout
  --html FILE    write the run's report: one self-contained HTML page with charts
  --quiet        print only the final table (and the verdict)
  --policy KIND  run under this host policy instead of the scenario's (esx, kvm, basic)
  --set PATH=VALUE
                 set one field of the scenario before it is checked, as many times as
                 needed: a path of names and [indexes] (seed, host.machineMemoryMiB,
                 vms[1].count, vms[0].workload.phases[0].activeMiB), a JSON value or else a
                 string (--set seed=7 --set host.swap.tier=hdd); a sweep is a shell loop
Exit codes: 0 done and verified, 1 the oracle found a difference or the run failed, 2 an invalid
scenario or option (one line per problem, naming the field path).
`;

export interface RunArgs {
  /** the scenario file; null: the default scenario */
  file: string | null;
  json: string | null;
  html: string | null;
  quiet: boolean;
  policy: string | null;
  /** --set overrides, in order: a path into the scenario and the value to put there */
  sets: { path: (string | number)[]; value: unknown; text: string }[];
}

/** Parses the options of `run`; `--opt=value` works too. */
export function parseRunArgs(args: string[]): RunArgs {
  const a: RunArgs = { file: null, json: null, html: null, quiet: false, policy: null, sets: [] };
  const FLAGS = 'one of --json FILE, --html FILE, --quiet, --policy KIND, --set PATH=VALUE, --help';
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const value = (what: string): string => {
      const v = eq > 0 ? arg.slice(eq + 1) : args[++i];
      if (v === undefined || v === '') throw new UsageError(flag, v ?? '(missing)', what);
      return v;
    };
    if (flag === '--json') a.json = value('a file name, or - for stdout');
    else if (flag === '--html') a.html = value('a file to write the HTML report to');
    else if (flag === '--policy') a.policy = value('a policy kind (esx, kvm, basic)');
    else if (flag === '--set') a.sets.push(parseSet(value('PATH=VALUE, e.g. host.machineMemoryMiB=2048')));
    else if (flag === '--quiet' && eq < 0) a.quiet = true;
    else if (arg.startsWith('-') && arg !== '-') throw new UsageError('option', arg, FLAGS);
    else if (a.file === null) a.file = arg;
    else throw new UsageError('scenario', arg, 'one scenario file');
  }
  if (a.html === '-') throw new UsageError('--html', '-', 'a file name (the report is a page, not a stream)');
  return a;
}

/** Names a path may not hold: they would reach an object's prototype instead of a field. */
const UNSAFE = new Set(['__proto__', 'prototype', 'constructor']);

/** `PATH=VALUE` of --set: the path as names and indexes, the value as JSON or else the text itself. */
export function parseSet(arg: string): RunArgs['sets'][number] {
  const eq = arg.indexOf('=');
  const expected = 'PATH=VALUE, a path of names and [indexes] (host.machineMemoryMiB=2048, vms[0].count=4)';
  if (eq <= 0) throw new UsageError('--set', arg, expected);
  const pathText = arg.slice(0, eq);
  const path: (string | number)[] = [];
  const re = /([A-Za-z_$][\w$]*)|\[(\d{1,6})\]|(\.)/y;
  let at = 0, dot = true;
  while (at < pathText.length) {
    re.lastIndex = at;
    const m = re.exec(pathText);
    // a name only first or after a dot; an index and a dot only after a name or an index
    if (!m || (m[1] !== undefined) !== dot) throw new UsageError('--set', arg, expected);
    if (m[1] !== undefined) {
      if (UNSAFE.has(m[1])) throw new UsageError('--set', arg, `a path without ${m[1]} (no such scenario field)`);
      path.push(m[1]);
      dot = false;
    } else if (m[2] !== undefined) path.push(Number(m[2]));
    else dot = true;
    at = re.lastIndex;
  }
  if (dot || path.length === 0) throw new UsageError('--set', arg, expected);
  const text = arg.slice(eq + 1);
  let value: unknown = text;
  try {
    value = JSON.parse(text);
  } catch {
    // not JSON: the text itself (--set host.swap.tier=hdd)
  }
  return { path, value, text: arg };
}

/**
 * Puts each --set value into `input` (the parsed scenario), making the objects and arrays a path
 * passes through where there are none; the scenario check that follows names anything wrong.
 */
function applySets(input: unknown, sets: RunArgs['sets']): void {
  const where = (path: (string | number)[]) => path.map((k, i) => (typeof k === 'number' ? `[${k}]` : i ? `.${k}` : k)).join('');
  for (const { path, value, text } of sets) {
    if (input === null || typeof input !== 'object') throw new UsageError('--set', text, 'a scenario that is a JSON object');
    let o = input as Record<string | number, unknown>;
    for (let i = 0; i < path.length; i++) {
      const k = path[i];
      // an index at most one past the end: a sweep adds a VM or a phase, never a hole
      if (Array.isArray(o) && typeof k === 'number' && k > o.length) {
        throw new UsageError('--set', text, `an index of ${where(path.slice(0, i))} up to ${o.length} (it has ${o.length} item${o.length === 1 ? '' : 's'})`);
      }
      if (i === path.length - 1) {
        o[k] = value;
        break;
      }
      let next = Object.hasOwn(o, k) ? o[k] : undefined;
      if (next === undefined) o[k] = next = typeof path[i + 1] === 'number' ? [] : {};
      if (next === null || typeof next !== 'object') {
        throw new UsageError('--set', text, `a path through objects and arrays (${where(path.slice(0, i + 1))} is ${JSON.stringify(next)})`);
      }
      o = next as Record<string | number, unknown>;
    }
  }
}

/** The scenario of `file` as parsed JSON (null: the default scenario). A file that cannot be read or parsed is a usage error. */
function loadScenario(file: string | null): unknown {
  const path = file ?? DEFAULT_SCENARIO_FILE;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError('scenario', path, `a readable file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UsageError('scenario', path, `a JSON file (${(e as Error).message})`);
  }
}

/** `open(path)`, its failure a UsageError naming `option`, the path and the system's reason. */
function openOutput<T>(option: string, path: string, open: (p: string) => T): T {
  try {
    return open(path);
  } catch (e) {
    throw new UsageError(option, path, `a file memvisor can write (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/** Runs `memvisor run`; returns the exit code. `out` is a terminal when it has isTTY (process.stdout). */
export async function runRun(args: string[], out: NodeJS.WritableStream & LiveOutput, err: NodeJS.WritableStream): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    out.write(RUN_HELP);
    return 0;
  }
  const opts = parseRunArgs(args);
  const input = loadScenario(opts.file);
  applySets(input, opts.sets);
  const name = opts.file ?? 'default scenario';
  if (opts.policy !== null && input !== null && typeof input === 'object') {
    const s = input as { policy?: unknown };
    s.policy = { ...(typeof s.policy === 'object' && s.policy !== null ? s.policy : {}), kind: opts.policy };
  }
  let sim: Simulation;
  try {
    sim = await Simulation.create(input, { keepSamples: false });
  } catch (e) {
    if (e instanceof ScenarioError) {
      for (const p of e.message.split('\n')) err.write(`memvisor run: ${name}: ${p}\n`);
      return 2;
    }
    throw e;
  }
  const toStdout = opts.json === '-';
  let file: RunFileSink | null = null;
  try {
    // before the run, not after it: an output that cannot be written is a bad option
    if (opts.json !== null && !toStdout) file = openOutput('--json', opts.json, (p) => new RunFileSink(p));
    if (opts.html !== null) openOutput('--html', opts.html, (p) => accessSync(existsSync(p) ? p : dirname(resolve(p)), constants.W_OK));
    const label = opts.file ? basename(opts.file) : 'default scenario';
    // with the JSON on stdout nothing else may go there
    const view = toStdout ? null : createLiveView({ out, duration: sim.config.duration, quiet: opts.quiet, label });
    const json = opts.json === null ? null : new RunJsonWriter(file ? (chunk) => file!.write(chunk) : (chunk) => out.write(chunk));
    const head = { config: sim.config, seed: sim.config.seed, version: VERSION };
    json?.begin(head);
    const summary = opts.html !== null || (!toStdout && !opts.quiet) ? new RunSummarizer() : null;
    const charts = opts.html !== null ? new RollUpStream(samplesPerPoint(sim.sampleCount)) : null;
    const onSample = (s: Sample) => {
      view?.sample(s);
      json?.sample(s);
      if (summary) {
        const rs = parseSample(s, `${name}: sample at ${s.t} s`);
        summary.add(rs);
        charts?.add(rs);
      }
    };
    const result = sim.run(onSample);
    view?.end();
    json?.end({ verified: result.verified });
    if (toStdout) out.write('\n');
    file?.commit();
    if (summary) {
      const s = summary.finish(result.verified, sim.config as Run['config']);
      if (opts.html !== null && charts) {
        const shown = { run: { ...head, config: head.config as Run['config'], verified: result.verified, samples: charts.finish() }, per: charts.per };
        writeReportHtml(opts.html, { shown, sampleCount: summary.count, summary: s }, label);
      }
      if (!toStdout && !opts.quiet) out.write('\n' + summaryLines(s).join('\n') + '\n');
    }
    if (!toStdout && opts.quiet) out.write(`verified: ${result.verified.ok ? 'ok' : 'FAILED'}, ${(result.verified.bytes / (1 << 20)).toFixed(1)} MiB compared\n`);
    if (!toStdout) {
      if (opts.json !== null) out.write(`wrote ${opts.json}\n`);
      if (opts.html !== null) out.write(`wrote ${opts.html}\n`);
    }
    if (!result.verified.ok) {
      err.write(`memvisor run: the oracle found guest memory that differs from what its guest wrote\n`);
      return 1;
    }
    return 0;
  } catch (e) {
    file?.abort();
    throw e;
  } finally {
    sim.close();
  }
}
