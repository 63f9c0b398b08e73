/**
 * The run-file reader (pure; files.ts reads files): a run's JSON (what `memvisor run --json` writes) checked field by field
 * and turned into a typed `Run`, independent of the simulation's own types. A run file from disk
 * may be anything; a bad one is a `RunFileError` listing each problem with its path
 * (`samples[3].vms["web-1"].GRANT`), the value found and what was expected.
 *
 *   text ──JSON.parse──▶ unknown ──RunChecker: head, then each sample (zod), checks across samples──▶ Run
 *                                        └─ policy fields read by pattern: thresholds, reclaimed
 *
 * Known fields (fields.ts) are checked for type and range when present; only `t`, host
 * `freeMiB` and per VM `MEMSZ` and `GRANT` must be present, so a run without a policy state or
 * without the zip cache still reads (its report leaves those parts out). Unknown fields pass.
 */
import { z } from 'zod';
import { MemvisorError, describe } from '../errors.js';
import { HOST_FIELDS, VM_FIELDS, GUEST_FIELDS, type FieldDoc } from './fields.js';

/** One problem of a run file: where, what it held, what was expected. */
export interface RunProblem {
  path: string;
  value: unknown;
  expected: string;
}

/** Most problems a RunFileError lists (a broken file repeats one mistake thousands of times). */
const MAX_PROBLEMS = 20;

/** A run file that is not a run: every problem found (up to 20), one per line. */
export class RunFileError extends MemvisorError {
  constructor(
    readonly file: string,
    readonly problems: RunProblem[],
    readonly more = 0,
  ) {
    const lines = problems.map((p) => `${file}: ${p.path}: got ${describe(p.value)}, expected ${p.expected}`);
    if (more > 0) lines.push(`${file}: ... and ${more} more problems`);
    super(lines.join('\n'));
  }
}

/** The fields of one VM in one sample (MiB, MiB/s, s/s; see fields.ts). Absent: not reported by this run. */
export interface RunVm {
  MEMSZ: number;
  GRANT: number;
  SZTGT?: number;
  TCHD?: number;
  SHRD?: number;
  ZERO?: number;
  SHRDSVD?: number;
  MCTLSZ?: number;
  MCTLTGT?: number;
  SWCUR?: number;
  SWTGT?: number;
  'SWR/s'?: number;
  'SWW/s'?: number;
  CACHESZ?: number;
  CACHEUSD?: number;
  'ZIP/s'?: number;
  'UNZIP/s'?: number;
  'ZIP/MB'?: number;
  'ZSAVE/MB'?: number;
  trueActiveMiB?: number;
  stall?: number;
  slowdown?: number;
  translation?: number;
  touchesAsked?: number;
  touchesCompleted?: number;
  doublePaging?: number;
  guest?: { freeMiB?: number; cacheMiB?: number; anonMiB?: number; swapMiB?: number; oomEvents?: number };
}

/** The host in one sample (MiB). */
export interface RunHost {
  freeMiB: number;
  machineMiB?: number;
  guestMiB?: number;
  zipMiB?: number;
  pageTablesMiB?: number;
  sharedMiB?: number;
  sharedSavedMiB?: number;
  swapMiB?: number;
  balloonMiB?: number;
  /** the policy's memory state (ESXi: high .. low) */
  state?: string;
  minFreeMiB?: number;
  /** free-memory levels the policy acts at, MiB, by name (ESXi states, KVM watermarks); empty when none */
  thresholds: Record<string, number>;
  /** memory reclaimed by technique as the policy reports it, MiB, by technique; empty when none */
  reclaimed: Record<string, number>;
}

export interface RunSample {
  /** simulated seconds since the start */
  t: number;
  host: RunHost;
  vms: Record<string, RunVm>;
}

/** The parts of a run's resolved scenario that reports show. */
export interface RunConfig {
  duration?: number;
  sampleInterval?: number;
  host?: { machineMemoryMiB?: number; swap?: { tier?: string }; sharing?: { salting?: string } };
  vms?: { name: string; count?: number; memoryMiB?: number; reservationMiB?: number; limitMiB?: number; shares?: number; salt?: number; mmu?: string }[];
  policy?: { kind?: string };
  [key: string]: unknown;
}

