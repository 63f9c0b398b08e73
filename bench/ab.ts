/**
 * Paired A/B micro-run of the hot paths of two checkouts (each built: build/release.wasm), for a
 * change that must not slow them down: both trees' workloads are built in one process and their
 * repetitions interleaved (A, B, A, B, ...), so both see the same machine load; the best (min)
 * time per row per tree is reported, in ns per item, with the ratio after / before.
 *
 *   npx tsx bench/ab.ts <before-checkout> [after-checkout (default: this one)]
 *   REPS=31 npx tsx bench/ab.ts /tmp/main-copy      (git archive main | tar -x -C /tmp/main-copy, npm run asbuild there)
 *   ROWS='replay|single' npx tsx bench/ab.ts ...    (only the rows whose name matches)
 *   MEMVISOR_BENCH_CLOCK=cpu npx tsx bench/ab.ts ...  (CPU time of this process instead of wall time)
 *
 * Data starts in engine memory for the translation rows and in JavaScript for the others (writePhys).
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
if (!process.argv[2]) throw new Error('usage: npx tsx bench/ab.ts <before-checkout> [after-checkout]');
const roots = { before: resolve(process.argv[2]), after: resolve(process.argv[3] ?? new URL('..', import.meta.url).pathname) };
const PAGE = 4096;
const flavor = 'release' as const;
const REPS = Number(process.env.REPS ?? 21);
type Work = { setup: () => void; run: () => void; per: number };
async function workloads(root: string): Promise<Record<string, Work>> {
  // the Node entry where there is one (file swap needs it), else the checkout's only entry
  const { Host, Mmu } = await import(root + (existsSync(root + '/src/node.ts') ? '/src/node.ts' : '/src/index.ts'));
  const { replayBytes } = await import(root + '/src/translate/trace.ts');
  let seed = 1;
  const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const distinct = (n: number) => { const b = new Uint8Array(n * PAGE); for (let i = 0; i < b.length; i += 8) b[i] = (rnd() * 256) | 0; return b; };
  const w: Record<string, Work> = {};
  {
    const h = await Host.create({ machineMemoryMiB: 64, flavor, balloonMaxPercent: 100 });
    const vm = h.addVM({ name: 'ft', memoryMiB: 32 });
    const all = Array.from({ length: 8192 }, (_, i) => i);
    const out = new Uint8Array(8192 * PAGE);
    vm.readPhys(0, out.length, out);
    w['first touch (ns/page)'] = { setup: () => { vm.balloonInflate(all); vm.balloonDeflate(all); }, run: () => vm.readPhys(0, out.length, out), per: 8192 };
  }
  {
    const N = 4096;
    const img = distinct(N);
    const h = await Host.create({ machineMemoryMiB: 3 * N / 256, flavor, sharing: { salting: 'host', order: 'sequential' } });
    const a = h.addVM({ name: 'a', memoryMiB: N / 256 }), b = h.addVM({ name: 'b', memoryMiB: N / 256 });
    b.writePhys(0, img);
    const one = new Uint8Array([0xee]);
    w['copy-on-write break (ns/page)'] = { setup: () => { a.writePhys(0, img); h.shareScan(); }, run: () => { for (let g = 0; g < N; g++) a.writePhys(g * PAGE + 100, one); }, per: N };
  }
  {
    const N = 8192;
    const h = await Host.create({ machineMemoryMiB: 64, flavor, sharing: { order: 'random' } });
    h.addVM({ name: 'u', memoryMiB: N / 256 }).writePhys(0, distinct(N));
    h.shareScan();
    w['sharing pass, distinct pages (ns/page)'] = { setup: () => {}, run: () => h.shareScan(), per: N };
  }
  {
    const N = 2048;
    const img = new Uint8Array(N * PAGE);
    for (let g = 0; g < N; g++) for (let k = 0; k < PAGE; k++) img[g * PAGE + k] = ((k >> 4) * 7 + g) & 0xff;
    const h = await Host.create({ machineMemoryMiB: 64, flavor, compression: { cachePercent: 100 } });
    const vm = h.addVM({ name: 'z', memoryMiB: N / 256 });
    vm.writePhys(0, img);
    const out = new Uint8Array(N * PAGE);
    w['zip out + in (ns/page)'] = { setup: () => {}, run: () => { vm.pageOut(N); vm.readPhys(0, N * PAGE, out); }, per: N };
  }
  {
    const N = 2048;
    const h = await Host.create({ machineMemoryMiB: 64, flavor, compression: { cachePercent: 0 } });
    const vm = h.addVM({ name: 's', memoryMiB: N / 256 });
    vm.writePhys(0, distinct(N));
    const out = new Uint8Array(N * PAGE);
    w['swap out + in, memory store (ns/page)'] = { setup: () => {}, run: () => { vm.pageOut(N); vm.readPhys(0, N * PAGE, out); }, per: N };
  }
  {
    const N = 2048;
    const h = await Host.create({ machineMemoryMiB: 64, flavor, compression: { cachePercent: 0 }, swap: { backing: 'file' } });
    const vm = h.addVM({ name: 'f', memoryMiB: N / 256 });
    vm.writePhys(0, distinct(N));
    const out = new Uint8Array(N * PAGE);
    w['swap out + in, file store (ns/page)'] = { setup: () => {}, run: () => { vm.pageOut(N); vm.readPhys(0, N * PAGE, out); }, per: N };
  }
  {
    // small guest-physical accesses to resident pages: the per-call path of physAccess and its driver
    const N = 4096;
    const h = await Host.create({ machineMemoryMiB: 64, flavor });
    const vm = h.addVM({ name: 'p', memoryMiB: 16 });
    vm.writePhys(0, distinct(N));
    const buf = new Uint8Array(64);
    w['guest-physical 64 B read + write (ns/pair)'] = {
      setup: () => {},
      run: () => { for (let i = 0; i < N; i++) { vm.readPhys(((i * 7) % N) * PAGE + 128, 64, buf); vm.writePhys(((i * 7) % N) * PAGE + 256, buf); } },
      per: N,
    };
  }
  {
    // batch hashes of pages that start in JavaScript (#7 item 6): copy in, kernel, hashes out
    const { xxh3Pages, xxh64Pages } = await import(root + '/src/index.ts');
    const N = 4096;
    const pages = distinct(N);
    if (xxh3Pages) w['xxh3Pages from JavaScript (ns/page)'] = { setup: () => {}, run: () => xxh3Pages(pages), per: N };
    if (xxh64Pages) w['xxh64Pages from JavaScript (ns/page)'] = { setup: () => {}, run: () => xxh64Pages(pages), per: N };
  }
  const base = { flavor, guestMemoryMiB: 1024, machineMemoryMiB: 256 };
  {
    // single translations, one engine call each: TLB hits on a standalone core and on a core over a Host
    const N = 1 << 15;
    const m = Mmu.create({ ...base, mode: 'ept' });
    for (let i = 0; i < 32; i++) m.translate(0x400000n + BigInt(i) * 4096n, 'write');
    w['single translation, TLB hit (ns/item)'] = { setup: () => {}, run: () => { for (let i = 0; i < N; i++) m.translate(0x400000n + BigInt(i & 31) * 4096n + 8n, 'read'); }, per: N };
    const h = await Host.create({ machineMemoryMiB: 64, flavor });
    const core = h.mmu();
    core.attach(h.addVM({ name: 't', memoryMiB: 16 }));
    for (let i = 0; i < 32; i++) core.translate(0x400000n + BigInt(i) * 4096n, 'write');
    w['single translation over a Host, TLB hit (ns/item)'] = { setup: () => {}, run: () => { for (let i = 0; i < N; i++) core.translate(0x400000n + BigInt(i & 31) * 4096n + 8n, 'read'); }, per: N };
    const vas = new BigUint64Array(N), kinds = new Uint8Array(N), res = new BigUint64Array(N);
    for (let i = 0; i < N; i++) vas[i] = 0x400000n + BigInt(i & 31) * 4096n + BigInt(i & 0xff);
    w['translateBatch over a Host, TLB hit (ns/item)'] = { setup: () => {}, run: () => core.translateBatch(vas, kinds, res), per: N };
  }
  for (const mode of ['ept', 'shadow'] as const) {
    const HIT = 1 << 16;
    const m = Mmu.create({ ...base, mode });
    const b = m.batch(HIT);
    for (let i = 0; i < HIT; i++) { b.input64[2 * i] = 0x400000n + BigInt((i * 7) % 32) * 4096n + BigInt(i & 0xfff); b.input32[4 * i + 2] = i & 1; }
    b.run(HIT);
    w[`TLB hits ${mode} (ns/item)`] = { setup: () => {}, run: () => b.run(HIT), per: HIT };
    const WALK = 1 << 14;
    const off = { entries: 0, ways: 1 };
    const wm = Mmu.create({ ...base, mode, pwc: false, ntlb: false, tlb: { l1d: off, l1i: off, l2: off } });
    const wb = wm.batch(WALK);
    for (let i = 0; i < WALK; i++) { wb.input64[2 * i] = 0x10000000n + BigInt((i * 2654435761) % 4096) * 4096n; wb.input32[4 * i + 2] = 0; }
    wb.run(WALK);
    w[`cold walks ${mode} (ns/item)`] = { setup: () => {}, run: () => wb.run(WALK), per: WALK };
  }
  {
    const fixture = readFileSync(root + '/test/fixtures/tiny.lackey');
    const REP = Math.ceil((4 << 20) / fixture.length);
    const text = new Uint8Array(fixture.length * REP);
    for (let i = 0; i < REP; i++) text.set(fixture, i * fixture.length);
    const m = Mmu.create({ ...base, mode: 'shadow' });
    replayBytes(m, text);
    w['lackey replay shadow (ns/KB)'] = { setup: () => {}, run: () => replayBytes(m, text), per: text.length / 1024 };
    // over a Host with room for the trace: the replay stops for nothing after the first run
    const h = await Host.create({ machineMemoryMiB: 64, flavor });
    const core = h.mmu();
    core.attach(h.addVM({ name: 'r', memoryMiB: 64 }));
    replayBytes(core, text);
    w['lackey replay ept over a Host (ns/KB)'] = { setup: () => {}, run: () => replayBytes(core, text), per: text.length / 1024 };
  }
  {
    const h = await Host.create({ machineMemoryMiB: 64, flavor, compression: { cachePercent: 0 } });
    const vm = h.addVM({ name: 'x', memoryMiB: 16, mmu: 'shadow' }); // one: the baseline's second shadow VM hits the pmapBase bug
    const core = h.mmu();
    const N = 1024;
    core.attach(vm);
    for (let i = 0; i < N; i++) core.translate(0x400000n + BigInt(i) * 4096n, 'write');
    w['shadow page-out + re-walk (ns/page)'] = { setup: () => {}, run: () => { vm.pageOut(N); for (let i = 0; i < N; i++) core.translate(0x400000n + BigInt(i) * 4096n, 'read'); }, per: N };
  }
  return w;
}
const A = await workloads(roots.before), B = await workloads(roots.after);
console.log('row'.padEnd(42), 'before'.padStart(9), 'after'.padStart(9), ' after/before (best of', REPS, 'interleaved)');
// MEMVISOR_BENCH_CLOCK=cpu: this process's CPU time (ms), steadier than wall time on a shared machine
const now = process.env.MEMVISOR_BENCH_CLOCK === 'cpu' ? () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; } : () => performance.now();
// ROWS=regex runs only the rows whose name matches
const only = process.env.ROWS ? new RegExp(process.env.ROWS) : null;
for (const row of Object.keys(A).filter((r) => !only || only.test(r))) {
  let a = Infinity, b = Infinity;
  for (let r = 0; r < REPS; r++) {
    for (const [w, set] of [[A[row], (t: number) => (a = Math.min(a, t))], [B[row], (t: number) => (b = Math.min(b, t))]] as const) {
      w.setup();
      const t = now();
      w.run();
      set(((now() - t) * 1e6) / w.per);
    }
  }
  console.log(row.padEnd(42), a.toFixed(1).padStart(9), b.toFixed(1).padStart(9), (b / a).toFixed(3).padStart(9));
}
