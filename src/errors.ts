/**
 * Typed errors. Every message names the field (or line), the value and what was expected, so
 * a user can fix the input without reading the source.
 */
import type { HostNeed } from './engine/fault.js';

/** Base class of every error memvisor throws on purpose. */
export class MemvisorError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** An argument or configuration field is out of its domain. */
export class ConfigError extends MemvisorError {
  constructor(
    readonly field: string,
    readonly value: unknown,
    readonly expected: string,
  ) {
    super(`${field}: got ${describe(value)}, expected ${expected}`);
  }
}

/** The WebAssembly module aborted (a failed assertion in a debug build, or a bug). */
export class EngineAbortError extends MemvisorError {
  constructor(
    readonly reason: string,
    readonly file: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(`engine aborted: ${reason} (${file}:${line}:${column}); the engine is unusable from now on`);
  }
}

/** The engine was used after an abort; its state can no longer be trusted. */
export class EnginePoisonedError extends MemvisorError {
  constructor(readonly abortError: EngineAbortError) {
    super(`engine is unusable after an earlier abort: ${abortError.reason}`);
  }
}

/** A memory map that does not fit in 4 GiB of WebAssembly linear memory. */
export class OutOfLinearMemoryError extends MemvisorError {}

/** Compressed data that is malformed, truncated, or decodes to an unexpected size. */
export class CodecError extends MemvisorError {
  constructor(
    readonly codec: string,
    readonly code: number,
    readonly detail: string,
  ) {
    super(`${codec}: ${detail} (code ${code})`);
  }
}

/** A command-line option is unknown or malformed (the CLI exits with code 2). */
export class UsageError extends MemvisorError {
  constructor(
    readonly option: string,
    readonly value: unknown,
    readonly expected: string,
  ) {
    super(`${option}: got ${describe(value)}, expected ${expected}`);
  }
}

/**
 * A trace that cannot be read as one: a line that looks like a record but does not parse, a line
 * too long or holding a NUL byte (not a text trace), damaged gzip data, or a binary trace whose
 * header, length or checksum is wrong. The message names the line (text) or the byte offset (in
 * the file for gzip and binary framing; `offset`), what was found and what was expected.
 */
export class TraceParseError extends MemvisorError {
  /** 1-based line of a text trace, or undefined when the error is in the file's framing. */
  readonly line: number | undefined;
  /** Byte offset: of the bad line in the (inflated) text, or in the file for gzip and binary framing. */
  readonly offset: number | undefined;
  constructor(
    readonly file: string,
    line: number | undefined,
    readonly text: string,
    detail: { offset?: number; reason?: string } = {},
  ) {
    const where = line !== undefined ? `${file}:${line}` : `${file}: byte ${detail.offset ?? 0}`;
    super(
      detail.reason !== undefined
        ? `${where}: ${detail.reason}`
        : `${where}: malformed lackey record ${describe(text)}; expected "I  <hex addr>,<size>" or " L|S|M <hex addr>,<size>" (use --skip-bad-lines to count and skip such lines)`,
    );
    this.line = line;
    this.offset = detail.offset;
  }

  /** An error in the framing of `file` (gzip, binary header) at byte `offset`. */
  static at(file: string, offset: number, reason: string): TraceParseError {
    return new TraceParseError(file, undefined, '', { offset, reason });
  }
}

/** Renders a value for an error message: short, and never throws. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? value.slice(0, 77) + '...' : value);
  if (typeof value === 'bigint') return `${value}n`;
  // a typed array by its kind and length (Uint8Array(4097), BigUint64Array(1)); its bytes would say nothing
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    return `${Object.prototype.toString.call(value).slice(8, -1)}(${(value as unknown as ArrayLike<unknown>).length})`;
  }
  if (Array.isArray(value)) return `array(${value.length})`;
  if (value === null || typeof value !== 'object') return String(value);
  return Object.prototype.toString.call(value);
}

/** Checks that `value` is an integer in [min, max]; returns it. */
export function checkInt(field: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(field, value, `an integer in [${min}, ${max}]`);
  }
  return value;
}

