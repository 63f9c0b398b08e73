/**
 * `memvisor compare a.json b.json [--html out.html]`: two runs (what `memvisor run --json`
 * wrote) side by side, for example one scenario under the esx and the kvm policy, or with EPT
 * and with shadow paging. Prints what ran on each side and a table of A, B and B - A; --html
 * writes the two reports in two columns, each chart next to its twin on one y scale.
 */
import { basename } from 'node:path';
import { UsageError } from '../errors.js';
import { compareLines } from '../report/compare.js';
import { readRunParts, writeCompareHtml } from '../report/files.js';

export const COMPARE_HELP = `usage: memvisor compare <a.json> <b.json> [--html out.html]

Compares two runs (the JSON of memvisor run --json): what ran on each side, then per host and
per VM (matched by name) the figures of A, B and B - A: free memory, time in each memory
state, what sharing, compression, the balloon and swap held at their peaks, stall, slowdown,
work done, memory swapped in. Each file is read piece by piece, one sample at a time, so a run
file of any length compares.

options:
  --html FILE   also write both runs side by side as one self-contained HTML page
  --help        this text

Exit codes: 0 done, 1 a file is not a run (each problem named by its field path), 2 bad options.
`;

interface CompareArgs {
  files: string[];
  html: string | null;
  help: boolean;
}

/** Parses the command line of `memvisor compare`; `--opt=value` works too. */
export function parseCompareArgs(argv: string[]): CompareArgs {
  const a: CompareArgs = { files: [], html: null, help: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    if (flag === '--help' || flag === '-h') a.help = true;
    else if (flag === '--html') {
      const v = eq > 0 ? arg.slice(eq + 1) : argv[++i];
      if (v === undefined || v === '') throw new UsageError('--html', v ?? '(missing)', 'a file to write the HTML page to');
      a.html = v;
    } else if (arg.startsWith('-') && arg !== '-') throw new UsageError('option', arg, 'one of --html FILE, --help (see memvisor compare --help)');
    else a.files.push(arg);
  }
  if (!a.help && a.files.length !== 2) throw new UsageError('runs', a.files.length ? a.files.join(' ') : '(none)', 'two run files: memvisor compare <a.json> <b.json>');
  return a;
}

/** Names for the two runs: their file names, or their paths when the names are the same. */
function labels(a: string, b: string): [string, string] {
  return basename(a) === basename(b) ? [a, b] : [basename(a), basename(b)];
}

/** Runs `memvisor compare`; returns the exit code. */
export function runCompare(argv: string[], out: NodeJS.WritableStream): number {
  const args = parseCompareArgs(argv);
  if (args.help) {
    out.write(COMPARE_HELP);
    return 0;
  }
  const [fa, fb] = args.files;
  // read piece by piece: a run file may be longer than a string or a heap holds
  const a = readRunParts(fa), b = readRunParts(fb);
  const names = labels(fa, fb);
  out.write(compareLines(a.summary, b.summary, names).join('\n') + '\n');
  if (args.html !== null) {
    writeCompareHtml(args.html, a, b, names);
    out.write(`wrote ${args.html}\n`);
  }
  return 0;
}
