/**
 * `memvisor clean`: removes the swap directories that memvisor processes which are gone left
 * behind (a crash, a kill -9: the exit hook never ran). Each host keeps its swap files in
 * memvisor-<pid>-XXXXXX; a directory whose pid is no running process is removed with its
 * vm*.vswp files; one holding anything else, or of a running process, is left alone.
 */
import { tmpdir } from 'node:os';
import { UsageError } from '../errors.js';
import { cleanSwapDirs } from '../host/swapdir.js';

export const CLEAN_HELP = `usage: memvisor clean [--dir DIR] [--dry-run]

Removes the swap files of memvisor processes that ended without closing their hosts (a crash,
kill -9). Each host keeps its swap files in DIR/memvisor-<pid>-XXXXXX; the directories whose
process is gone are removed with the vm*.vswp files in them. A directory of a running process,
or one holding files memvisor did not create, is left alone and listed.

options:
  --dir DIR    where to look: the swap.dir hosts were given (default: ${tmpdir()})
  --dry-run    list what would be removed, remove nothing
  --help       this text

Exit codes: 0 done (even with nothing to remove), 1 something could not be removed, 2 bad options.
`;

interface CleanArgs {
  dir: string;
  dryRun: boolean;
  help: boolean;
}

/** Parses the command line of `memvisor clean`. */
export function parseCleanArgs(argv: string[]): CleanArgs {
  const a: CleanArgs = { dir: tmpdir(), dryRun: false, help: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') a.help = true;
    else if (arg === '--dry-run') a.dryRun = true;
    else if (arg === '--dir') {
      const v = argv[++i];
      if (v === undefined || v === '') throw new UsageError('--dir', v ?? '(missing)', 'a directory');
      a.dir = v;
    } else throw new UsageError('option', arg, 'one of --dir, --dry-run, --help');
  }
  return a;
}

/** Runs `memvisor clean`; returns the exit code. */
export function runClean(argv: string[], out: NodeJS.WritableStream): number {
  const a = parseCleanArgs(argv);
  if (a.help) {
    out.write(CLEAN_HELP);
    return 0;
  }
  const r = cleanSwapDirs(a.dir, { dryRun: a.dryRun });
  const verb = a.dryRun ? 'would remove' : 'removed';
  for (const p of r.removed) out.write(`${verb} ${p}\n`);
  for (const k of r.kept) out.write(`kept ${k.path}: ${k.reason}\n`);
  for (const p of r.problems) out.write(`could not ${p.op} ${p.path}: ${p.code ?? p.message}\n`);
  out.write(`${r.removed.length} ${r.removed.length === 1 ? 'entry' : 'entries'} ${verb}, ${r.kept.length} kept, ${r.problems.length} problem${r.problems.length === 1 ? '' : 's'}\n`);
  return r.problems.length > 0 ? 1 : 0;
}
