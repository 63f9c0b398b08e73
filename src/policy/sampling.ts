/**
 * Working-set estimation by sampling, as ESX does it (C. Waldspurger, OSDI 2002, §5.3): every
 * sample period a few random guest pages of each VM are invalidated (accessed bit cleared,
 * cached translations dropped, so the next touch is seen); at the end of the period the
 * fraction of them touched again estimates the fraction of the VM's memory that is active.
 *
 *   period 1            period 2            period 3
 *   |-- n pages armed --|-- t1 of n touched; n new pages armed --|-- t2 of n ...
 *                       f1 = t1 / n                               f2 = t2 / n
 *
 * One sample of n = 100 pages is noisy (binomial: sd sqrt(f (1 - f) / n), up to 0.05), so the
 * estimate is smoothed by two exponentially weighted moving averages and is the larger of them:
 *
 *   fast += FAST_GAIN (f - fast)      slow += SLOW_GAIN (f - slow)      estimate = max(fast, slow)
 *
 * The fast average follows an increase within a few periods, and the slow one lets a decrease
 * show only gradually, so a VM that pauses is not stripped of its memory at once (the paper
 * keeps a slow and a faster average and takes the maximum; its gains are not published, the
 * values here are ours: FAST_GAIN 1/2 reaches 15/16 of a rise in 4 periods, SLOW_GAIN 1/8 keeps
 * half of a fall hidden for 5 periods and lets it show fully after about 16). The paper's third
 * value, one that includes the current period's partial count, is left out: this estimator is
 * read once per period.
 *
 * Which pages are sampled and counted is the mechanism's (assembly/translate/wsample.ts, one call
 * per VM per period, seeded); this module only turns counts into an estimate.
 */

/** Gain of the fast moving average (ours; see the module overview). */
export const FAST_GAIN = 1 / 2;
/** Gain of the slow moving average (ours). */
export const SLOW_GAIN = 1 / 8;

/** The moving averages of one VM's sampled active fraction. */
export class ActiveEstimator {
  private fast = 0;
  private slow = 0;
  private samples = 0;
  /** the last period's raw fraction */
  last = NaN;

  /** Adds a period in which `touched` of `sampled` pages were touched; returns the new estimate (fraction). */
  update(touched: number, sampled: number): number {
    if (sampled <= 0) return this.fraction;
    const f = Math.min(1, Math.max(0, touched / sampled));
    this.last = f;
    if (this.samples === 0) {
      this.fast = f;
      this.slow = f;
    } else {
      this.fast += FAST_GAIN * (f - this.fast);
      this.slow += SLOW_GAIN * (f - this.slow);
    }
    this.samples++;
    return this.fraction;
  }

  /** Periods counted so far. */
  get periods(): number {
    return this.samples;
  }

  /** The estimated active fraction (NaN before the first period ends). */
  get fraction(): number {
    return this.samples === 0 ? NaN : Math.max(this.fast, this.slow);
  }

  /** Estimated active pages of a VM of `pages` pages; before the first period, `fallback`. */
  activePages(pages: number, fallback: number): number {
    return this.samples === 0 ? fallback : Math.round(this.fraction * pages);
  }
}
