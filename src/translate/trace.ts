/**
 * Trace replay: streams a valgrind lackey trace (plain text or gzip) or a memvisor binary trace
 * through an Mmu. Bytes cross into WebAssembly in chunks through the staging region; parsing and
 * translation run there (assembly/translate/trace.ts). A 300 MB trace never becomes one string:
 * input is read (and inflated) chunk by chunk, and a partial last line is carried into the next
 * chunk (at most TRACE_MAX_LINE bytes: longer lines are errors, so time is linear in the input).
 *
 * Input: bytes (replayBytes, here, with no Node import: it runs in a browser), or a file, a FIFO
 * or standard input ('-': replayFile, tracefile.ts, Node only); over a Host's core, the replay
 * stops at each translation the host must help and resumes after it (the fault driver,
 * src/engine/driver.ts). The format is told by the first bytes, never by
 * the name or by seeking: gzip (1f 8b), binary ("MVTR"), else lackey text. Every damaged input
 * ends in a TraceParseError naming the line or byte: a malformed, overlong or NUL-holding line;
 * gzip data that fflate rejects or whose member trailer (CRC-32, length) does not match
 * (gunzip.ts checks them, since fflate's streaming Gunzip does not); a binary trace whose header,
 * length, record count or checksum is wrong; an input with no records at all. Records replayed
 * before the damage was found stay counted on the Mmu; the replay result is never returned.
 *
 * Binary format, version 2 (all integers little-endian):
 *
 *   0   "MVTR"                        magic
 *   4   u32  version (2)
 *   8   u64  records                  trace records in the payload
 *   16  u64  payload bytes            a multiple of 8
 *   24  u32  CRC-32 of the payload
 *   28  u32  CRC-32 of bytes 0..28    (a damaged header is told from damaged data)
 *   32  payload: the records described in assembly/translate/trace.ts (8 or 16 bytes each)
 *
 * `writeBinary` writes it while replaying a text trace (tracefile.ts: a file, so the Node entry
 * only). Version 1 files (8-byte header, no count or
 * checksum) are refused: write them again from the text trace.
 */

import type { Mmu, MmuStats } from './mmu.js';
import type { TraceHost, TraceLineError } from '../engine/translate.js';
import { VerifiedGunzip } from './gunzip.js';
import { TraceParseError, ConfigError, checkKeys } from '../errors.js';
import { engineOf } from '../engine/engine.js';
import { nodeFiles, type FileIdentity, type TraceWriter } from '../platform.js';

/** The magic of binary traces, "MVTR". */
export const BINARY_MAGIC = Uint8Array.from([0x4d, 0x56, 0x54, 0x52]);
/** The binary trace version this code writes and reads. */
export const BINARY_VERSION = 2;
/** Bytes of the binary trace header. */
export const BINARY_HEADER_BYTES = 32;
const CHUNK = 1 << 22;
/** Compressed bytes per fflate push: bounds the inflated output handed over at once (text compresses 10x and more). */
const GZ_PIECE = 1 << 20;
/** Bytes per read from an in-memory trace (replayBytes). */
const BYTES_PIECE = 1 << 20;
const OPTION_KEYS = ['skipBadLines', 'onProgress', 'writeBinary', 'name'] as const;

export type TraceFormat = 'lackey' | 'lackey-gz' | 'binary';

export interface ReplayOptions {
  /** Count and skip malformed lines (overlong ones, and ones holding a NUL byte, too) instead of throwing TraceParseError. */
  skipBadLines?: boolean;
  /** Called after each chunk: bytes of input read so far, the input's size (0 when unknown: a pipe), and whether it was the last call. */
  onProgress?: (read: number, total: number, done: boolean) => void;
  /** Also write the trace in the binary format to this file (text traces only). */
  writeBinary?: string;
  /** Name used in error messages. */
  name?: string;
}

export interface ReplayResult {
  format: TraceFormat;
  /** Bytes of input read. */
  fileBytes: number;
  /** Bytes of trace text (or binary records) replayed, after inflation. */
  traceBytes: number;
  seconds: number;
  stats: MmuStats;
}

