/**
 * Simulation: a scenario run on simulated time. One Host with its VMs, a guest OS in each VM
 * (src/guest), each guest's workload (src/workload), a policy (src/policy) and the periodic
 * components, all on one clock:
 *
 *   Simulation.create(scenario) ── validate ── Host + VMs ── images ── guests boot (t = 0)
 *   advance(seconds):  ┌─ touches of every VM for up to one step (WebAssembly, batches) ─┐
 *                      │    a reason code ─▶ resolve (swap-in, reclaim, guest swap) ─▶ go on │
 *                      └─ at each due time: phase releases, balloon drivers (1 s), sharing │
 *                         scanner (its rate), policy hooks (their periods), sampler ───────┘
 *   run(onSample) ── advance to `duration` ── verify every VM's memory ── RunResult (the JSON)
 *
 * A VM's step (runVm, runTrace) runs through the fault driver (src/engine/driver.ts; the step's
 * side in step.ts): host stops go to the guest's resolver, which has resolveHostFault act and
 * charges the VM what it cost; guest requests go to the guest.
 */
import { Host, type Stats } from '../host/host.js';
import type { VM } from '../host/vm.js';
import type { Mmu } from '../translate/mmu.js';
import { ConfigError, MemvisorError } from '../errors.js';
import { VERSION } from '../version.js';
import { nodeFiles } from '../platform.js';
import { engineOf, type Engine } from '../engine/engine.js';
import { Reason, type Guest } from '../engine/guest.js';
import { drive } from '../engine/driver.js';
import { asGppn, asGva, type Gppn } from '../engine/addr.js';
import { ContentKind } from '../engine/workload.js';
import type { HostNeed } from '../engine/fault.js';
import { GuestOs, type GuestHost } from '../guest/guest.js';
import { planContent, loadContent, type ContentPlan } from '../workload/images.js';
import { nameKey } from '../workload/keys.js';
import { workloadAt, workloadPages, type WorkloadNow } from '../workload/phases.js';
import { createPolicy, policyKinds, type Policy, type PolicyContext, type PolicyVm } from '../policy/index.js';
import { parseScenario, mibPages, ptReserveMiB, type Scenario, type VmScenario } from './scenario.js';
import { resolveCosts, newPageNs, type ResolvedCosts } from './costs.js';
import { Clock, toUs } from './clock.js';
import { buildSample, type Sample, type VmClock } from './sample.js';
import { TouchStep, TraceChunk } from './step.js';

/** What a run reports: the JSON `memvisor run --json` writes. */
export interface RunResult {
  /** the scenario as run: every default filled in, content.source resolved */
  config: Scenario;
  seed: number;
  /** memvisor's version */
  version: string;
  /** one per sampleInterval (empty when the Simulation was made with keepSamples: false) */
  samples: Sample[];
  /** the nothing-lost oracle over the whole run: every page every guest owns compared with what it wrote */
  verified: Verified;
}

export interface Verified {
  ok: boolean;
  /** bytes compared */
  bytes: number;
}

export { VERSION };

/** Base of the workload's guest-virtual addresses (through an MMU). */
const VA_BASE = asGva(1n << 40n);
const K_OF: Record<string, ContentKind> = { zero: ContentKind.Zero, text: ContentKind.Text, binary: ContentKind.Binary, random: ContentKind.Random, unique: ContentKind.Unique };

/** A VM of the run: the host's VM, its guest, its workload state and accounting. */
class SimVm {
  balloonTarget = 0;
  sizeTarget = 0;
  activeEstimate = 0;
  trueActive = 0;
  /** fractional touches carried to the next step */
  frac = 0;
  /** simulated ns the VM overran its last step by (<= 0), repaid by the next */
  carryNs = 0;
  /** touches asked so far */
  asked = 0;
  cur: WorkloadNow | null = null;
  core: Mmu | null = null;
  /** a trace workload: its binary records and the byte where replay goes on */
  trace: { records: Uint8Array; pos: number } | null = null;

