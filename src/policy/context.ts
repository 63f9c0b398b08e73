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

/** Memory each technique holds back from the VMs now, pages (what a sample reports as reclaimed by technique). */
export function heldBack(host: Host): { balloon: number; sharing: number; compression: number; swap: number } {
  const e = host.engine;
  let balloon = 0, shared = 0, compressed = 0, swap = 0;
  for (const v of host.vms) {
    balloon += e.vmStateCount(v.id, 6);
    shared += e.vmStateCount(v.id, 2) + e.vmStateCount(v.id, 3);
    compressed += e.vmStateCount(v.id, 4);
    swap += e.vmStateCount(v.id, 5);
  }
  const f = e.frameCounts();
  // sharing saves every mapping of a shared frame beyond the frame itself; compression saves the
  // pages compressed less the pool frames they sit in
  return { balloon, sharing: shared - e.sharingCounters().shared, compression: compressed - f.zpool, swap };
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
