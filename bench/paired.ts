/**
 * The targets of #7 items 6 and 7 (batch codecs, first sharing pass), measured paired: each round runs every contender once,
 * in turn (liblz4 in C, memvisor from JavaScript, xxhash-wasm, ...), so that all of them see the
 * same machine in the same second. On a shared 2-core box a contender timed for two seconds
 * by itself, as vitest bench does, can land on a quiet or a busy stretch; across runs its
 * ratio to a peer timed a few seconds later moved by 30%. Here the ratio of each round is
 * taken, and the median of those ratios is the figure (the spread is printed with it).
 *
 * Data starts in JavaScript for the memvisor rows of the targets (the copies in and out are
 * timed), in the C program's memory for liblz4 (bench/native/lz4.c, built where liblz4-dev is
 * present) and for xxHash's own C code (bench/native/xxhash.c, where xxhash.h is); the rows
 * marked "engine memory" do the same work on pages already in linear memory, which shows what
 * the copies cost (ENGINE=0 leaves them out). The rows marked "part" time the pieces of a
 * JavaScript row alone (its copies in and out, and a hash kernel over one chunk that stays in
 * L2), and a last table puts them side by side with the peer: the ratio the pieces add up to,
 * the ceiling with a kernel that took no time, how fast the kernel would have to be for the
 * goal, and the ratio a kernel as fast as the C code would reach with the same copies. The GB/s of a copy of LZ4 blocks counts the blocks' bytes; every
 * other row counts the pages'.
 *
 *   npx tsx bench/paired.ts                       prints the table, writes bench/results/paired.json
 *   ROUNDS=31 MEMVISOR_BENCH_MIB=16 npx tsx bench/paired.ts
 *   SHARING=0 npx tsx bench/paired.ts             without the sharing passes (MEMVISOR_SHARING_MIB, default 256)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import xxhash from 'xxhash-wasm';
import {
  lz4Bound, lz4CompressPagesInto, lz4DecompressPagesInto, xxh3Pages, xxh64Pages,
} from '../src/index.js';
import { buildCorpus } from '../src/workload/corpus.js';
import { PAGES_CHUNK } from '../src/engine/codec.js';
import { Engine } from '../src/engine/engine.js';
import { skewed, SKEW_ROOM } from '../src/engine/gateway.js';
import { corpus, cpuClock, freshPagesHost } from './lib.js';
import { judge, median, steadiness, STEADY, unsteadyNote, type PairedTarget } from './pairedstats.js';
import { liblz4Program, nativeProgram, removeNativeFiles, roundNs, tempFile, XXHASH_COMMANDS, xxhashProgram } from './native.js';

const ROUNDS = Number(process.env.ROUNDS ?? 21);
const c = corpus();
const n = c.count;
const bytes = n * 4096;

const packed = new Uint8Array(n * lz4Bound(4096));
const offsets = new Uint32Array(n + 1);
const packedBytes = lz4CompressPagesInto(c.pages, packed, offsets);
const blocks = packed.subarray(0, packedBytes);
const decoded = new Uint8Array(bytes);

// the same work on data already in engine memory (no copy), to show what the copies cost
const engine = Engine.create({ flavor: 'release' });
const at = engine.gateway.stage(n * (4096 + 4 + 8) + packedBytes + 4 * (n + 1) + n * lz4Bound(4096));
const inPages = at, inHashes = inPages + bytes, inOffsets = inHashes + 8 * n, inBlocks = inOffsets + 4 * (n + 1);
engine.gateway.u8.set(c.pages, inPages);
engine.gateway.u8.set(blocks, inBlocks);
new Uint32Array(engine.gateway.u8.buffer, inOffsets, n + 1).set(offsets);
const inOut = inBlocks + packedBytes;

const liblz4 = await liblz4Program(c.pages, packed, offsets);
// xxHash's own C code on the same pages: not a target's peer, but the floor under a hash kernel
const expected = { xxh64: xxh64Pages(c.pages), xxh3: xxh3Pages(c.pages) };
const xxhashC = await xxhashProgram(c.pages, expected);
// the same built for AVX2 (null on a CPU without it): XXH3 at its fastest, for the XXH3 ceiling
const xxhashAvx2 = await xxhashProgram(c.pages, expected, 'xxhash-avx2');
const { h64Raw } = await xxhash();

/**
 * Each hash target's work done entirely in C (bench/native/xxhash.c, commands 64c and 3c): the
 * pages copied into a staging buffer 64 at a time, as xxh64Pages and xxh3Pages copy them into
 * linear memory, then hashed: XXH64 two pages at a time (the fastest XXH64 schedule we know),
 * XXH3 by xxHash's own code, built for SSE2 (128-bit vectors, as WebAssembly's) and for AVX2
 * where the CPU has it. Set against the same peer as the target, it is what a native version
 * of the same work reaches on this machine.
 */
