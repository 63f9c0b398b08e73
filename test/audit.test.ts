/**
 * The audit provably checks: for every invariant the module names (AUDIT_*), a test builds a
 * host where every structure exists (private, shared, zero, compressed, swapped, ballooned and
 * unbacked pages, three sharing domains, a powered-off VM's retired entry, an EPT VM and a shadow
 * VM with leaves over private and shared frames), proves it audits clean, breaks that one invariant through the debug build's
 * corruption hook (assembly/debug.ts) and expects exactly that AuditError, naming where.
 *
 * A case per invariant is required: the list of cases must equal the module's list of codes, so
 * a new invariant without a test fails here.
 */
import { describe, expect, it } from 'vitest';
import { AuditError, ConfigError, Host, PState, type Mmu, type VM } from '../src/index.js';
import { Engine, engineOf } from '../src/engine/engine.js';
import { asGppn } from '../src/engine/addr.js';
import { mulberry32 } from './prng.js';

const PAGE = 4096;
const VA0 = 0x400000n;

/** The GPPN the guest tables of `core`'s current address space map `va` to (4 KiB pages). */
function guestGppn(core: Mmu, va: bigint): number {
  let table = core.vm.cr3;
  for (let level = core.vm.levels; level >= 1; level--) {
    const e = core.guestRead64(table + ((va >> BigInt(12 + 9 * (level - 1))) & 511n) * 8n);
    table = e & (((1n << 46n) - 1n) & ~0xfffn);
  }
  return Number(table >> 12n);
}

interface Scene {
  host: Host;
  /** a VM holding one 2 MiB large page (GPPNs 0 .. 511) */
  big: VM;
  a: VM;
  b: VM;
  c: VM;
  ept: VM;
  shadow: VM;
  /** a data page of the EPT / shadow VM: private with a writable leaf, and shared with a read-only leaf */
  eptPrivate: number;
  eptShared: number;
  shadowPrivate: number;
  shadowShared: number;
}

/** A host where every invariant has something to check. Deterministic (seeded). */
async function scene(flavor?: 'release'): Promise<Scene> {
  const rnd = mulberry32(7);
  const random = () => Uint8Array.from({ length: PAGE }, () => Math.floor(rnd() * 256));
  const compressible = (i: number) => Uint8Array.from({ length: PAGE }, (_, k) => ((k >> 4) * 7 + i) & 0xff);
  const host = await Host.create({ machineMemoryMiB: 8, seed: 5, compression: { cachePercent: 50 }, ...(flavor ? { flavor } : {}) });
  const a = host.addVM({ name: 'a', memoryMiB: 1, salt: 1 });
  const b = host.addVM({ name: 'b', memoryMiB: 1, salt: 1 });
  const c = host.addVM({ name: 'c', memoryMiB: 1, salt: 2 });
  const gone = host.addVM({ name: 'gone', memoryMiB: 1, salt: 1 }); // powered off below: a retired entry between live VMs
  const ept = host.addVM({ name: 'ept', memoryMiB: 2, mmu: 'ept', salt: 3 });
  const shadow = host.addVM({ name: 'shadow', memoryMiB: 2, mmu: 'shadow', salt: 4 });
  // a large page first, while every block is whole: GPPNs 0 .. 511 of `big` in one aligned block
  const big = host.addVM({ name: 'big', memoryMiB: 2, salt: 5, largePages: true });
  host.allowLargePages(true);
  big.writePhys(3 * PAGE, random());
  host.allowLargePages(false);
  const common = Array.from({ length: 30 }, random);
  for (let g = 0; g < 60; g++) a.writePhys(g * PAGE, g < 30 ? common[g] : random());
  for (let g = 60; g < 70; g++) {
    a.writePhys(g * PAGE, Uint8Array.of(1)); // backed, then zero: the scanner makes it a Zero page
    a.writePhys(g * PAGE, Uint8Array.of(0));
  }
  for (let g = 0; g < 30; g++) b.writePhys(g * PAGE, common[g]); // shared with a (same salt)
  for (let g = 0; g < 30; g++) c.writePhys(g * PAGE, common[g]); // not shared with a (salt 2)
  c.writePhys(30 * PAGE, common[0]); // shared within c's domain
  for (let g = 40; g < 120; g++) c.writePhys(g * PAGE, compressible(g));
  for (let g = 120; g < 160; g++) c.writePhys(g * PAGE, random());
  a.balloonInflate([200, 201]);
  for (let g = 0; g < 20; g++) gone.writePhys(g * PAGE, common[g]);

  const core = host.mmu();
  const pages = new Map<VM, [number, number]>();
  for (const vm of [ept, shadow]) {
    const p = core.attach(vm);
    core.switchTo(p);
    for (let i = 0; i < 6; i++) {
      const t = core.translate(VA0 + BigInt(i) * 4096n, 'write');
      host.writeMachine(t.hpa!, i < 2 ? common[5] : random()); // pages 0 and 1 will merge
    }
    pages.set(vm, [guestGppn(core, VA0 + 2n * 4096n), guestGppn(core, VA0)]);
  }
  host.shareScan();
  gone.powerOff(); // its shared pages lose a user, its private frames go back
  c.pageOut(100); // compressed (the compressible pages) and swapped (the random ones)
  // one compressed page back: its slot is freed in a zpool frame that keeps others (a free slot)
  const bySlotFrame = new Map<number, number[]>();
  for (let g = 0; g < c.pages; g++) {
    if (c.pageState(g) === PState.Compressed) bySlotFrame.set(engineOf(host).reclaim.pmapFrame(c.id, asGppn(g)) >> 2, [...(bySlotFrame.get(engineOf(host).reclaim.pmapFrame(c.id, asGppn(g)) >> 2) ?? []), g]);
  }
  const crowded = [...bySlotFrame.values()].find((gs) => gs.length > 1)!;
  c.readPhys(crowded[0] * PAGE, PAGE);
  for (const vm of [ept, shadow]) {
    core.switchTo(core.attach(vm));
    for (let i = 0; i < 6; i++) core.translate(VA0 + BigInt(i) * 4096n, 'read'); // leaves again, read-only over shared frames
  }
  const [eptPrivate, eptShared] = pages.get(ept)!;
  const [shadowPrivate, shadowShared] = pages.get(shadow)!;
  return { host, big, a, b, c, ept, shadow, eptPrivate, eptShared, shadowPrivate, shadowShared };
}

