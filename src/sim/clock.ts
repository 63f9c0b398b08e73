/**
 * The simulated clock: integer microseconds (no drift however many steps), and the periodic
 * components that run on it, each at its own period. Components due at the same instant run in
 * the order they were registered, so a run is the same every time.
 *
 *   t ----|----------|----------|---->   touches run between due times, in slices of at most
 *        balloon   scanner    sampler    one step; then every component due at the end runs
 */

/** Microseconds of a simulated duration in seconds (rounded to the microsecond). */
export const toUs = (seconds: number): number => Math.round(seconds * 1e6);

interface Timer {
  readonly name: string;
  readonly periodUs: number;
  nextUs: number;
  readonly run: (nowS: number) => void;
  /** one-shot timers run once and are dropped */
  readonly once: boolean;
}

export class Clock {
  /** Simulated time, microseconds. */
  nowUs = 0;
  private readonly timers: Timer[] = [];

  /** Simulated time, seconds. */
  get now(): number {
    return this.nowUs / 1e6;
  }

  /** Runs `run` every `periodS` simulated seconds, first at `firstS` (default: one period from now). */
  every(name: string, periodS: number, run: (nowS: number) => void, firstS?: number): void {
    const periodUs = Math.max(1, toUs(periodS));
    this.timers.push({ name, periodUs, nextUs: firstS === undefined ? this.nowUs + periodUs : toUs(firstS), run, once: false });
  }

  /** Runs `run` once at simulated second `atS`. */
  at(name: string, atS: number, run: (nowS: number) => void): void {
    this.timers.push({ name, periodUs: 0, nextUs: toUs(atS), run, once: true });
  }

  /** The earliest time (us) a component is due, or Infinity. */
  nextDueUs(): number {
    let m = Infinity;
    for (const t of this.timers) if (t.nextUs < m) m = t.nextUs;
    return m;
  }

  /** Runs every component due at or before now, in registration order; a periodic one is rescheduled. */
  fire(): void {
    for (let i = 0; i < this.timers.length; i++) {
      const t = this.timers[i];
      if (t.nextUs > this.nowUs) continue;
      t.run(this.now);
      if (t.once) {
        this.timers.splice(i--, 1);
      } else {
        while (t.nextUs <= this.nowUs) t.nextUs += t.periodUs;
      }
    }
  }
}
