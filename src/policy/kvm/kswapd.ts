/**
 * kswapd and direct reclaim on a KVM host, where each VM is a process (QEMU) whose guest memory
 * is anonymous memory on the host's LRU lists (mm/vmscan.c). No memory states, no targets, no
 * shares: the watermarks (watermarks.ts) decide when, the LRU decides what.
 *
 *   free < low    kswapd wakes                      kswapd awake: reclaim until free >= high
 *   free >= high  kswapd goes back to sleep          (the gap low..high is its hysteresis)
 *   free < min    the allocating VM reclaims SWAP_CLUSTER_MAX pages itself before it goes on
 *
 * What: one global LRU over every VM's pages, approximated by each VM's clock over accessed bits
 * (victimPolicy 'lru', assembly/reclaim/pageout.ts) with the pages to reclaim spread over the
 * VMs in proportion to the pages they hold. A global LRU scans all pages at one rate, so each
 * VM's share of the scan, and of the cold pages found, is its share of the resident pages; the
 * clock then picks the cold ones inside each VM. Without memory cgroups nothing protects a VM
 * (no reservation, no shares): Linux has no notion of either for a process.
 */

/** Pages a direct reclaim frees before the allocation retries (Linux SWAP_CLUSTER_MAX). */
export const SWAP_CLUSTER_MAX = 32;

/** kswapd's state after looking at `free` pages: awake below low, asleep again at high. */
export function kswapdAwake(wasAwake: boolean, free: number, wm: { low: number; high: number }): boolean {
  if (free < wm.low) return true;
  if (free >= wm.high) return false;
  return wasAwake;
}

/** Pages kswapd reclaims now: up to the high watermark while it is awake, else none. */
export function kswapdGoal(awake: boolean, free: number, wm: { high: number }): number {
  return awake ? Math.max(0, wm.high - free) : 0;
}

/**
 * `pages` spread over VMs holding `resident` pages each, in proportion (largest remainders get
 * the odd pages; ties to the first). Never more than a VM holds.
 */
export function spreadByResident(resident: readonly number[], pages: number): number[] {
  const total = resident.reduce((a, r) => a + Math.max(0, r), 0);
  if (total <= 0 || pages <= 0) return resident.map(() => 0);
  const want = Math.min(pages, total);
  const exact = resident.map((r) => (Math.max(0, r) * want) / total);
  const out = exact.map(Math.floor);
  let left = want - out.reduce((a, x) => a + x, 0);
  const order = exact.map((x, i) => ({ i, r: x - out[i] })).sort((a, b) => b.r - a.r || a.i - b.i);
  for (const { i } of order) {
    if (left <= 0) break;
    if (out[i] < resident[i]) {
      out[i]++;
      left--;
    }
  }
  return out;
}

/** The most machine frames the zswap pool may hold on a host of `machinePages` (max_pool_percent). */
export function zswapPoolCap(machinePages: number, maxPoolPercent: number): number {
  return Math.floor((machinePages * maxPoolPercent) / 100);
}

/** KSM's scan rate in pages per simulated second: pages_to_scan per sleep_millisecs. */
export function ksmPagesPerSecond(pagesToScan: number, sleepMillisecs: number): number {
  return sleepMillisecs > 0 ? (pagesToScan * 1000) / sleepMillisecs : 0;
}
