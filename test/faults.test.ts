/**
 * Fault injection over the swap stores, interleaved with guest reads and writes, page-outs, share
 * scans and the reclamation they cause across VMs, checked against the nothing-lost oracle
 * (as test/reclaim.oracle.test.ts):
 *
 *   - every fault is survived (a read retried, a failed write leaving the page resident, a file
 *     removed under an open descriptor) or reported on the VM it hit (that VM faulted, its error
 *     naming the first cause, or a SwapIoError naming that VM's store);
 *   - no other VM loses a byte: every read of a VM that is not faulted matches the oracle;
 *   - the host never locks up: no operation of a VM that is not faulted fails for want of memory,
 *     and after the faulted VMs are powered off, a new VM uses all the memory they freed at once;
 *   - no raw error: everything thrown is a MemvisorError.
 *
 * `npm test` runs 4 seeds x 8k operations; `npm run soak` (MEMVISOR_SOAK=1) 8 seeds x 100k.
 * MEMVISOR_FAULT_OPS overrides the count. The figures of each seed are printed.
 */
import { describe, expect, it } from 'vitest';
import { engineOf } from '../src/engine/engine.js';
import { asGppn } from '../src/engine/addr.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Host, MemvisorError, OutOfMachineMemoryError, PState, SwapChecksumError, SwapIoError, VmFaultedError, SWAP_FAULT_KINDS,
  pageTableOverhead, type SwapFaultKind, type VM,
} from '../src/index.js';
import { mulberry32 } from './prng.js';

const PAGE = 4096;
const SOAK = process.env.MEMVISOR_SOAK === '1';
const SEEDS = SOAK ? [101, 102, 103, 104, 105, 106, 107, 108] : [71, 72, 73, 74];
const OPS = Number(process.env.MEMVISOR_FAULT_OPS ?? (SOAK ? 100_000 : 8_000));
/** Faults the suite injects: the store's kinds, and a stored bit flipped (persistent). */
type Kind = SwapFaultKind | 'flip-stored';

interface Guest {
  vm: VM;
  oracle: Uint8Array;
}

interface Figures {
  operations: number;
  reads: number;
  bytesVerified: number;
  injected: Record<Kind, number>;
  /** failed attempts the stores saw: read errors, checksum mismatches, write errors */
  detected: { readErrors: number; checksumErrors: number; writeErrors: number };
  /** injected faults never met (still pending at the end, then cleared) */
  notMet: number;
  /** reads tried again by the stores, and VMs faulted with the fault as their first cause */
  readRetries: number;
  vmsFaulted: number;
  /** operations that failed with a SwapIoError naming the VM's own store (nothing lost) */
  reportedOnOwnVm: number;
  /** page-outs whose result carried a write error (pages stayed resident) */
  pageOutWriteErrors: number;
  powerOffs: number;
  lockUps: number;
  rawErrors: number;
}

/**
 * What an error thrown by an operation of `vm` means: 'faulted' (a read fault its retries did not
 * cure, reported on this VM, which is now faulted with it as its first cause), 'own-write' (this
 * VM's own store could not take a write: nothing lost, the VM usable), 'lock-up' (anything else
 * a MemvisorError: out of memory, or another VM's fault paid by this one), 'raw' (not ours).
 */
function classify(e: unknown, vm: VM): 'faulted' | 'own-write' | 'lock-up' | 'raw' {
  if (!(e instanceof MemvisorError)) return 'raw';
  if ((e instanceof SwapIoError || e instanceof SwapChecksumError) && e.vm === vm.name) {
    if (vm.faulted === e) return 'faulted';
    if (!vm.faulted && e instanceof SwapIoError && e.op === 'write') return 'own-write';
  }
  return 'lock-up';
}

/** Throws unless `got` (read at `gpa` of `vm`) equals the oracle's `want`, naming the first lost byte. */
function sameAsOracle(vm: VM, gpa: number, got: Uint8Array, want: Uint8Array): void {
  if (Buffer.compare(got, want) === 0) return;
  const i = got.findIndex((b, k) => b !== want[k]);
  throw new Error(`VM ${vm.name} lost a byte at gPA ${gpa + i} (GPPN ${Math.floor((gpa + i) / PAGE)}): read ${got[i]}, wrote ${want[i]}`);
}