/** Checks that `value` is a Uint8Array; returns it. */
export function checkBytes(field: string, value: unknown): Uint8Array {
  if (!(value instanceof Uint8Array)) throw new ConfigError(field, value, 'a Uint8Array');
  return value;
}

/** Rejects keys of `obj` not in `keys` (a misspelt option must not be ignored silently); `prefix` names the object ('' for top-level options). */
export function checkKeys(prefix: string, obj: object, keys: readonly string[]): void {
  for (const k of Object.keys(obj)) {
    if (!keys.includes(k)) throw new ConfigError(prefix ? `${prefix}.${k}` : k, (obj as Record<string, unknown>)[k], `no such option (known: ${keys.join(', ')})`);
  }
}

/** 2^64, built once (a `1n << 64n` in the check would build it on every call). */
const U64_END = 1n << 64n;

/** Checks that `value` is a bigint in [0, 2^64); returns it. */
export function checkU64(field: string, value: unknown): bigint {
  if (typeof value !== 'bigint' || value < 0n || value >= U64_END) {
    throw new ConfigError(field, value, 'a bigint in [0, 2^64)');
  }
  return value;
}

/** A page read back from a VM's swap store does not match the checksum written with it. */
export class SwapChecksumError extends MemvisorError {
  constructor(
    readonly vm: string,
    readonly gppn: number,
    readonly slot: number,
    /** reads tried, retries included */
    readonly attempts = 1,
  ) {
    super(`swap store of VM ${JSON.stringify(vm)}: page GPPN ${gppn} in slot ${slot} fails its checksum${attempts > 1 ? ` on each of ${attempts} reads` : ''}; its data is lost and the VM is marked faulted`);
  }
}

/** What an errno code of a swap store's I/O means, for an error message. */
const SWAP_ERRNO_TEXT: Record<string, string> = {
  ENOSPC: 'no space left on the device holding the swap file',
  EIO: 'input/output error of the device holding the swap file',
  EDQUOT: 'disk quota exceeded on the device holding the swap file',
  EFBIG: 'the swap file would exceed the largest file allowed',
  EBADF: 'the swap store is closed (host.close(), or the VM powered off)',
  EROFS: 'the swap file is on a read-only file system',
};

/**
 * A swap store read or write failed: an I/O error of the backing file (`code` is its errno code,
 * such as 'ENOSPC' or 'EIO'), a short read, or an injected fault.
 */
export class SwapIoError extends MemvisorError {
  /** errno code of the failure ('ENOSPC', 'EIO', ...), or null when it has none (a short read) */
  readonly code: string | null;
  constructor(
    readonly op: 'read' | 'write',
    readonly vm: string,
    readonly slot: number,
    readonly gppn: number,
    override readonly cause: unknown,
    /** operations tried, retries included */
    readonly attempts = 1,
  ) {
    const code = (cause as NodeJS.ErrnoException | null)?.code;
    const what = typeof code === 'string' && SWAP_ERRNO_TEXT[code] ? `${code} (${SWAP_ERRNO_TEXT[code]})` : cause instanceof Error ? cause.message : String(cause);
    super(`swap store of VM ${JSON.stringify(vm)}: ${op} of GPPN ${gppn} at slot ${slot} failed${attempts > 1 ? ` ${attempts} times` : ''}: ${what}`);
    this.code = typeof code === 'string' ? code : null;
  }
}

/** A VM lost guest data (a swap read failed or a checksum did not match) and refuses further use. */
export class VmFaultedError extends MemvisorError {
  constructor(
    readonly vm: string,
    override readonly cause: MemvisorError,
  ) {
    super(`VM ${JSON.stringify(vm)} is faulted: ${cause.message}`);
  }
}

/** Machine memory is exhausted and nothing is left to reclaim (every VM at its reservation, swap full). */
export class OutOfMachineMemoryError extends MemvisorError {}

