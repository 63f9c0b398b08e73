/**
 * The module's exported ABI. Each part lives in its own file (see ../shared/DESIGN.md); this
 * file only re-exports them and sets them up in `init`, in memory-map order.
 */

import { layout, INIT_OK } from "./memmap";
import { framesInit } from "./frames";
import { pmapInit } from "./pmap";
import { mmuInit } from "./mmu";
import { eptInit } from "./ept";

export {
  PAGE_SIZE, configCount, configName, configPtr, mapCount, mapName, mapOffset, mapSize,
  stagingReserve, INIT_OK, INIT_TOO_LARGE, INIT_TWICE,
} from "./memmap";
export {
  NO_FRAME, frameAlloc, frameGet, framePut, frameRefs, frameKind, framesTotal, framesFree, framesUsed,
} from "./frames";
export { vmCreate, pmapState, pmapFrame, pmapFault, FAULT_NO_FRAME, FAULT_RANGE, FAULT_IO } from "./pmap";
export { pageIsZero, pageEqual, pagesCountZero, pagesCountEqual, pagesCopy } from "./page";
export { xxh64, xxh3, pagesHash, pagesXxh3, pagesXxh64 } from "./hash";
export {
  mmuCreate, mmuCount, mmuCtxAddr, mmuCounterCount, mmuCounterName, mmuCounterSlot, mmuCostCount, mmuCostName,
  mmuCostSlot, pagingVmSetup, invvpid, invept,
} from "./mmu";
export { mmuSwitch, mmuTranslate, mmuTranslateBatch, lastFaultKind, lastFaultCode, lastFaultAddr, lastTranslationCycles } from "./walk";
export { mmuInvlpg } from "./shadow";
export { eptSetup, eptPointer, eptPoke, eptPeek, ptPoolCount } from "./ept";
export { gosNewRoot, guestWrite64, guestRead64 } from "./gos";
export { lackeyReplay, binaryReplay, traceReset, traceLines, traceErrorOffset, traceEmitTo, traceEmitted } from "./lackey";
export { backingChanged } from "./coherence";
export { mmuPagingStat, mmuResetCounters } from "./mmu";

/** Lays out memory from the configuration block and sets up every part. Returns an INIT_* code. */
export function init(): i32 {
  const r = layout();
  if (r != INIT_OK) return r;
  framesInit();
  pmapInit();
  mmuInit();
  eptInit();
  return INIT_OK;
}
