/**
 * The public surface under arbitrary arguments: fast-check calls Host, VM and Mmu methods with
 * anything a JavaScript caller could pass (NaN, infinities, negative and fractional numbers,
 * numbers past 2^32 and 2^53, bigints, strings, null, undefined, arrays, byte arrays of odd
 * sizes, plain objects), interleaved with valid work. Every call either does its work or throws a
 * MemvisorError that is not an engine abort; the host's audit holds after each sequence; and the
 * page the test wrote first still reads back, untouched by every refused call.
 * (Raw memory writes, setEptEntry and writeMachine, are left out: they change what they are told.)
 * 150 sequences in `npm test`, 1500 in `npm run soak`; MEMVISOR_FUZZ_RUNS and MEMVISOR_FUZZ_SEED set them.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Host, MemvisorError, EngineAbortError, type VM, type Mmu, type MmuVm } from '../src/index.js';

const junkNumber = fc.oneof(
  fc.integer({ min: -3, max: 70_000 }),
  fc.constantFrom(NaN, Infinity, -Infinity, -0, 0.5, 4095.5, 2 ** 31, 2 ** 32, 2 ** 32 + 1, 2 ** 53, -(2 ** 31), 1e300),
  fc.double(),
);
const junk: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: junkNumber },
  fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }),
  fc.constantFrom('', 'a', 'b', '4096', 'read', 'write', 'single', 'all', 'address', 'execute'),
  fc.constantFrom(null, undefined, true, false),
  fc.array(junkNumber, { maxLength: 4 }),
  fc.uint8Array({ maxLength: 9000 }),
  fc.constantFrom({}, { vm: null }, { clear: 1 }, new Uint32Array(3), new BigUint64Array(2), new Uint8Array(0)),
);

type Ctx = { host: Host; vm: VM; mmu: Mmu; guest: MmuVm };
type Call = (c: Ctx, a: unknown, b: unknown, d: unknown) => unknown;

/** A guest-physical address drawn for a call that writes: moved off page 0, which holds the marker. */
function gpaOff0(x: unknown): unknown {
  if (x === undefined) return 4096;
  if (typeof x === 'number' && x >= 0 && x < 4096) return x + 4096;
  return x;
}
/** GPPNs drawn for the balloon: 0 (the marker's page) becomes 1. */
const gppnsOff0 = (x: unknown) => (Array.isArray(x) ? x.map((g) => (g === 0 ? 1 : g)) : x);

/** Each public method, called with whatever arguments were drawn. */
const CALLS: Record<string, Call> = {
  pageState: (c, a) => c.vm.pageState(a as never),
  writePhys: (c, a, b) => c.vm.writePhys(gpaOff0(a) as never, b as never),
  readPhys: (c, a, b, d) => c.vm.readPhys(a as never, b as never, d as never),
  pageOut: (c, a) => c.vm.pageOut(a as never),
  balloonInflate: (c, a) => c.vm.balloonInflate(gppnsOff0(a) as never),
  balloonDeflate: (c, a) => c.vm.balloonDeflate(a as never),
  zipSurvey: (c, a, b) => c.vm.zipSurvey(a as never, b as never),
  loadImage: (c, a, b) => (a instanceof Uint8Array ? c.vm.loadImage(a, gpaOff0(b) as never) : undefined),
  shareScan: (c, a) => c.host.shareScan(a as never),
  setMaxPageSharing: (c, a) => c.host.setMaxPageSharing(a as never),
  setPoolPercent: (c, a) => c.host.setPoolPercent(a as never),
  setCachePercent: (c, a) => c.host.setCachePercent(c.vm, a as never),
  blockAbove: (c, a) => c.host.blockAbove(c.vm, a as never),
  breakLargePages: (c, a) => c.host.breakLargePages(a as never),
  allowLargePages: (c, a) => c.host.allowLargePages(a as never),
  readMachine: (c, a, b) => c.host.readMachine(a as never, b as never),
  hostVm: (c, a) => c.host.vm(a as never),
  addVM: (c, a) => c.host.addVM(a as never),
  translate: (c, a, b, d) => c.mmu.translate(a as never, b as never, d as never),
  translateOrThrow: (c, a, b) => c.mmu.translateOrThrow(a as never, b as never),
  invlpg: (c, a) => c.mmu.invlpg(a as never),
  invvpid: (c, a, b, d) => c.mmu.invvpid(a as never, b as never, d as never),
  invept: (c, a) => c.mmu.invept(a as never),
  eptEntry: (c, a, b) => c.mmu.eptEntry(a as never, b as never),
  pmapFrame: (c, a) => c.mmu.pmapFrame(a as never),
  sampleAccessed: (c, a, b, d) => c.mmu.sampleAccessed(a as never, b as never, d as never),
  backingChanged: (c, a) => c.mmu.backingChanged(a as never),
  translateBatch: (c, a, b, d) => c.mmu.translateBatch(a as never, b as never, d as never),
  batch: (c, a) => c.mmu.batch(a as never),
  switchTo: (c, a, b) => c.mmu.switchTo(a === null ? c.guest : (a as never), b as never),
  decodeFault: (c, a) => c.mmu.decodeFault(a as never),
};