  constructor(
    readonly vm: VM,
    readonly guest: GuestOs,
    readonly cfg: VmScenario,
    readonly anonPages: number,
    readonly vpages: number,
  ) {}

  get name(): string {
    return this.vm.name;
  }
  get memoryPages(): number {
    return this.vm.pages;
  }
  get reservationPages(): number {
    return this.vm.reservationMiB * 256;
  }
  get limitPages(): number {
    return this.vm.limitMiB * 256;
  }
  get shares(): number {
    return this.vm.shares;
  }
  get resident(): number {
    return this.vm.residentPages;
  }
}

export interface SimulationOptions {
  /** module flavour (default: the engine's default) */
  flavor?: 'release' | 'debug';
  /** a policy object to run instead of the one `policy.kind` names (an embedding program's own) */
  policy?: Policy;
  /** check every invariant of host and guests at each sample (default: with the debug module, as tests run) */
  audit?: boolean;
  /** the compiled engine, for a program that loads it itself (a browser); as HostConfig.module */
  module?: WebAssembly.Module;
  /**
   * keep every sample for `allSamples` and the result (default true). false: samples go only to
   * the listeners (onSample, run's callback, advance's return), so a run of any length holds no
   * more memory than a short one; `memvisor run` streams its JSON, summary and report this way.
   */
  keepSamples?: boolean;
}

export class Simulation implements GuestHost {
  readonly config: Scenario;
  readonly host: Host;
  readonly costs: ResolvedCosts;
  /** The host's engine: its guest OS models, contents and pmap counters. */
  private readonly engine: Engine;
  private readonly se: Guest;
  private readonly vms: SimVm[] = [];
  private readonly byId = new Map<number, SimVm>();
  private readonly clock = new Clock();
  private readonly policy: Policy;
  private readonly ctx: PolicyContext | undefined;
  private readonly samples: Sample[] = [];
  private readonly listeners: ((s: Sample) => void)[] = [];
  private prevStats: Stats;
  private prevSampleUs = 0;
  private readonly keepSamples: boolean;
  /** the samples of the advance in progress, while it returns them */
  private recent: Sample[] = [];
  private collect = false;
  /** start of the window the true working set is counted over, and whether one has closed yet */
  private windowStartUs = 0;
  private windowClosed = false;
  private readonly prevClocks = new Map<string, VmClock>();
  private scanRate: number | null = null;
  private scanFrac = 0;
  private policyRng: number;
  private rotate = 0;
  private closed = false;
  private readonly auditEachSample: boolean;

  private constructor(config: Scenario, host: Host, plan: ContentPlan, opts: SimulationOptions) {
    this.config = config;
    this.host = host;
    this.engine = engineOf(host);
    this.se = this.engine.guest;
    this.auditEachSample = opts.audit ?? this.engine.flavor === 'debug';
    this.keepSamples = opts.keepSamples ?? true;
    this.costs = resolveCosts(config.costs, config.host.swap.tier, config.host.cpu.ghz);
    config.content.source = loadContent(this.engine.workload, plan, config.content.source, config.content.roots, config.seed);
    this.policyRng = (config.seed ^ 0x5bd1e995) >>> 0 || 1;
    this.policy = opts.policy ?? createPolicy(config.policy);
    config.policy.kind = this.policy.kind;
    // guests boot here: a host too small for every OS reclaims (the host's relief: no policy runs before t = 0)
    for (const cfg of config.vms) {
      const names = cfg.count === 1 ? [cfg.name] : Array.from({ length: cfg.count }, (_, k) => `${cfg.name}-${k + 1}`);
      for (const name of names) this.addVm(name, cfg, plan);
    }
    this.ctx = this.policyContext();
    this.schedule();
    // from now on every fault that finds no frame (or a VM at its limit) asks the policy first,
    // whichever path met it: a touch, a swap-in, a guest's own page-out
    host.setRelief((vm, need) => {
      const v = this.byId.get(vm.id);
      return v !== undefined && this.ctx !== undefined && (this.policy.relieve?.(this.ctx, policyView(v), need) ?? false);
    });
    this.prevStats = host.stats();
    this.clock.fire();
  }