const XXH64_IN_C = 'C XXH64 as xxh64Pages works (copy in, two pages at a time)';
const XXH3_IN_C = "C XXH3 as xxh3Pages works (copy in, xxHash's code, SSE2)";
const XXH3_IN_C_AVX2 = "C XXH3 as xxh3Pages works (copy in, xxHash's code, AVX2)";
const ceilings: PairedTarget[] = [
  { label: 'hashing from JavaScript, XXH3, all of it in C with 128-bit vectors', of: XXH3_IN_C, over: 'xxhash-wasm h64Raw per page', min: 2 },
  { label: 'hashing from JavaScript, XXH3, all of it in C with 256-bit vectors', of: XXH3_IN_C_AVX2, over: 'xxhash-wasm h64Raw per page', min: 2 },
  { label: 'hashing from JavaScript, XXH64, all of it in C', of: XXH64_IN_C, over: 'xxhash-wasm h64Raw per page', min: 2 },
];

/** A contender: one round's nanoseconds. */
type Run = () => Promise<number> | number;
/** Nanoseconds now: wall clock, or this process's CPU time under MEMVISOR_BENCH_CLOCK=cpu (as the native rows then report theirs). */
function nowNs(): number {
  if (!cpuClock) return Number(process.hrtime.bigint());
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
}
function timed(f: () => void): Run {
  return () => {
    const t = nowNs();
    f();
    return nowNs() - t;
  };
}
const contenders: Record<string, Run> = {
  'memvisor lz4CompressPagesInto': timed(() => lz4CompressPagesInto(c.pages, packed, offsets)),
  'memvisor lz4DecompressPagesInto': timed(() => lz4DecompressPagesInto(blocks, offsets, decoded)),
  'memvisor xxh3Pages': timed(() => xxh3Pages(c.pages)),
  'memvisor xxh64Pages': timed(() => xxh64Pages(c.pages)),
  'xxhash-wasm h64Raw per page': timed(() => {
    for (let i = 0; i < n; i++) h64Raw(c.pages.subarray(i * 4096, i * 4096 + 4096));
  }),
};
const inEngine: Record<string, Run> = {
  'memvisor lz4CompressPacked (engine memory)': timed(() => engine.codec.lz4CompressPacked(inPages, n, inOut, n * lz4Bound(4096), 0, inHashes)),
  'memvisor lz4DecompressPacked (engine memory)': timed(() => engine.codec.lz4DecompressPacked(inBlocks, packedBytes, inOffsets, n, inPages)),
  'memvisor xxh3Pages (engine memory)': timed(() => engine.codec.xxh3Pages(inPages, n, 0n, inHashes)),
  'memvisor xxh64Pages (engine memory)': timed(() => engine.codec.xxh64Pages(inPages, n, 0n, inHashes)),
};
// The parts of the JavaScript rows, timed alone: their copies (as the codec makes them, chunk
// by chunk, placed by `skewed`) and, for the hashes, the kernel over one chunk that stays in L2
// (the engine-memory rows above read DRAM, which the copy in has already paid for). An engine of
// its own, so that its staging is not the one the engine-memory rows keep their data in.
const partsEngine = Engine.create({ flavor: 'release' });
const pg = partsEngine.gateway;
const stagingAt = pg.stage(2 * SKEW_ROOM + PAGES_CHUNK * (4096 + lz4Bound(4096) + 8));
const blocksAt = stagingAt + SKEW_ROOM + PAGES_CHUNK * 4096;
const hashesAt = blocksAt + SKEW_ROOM + PAGES_CHUNK * lz4Bound(4096);
pg.u8.set(c.pages.subarray(0, PAGES_CHUNK * 4096), stagingAt);
const blocksOut = new Uint8Array(packedBytes);
/** Runs `f(first, k)` over the chunks of the n pages, as the page batch forms walk them. */
function chunks(f: (first: number, k: number) => void): () => void {
  return () => {
    for (let first = 0; first < n; first += PAGES_CHUNK) f(first, Math.min(PAGES_CHUNK, n - first));
  };
}
const partRuns: Record<string, Run> = {
  'part: copy in, pages': timed(chunks((first, k) => {
    pg.u8.set(c.pages.subarray(first * 4096, (first + k) * 4096), skewed(stagingAt, c.pages.byteOffset + first * 4096));
  })),
  'part: copy out, pages': timed(chunks((first, k) => {
    pg.copyOut(decoded, first * 4096, skewed(stagingAt, decoded.byteOffset + first * 4096), k * 4096);
  })),
  'part: copy in, LZ4 blocks': timed(chunks((first, k) => {
    const from = offsets[first], to = offsets[first + k];
    pg.u8.set(blocks.subarray(from, to), skewed(blocksAt, blocks.byteOffset + from));
  })),
  'part: copy out, LZ4 blocks': timed(chunks((first, k) => {
    const from = offsets[first], to = offsets[first + k];
    pg.copyOut(blocksOut, from, skewed(blocksAt, blocksOut.byteOffset + from), to - from);
  })),
  'part: xxh3Pages kernel, chunk in L2': timed(chunks((_, k) => partsEngine.codec.xxh3Pages(stagingAt, k, 0n, hashesAt))),
  'part: xxh64Pages kernel, chunk in L2': timed(chunks((_, k) => partsEngine.codec.xxh64PagesInCache(stagingAt, k, 0n, hashesAt))),
};
if (process.env.ENGINE !== '0') Object.assign(contenders, inEngine, partRuns);
// the first (merging) sharing pass over a VM of fresh private pages, and the C floor (hash,
// table lookup, full compare on a hit) over the same pages in the same order, as
// bench/reclaim.bench.ts measures them; the VM's pages are rewritten before each pass, untimed
const SHARING_MIB = Number(process.env.MEMVISOR_SHARING_MIB ?? 256);
const sharing = process.env.SHARING !== '0';
const big = sharing ? buildCorpus({ mib: SHARING_MIB }) : null;
const floor = big ? await nativeProgram('sharing-floor', [tempFile('sharing-pages', big.pages), '1']) : null;
if (big) {
  for (const order of ['random', 'sequential'] as const) {
    const { host, fresh } = await freshPagesHost(big, order);
    contenders[`memvisor first sharing pass, ${order}`] = () => {
      fresh();
      const t = nowNs();
      host.shareScan();
      return nowNs() - t;
    };
    if (floor) contenders[`C floor sharing pass, ${order}`] = async () => roundNs(await floor.round(order === 'random' ? 'r' : 's'));
  }
}
if (liblz4) {
  contenders['liblz4 LZ4_compress_default'] = async () => roundNs(await liblz4.round('c'));
  contenders['liblz4 LZ4_decompress_safe'] = async () => roundNs(await liblz4.round('d'));
}
if (xxhashC) {
  contenders["xxHash's C code XXH3_64bits (SSE2)"] = async () => roundNs(await xxhashC.round(XXHASH_COMMANDS.xxh3));
  contenders["xxHash's C code XXH64"] = async () => roundNs(await xxhashC.round(XXHASH_COMMANDS.xxh64));
  contenders[XXH64_IN_C] = async () => roundNs(await xxhashC.round(XXHASH_COMMANDS.xxh64c));
  contenders[XXH3_IN_C] = async () => roundNs(await xxhashC.round(XXHASH_COMMANDS.xxh3c));
  if (xxhashAvx2) contenders[XXH3_IN_C_AVX2] = async () => roundNs(await xxhashAvx2.round(XXHASH_COMMANDS.xxh3c));
}

