/**
 * Every example in examples/ runs, and shows what it claims. Smaller runs than the examples'
 * own defaults; seeded, so the figures are the same on every machine. The whole-run examples use
 * the release module (as their command lines do): the debug one's invariants are other tests'.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { sideChannel, sideChannelText } from '../examples/side-channel.js';
import { salting, saltingText } from '../examples/salting.js';
import { eptVsShadow, eptVsShadowText } from '../examples/ept-vs-shadow.js';
import { esxVsKvm } from '../examples/esx-vs-kvm.js';

const OUT = resolve(import.meta.dirname, '..', 'test-output');

describe('examples/side-channel.ts', () => {
  it('with one salt the attacker is right far more often than chance; with per-VM salts at chance', async () => {
    const shared = await sideChannel({ trials: 300, salting: 'host', seed: 7 });
    const salted = await sideChannel({ trials: 300, salting: 'per-vm', seed: 7 });
    expect(shared.successRate).toBeGreaterThan(0.9);
    // at chance: within four standard deviations of 50% over 300 trials (0.029 each)
    expect(Math.abs(salted.successRate - 0.5)).toBeLessThan(4 * Math.sqrt(0.25 / 300));
    // the signal is the copy-on-write break: the probe is slow only when shared
    expect(shared.meanWhenHeldNs - shared.meanWhenNotNs).toBeGreaterThan(1500);
    expect(Math.abs(salted.meanWhenHeldNs - salted.meanWhenNotNs)).toBeLessThan(600);
    const text = sideChannelText([shared, salted]);
    expect(text).toMatch(/^host\s+300\s+\d+\s+9\d\.\d%/m);
    expect(text).toMatch(/^per-vm\s+300/m);
  });

  it('is deterministic for a seed', async () => {
    const a = await sideChannel({ trials: 40, salting: 'host', seed: 3 });
    const b = await sideChannel({ trials: 40, salting: 'host', seed: 3 });
    expect(b).toEqual(a);
  });
});

describe('examples/salting.ts', () => {
  it('one salt shares what the web servers hold in common; per-VM salts cost that memory, and the VMs pay for it', async () => {
    const x = await salting({ vms: 4, duration: 30, flavor: 'release' });
    const { host: one, perVm } = x;
    expect(one.verified && perVm.verified).toBe(true);
    // the common pages (OS image and site) of 3 of the 4 VMs: well over 200 MiB
    expect(x.sharingLostMiB).toBeGreaterThan(150);
    expect(one.sharedSavedMiB).toBeGreaterThan(250);
    // the same VMs take more machine memory without inter-VM sharing, and the host reclaims harder
    expect(perVm.usedMiB - one.usedMiB).toBeGreaterThan(100);
    expect(perVm.freeMiB).toBeLessThan(one.freeMiB);
    expect(perVm.peakBalloonMiB).toBeGreaterThan(one.peakBalloonMiB + 50);
    expect(perVm.meanStall).toBeGreaterThan(one.meanStall);
    const text = saltingText(x);
    expect(text).toMatch(/^PSHARE saving at the end \(MiB\) +\d+\.\d +\d+\.\d$/m);
    expect(text).toMatch(/per-VM salts give up \d+\.\d MiB of sharing/);
  }, 120_000);
});

describe('examples/ept-vs-shadow.ts', () => {
  it('page-table churn: shadow pays in faults (traps, shadow fills), EPT in 2D walks; steady: only the walks differ', async () => {
    const dir = join(OUT, 'ept-vs-shadow');
    const rs = await eptVsShadow({ duration: 6, touchesPerSecond: 200_000, flavor: 'release', outDir: dir });
    const get = (w: string, m: string) => rs.find((r) => r.workload === w && r.mmu === m)!;
    for (const r of rs) expect(r.verified, `${r.workload} ${r.mmu}`).toBe(true);
    const ce = get('churn', 'ept'), cs = get('churn', 'shadow'), se = get('steady', 'ept'), ss = get('steady', 'shadow');
    expect(cs.stallNsPerTouch).toBeGreaterThan(2 * ce.stallNsPerTouch);
    expect(cs.workDone).toBeLessThan(ce.workDone);
    expect(ce.translateNsPerTouch).toBeGreaterThan(1.5 * cs.translateNsPerTouch);
    expect(se.translateNsPerTouch).toBeGreaterThan(1.5 * ss.translateNsPerTouch);
    // churn is what makes shadow paging expensive: its faults per touch grow with it, EPT's much less
    expect(cs.stallNsPerTouch / ss.stallNsPerTouch).toBeGreaterThan(ce.stallNsPerTouch / se.stallNsPerTouch);
    expect(eptVsShadowText(rs).split('\n')).toHaveLength(6);
    for (const f of ['ept.json', 'shadow.json', 'ept-vs-shadow.html']) expect(existsSync(join(dir, f)), f).toBe(true);
    expect(JSON.parse(readFileSync(join(dir, 'shadow.json'), 'utf8')).config.vms[0].mmu).toBe('shadow');
  }, 120_000);
});

describe('examples/esx-vs-kvm.ts', () => {
  it('the default scenario under both policies: two run files and their compare page', async () => {
    const dir = join(OUT, 'esx-vs-kvm');
    const r = await esxVsKvm({ outDir: dir, duration: 30, flavor: 'release' });
    const esx = JSON.parse(readFileSync(r.files.esx, 'utf8')), kvm = JSON.parse(readFileSync(r.files.kvm, 'utf8'));
    expect(esx.config.policy.kind).toBe('esx');
    expect(kvm.config.policy.kind).toBe('kvm');
    expect(esx.config.vms).toEqual(kvm.config.vms.map((v: { os: { balloon: object } }, i: number) => ({ ...v, os: { ...v.os, balloon: esx.config.vms[i].os.balloon } })));
    expect(esx.samples).toHaveLength(30);
    expect(esx.samples[0].host.state).toBe('high');
    expect(kvm.samples[0].host.kswapd).toMatch(/^(awake|asleep)$/);
    // the host never sets a balloon target under kvm
    expect(Math.max(...kvm.samples.flatMap((s: { vms: Record<string, { MCTLTGT: number }> }) => Object.values(s.vms).map((v) => v.MCTLTGT)))).toBe(0);
    expect(r.summaries.kvm.host.walk).toEqual([]);
    expect(r.text).toMatch(/^A esx\.json: policy esx, 6 VMs on 1024 MiB \(2\.00x\)/m);
    expect(r.text).toMatch(/^B kvm\.json: policy kvm/m);
    const html = readFileSync(r.files.html, 'utf8');
    expect(html).toContain('esx.json');
    expect(html).toContain('kvm.json');
  }, 120_000);
});
