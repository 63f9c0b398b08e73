/**
 * ram: machine RAM as TypeScript sees it (assembly/ram: memmap, frames, page, zpool). Frames by
 * MPN, machine memory by hPA, and the page primitives over linear addresses (for tests and
 * benches that place pages themselves).
 */
import type { Bound, Gateway } from './gateway.js';
import { PAGE, asMpn, type Hpa, type Mpn } from './addr.js';
import { ConfigError } from '../errors.js';

/** Kinds of machine frame, as counted by the conservation invariant (assembly/ram/frames.ts FrameKind). */
export enum FrameKind {
  Free = 0,
  Guest = 1,
  Zpool = 2,
  PageTable = 3,
  Hypervisor = 4,
}

/** Frames of machine RAM by kind: free + the others == total. */
export interface FrameCounts {
  total: number;
  free: number;
  guest: number;
  zpool: number;
  pageTable: number;
  hypervisor: number;
}

/** The exports this module binds. */
const EXPORTS = [
  'frameAlloc', 'frameGet', 'framePut', 'frameRefs', 'frameKind', 'framesTotal', 'framesFree', 'framesUsed',
  'pageIsZero', 'pageEqual', 'pagesCountZero', 'pagesCountEqual', 'pagesCopy',
  'zslotAlloc', 'zslotFree', 'zslotLen', 'zslotClass', 'zpoolSlotsUsed', 'zpoolFrames', 'zpoolStoredBytes',
  'zpoolWastedBytes', 'zpoolAudit', 'frameAllocBlock', 'frameBlockFree',
] as const;

export class Ram {
  /** Returned by frame allocation when machine RAM is exhausted. */
  readonly NO_FRAME: Mpn;
  /** Returned by zslotAlloc when no slot can be had. */
  readonly NO_SLOT: number;
  private readonly x: Bound<typeof EXPORTS>;
  private readonly ramAt: number;
  private readonly ramSize: number;

  constructor(private readonly g: Gateway) {
    this.x = g.bind(EXPORTS);
    const c = g.constantsOf(['NO_FRAME', 'NO_SLOT', 'FRAME_KIND_FREE', 'FRAME_KIND_GUEST', 'FRAME_KIND_ZPOOL', 'FRAME_KIND_PAGE_TABLE', 'FRAME_KIND_HYPERVISOR']);
    const mirror: [number, FrameKind][] = [[c.FRAME_KIND_FREE, FrameKind.Free], [c.FRAME_KIND_GUEST, FrameKind.Guest],
      [c.FRAME_KIND_ZPOOL, FrameKind.Zpool], [c.FRAME_KIND_PAGE_TABLE, FrameKind.PageTable], [c.FRAME_KIND_HYPERVISOR, FrameKind.Hypervisor]];
    for (const [m, t] of mirror) if (m !== t) throw new ConfigError('module', `FrameKind ${FrameKind[t]}`, `${t} (the module says ${m}: rebuild it)`);
    if (g.constants.PAGE_SIZE !== PAGE) throw new ConfigError('module', 'PAGE_SIZE', `${PAGE} (the module says ${g.constants.PAGE_SIZE})`);
    this.NO_FRAME = asMpn(c.NO_FRAME);
    this.NO_SLOT = c.NO_SLOT;
    const ram = g.region('ram');
    this.ramAt = ram.offset;
    this.ramSize = ram.size;
  }

  // ---- frames ------------------------------------------------------------------------------

