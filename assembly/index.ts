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
import { simInit } from "./guest/state";
import { contentInit } from "./workload/content";

export {
  PAGE_SIZE, configCount, configName, configPtr, mapCount, mapName, mapOffset, mapSize,
  stagingReserve, INIT_OK, INIT_TOO_LARGE, INIT_TWICE,
} from "./ram/memmap";
export {
  NO_FRAME, frameAlloc, frameGet, framePut, frameRefs, frameKind, framesTotal, framesFree, framesUsed,
} from "./ram/frames";
export {
  vmCreate, vmSetLimit, vmSetCacheCap, vmTotal, pmapEntries, pmapState, pmapFrame, pmapWritable, pmapSample,
  pmapFault, vmStateCount, vmStatCount, vmStatName, vmStat, vmSharedSaved, pmapCowBreaks, physAccess, physAccessDone,
  physAccessGppn, swapInCommit, swapInList, swapInFrames, swapInFramesCommit, pmapAudit, pmapAuditCode, pmapAuditDetail,
  FAULT_NO_FRAME, FAULT_RANGE, FAULT_IO, FAULT_LIMIT, PHYS_OK, PHYS_WRITE, PHYS_SKIP_ZERO,
} from "./reclaim/pmap";
export {
  zslotAlloc, zslotFree, zslotLen, zslotClass, zpoolSlotsUsed, zpoolFrames, zpoolStoredBytes, zpoolWastedBytes,
  zpoolAudit, NO_SLOT,
} from "./ram/zpool";
export { zipHistogram, zipSurvey, ZIP_HIST_BUCKETS } from "./reclaim/zipcache";
export {
  reclaimSeed, reclaimSelect, reclaimStop, STOP_DONE, STOP_NO_VICTIM, STOP_SWAP_FULL, reclaimZipped, reclaimEvicted, reclaimVictims, swapCommit, POLICY_RANDOM, POLICY_CLOCK,
} from "./reclaim/pageout";
export { balloonInflate, balloonDeflate, balloonBadIndex, balloonSlotsFreed, BALLOON_DUPLICATE, BALLOON_BAD_STATE, pagesDiscard } from "./reclaim/balloon";
export {
  shareScan, sharedCount, sharingHints, sharingFullScans, sharingVolatile, sharingScanned, sharingMerged, sharingLargeSkipped,
  sharingLastScanned, sharingLastMerged, sharingCapacity, sharingPassPages, sharingCursor, sharingAudit,
  SCAN_SEQUENTIAL, SCAN_RANDOM,
} from "./reclaim/sharing";
export { pageIsZero, pageEqual, pagesCountZero, pagesCountEqual, pagesCopy } from "./ram/page";
export { xxh64, xxh3, pagesHash, pagesXxh3, pagesXxh64 } from "./codec/hash";
export {
  mmuCreate, mmuCount, mmuCtxAddr, mmuCounterCount, mmuCounterName, mmuCounterSlot, mmuCostCount, mmuCostName,
  mmuCostSlot, pagingVmSetup, invvpid, invept,
} from "./translate/cores";
export { mmuSwitch, mmuTranslate, mmuTranslateBatch, batchPack, batchUnpack, batchHostFaults, lastFaultKind, lastFaultCode, lastFaultAddr, lastTranslationCycles } from "./translate/walk";
export { mmuInvlpg } from "./translate/shadow";
export { eptSetup, eptPointer, eptPoke, eptPeek, ptPoolCount } from "./translate/ept";
export { gosNewRoot, gosRangeBusy, gosAttach, guestWrite64, guestRead64 } from "./translate/gos";
export { TRACE_SKIP_BAD, TRACE_EMIT, lackeyReplay, binaryReplay, traceReset, traceLines, traceErrorOffset, traceEmitTo, traceEmitted } from "./translate/trace";
export { backingChanged } from "./translate/coherence";
export { pagingSample } from "./translate/accessed";
export { pagingStatCount, pagingStatName, pagingStat, mmuResetCounters } from "./translate/cores";
export {
  lz4Compress, lz4Decompress, lz4Bound, lz4CompressPages, lz4DecompressPages, lz4LastError,
  LZ4_DOES_NOT_FIT, LZ4_TRUNCATED, LZ4_ZERO_OFFSET, LZ4_OFFSET_BEFORE_START, LZ4_OUTPUT_OVERFLOW,
  LZ4_TRAILING, LZ4_SIZE_MISMATCH, LZ4_BAD_SIZE,
} from "./codec/lz4";

// the simulation: guest OS model (guest/), workloads and content (workload/)
export {
  simContentAddr, simContentPages, simSetNow, simGet, simGetF, simSet, simSetF, simSlotCount, simSlotName, simSlotIndex,
  simSetMix, simVpageLoc, R_DONE, R_HOST, R_GUEST_FREE, R_GUEST_SWAPIN, R_ERROR, R_MORE,
} from "./guest/state";
export { guestSetup, guestBoot, guestFreeBalloon, guestRelease, guestZero, guestReport, guestAudit } from "./guest/alloc";
export {
  guestTake, guestDropCache, guestDeflateSelect, guestSwapSelect, guestSwapCommit, guestSwapIn, guestBatchReset,
  TAKE_FREE, TAKE_CACHE,
} from "./guest/reclaim";
export { contentImageSet, contentGenerate, contentFillPage, K_ZERO, K_IMAGE, K_TEXT, K_BINARY, K_RANDOM, K_UNIQUE } from "./workload/content";
export { simWorkload, simStepBegin, simTouch, simSeen, simTraceRun } from "./workload/touch";
export { samplerZipfCounts } from "./workload/sampler";
export { simVerifyBegin, simVerify, simVerifyPages, simVerifyGuestList, simVerifyVpages } from "./workload/verify";

// The values of enums TypeScript mirrors (src/engine/engine.ts FrameKind, src/translate/mmu.ts FaultKind), exported
// only so that a test keeps the two sides in step (PState is kept by the order of vmStatName).
export { FK_GUEST_PF, FK_EPT_VIOLATION, FK_EPT_MISCONFIG, FK_HOST, FK_GUEST_OOM, FK_NONCANONICAL, FK_NO_FRAME } from "./translate/walk";
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
  simInit(<u32>cfg(Cfg.MaxVMs), <u32>cfg(Cfg.GuestPages), <u32>cfg(Cfg.SimContentPages));
  contentInit();
  return INIT_OK;
}