  /** Validates `scenario` (a parsed JSON value or a Scenario), builds the host, its VMs and their guests, and boots them. */
  static async create(scenario: unknown, opts: SimulationOptions = {}): Promise<Simulation> {
    if (opts.keepSamples !== undefined && typeof opts.keepSamples !== 'boolean') throw new ConfigError('keepSamples', opts.keepSamples, 'true or false');
    const config = parseScenario(scenario, { policies: opts.policy ? undefined : policyKinds() });
    const plan = planContent(config);
    const vmCount = config.vms.reduce((a, v) => a + v.count, 0);
    const mmuVms = config.vms.reduce((a, v) => a + (v.mmu === 'none' ? 0 : v.count), 0);
    const host = await Host.create({
      machineMemoryMiB: config.host.machineMemoryMiB,
      seed: config.seed,
      flavor: opts.flavor,
      module: opts.module,
      maxVMs: vmCount,
      guestMemoryMiB: Math.max(64, config.vms.reduce((a, v) => a + v.memoryMiB * v.count, 0)),
      swap: { backing: config.host.swap.backing, dir: config.host.swap.dir },
      sharing: { order: config.host.sharing.order, salting: config.host.sharing.salting },
      compression: { cachePercent: config.host.compression.cachePercent },
      victimPolicy: config.host.victimPolicy,
      balloonMaxPercent: config.policy.balloonMaxPercent,
      // VMs may take 2 MiB large pages; the esx and kvm policies say when (the basic one never breaks them)
      largePages: config.policy.largePages && config.policy.kind !== 'basic',
      sim: { contentPages: plan.pages, maxMmus: mmuVms + 1 },
    });
    try {
      return new Simulation(config, host, plan, opts);
    } catch (e) {
      host.close();
      throw e;
    }
  }

