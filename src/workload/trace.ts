/**
 * Trace workloads: a valgrind lackey trace (plain or gzip) or a memvisor binary trace becomes
 * the binary records the simulation replays through a VM's MMU core (8 bytes a record, see
 * assembly/translate/trace.ts), held in memory. A text trace is converted once by the trace
 * reader (src/translate/trace.ts, --write-binary) on a small scratch core.
 */
import { mkdtempSync, readFileSync, rmSync, openSync, readSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../errors.js';
import { Mmu } from '../translate/mmu.js';
import { replayFile, detectFormat, BINARY_MAGIC } from '../translate/trace.js';

/** The binary records of the trace at `path` (no header). */
export function loadTrace(path: string): Uint8Array {
  let head = new Uint8Array(8);
  try {
    const fd = openSync(path, 'r');
    try {
      head = head.subarray(0, readSync(fd, head, 0, 8, 0));
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    throw new ConfigError('workload.trace', path, `a readable trace file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (detectFormat(head) === 'binary') return readFileSync(path).subarray(BINARY_MAGIC.length);
  const dir = mkdtempSync(join(tmpdir(), 'memvisor-trace-'));
  try {
    const out = join(dir, 'trace.mvt');
    replayFile(Mmu.create({ machineMemoryMiB: 16, guestMemoryMiB: 64, maxVms: 1 }), path, { writeBinary: out, name: path });
    return readFileSync(out).subarray(BINARY_MAGIC.length);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