/** A run as reports read it. */
export interface Run {
  config: RunConfig;
  seed: number;
  version: string;
  verified: { ok: boolean; bytes: number };
  samples: RunSample[];
}

/** What live views take: anything shaped like a sample (the simulation's Sample is one). */
export interface SampleLike {
  t: number;
  host: object;
  vms: Record<string, object>;
}

// ---- schema ---------------------------------------------------------------------------------

/** The zod type of a documented field; `slowdown` >= 1, sizes and rates >= 0. */
function fieldType(f: FieldDoc): z.ZodType {
  if (f.unit === 'state') return z.string().min(1);
  if (f.key === 'slowdown') return z.number().min(1);
  if (f.key === 'ZSAVE/MB') return z.number();
  return z.number().min(0);
}

function shapeOf(fields: readonly FieldDoc[]): Record<string, z.ZodType> {
  const shape: Record<string, z.ZodType> = {};
  for (const f of fields) shape[f.key] = f.required ? fieldType(f) : fieldType(f).optional();
  return shape;
}

const GuestSchema = z.looseObject(shapeOf(GUEST_FIELDS));
const VmSchema = z.looseObject({ ...shapeOf(VM_FIELDS), guest: GuestSchema.optional() });
const HostSchema = z.looseObject(shapeOf(HOST_FIELDS));
const SampleSchema = z.looseObject({
  t: z.number().min(0),
  host: HostSchema,
  vms: z.record(z.string().min(1), VmSchema),
});

const ConfigSchema = z.looseObject({
  duration: z.number().positive().optional(),
  sampleInterval: z.number().positive().optional(),
  host: z.looseObject({
    machineMemoryMiB: z.number().positive().optional(),
    swap: z.looseObject({ tier: z.string().optional() }).optional(),
    sharing: z.looseObject({ salting: z.string().optional() }).optional(),
  }).optional(),
  vms: z.array(z.looseObject({
    name: z.string(),
    count: z.number().int().min(1).optional(),
    memoryMiB: z.number().positive().optional(),
    reservationMiB: z.number().min(0).optional(),
    limitMiB: z.number().min(0).optional(),
    shares: z.number().min(0).optional(),
    salt: z.number().optional(),
    mmu: z.string().optional(),
  })).optional(),
  policy: z.looseObject({ kind: z.string().optional() }).optional(),
});

/** Every key of a run but `samples`, which are checked one by one (RunChecker). */
const HeadSchema = z.looseObject({
  config: ConfigSchema,
  seed: z.number().int(),
  version: z.string(),
  verified: z.looseObject({ ok: z.boolean(), bytes: z.number().min(0) }),
});

// ---- policy fields by pattern ----------------------------------------------------------------

/** A free-memory level of the policy: `highMiB`, `minMiB`, `thresholdSoftMiB`, `softThresholdMiB`, `wmarkLowMiB`, `watermarkHighMiB`, ... */
const THRESHOLD_KEY = /^(?:(?:threshold|wmark|watermark)([A-Za-z]+)MiB|([a-z]+)(?:Threshold|Wmark|Watermark)?MiB)$/;
/** Bare level names: ESXi's states and Linux's watermarks (min, low, high). */
const LEVEL = /^(high|clear|soft|hard|low|min)$/;
/** Memory reclaimed by a technique: `reclaimedBalloonMiB`, `reclaimed_swap`, ... */
const RECLAIMED_KEY = /^reclaimed_?([A-Za-z][A-Za-z_]*?)(?:_?MiB)?$/;

/** The name of a threshold in `key`, or null when the key is not one. */
export function thresholdName(key: string): string | null {
  if (HOST_FIELDS.some((f) => f.key === key)) return null;
  const m = THRESHOLD_KEY.exec(key);
  if (!m) return null;
  if (m[1]) return (/^w/i.test(key) ? 'wmark ' : '') + m[1].toLowerCase();
  if (/W(mark|atermark)MiB$/.test(key)) return `wmark ${m[2]}`;
  if (/ThresholdMiB$/.test(key) || LEVEL.test(m[2])) return m[2];
  return null;
}

