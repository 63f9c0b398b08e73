/**
 * Scenario files: one zod definition gives the validator, the TypeScript types and the JSON
 * Schema that ships in the package (`memvisor/scenario.schema.json`, generated at build time by
 * scripts/schema.mjs), so a scenario naming it in `$schema` gets completion in an editor.
 *
 *   parseScenario(json) --zod--> ResolvedScenario (every default filled in)
 *                        \-----> ScenarioError: one problem per line, naming the field path
 *                                (vms[2].workload.phases[0].activeMiB), the value and what was
 *                                expected; the CLI exits 2 with them
 *
 * Field checks live in the schema; checks across fields (a reservation within memory, an active
 * set within the guest, names unique once `count` expands) in `crossChecks`. Units are in the
 * names or the descriptions: MiB, simulated seconds, microseconds (costs), cycles (mmu costs).
 */
import { z } from 'zod';
import { MemvisorError, describe } from '../errors.js';
import { POLICY_DEFAULTS, KVM_DEFAULTS } from '../policy/config.js';
import { nodeFilesOrNull } from '../platform.js';
import { pageTableOverhead } from '../host/overhead.js';

const MAX_MACHINE_MIB = 3584;

const num = (d: string) => z.number().describe(d);
const int = (d: string) => z.number().int().describe(d);

export const SkewSchema = z
  .union([z.literal('uniform'), z.strictObject({ zipf: num('Zipf exponent s: page k of the active set is touched with probability proportional to k^-s').gt(0).max(8) })])
  .describe("'uniform', or { zipf: s }");

export const PhaseSchema = z.strictObject({
  at: num('simulated second at which the phase starts').min(0),
  activeMiB: num('MiB of the active set the workload touches (0: idle)').min(0),
  touchesPerSecond: num('page touches per simulated second when nothing stalls the VM').min(0).max(1e9),
  writeFraction: num('share of touches that write (0..1)').min(0).max(1).default(0.2),
  skew: SkewSchema.default('uniform'),
  ramp: num('seconds over which active set and rate move linearly from the previous phase to this one').min(0).default(0),
  release: z.boolean().describe('at the phase start the workload frees its pages beyond the new active set').default(false),
});

export const CONTENT_KINDS = ['os-image', 'zero', 'text', 'binary', 'random', 'unique'] as const;
export const ContentEntrySchema = z.strictObject({
  kind: z.union([z.enum(CONTENT_KINDS), z.strictObject({ image: z.string().min(1).describe('a file whose pages (in order, wrapping) make up these pages') })])
    .describe("'os-image', 'zero', 'text', 'binary', 'random', 'unique', or { image: path }"),
  weight: num('relative share of the workload pages of this kind').gt(0).max(1e6),
});
export const DEFAULT_CONTENT = [
  { kind: 'unique' as const, weight: 6 },
  { kind: 'text' as const, weight: 2 },
  { kind: 'binary' as const, weight: 1 },
  { kind: 'zero' as const, weight: 1 },
];

export const WorkloadSchema = z.strictObject({
  dataset: z.string().min(1).optional().describe('pages of text, binary and random kinds are identical across VMs of the same data set (default: the VM entry name, so the VMs of one `count` share it)'),
  content: z.array(ContentEntrySchema).min(1).max(8).describe('the kinds of content the workload\'s pages hold, by weight').default(DEFAULT_CONTENT),
  phases: z.array(PhaseSchema).max(1000).describe('what the workload touches from each phase\'s start on (none: the VM stays idle)').default([]),
  trace: z.string().min(1).optional().describe('a valgrind lackey trace (plain or gzip) replayed through the VM\'s MMU instead of phases'),
  traceRecordsPerSecond: num('trace records replayed per simulated second').gt(0).max(1e9).default(1e6),
  loop: z.boolean().describe('replay the trace again when it ends').default(true),
});

