/**
 * What the esx and kvm policies need from the simulation that runs them: the subset of the
 * policy interface of src/policy/policy.ts (issue "Simulated time") they use, so they build and
 * are tested on their own, against a real Host or a constructed one, before the simulation runs them.
 */
import type { Host } from '../host/host.js';
import type { VM, PageOutResult } from '../host/vm.js';

/** One VM as a policy sees it. Units: pages (4 KiB). */
export interface PolicyVmView {
  readonly name: string;
  readonly vm: VM;
  readonly memoryPages: number;
  readonly reservationPages: number;
  readonly limitPages: number;
  readonly shares: number;
  /** the balloon target the guest's driver moves toward (esxtop MCTLTGT) */
  balloonTarget: number;
  /** the allocation target (esxtop SZTGT) */
  sizeTarget: number;
  /** the active memory estimate (esxtop TCHD) */
  activeEstimate: number;
  /** pages held resident */
  readonly resident: number;
  /** pages ballooned now (MCTLSZ) */
  readonly ballooned: number;
  /** distinct pages the workload touched in the last sample interval */
  readonly trueActive: number;
}

/** What a policy may use and do. */
export interface PolicyCtx {
  readonly now: number;
  readonly host: Host;
  readonly vms: readonly PolicyVmView[];
  readonly machinePages: number;
  freePages(): number;
  every(periodS: number, hook: () => void): void;
  pageOut(vm: PolicyVmView, pages: number): PageOutResult;
  setScanRate(pagesPerSecond: number | null): void;
  random(): number;
  /** the sharing scanner's rate under the scenario's rule, pages per second (when the simulation tells it) */
  scanRuleRate?(): number;
}
