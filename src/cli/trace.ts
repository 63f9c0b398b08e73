/**
 * `memvisor trace <file>`: replays a valgrind lackey trace (plain or gzip) or a memvisor binary
 * trace through a simulated MMU and prints its counters as a table or as one JSON object.
 */

import { Mmu, DEFAULT_TLB, DEFAULT_COSTS, type MmuOptions, type CacheGeometry, type CostModel } from '../translate/mmu.js';
import { replayFile } from '../translate/trace.js';
import { ConfigError, UsageError } from '../errors.js';
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
  --host-page-size 4k|2m|1g   host backing and EPT leaf size (default 4k); 1g only with
                              --page-size 4k (see below)
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

The simulated VM has 4096 MiB of guest memory (8192 with --page-size 1g) on 512 MiB of machine
memory (2048 with --host-page-size 1g). Large guest pages sit at the top of guest memory and
page tables at its bottom, so with 1g host pages they would need more 1 GiB host pages than the
machine memory holds: --host-page-size 1g is refused with --page-size 2m or 1g.

Exit codes: 0 done, 1 bad input (a malformed line, with its number; damaged gzip or binary
data, with its byte offset), 2 bad options.
`;

interface TraceArgs {
  file: string;
  opts: MmuOptions;
  json: boolean;
  skipBadLines: boolean;
  writeBinary?: string;
  help: boolean;
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
  const a: TraceArgs = { file: '', opts: {}, json: false, skipBadLines: false, help: false };
  const costs: Partial<CostModel> = {};
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
  if (a.opts.hostPageSize === '1g' && (a.opts.pageSize ?? '4k') !== '4k') {
    throw new UsageError('--host-page-size', '1g', `2m or 4k with --page-size ${a.opts.pageSize}: the guest's large pages (top of its 4096 MiB) and page tables (bottom) would need more 1 GiB host pages than the 2048 MiB of machine memory hold; use --page-size 4k with 1g host pages`);
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
  const mmu = Mmu.create(a.opts);
  let r;
  try {
    r = replayFile(mmu, a.file, { skipBadLines: a.skipBadLines, onProgress: progressBar(), writeBinary: a.writeBinary });
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
  const result = {
    file: a.file, format: r.format, config, ...s, ...mmu.pagingStats(),
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
    ['unhandled faults', String(s.unhandledFaults), ''],
    ['cycles', String(s.cycles), s.translations ? `${(s.cycles / s.translations).toFixed(2)} per translation` : ''],
  ];
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  out.write(`${a.file} (${r.format}) — mmu ${vm.mode}, ${vm.levels}-level guest${vm.mode === 'ept' ? ` + ${vm.hostLevels}-level EPT` : ''}, ${vm.pageSize} pages${vm.mode !== 'native' ? `, ${vm.hostPageSize} host pages` : ''}, PWC ${config.pwc ? 'on' : 'off'}, nested TLB ${config.ntlb ? 'on' : 'off'}\n\n`);
  for (const [k, v, note] of rows) out.write(`  ${k.padEnd(w0)}  ${v.padStart(w1)}  ${note}\n`);
  out.write(`\n  ${(r.traceBytes / 1e6).toFixed(1)} MB of trace in ${r.seconds.toFixed(2)} s (${result.mbPerSecond} MB/s)\n`);
}
