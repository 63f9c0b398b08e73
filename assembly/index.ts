/**
 * The module's exported ABI. Each part lives in its own file (see ../shared/DESIGN.md); this
 * file only re-exports them and sets them up in `init`, in memory-map order.
 */

import { layout, INIT_OK, cfg, Cfg } from "./ram/memmap";
import { framesInit, FrameKind } from "./ram/frames";
import { pmapInit } from "./reclaim/pmap";
import { mmuInit } from "./translate/cores";
import { eptInit } from "./translate/ept";
import { zpoolInit } from "./ram/zpool";
import { sharingInit } from "./reclaim/sharing";
import { coherenceInit } from "./translate/coherence";
import { CENTRY } from "./translate/tlb";
import { simInit } from "./guest/state";
import { contentInit } from "./workload/content";

export {
  PAGE_SIZE, configCount, configName, configPtr, mapCount, mapName, mapOffset, mapSize,
  stagingReserve, INIT_OK, INIT_TOO_LARGE, INIT_TWICE,
} from "./ram/memmap";
export { layoutCount, layoutName, layoutOffset, layoutSize, callCtxPtr } from "./layout";
export {
  NO_FRAME, frameAlloc, frameGet, framePut, frameRefs, frameKind, framesTotal, framesFree, framesUsed,
  frameAllocBlock, frameBlockFree,
} from "./ram/frames";
export {
  vmCreate, vmSetLimit, vmSetCacheCap, vmTotal, pmapEntries, pmapState, pmapFrame, pmapSample,
  vmStateCount, vmStatCount, vmStatName, vmStat, vmSharedSaved, FAULT_NO_FRAME, FAULT_RANGE, FAULT_IO, FAULT_LIMIT,
} from "./reclaim/pmap";
export {
  pmapFault, pmapCowBreaks, physAccess, swapInCommit, swapInList, swapInFrames,
  swapInFramesCommit, vmRelease, PHYS_OK, PHYS_WRITE, PHYS_SKIP_ZERO,
} from "./reclaim/fault";
// the audit: AUDIT_* codes and their texts, where the last failure was, the debug-only corruption hook
export * from "./ram/invariants";
export { auditDetailCount, auditDetailName, auditDetail } from "./ram/failure";
export { audit } from "./audit";
export { debugCorrupt } from "./debug";
export {
  zslotAlloc, zslotFree, zslotLen, zslotClass, zpoolSlotsUsed, zpoolFrames, zpoolStoredBytes, zpoolWastedBytes,
  zpoolAudit, NO_SLOT,
} from "./ram/zpool";
export { zipHistogram, zipSurvey, ZIP_HIST_BUCKETS, zipSetPoolCap, zipPoolCap, zipPoolRejects } from "./reclaim/zipcache";
export {
  reclaimSeed, reclaimSelect, reclaimEvict, STOP_DONE, STOP_NO_VICTIM, STOP_SWAP_FULL, swapCommit, POLICY_RANDOM, POLICY_CLOCK,
  reclaimShareFirst, zeroDrop,
} from "./reclaim/pageout";
// the host policies' mechanisms: large pages, working-set sampling (src/policy)
export {
  largeAllow, largeAllowed, vmSetLarge, pmapLarge, largeBreak, largeBreakAll, largeGroups, largeAllocs, largeBreaks, largeFailed,
} from "./reclaim/large";
export { wsSample } from "./translate/wsample";
export { balloonInflate, balloonDeflate, BALLOON_BAD_RANGE, BALLOON_DUPLICATE, BALLOON_BAD_STATE, pagesDiscard } from "./reclaim/balloon";
export {
  shareScan, sharedCount, sharingHints, sharingFullScans, sharingVolatile, sharingScanned, sharingMerged, sharingLargeSkipped,
  sharingCapacity, sharingPassPages, sharingCursor, SCAN_SEQUENTIAL, SCAN_RANDOM,
  sharingSetMaxSharing, sharingMaxSharing, sharingMaxUsers, sharingLargeHashed, sharingBrokenMerged,
} from "./reclaim/sharing";
export { pageIsZero, pageEqual, pagesCountZero, pagesCountEqual, pagesCopy } from "./ram/page";
export { xxh64, xxh3, pagesHash, pagesXxh3, pagesXxh64, xxh64Pages, xxh64PagesInCache, xxh3Pages, xxh64PageList } from "./codec/hash";
export { crc32 } from "./codec/crc32";
export { mmuCreate, mmuCtxAddr, mmuResetCounters, pagingVmSetup, invvpid, invept, pagingStatCount, pagingStatName, pagingStat } from "./translate/cores";
export { mmuSwitch, mmuTranslate, mmuTranslateBatch, batchPack, batchUnpack, batchHostFaults } from "./translate/walk";
export { mmuInvlpg } from "./translate/shadow";
export { eptSetup, eptPointer, eptPoke, eptPeek, ptPoolDrain } from "./translate/ept";
export { shadowRelease } from "./translate/shadow";
export { gosNewRoot, gosRangeBusy, gosAttach, guestWrite64, guestRead64 } from "./translate/gos";
export {
  TRACE_SKIP_BAD, TRACE_HOST_STOP, TRACE_MAX_LINE, TRACE_ERR_SYNTAX, TRACE_ERR_LONG, TRACE_ERR_NUL, lackeyReplay, binaryReplay,
  traceReset, traceResume,
} from "./translate/trace";
export { backingChanged } from "./reclaim/hook";
export { pagingVmRelease } from "./translate/coherence";
export { pagingSample } from "./translate/accessed";
export {
  lz4Compress, lz4Decompress, lz4Bound, lz4CompressPages, lz4DecompressPages,
  LZ4_DOES_NOT_FIT, LZ4_TRUNCATED, LZ4_ZERO_OFFSET, LZ4_OFFSET_BEFORE_START, LZ4_OUTPUT_OVERFLOW,
  LZ4_TRAILING, LZ4_SIZE_MISMATCH, LZ4_BAD_SIZE, LZ4_BAD_OFFSETS, lz4CompressPacked, lz4DecompressPacked,
} from "./codec/lz4";

