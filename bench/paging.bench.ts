import { bench, describe } from 'vitest';
import { readFileSync } from 'node:fs';
import { Mmu, type MmuMode, type MmuOptions } from '../src/index.js';
import { replayBytes } from '../src/translate/trace.js';
import { TsMmu } from './ts-model.js';
import { recordUnits, task } from './lib.js';

recordUnits(import.meta.url);

const MODES: MmuMode[] = ['native', 'ept', 'shadow'];
const base: MmuOptions = { flavor: 'release', guestMemoryMiB: 1024, machineMemoryMiB: 512 };

// ---- TLB-hit path through the batch API --------------------------------------------------------
const HIT_N = 1 << 16;
const HIT_PAGES = 32; // fits the 64-entry L1 dTLB: every access hits after warm-up
describe('TLB-hit translations (batch API)', () => {
  for (const mode of MODES) {
    const m = Mmu.create({ ...base, mode });
    const b = m.batch(HIT_N);
    for (let i = 0; i < HIT_N; i++) {
      b.input64[2 * i] = 0x400000n + BigInt((i * 7) % HIT_PAGES) * 4096n + BigInt(i & 0xfff);
      b.input32[4 * i + 2] = i & 1;
    }
    b.run(HIT_N);
    bench(task('TLB-hit translations', `memvisor ${mode} (WASM batch)`, HIT_N, 'item', 'engine'), () => {
      b.run(HIT_N);
    });
  }
  const ts = new TsMmu(true);
  const vas = Array.from({ length: HIT_N }, (_, i) => 0x400000 + ((i * 7) % HIT_PAGES) * 4096 + (i & 0xfff));
  for (const va of vas) ts.translate(va, false);
  bench(task('TLB-hit translations', 'TypeScript model (ept)', HIT_N, 'item', 'js'), () => {
    for (let i = 0; i < HIT_N; i++) ts.translate(vas[i], false);
  });
});

// ---- cold walks: TLBs, PWCs and nested TLB off, every translation walks --------------------------
const WALK_N = 1 << 15;
const WALK_PAGES = 4096;
const off = { entries: 0, ways: 1 };
describe('cold page walks, caches off', () => {
  for (const mode of MODES) {
    const m = Mmu.create({ ...base, mode, pwc: false, ntlb: false, tlb: { l1d: off, l1i: off, l2: off } });
    const b = m.batch(WALK_N);
    for (let i = 0; i < WALK_N; i++) {
      b.input64[2 * i] = 0x10000000n + BigInt((i * 2654435761) % WALK_PAGES) * 4096n;
      b.input32[4 * i + 2] = 0;
    }
    b.run(WALK_N); // first touch: faults mapped once, outside the timing
    const name = mode === 'ept' ? 'memvisor ept 4+4 (24 refs/walk)' : `memvisor ${mode} (4 refs/walk)`;
    bench(task('cold walks', name, WALK_N, 'item', 'engine'), () => {
      b.run(WALK_N);
    });
  }
  const ts = new TsMmu(true, 4, 4, false);
  const vas = Array.from({ length: WALK_N }, (_, i) => 0x10000000 + ((i * 2654435761) % WALK_PAGES) * 4096);
  for (const va of vas) ts.translate(va, false);
  bench(task('cold walks', 'TypeScript model ept 4+4 (24 refs/walk)', WALK_N, 'item', 'js'), () => {
    for (let i = 0; i < WALK_N; i++) ts.translate(vas[i], false);
  });
});

// ---- lackey replay: a real trace, repeated to ~24 MB of text ---------------------------------------
const fixture = readFileSync(new URL('../test/fixtures/tiny.lackey', import.meta.url));
const REPEAT = Math.ceil((24 << 20) / fixture.length);
const text = new Uint8Array(fixture.length * REPEAT);
for (let i = 0; i < REPEAT; i++) text.set(fixture, i * fixture.length);
describe('lackey replay', () => {
  for (const mode of MODES) {
    const m = Mmu.create({ ...base, mode });
    replayBytes(m, text); // warm: pages mapped
    bench(task('lackey replay', `memvisor ${mode} (full TLB hierarchy)`, text.length, 'B', 'js'), () => {
      replayBytes(m, text);
    });
  }
  const ts = new TsMmu(true);
  const decoder = new TextDecoder();
  ts.replayLackey(decoder.decode(text));
  bench(task('lackey replay', 'TypeScript model ept (decode + split + parse)', text.length, 'B', 'js'), () => {
    ts.replayLackey(decoder.decode(text));
  });
});
