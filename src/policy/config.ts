/**
 * The constants of the host memory policies, with their defaults and where each default comes
 * from. The scenario's `policy` section (src/sim/scenario.ts) names the same fields and takes
 * its defaults from here, so a value is written once.
 *
 *   policy: {                          default   source
 *     kind                             'esx'     the policy module (src/policy/index.ts)
 *     period                           1 s       how often the policy looks at free memory (ours:
 *                                                ESX re-checks its state on every allocation; once
 *                                                per simulated second is the resolution of a sample)
 *     idleTax                          75 %      ESX Mem.IdleTax; Waldspurger, OSDI 2002, §5.3
 *     samplePeriod                     60 s      ESX Mem.SamplePeriod
 *     samplePages                      100       Waldspurger 2002 §5.3 (ESX samples 100 pages)
 *     balancePeriod                    15 s      ESX Mem.BalancePeriod
 *     minFreeMiB                       (scale)   ESX Mem.MemMinFreePct 0: the sliding scale
 *     balloonMaxPercent                65 %      ESX Mem.CtlMaxPercent
 *     largePages                       true      ESX Mem.AllocGuestLargePage 1 (back guest memory
 *                                                with 2 MiB pages where the host can)
 *     kvm: {
 *       watermark_scale_factor         10        Linux vm.watermark_scale_factor (since 4.6)
 *       min_free_kbytes                (sqrt)    Linux vm.min_free_kbytes: absent, 4 sqrt(KiB)
 *       max_page_sharing               256       Linux KSM max_page_sharing (since 4.13)
 *       max_pool_percent               20        Linux zswap max_pool_percent
 *     }
 *   }
 */

/** The policy kinds this build knows. */
export type PolicyKind = 'esx' | 'kvm';

/** The Linux knobs of the kvm policy (names as in /proc/sys/vm and /sys/kernel/mm). */
export interface KvmConfig {
  /** kswapd watermark distance in 1/10000 of memory (Linux vm.watermark_scale_factor); 0: the pre-4.6 rule (low = 5/4 min, high = 3/2 min) */
  watermark_scale_factor: number;
  /** free memory below which allocations reclaim directly, KiB (absent: 4 sqrt(memory KiB), clamped to 128 .. 262144, as Linux computes it) */
  min_free_kbytes?: number;
  /** most guest pages one KSM frame may back (Linux KSM max_page_sharing) */
  max_page_sharing: number;
  /** most machine memory the compressed pool may hold, percent (Linux zswap max_pool_percent) */
  max_pool_percent: number;
}

/** The policy section, resolved. Units: seconds, pages per VM, percent, MiB. */
export interface PolicyConfig {
  kind: PolicyKind | string;
  period: number;
  idleTax: number;
  samplePeriod: number;
  samplePages: number;
  balancePeriod: number;
  minFreeMiB?: number;
  balloonMaxPercent: number;
  largePages: boolean;
  kvm: KvmConfig;
}

export const KVM_DEFAULTS: Readonly<KvmConfig> = Object.freeze({
  watermark_scale_factor: 10,
  max_page_sharing: 256,
  max_pool_percent: 20,
});

export const POLICY_DEFAULTS: Readonly<PolicyConfig> = Object.freeze({
  kind: 'esx',
  period: 1,
  idleTax: 75,
  samplePeriod: 60,
  samplePages: 100,
  balancePeriod: 15,
  balloonMaxPercent: 65,
  largePages: true,
  kvm: KVM_DEFAULTS,
});

/** `partial` with every absent field taken from the defaults (the kvm section field by field). */
export function resolvePolicyConfig(partial: Partial<Omit<PolicyConfig, 'kvm'>> & { kvm?: Partial<KvmConfig> } = {}): PolicyConfig {
  const out: PolicyConfig = { ...POLICY_DEFAULTS, ...stripUndefined(partial), kvm: { ...KVM_DEFAULTS, ...stripUndefined(partial.kvm ?? {}) } };
  if (partial.minFreeMiB === undefined) delete out.minFreeMiB;
  return out;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Pages (4 KiB) in `mib` MiB. */
export const pagesOfMiB = (mib: number): number => Math.round(mib * 256);
/** MiB in `pages` 4 KiB pages. */
export const mibOfPages = (pages: number): number => pages / 256;
