/**
 * lackey: trace replay in WebAssembly. TypeScript passes trace bytes through the staging region
 * in large chunks; each call parses every complete line (or binary record) and translates it on
 * an MMU context, never one JS call per record.
 *
 * Text format (valgrind --tool=lackey --trace-mem=yes), one record per line, hex address and
 * decimal size:
 *
 *   "I  04016a0,3"       instruction fetch  -> iTLB, read
 *   " L 1ffefffd48,8"    data load          -> dTLB, read
 *   " S 1ffefffd40,8"    data store         -> dTLB, write
 *   " M 0402e10,4"       modify             -> dTLB, one translation, a write
 *
 * A line that starts like a record ("I " or " L ", " S ", " M ") must parse completely; any other
 * line ("==pid== ..." banners, program output, blank lines) is ignored. A record's first byte's
 * 4 KiB page is translated, and its last byte's page too when the record crosses a 4 KiB boundary.
 *
 * Binary format (after an 8-byte header TypeScript checks): little-endian u64 words,
 *
 *   63.....58  57 56  55...............0
 *   size (1-63) kind   address             kind: 0 I, 1 L, 2 S, 3 M
 *
 * size 0 means the size does not fit: the next word holds it.
 *
 * Lines are bounded: a line longer than TRACE_MAX_LINE bytes (newline excluded) is an error, or
 * a bad line skipped with TRACE_SKIP_BAD (then the rest of it is skipped as it streams in, across
 * calls). So the bytes a caller must carry into its next call stay below TRACE_MAX_LINE and the
 * time stays linear in the input, whatever it holds. A NUL byte never occurs in a valgrind log:
 * its line is an error (the input is binary, not a trace) or a bad line.
 *
 * Over a Host (TRACE_HOST_STOP), a record whose translation needs the host first (a page to swap
 * in, a frame to free, the VM at its limit: FK_HOST, FK_NO_FRAME) stops the call right after its
 * line, as the hardware would stop the guest at the faulting access:
 *
 *   lackeyReplay / binaryReplay ──► bytes consumed, through the stopped record's line
 *                                   traceStop = 1, the fault in the results, the record pending
 *   TypeScript resolves the fault (the fault driver, src/engine/driver.ts)
 *   traceResume ──► translates what is left of the pending record (it may stop again)
 *   lackeyReplay / binaryReplay from the next byte ...
 *
 * A record is counted once however often it stops; each retried translation counts again (a
 * re-executed access), and hostFaults counts the stops.
 *
 * Invariants: a call consumes whole lines (records) only, except the head of an overlong line
 * being skipped; lines are counted across calls, so an error names the line number of the whole
 * trace; at most one record is pending, and only while traceStop is 1.
 */

import { ACC_READ, ACC_WRITE, ACC_FETCH } from "./entries";
import { F, cadd, ctxAddr, Res } from "./cores";
import { translate } from "./walk";
import { FAULT_BIT, FK_HOST, FK_NO_FRAME, faultToCtx } from "./fault";

/** Flag: count malformed lines and go on instead of stopping. */
export const TRACE_SKIP_BAD: u32 = 1;
/** Flag: stop at a record whose translation the host must help (over a Host; see the overview). */
export const TRACE_HOST_STOP: u32 = 2;
/** Parts of a pending record still to translate: its first page (then its last, when it crosses a page), or its last only. */
const PEND_FIRST: u32 = 1;
const PEND_LAST: u32 = 2;
/** Longest line accepted, in bytes without its newline (valgrind's lines are under 100). */
export const TRACE_MAX_LINE: u32 = 4096;
/** Errors of lackeyReplay, returned negated: a record that does not parse, a line over TRACE_MAX_LINE, a NUL byte. */
export const TRACE_ERR_SYNTAX: u32 = 1;
export const TRACE_ERR_LONG: u32 = 2;
export const TRACE_ERR_NUL: u32 = 3;

/** Where the call in progress writes binary records (emit mode). */
let emitPtr: usize = 0;

/**
 * Starts a new text trace on context `id`: its line count (results traceLines) goes back to 0,
 * and no overlong line is being skipped.
 */
export function traceReset(id: u32): void {
  const c = ctxAddr(id);
  store<u64>(c + <usize>Res.TraceLines, 0);
  store<u32>(c + <usize>Res.TraceErrorAt, 0);
  store<u32>(c + <usize>Res.TraceSkipping, 0);
}

/** True when fault result `r` is one the host resolves (FK_HOST: swap-in, no frame, limit; FK_NO_FRAME: no frame for a table). */
// @ts-ignore: decorator
@inline function hostFault(r: u64): bool {
  const kind = <u32>(r >> 48) & 0x7F;
  return kind == FK_HOST || kind == FK_NO_FRAME;
}

