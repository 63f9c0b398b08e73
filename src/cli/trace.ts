/**
 * `memvisor trace <file>`: replays a valgrind lackey trace (plain or gzip) or a memvisor binary
 * trace through a simulated MMU and prints its counters as a table or as one JSON object.
 * With --host-mib, the MMU is a core of a Host and the trace runs through one of its VMs, so the
 * host's reclamation (page-out to the zip cache and swap, swap-in, sharing passes between chunks)
 * acts on the pages the trace's walks use; the report then shows both sides.
 */

import { Mmu, DEFAULT_TLB, DEFAULT_COSTS, type MmuOptions, type CacheGeometry, type CostModel, type PageSize } from '../translate/mmu.js';
import { replayFile } from '../translate/tracefile.js';
import { Host } from '../host/host.js';
import type { VM, VictimPolicy } from '../host/vm.js';
import { ConfigError, UsageError } from '../errors.js';
import '../node.js'; // file swap, image and trace files: the Node entry registers them
import { MAX_MACHINE_MIB } from '../engine/engine.js';
import { statSync } from 'node:fs';


export const TRACE_HELP = `usage: memvisor trace <file> [options]

Replays a memory trace through a simulated core: TLBs, page-walk caches, guest page tables,
EPT or shadow tables, a minimal guest OS that maps pages on first touch, and a hypervisor that
backs guest memory on first touch. <file> is a valgrind lackey trace
(valgrind --tool=lackey --trace-mem=yes ...), plain or gzip, or a memvisor binary trace
(detected from its first bytes, not its name); a FIFO works, and - reads standard input.
gzip trailers (CRC-32, length) and binary trace checksums are verified: damaged input is an
error naming the line or byte, never a partial result.

options:
  --mmu native|ept|shadow     MMU virtualization (default ept)
  --levels 4|5                guest paging levels; 5 = LA57 (default 4)
  --host-levels 4|5           EPT walk length (default 4)
  --page-size 4k|2m|1g        pages the guest OS maps (default 4k)
  --host-page-size 4k|2m|1g   host backing and EPT leaf size (default 4k)
  --tlb SPEC                  TLB geometry as entries x ways, any subset of
                              L1d=64x4,L1i=128x8,L2=1536x12 (the defaults, Skylake-like);
                              0 entries turns a TLB off
  --no-pwc                    turn the guest and nested page-walk caches off
  --no-ntlb                   turn the nested TLB off
  --cost NAME=N[,NAME=N]      cycles per event; names: ${Object.keys(DEFAULT_COSTS).join(', ')}
  --skip-bad-lines            count and skip malformed lines (also lines over 4 KiB
                              and lines holding NUL bytes) instead of stopping
  --write-binary FILE         also write the trace in memvisor's binary format (fast reruns);
                              FILE appears only when the whole input replayed cleanly
  --json                      print one JSON object instead of a table
  --help                      this text

replay through a VM on an overcommitted host:
  --host-mib N                machine memory of a host (1-${MAX_MACHINE_MIB} MiB): the trace runs through a VM
                              of it (--mmu ept or shadow), whose pages the host reclaims
                              when they do not fit: page-out to the zip cache and swap,
                              swap-in on the next access
  --vm-mib M                  the VM's guest memory (default 4096; 8192 with --page-size 1g);
                              also sizes the standalone VM
  --zip-percent P             zip cache, percent of the VM's memory (default 10; 0: swap only)
  --swap memory|file          swap store backing (default memory; file: a real file in the
                              OS temporary directory, removed at exit)
  --share-pages N|all         after each 4 MiB of input, a sharing scanner step of N pages
                              (all: a full pass); default 0, no sharing
  --victim random|lru         page-out victim policy (default random, as ESX)
  --seed S                    the host's seed (victim choice; default 1)

The simulated VM has 4096 MiB of guest memory (8192 with --page-size 1g) on 512 MiB of machine
memory (3584 with --host-page-size 1g), unless --host-mib says otherwise. Over a host, every
stop of a translation for the host (a page to swap in, a frame to free) is resolved and the
access retried: "host faults" counts them, and the host's side (swap-ins SWR, swap-outs SWW,
compressions, copy-on-write breaks, merges) is printed below the MMU's counters. A large
host page is backed whole on first touch; when machine memory cannot hold the whole group, the
page is backed alone and counted as a splinter (largePageSplinters).

Exit codes: 0 done, 1 bad input (a malformed line, with its number; damaged gzip or binary
data, with its byte offset), 2 bad options.
`;

