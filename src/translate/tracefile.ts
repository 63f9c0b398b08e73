/**
 * Trace files (Node only; the Node entry exports replayFile and registers the binary writer
 * through platform.ts): a file, a FIFO or standard input read in chunks as a Source for the
 * replay in trace.ts, and the binary trace writer of `writeBinary` (the format is in trace.ts).
 *
 * The writer writes into a temporary file in the target's directory (".<name>.<pid>-<random>.tmp",
 * created exclusively, mode 0600, header zeroed), whose header is written last and which is
 * renamed onto the target only when the whole input replayed cleanly, so a partial file never
 * carries a valid header. The target may not be the input itself (same device and inode,
 * whatever the names).
 */
import { closeSync, fstatSync, openSync, readSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import type { Mmu } from './mmu.js';
import { BINARY_HEADER_BYTES, BINARY_MAGIC, BINARY_VERSION, checkOptions, replaySource, type ReplayOptions, type ReplayResult, type Source } from './trace.js';
import { ConfigError } from '../errors.js';
import type { Engine } from '../engine/engine.js';
import type { FileIdentity, TraceWriter } from '../platform.js';

/** Blocks the thread for `ms` milliseconds (a non-blocking descriptor with nothing to read yet). */
function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Opens `path` ('-': standard input) for reading; a typed error when it cannot be. */
function fileSource(path: string): Source {
  if (typeof path !== 'string' || path === '') throw new ConfigError('trace file', path, "a file path, or '-' for standard input");
  const stdin = path === '-';
  let fd: number;
  try {
    fd = stdin ? 0 : openSync(path, 'r');
  } catch (e) {
    throw new ConfigError('trace file', path, `a readable file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const st = fstatSync(fd, { bigint: true });
  if (st.isDirectory()) {
    if (!stdin) closeSync(fd);
    throw new ConfigError('trace file', path, 'a file, not a directory');
  }
  let at = 0;
  return {
    size: st.isFile() ? Number(st.size) : 0,
    identity: { dev: st.dev, ino: st.ino },
    read(into) {
      for (;;) {
        try {
          const n = readSync(fd, into, 0, into.length, null);
          at += n;
          return n;
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          // standard input may be a non-blocking pipe (set so by a parent): wait for data
          if (code === 'EAGAIN' || code === 'EWOULDBLOCK') { sleep(2); continue; }
          throw new ConfigError('trace file', path, `a readable file (${code ?? (e as Error).message} at byte ${at})`);
        }
      }
    },
    close() {
      if (!stdin) closeSync(fd);
    },
  };
}

/** Replays the trace at `path` ('-': standard input; a FIFO works too) on `mmu`. */
export function replayFile(mmu: Mmu, path: string, opts: ReplayOptions = {}): ReplayResult {
  checkOptions(opts);
  const src = fileSource(path);
  try {
    return replaySource(mmu, src, opts.name ?? (path === '-' ? '<stdin>' : path), opts);
  } finally {
    src.close();
  }
}

/** Writes a binary trace to a temporary file beside `target`, renamed onto it by `commit`. */
class BinaryWriter implements TraceWriter {
  private crc = 0;
  private bytes = 0;

  private constructor(
    private readonly engine: Engine,
    private readonly target: string,
    private readonly temp: string,
    private fd: number | null,
  ) {}

  /** Creates the temporary file; refuses a target that is the input itself. */
  static open(engine: Engine, target: string, input: FileIdentity | null): BinaryWriter {
    let st;
    try {
      st = statSync(target, { bigint: true });
    } catch {
      st = null; // absent (or unreachable: creating the temporary file says why)
    }
    if (st?.isDirectory()) throw new ConfigError('writeBinary', target, 'a file path, not a directory');
    if (st && input && st.dev === input.dev && st.ino === input.ino) {
      throw new ConfigError('writeBinary', target, 'a file other than the trace being read (it is the same file: writing it would destroy the input)');
    }
    const temp = join(dirname(target), `.${basename(target)}.${process.pid}-${randomBytes(6).toString('hex')}.tmp`);
    let fd: number;
    try {
      // exclusive: never follows a planted symlink, never shares a file with another writer
      fd = openSync(temp, 'wx', 0o600);
    } catch (e) {
      throw new ConfigError('writeBinary', target, `a path in a writable directory (${(e as NodeJS.ErrnoException).code ?? (e as Error).message} creating ${temp})`);
    }
    const w = new BinaryWriter(engine, target, temp, fd);
    try {
      writeSync(fd, new Uint8Array(BINARY_HEADER_BYTES)); // zeros: no magic until commit
    } catch (e) {
      w.abort();
      throw e;
    }
    return w;
  }

  /** Appends the binary records `data`. */
  write(data: Uint8Array): void {
    const n = data.length;
    if (n === 0) return;
    this.crc = this.engine.codec.crc32Bytes(data, this.crc);
    this.bytes += n;
    try {
      for (let done = 0; done < n;) done += writeSync(this.fd!, data, done, n - done);
    } catch (e) {
      throw new ConfigError('writeBinary', this.target, `a file that can be written (${(e as NodeJS.ErrnoException).code ?? (e as Error).message} after ${this.bytes - n} bytes of records)`);
    }
  }

  /** Writes the header of `records` records and renames the file onto the target. */
  commit(records: number): void {
    const h = new Uint8Array(BINARY_HEADER_BYTES);
    const dv = new DataView(h.buffer);
    h.set(BINARY_MAGIC);
    dv.setUint32(4, BINARY_VERSION, true);
    dv.setBigUint64(8, BigInt(records), true);
    dv.setBigUint64(16, BigInt(this.bytes), true);
    dv.setUint32(24, this.crc, true);
    dv.setUint32(28, this.engine.codec.crc32Bytes(h.subarray(0, 28)), true);
    try {
      writeSync(this.fd!, h, 0, BINARY_HEADER_BYTES, 0);
      closeSync(this.fd!);
      this.fd = null;
      renameSync(this.temp, this.target);
    } catch (e) {
      this.abort();
      throw new ConfigError('writeBinary', this.target, `a file that can be written (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  }

  /** Closes and removes the temporary file (the target is left as it was). */
  abort(): void {
    if (this.fd !== null) {
      try { closeSync(this.fd); } catch { /* already closed */ }
      this.fd = null;
    }
    try { unlinkSync(this.temp); } catch { /* already gone */ }
  }
}

/** Opens a binary trace writer for `target` (platform.ts NodeFiles.openTraceWriter). */
export function openTraceWriter(engine: Engine, target: string, input: FileIdentity | null): TraceWriter {
  return BinaryWriter.open(engine, target, input);
}
