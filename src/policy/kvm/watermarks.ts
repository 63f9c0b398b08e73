/**
 * The Linux zone watermarks min / low / high, as the kernel computes them from the host's
 * memory (mm/page_alloc.c: calculate_min_free_kbytes, formerly init_per_zone_wmark_min, and
 * __setup_per_zone_wmarks), for a host with one zone holding all its memory:
 *
 *   min_free_kbytes = int_sqrt(lowmem_kbytes * 16), clamped to [128, 262144]
 *                     (the upper clamp was 65536 before Linux 5.6)
 *   min  = min_free_kbytes / 4 pages
 *   step = max(min / 4, managed_pages * watermark_scale_factor / 10000)      (Linux 4.6+)
 *   low  = min + step
 *   high = min + 2 * step
 *
 *   free pages   >= high          kswapd sleeps
 *                <  low           kswapd wakes and reclaims until free >= high
 *                <  min           an allocation reclaims directly (the faulting VM waits)
 *
 * Before Linux 4.6 (commit "mm: scale kswapd watermarks in proportion to memory") the step was
 * min / 4 alone: low = 5/4 min, high = 3/2 min. That is still the rule whenever min / 4 exceeds
 * watermark_scale_factor / 10000 of memory, i.e. on hosts below about 1 GiB at the default
 * factor 10, and exactly the rule with watermark_scale_factor 0. lowmem_kbytes is taken as the
 * host's machine memory (the kernel counts managed pages of the low zones above their high
 * watermarks; on a 64-bit host with one node that is nearly all of it).
 */

/** Linux clamps of min_free_kbytes (mm/page_alloc.c, 5.6+). */
export const MIN_FREE_KBYTES_LO = 128;
export const MIN_FREE_KBYTES_HI = 262144;

/** Floor of the square root of a non-negative integer (the kernel's int_sqrt). */
export function intSqrt(x: number): number {
  if (x < 0) throw new RangeError(`intSqrt: got ${x}, expected a number >= 0`);
  let r = Math.floor(Math.sqrt(x));
  while (r * r > x) r--;
  while ((r + 1) * (r + 1) <= x) r++;
  return r;
}

/** min_free_kbytes for a host of `memoryKiB` KiB (int_sqrt(KiB * 16), clamped). */
export function minFreeKbytes(memoryKiB: number): number {
  const v = intSqrt(Math.floor(memoryKiB) * 16);
  return Math.min(MIN_FREE_KBYTES_HI, Math.max(MIN_FREE_KBYTES_LO, v));
}

/** The three watermarks, in 4 KiB pages. */
export interface Watermarks {
  min: number;
  low: number;
  high: number;
  /** min_free_kbytes they were computed from */
  minFreeKbytes: number;
}

/**
 * Watermarks of a host of `pages` 4 KiB pages. `scaleFactor` is vm.watermark_scale_factor
 * (default 10; 0 gives the pre-4.6 rule); `minFreeKbytesOverride` is a vm.min_free_kbytes the
 * user set (the kernel keeps a user's value).
 */
export function watermarks(pages: number, scaleFactor = 10, minFreeKbytesOverride?: number): Watermarks {
  const mfk = minFreeKbytesOverride ?? minFreeKbytes(pages * 4);
  const min = Math.floor(mfk / 4); // pages_min = min_free_kbytes >> (PAGE_SHIFT - 10)
  const step = Math.max(Math.floor(min / 4), Math.floor((pages * scaleFactor) / 10000));
  return { min, low: min + step, high: min + 2 * step, minFreeKbytes: mfk };
}