/** The host a trace replays over (--host-mib and the options that need it). */
interface HostArgs {
  machineMiB: number;
  zipPercent: number;
  swap: 'memory' | 'file';
  sharePages: number | 'all';
  victim: VictimPolicy;
  seed: number;
}

interface TraceArgs {
  file: string;
  opts: MmuOptions;
  json: boolean;
  skipBadLines: boolean;
  writeBinary?: string;
  help: boolean;
  /** null: a standalone core (no --host-mib) */
  host: HostArgs | null;
}

/** Parses a whole number in [min, max] for option `opt`. */
function intOpt(opt: string, v: string | undefined, min: number, max: number): number {
  const n = v !== undefined && /^\d+$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new UsageError(opt, v ?? '(missing)', `a whole number in [${min}, ${max}]`);
  return n;
}

function choice<T extends string>(opt: string, v: string | undefined, allowed: readonly T[]): T {
  if (v === undefined || !allowed.includes(v as T)) throw new UsageError(opt, v ?? '(missing)', `one of ${allowed.join(', ')}`);
  return v as T;
}

/** Parses `--tlb L1d=64x4,L1i=128x8,L2=1536x12` (any subset, names case-insensitive). */
export function parseTlbSpec(spec: string | undefined): NonNullable<MmuOptions['tlb']> {
  if (!spec) throw new UsageError('--tlb', '(missing)', 'a list like L1d=64x4,L1i=128x8,L2=1536x12');
  const out: Record<string, CacheGeometry> = {};
  for (const part of spec.split(',')) {
    const m = /^(l1d|l1i|l2)=(\d+)x(\d+)$/i.exec(part.trim());
    if (!m) throw new UsageError('--tlb', part, 'NAME=ENTRIESxWAYS with NAME one of L1d, L1i, L2 (e.g. L1d=64x4)');
    const entries = Number(m[2]), ways = Number(m[3]);
    if (ways < 1 || ways > 64 || entries > 1 << 20 || (entries !== 0 && entries % ways !== 0)) {
      throw new UsageError('--tlb', part, `ways in [1, 64] and entries a multiple of ways, at most ${1 << 20}`);
    }
    out[m[1].toLowerCase()] = { entries, ways };
  }
  return out;
}

