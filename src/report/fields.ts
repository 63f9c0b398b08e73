/**
 * The fields of a run's samples that reports read, each with its unit and meaning: one table
 * for the run-file reader (which fields it knows and checks), the esxtop table (its columns),
 * the HTML report (axis units, tooltips) and the README's counters table.
 *
 *   sample = { t, host: { HOST_FIELDS..., policy fields... }, vms: { <name>: { VM_FIELDS..., guest: { GUEST_FIELDS } } } }
 *
 * Names are the run JSON's (issue "Simulated time", Output; esxtop's memory screen where one
 * exists). A policy adds host fields of its own (state, minFreeMiB, thresholds, reclaimed by
 * technique); those are read by pattern (see runfile.ts), so a policy module may add more.
 */

/** How a field is measured. */
export type Unit = 'MiB' | 'MiB/s' | 's/s' | 'x' | 'touches' | 'events' | 'state' | 's';

export interface FieldDoc {
  /** the JSON key */
  key: string;
  unit: Unit;
  /** one sentence */
  meaning: string;
  /** present in every sample (the reader refuses a run without it) */
  required?: boolean;
}

/** Per-VM fields of a sample. */
export const VM_FIELDS: readonly FieldDoc[] = [
  { key: 'MEMSZ', unit: 'MiB', meaning: 'configured guest memory', required: true },
  { key: 'GRANT', unit: 'MiB', meaning: 'guest memory backed by machine memory now (private and shared pages)', required: true },
  { key: 'SZTGT', unit: 'MiB', meaning: "the policy's allocation target: what the VM should hold" },
  { key: 'TCHD', unit: 'MiB', meaning: "the policy's estimate of the VM's active memory (working-set sampling)" },
  { key: 'SHRD', unit: 'MiB', meaning: 'guest memory backed by shared frames, zero pages included' },
  { key: 'ZERO', unit: 'MiB', meaning: 'guest memory backed by the shared zero frame' },
  { key: 'SHRDSVD', unit: 'MiB', meaning: 'machine memory saved by sharing: each shared page counts 1 - 1/(its frame\'s users)' },
  { key: 'MCTLSZ', unit: 'MiB', meaning: 'guest memory held by the balloon driver now' },
  { key: 'MCTLTGT', unit: 'MiB', meaning: "the balloon target the guest's driver moves toward" },
  { key: 'SWCUR', unit: 'MiB', meaning: 'guest memory in the host swap store now' },
  { key: 'SWTGT', unit: 'MiB', meaning: 'the swap target: SWCUR plus what the last page-out could not swap, or what the policy still wants compressed or swapped' },
  { key: 'blockMiB', unit: 'MiB', meaning: 'while the VM is blocked from taking machine memory (ESXi low state, at or above its target): the most it may hold; 0 when not blocked' },
  { key: 'SWR/s', unit: 'MiB/s', meaning: 'host swap-in rate over the last interval' },
  { key: 'SWW/s', unit: 'MiB/s', meaning: 'host swap-out rate over the last interval' },
  { key: 'CACHESZ', unit: 'MiB', meaning: 'zip cache size: machine memory its frames hold' },
  { key: 'CACHEUSD', unit: 'MiB', meaning: 'zip cache used: compressed bytes stored' },
  { key: 'ZIP/s', unit: 'MiB/s', meaning: 'pages compressed into the zip cache per second (uncompressed size)' },
  { key: 'UNZIP/s', unit: 'MiB/s', meaning: 'pages decompressed out of the zip cache per second (uncompressed size)' },
  { key: 'ZIP/MB', unit: 'MiB', meaning: 'guest memory held compressed in the zip cache (uncompressed size)' },
  { key: 'ZSAVE/MB', unit: 'MiB', meaning: 'machine memory saved by compression: ZIP/MB less CACHEUSD' },
  { key: 'trueActiveMiB', unit: 'MiB', meaning: 'the true working set: distinct pages the workload touched over the window the estimate TCHD samples (the last policy.samplePeriod; before the first has passed, since the start): the simulator knows it, a hypervisor does not' },
  { key: 'stall', unit: 's/s', meaning: 'simulated seconds the VM lost to memory faults per simulated second' },
  { key: 'slowdown', unit: 'x', meaning: 'time the VM took for its work against the same work unconstrained (>= 1)' },
  { key: 'translation', unit: 's/s', meaning: 'simulated seconds spent in address translation (TLB misses, page walks) per simulated second' },
  { key: 'touchesAsked', unit: 'touches', meaning: 'page touches the workload asked for in the interval' },
  { key: 'touchesCompleted', unit: 'touches', meaning: 'page touches completed in the interval (fewer when the VM stalls)' },
  { key: 'doublePaging', unit: 'events', meaning: 'guest swap-outs of a page the host had already swapped (each first forces a host swap-in), cumulative' },
];

/** The guest's own view, per VM (`guest`). */
export const GUEST_FIELDS: readonly FieldDoc[] = [
  { key: 'freeMiB', unit: 'MiB', meaning: "the guest OS's free memory" },
  { key: 'cacheMiB', unit: 'MiB', meaning: "the guest's page cache of clean file pages (droppable)" },
  { key: 'anonMiB', unit: 'MiB', meaning: "the guest's anonymous memory (dirty)" },
  { key: 'swapMiB', unit: 'MiB', meaning: "guest memory in the guest's own swap device" },
  { key: 'oomEvents', unit: 'events', meaning: 'guest out-of-memory events, cumulative' },
];

/** Host fields of a sample. */
export const HOST_FIELDS: readonly FieldDoc[] = [
  { key: 'freeMiB', unit: 'MiB', meaning: 'free machine memory', required: true },
  { key: 'machineMiB', unit: 'MiB', meaning: 'machine memory of the host' },
  { key: 'guestMiB', unit: 'MiB', meaning: 'machine memory backing guest pages' },
  { key: 'zipMiB', unit: 'MiB', meaning: 'machine memory held by zip caches' },
  { key: 'pageTablesMiB', unit: 'MiB', meaning: 'machine memory held by EPT and shadow page tables' },
  { key: 'sharedMiB', unit: 'MiB', meaning: 'shared frames (KSM pages_shared)' },
  { key: 'sharedSavedMiB', unit: 'MiB', meaning: 'machine memory saved by sharing (KSM pages_sharing; esxtop PSHARE saving)' },
  { key: 'swapMiB', unit: 'MiB', meaning: 'guest memory in host swap, all VMs (esxtop SWAP current)' },
  { key: 'balloonMiB', unit: 'MiB', meaning: 'guest memory held by balloon drivers, all VMs' },
  { key: 'state', unit: 'state', meaning: "the policy's memory state (ESXi: high, clear, soft, hard, low), as its last tick set it from the free memory it found; that tick's reclamation came after, so freeMiB can already sit above the state's band; absent when the policy has none" },
  { key: 'minFreeMiB', unit: 'MiB', meaning: 'the free memory the policy keeps (ESXi minFree); the state thresholds are percentages of it' },
  { key: 'kswapd', unit: 'state', meaning: "the KVM policy's kswapd: awake (reclaiming toward the high watermark) or asleep" },
];

/** ESXi memory states, most free memory first. */
export const STATES = ['high', 'clear', 'soft', 'hard', 'low'] as const;