  /** Adds VM `name` of scenario entry `cfg`: host VM, MMU core, guest set-up and boot. */
  private addVm(name: string, cfg: VmScenario, plan: ContentPlan): void {
    const se = this.se;
    const vm = this.host.addVM({
      name, memoryMiB: cfg.memoryMiB, reservationMiB: cfg.reservationMiB, limitMiB: cfg.limitMiB, shares: cfg.shares,
      salt: cfg.salt, mmu: cfg.mmu === 'shadow' ? 'shadow' : 'ept',
    });
    const id = vm.id;
    const kernel = mibPages(cfg.os.kernelMiB), cache = mibPages(cfg.os.cacheMiB), anon = mibPages(cfg.os.anonMiB);
    const vpages = anon + (cfg.workload.trace === undefined ? workloadPages(cfg.workload.phases) : 0);
    let resLo = vm.pages, core: Mmu | null = null;
    const traced = cfg.workload.trace !== undefined;
    if (cfg.mmu !== 'none') {
      // a trace's guest process gets its pages from the MMU's guest OS model (demand paging), so
      // that model owns everything above the OS; otherwise only the page tables of the workload
      const reserve = traced ? vm.pages - (kernel + cache + anon) : Math.min(vm.pages - 1, ptReserveMiB(cfg) * 256);
      resLo = vm.pages - reserve;
      core = this.host.mmu({ demandPaging: traced, costs: this.costs.mmu });
      core.attach(vm, { guestOs: { firstGppn: resLo, pages: reserve } });
    }
    if (!se.guestSetup(id, kernel, cache, anon, vpages, asGppn(resLo), asGppn(vm.pages))) {
      throw new MemvisorError(`VM ${JSON.stringify(name)}: its guest OS (${kernel + cache + anon} pages) and workload (${vpages} pages) do not fit in ${vm.pages} pages`);
    }
    const key53 = (k: bigint) => Number(k & ((1n << 53n) - 1n));
    se.set(id, 'dataKey', key53(nameKey(this.config.seed, `data:${cfg.workload.dataset}`)));
    se.set(id, 'vmKey', key53(nameKey(this.config.seed, `vm:${name}`)));
    se.set(id, 'rng', key53(nameKey(this.config.seed, `rng:${name}`)));
    se.set(id, 'imgAt', plan.os.get(cfg.os.image)!.index);
    // content mix: cumulative weights as 32-bit thresholds (the last one takes the rest)
    const total = cfg.workload.content.reduce((a, c) => a + c.weight, 0);
    let cum = 0;
    cfg.workload.content.forEach((c, i) => {
      cum += c.weight;
      const last = i === cfg.workload.content.length - 1;
      const thr = last ? 0xffffffff : Math.min(0xffffffff, Math.floor((cum / total) * 2 ** 32) - 1);
      if (typeof c.kind === 'object') se.setMix(id, i, thr, ContentKind.Image, plan.files.get(c.kind.image)!.index);
      else if (c.kind === 'os-image') se.setMix(id, i, thr, ContentKind.Image, plan.os.get(cfg.os.image)!.index);
      else se.setMix(id, i, thr, K_OF[c.kind], 0);
    });
    const c = this.costs;
    se.setF(id, 'hitNs', c.hitNs);
    se.setF(id, 'guestPfNs', c.guestPageFaultNs);
    se.setF(id, 'exitNs', c.vmExitNs);
    se.setF(id, 'firstTouchNs', c.firstTouchNs);
    se.setF(id, 'cowNs', c.cowBreakNs);
    se.setF(id, 'unzipNs', c.decompressNs);
    se.setF(id, 'nsPerCycle', c.nsPerCycle);
    se.setF(id, 'newPageNs', newPageNs(c, cfg.mmu));
    if (core) se.attachCore(id, core.ctx, VA_BASE);
    const guest = new GuestOs(se, this, vm, cfg, c);
    const v = new SimVm(vm, guest, cfg, anon, vpages);
    v.core = core;
    if (traced) v.trace = { records: nodeFiles('workload.trace', cfg.workload.trace, 'a trace workload').loadTrace(cfg.workload.trace!), pos: 0 };
    this.vms.push(v);
    this.byId.set(id, v);
    guest.boot();
  }

  /** The policy's view of the run. */
  private policyContext(): PolicyContext {
    const self = this;
    return {
      get now() {
        return self.clock.now;
      },
      host: this.host,
      vms: Object.freeze(this.vms.map((v) => policyView(v))),
      config: this.config.policy,
      machinePages: this.engine.machineFrames,
      freePages: () => this.host.frameCounts().free,
      hostStats: () => this.host.stats().host,
      every: (periodS, hook) => this.clock.every('policy', periodS, () => hook()),
      pageOut: (v, pages) => this.host.vm(v.name).pageOut(Math.min(pages, this.host.vm(v.name).pages)),
      setScanRate: (pps) => {
        this.scanRate = pps;
      },
      scanRuleRate: () => this.ruleScanPagesPerSecond(),
      random: () => {
        // xorshift32: the policy's own stream, apart from the workloads'
        let x = this.policyRng;
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        this.policyRng = x >>> 0;
        return this.policyRng / 2 ** 32;
      },
    };
  }

  /** Registers the periodic components, in the order they run at one instant. */
  private schedule(): void {
    const c = this.config;
    for (const v of this.vms) {
      v.cfg.workload.phases.forEach((p, j) => {
        if (!p.release) return;
        this.clock.at(`release ${v.name} phase ${j}`, p.at, () => v.guest.release(v.anonPages + mibPages(p.activeMiB), v.vpages));
      });
    }
    this.clock.every('balloon', 1, () => {
      for (const v of this.vms) {
        v.guest.balloonTarget = v.balloonTarget;
        v.guest.balloonPoll(1);
        v.guest.reportFree();
      }
    });
    if (c.host.sharing.enabled) {
      const ksm = c.host.sharing.scanner === 'ksm';
      const period = ksm ? c.host.sharing.sleep_millisecs / 1000 : 1;
      this.clock.every('sharing scanner', period, () => this.scan(period));
    }
    this.policy.start(this.ctx!);
    this.clock.every('sampler', c.sampleInterval, () => this.sample());
  }