/** Detects the format from the first bytes. */
export function detectFormat(head: Uint8Array): TraceFormat {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'lackey-gz';
  if (head.length >= 4 && BINARY_MAGIC.every((b, i) => head[i] === b)) return 'binary';
  return 'lackey';
}

// ---- input sources ------------------------------------------------------------------------------

/** A byte stream read in chunks: a file, a FIFO, standard input (tracefile.ts), or bytes in memory. */
export interface Source {
  /** Bytes in all when known (a regular file, bytes in memory), else 0. */
  readonly size: number;
  /** Device and inode of the input, when it is a file system object. */
  readonly identity: FileIdentity | null;
  /** Reads into `into`; 0 at the end. */
  read(into: Uint8Array): number;
  close(): void;
}

/** Bytes in memory as a source, handed out at most BYTES_PIECE at a time (as a pipe would). */
function bytesSource(data: Uint8Array): Source {
  let at = 0;
  return {
    size: data.length,
    identity: null,
    read(into) {
      const n = Math.min(into.length, data.length - at, BYTES_PIECE);
      into.set(data.subarray(at, at + n));
      at += n;
      return n;
    },
    close() {},
  };
}

// ---- replay -------------------------------------------------------------------------------------

/** Replays an in-memory trace (text, gzip or binary) on `mmu`. */
export function replayBytes(mmu: Mmu, data: Uint8Array, opts: ReplayOptions = {}): ReplayResult {
  checkOptions(opts);
  if (!(data instanceof Uint8Array)) throw new ConfigError('data', data, 'a Uint8Array of trace bytes');
  return replaySource(mmu, bytesSource(data), opts.name ?? '<bytes>', opts);
}

/** Checks replay options (typed errors naming the option). */
export function checkOptions(opts: ReplayOptions): void {
  if (opts === null || typeof opts !== 'object') throw new ConfigError('opts', opts, 'an object of replay options');
  checkKeys('', opts, OPTION_KEYS);
  if (opts.skipBadLines !== undefined && typeof opts.skipBadLines !== 'boolean') throw new ConfigError('skipBadLines', opts.skipBadLines, 'true or false');
  if (opts.onProgress !== undefined && typeof opts.onProgress !== 'function') throw new ConfigError('onProgress', opts.onProgress, 'a function (read, total, done)');
  if (opts.writeBinary !== undefined && (typeof opts.writeBinary !== 'string' || opts.writeBinary === '')) throw new ConfigError('writeBinary', opts.writeBinary, 'a file path');
  if (opts.name !== undefined && typeof opts.name !== 'string') throw new ConfigError('name', opts.name, 'a string');
}