/** What each need of the fault driver asks of the host, for messages. */
const NEED_TEXT: Readonly<Record<HostNeed, string>> = {
  swapIn: 'the page swapped in',
  noFrame: 'a free machine frame',
  limit: 'a page-out from the VM, which holds its limit',
};

/**
 * The fault driver gave up (src/engine/driver.ts): an operation stopped for the host `rounds`
 * times in a row, each resolved, without any progress in between. Names the VM, the operation,
 * the page it stopped at last (GPPN and gPA) and what it needed from the host.
 */
export class GaveUpError extends OutOfMachineMemoryError {
  constructor(
    readonly vm: string,
    /** what was running: "guest-physical read of 4096 bytes at gPA 0x2000", "translation of gVA 0x400000 (write)", ... */
    readonly operation: string,
    readonly gppn: number,
    readonly gpa: number,
    readonly need: HostNeed,
    readonly rounds: number,
  ) {
    super(`VM ${JSON.stringify(vm)}: gave up on ${operation} after ${rounds} rounds without progress: it still stops at GPPN ${gppn} (gPA 0x${gpa.toString(16)}) for ${NEED_TEXT[need]} (need '${need}')`);
  }
}

/** A VM was used after `vm.powerOff()` / `host.removeVM()` freed everything it held. */
export class VmPoweredOffError extends MemvisorError {
  constructor(readonly vm: string) {
    super(`VM ${JSON.stringify(vm)} is powered off: its memory, swap store and page tables were freed (add a VM to run again)`);
  }
}

/** Where the audit found a broken invariant; a field is undefined when it does not apply. */
export interface AuditWhere {
  /** name of the VM (`vmId` its id) */
  vm?: string;
  vmId?: number;
  /** guest page of that VM */
  gppn?: number;
  /** machine frame */
  mpn?: number;
  /** zpool slot id (MPN << 2 | 1 KiB unit) */
  slot?: number;
  /** pmap state of the page (PState name) */
  state?: string;
  /** kind of the frame (FrameKind name) */
  kind?: string;
  /** the value the invariant requires, and the one found */
  expected?: number;
  found?: number;
}

/**
 * `host.audit()` found an invariant broken: `invariant` names it (one of the module's AUDIT_*
 * codes without the prefix, e.g. "FRAMES_CONSERVED"), `description` says what it means, and the
 * other fields say where. The engine's state can no longer be trusted.
 */
export class AuditError extends MemvisorError implements AuditWhere {
  readonly vm?: string;
  readonly vmId?: number;
  readonly gppn?: number;
  readonly mpn?: number;
  readonly slot?: number;
  readonly state?: string;
  readonly kind?: string;
  readonly expected?: number;
  readonly found?: number;

  constructor(
    readonly invariant: string,
    readonly code: number,
    readonly description: string,
    where: AuditWhere,
  ) {
    const at: string[] = [];
    if (where.vm !== undefined || where.vmId !== undefined) at.push(`VM ${where.vm !== undefined ? JSON.stringify(where.vm) : '?'}${where.vmId !== undefined ? ` (id ${where.vmId})` : ''}`);
    if (where.gppn !== undefined) at.push(`GPPN ${where.gppn}`);
    if (where.mpn !== undefined) at.push(`MPN ${where.mpn}`);
    if (where.slot !== undefined) at.push(`zpool slot ${where.slot}`);
    if (where.state !== undefined) at.push(`page state ${where.state}`);
    if (where.kind !== undefined) at.push(`frame kind ${where.kind}`);
    const counts = where.expected !== undefined || where.found !== undefined ? `; expected ${where.expected ?? '?'}, found ${where.found ?? '?'}` : '';
    super(`audit: invariant ${invariant} broken: ${description}${at.length ? ` (at ${at.join(', ')}${counts})` : counts ? ` (${counts.slice(2)})` : ''}`);
    Object.assign(this, where);
  }
}