  /** Pages the sharing scanner visits per simulated second under the scenario's rule (or the policy's). */
  scanPagesPerSecond(): number {
    return this.scanRate ?? this.ruleScanPagesPerSecond();
  }

  /** Pages the sharing scanner visits per simulated second under the scenario's rule alone. */
  private ruleScanPagesPerSecond(): number {
    const sh = this.config.host.sharing;
    if (sh.scanner === 'ksm') return sh.pages_to_scan / (sh.sleep_millisecs / 1000);
    // ESX: every VM within Mem.ShareScanTime, at most Mem.ShareScanGHz MiB/s per GHz of the host
    const all = this.vms.reduce((a, v) => a + v.memoryPages, 0);
    const cap = sh.shareScanGHz * this.config.host.cpu.cores * this.config.host.cpu.ghz * 256;
    return Math.min(all / (sh.shareScanTime * 60), cap);
  }

  private scan(period: number): void {
    const want = this.scanPagesPerSecond() * period + this.scanFrac;
    const n = Math.floor(want);
    this.scanFrac = want - n;
    if (n > 0) this.host.shareScan(n);
  }

  // ---- time ------------------------------------------------------------------------------------

  /** Simulated seconds since the start. */
  get now(): number {
    return this.clock.now;
  }

  /**
   * Advances simulated time by `seconds`, but not past the scenario's `duration` (the run a
   * scenario describes ends there: `now` says where it stopped); returns the samples taken meanwhile.
   */
  advance(seconds: number): Sample[] {
    return this.advanceBy(seconds, true);
  }

  /** advance; `collect`: return the samples taken (run drops them: with keepSamples false, holding them would hold the whole run). */
  private advanceBy(seconds: number, collect: boolean): Sample[] {
    if (this.closed) throw new MemvisorError('simulation: closed');
    if (!(seconds >= 0) || !Number.isFinite(seconds)) throw new MemvisorError(`simulation.advance: got ${seconds}, expected a finite number of simulated seconds >= 0`);
    this.recent = [];
    this.collect = collect;
    const end = Math.min(this.clock.nowUs + toUs(seconds), toUs(this.config.duration));
    const stepUs = toUs(this.config.step);
    while (this.clock.nowUs < end) {
      // slices end on a grid of steps from t = 0 (and at due times), so advancing in whole steps
      // gives the run that one call to the end gives
      const next = Math.min(end, this.clock.nextDueUs(), (Math.floor(this.clock.nowUs / stepUs) + 1) * stepUs);
      if (next > this.clock.nowUs) this.runSlice((next - this.clock.nowUs) / 1e6);
      this.clock.nowUs = next;
      this.se.setNow(Math.floor(next / 1000));
      this.clock.fire();
    }
    this.collect = false;
    const taken = this.recent;
    this.recent = [];
    return taken;
  }

  /** Runs to the scenario's duration (calling `onSample` per sample), verifies every VM, and returns the result. */
  run(onSample?: (s: Sample) => void): RunResult {
    if (onSample) this.listeners.push(onSample);
    const left = toUs(this.config.duration) - this.clock.nowUs;
    if (left > 0) this.advanceBy(left / 1e6, false);
    // a duration that is not a whole number of intervals ends with a shorter last one
    if (this.clock.nowUs > this.prevSampleUs) this.sample();
    return this.result();
  }

  /** The result so far (samples taken), with the oracle run now. */
  result(): RunResult {
    const verified = this.verify();
    return { config: this.config, seed: this.config.seed, version: VERSION, samples: this.samples, verified };
  }

  /** How many samples a run to the scenario's duration takes: one per sampleInterval, and a shorter last one where the duration is not a whole number of them. */
  get sampleCount(): number {
    return Math.ceil(toUs(this.config.duration) / Math.max(1, toUs(this.config.sampleInterval)));
  }