async function run(seed: number, ops: number, backing: 'memory' | 'file', dir: string): Promise<Figures> {
  const rnd = mulberry32(seed);
  const int = (n: number) => Math.floor(rnd() * n);
  const f: Figures = {
    operations: 0, reads: 0, bytesVerified: 0,
    injected: Object.fromEntries([...SWAP_FAULT_KINDS, 'flip-stored'].map((k) => [k, 0])) as Record<Kind, number>,
    detected: { readErrors: 0, checksumErrors: 0, writeErrors: 0 }, notMet: 0, readRetries: 0, vmsFaulted: 0,
    reportedOnOwnVm: 0, pageOutWriteErrors: 0, powerOffs: 0, lockUps: 0, rawErrors: 0,
  };
  // 5 MiB of guest memory on 2 MiB of machine memory: every fault meets reclamation
  const host = await Host.create({
    machineMemoryMiB: 2, seed, swap: { backing, dir, readRetries: 2 + (seed % 2) },
    sharing: { order: seed % 2 ? 'random' : 'sequential', salting: 'host' }, compression: { cachePercent: 10 },
  });
  let serial = 0;
  const guests: Guest[] = [];
  const add = (mib = 1, reservationMiB = 0) => {
    const vm = host.addVM({ name: `g${serial++}`, memoryMiB: mib, reservationMiB, victimPolicy: serial % 2 ? 'random' : 'lru' });
    guests.push({ vm, oracle: new Uint8Array(mib * 256 * PAGE) });
  };
  for (let i = 0; i < 5; i++) add();
  const stores = new Set(guests.map((g) => g.vm.swap));
  const templates = Array.from({ length: 4 }, (_, t) => Uint8Array.from({ length: PAGE }, (_, i) => (t % 2 ? i >> 3 : (i * 31 + t) & 0xff)));
  const content = (len: number): Uint8Array => {
    const b = new Uint8Array(len);
    const kind = int(4);
    if (kind === 0) for (let i = 0; i < len; i++) b[i] = int(256);
    else if (kind === 1) b.fill(int(3));
    else if (kind === 2) b.set(templates[int(4)].subarray(0, len));
    return b;
  };
  const healthy = () => guests.filter((g) => !g.vm.faulted);

  /** Runs `op` on `g`; an error must be reported on g (its own store), else it is a lock-up or raw. */
  const attempt = (g: Guest, op: () => void): boolean => {
    try {
      op();
      return true;
    } catch (e) {
      const kind = classify(e, g.vm);
      if (kind === 'faulted') f.vmsFaulted++;
      else if (kind === 'own-write') f.reportedOnOwnVm++;
      else {
        if (kind === 'raw') f.rawErrors++;
        else f.lockUps++;
        throw new Error(`seed ${seed}: VM ${g.vm.name} (faulted: ${g.vm.faulted !== null}) failed with ${(e as Error).name}: ${(e as Error).message}`, { cause: e });
      }
      return false;
    }
  };

  /**
   * Powers off `victim` and starts a new VM in its place: the memory it held is usable at once,
   * without reclaiming from anyone.
   */
  const replace = (victim: Guest) => {
    const st = victim.vm.stats();
    const before = host.stats().host.freeFrames;
    victim.vm.powerOff();
    f.powerOffs++;
    guests.splice(guests.indexOf(victim), 1);
    const freed = host.stats().host.freeFrames - before;
    expect(freed).toBeGreaterThanOrEqual(st.mapped);
    const others = host.stats().vms.map((v) => v.SWW + v.ZIP);
    add();
    const n = guests[guests.length - 1];
    stores.add(n.vm.swap);
    const use = Math.min(freed, n.vm.pages);
    for (let p = 0; p < use; p++) {
      const data = Uint8Array.from({ length: PAGE }, () => int(256));
      n.vm.writePhys(p * PAGE, data);
      n.oracle.set(data, p * PAGE);
    }
    expect(host.stats().vms.slice(0, -1).map((v) => v.SWW + v.ZIP)).toEqual(others);
  };

  for (let op = 0; op < ops; op++) {
    // keep three VMs running: the faulted ones are powered off and replaced
    while (healthy().length < 3) replace(guests.find((x) => x.vm.faulted)!);
    const live = healthy();
    const g = live[int(live.length)];
    const size = g.oracle.length;
    const r = rnd();
    f.operations++;
    if (r < 0.4) {
      // a write inside one page: it lands whole or not at all, so the oracle stays exact
      const gppn = int(size / PAGE);
      const off = rnd() < 0.5 ? 0 : int(PAGE);
      const data = content(off === 0 ? PAGE : 1 + int(PAGE - off));
      if (attempt(g, () => g.vm.writePhys(gppn * PAGE + off, data))) g.oracle.set(data, gppn * PAGE + off);
    } else if (r < 0.8) {
      const len = 1 + int(3 * PAGE);
      const gpa = int(size - len + 1);
      let got: Uint8Array | null = null;
      attempt(g, () => (got = g.vm.readPhys(gpa, len)));
      if (got) {
        sameAsOracle(g.vm, gpa, got, g.oracle.subarray(gpa, gpa + len));
        f.reads++;
        f.bytesVerified += len;
      }
    } else if (r < 0.83) {
      attempt(g, () => {
        const res = g.vm.pageOut(1 + int(16));
        if (res.error) {
          expect(res.error.vm).toBe(g.vm.name);
          f.pageOutWriteErrors++;
        }
      });
    } else if (r < 0.86) {
      host.shareScan(1 + int(300));
    } else if (r < 0.89) {
      // a fault into one VM's store; read faults beyond the retries will fault it
      const kinds: Kind[] = [...SWAP_FAULT_KINDS.filter((k) => backing === 'file' || k !== 'file-removed'), 'flip-stored'];
      const kind = kinds[int(kinds.length)];
      const count = kind === 'read-error' || kind === 'short-read' || kind === 'bit-flip' ? 1 + int(g.vm.swap.readRetries + 2) : 1 + int(2);
      if (kind === 'flip-stored') {
        const swapped = [...Array(g.vm.pages).keys()].filter((p) => g.vm.pageState(p) === PState.Swapped);
        if (swapped.length === 0) continue;
        const p = swapped[int(swapped.length)];
        g.vm.swap.corrupt(engineOf(host).reclaim.pmapFrame(g.vm.id, asGppn(p)), int(PAGE * 8));
        f.injected[kind]++;
      } else {
        g.vm.swap.inject({ kind, count });
        f.injected[kind] += kind === 'file-removed' ? 1 : count;
      }
    } else if (r < 0.892) {
      replace(g); // now and then a healthy VM goes too
    } else {
      // the guest streams through a run of pages: memory runs short, reclaim meets the faults
      // (page by page: each lands whole or not at all)
      const first = int(size / PAGE - 16);
      for (let p = first; p < first + 16; p++) {
        const data = content(PAGE);
        if (!attempt(g, () => g.vm.writePhys(p * PAGE, data))) break;
        g.oracle.set(data, p * PAGE);
      }
    }
    if (op % 64 === 0) host.audit(op % 4096 === 0);
  }

  // no more faults: those not met are cleared (a torn write left pending could strike below)
  for (const g of guests) f.notMet += g.vm.swap.clearFaults();
  // every VM that is not faulted reads back whole (a fault found now is reported on its VM)
  for (const g of healthy()) {
    let got: Uint8Array | null = null;
    attempt(g, () => (got = g.vm.readPhys(0, g.oracle.length)));
    if (!got) continue;
    sameAsOracle(g.vm, 0, got, g.oracle);
    f.bytesVerified += g.oracle.length;
  }
  host.audit(true);
  // the faulted VMs powered off: a new VM with every frame the host can guarantee reserved gets them all
  for (const g of guests.filter((x) => x.vm.faulted)) {
    expect(g.vm.faulted).toBeInstanceOf(MemvisorError);
    expect(() => g.vm.readPhys(0, 1)).toThrow(VmFaultedError);
    g.vm.powerOff();
    f.powerOffs++;
  }
  for (const s of stores) {
    const st = s.stats();
    f.detected.readErrors += st.readErrors;
    f.detected.checksumErrors += st.checksumErrors;
    f.detected.writeErrors += st.writeErrors;
    f.readRetries += st.readRetries;
  }
  const left = healthy();
  const reservable = Math.floor((host.stats().host.machineFrames - left.reduce((a, g) => a + pageTableOverhead(g.vm.pages), 0) - pageTableOverhead(512)) / 256);
  const fresh = host.addVM({ name: 'fresh', memoryMiB: 2, reservationMiB: reservable });
  const data = Uint8Array.from({ length: reservable * 256 * PAGE }, (_, i) => (i * 7 + seed) & 0xff);
  fresh.writePhys(0, data);
  expect(fresh.stats().resident).toBe(reservable * 256);
  expect(Buffer.compare(fresh.readPhys(0, data.length), data)).toBe(0);
  for (const g of left) sameAsOracle(g.vm, 0, g.vm.readPhys(0, g.oracle.length), g.oracle);
  host.audit(true);
  const report = host.close();
  expect(report.problems).toEqual([]);
  return f;
}

