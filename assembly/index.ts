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
export {
  lz4Compress, lz4Decompress, lz4Bound, lz4CompressPages, lz4DecompressPages, lz4LastError,
  LZ4_DOES_NOT_FIT, LZ4_TRUNCATED, LZ4_ZERO_OFFSET, LZ4_OFFSET_BEFORE_START, LZ4_OUTPUT_OVERFLOW,
  LZ4_TRAILING, LZ4_SIZE_MISMATCH, LZ4_BAD_SIZE,
} from "./codec";

/** Lays out memory from the configuration block and sets up every part. Returns an INIT_* code. */
export function init(): i32 {
  const r = layout();
  if (r != INIT_OK) return r;
  framesInit();
  pmapInit();
  return INIT_OK;
}