  /** Every sample taken so far. */
  get allSamples(): readonly Sample[] {
    return this.samples;
  }

  /** Calls `listener` with every sample from now on. */
  onSample(listener: (s: Sample) => void): void {
    this.listeners.push(listener);
  }

  /** One slice of touches for every VM (the first VM rotates, so no VM always gets free memory first). */
  private runSlice(dt: number): void {
    const n = this.vms.length;
    const first = this.rotate++ % n;
    for (let k = 0; k < n; k++) this.runVm(this.vms[(first + k) % n], dt);
  }

  /** The VM's touches for `dt` simulated seconds: one WebAssembly loop, resumed through the fault driver after each reason code. */
  private runVm(v: SimVm, dt: number): void {
    if (v.trace) return this.runTrace(v, dt);
    const se = this.se, id = v.vm.id;
    const w = workloadAt(v.cfg.workload.phases, this.clock.now);
    const cur = v.cur;
    if (!cur || cur.activePages !== w.activePages || cur.zipfS !== w.zipfS || cur.writeFraction !== w.writeFraction || cur.tablePages !== w.tablePages) {
      se.workload(id, w.activePages, w.zipfS, w.writeFraction, w.tablePages);
    }
    if (!cur || cur.touchesPerSecond !== w.touchesPerSecond) se.setF(id, 'tauNs', w.touchesPerSecond > 0 ? 1e9 / w.touchesPerSecond : 0);
    v.cur = w;
    const want = w.touchesPerSecond * dt + v.frac;
    const asked = Math.floor(want);
    v.frac = want - asked;
    const budget = dt * 1e9 + v.carryNs - v.guest.debtNs;
    v.guest.debtNs = 0;
    v.asked += asked;
    if (asked === 0 || w.activePages === 0) {
      v.carryNs = Math.min(0, budget);
      return;
    }
    se.stepBegin(id, asked, budget);
    v.guest.inStep = true;
    try {
      const step = new TouchStep(se, v.guest);
      drive(v.guest.resolver, step, step.step());
    } finally {
      v.guest.inStep = false;
    }
    v.carryNs = Math.min(0, budget - se.getF(id, 'usedNs'));
  }

  /** A trace VM's records for `dt` simulated seconds, chunk by chunk, wrapping when `loop`. */
  private runTrace(v: SimVm, dt: number): void {
    const se = this.se, id = v.vm.id, t = v.trace!, wl = v.cfg.workload;
    if (!v.cur) se.setF(id, 'tauNs', 1e9 / wl.traceRecordsPerSecond);
    v.cur = { phase: 0, activePages: 0, touchesPerSecond: wl.traceRecordsPerSecond, writeFraction: 0, zipfS: 0, tablePages: 0 };
    const want = wl.traceRecordsPerSecond * dt + v.frac;
    const asked = t.records.length === 0 || (t.pos >= t.records.length && !wl.loop) ? 0 : Math.floor(want);
    v.frac = want - Math.floor(want);
    const budget = dt * 1e9 + v.carryNs - v.guest.debtNs;
    v.guest.debtNs = 0;
    v.asked += asked;
    if (asked === 0) {
      v.carryNs = Math.min(0, budget);
      return;
    }
    se.stepBegin(id, asked, budget);
    v.guest.inStep = true;
    try {
      while (se.get(id, 'done') < asked && se.getF(id, 'usedNs') < budget) {
        if (t.pos >= t.records.length) {
          if (!wl.loop) break;
          t.pos = 0;
        }
        const chunk = t.records.subarray(t.pos, Math.min(t.records.length, t.pos + se.traceChunkBytes));
        const run = new TraceChunk(se, v.guest, chunk);
        drive(v.guest.resolver, run, run.step());
        const used = se.get(id, 'cursor');
        if (used === 0) {
          if (t.pos + chunk.length >= t.records.length && chunk.length > 0 && se.get(id, 'done') < asked) {
            throw new MemvisorError(`VM ${JSON.stringify(v.name)}: the trace ends inside a record (${chunk.length} trailing bytes)`);
          }
          break;
        }
        t.pos += used;
      }
    } finally {
      v.guest.inStep = false;
    }
    v.carryNs = Math.min(0, budget - se.getF(id, 'usedNs'));
  }