/** Records the record [addr, last] of access `acc` as pending from `part` on, and the stop, in the results of context `c`. */
function pend(c: usize, acc: u32, addr: u64, last: u64, part: u32): void {
  store<u32>(c + <usize>Res.TraceStop, 1);
  store<u32>(c + <usize>Res.TracePendKind, acc | (part << 8));
  store<u64>(c + <usize>Res.TracePendAddr, addr);
  store<u64>(c + <usize>Res.TracePendLast, last);
  faultToCtx(c);
}

/**
 * Translates record [addr, last] of access `acc` from `part` on: its first byte's page, and its
 * last byte's when the record crosses a 4 KiB boundary. With `stop`, a fault the host must
 * resolve leaves the rest pending (pend) and returns false; other faults are counted unhandled.
 */
// @ts-ignore: decorator
@inline function replayFrom(c: usize, acc: u32, addr: u64, last: u64, part: u32, stop: bool): bool {
  if (part == PEND_FIRST) {
    const r = translate(c, addr, acc, true);
    if (r & FAULT_BIT) {
      if (stop && hostFault(r)) { pend(c, acc, addr, last, PEND_FIRST); return false; }
      cadd(c, F.UnhandledFaults, 1);
    }
  }
  if ((last ^ addr) >> 12) {
    const r = translate(c, last, acc, true);
    if (r & FAULT_BIT) {
      if (stop && hostFault(r)) { pend(c, acc, addr, last, PEND_LAST); return false; }
      cadd(c, F.UnhandledFaults, 1);
    }
  }
  return true;
}

/** Replays one record of `kind` (0 I, 1 L, 2 S, 3 M) on context `c`; false when it stopped for the host (`stop`). */
// @ts-ignore: decorator
@inline function replay(c: usize, kind: u32, addr: u64, size: u64, stop: bool): bool {
  cadd(c, F.Records, 1);
  const acc = kind == 0 ? ACC_FETCH : kind == 1 ? ACC_READ : ACC_WRITE;
  return replayFrom(c, acc, addr, addr + size - 1, PEND_FIRST, stop);
}

/**
 * Translates what is left of the record a replay call stopped at (traceStop), after the host
 * resolved the fault. Returns true when the record is done (or none was pending), false when it
 * stopped for the host again (results: the new fault).
 */
export function traceResume(id: u32): bool {
  const c = ctxAddr(id);
  store<u32>(c + <usize>Res.TraceStop, 0);
  const k = load<u32>(c + <usize>Res.TracePendKind);
  if (k == 0) return true;
  store<u32>(c + <usize>Res.TracePendKind, 0);
  return replayFrom(c, k & 0xFF, load<u64>(c + <usize>Res.TracePendAddr), load<u64>(c + <usize>Res.TracePendLast), k >> 8, true);
}

/** Writes one binary record. */
// @ts-ignore: decorator
@inline function emit(kind: u32, addr: u64, size: u64): void {
  if (size < 64) {
    store<u64>(emitPtr, addr | (<u64>kind << 56) | (size << 58));
    emitPtr += 8;
  } else {
    store<u64>(emitPtr, addr | (<u64>kind << 56));
    store<u64>(emitPtr, size, 8);
    emitPtr += 16;
  }
}

/** Hex value of byte `ch`, or 16. */
// @ts-ignore: decorator
@inline function hexVal(ch: u32): u32 {
  const d = ch - 48;
  if (d < 10) return d;
  const l = (ch | 32) - 97;
  return l < 6 ? l + 10 : 16;
}

/**
 * Parses and replays the lackey text at [p, p + len) on context `id`. `final`: no more bytes
 * follow, so a last line without a newline counts. With `emitAt` != 0 the records are written
 * there in the binary format instead of being translated (results traceEmitted: how many bytes).
 * Returns the bytes consumed (a prefix of whole lines; with TRACE_HOST_STOP, through the line of
 * a record that stopped for the host: traceStop), or -TRACE_ERR_* at a bad line (results
 * traceErrorAt says where: the line, or the NUL byte itself for TRACE_ERR_NUL; traceLines counts
 * the lines before it across calls). The line count and the skipping of an overlong line carry
 * over in the context from call to call.
 */