/** The technique `key` reports memory reclaimed by ('reclaimedSharedBeforeSwapMiB': 'shared before swap'), or null. */
export function reclaimedName(key: string): string | null {
  const m = RECLAIMED_KEY.exec(key);
  return m && m[1] !== 'MiB' ? m[1].replace(/_/g, ' ').replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase() : null;
}

/** Reads the policy's levels and reclaim figures out of a host object, recording bad values. */
function policyFields(host: Record<string, unknown>, at: string, problem: (p: RunProblem) => void): Pick<RunHost, 'thresholds' | 'reclaimed'> {
  const thresholds: Record<string, number> = {};
  const reclaimed: Record<string, number> = {};
  const take = (into: Record<string, number>, name: string, value: unknown, path: string) => {
    if (typeof value === 'number' && Number.isFinite(value) && value >= 0) into[name] = value;
    else problem({ path, value, expected: 'a number of MiB >= 0' });
  };
  for (const [k, v] of Object.entries(host)) {
    if (k === 'thresholds' || k === 'reclaimed') {
      if (v === null || typeof v !== 'object' || Array.isArray(v)) {
        problem({ path: `${at}.${k}`, value: v, expected: 'an object of MiB by name' });
        continue;
      }
      for (const [name, x] of Object.entries(v)) take(k === 'thresholds' ? thresholds : reclaimed, name, x, `${at}.${k}${keyText(name)}`);
      continue;
    }
    const tn = thresholdName(k);
    if (tn !== null) take(thresholds, tn, v, `${at}${keyText(k)}`);
    const rn = reclaimedName(k);
    if (rn !== null) take(reclaimed, rn, v, `${at}${keyText(k)}`);
  }
  return { thresholds, reclaimed };
}

// ---- reading --------------------------------------------------------------------------------

/** `.name` for an identifier, `["SWR/s"]` for anything else, `[3]` for an index. */
function keyText(k: PropertyKey): string {
  if (typeof k === 'number') return `[${k}]`;
  const s = String(k);
  return /^[A-Za-z_$][\w$]*$/.test(s) ? `.${s}` : `[${JSON.stringify(s)}]`;
}

/** `samples[3].vms["web-1"].GRANT` from a path. */
export function pathText(path: readonly PropertyKey[]): string {
  const s = path.map(keyText).join('');
  return s.startsWith('.') ? s.slice(1) : s || '(run)';
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v = root;
  for (const k of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[k as string];
  }
  return v;
}

const ARTICLE: Record<string, string> = { int: 'a whole number', number: 'a number', string: 'a string', boolean: 'true or false', object: 'an object', array: 'an array', record: 'an object' };

/** What a zod issue expected, in words. */
function expectedText(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return ARTICLE[issue.expected] ?? issue.expected;
    case 'too_small':
      if (issue.origin === 'array') return `at least ${issue.minimum} item${issue.minimum === 1 ? '' : 's'}`;
      if (issue.origin === 'string') return 'a non-empty string';
      return `a number ${issue.inclusive ? '>=' : '>'} ${issue.minimum}`;
    case 'too_big':
      return `a number ${issue.inclusive ? '<=' : '<'} ${issue.maximum}`;
    default:
      return issue.message;
  }
}

/** A run without its samples: what a run file says about the whole run. */
export type RunHead = Omit<Run, 'samples'>;

/**
 * A run checked piece by piece: its head (every key but `samples`) and its samples in order,
 * each as it comes, so a run read from a file too long to hold (files.ts readRunParts) is
 * checked as a whole run is (parseRun is built on it). Problems are gathered, not thrown, up to
 * MAX_PROBLEMS; `finish` throws them. As for a whole run, problems of shape (zod: the head's,
 * then the samples' in order) are all that is listed when there are any; only without them come
 * the problems across fields (time order, the policy's fields).
 */
export class RunChecker {
  // the head's problems of shape come first whenever the head is checked (a file may hold it last)
  private readonly headShape: RunProblem[] = [];
  private readonly shape: RunProblem[] = [];
  private readonly across: RunProblem[] = [];
  private headCount = 0;
  private shapeCount = 0;
  private acrossCount = 0;
  private lastT: number | null = null;
  /** samples checked */
  count = 0;

  constructor(readonly file = 'run') {}

