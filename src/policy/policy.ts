/**
 * The host memory policy interface: who decides how much memory each VM should hold, when to
 * balloon, share, compress and swap. A policy is a module behind this interface, chosen by the
 * scenario's `policy.kind` from a registry (src/policy/index.ts); it runs on the simulated clock
 * through the hooks it registers with `ctx.every` (each with its own period) and acts through the
 * context: balloon targets the guests' drivers follow, host page-out, the sharing scanner's
 * rate. It may add fields to every sample (a state, thresholds, its estimates).
 *
 *   Simulation ──start(ctx)──▶ policy ──ctx.every(period, hook)──▶ clock
 *                                 │ hook: reads ctx.host / vm stats, sets vm.balloonTarget,
 *                                 │       vm.sizeTarget, vm.activeEstimate, ctx.pageOut(...)
 *   a VM's fault finds no frame ──▶ policy.relieve?(vm, why)  (default: the host's relieve)
 *   every sample ──▶ hostFields?(), vmFields?(vm)             (merged into the JSON sample)
 */
import type { Host, HostStats } from '../host/host.js';
import type { VM, PageOutResult } from '../host/vm.js';
import type { Scenario } from '../sim/scenario.js';
import type { GuestCounts } from '../guest/guest.js';

/** One VM as a policy sees it. Units: pages (4 KiB) unless the name says otherwise. */
export interface PolicyVm {
  readonly name: string;
  /** the host's VM: stats(), pageOut(), its configuration */
  readonly vm: VM;
  readonly memoryPages: number;
  readonly reservationPages: number;
  readonly limitPages: number;
  readonly shares: number;
  /** the balloon target the guest's driver moves toward once per second (esxtop MCTLTGT) */
  balloonTarget: number;
  /** the allocation target (esxtop SZTGT); the policy's own number, reported as is */
  sizeTarget: number;
  /** the active memory estimate (esxtop TCHD); defaults to the true working set */
  activeEstimate: number;
  /** pages held resident (mapped + shared + zero): what a limit or reservation applies to */
  readonly resident: number;
  /** pages ballooned now (esxtop MCTLSZ) */
  readonly ballooned: number;
  /** distinct pages the workload touched over the last policy.samplePeriod, the window TCHD samples (the simulator's truth) */
  readonly trueActive: number;
  /** the guest's memory by use */
  guest(): GuestCounts;
}

/** What a policy may use and do. */
export interface PolicyContext {
  /** simulated seconds since the start */
  readonly now: number;
  readonly host: Host;
  readonly vms: readonly PolicyVm[];
  /** the scenario's policy section, resolved (kind, period, idleTax, samplePeriod, ...) */
  readonly config: Scenario['policy'];
  /** machine memory, pages */
  readonly machinePages: number;
  /** free machine memory now, pages */
  freePages(): number;
  /** host counters now (sharing, zip cache, frames) */
  hostStats(): HostStats;
  /** Runs `hook` every `periodS` simulated seconds (first after one period). */
  every(periodS: number, hook: () => void): void;
  /** Reclaims `pages` from `vm` by compression and swap (host work, not charged to the VM). */
  pageOut(vm: PolicyVm, pages: number): PageOutResult;
  /** Sets the sharing scanner's rate in pages per simulated second (null: the scenario's rule). */
  setScanRate(pagesPerSecond: number | null): void;
  /** The sharing scanner's rate under the scenario's rule, pages per simulated second (whatever setScanRate set). */
  scanRuleRate(): number;
  /** The policy's own seeded random stream, uniform in [0, 1). */
  random(): number;
}

/** A host memory policy. */
export interface Policy {
  readonly kind: string;
  /** Called once before the first step: register hooks, set initial targets. */
  start(ctx: PolicyContext): void;
  /**
   * A VM's fault found no free frame ('noFrame') or the VM holds its limit ('limit'). Free some
   * memory and return true, or return false to let the host's default relief run (page out from
   * the VM furthest above its reservation per share; at a limit, from the VM itself). After
   * 'noFrame' the host's relief runs anyway when no frame is free: pages compressed into a full
   * zip pool may free no frame at all.
   */
  relieve?(ctx: PolicyContext, vm: PolicyVm, why: 'noFrame' | 'limit'): boolean;
  /** Host fields this policy adds to every sample (for example state, minFreeMiB). */
  hostFields?(ctx: PolicyContext): Record<string, number | string>;
  /** Per-VM fields this policy adds to every sample (beyond SZTGT, MCTLTGT, TCHD). */
  vmFields?(ctx: PolicyContext, vm: PolicyVm): Record<string, number | string>;
}

export type PolicyFactory = (config: Scenario['policy']) => Policy;