/** Replays `src` (named `name` in messages) on `mmu`. */
export function replaySource(mmu: Mmu, src: Source, name: string, opts: ReplayOptions): ReplayResult {
  const t0 = performance.now();
  const e = engineOf(mmu);
  const before = mmu.stats();
  // a small input gets a small buffer (a zeroed 4 MiB per call would cost more than the replay)
  const buf = new Uint8Array(src.size ? Math.min(CHUNK, Math.max(src.size, BINARY_HEADER_BYTES)) : CHUNK);
  // the head: enough bytes to tell the format and hold a binary header (a pipe may return fewer)
  let have = 0;
  for (let n; have < BINARY_HEADER_BYTES && (n = src.read(buf.subarray(have))) > 0;) have += n;
  let pos = have;
  const progress = (done: boolean) => opts.onProgress?.(pos, src.size, done);
  /** Calls `feed` with the head, then with every further chunk read. */
  const stream = (feed: (chunk: Uint8Array) => void) => {
    feed(buf.subarray(0, have));
    progress(false);
    for (let n; (n = src.read(buf)) > 0;) {
      pos += n;
      feed(buf.subarray(0, n));
      progress(false);
    }
  };
  if (have === 0) throw TraceParseError.at(name, 0, 'the input is empty: no trace records');
  const format = detectFormat(buf.subarray(0, have));
  if (format === 'binary' && opts.writeBinary !== undefined) {
    throw new ConfigError('writeBinary', opts.writeBinary, 'a text trace to convert: the input is already a binary trace');
  }
  const writer = opts.writeBinary !== undefined ? nodeFiles('writeBinary', opts.writeBinary, 'no binary copy in this build').openTraceWriter(e, opts.writeBinary, src.identity) : null;
  try {
    if (format === 'binary') {
      const reader = new BinaryReader(mmu, name, buf.slice(0, Math.min(have, BINARY_HEADER_BYTES)));
      stream((chunk) => reader.push(chunk.subarray(Math.max(0, BINARY_HEADER_BYTES - (pos - chunk.length)))));
      reader.finish();
    } else {
      const text = new TextFeeder(mmu, opts.skipBadLines === true, name, writer);
      if (format === 'lackey') {
        stream((chunk) => text.push(chunk, false));
      } else {
        // inflated text reaches the parser in pieces of at most GZ_PIECE bytes; fflate keeps
        // references to the chunks pushed, so each gets its own copy
        const gz = new VerifiedGunzip(name, (d, crc) => e.codec.crc32Bytes(d, crc), (d) => {
          for (let at = 0; at < d.length; at += CHUNK) text.push(d.subarray(at, at + CHUNK), false);
        });
        stream((chunk) => {
          for (let at = 0; at < chunk.length; at += GZ_PIECE) gz.push(chunk.slice(at, at + GZ_PIECE), false);
        });
        gz.push(new Uint8Array(0), true);
      }
      text.push(new Uint8Array(0), true);
      const records = mmu.stats().records - before.records;
      if (records === 0) {
        const lines = mmu.stats().lines - before.lines;
        throw TraceParseError.at(name, 0, `no lackey records in ${lines} line${lines === 1 ? '' : 's'}${format === 'lackey-gz' ? ' of inflated text' : ''}: expected the output of valgrind --tool=lackey --trace-mem=yes`);
      }
      writer?.commit(records);
    }
  } catch (err) {
    writer?.abort();
    throw err;
  }
  progress(true);
  const stats = mmu.stats();
  return { format, fileBytes: pos, traceBytes: stats.traceBytes - before.traceBytes, seconds: (performance.now() - t0) / 1000, stats };
}

/** Feeds text chunks to the WASM parser, carrying a partial line (shorter than TRACE_MAX_LINE). */
class TextFeeder {
  private carry: Uint8Array = new Uint8Array(0);
  /** Bytes of text consumed so far (the offset of the carried bytes). */
  private consumed = 0;
  /** Over a Host: the fault driver's resolver for the core's VM. */
  private readonly host: TraceHost | null;

  constructor(
    private readonly mmu: Mmu,
    private readonly skipBad: boolean,
    private readonly name: string,
    private readonly writer: TraceWriter | null,
  ) {
    engineOf(mmu).translate.traceReset(mmu.ctx);
    this.host = mmu.traceHost(() => `the replay of ${name} near line ${mmu.stats().lines}`);
  }

  /** Parses `chunk` (after the carried bytes); `final` when no bytes follow. */
  push(chunk: Uint8Array, final: boolean): void {
    const t = engineOf(this.mmu).translate;
    const r = t.feedText(this.mmu.ctx, this.carry, chunk, final, this.skipBad, this.writer !== null, this.host);
    if ('error' in r) throw this.error(r, t.traceMaxLine);
    this.consumed += r.used;
    this.carry = r.carry;
    if (this.writer && r.emitted) {
      // emit mode parses only: the records are written, then replayed from their binary form
      this.writer.write(r.emitted);
      t.feedBinary(this.mmu.ctx, EMPTY, r.emitted, null, this.host);
    }
  }

  /** The TraceParseError of the line that stopped the replay. */
  private error(r: { error: TraceLineError; line: number; offset: number; text: string }, maxLine: number): TraceParseError {
    const offset = this.consumed + r.offset;
    if (r.error === 'nul') {
      return new TraceParseError(this.name, r.line, '', {
        offset,
        reason: `byte ${offset} of the text is NUL: binary data, not a lackey text trace (with skipBadLines / --skip-bad-lines such lines are counted and skipped)`,
      });
    }
    if (r.error === 'long') {
      return new TraceParseError(this.name, r.line, r.text, {
        offset,
        reason: `line longer than ${maxLine} bytes (from byte ${offset} of the text): not a lackey record (with skipBadLines / --skip-bad-lines such lines are counted and skipped)`,
      });
    }
    return new TraceParseError(this.name, r.line, r.text, { offset });
  }
}

