/**
 * The module's exported ABI. Each part lives in its own file (see ../shared/DESIGN.md); this
 * file only re-exports them and sets them up in `init`, in memory-map order.
 */

import { layout, INIT_OK } from "./memmap";
import { framesInit } from "./frames";
import { pmapInit } from "./pmap";

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

/** Lays out memory from the configuration block and sets up every part. Returns an INIT_* code. */
export function init(): i32 {
  const r = layout();
  if (r != INIT_OK) return r;
  framesInit();
  pmapInit();
  return INIT_OK;
}
