/**
 * Trace replay: streams a valgrind lackey trace (plain text or gzip) or a memvisor binary trace
 * through an Mmu. Bytes cross into WebAssembly in chunks through the staging region; parsing and
 * translation run there (assembly/translate/trace.ts). A 300 MB trace never becomes one string: text is
 * read (and inflated, with fflate's streaming Gunzip) chunk by chunk, and a partial last line
 * is carried into the next chunk.
 *
 * Binary format: the 8-byte header "MVTR" + u32 LE version 1, then the records described in
 * assembly/translate/trace.ts (8 bytes each). `--write-binary` writes it while replaying a text trace.
 */

import { closeSync, openSync, readSync, fstatSync, writeSync } from 'node:fs';
import { Gunzip } from 'fflate';
import type { Mmu, MmuStats } from './mmu.js';
import { engineOf } from '../engine/engine.js';
import { TraceParseError, ConfigError } from '../errors.js';

export const BINARY_MAGIC = Uint8Array.from([0x4d, 0x56, 0x54, 0x52, 1, 0, 0, 0]); // "MVTR" v1
const CHUNK = 1 << 20;

export type TraceFormat = 'lackey' | 'lackey-gz' | 'binary';

export interface ReplayOptions {
  /** Count and skip malformed lines instead of throwing TraceParseError. */
  skipBadLines?: boolean;
  /** Called after each chunk with bytes of the file read so far and its size. */
  onProgress?: (read: number, total: number) => void;
  /** Also write the trace in the binary format to this file (text traces only). */
  writeBinary?: string;
  /** Name used in error messages. */
  name?: string;
}

export interface ReplayResult {
  format: TraceFormat;
  /** Bytes of the file. */
  fileBytes: number;
  /** Bytes of trace text (or binary records) replayed, after inflation. */
  traceBytes: number;
  seconds: number;
  stats: MmuStats;
}

/** Detects the format from the first bytes. */
export function detectFormat(head: Uint8Array): TraceFormat {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'lackey-gz';
  if (head.length >= 8 && BINARY_MAGIC.every((b, i) => head[i] === b)) return 'binary';
  return 'lackey';
}

/** Feeds text chunks to the WASM parser, carrying partial lines. */
class TextFeeder {
  private carry: Uint8Array = new Uint8Array(0);
  private outFd: number | null;

  constructor(
    private readonly mmu: Mmu,
    private readonly skipBad: boolean,
    private readonly name: string,
    outFd: number | null,
  ) {
    this.outFd = outFd;
    engineOf(mmu).translate.traceReset(mmu.ctx);
  }

  /** Parses `chunk` (after the carried bytes); `final` when no bytes follow. */
  push(chunk: Uint8Array, final: boolean): void {
    const t = engineOf(this.mmu).translate;
    const r = t.feedText(this.mmu.ctx, this.carry, chunk, final, this.skipBad, this.outFd !== null);
    if ('line' in r) throw new TraceParseError(this.name, r.line, r.text);
    this.carry = r.carry;
    if (this.outFd !== null && r.emitted) {
      // emit mode parses only: the records are written, then replayed from their binary form
      writeSync(this.outFd, r.emitted);
      t.feedBinary(this.mmu.ctx, EMPTY, r.emitted);
    }
  }
}

const EMPTY = new Uint8Array(0);