  /** Checks the head; null when it is not one. */
  head(input: unknown): RunHead | null {
    const r = HeadSchema.safeParse(input);
    if (!r.success) {
      for (const issue of r.error.issues) this.put(this.headShape, { path: pathText(issue.path), value: valueAt(input, issue.path), expected: expectedText(issue) }, 'head');
      return null;
    }
    return { config: r.data.config as RunConfig, seed: r.data.seed, version: r.data.version, verified: r.data.verified };
  }

  /** Checks `samples` when it is not an array of at least one sample (the samples themselves go to `sample`). */
  samplesValue(input: unknown): void {
    if (!Array.isArray(input)) this.put(this.shape, { path: 'samples', value: input, expected: 'an array' }, 'shape');
    else if (input.length === 0) this.put(this.shape, { path: 'samples', value: input, expected: 'at least 1 item' }, 'shape');
  }

  /** Checks the next sample of the run; null when it is not one (its problems are kept). */
  sample(input: unknown): RunSample | null {
    const i = this.count++;
    const s = this.check(input, ['samples', i]);
    if (!s) return null;
    if (this.lastT !== null && !(s.t > this.lastT)) this.put(this.across, { path: `samples[${i}].t`, value: s.t, expected: `a time after samples[${i - 1}].t (${this.lastT})` }, 'across');
    this.lastT = s.t;
    return s;
  }

  /** Throws the problems found, if any (see the class overview). */
  finish(): void {
    const shapeCount = this.headCount + this.shapeCount;
    if (shapeCount) {
      const shape = [...this.headShape, ...this.shape].slice(0, MAX_PROBLEMS);
      throw new RunFileError(this.file, shape, shapeCount - shape.length);
    }
    if (this.acrossCount) throw new RunFileError(this.file, this.across, this.acrossCount - this.across.length);
  }

  /** Checks a sample on its own, outside a run (the live view's): no time order, paths from `host`. */
  lone(input: unknown): RunSample | null {
    return this.check(input, []);
  }

  /** A sample's shape (zod), then the policy's fields read by pattern; `at` is its path. Null when its shape is wrong. */
  private check(input: unknown, at: PropertyKey[]): RunSample | null {
    const r = SampleSchema.safeParse(input);
    if (!r.success) {
      for (const issue of r.error.issues) this.put(this.shape, { path: pathText([...at, ...issue.path]), value: valueAt(input, issue.path), expected: expectedText(issue) }, 'shape');
      return null;
    }
    const s = r.data;
    const fields = policyFields(s.host as Record<string, unknown>, pathText([...at, 'host']), (p) => this.put(this.across, p, 'across'));
    return { t: s.t, host: { ...(s.host as unknown as RunHost), ...fields }, vms: s.vms as unknown as Record<string, RunVm> };
  }

  private put(list: RunProblem[], p: RunProblem, kind: 'head' | 'shape' | 'across'): void {
    if (list.length < MAX_PROBLEMS) list.push(p);
    if (kind === 'head') this.headCount++;
    else if (kind === 'shape') this.shapeCount++;
    else this.acrossCount++;
  }
}

/**
 * Checks `input` (parsed JSON) as a run; `file` names it in errors. Returns the typed run, or
 * throws a RunFileError listing every problem found.
 */
export function parseRun(input: unknown, file = 'run'): Run {
  const c = new RunChecker(file);
  const head = c.head(input);
  const samples: RunSample[] = [];
  if (input !== null && typeof input === 'object' && !Array.isArray(input)) {
    const raw = (input as Record<string, unknown>).samples;
    c.samplesValue(raw);
    if (Array.isArray(raw)) {
      for (const x of raw) {
        const s = c.sample(x);
        if (s) samples.push(s);
      }
    }
  }
  c.finish();
  return { ...head!, samples };
}

/** Checks one sample as it arrives (the live view); `where` names it in errors. */
export function parseSample(input: unknown, where = 'sample'): RunSample {
  const c = new RunChecker(where);
  const s = c.lone(input);
  c.finish();
  return s!;
}

/** Parses run JSON text; `file` names it in errors. */
export function parseRunText(text: string, file = 'run'): Run {
  let input: unknown;
  try {
    input = JSON.parse(text);
  } catch (e) {
    throw new RunFileError(file, [{ path: '(file)', value: text.slice(0, 40), expected: `JSON (${(e as Error).message})` }]);
  }
  return parseRun(input, file);
}