/** The targets: contender over peer (throughput ratio = peer time / contender time), at least `min`. */
const targets: PairedTarget[] = [
  { label: 'LZ4 compression from JavaScript', of: 'memvisor lz4CompressPagesInto', over: 'liblz4 LZ4_compress_default', min: 0.8 },
  { label: 'LZ4 decompression from JavaScript', of: 'memvisor lz4DecompressPagesInto', over: 'liblz4 LZ4_decompress_safe', min: 0.7 },
  { label: 'hashing from JavaScript, XXH3', of: 'memvisor xxh3Pages', over: 'xxhash-wasm h64Raw per page', min: 2 },
  { label: 'hashing from JavaScript, XXH64', of: 'memvisor xxh64Pages', over: 'xxhash-wasm h64Raw per page', min: 2 },
  { label: 'first sharing pass, random order (engine memory)', of: 'memvisor first sharing pass, random', over: 'C floor sharing pass, random', min: 0.8 },
  { label: 'first sharing pass, sequential order (engine memory)', of: 'memvisor first sharing pass, sequential', over: 'C floor sharing pass, sequential', min: 0.8 },
];

const times: Record<string, number[]> = Object.fromEntries(Object.keys(contenders).map((k) => [k, []]));
// one warm-up round (tier-up of the WebAssembly, first-touch of the buffers), not counted
for (const run of Object.values(contenders)) await run();
// each round starts one contender later than the one before, so no contender always follows
// the same one (a C round on the other core, a copy that left the caches cold)
const order = Object.entries(contenders);
for (let r = 0; r < ROUNDS; r++) {
  for (let i = 0; i < order.length; i++) {
    const [name, run] = order[(r + i) % order.length];
    times[name].push(await run());
  }
}
liblz4?.close();
xxhashC?.close();
xxhashAvx2?.close();
floor?.close();
removeNativeFiles();

