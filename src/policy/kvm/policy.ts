/**
 * The KVM-style host policy ('kvm'): what a Linux host does for its QEMU processes, to set beside
 * the ESXi policy on the same scenario. No memory states, no targets, no shares, no host-driven
 * ballooning: watermarks, kswapd, KSM, zswap.
 *
 *   start      watermarks from the host size (watermarks.ts); KSM max_page_sharing on the
 *              sharing table; zswap: one compressed pool for the host capped at max_pool_percent
 *              of machine memory, instead of a zip cache per VM (each VM's cap lifted)
 *   every 1 s  kswapd (kswapd.ts): wakes below low, reclaims toward high from every VM in
 *              proportion to what it holds (a global LRU; victims by each VM's clock over
 *              accessed bits when the scenario says victimPolicy 'lru', its default under kvm);
 *              balloon targets stay 0: a guest's balloon moves only by its own free page
 *              reporting and deflate-on-OOM (guest options)
 *   no frame   direct reclaim: SWAP_CLUSTER_MAX pages from the global LRU, then the allocation
 *              retries
 *   sharing    KSM at pages_to_scan per sleep_millisecs, sequential: the simulation's 'ksm' rule
 *   large      transparent huge pages: 2 MiB groups while whole free blocks exist, split only
 *              when a page of one is reclaimed (the mechanism does it); KSM does not merge them
 *
 * The working-set sampler runs here too, as a probe: its estimate (TCHD) is reported next to
 * the true working set so a comparison shows both policies' numbers, but nothing decides by it.
 */
import type { PageOutResult } from '../../host/vm.js';
import type { Policy, PolicyContext, PolicyVm } from '../policy.js';
import { resolvePolicyConfig, type PolicyConfig } from '../config.js';
import { ActiveEstimator } from '../sampling.js';
import { watermarks, type Watermarks } from './watermarks.js';
import { kswapdAwake, kswapdGoal, spreadByResident, SWAP_CLUSTER_MAX } from './kswapd.js';

/** Reclaim rounds kswapd runs in one policy period before it looks again (ours: a bound, not a Linux constant). */
export const KSWAPD_ROUNDS = 8;

export class KvmPolicy implements Policy {
  readonly kind = 'kvm';
  readonly config: PolicyConfig;
  wm: Watermarks = { min: 0, low: 0, high: 0, minFreeKbytes: 0 };
  /** kswapd is reclaiming */
  awake = false;
  private readonly est = new Map<PolicyVm, { e: ActiveEstimator; armed: Uint32Array | null }>();
  /** pages reclaimed so far: by kswapd and by direct reclaim, each compressed (zswap) or swapped */
  readonly reclaimed = { kswapd: 0, direct: 0, compressed: 0, swapped: 0 };

  constructor(config: Partial<PolicyConfig> = {}) {
    this.config = resolvePolicyConfig(config);
  }

  start(ctx: PolicyContext): void {
    const k = this.config.kvm;
    this.wm = watermarks(ctx.machinePages, k.watermark_scale_factor, k.min_free_kbytes);
    ctx.host.setShareBeforeSwap(false);
    ctx.host.setMaxPageSharing(k.max_page_sharing);
    ctx.host.setPoolPercent(k.max_pool_percent);
    for (const v of ctx.vms) {
      ctx.host.setCachePercent(v.vm, 100); // one pool for the host: no per-VM cap
      v.balloonTarget = 0;
      v.sizeTarget = v.limitPages;
      v.activeEstimate = v.resident;
      this.est.set(v, { e: new ActiveEstimator(), armed: null });
    }
    ctx.host.allowLargePages(this.config.largePages);
    ctx.setScanRate(null);
    ctx.every(this.config.period, () => this.tick(ctx));
    ctx.every(this.config.samplePeriod, () => this.sample(ctx));
  }

  /**
   * kswapd: wakes below low and reclaims toward high while awake, round after round as Linux's
   * balance_pgdat does (compressed pages take pool frames, so one round frees less than it takes).
   */
  tick(ctx: PolicyContext): void {
    this.awake = kswapdAwake(this.awake, ctx.freePages(), this.wm);
    for (let round = 0; round < KSWAPD_ROUNDS; round++) {
      const goal = kswapdGoal(this.awake, ctx.freePages(), this.wm);
      if (goal <= 0) break;
      const got = this.reclaim(ctx, goal);
      this.reclaimed.kswapd += got;
      if (got === 0) break;
    }
    for (const v of ctx.vms) {
      v.balloonTarget = 0;
      v.sizeTarget = v.limitPages;
    }
  }

  /** Reclaims `pages` from every VM in proportion to what it holds; returns the pages taken. */
  private reclaim(ctx: PolicyContext, pages: number): number {
    const share = spreadByResident(ctx.vms.map((v) => v.resident), pages);
    let got = 0;
    ctx.vms.forEach((v, i) => {
      if (share[i] > 0) got += this.count(ctx.pageOut(v, share[i]));
    });
    return got;
  }

  /** Direct reclaim when a fault finds no frame: SWAP_CLUSTER_MAX pages from the global LRU. A VM at its own limit is left to the host (it pages out from itself). */
  relieve(ctx: PolicyContext, _vm: PolicyVm, why: 'noFrame' | 'limit'): boolean {
    if (why === 'limit') return false;
    const got = this.reclaim(ctx, SWAP_CLUSTER_MAX);
    this.reclaimed.direct += got;
    return got > 0;
  }

  /** The probe: the same sampler as the esx policy, reported, not used. */
  sample(ctx: PolicyContext): void {
    for (const v of ctx.vms) {
      const s = this.est.get(v) ?? { e: new ActiveEstimator(), armed: null };
      this.est.set(v, s);
      const r = v.vm.sampleWorkingSet(s.armed, this.config.samplePages, Math.floor(ctx.random() * 2 ** 32));
      s.armed = r.armed;
      if (r.sampled > 0) s.e.update(r.touched, r.sampled);
      v.activeEstimate = s.e.activePages(v.memoryPages, v.resident);
    }
  }

  /**
   * Host fields of a sample: kswapd, the watermarks, the pages each reclaim path took so far
   * (kswapd, direct), and what each technique holds back now (sharing, zswap net of its pool, swap).
   */
  hostFields(ctx: PolicyContext): Record<string, number | string> {
    const mib = (p: number) => p / 256;
    const held = ctx.host.heldBack();
    return {
      kswapd: this.awake ? 'awake' : 'asleep',
      minMiB: mib(this.wm.min),
      lowMiB: mib(this.wm.low),
      highMiB: mib(this.wm.high),
      reclaimedKswapdMiB: mib(this.reclaimed.kswapd),
      reclaimedDirectMiB: mib(this.reclaimed.direct),
      reclaimedSharingMiB: mib(held.sharing),
      reclaimedCompressedMiB: mib(held.compression),
      reclaimedSwappedMiB: mib(held.swap),
    };
  }

  private count(r: PageOutResult): number {
    this.reclaimed.compressed += r.compressed;
    this.reclaimed.swapped += r.swapped;
    return r.compressed + r.swapped + r.shared;
  }
}
