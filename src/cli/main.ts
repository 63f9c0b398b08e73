#!/usr/bin/env node
/**
 * The `memvisor` command line. Each subcommand lives in its own function; `main` only
 * dispatches, turns typed errors into a one-line message and an exit code.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MemvisorError, UsageError } from '../errors.js';
import { runDemo } from './demo.js';
import { runTrace } from './trace.js';
import { runImage } from './image.js';
import { runRun } from './run.js';

const HELP = `memvisor — simulate how a hypervisor virtualizes and overcommits memory

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
  run <scenario.json> [--json F]   run a scenario on simulated time: VMs with guests and
                                   workloads, balloon, sharing, swap; samples and a JSON
                                   report; see memvisor run --help
  help                             this text
`;

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case undefined:
      case 'help':
      case '--help':
      case '-h':
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
      case 'run':
        return await runRun(rest, process.stdout, process.stderr);
      default:
        process.stderr.write(`memvisor: unknown command ${JSON.stringify(cmd)}; expected one of demo, trace, image, run, help\n`);
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

if (isEntry()) process.exitCode = await main(process.argv.slice(2));