const EMPTY = new Uint8Array(0);

// ---- binary traces ------------------------------------------------------------------------------

const u32le = (b: Uint8Array, at: number) => new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(at, true);
const u64le = (b: Uint8Array, at: number) => Number(new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(at, true));

/** Checks a binary trace's header, then replays its records while checking length, count and checksum. */
class BinaryReader {
  private carry: Uint8Array = new Uint8Array(0);
  private crc = 0;
  private got = 0;
  private readonly records0: number;
  private readonly records: number;
  private readonly bytes: number;
  private readonly crcWant: number;
  /** Over a Host: the fault driver's resolver for the core's VM. */
  private readonly host: TraceHost | null;

  constructor(
    private readonly mmu: Mmu,
    private readonly name: string,
    head: Uint8Array,
  ) {
    this.records0 = mmu.stats().records;
    this.host = mmu.traceHost(() => `the replay of ${name} near record ${mmu.stats().records - this.records0}`);
    const e = engineOf(mmu);
    const version = head.length >= 8 ? u32le(head, 4) : BINARY_VERSION;
    if (version === 1) throw TraceParseError.at(name, 4, 'binary trace version 1 carries no record count or checksum and is no longer read: write it again from the text trace (--write-binary)');
    if (version !== BINARY_VERSION) throw TraceParseError.at(name, 4, `binary trace version ${version}: this memvisor reads version ${BINARY_VERSION}`);
    if (head.length < BINARY_HEADER_BYTES) {
      throw TraceParseError.at(name, head.length, `the binary trace ends after ${head.length} bytes, inside its ${BINARY_HEADER_BYTES}-byte header: truncated`);
    }
    const hcrc = e.codec.crc32Bytes(head.subarray(0, 28));
    if (hcrc !== u32le(head, 28)) throw TraceParseError.at(name, 28, 'the binary trace header fails its CRC-32: the header is damaged');
    this.records = u64le(head, 8);
    this.bytes = u64le(head, 16);
    this.crcWant = u32le(head, 24);
    if (this.bytes % 8 !== 0 || this.records > this.bytes / 8 || this.records < this.bytes / 16) {
      throw TraceParseError.at(name, 8, `the binary trace header declares ${this.records} records in ${this.bytes} bytes: records are 8 or 16 bytes`);
    }
  }

  /** Replays the whole records of `chunk` (after the carried bytes). */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    if (this.got + chunk.length > this.bytes) {
      throw TraceParseError.at(this.name, BINARY_HEADER_BYTES + this.bytes, `the binary trace continues past the ${this.bytes} payload bytes its header declares`);
    }
    const r = engineOf(this.mmu).translate.feedBinary(this.mmu.ctx, this.carry, chunk, this.crc, this.host);
    this.crc = r.crc;
    this.got += chunk.length;
    this.carry = r.carry;
  }

  /** Checks that the payload was whole: its length, checksum, last record and record count. */
  finish(): void {
    const end = BINARY_HEADER_BYTES + this.got;
    if (this.got < this.bytes) {
      throw TraceParseError.at(this.name, end, `the binary trace ends after ${this.got} of the ${this.bytes} payload bytes its header declares: truncated`);
    }
    if (this.crc !== this.crcWant) throw TraceParseError.at(this.name, 24, 'the binary trace payload fails its CRC-32: the data is damaged');
    if (this.carry.length) throw TraceParseError.at(this.name, end - this.carry.length, 'the binary trace ends inside a record');
    const replayed = this.mmu.stats().records - this.records0;
    if (replayed !== this.records) throw TraceParseError.at(this.name, 8, `the binary trace header declares ${this.records} records, the payload holds ${replayed}`);
  }
}