  /**
   * GuestHost: does what a host stop of `guest`'s VM at `gppn` asks (swap-in; no frame or the
   * VM's limit: the policy's relief or the host's) and returns what it cost the VM in ns: the
   * swap-in by tier, and the compression and swap writes the reclaim did on its fault path.
   */
  resolveHostFault(guest: GuestOs, gppn: Gppn, need: HostNeed): number {
    const r = this.engine.reclaim;
    const v = this.byId.get(guest.id)!;
    const exit = v.cfg.mmu === 'none' ? this.costs.vmExitNs : 0;
    // one page: a touch stops at the page it needs, not at a run of them
    const end = asGppn(gppn + 1);
    if (need === 'swapIn') {
      const before = r.vmStats(guest.id).swapIn;
      guest.vm.faultResolver.resolve(gppn, need, end);
      return (r.vmStats(guest.id).swapIn - before) * this.costs.swapInNs + exit;
    }
    const before = this.reclaimTotals();
    guest.vm.faultResolver.resolve(gppn, need, end); // the host's relief asks the policy first (installed in the constructor)
    const after = this.reclaimTotals();
    return (after.zip - before.zip) * this.costs.compressNs + (after.swapOut - before.swapOut) * this.costs.swapOutNs;
  }

  /** Pages compressed and written to swap by all VMs so far. */
  private reclaimTotals(): { zip: number; swapOut: number } {
    let zip = 0, swapOut = 0;
    for (const v of this.vms) {
      const s = this.engine.reclaim.vmStats(v.vm.id);
      zip += s.zip;
      swapOut += s.swapOut;
    }
    return { zip, swapOut };
  }

  // ---- samples -----------------------------------------------------------------------------------

  private sample(): void {
    if (this.auditEachSample) this.audit();
    const se = this.se;
    const seconds = (this.clock.nowUs - this.prevSampleUs) / 1e6;
    if (seconds <= 0) return;
    // the true working set over the window the estimate (TCHD) samples, policy.samplePeriod:
    // counted when a window closes (at the first sample at or after its end) and held until the
    // next closes; before the first closes, the pages touched since t = 0
    const closes = this.clock.nowUs - this.windowStartUs >= toUs(this.config.policy.samplePeriod);
    if (closes || !this.windowClosed) for (const v of this.vms) v.trueActive = se.seen(v.vm.id, closes);
    if (closes) {
      this.windowStartUs = this.clock.nowUs;
      this.windowClosed = true;
    }
    const now = this.host.stats();
    const s = buildSample(this.clock.now, seconds, now, this.prevStats, this.vms.map((v) => {
      const id = v.vm.id;
      const g = v.guest.counts();
      return {
        name: v.name,
        clock: {
          stallNs: se.getF(id, 'stallNs'), translateNs: se.getF(id, 'translateNs'), inherentNs: se.getF(id, 'inherentNs'),
          workNs: se.getF(id, 'workNs'), touches: se.get(id, 'touches'), asked: v.asked,
        },
        hitNs: this.costs.hitNs,
        sizeTarget: v.sizeTarget,
        activeEstimate: v.activeEstimate,
        balloonTarget: v.balloonTarget,
        trueActive: v.trueActive,
        doublePaging: se.get(id, 'doublePaging'),
        guest: { free: g.free, cache: g.cache, anon: g.anon, swap: g.swap, oomEvents: v.guest.oomEvents },
        extra: this.policy.vmFields?.(this.ctx!, policyView(v)) ?? {},
      };
    }), this.prevClocks, this.policy.hostFields?.(this.ctx!) ?? {});
    this.prevStats = now;
    this.prevSampleUs = this.clock.nowUs;
    if (this.keepSamples) this.samples.push(s);
    if (this.collect) this.recent.push(s);
    for (const l of this.listeners) l(s);
  }

