/**
 * basic: the minimal default policy, so that a run reclaims before machine memory runs out. It
 * keeps free memory between minFree (policy.minFreeMiB, default 4% of machine memory) and 3x
 * minFree, once per `policy.period`:
 *
 *   free >= 3 minFree       high  balloon targets shrink by the surplus (guests get pages back)
 *   minFree <= free < 2 mF  soft  balloon targets grow by the shortfall to 2 minFree
 *   free < minFree          hard  as soft, and the host pages out the shortfall to minFree now
 *
 * A shortfall is spread over the VMs above their reservation in proportion to their resident
 * pages beyond it per share (the VM with the most pages per share gives most); balloon targets
 * stop at balloonMaxPercent of the VM. SZTGT is what the VM will hold once its balloon reaches
 * its target; TCHD is the true working set of the last interval (no sampling). The ESX and KVM
 * policies (issue "Host memory policy") replace it behind the same interface.
 */
import type { Policy, PolicyContext, PolicyVm } from './policy.js';
import type { Scenario } from '../sim/scenario.js';

export type BasicState = 'high' | 'soft' | 'hard';

export class BasicPolicy implements Policy {
  readonly kind = 'basic';
  private minFree = 0;
  private state: BasicState = 'high';

  constructor(private readonly config: Scenario['policy']) {}

  start(ctx: PolicyContext): void {
    this.minFree = this.config.minFreeMiB !== undefined ? Math.round(this.config.minFreeMiB * 256) : Math.ceil(ctx.machinePages * 0.04);
    ctx.every(this.config.period, () => this.tick(ctx));
    this.targets(ctx);
  }

  private tick(ctx: PolicyContext): void {
    const free = ctx.freePages();
    const mf = this.minFree;
    if (free < mf) {
      this.state = 'hard';
      this.spread(ctx, 2 * mf - free, +1);
      this.pageOut(ctx, mf - free);
    } else if (free < 2 * mf) {
      this.state = 'soft';
      this.spread(ctx, 2 * mf - free, +1);
    } else if (free >= 3 * mf) {
      this.state = 'high';
      this.spread(ctx, free - 3 * mf, -1);
    }
    this.targets(ctx);
  }

  /** Moves balloon targets by `pages` in all (grow: +1, shrink: -1), weighted by resident pages above reservation per share. */
  private spread(ctx: PolicyContext, pages: number, dir: 1 | -1): void {
    if (pages <= 0) return;
    const weight = (v: PolicyVm) => (dir > 0 ? Math.max(0, v.resident - v.reservationPages) / v.shares : v.balloonTarget);
    const total = ctx.vms.reduce((a, v) => a + weight(v), 0);
    if (total <= 0) return;
    for (const v of ctx.vms) {
      const share = Math.ceil((pages * weight(v)) / total);
      const cap = Math.floor((v.memoryPages * this.config.balloonMaxPercent) / 100);
      v.balloonTarget = Math.max(0, Math.min(cap, v.balloonTarget + dir * share));
    }
  }

  /** Host page-out of `pages` from the VMs furthest above their reservation per share. */
  private pageOut(ctx: PolicyContext, pages: number): void {
    const order = [...ctx.vms]
      .map((v) => ({ v, over: v.resident - v.reservationPages }))
      .filter((x) => x.over > 0)
      .sort((a, b) => b.over / b.v.shares - a.over / a.v.shares || a.v.name.localeCompare(b.v.name));
    let left = pages;
    for (const { v, over } of order) {
      if (left <= 0) break;
      const r = ctx.pageOut(v, Math.min(left, over));
      left -= r.compressed + r.swapped;
    }
  }

  private targets(ctx: PolicyContext): void {
    for (const v of ctx.vms) {
      v.sizeTarget = Math.max(v.reservationPages, Math.min(v.limitPages, v.resident - Math.max(0, v.balloonTarget - v.ballooned)));
      v.activeEstimate = v.trueActive;
    }
  }

  hostFields(): Record<string, number | string> {
    return { state: this.state, minFreeMiB: this.minFree / 256 };
  }
}