const bytesOf = (name: string) => (name.includes('sharing pass') ? big!.count * 4096 : name.includes('LZ4 blocks') ? packedBytes : bytes);
const rows = Object.entries(times).map(([name, ts]) => ({ name, gbps: bytesOf(name) / median(ts), bestGbps: bytesOf(name) / Math.min(...ts), steady: steadiness(ts) }));
const results = judge(times, targets);
const ceilingResults = judge(times, ceilings);

/**
 * Where the time of each JavaScript target goes: its copies and its kernel, each timed alone
 * (median ms), and what they leave. `ceiling` is the ratio with a kernel that takes no time at
 * all (the peer's time over the copies alone); `kernel needed` is the peer's time at the goal
 * less the copies: the most the kernel may take for the target to be met.
 */
const breakdown = [
  { label: 'LZ4 compression', of: 'memvisor lz4CompressPagesInto', copies: ['part: copy in, pages', 'part: copy out, LZ4 blocks'], kernel: 'memvisor lz4CompressPacked (engine memory)', native: 'liblz4 LZ4_compress_default' },
  { label: 'LZ4 decompression', of: 'memvisor lz4DecompressPagesInto', copies: ['part: copy in, LZ4 blocks', 'part: copy out, pages'], kernel: 'memvisor lz4DecompressPacked (engine memory)', native: 'liblz4 LZ4_decompress_safe' },
  { label: 'XXH3', of: 'memvisor xxh3Pages', copies: ['part: copy in, pages'], kernel: 'part: xxh3Pages kernel, chunk in L2', native: "xxHash's C code XXH3_64bits (SSE2)" },
  { label: 'XXH64', of: 'memvisor xxh64Pages', copies: ['part: copy in, pages'], kernel: 'part: xxh64Pages kernel, chunk in L2', native: "xxHash's C code XXH64" },
].flatMap((p) => {
  const t = targets.find((x) => x.of === p.of)!;
  if (![t.of, t.over, p.kernel, ...p.copies].every((k) => times[k])) return [];
  const ms = (k: string) => median(times[k]) / 1e6;
  const peer = ms(t.over), copies = p.copies.reduce((a, k) => a + ms(k), 0), kernel = ms(p.kernel);
  const budget = peer / t.min - copies;
  const native = times[p.native] ? ms(p.native) : null;
  return [{ label: p.label, peer, whole: ms(t.of), copies, kernel, ceiling: peer / copies, sum: peer / (copies + kernel), budget, goal: t.min, native }];
});