  /** Allocates a zero-filled frame; NO_FRAME when machine RAM is exhausted. */
  frameAlloc(kind: FrameKind): Mpn { return this.x.frameAlloc(kind) as Mpn; }
  /** Adds a reference to a frame; returns the new count. */
  frameGet(mpn: Mpn): number { return this.x.frameGet(mpn); }
  /** Drops a reference to a frame, freeing it at zero; returns the new count. */
  framePut(mpn: Mpn): number { return this.x.framePut(mpn); }
  /** References held on a frame. */
  frameRefs(mpn: Mpn): number { return this.x.frameRefs(mpn); }
  /** Kind of a frame. */
  frameKind(mpn: Mpn): FrameKind { return this.x.frameKind(mpn); }
  /** Linear address of frame `mpn`. */
  frameAddr(mpn: Mpn): number { return this.ramAt + mpn * PAGE; }
  /** A whole aligned block of 512 zeroed frames of `kind` (a 2 MiB large page): its first MPN, or NO_FRAME when no block is wholly free. */
  frameAllocBlock(kind: FrameKind): Mpn { return this.x.frameAllocBlock(kind) as Mpn; }
  /** Free frames of 2 MiB block `b` (the allocator's count). */
  frameBlockFree(b: number): number { return this.x.frameBlockFree(b); }
  /** Frames counted by kind. */
  frameCounts(): FrameCounts {
    const u = (k: FrameKind) => this.x.framesUsed(k);
    return {
      total: this.x.framesTotal(), free: this.x.framesFree(), guest: u(FrameKind.Guest), zpool: u(FrameKind.Zpool),
      pageTable: u(FrameKind.PageTable), hypervisor: u(FrameKind.Hypervisor),
    };
  }

  // ---- machine memory by hPA ---------------------------------------------------------------

  /** Reads `length` bytes of machine memory at `hpa` (within machine RAM). */
  readMachine(hpa: Hpa | bigint | number, length: number): Uint8Array {
    const at = this.machineAt(hpa, length);
    return this.g.u8.slice(at, at + length);
  }
  /** Writes `bytes` into machine memory at `hpa`, bypassing every check a guest would meet (the caller translated it). */
  writeMachine(hpa: Hpa | bigint | number, bytes: Uint8Array): void {
    const at = this.machineAt(hpa, bytes.length);
    this.g.u8.set(bytes, at);
  }

  /** Linear address of `length` bytes of machine RAM at `hpa`; a typed error outside RAM. */
  private machineAt(hpa: bigint | number, length: number): number {
    this.g.live();
    const a = Number(hpa);
    if (!Number.isInteger(a) || a < 0 || !Number.isInteger(length) || length < 0 || a + length > this.ramSize) {
      throw new ConfigError('hpa', hpa, `a host-physical range of ${length} bytes inside machine RAM (0 .. ${this.ramSize})`);
    }
    return this.ramAt + a;
  }

  // ---- pages at linear addresses -----------------------------------------------------------

  pageIsZero(addr: number): boolean { return this.x.pageIsZero(addr); }
  pageEqual(a: number, b: number): boolean { return this.x.pageEqual(a, b); }
  pagesCountZero(addr: number, n: number): number { return this.x.pagesCountZero(addr, n); }
  pagesCountEqual(a: number, b: number, n: number): number { return this.x.pagesCountEqual(a, b, n); }
  pagesCopy(dst: number, src: number, n: number): void { this.x.pagesCopy(dst, src, n); }

  // ---- zpool: 1 KiB and 2 KiB slots carved from frames ------------------------------------------

  /** A slot of class `c` (0: 1 KiB, 1: 2 KiB) holding `len` bytes for (vm, gppn); NO_SLOT when none can be had. */
  zslotAlloc(c: number, len: number, vm: number, gppn: number): number { return this.x.zslotAlloc(c, len, vm, gppn); }
  zslotFree(s: number): void { this.x.zslotFree(s); }
  zslotLen(s: number): number { return this.x.zslotLen(s); }
  zslotClass(s: number): number { return this.x.zslotClass(s); }
  /** Used slots of class `c`. */
  zpoolSlotsUsed(c: number): number { return this.x.zpoolSlotsUsed(c); }
  /** Frames carved into slots of class `c`. */
  zpoolFrames(c: number): number { return this.x.zpoolFrames(c); }
  /** Compressed bytes stored in the pool. */
  zpoolStoredBytes(): number { return this.x.zpoolStoredBytes(); }
  /** Pool bytes not holding compressed data (slot tails and free slots). */
  zpoolWastedBytes(): number { return this.x.zpoolWastedBytes(); }
  /** Checks the pool's lists and counts; 0 when consistent. */
  zpoolAudit(): number { return this.x.zpoolAudit(); }
}