/** Replays the trace file at `path` on `mmu`. */
export function replayFile(mmu: Mmu, path: string, opts: ReplayOptions = {}): ReplayResult {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new ConfigError('trace file', path, `a readable file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const t0 = performance.now();
  const before = mmu.stats().traceBytes;
  let outFd: number | null = null;
  try {
    const total = fstatSync(fd).size;
    const buf = new Uint8Array(Math.min(CHUNK * 4, Math.max(total, 16)));
    let read = readSync(fd, buf, 0, buf.length, null);
    const format = detectFormat(buf.subarray(0, read));
    const name = opts.name ?? path;
    const skipBad = opts.skipBadLines === true;
    if (opts.writeBinary && format !== 'binary') {
      outFd = openSync(opts.writeBinary, 'w');
      writeSync(outFd, BINARY_MAGIC);
    }
    let pos = read;
    if (format === 'binary') {
      const feeder = new BinaryFeeder(mmu);
      feeder.push(buf.subarray(8, read));
      opts.onProgress?.(pos, total);
      while ((read = readSync(fd, buf, 0, buf.length, null)) > 0) {
        pos += read;
        feeder.push(buf.subarray(0, read));
        opts.onProgress?.(pos, total);
      }
      feeder.finish(name);
    } else {
      const text = new TextFeeder(mmu, skipBad, name, outFd);
      if (format === 'lackey') {
        let chunk = buf.subarray(0, read);
        for (;;) {
          const next = new Uint8Array(buf.length);
          const n = readSync(fd, next, 0, next.length, null);
          text.push(chunk, n === 0);
          pos += n;
          opts.onProgress?.(pos, total);
          if (n === 0) break;
          chunk = next.subarray(0, n);
        }
      } else {
        let pending: Uint8Array[] = [];
        const gz = new Gunzip((data, final) => {
          pending.push(data);
          if (final) pending.push(new Uint8Array(0));
        });
        const drain = (final: boolean) => {
          const list = pending;
          pending = [];
          for (let i = 0; i < list.length; i++) text.push(list[i], final && i === list.length - 1);
        };
        gz.push(buf.slice(0, read), read === total);
        drain(read === total);
        while (pos < total) {
          const n = readSync(fd, buf, 0, buf.length, null);
          if (n === 0) break;
          pos += n;
          gz.push(buf.slice(0, n), pos >= total);
          drain(pos >= total);
          opts.onProgress?.(pos, total);
        }
      }
    }
    const stats = mmu.stats();
    return { format, fileBytes: total, traceBytes: stats.traceBytes - before, seconds: (performance.now() - t0) / 1000, stats };
  } finally {
    closeSync(fd);
    if (outFd !== null) closeSync(outFd);
  }
}

/** Replays an in-memory trace (text, gzip or binary) on `mmu`. */
export function replayBytes(mmu: Mmu, data: Uint8Array, opts: ReplayOptions = {}): ReplayResult {
  const t0 = performance.now();
  const before = mmu.stats().traceBytes;
  const format = detectFormat(data.subarray(0, 8));
  const name = opts.name ?? '<bytes>';
  if (format === 'binary') {
    const f = new BinaryFeeder(mmu);
    for (let at = 8; at < data.length; at += CHUNK) f.push(data.subarray(at, Math.min(data.length, at + CHUNK)));
    f.finish(name);
  } else {
    const text = new TextFeeder(mmu, opts.skipBadLines === true, name, null);
    const feed = (chunk: Uint8Array, final: boolean) => {
      for (let at = 0; at < chunk.length || (final && at === 0); at += CHUNK) {
        const end = Math.min(chunk.length, at + CHUNK);
        text.push(chunk.subarray(at, end), final && end >= chunk.length);
        if (end >= chunk.length) break;
      }
    };
    if (format === 'lackey') feed(data, true);
    else {
      const gz = new Gunzip((d, final) => feed(d, final));
      gz.push(data, true);
    }
  }
  const stats = mmu.stats();
  return { format, fileBytes: data.length, traceBytes: stats.traceBytes - before, seconds: (performance.now() - t0) / 1000, stats };
}

/** Feeds binary records, carrying a partial record. */
class BinaryFeeder {
  private carry: Uint8Array = new Uint8Array(0);
  constructor(private readonly mmu: Mmu) {}
  push(chunk: Uint8Array): void {
    this.carry = engineOf(this.mmu).translate.feedBinary(this.mmu.ctx, this.carry, chunk);
  }
  finish(name: string): void {
    if (this.carry.length) throw new ConfigError(name, `${this.carry.length} trailing bytes`, 'whole 8-byte binary trace records');
  }
}
