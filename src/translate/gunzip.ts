/**
 * Streaming gzip input with every member's trailer checked. fflate's streaming `Gunzip` inflates
 * one or more members (RFC 1952) but steps over each member's 8-byte trailer without reading it,
 * and stops quietly when the input ends inside a header or a trailer. This wrapper checks the
 * trailers itself, incrementally: a CRC-32 of each member's output (computed in WebAssembly,
 * assembly/codec/crc32.ts) and its length mod 2^32, compared with the member's CRC32 and ISIZE.
 *
 *   input   | hdr | deflate blocks ... | CRC32 ISIZE | hdr | deflate ... | CRC32 ISIZE |
 *           ^ member 1                              ^ onmember(offset)                ^ end
 *   member 1's trailer: the 8 bytes before the offset fflate reports for member 2;
 *   the last member's trailer: the last 8 bytes of the input.
 *
 * fflate reports a member's start (onmember) after it has handed out all of the previous
 * member's output and before any of the new one's, so the output between two reports is exactly
 * one member's. The compressed bytes needed for a trailer are kept in a window of the last
 * WINDOW bytes pushed (a trailer is followed only by the next member's header before fflate
 * reports it). A truncated or damaged stream thus always ends in a TraceParseError: fflate's own
 * error (a bad block, or input ending inside one), or a trailer that does not match.
 */
import { Gunzip } from 'fflate';
import { MemvisorError, TraceParseError } from '../errors.js';

/** Bytes of compressed input kept for reading trailers (beyond the chunk being pushed). */
const WINDOW = 1 << 20;
/** A gzip member is at least a 10-byte header, a 2-byte empty deflate stream and an 8-byte trailer. */
const MIN_MEMBER = 20;

/** What each fflate error code means here (FlateErrorCode). */
const FFLATE_ERRORS: Record<number, string> = {
  0: 'the gzip data ends inside a compressed block (truncated)',
  1: 'invalid deflate block type (corrupt gzip data)',
  2: 'invalid deflate length or literal (corrupt gzip data)',
  3: 'invalid deflate distance (corrupt gzip data)',
  6: 'not a gzip member header (corrupt data, or bytes after the last member)',
};

export class VerifiedGunzip {
  private readonly gz: Gunzip;
  /** CRC-32 and length mod 2^32 of the current member's output so far. */
  private crc = 0;
  private isize = 0;
  private member = 1;
  /** Compressed bytes pushed so far; the window holds [windowStart, inBytes). */
  private inBytes = 0;
  private readonly window: Uint8Array[] = [];
  private windowStart = 0;
  private windowBytes = 0;
  /** Output bytes handed to the sink, all members. */
  outBytes = 0;

  /**
   * `crcOf(data, crc)` continues a CRC-32 over `data`; `sink` receives the inflated bytes in
   * order (it may throw: its errors pass through unchanged). `name` is used in error messages.
   */
  constructor(
    private readonly name: string,
    private readonly crcOf: (data: Uint8Array, crc: number) => number,
    sink: (data: Uint8Array) => void,
  ) {
    this.gz = new Gunzip((data) => {
      if (data.length === 0) return;
      this.crc = this.crcOf(data, this.crc);
      this.isize = (this.isize + data.length) >>> 0;
      this.outBytes += data.length;
      sink(data);
    });
    this.gz.onmember = (offset) => this.memberEnd(offset);
  }

  /** Inflates `chunk` (which the caller must not modify afterwards); `final` after the last chunk. */
  push(chunk: Uint8Array, final: boolean): void {
    this.keep(chunk);
    this.inBytes += chunk.length;
    try {
      this.gz.push(chunk, final);
    } catch (e) {
      if (e instanceof MemvisorError) throw e;
      const code = (e as { code?: unknown }).code;
      if (typeof code !== 'number') throw e;
      const what = FFLATE_ERRORS[code] ?? `gzip data rejected by the inflater: ${(e as Error).message}`;
      throw TraceParseError.at(this.name, this.inBytes, `${what}, in member ${this.member} at or before this byte`);
    }
    if (final) {
      if (this.inBytes < MIN_MEMBER) {
        throw TraceParseError.at(this.name, this.inBytes, `the gzip data ends after ${this.inBytes} bytes, before a whole header, data and trailer (${MIN_MEMBER} bytes at the least): truncated`);
      }
      this.memberEnd(this.inBytes);
    }
  }

  /** Checks the trailer of the member that ends at compressed offset `end`, then starts the next. */
  private memberEnd(end: number): void {
    const t = this.bytesAt(end - 8, 8);
    if (!t) throw TraceParseError.at(this.name, end, `gzip member ${this.member + 1} starts more than ${WINDOW} bytes after the previous member's trailer (a header that long is not verified)`);
    const crc = (t[0] | (t[1] << 8) | (t[2] << 16) | (t[3] << 24)) >>> 0;
    const isize = (t[4] | (t[5] << 8) | (t[6] << 16) | (t[7] << 24)) >>> 0;
    if (crc !== this.crc || isize !== this.isize) {
      const hex = (x: number) => `0x${x.toString(16).padStart(8, '0')}`;
      throw TraceParseError.at(
        this.name,
        end - 8,
        `gzip member ${this.member}: its trailer says CRC-32 ${hex(crc)} and length ${isize} (mod 2^32), the inflated data has ${hex(this.crc)} and ${this.isize}: truncated or corrupt`,
      );
    }
    this.crc = 0;
    this.isize = 0;
    this.member++;
  }

  /** Adds `chunk` to the window, dropping whole chunks that lie more than WINDOW bytes back. */
  private keep(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.window.push(chunk);
    this.windowBytes += chunk.length;
    while (this.window.length > 1 && this.windowBytes - this.window[0].length >= WINDOW) {
      const old = this.window.shift()!;
      this.windowStart += old.length;
      this.windowBytes -= old.length;
    }
  }

  /** `n` compressed bytes from offset `at`, or null when they are not in the window. */
  private bytesAt(at: number, n: number): Uint8Array | null {
    if (at < this.windowStart || at + n > this.inBytes) return null;
    const out = new Uint8Array(n);
    let base = this.windowStart;
    let got = 0;
    for (const c of this.window) {
      if (got === n) break;
      const from = at + got - base;
      if (from < c.length) {
        const take = Math.min(n - got, c.length - from);
        out.set(c.subarray(from, from + take), got);
        got += take;
      }
      base += c.length;
    }
    return out;
  }
}
