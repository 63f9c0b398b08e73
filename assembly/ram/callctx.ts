/**
 * callctx: the host call context, where host-side calls (guest-physical access, page-out,
 * balloon, sharing, LZ4 batches) leave what they return beyond their return value. TypeScript
 * reads each field by name (assembly/layout.ts "callCtx.*"), at the address `callCtxPtr` gives.
 *
 *   +0   u32 physDone         bytes the last physAccess moved before it returned
 *   +4   u32 physGppn         GPPN at which the last physAccess stopped
 *   +8   u32 pageoutStop      why the last reclaimSelect stopped (STOP_*)
 *   +12  u32 pageoutZipped    victims it compressed into the zip cache
 *   +16  u32 pageoutEvicted   compressed pages it listed for swap-out (zip cache full)
 *   +20  u32 pageoutVictims   victims it chose (zipped + listed for swap)
 *   +24  u32 balloonBadIndex  index of the list entry that failed the last balloon call
 *   +28  u32 balloonSlotsFreed swap slots the last balloonInflate released
 *   +32  u32 scanMerged       pages the last shareScan merged
 *   +36  i32 lz4Error         LZ4_* code of the page at which the last lz4DecompressPages stopped
 *   +40  u32 pageoutShared    victims the last reclaimSelect merged by sharing instead (share before swap)
 *
 * One context serves every call: the module is single-threaded and each call writes its fields
 * before it returns, so they stay valid until the next call of the same mechanism.
 */

/** Byte offsets of the call context's fields. */
export const enum Call {
  PhysDone = 0,
  PhysGppn = 4,
  PageoutStop = 8,
  PageoutZipped = 12,
  PageoutEvicted = 16,
  PageoutVictims = 20,
  BalloonBadIndex = 24,
  BalloonSlotsFreed = 28,
  ScanMerged = 32,
  Lz4Error = 36,
  PageoutShared = 40,
  SIZE = 64,
}

const CALL_CTX: usize = memory.data(<i32>Call.SIZE, 8);

/** Address of the call context (TypeScript reads its fields by name). */
export function callCtxPtr(): usize { return CALL_CTX; }

/** Writes u32 field `f` of the call context. */
// @ts-ignore: decorator
@inline export function callSet(f: Call, v: u32): void { store<u32>(CALL_CTX + <usize>f, v); }
/** Writes i32 field `f` of the call context. */
// @ts-ignore: decorator
@inline export function callSetI32(f: Call, v: i32): void { store<i32>(CALL_CTX + <usize>f, v); }