const lines = [
  `Paired rounds (${cpuClock ? 'CPU time of each process' : 'wall clock'}): ${ROUNDS} over ${bytes / (1 << 20)} MiB of corpus pages (data starts in JavaScript for memvisor's codec rows, in C for liblz4)${big ? `; sharing passes over ${SHARING_MIB} MiB (pages in a VM, engine memory; in C for the floor)` : ''}.`,
  '',
  '| contender | median GB/s | best GB/s | median / best |',
  '|---|---|---|---|',
  ...rows.map((r) => `| ${r.name} | ${r.gbps.toFixed(2)} | ${r.bestGbps.toFixed(2)} | ${r.steady.toFixed(2)} |`),
  '',
  `| target | ratio, median of rounds | 10th-90th percentile | goal | met | steady (both sides' median / best >= ${STEADY}) |`,
  '|---|---|---|---|---|---|',
  ...results.map((t) => `| ${t.label}: ${t.of} / ${t.over} | ${t.median.toFixed(2)}x | ${t.p10.toFixed(2)}-${t.p90.toFixed(2)}x | >= ${t.min}x | ${t.met ? 'yes' : 'no'} | ${t.steady ? 'yes' : 'NO'} |`),
];
const note = unsteadyNote(results);
if (note) lines.push('', note);
/** The kernel's budget at the goal, and how the kernel measured stands against it. */
function needed(kernel: number, budget: number): string {
  if (budget <= 0) return 'none: the copies alone take longer';
  const within = kernel <= budget ? `within it, ${Math.round((1 - kernel / budget) * 100)}% to spare` : `${(kernel / budget).toFixed(2)}x faster than measured`;
  return `<= ${budget.toFixed(2)} ms (${within})`;
}
if (breakdown.length) {
  lines.push(
    '',
    `Where the time goes (median ms of the rounds, each piece timed alone: the copies as the codec makes them, ${PAGES_CHUNK}-page chunks placed by \`skewed\`, each copy out warmed by \`copyOut\`; the LZ4 kernels over the pages in engine memory, the hash kernels over one chunk in L2):`,
    '',
    '| target | peer | memvisor from JavaScript | its copies | its kernel | ratio of copies + kernel | ceiling (kernel free) | kernel needed for the goal | the C code alone, same pages in its memory | ratio of copies + the C code |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...breakdown.map((p) => `| ${p.label} | ${p.peer.toFixed(2)} | ${p.whole.toFixed(2)} | ${p.copies.toFixed(2)} | ${p.kernel.toFixed(2)} | ${p.sum.toFixed(2)}x | ${p.ceiling.toFixed(2)}x | ${needed(p.kernel, p.budget)} | ${p.native === null ? 'not built' : p.native.toFixed(2)} | ${p.native === null ? '' : `${(p.peer / (p.copies + p.native)).toFixed(2)}x`} |`),
    '',
    'The last two columns: the C code of the reference library (liblz4; xxHash\'s own, gcc -O2) on the same pages in its own memory, and the ratio a kernel as fast as it would reach with the copies memvisor pays. Where that ratio is under the goal, no WebAssembly kernel short of beating the C code meets it.',
  );
}
if (ceilingResults.length) {
  lines.push(
    '',
    'The same work done in C, copy included: what native code reaches doing what the JavaScript rows do (not a target; where it falls under the goal, the goal asks the WebAssembly version to beat C):',
    '',
    '| work | ratio, median of rounds | 10th-90th percentile | goal | C reaches it | steady |',
    '|---|---|---|---|---|---|',
    ...ceilingResults.map((t) => `| ${t.label}: ${t.of} / ${t.over} | ${t.median.toFixed(2)}x | ${t.p10.toFixed(2)}-${t.p90.toFixed(2)}x | >= ${t.min}x | ${t.met ? 'yes' : 'no'} | ${t.steady ? 'yes' : 'NO'} |`),
  );
}
if (!liblz4) lines.push('', 'liblz4 rows skipped: install gcc and liblz4-dev.');
console.log(lines.join('\n'));
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/paired.json', JSON.stringify({ rounds: ROUNDS, mib: bytes / (1 << 20), rows, times, targets: results, ceilings: ceilingResults, breakdown, table: lines.join('\n') }, null, 1));