/** VM names of a run in the order they first appear. */
export function vmNames(run: Pick<Run, 'samples'>): string[] {
  const seen = new Set<string>();
  for (const s of run.samples) for (const n of Object.keys(s.vms)) seen.add(n);
  return [...seen];
}

/** The longest string V8 makes (2^29 - 24 UTF-16 units): a run file longer than this cannot be read as one string. */
export const MAX_RUN_TEXT = 0x1fffffe8;

/**
 * A run's JSON written as the run goes: the keys before `samples`, then each sample as it comes,
 * then the keys after, exactly as `JSON.stringify(result, null, 1)` writes the whole, in pieces
 * of about 1 MiB. So a run too long for one string (MAX_RUN_TEXT, about 512 MiB: a day of many
 * VMs at one sample per second) still writes, and `memvisor run` holds no sample it has written.
 *
 *   begin({ config, seed, version })   '{\n "config": ..., ... "samples": ['
 *   sample(s) ...                      '\n  {...}' with commas between
 *   end({ verified })                  '\n ],\n "verified": ...\n}'
 */
export class RunJsonWriter {
  private parts: string[] = [];
  private size = 0;
  private keys = 0;
  private samples = 0;
  private state: 'new' | 'samples' | 'done' = 'new';

  constructor(private readonly write: (chunk: string) => void) {}

  /** Writes `{` and the keys of `head` (each as JSON.stringify at one level of indentation), then opens `samples`. */
  begin(head: object): void {
    if (this.state !== 'new') throw new Error('RunJsonWriter.begin: already begun');
    this.put('{');
    this.fields(head);
    this.put(`${this.keys ? ',' : ''}\n "samples": `);
    this.keys++;
    this.state = 'samples';
  }

  /** Writes the next sample. */
  sample(s: unknown): void {
    if (this.state !== 'samples') throw new Error('RunJsonWriter.sample: not between begin and end');
    this.put(`${this.samples ? ',' : '['}\n  ${(JSON.stringify(s, null, 1) ?? 'null').replace(/\n/g, '\n  ')}`);
    this.samples++;
  }

  /** Closes `samples`, writes the keys of `tail` and `}`, and flushes. */
  end(tail: object = {}): void {
    if (this.state !== 'samples') throw new Error('RunJsonWriter.end: not begun, or ended');
    this.put(this.samples ? '\n ]' : '[]');
    this.fields(tail);
    this.put('\n}');
    this.state = 'done';
    this.flush();
  }

  private fields(o: object): void {
    const r = o as Record<string, unknown>;
    // each value at one level of indentation: JSON text holds no raw newline inside a string,
    // so indenting a value's text is indenting its lines
    for (const k of Object.keys(r)) {
      const text = JSON.stringify(r[k], null, 1);
      if (text === undefined) continue; // skipped, as JSON.stringify skips undefined and functions
      this.put(`${this.keys ? ',' : ''}\n ${JSON.stringify(k)}: ${text.replace(/\n/g, '\n ')}`);
      this.keys++;
    }
  }

  private put(s: string): void {
    this.parts.push(s);
    this.size += s.length;
    if (this.size >= 1 << 20) this.flush();
  }

  private flush(): void {
    if (this.parts.length) this.write(this.parts.join(''));
    this.parts = [];
    this.size = 0;
  }
}

/**
 * Writes `result` (a plain object) exactly as `JSON.stringify(result, null, 1)` would, in pieces of about 1 MiB:
 * its `samples` one by one (RunJsonWriter), so no piece holds more than one sample beyond the 1 MiB.
 */
export function writeRunJson(result: object, write: (chunk: string) => void): void {
  const r = result as Record<string, unknown>;
  const keys = Object.keys(r);
  const at = keys.indexOf('samples');
  if (at < 0 || !Array.isArray(r.samples)) {
    write(JSON.stringify(result, null, 1)); // no samples to write one by one
    return;
  }
  const pick = (ks: string[]) => Object.fromEntries(ks.map((k) => [k, r[k]]));
  const w = new RunJsonWriter(write);
  w.begin(pick(keys.slice(0, at)));
  for (const s of r.samples as unknown[]) w.sample(s);
  w.end(pick(keys.slice(at + 1)));
}
