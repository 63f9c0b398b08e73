/**
 * A VM's step of touches, or a chunk of its trace records, as the fault driver runs it
 * (src/engine/driver.ts): one WebAssembly loop that runs until it needs TypeScript.
 *
 *   step() ─► touch ──Done──────────────► null: the step is over
 *               │  ──GuestFree──► guest.makeFree()    (none: the touch is abandoned) ─► touch again
 *               │  ──GuestSwapIn► guest.swapIn(rVp)   (none: the touch is abandoned) ─► touch again
 *               └──Host─────────► the driver's stop ─► guest.resolver (the host acts, the VM pays)
 *                                                      ─► step() again: the pending touch first
 *
 * Progress between two host stops is a touch (or record) done, so a stop the host resolves
 * without the step moving on counts toward the driver's one limit (MAX_HOST_ROUNDS) and ends in
 * a GaveUpError naming the VM, the touch and the page, instead of looping for ever.
 */
import { Reason, type Guest } from '../engine/guest.js';
import type { HostStop, Resumable } from '../engine/driver.js';
import { MemvisorError } from '../errors.js';
import type { GuestOs } from '../guest/guest.js';

/** The touches of one step of a VM (stepBegin done): the guest's own requests are served inside step(). */
export class TouchStep implements Resumable {
  private done = -1;

  constructor(private readonly se: Guest, private readonly guest: GuestOs) {}

  step(): HostStop | null {
    const se = this.se, id = this.guest.id;
    for (;;) {
      const r = se.touch(id);
      if (r === Reason.Done) return null;
      if (r === Reason.Host) return this.stop();
      if (r === Reason.GuestFree) {
        if (!this.guest.makeFree()) se.abandonTouch(id);
      } else if (r === Reason.GuestSwapIn) {
        if (!this.guest.swapIn(se.get(id, 'rVp'))) se.abandonTouch(id);
      } else {
        throw new MemvisorError(`VM ${JSON.stringify(this.guest.name)}: the touch loop stopped (${Reason[r]}) at virtual page ${se.get(id, 'rVp')}`);
      }
    }
  }

  /** The stop of the touch waiting for the host; progress: a touch was done since the stop before. */
  private stop(): HostStop {
    const done = this.se.get(this.guest.id, 'done');
    const progress = done > this.done;
    this.done = done;
    return this.se.driverStop(this.guest.id, progress);
  }

  operation(): string {
    const id = this.guest.id;
    return `workload touch ${this.se.get(id, 'done') + 1} of the ${this.se.get(id, 'asked')} of its step`;
  }
}

/** One chunk of a trace VM's records within its step: the first call stages the chunk, the next ones retry the record that stopped. */
export class TraceChunk implements Resumable {
  private done = -1;
  private fresh = true;

  constructor(private readonly se: Guest, private readonly guest: GuestOs, private readonly records: Uint8Array) {}

  step(): HostStop | null {
    const id = this.guest.id;
    const r = this.se.traceRun(id, this.records, this.fresh);
    this.fresh = false;
    if (r !== Reason.Host) return null;
    const done = this.se.get(id, 'done');
    const progress = done > this.done;
    this.done = done;
    return this.se.driverStop(id, progress);
  }

  operation(): string {
    return `the trace record at byte ${this.se.get(this.guest.id, 'cursor')} of a ${this.records.length}-byte chunk`;
  }
}