  // ---- the oracle --------------------------------------------------------------------------------

  /**
   * The nothing-lost oracle over the whole run: compares every page every guest owns (kernel,
   * page cache, process pages wherever they are: resident, shared, compressed, host swap, guest
   * swap) with what the guest wrote, in WebAssembly, reading the swap stores for the pages in
   * them. Changes nothing.
   */
  verify(): Verified {
    const se = this.se;
    let ok = true, bytes = 0;
    for (const v of this.vms) {
      const id = v.vm.id;
      se.verifyBegin(id);
      for (;;) {
        const { reason, gppns, slots } = se.verify(id);
        if (gppns.length) {
          const { done, error } = v.vm.swap.readPages(slots, gppns, gppns.length, se.pageBuffer(gppns.length));
          if (error) ok = false;
          se.verifyPages(id, done);
        }
        if (reason !== Reason.More) break;
      }
      for (;;) {
        const { reason, vps, slots } = se.verifyGuestList(id);
        if (vps.length) {
          const { done, error } = v.guest.swap.readPages(slots, vps, vps.length, se.pageBuffer(vps.length));
          if (error) ok = false;
          se.verifyVpages(id, done);
        }
        if (reason !== Reason.More) break;
      }
      if (se.get(id, 'verifyBad') > 0) ok = false;
      bytes += se.get(id, 'verifyBytes');
    }
    return { ok, bytes };
  }

  /**
   * Checks every invariant of the host (host.audit) and of every guest model (owner counts, the
   * free list, virtual pages and their GPPNs agreeing); throws naming the VM and what broke.
   */
  audit(): void {
    this.host.audit();
    for (const v of this.vms) {
      const r = this.se.guestAudit(v.vm.id);
      if (r !== 0) throw new MemvisorError(`guest audit of VM ${JSON.stringify(v.name)}: invariant ${r} broken (detail ${this.se.get(v.vm.id, 'verifyFirst')})`);
      // the guest swap device's slots in use are the pages the guest model holds in guest swap
      const used = v.guest.swap.capacity - v.guest.swap.free, held = v.guest.counts().swap;
      if (used !== held) throw new MemvisorError(`guest audit of VM ${JSON.stringify(v.name)}: its swap device holds ${used} slots, its guest ${held} swapped pages`);
    }
  }

  /** The host VM and guest of `name` (tests and embedding simulators). */
  vm(name: string): { vm: VM; guest: GuestOs; policy: PolicyVm } {
    const v = this.vms.find((x) => x.name === name);
    if (!v) throw new MemvisorError(`simulation: no VM named ${JSON.stringify(name)}`);
    return { vm: v.vm, guest: v.guest, policy: policyView(v) };
  }

  /** Releases swap stores (and files). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.host.close();
  }
}

const views = new WeakMap<SimVm, PolicyVm>();
/** The PolicyVm face of a SimVm (one object per VM, so a policy may keep references). */
function policyView(v: SimVm): PolicyVm {
  let p = views.get(v);
  if (!p) {
    p = {
      get name() { return v.name; },
      get vm() { return v.vm; },
      get memoryPages() { return v.memoryPages; },
      get reservationPages() { return v.reservationPages; },
      get limitPages() { return v.limitPages; },
      get shares() { return v.shares; },
      get balloonTarget() { return v.balloonTarget; },
      set balloonTarget(x: number) { v.balloonTarget = Math.max(0, Math.floor(x)); },
      get sizeTarget() { return v.sizeTarget; },
      set sizeTarget(x: number) { v.sizeTarget = x; },
      get activeEstimate() { return v.activeEstimate; },
      set activeEstimate(x: number) { v.activeEstimate = x; },
      get resident() { return v.resident; },
      get ballooned() { return v.guest.counts().balloon; },
      get trueActive() { return v.trueActive; },
      guest: () => v.guest.counts(),
    };
    views.set(v, p);
  }
  return p;
}
