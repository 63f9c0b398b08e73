/**
 * minFree: the free machine memory ESXi keeps, on the sliding scale of vSphere 5+ (Mem.MemMinFreePct
 * 0, the default), from which every memory state threshold is a percentage (states.ts).
 *
 *   machine memory   0 ───── 4 GiB ───────── 12 GiB ─────────────── 28 GiB ────────── ...
 *   share kept free       6%           4%                  2%                  1%
 *   MiB (28 GiB host)   245     +     327       +         327        = 899
 *
 * Each tier's MiB are rounded down before they are added, which is how VMware's published
 * figure for a 28 GB host (899 MB) comes out of 245.76 + 327.68 + 327.68 (sources: the vSphere
 * Resource Management guide's table; F. Denneman, "Mem.MinFreePct sliding scale function",
 * 2011). A scenario may fix it instead (policy.minFreeMiB).
 */

/** The tiers: [MiB of machine memory in the tier, percent of it kept free]. */
export const MIN_FREE_SCALE: readonly (readonly [number, number])[] = [
  [4096, 6],
  [8192, 4],
  [16384, 2],
  [Infinity, 1],
];

/** minFree in MiB for a host of `machineMiB` MiB of machine memory, on the sliding scale. */
export function minFreeMiB(machineMiB: number): number {
  let left = Math.max(0, machineMiB);
  let mib = 0;
  for (const [size, pct] of MIN_FREE_SCALE) {
    const part = Math.min(left, size);
    mib += Math.floor((part * pct) / 100);
    left -= part;
    if (left <= 0) break;
  }
  return mib;
}

/** minFree in 4 KiB pages for a host of `machinePages` pages; `fixedMiB` (policy.minFreeMiB) overrides the scale. */
export function minFreePages(machinePages: number, fixedMiB?: number): number {
  if (fixedMiB !== undefined) return Math.round(fixedMiB * 256);
  return minFreeMiB(machinePages / 256) * 256;
}
