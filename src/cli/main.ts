#!/usr/bin/env node
/**
 * The `memvisor` command line. Each subcommand lives in its own function; `main` only
 * dispatches, turns typed errors into a one-line message and an exit code: 0 done, 1 bad input
 * (a MemvisorError, or an operating-system error on a file), 2 bad options (UsageError).
 * A reader that goes away (`memvisor ... | head -1`) ends the run quietly with exit 0.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MemvisorError, UsageError } from '../errors.js';
import '../node.js'; // file swap, image and trace files: the Node entry registers them
import { runDemo, DEMO_HELP } from './demo.js';
import { runTrace, TRACE_HELP } from './trace.js';
import { runImage, IMAGE_HELP } from './image.js';
import { runClean, CLEAN_HELP } from './clean.js';
import { runRun, RUN_HELP } from './run.js';
import { runCompare, COMPARE_HELP } from './compare.js';

export const COMMAND_HELP: Record<string, string> = { demo: DEMO_HELP, trace: TRACE_HELP, image: IMAGE_HELP, clean: CLEAN_HELP, run: RUN_HELP, compare: COMPARE_HELP };

export const HELP = `memvisor — simulate how a hypervisor virtualizes and overcommits memory

usage: memvisor <command> [options]

commands:
  demo [--mib N] [--vms N] [--root DIR]...
                                   N VMs (default 4) boot one image of N MiB (default 64)
                                   of real pages from files on this machine (default
                                   /usr/bin, /usr/lib, /usr/share) on an overcommitted host:
                                   zip cache and swap under pressure, a sharing pass, and
                                   every byte read back and checked
  trace <file> [options]           replay a valgrind lackey trace (plain, gzip) or a binary
                                   trace through TLBs, page walks, EPT or shadow tables;
                                   see memvisor trace --help
  image <file>... [options]        sharing and compression potential of raw guest memory
                                   images (.vmem, QEMU dumps); see memvisor image --help
  run [scenario.json] [--json F] [--html F] [--quiet]
                                   run a scenario on simulated time (no file: the default
                                   scenario, six VMs 2x overcommitted): VMs with guests and
                                   workloads, balloon, sharing, compression, swap; a live
                                   esxtop screen, a JSON run and an HTML report; see
                                   memvisor run --help
  clean [--dir DIR] [--dry-run]    remove the swap files of memvisor processes that crashed
  compare <a.json> <b.json> [--html FILE]
                                   two runs side by side: text, and an HTML page
  help [<command>]                 this text, or the help of a command

Every command takes --help. Exit codes: 0 done, 1 bad input, 2 bad options.
`;

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        if (cmd === 'help' && rest.length) {
          const text = Object.hasOwn(COMMAND_HELP, rest[0]) ? COMMAND_HELP[rest[0]] : undefined;
          if (!text) throw new UsageError('help', rest[0], `one of ${Object.keys(COMMAND_HELP).join(', ')}`);
          process.stdout.write(text);
          return 0;
        }
        process.stdout.write(HELP);
        return 0;
      case 'demo':
        await runDemo(rest, process.stdout);
        return 0;
      case 'trace':
        await runTrace(rest, process.stdout);
        return 0;
      case 'image':
        await runImage(rest, process.stdout);
        return 0;
      case 'clean':
        return runClean(rest, process.stdout);
      case 'run':
        return await runRun(rest, process.stdout, process.stderr);
      case 'compare':
        return runCompare(rest, process.stdout);
      default:
        process.stderr.write(`memvisor: unknown command ${JSON.stringify(cmd)}; expected one of demo, trace, image, clean, run, compare, help\n`);
        return 2;
    }
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`memvisor ${cmd}: ${e.message}\n`);
      return 2;
    }
    if (e instanceof MemvisorError) {
      process.stderr.write(`memvisor ${cmd}: ${e.message}\n`);
      return 1;
    }
    // an operating-system error (a file that cannot be read or written): say it, no stack trace
    const code = (e as NodeJS.ErrnoException)?.code;
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) {
      process.stderr.write(`memvisor ${cmd}: ${(e as Error).message}\n`);
      return 1;
    }
    throw e;
  }
}

/** True when this file is the process's entry point (also through an npm bin symlink). */
function isEntry(): boolean {
  try {
    return realpathSync(process.argv[1] ?? '') === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

/**
 * A closed pipe on stdout or stderr (the reader quit: `| head -1`) ends the process at once with
 * exit 0 and no stack: what it would have printed is not wanted. Node ignores SIGPIPE, so the
 * failed write arrives as an EPIPE 'error' event on the stream.
 */
function quietOnBrokenPipe(stream: NodeJS.WriteStream): void {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
}

if (isEntry()) {
  quietOnBrokenPipe(process.stdout);
  quietOnBrokenPipe(process.stderr);
  process.exitCode = await main(process.argv.slice(2));
}