export const BalloonSchema = z.strictObject({
  enabled: z.boolean().describe('the guest runs a balloon driver').default(true),
  inflateMiBps: num('inflate rate while the guest has free pages, MiB/s (vmw_balloon: 16384 pages/s, non-sleeping allocations)').gt(0).default(64),
  reclaimMiBps: num('inflate rate once the guest must drop cache or swap, MiB/s (vmw_balloon: at most 2048 pages/s, sleeping allocations)').gt(0).default(8),
  deflateMiBps: num('deflate rate, MiB/s (vmw_balloon: up to 16384 pages/s)').gt(0).default(64),
  deflateOnOom: z.boolean().describe('give back 256 pages per guest OOM event (virtio VIRTIO_BALLOON_F_DEFLATE_ON_OOM; default: on under policy kind kvm, else off)').optional(),
  freePageReporting: z.boolean().describe('report free 2 MiB blocks to the host, which drops their backing (virtio VIRTIO_BALLOON_F_REPORTING; default: on under policy kind kvm, else off)').optional(),
  reportDelay: num('seconds a block must stay free before it is reported (Linux PAGE_REPORTING_DELAY, 2 s)').min(0).default(2),
});

export const OsSchema = z.strictObject({
  image: z.string().min(1).describe('OS image name: VMs booting the same image hold identical kernel and page cache pages').default('linux'),
  kernelMiB: num('kernel text and data, MiB: pinned').min(0).default(24),
  cacheMiB: num('page cache of clean OS file pages at boot, MiB: droppable').min(0).default(96),
  anonMiB: num('anonymous memory of OS processes, MiB: dirty, swappable').min(0).default(64),
  swapMiB: num('guest swap device, MiB').min(0).default(1024),
  zeroFreedPages: z.boolean().describe('the guest zeroes pages it frees (Windows does; Linux with init_on_free)').default(false),
  balloon: BalloonSchema.prefault({}),
});

export const VmSchema = z.strictObject({
  name: z.string().min(1).max(64).describe('the VM\'s name in samples and reports (with count > 1: the prefix of name-1 .. name-n)'),
  count: int('identical VMs made of this entry, named name-1 .. name-n').min(1).max(1024).default(1),
  memoryMiB: int('guest memory, MiB').min(1).max(1 << 20),
  reservationMiB: int('machine memory guaranteed, MiB').min(0).default(0),
  limitMiB: int('most machine memory the VM may hold, MiB (default: memoryMiB)').min(1).optional(),
  shares: int('proportional share among VMs (default 1000 per GiB, ESX normal)').min(1).max(1_000_000).optional(),
  salt: int('sharing domain: only VMs of one salt share pages (default: per host.sharing.salting)').min(0).max(0x7fffffff).optional(),
  mmu: z.enum(['none', 'ept', 'shadow']).describe("translation of the VM's touches: 'none' (straight to the pmap), 'ept' (nested paging), 'shadow' (shadow page tables)").default('none'),
  os: OsSchema.prefault({}),
  workload: WorkloadSchema.prefault({}),
});

export const HostSchema = z.strictObject({
  machineMemoryMiB: int('machine RAM, MiB').min(1).max(MAX_MACHINE_MIB),
  cpu: z.strictObject({
    cores: int('physical cores').min(1).max(4096).default(8),
    ghz: num('clock, GHz: MMU cycles become time at this rate; ESX ties the sharing scan rate to cores x GHz').gt(0).max(10).default(2.5),
  }).prefault({}),
  swap: z.strictObject({
    backing: z.enum(['memory', 'file']).describe('where swapped pages are kept: in memory, or in one file per VM (a .vswp)').default('memory'),
    dir: z.string().optional().describe('directory of swap files (backing file)'),
    tier: z.enum(['hostcache', 'ssd', 'hdd']).describe("what host swap (and the guests' virtual disks) sit on: swap-in latency by tier (costs.swapIn)").default('ssd'),
  }).prefault({}),
  sharing: z.strictObject({
    enabled: z.boolean().describe('transparent page sharing on').default(true),
    order: z.enum(['random', 'sequential']).optional().describe("scan order (default: 'random' for the esx scanner, 'sequential' for ksm)"),
    salting: z.enum(['per-vm', 'host']).describe("default salt: 'per-vm' (no sharing between VMs, the ESXi default since 6.0) or 'host' (one salt for all)").default('per-vm'),
    scanner: z.enum(['esx', 'ksm']).optional().describe("scan rate rule (default: 'ksm' under policy kind kvm, else 'esx')"),
    shareScanGHz: num('ESX Mem.ShareScanGHz: most MiB scanned per second per GHz of host CPU').min(0).default(4),
    shareScanTime: num('ESX Mem.ShareScanTime: minutes within which every VM is scanned once').gt(0).default(60),
    pages_to_scan: int('KSM pages_to_scan: pages per wake-up').min(0).default(100),
    sleep_millisecs: num('KSM sleep_millisecs: between wake-ups').gt(0).default(20),
  }).prefault({}),
  compression: z.strictObject({
    cachePercent: int('zip cache per VM, percent of its memory (ESX Mem.MemZipMaxPct); 0: no compression').min(0).max(100).default(10),
  }).prefault({}),
  victimPolicy: z.enum(['random', 'lru']).describe("page-out victims: 'random' (ESX) or 'lru' (a clock over accessed bits; default under policy kind kvm, as Linux's LRU)").optional(),
});