/** The first GPPN of `vm` in `state`. */
function first(vm: VM, state: PState): number {
  for (let g = 0; g < vm.pages; g++) if (vm.pageState(g) === state) return g;
  throw new Error(`VM ${vm.name} has no page in state ${PState[state]}`);
}
const frame = (s: Scene, vm: VM, g: number) => engineOf(s.host).reclaim.pmapFrame(vm.id, asGppn(g));
/** The engine's per-VM statistics (pages by state, cache bytes). */
const counts = (s: Scene, vm: VM) => engineOf(s.host).reclaim.vmStats(vm.id);
/** Used zpool slots of both classes. */
const slots = (s: Scene) => s.host.stats().host.zpoolSlots1K + s.host.stats().host.zpoolSlots2K;

interface Case {
  /** the target and second frame the corruption takes (assembly/debug.ts) */
  target?: (s: Scene) => { vm: VM; gppn?: number; arg?: number };
  /** what the AuditError must say, given the scene, the target and what the corruption touched */
  where: (s: Scene, t: { vm?: VM; gppn?: number; arg?: number }, touched: number) => Record<string, unknown>;
}

/** One breaking case per invariant, by the module's names. */
const CASES: Record<string, Case> = {
  FRAMES_CONSERVED: { where: (s) => ({ expected: 2048, found: 2049, vm: undefined }) },
  FRAME_FREE_LIST: { where: (s, t, m) => ({ mpn: m, kind: 'Guest' }) },
  FRAME_REFS_KIND: { target: (s) => ({ vm: s.a, gppn: first(s.a, PState.Mapped) }), where: (s, t, m) => ({ mpn: m, kind: 'Guest' }) },
  FRAME_KIND_COUNT: { where: (s) => ({ kind: 'Guest', expected: s.host.stats().host.guestFrames, found: s.host.stats().host.guestFrames - 1 }) },
  VM_RANGES: { target: (s) => ({ vm: s.b }), where: () => ({ vm: 'b', vmId: 1, expected: 256, found: 0 }) },
  VM_PAGES_CONSERVED: { target: (s) => ({ vm: s.a }), where: () => ({ vm: 'a', expected: 256, found: 257 }) },
  PMAP_BAD_STATE: { target: (s) => ({ vm: s.a, gppn: 40 }), where: () => ({ vm: 'a', gppn: 40, state: '9' }) },
  PMAP_MARK_LEFT: { target: (s) => ({ vm: s.a, gppn: 41 }), where: () => ({ vm: 'a', gppn: 41, state: 'Mapped' }) },
  PMAP_PENDING: { target: (s) => ({ vm: s.c, gppn: first(s.c, PState.Swapped) }), where: (s, t) => ({ vm: 'c', gppn: t.gppn, state: 'Swapped' }) },
  PMAP_FRAME_NOT_GUEST: { target: (s) => ({ vm: s.a, gppn: 42 }), where: (s, t, m) => ({ vm: 'a', gppn: 42, mpn: m, kind: 'Free', state: 'Mapped' }) },
  PRIVATE_FRAME_OWNER: { target: (s) => ({ vm: s.a, gppn: 50 }), where: (s, t, m) => ({ vm: 'a', gppn: 50, mpn: m }) },
  SHARED_NOT_SHARED: { target: (s) => ({ vm: s.a, gppn: 43 }), where: (s, t, m) => ({ vm: 'a', gppn: 43, mpn: m, state: 'Shared' }) },
  ISOLATION: {
    target: (s) => ({ vm: s.c, gppn: first(s.c, PState.Shared), arg: frame(s, s.a, first(s.a, PState.Shared)) }),
    where: (s, t) => ({ vm: 'c', gppn: t.gppn, mpn: t.arg, expected: 2, found: 1 }),
  },
  ZERO_NOT_ZERO: { target: (s) => ({ vm: s.a, gppn: first(s.a, PState.Zero) }), where: (s, t, m) => ({ vm: 'a', gppn: t.gppn, mpn: m }) },
  VM_STATE_COUNT: {
    target: (s) => ({ vm: s.a }),
    where: (s) => ({ vm: 'a', state: 'Unbacked', expected: counts(s, s.a).unbacked, found: counts(s, s.a).unbacked - 1 }),
  },
  FRAME_REFS: { target: (s) => ({ vm: s.a, gppn: 44 }), where: (s, t, m) => ({ mpn: m, expected: 1, found: 2, vm: undefined }) },
  ZIP_LRU_LIST: { target: (s) => ({ vm: s.c, gppn: first(s.c, PState.Compressed) }), where: (s, t, slot) => ({ vm: 'c', slot, mpn: slot >> 2 }) },
  ZIP_SLOT_OWNER: { target: (s) => ({ vm: s.c, gppn: first(s.c, PState.Compressed) }), where: (s, t, slot) => ({ vm: 'c', gppn: t.gppn, slot }) },
  ZIP_COUNT: {
    target: (s) => ({ vm: s.c, gppn: first(s.c, PState.Compressed) }),
    where: (s) => ({ vm: 'c', expected: counts(s, s.c).compressed, found: counts(s, s.c).compressed - 1 }),
  },
  ZIP_FRAMES: { target: (s) => ({ vm: s.c }), where: (s) => ({ vm: 'c', expected: counts(s, s.c).zipFrames, found: counts(s, s.c).zipFrames + 1 }) },
  ZIP_BYTES: { target: (s) => ({ vm: s.c }), where: (s) => ({ vm: 'c', expected: counts(s, s.c).cacheUsedBytes, found: counts(s, s.c).cacheUsedBytes + 1 }) },
  ZPOOL_FREE_LIST: { where: (s, t, slot) => ({ slot, mpn: slot >> 2 }) },
  ZPOOL_FRAMES: { where: (s) => ({ expected: s.host.stats().host.zpoolFrames + 1, found: s.host.stats().host.zpoolFrames }) },
  ZPOOL_FRAME: { target: (s) => ({ vm: s.c, gppn: first(s.c, PState.Compressed) }), where: (s, t, m) => ({ mpn: m }) },
  ZPOOL_COUNTS: { where: () => ({}) },
  ZPOOL_SLOT_OWNERS: { where: (s) => ({ expected: slots(s), found: slots(s) + 1 }) },
  SHARE_BAD_ENTRY: { target: (s) => ({ vm: s.a, gppn: first(s.a, PState.Shared) }), where: (s, t, m) => ({ mpn: m }) },
  SHARE_ENTRY_FRAME: { target: (s) => ({ vm: s.a, gppn: first(s.a, PState.Shared), arg: frame(s, s.a, 45) }), where: (s, t) => ({ mpn: t.arg }) },
  SHARE_CONTENT_CHANGED: { target: (s) => ({ vm: s.b, gppn: first(s.b, PState.Shared) }), where: (s, t, m) => ({ mpn: m }) },
  SHARE_UNREACHABLE: { target: (s) => ({ vm: s.a, gppn: first(s.a, PState.Shared) }), where: (s, t, m) => ({ mpn: m }) },
  SHARE_COUNTS: { where: () => ({ mpn: undefined }) },
  SHARE_UNTABLED: { target: (s) => ({ vm: s.a, gppn: 46 }), where: (s) => ({ expected: s.host.stats().host.pages_shared, found: s.host.stats().host.pages_shared + 1 }) },
  PT_TABLE_FRAME: { target: (s) => ({ vm: s.ept, gppn: s.eptPrivate, arg: frame(s, s.a, 47) }), where: (s, t) => ({ vm: 'ept', mpn: t.arg, kind: 'Guest' }) },
  PT_TABLE_COUNT: { target: (s) => ({ vm: s.shadow }), where: (s) => ({ vm: 'shadow', expected: s.shadow.stats().paging!.shadowTables, found: s.shadow.stats().paging!.shadowTables + 1 }) },
  EPT_LEAF_STALE: {
    target: (s) => ({ vm: s.ept, gppn: s.eptPrivate, arg: frame(s, s.a, 48) }),
    where: (s, t) => ({ vm: 'ept', gppn: t.gppn, mpn: t.arg, expected: frame(s, s.ept, t.gppn!), found: t.arg, state: 'Mapped' }),
  },
  EPT_LEAF_WRITABLE: { target: (s) => ({ vm: s.ept, gppn: s.eptShared }), where: (s, t, m) => ({ vm: 'ept', gppn: t.gppn, mpn: m, state: 'Shared' }) },
  SHADOW_LEAF_FRAME: { target: (s) => ({ vm: s.shadow, gppn: s.shadowPrivate, arg: frame(s, s.a, 49) }), where: (s, t) => ({ vm: 'shadow', mpn: t.arg, gppn: undefined }) },
  SHADOW_LEAF_WRITABLE: { target: (s) => ({ vm: s.shadow, gppn: s.shadowShared }), where: (s, t, m) => ({ vm: 'shadow', mpn: m }) },
  PT_FRAMES: { where: (s) => ({ expected: s.host.stats().host.pageTableFrames, found: s.host.stats().host.pageTableFrames + 1 }) },
  HV_FRAMES: { where: () => ({ expected: 0, found: 1 }) },
  FRAME_BLOCKS: { where: () => ({ mpn: 0, expected: 0, found: 65535 }) },
  LARGE_PARTIAL: { target: (s) => ({ vm: s.big, gppn: 7 }), where: () => ({ vm: 'big', gppn: 7 }) },
  LARGE_NOT_MAPPED: { target: (s) => ({ vm: s.big, gppn: 8 }), where: () => ({ vm: 'big', gppn: 8, state: 'Unbacked' }) },
  LARGE_FRAMES: {
    target: (s) => ({ vm: s.big, gppn: 10 }),
    where: (s, t, m) => ({ vm: 'big', gppn: 10, mpn: m, expected: frame(s, s.big, 0) + 10, found: frame(s, s.big, 0) + 11 }),
  },
  SHARE_CAP: { where: (s) => ({ mpn: frame(s, s.a, first(s.a, PState.Zero)), expected: 2, found: counts(s, s.a).zero }) },
};

