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
import { detectFormat, BINARY_HEADER_BYTES } from '../translate/trace.js';
import { replayFile } from '../translate/tracefile.js';

/** The payload of a binary trace file (its header says how long it is). */
function payloadOf(file: Uint8Array, name: string): Uint8Array {
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const bytes = Number(dv.getBigUint64(16, true));
  if (BINARY_HEADER_BYTES + bytes > file.length) throw new ConfigError('workload.trace', name, 'a whole binary trace');
  return file.subarray(BINARY_HEADER_BYTES, BINARY_HEADER_BYTES + bytes);
}

/**
 * The binary records of the trace at `path` (no header). Every input goes through the trace
 * reader once on a scratch core, which checks it (lines, gzip trailers, binary header and CRCs)
 * and writes it in the binary format; its payload is what the simulation replays.
 */
export function loadTrace(path: string): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), 'memvisor-trace-'));
  try {
    const out = join(dir, 'trace.mvt');
    const mmu = Mmu.create({ machineMemoryMiB: 16, guestMemoryMiB: 64, maxVms: 1 });
    const head = new Uint8Array(8);
    try {
      const fd = openSync(path, 'r');
      try {
        readSync(fd, head, 0, 8, 0);
      } finally {
        closeSync(fd);
      }
    } catch (e) {
      throw new ConfigError('workload.trace', path, `a readable trace file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    // a binary input is checked by replaying it, and is its own binary form
    const binary = detectFormat(head) === 'binary';
    replayFile(mmu, path, binary ? { name: path } : { writeBinary: out, name: path });
    return payloadOf(readFileSync(binary ? path : out), path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