describe('fault injection: every fault survived or reported on its VM, nothing else lost, no lock-up', () => {
  for (const seed of SEEDS) {
    it(`seed ${seed}: ${OPS} operations`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'memvisor-faults-'));
      const f = await run(seed, OPS, seed % 2 ? 'file' : 'memory', dir);
      rmSync(dir, { recursive: true });
      process.stdout.write(`faults seed ${seed} (${seed % 2 ? 'file' : 'memory'}): ${JSON.stringify(f)}\n`);
      expect(f.lockUps).toBe(0);
      expect(f.rawErrors).toBe(0);
      // every kind was injected, and faults were both survived and reported
      for (const [kind, n] of Object.entries(f.injected)) if (seed % 2 || kind !== 'file-removed') expect(n, kind).toBeGreaterThan(0);
      expect(f.readRetries).toBeGreaterThan(0);
      expect(f.vmsFaulted).toBeGreaterThan(0);
      expect(f.detected.writeErrors).toBeGreaterThan(0);
      expect(f.reads).toBeGreaterThan(OPS / 4);
    }, SOAK ? 3_600_000 : 120_000);
  }

  it('the checks fire: a lost byte, a lock-up, another VM paying for a fault, a raw error', async () => {
    const host = await Host.create({ machineMemoryMiB: 2, compression: { cachePercent: 0 } });
    const vm = host.addVM({ name: 'x', memoryMiB: 1 });
    const other = host.addVM({ name: 'y', memoryMiB: 1 });
    const want = new Uint8Array(PAGE).fill(9);
    vm.writePhys(0, want);
    // a byte changed behind the VM's back (in its frame) is caught by the oracle comparison
    host.writeMachine(engineOf(host).reclaim.pmapFrame(vm.id, asGppn(0)) * PAGE + 100, new Uint8Array([8]));
    expect(() => sameAsOracle(vm, 0, vm.readPhys(0, PAGE), want)).toThrow(/VM x lost a byte at gPA 100 \(GPPN 0\): read 8, wrote 9/);
    expect(classify(new OutOfMachineMemoryError('no frame'), vm)).toBe('lock-up');
    expect(classify(new TypeError('x'), vm)).toBe('raw');
    const otherWrite = new SwapIoError('write', 'y', 0, 0, new Error('EIO'));
    expect(classify(otherWrite, vm)).toBe('lock-up'); // y's fault must not fail x
    expect(classify(otherWrite, other)).toBe('own-write');
    // a read fault past the retries faults the VM with it: reported on that VM
    vm.pageOut(256);
    vm.swap.inject({ kind: 'read-error', count: 10 });
    let err: unknown;
    try {
      vm.readPhys(0, 1);
    } catch (e) {
      err = e;
    }
    expect(classify(err, vm)).toBe('faulted');
    expect(classify(err, other)).toBe('lock-up');
    expect(classify(new SwapIoError('read', 'x', 0, 0, new Error('EIO')), vm)).toBe('lock-up'); // not the first cause
    host.close();
  });
});