// defaults and their sources: src/policy/config.ts
const PD = POLICY_DEFAULTS, KD = KVM_DEFAULTS;
export const PolicySchema = z.strictObject({
  kind: z.string().min(1).describe("the host policy module (src/policy): 'esx' (ESXi, the default), 'kvm' (a Linux/KVM host), 'basic' (a minimal one), or one an embedding program registered (registerPolicy)").default(PD.kind),
  period: num("seconds between the policy's decisions").gt(0).default(PD.period),
  idleTax: num('idle memory tax, percent (ESX Mem.IdleTax; Waldspurger OSDI 2002 §5.3)').min(0).max(99).default(PD.idleTax),
  samplePeriod: num('working-set sampling period, s (ESX Mem.SamplePeriod)').gt(0).default(PD.samplePeriod),
  samplePages: int('pages sampled per VM and period (Waldspurger 2002 §5.3)').min(1).max(1 << 20).default(PD.samplePages),
  balancePeriod: num('seconds between allocation target updates (ESX Mem.BalancePeriod)').gt(0).default(PD.balancePeriod),
  minFreeMiB: num('free memory the host keeps, MiB (absent: the ESXi sliding scale, 6% of the first 4 GiB, 4% of the next 8, 2% of the next 16, 1% of the rest)').min(0).optional(),
  balloonMaxPercent: int('most of a VM the balloon may hold, percent (ESX Mem.CtlMaxPercent)').min(0).max(100).default(PD.balloonMaxPercent),
  largePages: z.boolean().describe('back guest memory with 2 MiB large pages while memory is plentiful (ESX Mem.AllocGuestLargePage; kvm: transparent huge pages)').default(PD.largePages),
  kvm: z.strictObject({
    watermark_scale_factor: int('kswapd watermark distance, 1/10000 of memory (Linux vm.watermark_scale_factor; 0: low = 5/4 min, high = 3/2 min)').min(0).max(3000).default(KD.watermark_scale_factor),
    min_free_kbytes: int('free memory below which allocations reclaim directly, KiB (Linux vm.min_free_kbytes; absent: 4 sqrt(memory KiB))').min(128).max(1 << 22).optional(),
    max_page_sharing: int('most guest pages one KSM page backs (Linux KSM max_page_sharing)').min(2).max(1 << 20).default(KD.max_page_sharing),
    max_pool_percent: int('most machine memory the zswap pool holds, percent (Linux zswap max_pool_percent)').min(0).max(100).default(KD.max_pool_percent),
  }).prefault({}),
});

const us = (d: string, v: number) => num(`${d}, microseconds`).min(0).max(1e7).default(v);
const tiers = (d: string, h: number, s: number, hd: number) =>
  z.strictObject({ hostcache: us(`${d} on a host cache SSD`, h), ssd: us(`${d} on an SSD datastore`, s), hdd: us(`${d} on an HDD datastore`, hd) }).prefault({});