/** Parses the arguments of `memvisor trace`. */
export function parseTraceArgs(argv: string[]): TraceArgs {
  const a: TraceArgs = { file: '', opts: {}, json: false, skipBadLines: false, help: false, host: null };
  const costs: Partial<CostModel> = {};
  // host options are collected first, then checked against --host-mib
  const h: Partial<HostArgs> = {};
  const hostOnly: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const [name, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = () => inline ?? argv[++i];
    switch (name) {
      case '--help': case '-h': a.help = true; break;
      case '--mmu': a.opts.mode = choice('--mmu', value(), ['native', 'ept', 'shadow'] as const); break;
      case '--levels': a.opts.levels = Number(choice('--levels', value(), ['4', '5'] as const)) as 4 | 5; break;
      case '--host-levels': a.opts.hostLevels = Number(choice('--host-levels', value(), ['4', '5'] as const)) as 4 | 5; break;
      case '--page-size': a.opts.pageSize = choice('--page-size', value()?.toLowerCase(), ['4k', '2m', '1g'] as const); break;
      case '--host-page-size': a.opts.hostPageSize = choice('--host-page-size', value()?.toLowerCase(), ['4k', '2m', '1g'] as const); break;
      case '--tlb': a.opts.tlb = { ...DEFAULT_TLB, ...parseTlbSpec(value()) }; break;
      case '--no-pwc': a.opts.pwc = false; break;
      case '--no-ntlb': a.opts.ntlb = false; break;
      case '--json': a.json = true; break;
      case '--host-mib': h.machineMiB = intOpt('--host-mib', value(), 1, MAX_MACHINE_MIB); break;
      case '--vm-mib': a.opts.guestMemoryMiB = intOpt('--vm-mib', value(), 4, 1 << 20); break;
      case '--zip-percent': h.zipPercent = intOpt('--zip-percent', value(), 0, 100); hostOnly.push(name); break;
      case '--swap': h.swap = choice('--swap', value(), ['memory', 'file'] as const); hostOnly.push(name); break;
      case '--share-pages': {
        const v = value();
        h.sharePages = v === 'all' ? 'all' : intOpt('--share-pages', v, 0, 0xffffffff);
        hostOnly.push(name);
        break;
      }
      case '--victim': h.victim = choice('--victim', value(), ['random', 'lru'] as const); hostOnly.push(name); break;
      case '--seed': h.seed = intOpt('--seed', value(), 0, Number.MAX_SAFE_INTEGER); hostOnly.push(name); break;
      case '--skip-bad-lines': a.skipBadLines = true; break;
      case '--write-binary': {
        const v = value();
        if (!v) throw new UsageError('--write-binary', '(missing)', 'a file name');
        a.writeBinary = v;
        break;
      }
      case '--cost': {
        const v = value();
        for (const part of (v ?? '').split(',')) {
          const m = /^(\w+)=(\d+)$/.exec(part);
          // hasOwn, not `in`: inherited names such as toString are not costs
          if (!m || !Object.hasOwn(DEFAULT_COSTS, m[1]) || Number(m[2]) > 2 ** 31) {
            throw new UsageError('--cost', part, `NAME=CYCLES with NAME one of ${Object.keys(DEFAULT_COSTS).join(', ')} and CYCLES at most 2^31`);
          }
          costs[m[1] as keyof CostModel] = Number(m[2]);
        }
        break;
      }
      default:
        if (arg.startsWith('-') && arg !== '-') throw new UsageError(arg, arg, 'a known option (see memvisor trace --help)');
        if (a.file) throw new UsageError('<file>', arg, 'one trace file');
        a.file = arg;
    }
  }
  a.opts.costs = costs;
  if (a.help) return a;
  if (!a.file) throw new UsageError('<file>', '(missing)', "a trace file, or - for standard input (see memvisor trace --help)");
  if (h.machineMiB === undefined && hostOnly.length) throw new UsageError(hostOnly[0], '(without --host-mib)', '--host-mib N as well: the option configures the host the trace replays over');
  if (h.machineMiB !== undefined) {
    if (a.opts.mode === 'native') throw new UsageError('--mmu', 'native', 'ept or shadow with --host-mib: a VM of a host is virtualized');
    a.host = { machineMiB: h.machineMiB, zipPercent: h.zipPercent ?? 10, swap: h.swap ?? 'memory', sharePages: h.sharePages ?? 0, victim: h.victim ?? 'random', seed: h.seed ?? 1 };
  }
  if (a.writeBinary !== undefined && a.file !== '-') checkNotSameFile(a.file, a.writeBinary);
  return a;
}

/** Refuses --write-binary onto the input itself (same device and inode: a link or another name of it). */
function checkNotSameFile(input: string, output: string): void {
  try {
    const i = statSync(input, { bigint: true });
    const o = statSync(output, { bigint: true });
    if (i.dev === o.dev && i.ino === o.ino) {
      throw new UsageError('--write-binary', output, `a file other than the trace being read (${JSON.stringify(input)} is the same file; writing it would destroy the input)`);
    }
  } catch (e) {
    if (e instanceof UsageError) throw e;
    // a file that does not exist (yet) is no conflict; replay reports a missing input itself
  }
}

/** Draws a progress bar on stderr (TTY only); bytes and rate alone when the size is unknown (a pipe). */
function progressBar(): ((read: number, total: number, done: boolean) => void) | undefined {
  if (!process.stderr.isTTY) return undefined;
  const t0 = performance.now();
  let last = 0;
  return (read, total, done) => {
    const now = performance.now();
    if (now - last < 100 && !done) return;
    last = now;
    const mbs = read / 1e6 / Math.max((now - t0) / 1000, 1e-3);
    const rate = `${(read / 1e6).toFixed(0)} MB ${mbs.toFixed(0)} MB/s `;
    if (total) {
      const frac = Math.min(1, read / total);
      const w = 30;
      const bar = '#'.repeat(Math.round(frac * w)).padEnd(w, '.');
      process.stderr.write(`\r[${bar}] ${(frac * 100).toFixed(0).padStart(3)}% ${rate}`);
    } else {
      process.stderr.write(`\r${rate}`);
    }
    if (done) process.stderr.write('\n');
  };
}

/** Runs `memvisor trace`; writes to `out`. */
export async function runTrace(argv: string[], out: NodeJS.WritableStream): Promise<void> {
  const a = parseTraceArgs(argv);
  if (a.help) {
    out.write(TRACE_HELP);
    return;
  }
  const over = a.host ? await overHost(a.host, a.opts) : null;
  try {
    report(a, over, over ? over.core : Mmu.create(a.opts), out);
  } finally {
    over?.host.close(); // a file swap store and its directory go with the run
  }
}