// the simulation: guest OS model (guest/), workloads and content (workload/); TypeScript reads the
// guests' headers by name (layout.ts "simVm.*") and the images' region by name (memory map "simContent")
export {
  simSetNow, simSetMix, guestSwapSlot, R_DONE, R_HOST, R_GUEST_FREE, R_GUEST_SWAPIN, R_ERROR, R_MORE,
} from "./guest/state";
export { guestSetup, guestBoot, guestFreeBalloon, guestRelease, guestZero, guestReport, guestAudit } from "./guest/alloc";
export {
  guestTake, guestDropCache, guestDeflateSelect, guestSwapSelect, guestSwapCommit, guestSwapIn, guestBatchReset,
  TAKE_FREE, TAKE_CACHE,
} from "./guest/reclaim";
export { contentImageSet, contentGenerate, contentFillPage, K_ZERO, K_IMAGE, K_TEXT, K_BINARY, K_RANDOM, K_UNIQUE } from "./workload/content";
export { simWorkload, simStepBegin, simTouch, simSeen, simTraceRun, samplerZipfCounts } from "./guest/touch";
export { simVerifyBegin, simVerify, simVerifyPages, simVerifyGuestList, simVerifyVpages } from "./guest/verify";

// The values of enums TypeScript mirrors (src/engine/ram.ts FrameKind, src/engine/translate.ts FaultKind), exported
// so that the gateway checks the two sides agree when it loads the module (PState is kept by the order of vmStatName).
export { FK_GUEST_PF, FK_EPT_VIOLATION, FK_EPT_MISCONFIG, FK_HOST, FK_GUEST_OOM, FK_NONCANONICAL, FK_NO_FRAME } from "./translate/walk";
/** Bytes of one TLB / page-walk-cache entry in region mmuCache: TypeScript sizes an engine for the caches it asks for. */
export const MMU_CACHE_ENTRY_BYTES: u32 = CENTRY;
export const FRAME_KIND_FREE: u32 = FrameKind.Free;
export const FRAME_KIND_GUEST: u32 = FrameKind.Guest;
export const FRAME_KIND_ZPOOL: u32 = FrameKind.Zpool;
export const FRAME_KIND_PAGE_TABLE: u32 = FrameKind.PageTable;
export const FRAME_KIND_HYPERVISOR: u32 = FrameKind.Hypervisor;

/** Lays out memory from the configuration block and sets up every part. Returns an INIT_* code. */
export function init(): i32 {
  const r = layout();
  if (r != INIT_OK) return r;
  framesInit();
  pmapInit();
  mmuInit();
  eptInit();
  zpoolInit();
  sharingInit();
  coherenceInit();
  simInit(<u32>cfg(Cfg.MaxVMs), <u32>cfg(Cfg.GuestPages));
  contentInit();
  return INIT_OK;
}
