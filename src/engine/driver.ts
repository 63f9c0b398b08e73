/**
 * The fault driver: the one loop that runs an engine entry point "until something needs
 * TypeScript", has the VM's FaultResolver (the host) do what the stop asks, and calls again.
 *
 *   first call ──► null ─────────────────────────────────────────────► done
 *        └───────► HostStop { need, gppn, end, progress }
 *                      │  rounds: 1 after progress, else one more; > MAX_HOST_ROUNDS: GaveUpError
 *                      ▼
 *                  resolver.resolve(gppn, need, end)    swap the page in, free a frame, page out
 *                      ▼
 *                  call.step() ──► null: done, or the next HostStop ...
 *
 * Entry points driven here (each resumes where its stop left it):
 *   reclaim.ts    guest-physical access, window by window (physAccess: the bytes moved are progress)
 *   vm.ts         a swap-in committed page by page through staging (swapInCommit)
 *   mmu.ts        a single translation; a batch's records that wait for the host, each retried as one
 *                 (mmuTranslate); the EPT root of a VM (eptSetup)
 *   translate.ts  trace replay (lackeyReplay / binaryReplay with TRACE_HOST_STOP, then traceResume:
 *                 the records done are progress)
 *
 * Why progress resets the count: a long call (a 1 MiB window, a 4 MiB trace chunk) may stop once
 * per page and still be sound; what must not happen is the same call stopping again and again
 * with nothing done between, which means the host cannot give what it asks for (every frame
 * pinned, a VM whose limit cannot hold what one access needs). The entry points know what
 * progress is; the driver only counts.
 */
import type { Gpa, Gppn } from './addr.js';
import { MAX_HOST_ROUNDS, type FaultResolver, type HostNeed } from './fault.js';
import { GaveUpError } from '../errors.js';

/** Why a call stopped: what the host must do, for which page, and whether the call got anything done first. */
export interface HostStop {
  need: HostNeed;
  /** the page the call stopped at */
  gppn: Gppn;
  /** the call goes on up to this GPPN (exclusive): a swap-in may bring back the run it will touch */
  end: Gppn;
  /** the guest-physical address it stopped at (for the message of a GaveUpError) */
  gpa: Gpa;
  /** the call moved bytes, completed records, ... before stopping: the count of rounds starts again */
  progress: boolean;
}

/**
 * An entry point as the driver runs it: `step` calls it again, resuming where its last stop left
 * it, and returns the next stop or null when it is done; `operation` names it for a GaveUpError.
 * Hot callers implement it as a small class (no closure per call on their fast path).
 */
export interface Resumable {
  step(): HostStop | null;
  operation(): string;
}

/**
 * Resolves `stop` (the first call's; nothing to do when null) through `resolver`, then runs
 * `call.step()` until it returns null, resolving every stop in between. Gives up with a
 * GaveUpError naming the VM, `call.operation()`, the last stop's page and need, after
 * MAX_HOST_ROUNDS stops in a row without progress.
 */
export function drive(resolver: FaultResolver, call: Resumable, stop: HostStop | null): void {
  for (let rounds = 0; stop !== null; stop = call.step()) {
    rounds = stop.progress ? 1 : rounds + 1;
    if (rounds > MAX_HOST_ROUNDS) throw new GaveUpError(resolver.name, call.operation(), stop.gppn, stop.gpa, stop.need, MAX_HOST_ROUNDS);
    resolver.resolve(stop.gppn, stop.need, stop.end);
  }
}