/** Valid work between the junk: writes into the VM's pages 1.. (page 0 holds the marker). */
const work = fc.record({ gpa: fc.integer({ min: 1, max: 8 * 256 - 1 }), byte: fc.integer({ min: 0, max: 255 }) });
const stepsOf = (calls: Record<string, Call>) =>
  fc.array(
    fc.oneof(
      { weight: 3, arbitrary: fc.tuple(fc.constantFrom(...Object.keys(calls)), junk, junk, junk).map(([name, a, b, d]) => ({ name, a, b, d })) },
      { weight: 1, arbitrary: work.map((w) => ({ name: 'work', a: w as unknown, b: undefined as unknown, d: undefined as unknown })) },
    ),
    { minLength: 1, maxLength: 40 },
  );

const marker = new Uint8Array(4096).map((_, i) => (i * 7 + 3) & 0xff);

/**
 * The property over `calls`: every call does its work or throws a MemvisorError that is not an
 * abort; the audit holds after the sequence; page 0 of VM 'a' reads back as written. Returns the
 * methods that refused something.
 */
async function check(calls: Record<string, Call>, runs: number, seed: number): Promise<Set<string>> {
  const refusals = new Set<string>();
  await fc.assert(
    fc.asyncProperty(stepsOf(calls), async (steps) => {
      const host = await Host.create({ machineMemoryMiB: 12, guestMemoryMiB: 64, flavor: 'debug', compression: { cachePercent: 20 } });
      try {
        const vm = host.addVM({ name: 'a', memoryMiB: 16 });
        const mmu = host.mmu();
        const guest = mmu.attach(host.addVM({ name: 'g', memoryMiB: 16, mmu: 'ept' }));
        const c: Ctx = { host, vm, mmu, guest };
        vm.writePhys(0, marker);
        for (const s of steps) {
          try {
            if (s.name === 'work') {
              // refused too once junk blocked the VM (blockAbove) at fewer pages than it holds
              const w = s.a as { gpa: number; byte: number };
              vm.writePhys(w.gpa * 4096 + (w.byte & 0xf), new Uint8Array([w.byte]));
            } else calls[s.name](c, s.a, s.b, s.d);
          } catch (e) {
            if (!(e instanceof MemvisorError) || e instanceof EngineAbortError) {
              throw new Error(`${s.name}(${[s.a, s.b, s.d].map(show).join(', ')}) threw ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
            }
            refusals.add(s.name);
          }
        }
        host.audit();
        host.blockAbove(vm, null);
        expect(vm.readPhys(0, 4096)).toEqual(marker);
      } finally {
        host.close();
      }
    }),
    { seed, numRuns: runs },
  );
  return refusals;
}

describe('public methods under arbitrary arguments', () => {
  it('do their work or throw a MemvisorError; the audit holds; the first page is untouched', async () => {
    const runs = Number(process.env.MEMVISOR_FUZZ_RUNS ?? (process.env.MEMVISOR_SOAK ? 1500 : 150));
    const refusals = await check(CALLS, runs, Number(process.env.MEMVISOR_FUZZ_SEED ?? 20261128));
    // the junk reaches the checks: most methods refused something
    expect(refusals.size).toBeGreaterThan(Object.keys(CALLS).length / 2);
  }, 300_000);

  it('the property fires: on a raw TypeError, and on a call that changes the marked page', async () => {
    /** What the property failed on (fast-check keeps it as the cause). */
    const failure = (p: Promise<unknown>) => p.then(() => 'passed', (e: Error) => String((e.cause as Error | undefined)?.message ?? e.message));
    const raw: Call = (c, a) => (a as { length: number }).length.toFixed();
    expect(await failure(check({ raw }, 50, 1))).toMatch(/^raw\(.*\) threw TypeError/);
    const stomp: Call = (c, a) => (typeof a === 'number' ? c.vm.writePhys(0, new Uint8Array([(a & 0xff) ^ 3])) : undefined);
    expect(await failure(check({ stomp }, 50, 1))).toMatch(/expected Uint8Array.* to deeply equal/);
  }, 60_000);
});

function show(x: unknown): string {
  if (typeof x === 'bigint') return `${x}n`;
  if (x instanceof Uint8Array || x instanceof Uint32Array || x instanceof BigUint64Array) return `${x.constructor.name}(${x.length})`;
  if (typeof x === 'number') return Object.is(x, -0) ? '-0' : String(x);
  try {
    return JSON.stringify(x) ?? String(x);
  } catch {
    return String(x);
  }
}
