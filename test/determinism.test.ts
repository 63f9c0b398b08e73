/**
 * Determinism: the same configuration and seed give identical stats; another seed changes the
 * random choices (victims, scan order) but never the guest's data.
 */
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { Host } from '../src/index.js';

/** A fixed workload: three VMs, an image with duplicates and zero pages, pressure, scans, balloon. */
async function run(seed: number, flavor?: 'debug' | 'release') {
  const host = await Host.create({ machineMemoryMiB: 6, seed, flavor, sharing: { order: 'random', salting: 'host' } });
  const page = new Uint8Array(4096);
  for (let v = 0; v < 3; v++) {
    const vm = host.addVM({ name: `vm${v}`, memoryMiB: 4 });
    for (let g = 0; g < 1024; g += 1) {
      // pages repeat across VMs (g % 97), some are private (v in the content), a few zero
      if (g % 13 === 0) continue;
      page.fill(0);
      page[0] = g % 97;
      page[1] = g % 5 === 0 ? v + 1 : 0;
      for (let i = 64; i < 4096; i += 64) page[i] = (g * 31 + i) & 0xff;
      vm.writePhys(g * 4096, page);
    }
  }
  host.shareScan(1500);
  host.vms[0].pageOut(200);
  host.vms[1].balloonInflate([1, 2, 3, 500, 501]);
  host.shareScan();
  host.vms[2].pageOut(300);
  const reads = host.vms.map((vm) => createHash('sha256').update(vm.readPhys(0, 4 << 20)).digest('hex'));
  const stats = host.stats();
  host.close();
  return { stats, reads };
}

describe('determinism', () => {
  it('same configuration and seed: identical stats', async () => {
    const a = await run(7);
    const b = await run(7);
    expect(b.stats).toEqual(a.stats);
    expect(a.stats.host.pages_sharing).toBeGreaterThan(0);
    expect(a.stats.vms[0].SWW + a.stats.vms[0].ZIP).toBeGreaterThan(0);
  });

  it('another seed: other victims, same guest data', async () => {
    const a = await run(7);
    const c = await run(8);
    expect(c.reads).toEqual(a.reads);
    const swapped = (s: typeof a.stats) => s.vms.map((v) => [v.SWCUR, v.compressed, v.SHRD]);
    expect(swapped(c.stats)).not.toEqual(swapped(a.stats));
  });

  it('the release module (optimized, no assertions) gives the same stats and data as the debug one', async () => {
    const d = await run(7, 'debug');
    const r = await run(7, 'release');
    expect(r.stats).toEqual(d.stats);
    expect(r.reads).toEqual(d.reads);
  });
});