export function lackeyReplay(id: u32, p: usize, len: u32, final: bool, flags: u32, emitAt: usize): i32 {
  const c = ctxAddr(id);
  const end = p + len;
  const stop = (flags & TRACE_HOST_STOP) != 0;
  if (DEBUG) assert(load<u32>(c + <usize>Res.TracePendKind) == 0, "lackeyReplay: a record is pending (traceResume first)");
  store<u32>(c + <usize>Res.TraceStop, 0);
  let lineNo = load<u64>(c + <usize>Res.TraceLines);
  let errAt: u32 = 0;
  let skipping = load<u32>(c + <usize>Res.TraceSkipping) != 0;
  const lines0 = lineNo;
  const skipBad = (flags & TRACE_SKIP_BAD) != 0;
  emitPtr = emitAt;
  let s = p;
  if (skipping) {
    // the tail of an overlong line, counted bad when it began
    while (s < end && load<u8>(s) != 10) s++;
    if (s < end || final) { skipping = false; lineNo++; s++; }
  }
  while (s < end) {
    let q = s;
    const c0 = <u32>load<u8>(q);
    let kind: u32 = 4;
    if (c0 == 73 /* I */) {
      if (q + 1 < end && load<u8>(q + 1) == 32) { kind = 0; q += 2; }
    } else if (c0 == 32 && q + 2 < end && load<u8>(q + 2) == 32) {
      const c1 = <u32>load<u8>(q + 1);
      kind = c1 == 76 ? 1 : c1 == 83 ? 2 : c1 == 77 ? 3 : 4;
      if (kind != 4) q += 3;
    }
    let err: u32 = 0;
    if (kind == 4) {
      // not a record: skip the line (or wait for the rest of it); a NUL says the input is binary
      while (q < end) {
        const ch = load<u8>(q);
        if (ch == 10) break;
        if (ch == 0 && err == 0) { err = TRACE_ERR_NUL; errAt = <u32>(q - p); }
        q++;
      }
      if (err == 0 && q - s > <usize>TRACE_MAX_LINE) { err = TRACE_ERR_LONG; errAt = <u32>(s - p); }
      if (q >= end && !final && err == 0) break;
    } else {
      while (q < end && load<u8>(q) == 32) q++;
      let addr: u64 = 0;
      let digits: u32 = 0;
      let ok = true;
      for (; q < end; q++) {
        const v = hexVal(<u32>load<u8>(q));
        if (v == 16) break;
        addr = (addr << 4) | v;
        digits++;
      }
      if (digits == 0 || digits > 14 || q >= end || load<u8>(q) != 44 /* , */) ok = false;
      let size: u64 = 0;
      if (ok) {
        q++;
        let sd: u32 = 0;
        for (; q < end; q++) {
          const d = <u32>load<u8>(q) - 48;
          if (d >= 10) break;
          size = size * 10 + d;
          sd++;
        }
        while (q < end && (load<u8>(q) == 32 || load<u8>(q) == 13)) q++;
        if (sd == 0 || sd > 9 || size == 0) ok = false;
        else if (q < end && load<u8>(q) != 10) ok = false;
      }
      if (q - s > <usize>TRACE_MAX_LINE) { err = TRACE_ERR_LONG; errAt = <u32>(s - p); }
      else if (q >= end && !final) break; // the line continues in the next chunk
      else if (!ok) { err = TRACE_ERR_SYNTAX; errAt = <u32>(s - p); }
      if (err == 0) {
        lineNo++;
        if (emitAt != 0) emit(kind, addr, size);
        else if (!replay(c, kind, addr, size, stop)) { s = q + 1; break; }
        s = q + 1;
        continue;
      }
    }
    if (err == 0) { lineNo++; s = q + 1; continue; }
    if (!skipBad) {
      store<u32>(c + <usize>Res.TraceErrorAt, errAt);
      store<u64>(c + <usize>Res.TraceLines, lineNo);
      store<u32>(c + <usize>Res.TraceSkipping, 0);
      store<u32>(c + <usize>Res.TraceEmitted, <u32>(emitPtr - emitAt));
      cadd(c, F.Lines, lineNo - lines0);
      cadd(c, F.TraceBytes, <u64>(s - p));
      return -<i32>err;
    }
    cadd(c, F.BadLines, 1);
    while (q < end && load<u8>(q) != 10) q++;
    if (q >= end && !final) { skipping = true; s = end; break; }
    lineNo++;
    s = q + 1;
  }
  const used = <u32>(min<usize>(s, end) - p);
  store<u64>(c + <usize>Res.TraceLines, lineNo);
  store<u32>(c + <usize>Res.TraceSkipping, skipping ? 1 : 0);
  store<u32>(c + <usize>Res.TraceEmitted, <u32>(emitPtr - emitAt));
  cadd(c, F.TraceBytes, used);
  cadd(c, F.Lines, lineNo - lines0);
  return <i32>used;
}

/**
 * Replays binary records at [p, p + len) on context `id`; returns the bytes consumed (whole
 * records; with TRACE_HOST_STOP, through a record that stopped for the host: traceStop).
 */
export function binaryReplay(id: u32, p: usize, len: u32, flags: u32): i32 {
  const c = ctxAddr(id);
  const end = p + len;
  const stop = (flags & TRACE_HOST_STOP) != 0;
  if (DEBUG) assert(load<u32>(c + <usize>Res.TracePendKind) == 0, "binaryReplay: a record is pending (traceResume first)");
  store<u32>(c + <usize>Res.TraceStop, 0);
  let s = p;
  while (s + 8 <= end) {
    const w = load<u64>(s);
    let size = w >> 58;
    let next = s + 8;
    if (size == 0) {
      if (next + 8 > end) break;
      size = load<u64>(next);
      next += 8;
    }
    s = next;
    if (!replay(c, <u32>(w >> 56) & 3, w & 0x00FFFFFFFFFFFFFF, size, stop)) break;
  }
  const used = <u32>(s - p);
  cadd(c, F.TraceBytes, used);
  return <i32>used;
}