/** Replays the trace of `a` on `mmu` (a core of `over`'s host, or standalone) and writes the report. */
function report(a: TraceArgs, over: { host: Host; vm: VM; core: Mmu } | null, mmu: Mmu, out: NodeJS.WritableStream): void {
  let r;
  try {
    const bar = progressBar();
    // between chunks: the progress bar, and over a host its sharing scanner's step
    const share = over && a.host!.sharePages !== 0 ? () => over.host.shareScan(a.host!.sharePages === 'all' ? undefined : (a.host!.sharePages as number)) : null;
    const onProgress = share ? (read: number, total: number, done: boolean) => { if (!done) share(); bar?.(read, total, done); } : bar;
    r = replayFile(mmu, a.file, { skipBadLines: a.skipBadLines, onProgress, writeBinary: a.writeBinary });
  } catch (e) {
    // the library names its option; the user typed the flag
    if (e instanceof ConfigError && e.field === 'writeBinary') throw new ConfigError('--write-binary', e.value, e.expected);
    throw e;
  }
  const s = r.stats;
  const vm = mmu.vm;
  const config = {
    mmu: vm.mode, levels: vm.levels, hostLevels: vm.hostLevels, pageSize: vm.pageSize, hostPageSize: vm.hostPageSize,
    tlb: { ...DEFAULT_TLB, ...a.opts.tlb }, pwc: a.opts.pwc ?? true, ntlb: a.opts.ntlb ?? true,
  };
  const hostSide = over ? hostReport(over.host, over.vm, a.host!) : null;
  const result = {
    file: a.file, format: r.format, config, ...s, ...mmu.pagingStats(), ...(hostSide ? { host: hostSide } : {}),
    seconds: Number(r.seconds.toFixed(3)), mbPerSecond: Number((r.traceBytes / 1e6 / Math.max(r.seconds, 1e-9)).toFixed(1)),
  };
  if (a.json) {
    out.write(JSON.stringify(result) + '\n');
    return;
  }
  const pct = (x: number, of: number) => (of ? `${((100 * x) / of).toFixed(2)}%` : '-');
  const rows: [string, string, string][] = [
    ['records', String(s.records), `${s.lines} lines, ${s.badLines} skipped`],
    ['translations', String(s.translations), `${s.l1iAccesses} fetch, ${s.l1dAccesses} data`],
    ['L1 iTLB misses', String(s.l1iMisses), pct(s.l1iMisses, s.l1iAccesses)],
    ['L1 dTLB misses', String(s.l1dMisses), pct(s.l1dMisses, s.l1dAccesses)],
    ['L2 TLB misses', String(s.l2Misses), pct(s.l2Misses, s.l1iMisses + s.l1dMisses)],
    ['walks', String(s.walks), ''],
    ['walk references', String(s.walkRefs), s.walks ? `${(s.walkRefs / s.walks).toFixed(2)} per walk` : ''],
    ['faulted-walk references', String(s.faultWalkRefs), ''],
    ['PWC hits', String(s.pwcHits), ''],
    ['nested TLB hits / misses', `${s.ntlbHits} / ${s.ntlbMisses}`, ''],
    ['guest page faults', String(s.guestPageFaults), ''],
    ['EPT violations', String(s.eptViolations), `${s.eptMisconfigs} misconfigurations`],
    ['shadow fills (hidden faults)', String(s.shadowFills), `${s.shadowWalkRefs} guest-table reads`],
    ['guest page-table write traps', String(s.ptWriteTraps), ''],
    ['VM exits', String(s.vmExits), ''],
    ['host faults', String(s.hostFaults), over ? 'stopped for the host, resolved and retried' : 'unhandled: no host to resolve them'],
    ['unhandled faults', String(s.unhandledFaults), ''],
    ['cycles', String(s.cycles), s.translations ? `${(s.cycles / s.translations).toFixed(2)} per translation` : ''],
  ];
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  out.write(`${a.file} (${r.format}) — mmu ${vm.mode}, ${vm.levels}-level guest${vm.mode === 'ept' ? ` + ${vm.hostLevels}-level EPT` : ''}, ${vm.pageSize} pages${vm.mode !== 'native' ? `, ${vm.hostPageSize} host pages` : ''}, PWC ${config.pwc ? 'on' : 'off'}, nested TLB ${config.ntlb ? 'on' : 'off'}\n\n`);
  for (const [k, v, note] of rows) out.write(`  ${k.padEnd(w0)}  ${v.padStart(w1)}  ${note}\n`);
  if (hostSide) writeHostSide(out, hostSide);
  out.write(`\n  ${(r.traceBytes / 1e6).toFixed(1)} MB of trace in ${r.seconds.toFixed(2)} s (${result.mbPerSecond} MB/s)\n`);
}