describe('audit: every invariant fires on its own corruption, naming where', () => {
  it('the scene audits clean, and has every structure the cases break', async () => {
    const s = await scene();
    s.host.audit(true);
    const st = (vm: VM) => counts(s, vm);
    expect(st(s.a).mapped).toBeGreaterThan(0);
    expect(st(s.a).shared).toBeGreaterThan(0);
    expect(st(s.a).zero).toBeGreaterThan(0);
    expect(st(s.a).ballooned).toBe(2);
    expect(st(s.c).shared).toBeGreaterThan(0);
    expect(st(s.c).compressed).toBeGreaterThan(0);
    expect(st(s.c).swapped).toBeGreaterThan(0);
    expect(s.ept.pageState(s.eptShared)).toBe(PState.Shared);
    expect(s.shadow.pageState(s.shadowShared)).toBe(PState.Shared);
    expect(s.ept.pageState(s.eptPrivate)).toBe(PState.Mapped);
    expect(s.big.stats().largePages).toBe(1);
    expect(frame(s, s.big, 0) % 512).toBe(0);
  });

  it('has one case per invariant the module names', () => {
    const names = [...Engine.create({ machineMemoryMiB: 1 }).reclaim.invariants.values()];
    expect(names.length).toBeGreaterThanOrEqual(40);
    expect(Object.keys(CASES).sort()).toEqual([...names].sort());
  });

  for (const [invariant, c] of Object.entries(CASES)) {
    it(invariant, async () => {
      const s = await scene();
      const t: { vm?: VM; gppn?: number; arg?: number } = c.target?.(s) ?? {};
      const before = c.where(s, t, 0); // counts read before the corruption changes them
      const touched = engineOf(s.host).reclaim.debugCorrupt(invariant, t.vm?.id ?? 0, t.gppn ?? 0, t.arg ?? 0);
      const want = { ...before, ...c.where(s, t, touched), ...('expected' in before ? { expected: before.expected } : {}), ...('found' in before ? { found: before.found } : {}) };
      let err: unknown;
      try {
        s.host.audit(true);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(AuditError);
      const a = err as AuditError;
      expect(a.invariant).toBe(invariant);
      expect({ ...a }).toMatchObject(Object.fromEntries(Object.entries(want).filter(([, v]) => v !== undefined)));
      for (const [k, v] of Object.entries(want)) if (v === undefined) expect((a as unknown as Record<string, unknown>)[k], k).toBeUndefined();
      expect(a.message).toContain(`invariant ${invariant} broken: ${a.description}`);
      if (a.vm !== undefined) expect(a.message).toContain(`VM ${JSON.stringify(a.vm)}`);
      if (a.gppn !== undefined) expect(a.message).toContain(`GPPN ${a.gppn}`);
      if (a.mpn !== undefined) expect(a.message).toContain(`MPN ${a.mpn}`);
    });
  }
});

describe('audit: names and the debug-only hook', () => {
  it('every code from 1 up has a name and a text; AuditError reads as the invariant and its place', async () => {
    const e = Engine.create({ machineMemoryMiB: 1 });
    const inv = e.reclaim.invariants;
    const codes = [...inv.keys()].sort((x, y) => x - y);
    expect(codes).toEqual(codes.map((_, i) => i + 1));
    for (const code of codes) expect(e.reclaim.auditText(code)).toMatch(/^[a-z].{20,}/);
    expect(e.reclaim.auditText(codes.length + 1)).toBe('');
    const err = new AuditError('ISOLATION', 13, 'a text', { vm: 'a', vmId: 0, gppn: 5, mpn: 17, expected: 2, found: 1 });
    expect(err.message).toBe('audit: invariant ISOLATION broken: a text (at VM "a" (id 0), GPPN 5, MPN 17; expected 2, found 1)');
  });

  it('the release build refuses to corrupt, and nothing changes', async () => {
    const s = await scene('release');
    expect(engineOf(s.host).flavor).toBe('release');
    expect(() => engineOf(s.host).reclaim.debugCorrupt('FRAMES_CONSERVED')).toThrow(ConfigError);
    expect(() => engineOf(s.host).reclaim.debugCorrupt('FRAMES_CONSERVED')).toThrow(/compiled only into build\/debug\.wasm/);
    s.host.audit(true);
  });

  it('an unknown invariant name or a target in the wrong state is a ConfigError, and changes nothing', async () => {
    const s = await scene();
    expect(() => engineOf(s.host).reclaim.debugCorrupt('NO_SUCH_THING')).toThrow(/invariant: got "NO_SUCH_THING", expected one of FRAMES_CONSERVED/);
    expect(() => engineOf(s.host).reclaim.debugCorrupt('ZERO_NOT_ZERO', s.a.id, 0)).toThrow(ConfigError); // page 0 is shared, not zero
    s.host.audit(true);
  });
});