export const CostsSchema = z.strictObject({
  hit: us('a touch that hits, beyond the workload\'s own pace', 0),
  guestPageFault: us('a guest page fault allocating a page (mmu none; with an MMU the core\'s guestPageFault cycles)', 1),
  vmExit: us('a VM exit and entry around a host fault (mmu none; with an MMU the core\'s vmExit cycles)', 0.4),
  firstTouch: us('the host backs a page on first touch: allocate and zero a frame', 1.5),
  cowBreak: us('copy-on-write break: allocate and copy 4 KiB', 2),
  decompress: us('fault on a zip cache page: LZ4 decompress into a frame', 1.5),
  compress: us('compress a page into the zip cache on the fault path (direct reclaim)', 4),
  swapIn: tiers('swap-in of one page', 100, 250, 8000),
  swapOut: tiers('swap-out of one page on the fault path (written in clusters)', 15, 40, 400),
  balloonInflate: us('balloon driver: pin one page and hand it over', 2),
  balloonDeflate: us('balloon driver: take one page back', 1),
  guestIo: us("the guest's virtual disk request beyond the device latency (guest swap)", 10),
  guestZero: us('the guest zeroes a freed page', 0.5),
  mmu: z.record(z.string(), z.number().int().min(0).max(2 ** 31)).describe('cycles per MMU event (Mmu CostModel names: tlbL1Hit, walkRef, vmExit, ...)').default({}),
});

export const ScenarioSchema = z.strictObject({
  $schema: z.string().optional(),
  description: z.string().max(4000).optional().describe('what the scenario shows and why its constants are set as they are (free text, carried into the run\'s config)'),
  seed: int('seed of every random choice').min(0).max(Number.MAX_SAFE_INTEGER).default(1),
  duration: num('simulated seconds').gt(0).max(1e6),
  sampleInterval: num('simulated seconds between samples').gt(0).default(1),
  step: num('longest simulated interval of touches between periodic components, s').gt(0).max(10).default(0.1),
  content: z.strictObject({
    source: z.enum(['auto', 'files', 'generated']).describe("OS images from real files on this machine ('files'), generated from the seed ('generated'), or files when enough exist ('auto'); the resolved config says which ran").default('auto'),
    roots: z.array(z.string().min(1)).min(1).describe("directories whose regular files (sorted, whole pages) make the OS images when source is 'files' or 'auto'").default(['/usr/lib', '/usr/bin', '/usr/share']),
  }).prefault({}),
  host: HostSchema,
  vms: z.array(VmSchema).min(1).max(4096),
  policy: PolicySchema.prefault({}),
  costs: CostsSchema.prefault({}),
});

export type ScenarioInput = z.input<typeof ScenarioSchema>;
export type Scenario = z.output<typeof ScenarioSchema>;
export type VmScenario = Scenario['vms'][number];
export type PhaseScenario = z.output<typeof PhaseSchema>;
export type CostsScenario = Scenario['costs'];

/** One problem of a scenario: where, what it held, what was expected. */
export interface ScenarioProblem {
  path: string;
  value: unknown;
  expected: string;
}

/** An invalid scenario: every problem found, one per line. */
export class ScenarioError extends MemvisorError {
  constructor(readonly problems: ScenarioProblem[]) {
    super(problems.map((p) => `${p.path}: got ${describe(p.value)}, expected ${p.expected}`).join('\n'));
  }
}