/** A host of `h.machineMiB` with one VM the size of the trace's guest memory, and a core attached to it. */
async function overHost(h: HostArgs, o: MmuOptions): Promise<{ host: Host; vm: VM; core: Mmu }> {
  const pageSize: PageSize = o.pageSize ?? '4k';
  const vmMiB = o.guestMemoryMiB ?? (pageSize === '1g' ? 8192 : 4096);
  const host = await Host.create({
    machineMemoryMiB: h.machineMiB, guestMemoryMiB: vmMiB, seed: h.seed, victimPolicy: h.victim,
    compression: { cachePercent: h.zipPercent }, swap: { backing: h.swap },
  });
  try {
    const vm = host.addVM({ name: 'trace', memoryMiB: vmMiB, mmu: o.mode === 'shadow' ? 'shadow' : 'ept' });
    const core = host.mmu({ tlb: o.tlb, pwc: o.pwc, ntlb: o.ntlb, costs: o.costs });
    // the guest OS model owns the VM's memory from its first aligned guest page, as a standalone VM's does
    const align = pageSize === '1g' ? 1 << 18 : pageSize === '2m' ? 512 : 1;
    core.attach(vm, { levels: o.levels, hostLevels: o.hostLevels, pageSize, hostPageSize: o.hostPageSize, guestOs: { firstGppn: align } });
    return { host, vm, core };
  } catch (e) {
    host.close();
    // the library names its fields; the user typed the flags
    if (e instanceof ConfigError && e.field === 'vm.memoryMiB') throw new UsageError('--host-mib', h.machineMiB, `room for the page tables of a ${vmMiB} MiB VM (${e.expected})`);
    throw e;
  }
}

/** The host's side of a replay: its configuration, the VM's counters, the host's. */
function hostReport(host: Host, vm: VM, h: HostArgs) {
  const st = host.stats();
  return {
    machineMemoryMiB: h.machineMiB, vmMemoryMiB: vm.memoryMiB, zipPercent: h.zipPercent, swap: h.swap, sharePages: h.sharePages,
    victimPolicy: h.victim, seed: h.seed, vm: vm.stats(), stats: st.host,
  };
}

/** Prints the host's side of a replay below the MMU's counters. */
function writeHostSide(out: NodeJS.WritableStream, hs: ReturnType<typeof hostReport>): void {
  const v = hs.vm;
  const mib = (pages: number) => `${(pages / 256).toFixed(1)} MiB`;
  const rows: [string, string, string][] = [
    ['resident', String(v.resident), `${mib(v.resident)}: ${v.mapped} private, ${v.SHRD} shared (${v.ZERO} zero)`],
    ['compressed (zip cache)', String(v.compressed), `${v.CACHEUSD} bytes in ${v.CACHESZ} bytes of slots`],
    ['swapped (SWCUR)', String(v.SWCUR), mib(v.SWCUR)],
    ['swap-outs (SWW)', String(v.SWW), 'pages written to swap'],
    ['swap-ins (SWR)', String(v.SWR), 'pages read back'],
    ['compressions / decompressions', `${v.ZIP} / ${v.UNZIP}`, `${v.zipEvictions} evicted from the zip cache to swap`],
    ['first touches', String(v.firstTouches), ''],
    ['copy-on-write breaks', String(v.cowBreaks), ''],
    ['pages merged', String(hs.stats.pagesMerged), `${hs.stats.pagesScanned} scanned, ${hs.stats.full_scans} full passes`],
    ['page-table frames', String(hs.stats.pageTableFrames), v.paging ? `${v.paging.eptTables} EPT, ${v.paging.shadowTables} shadow; ${v.paging.coherenceDrops} leaves dropped on reclaim` : ''],
  ];
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  out.write(`\nhost: ${hs.machineMemoryMiB} MiB of machine memory, VM ${JSON.stringify(v.name)} of ${hs.vmMemoryMiB} MiB; zip cache ${hs.zipPercent}%, ${hs.swap} swap, ${hs.victimPolicy} victims${hs.sharePages ? `, sharing ${hs.sharePages === 'all' ? 'a full pass' : `${hs.sharePages} pages`} per chunk` : ''}\n\n`);
  for (const [k, val, note] of rows) out.write(`  ${k.padEnd(w0)}  ${val.padStart(w1)}  ${note}\n`);
}