/** `vms[2].workload.phases[0].activeMiB` from a zod path. */
export function pathText(path: readonly PropertyKey[]): string {
  let s = '';
  for (const k of path) s += typeof k === 'number' ? `[${k}]` : s === '' ? String(k) : `.${String(k)}`;
  return s || '(scenario)';
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v = root;
  for (const k of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}

/** What a zod issue expected, in the project's words. */
function expectedText(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'too_big':
      return `${issue.origin === 'array' ? 'at most' : issue.inclusive ? 'at most' : 'below'} ${issue.maximum}${issue.origin === 'array' ? ' entries' : ''}`;
    case 'too_small':
      return `${issue.origin === 'array' ? 'at least' : issue.inclusive ? 'at least' : 'above'} ${issue.minimum}${issue.origin === 'array' ? ' entries' : ''}`;
    case 'invalid_type':
      return issue.expected === 'int' ? 'an integer' : `${/^[aeiou]/.test(issue.expected) ? 'an' : 'a'} ${issue.expected}`;
    case 'invalid_value':
      return `one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'invalid_union':
      return schemaAt(issue.path)?.description ?? 'one of the allowed forms';
    case 'not_multiple_of':
      return `a multiple of ${issue.divisor}`;
    default:
      return issue.message;
  }
}

/** Problems of a zod result, one per issue (an unknown key is one problem per key). */
function zodProblems(input: unknown, issues: readonly z.core.$ZodIssue[]): ScenarioProblem[] {
  const out: ScenarioProblem[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      const at = valueAt(input, issue.path);
      const known = Object.keys(shapeAt(issue.path));
      for (const k of issue.keys) out.push({ path: pathText([...issue.path, k]), value: (at as Record<string, unknown>)?.[k], expected: `no such field${known.length ? ` (known: ${known.join(', ')})` : ''}` });
      continue;
    }
    if (issue.code === 'invalid_union' && issue.errors.length) {
      // the branch whose issues went deepest says best what was wrong
      const best = issue.errors.reduce((a, b) => (Math.max(0, ...b.map((i) => i.path.length)) > Math.max(0, ...a.map((i) => i.path.length)) ? b : a));
      if (best.some((i) => i.path.length > 0)) {
        out.push(...zodProblems(valueAt(input, issue.path), best).map((p) => ({ ...p, path: joinPath(issue.path, p.path) })));
        continue;
      }
    }
    out.push({ path: pathText(issue.path), value: valueAt(input, issue.path), expected: expectedText(issue) });
  }
  return out;
}

function joinPath(prefix: readonly PropertyKey[], rest: string): string {
  const head = pathText(prefix);
  if (head === '(scenario)') return rest;
  return rest === '(scenario)' ? head : rest.startsWith('[') ? head + rest : `${head}.${rest}`;
}

/** The schema of the field at `path` of a scenario (undefined where the path leaves the schema). */
function schemaAt(path: readonly PropertyKey[]): z.ZodType | undefined {
  let s: z.ZodType | undefined = ScenarioSchema;
  for (const k of path) {
    s = unwrap(s);
    if (s instanceof z.ZodObject) s = (s.shape as Record<string, z.ZodType>)[String(k)];
    else if (s instanceof z.ZodArray) s = s.element as z.ZodType;
    else if (s instanceof z.ZodUnion) s = (s.options as z.ZodType[]).map(unwrap).find((o) => o instanceof z.ZodObject && String(k) in o.shape);
    else return undefined;
    if (!s) return undefined;
  }
  return s;
}

/** The field names an object schema at `path` of the scenario knows (for "known: ..."). */
function shapeAt(path: readonly PropertyKey[]): Record<string, unknown> {
  let s = schemaAt(path);
  if (!s) return {};
  s = unwrap(s);
  if (s instanceof z.ZodUnion) s = (s.options as z.ZodType[]).find((o) => unwrap(o) instanceof z.ZodObject) ?? s;
  s = unwrap(s);
  return s instanceof z.ZodObject ? (s.shape as Record<string, unknown>) : {};
}
function unwrap(s: z.ZodType): z.ZodType {
  while (s instanceof z.ZodDefault || s instanceof z.ZodOptional || s instanceof z.ZodPrefault) s = s.unwrap() as z.ZodType;
  return s;
}

/** MiB of a phase's active set as pages. */
export const mibPages = (mib: number): number => Math.round(mib * 256);

/** Problems across fields of a parsed scenario (names, budgets, ranges that depend on other fields). */
function crossChecks(s: Scenario, files: boolean): ScenarioProblem[] {
  const out: ScenarioProblem[] = [];
  const names = new Map<string, string>();
  let reserved = 0, tables = 0, admissionSaid = false;
  let guestMiB = 0, vmCount = 0;
  if (s.step > s.sampleInterval) out.push({ path: 'step', value: s.step, expected: `at most sampleInterval (${s.sampleInterval})` });
  s.vms.forEach((vm, i) => {
    const at = `vms[${i}]`;
    const expanded = vm.count === 1 ? [vm.name] : Array.from({ length: vm.count }, (_, k) => `${vm.name}-${k + 1}`);
    for (const n of expanded) {
      const prev = names.get(n);
      if (prev) out.push({ path: `${at}.name`, value: vm.name, expected: `a name not used by another VM (${JSON.stringify(n)} is also made by ${prev})` });
      else names.set(n, at);
    }
    vmCount += vm.count;
    guestMiB += vm.memoryMiB * vm.count;
    if (vm.reservationMiB > vm.memoryMiB) out.push({ path: `${at}.reservationMiB`, value: vm.reservationMiB, expected: `at most memoryMiB (${vm.memoryMiB})` });
    // the host's admission control (Host.addVm): every VM's reservation and the page tables the
    // hypervisor sets aside for it fit in machine memory, VM after VM in this order
    const tablesMiB = pageTableOverhead(vm.memoryMiB * 256) / 256;
    reserved += vm.reservationMiB * vm.count;
    tables += tablesMiB * vm.count;
    if (reserved + tables > s.host.machineMemoryMiB && !admissionSaid) {
      const sum = `reservations (${reserved} MiB) and the page tables the hypervisor sets aside for the VMs (${+tables.toFixed(2)} MiB)`;
      if (vm.reservationMiB > 0) out.push({ path: `${at}.reservationMiB`, value: vm.reservationMiB, expected: `${sum} within host.machineMemoryMiB (${s.host.machineMemoryMiB}) up to this VM` });
      else out.push({ path: `${at}.memoryMiB`, value: vm.memoryMiB, expected: `${sum} within host.machineMemoryMiB (${s.host.machineMemoryMiB}) up to this VM: a smaller VM, or fewer` });
      admissionSaid = true; // say it once
    }
    if (vm.limitMiB !== undefined && (vm.limitMiB > vm.memoryMiB || vm.limitMiB < Math.max(1, vm.reservationMiB))) {
      out.push({ path: `${at}.limitMiB`, value: vm.limitMiB, expected: `between reservationMiB (${vm.reservationMiB}) and memoryMiB (${vm.memoryMiB})` });
    }
    const os = vm.os;
    const osMiB = os.kernelMiB + os.cacheMiB + os.anonMiB;
    const room = vm.memoryMiB - ptReserveMiB(vm);
    if (osMiB > room) out.push({ path: `${at}.os`, value: `${osMiB} MiB`, expected: `kernelMiB + cacheMiB + anonMiB within memoryMiB (${room} MiB${vm.mmu === 'none' ? '' : ' once the MMU page tables are reserved'})` });
    const wl = vm.workload;
    if (wl.trace !== undefined) {
      if (wl.phases.length > 0) out.push({ path: `${at}.workload.phases`, value: wl.phases, expected: 'no phases with a trace workload (the trace sets the pace)' });
      if (vm.mmu === 'none') out.push({ path: `${at}.mmu`, value: vm.mmu, expected: "'ept' or 'shadow' (a trace replays through the VM's MMU)" });
      const why = files ? readable(wl.trace) : null;
      if (why !== null) out.push({ path: `${at}.workload.trace`, value: wl.trace, expected: `a readable trace file${why}` });
    }
    const workRoom = room - os.anonMiB;
    wl.phases.forEach((ph, j) => {
      const p = `${at}.workload.phases[${j}]`;
      if (j > 0 && ph.at <= wl.phases[j - 1].at) out.push({ path: `${p}.at`, value: ph.at, expected: `a start after phases[${j - 1}].at (${wl.phases[j - 1].at})` });
      // with the OS too big for the VM, the room left for a working set is not the problem: the os is
      if (ph.activeMiB > workRoom && osMiB <= room) out.push({ path: `${p}.activeMiB`, value: ph.activeMiB, expected: `at most ${workRoom} (memoryMiB ${vm.memoryMiB} less os.anonMiB ${os.anonMiB}${vm.mmu === 'none' ? '' : ' and the page-table reserve'})` });
      if (j === 0 && ph.ramp > 0) out.push({ path: `${p}.ramp`, value: ph.ramp, expected: '0 for the first phase (nothing to ramp from)' });
    });
    wl.content.forEach((c, j) => {
      const why = files && typeof c.kind === 'object' ? readable(c.kind.image) : null;
      if (why !== null) out.push({ path: `${at}.workload.content[${j}].kind.image`, value: (c.kind as { image: string }).image, expected: `a readable file of at least 4096 bytes${why}` });
    });
  });
  if (vmCount > 4096) out.push({ path: 'vms', value: `${vmCount} VMs`, expected: 'at most 4096 VMs once count expands' });
  if (guestMiB > 1 << 22) out.push({ path: 'vms', value: `${guestMiB} MiB`, expected: 'guest memory of all VMs within 4 TiB' });
  if (s.host.swap.backing === 'file' && s.host.swap.dir !== undefined && files && !isDir(s.host.swap.dir)) {
    out.push({ path: 'host.swap.dir', value: s.host.swap.dir, expected: 'a directory' });
  }
  return out;
}

/** MiB an MMU guest OS model reserves at the top of a VM for its page tables. */
export function ptReserveMiB(vm: { mmu: string; memoryMiB: number }): number {
  if (vm.mmu === 'none') return 0;
  // 4-level tables over the whole VM: one leaf table per 2 MiB, upper levels, and a margin
  const pages = Math.ceil((vm.memoryMiB * 256) / 512) + Math.ceil((vm.memoryMiB * 256) / 262144) + 16;
  return Math.ceil(pages / 256);
}

/** Without Node's files (a browser, the main entry alone) a scenario file's path cannot be checked or read. */
const NEEDS_NODE = " (files need Node: import from 'memvisor/node')";

/** null when `path` is a regular file of at least one page; else what to add to the expectation ('', or that files need Node). */
function readable(path: string): string | null {
  const files = nodeFilesOrNull();
  if (!files) return NEEDS_NODE;
  const info = files.pathInfo(path);
  return info !== null && info.kind === 'file' && info.size >= 4096 ? null : '';
}
/** True when `path` is a directory, or cannot be checked here (without Node's files the Host refuses file swap itself, naming swap.backing). */
function isDir(path: string): boolean {
  const files = nodeFilesOrNull();
  return files === null || files.pathInfo(path)?.kind === 'dir';
}

/**
 * Validates `input` (parsed JSON) and fills every default. `files`: also check that files the
 * scenario names exist (default true). `policies`: the policy kinds that exist (default: any).
 * Throws ScenarioError with every problem found.
 */
export function parseScenario(input: unknown, opts: { files?: boolean; policies?: readonly string[] } = {}): Scenario {
  const r = ScenarioSchema.safeParse(input);
  if (!r.success) throw new ScenarioError(zodProblems(input, r.error.issues));
  const problems = crossChecks(r.data, opts.files ?? true);
  if (opts.policies && !opts.policies.includes(r.data.policy.kind)) {
    problems.push({ path: 'policy.kind', value: r.data.policy.kind, expected: `one of ${opts.policies.map((k) => `'${k}'`).join(', ')}` });
  }
  if (problems.length) throw new ScenarioError(problems);
  const s = r.data;
  // defaults that depend on other fields
  s.host.sharing.scanner ??= s.policy.kind === 'kvm' ? 'ksm' : 'esx';
  s.host.sharing.order ??= s.host.sharing.scanner === 'ksm' ? 'sequential' : 'random';
  // a KVM host: Linux's LRU picks victims; the guest's virtio balloon gives memory back only by
  // free page reporting and deflate-on-OOM (the host never sets a balloon target)
  const kvm = s.policy.kind === 'kvm';
  s.host.victimPolicy ??= kvm ? 'lru' : 'random';
  for (const vm of s.vms) {
    vm.os.balloon.deflateOnOom ??= kvm;
    vm.os.balloon.freePageReporting ??= kvm;
    vm.limitMiB ??= vm.memoryMiB;
    vm.shares ??= Math.max(1, Math.round((vm.memoryMiB / 1024) * 1000));
    vm.workload.dataset ??= vm.name;
  }
  return s;
}

/** The JSON Schema of a scenario file (what scripts/schema.mjs writes into the package). */
export function scenarioJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(ScenarioSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return { ...schema, $id: 'https://memvisor.dev/scenario.schema.json', title: 'memvisor scenario' };
}
