/**
 * layout: every record that crosses the boundary, by name, so TypeScript never writes an offset
 * (src/engine/gateway.ts reads this table once per engine and checks it against what it expects).
 * The memory map (ram/memmap.ts) says where regions are; this table says what is inside a record.
 *
 * Entry i is a name and two numbers:
 *
 *   "record"          offset 0, size = bytes of one record (the stride of an array of them)
 *   "record.field"    offset of the field in the record, size of the field in bytes
 *   "record.group.x"  the same, for the named members of a group (MMU counters and costs)
 *
 * Records:
 *   callCtx      results of host-side calls beyond their return value (ram/callctx.ts)
 *   mmuCtx       an MMU context: results of its last call, trace state, counters, costs (translate/cores.ts)
 *   vmEntry      a VM table entry, the fields TypeScript reads (reclaim/pmap.ts)
 *   pmapEntry    a pmap entry, the fields TypeScript reads (reclaim/pmap.ts)
 *   swapInEntry  an entry of a swap-in list, swapInAddr a frame address of a swap-in batch (reclaim/fault.ts)
 *   pageoutReq   a page-out request (reclaim/pageout.ts)
 *   pageSum      a page to checksum for swap, its seed and its XXH64 (codec/hash.ts)
 *   batchIn, batchOut, batchAddr   translation batch records (translate/walk.ts)
 *   zipSurvey    the result of zipSurvey (reclaim/zipcache.ts)
 *   simVm        a simulated guest's header, the slots TypeScript reads or writes, 8 bytes each
 *                (u64 counts and keys, f64 simulated ns; guest/state.ts S), at region sim + vm x size
 *   guestVictim  a guest swap victim: GPPN and virtual page (guest/reclaim.ts)
 *   guestSlot    a virtual page in guest swap and its slot (guest/verify.ts)
 *   staging      the windows of the staging region, offsets from its start (below)
 *
 * Staging windows (the staging region's use by a Host, its VMs and its MMU cores):
 *
 *   0              data      1 MiB      guest-physical data of one physAccess window
 *   1 MiB          inList    2 KiB      swap-in list: STAGE_BATCH swapInEntry
 *                  inAddrs   1 KiB      the frame address of each listed page (swapInAddr)
 *   1 MiB + 4 KiB  req       2 KiB      page-out requests: STAGE_BATCH pageoutReq
 *   1 MiB + 8 KiB  evict     1 MiB      pages evicted from the zip cache on their way to swap
 *                  in        1 MiB      pages of a page-by-page swap-in, verified before the pmap takes them
 *                  sums      4 KiB      swap checksums of one batch: STAGE_BATCH pageSum
 *                  aux       (grows)    balloon lists, audit scratch (never used during a translation)
 *                  mmuRetry  256 KiB    indices (u32) of a batch's records that wait for the host
 *                  mmu       (grows)    an MMU core's batch records over a Host
 *     (at mmu)     simList   256 KiB    the simulation's GPPN lists (u32): balloon, release, report, zero
 *                  simSlots  256 KiB    a second u32 list: swap slots freed or given
 *                  simPairs  512 KiB    guestVictim, guestSlot or swapInEntry records
 *                  simPages  1 MiB      pages: guest swap batches, the oracle's swap reads, generated pages
 *
 * Why the MMU's windows start at aux: a translation batch over a Host may meet a swapped-out page
 * or a full machine memory midway, and the host resolves it (swap-in, page-out) through the
 * windows below aux while the batch's records wait in staging. aux users (balloon lists, audits)
 * never run inside a batch, so they may share the space above. A window of size 0 runs to the
 * end of the staging region, which grows on demand. The simulation's windows share the MMU's
 * space: a simulation never runs inside an MMU batch (its touches translate inside WebAssembly)
 * nor a batch inside a simulation call, and a host fault met by either uses only the windows
 * below aux. An engine with no Host (the utility engine,
 * a standalone Mmu) uses the whole region from its start for one call at a time.
 */

import { Call, callCtxPtr } from "./ram/callctx";
import { MMU_CTX, VM_ENTRY, PMAP_ENTRY } from "./ram/memmap";
import { F, Res } from "./translate/cores";
import { VmF } from "./reclaim/pmap";
import { SWAPIN_ENTRY, SwapIn, SWAPIN_ADDR } from "./reclaim/fault";
import { REQ_ENTRY, Req } from "./reclaim/pageout";
import { BATCH_RECORD, BatchIn, BatchOut, BATCH_ADDR } from "./translate/walk";
import { SURVEY_RECORD, SURVEY_HISTOGRAM, SURVEY_BYTES, ZIP_HIST_BUCKETS } from "./reclaim/zipcache";
import { PAGE_SUM, PageSum } from "./codec/hash";
import { S, SIM_VM, O_FREE, O_KERNEL, O_CACHE, O_VPAGE, O_BALLOON, O_RESERVED, VICTIM_ENTRY, Victim, GUEST_SLOT_ENTRY, GuestSlot } from "./guest/state";

export { callCtxPtr };

/** Pages of one page-out batch or swap-in batch (the size of the staging windows that hold them). */
export const STAGE_BATCH: u32 = 256;
const PAGE: u32 = 4096;
const W_DATA: u32 = 0;
const W_DATA_SIZE: u32 = 1 << 20;
const W_IN_LIST: u32 = W_DATA + W_DATA_SIZE;
const W_IN_ADDRS: u32 = W_IN_LIST + STAGE_BATCH * SWAPIN_ENTRY;
const W_REQ: u32 = W_IN_LIST + PAGE;
const W_EVICT: u32 = W_REQ + PAGE;
const W_IN: u32 = W_EVICT + STAGE_BATCH * PAGE;
const W_SUMS: u32 = W_IN + STAGE_BATCH * PAGE;
const W_AUX: u32 = W_SUMS + STAGE_BATCH * PAGE_SUM;
const W_MMU_RETRY: u32 = W_AUX;
const W_MMU_RETRY_SIZE: u32 = (1 << 16) * 4;
const W_MMU: u32 = W_MMU_RETRY + W_MMU_RETRY_SIZE;
/** Entries of one simulation list, and pages of one simulation page batch. */
const SIM_LIST_MAX: u32 = 1 << 16;
const SIM_PAGES: u32 = 256;
const W_SIM_LIST: u32 = W_MMU;
const W_SIM_SLOTS: u32 = W_SIM_LIST + SIM_LIST_MAX * 4;
const W_SIM_PAIRS: u32 = W_SIM_SLOTS + SIM_LIST_MAX * 4;
const W_SIM_PAGES: u32 = W_SIM_PAIRS + SIM_LIST_MAX * VICTIM_ENTRY;

/** Offset of header slot `f` of a simVm record. */
// @ts-ignore: decorator
@inline function slot(f: S): u32 { return <u32>f << 3; }
/** Offset of the header slot counting the pages of owner kind `k`. */
// @ts-ignore: decorator
@inline function owned(k: u32): u32 { return (<u32>S.Owned + k) << 3; }

const NAMES: StaticArray<string> = [
  "callCtx",
  "callCtx.physDone",
  "callCtx.physGppn",
  "callCtx.pageoutStop",
  "callCtx.pageoutZipped",
  "callCtx.pageoutEvicted",
  "callCtx.pageoutVictims",
  "callCtx.balloonBadIndex",
  "callCtx.balloonSlotsFreed",
  "callCtx.scanMerged",
  "callCtx.lz4Error",
  "callCtx.pageoutShared",

  "mmuCtx",
  "mmuCtx.faultAddr",
  "mmuCtx.faultKind",
  "mmuCtx.faultCode",
  "mmuCtx.cycles",
  "mmuCtx.traceErrorAt",
  "mmuCtx.traceLines",
  "mmuCtx.traceEmitted",
  "mmuCtx.traceStop",
  "mmuCtx.counters.records",
  "mmuCtx.counters.translations",
  "mmuCtx.counters.l1iAccesses",
  "mmuCtx.counters.l1dAccesses",
  "mmuCtx.counters.l1iMisses",
  "mmuCtx.counters.l1dMisses",
  "mmuCtx.counters.l2Misses",
  "mmuCtx.counters.walks",
  "mmuCtx.counters.walkRefs",
  "mmuCtx.counters.faultWalkRefs",
  "mmuCtx.counters.guestPageFaults",
  "mmuCtx.counters.eptViolations",
  "mmuCtx.counters.eptMisconfigs",
  "mmuCtx.counters.vmExits",
  "mmuCtx.counters.cycles",
  "mmuCtx.counters.pwcHits",
  "mmuCtx.counters.ntlbHits",
  "mmuCtx.counters.ntlbMisses",
  "mmuCtx.counters.shadowFills",
  "mmuCtx.counters.shadowWalkRefs",
  "mmuCtx.counters.ptWriteTraps",
  "mmuCtx.counters.invlpgs",
  "mmuCtx.counters.cr3Switches",
  "mmuCtx.counters.shadowRootMisses",
  "mmuCtx.counters.unhandledFaults",
  "mmuCtx.counters.badLines",
  "mmuCtx.counters.lines",
  "mmuCtx.counters.traceBytes",
  "mmuCtx.counters.hostFaults",
  "mmuCtx.costs.tlbL1Hit",
  "mmuCtx.costs.tlbL2Hit",
  "mmuCtx.costs.walkRef",
  "mmuCtx.costs.pwcHit",
  "mmuCtx.costs.vmExit",
  "mmuCtx.costs.guestPageFault",
  "mmuCtx.costs.eptViolation",
  "mmuCtx.costs.shadowFill",
  "mmuCtx.costs.ptWriteEmulation",

  "vmEntry",
  "vmEntry.base",
  "vmEntry.pages",
  "pmapEntry",
  "pmapEntry.frame",
  "swapInEntry",
  "swapInEntry.gppn",
  "swapInEntry.slot",
  "swapInAddr",
  "swapInAddr.page",
  "pageoutReq",
  "pageoutReq.gppn",
  "pageoutReq.page",
  "pageoutReq.slot",
  "pageSum",
  "pageSum.page",
  "pageSum.seed",
  "pageSum.sum",
  "batchIn",
  "batchIn.va",
  "batchIn.kind",
  "batchOut",
  "batchOut.result",
  "batchOut.cycles",
  "batchAddr",
  "batchAddr.address",
  "zipSurvey",
  "zipSurvey.histogram",
  "zipSurvey.bytes",

  "simVm",
  "simVm.free",
  "simVm.kernel",
  "simVm.cache",
  "simVm.resident",
  "simVm.balloon",
  "simVm.reserved",
  "simVm.swapHeld",
  "simVm.ctx",
  "simVm.vaBase",
  "simVm.dataKey",
  "simVm.vmKey",
  "simVm.rng",
  "simVm.imgAt",
  "simVm.tauNs",
  "simVm.hitNs",
  "simVm.guestPfNs",
  "simVm.exitNs",
  "simVm.firstTouchNs",
  "simVm.cowNs",
  "simVm.unzipNs",
  "simVm.nsPerCycle",
  "simVm.newPageNs",
  "simVm.asked",
  "simVm.done",
  "simVm.usedNs",
  "simVm.pending",
  "simVm.stallNs",
  "simVm.translateNs",
  "simVm.inherentNs",
  "simVm.workNs",
  "simVm.touches",
  "simVm.doublePaging",
  "simVm.rGppn",
  "simVm.rVp",
  "simVm.rCode",
  "simVm.cursor",
  "simVm.batchN",
  "simVm.batchM",
  "simVm.verifyBytes",
  "simVm.verifyBad",
  "simVm.verifyFirst",
  "guestVictim",
  "guestVictim.gppn",
  "guestVictim.vp",
  "guestSlot",
  "guestSlot.vp",
  "guestSlot.slot",

  "staging",
  "staging.data",
  "staging.inList",
  "staging.inAddrs",
  "staging.req",
  "staging.evict",
  "staging.in",
  "staging.sums",
  "staging.aux",
  "staging.mmuRetry",
  "staging.mmu",
  "staging.simList",
  "staging.simSlots",
  "staging.simPairs",
  "staging.simPages",
];

/** Offset and size of entry i, at 2i and 2i + 1 (same order as NAMES). */
const GEOMETRY: StaticArray<u32> = [
  0, <u32>Call.SIZE,
  <u32>Call.PhysDone, 4,
  <u32>Call.PhysGppn, 4,
  <u32>Call.PageoutStop, 4,
  <u32>Call.PageoutZipped, 4,
  <u32>Call.PageoutEvicted, 4,
  <u32>Call.PageoutVictims, 4,
  <u32>Call.BalloonBadIndex, 4,
  <u32>Call.BalloonSlotsFreed, 4,
  <u32>Call.ScanMerged, 4,
  <u32>Call.Lz4Error, 4,
  <u32>Call.PageoutShared, 4,

  0, MMU_CTX,
  <u32>Res.FaultAddr, 8,
  <u32>Res.FaultKind, 4,
  <u32>Res.FaultCode, 4,
  <u32>Res.Cycles, 4,
  <u32>Res.TraceErrorAt, 4,
  <u32>Res.TraceLines, 8,
  <u32>Res.TraceEmitted, 4,
  <u32>Res.TraceStop, 4,
  <u32>F.Records << 3, 8,
  <u32>F.Translations << 3, 8,
  <u32>F.L1iAccesses << 3, 8,
  <u32>F.L1dAccesses << 3, 8,
  <u32>F.L1iMisses << 3, 8,
  <u32>F.L1dMisses << 3, 8,
  <u32>F.L2Misses << 3, 8,
  <u32>F.Walks << 3, 8,
  <u32>F.WalkRefs << 3, 8,
  <u32>F.FaultWalkRefs << 3, 8,
  <u32>F.GuestPageFaults << 3, 8,
  <u32>F.EptViolations << 3, 8,
  <u32>F.EptMisconfigs << 3, 8,
  <u32>F.VmExits << 3, 8,
  <u32>F.Cycles << 3, 8,
  <u32>F.PwcHits << 3, 8,
  <u32>F.NtlbHits << 3, 8,
  <u32>F.NtlbMisses << 3, 8,
  <u32>F.ShadowFills << 3, 8,
  <u32>F.ShadowWalkRefs << 3, 8,
  <u32>F.PtWriteTraps << 3, 8,
  <u32>F.Invlpgs << 3, 8,
  <u32>F.Cr3Switches << 3, 8,
  <u32>F.ShadowRootMisses << 3, 8,
  <u32>F.UnhandledFaults << 3, 8,
  <u32>F.BadLines << 3, 8,
  <u32>F.Lines << 3, 8,
  <u32>F.TraceBytes << 3, 8,
  <u32>F.HostFaults << 3, 8,
  <u32>F.CostL1Hit << 3, 8,
  <u32>F.CostL2Hit << 3, 8,
  <u32>F.CostWalkRef << 3, 8,
  <u32>F.CostPwcHit << 3, 8,
  <u32>F.CostVmExit << 3, 8,
  <u32>F.CostGuestPf << 3, 8,
  <u32>F.CostEptViolation << 3, 8,
  <u32>F.CostShadowFill << 3, 8,
  <u32>F.CostPtWrite << 3, 8,

  0, VM_ENTRY,
  <u32>VmF.Base, 4,
  <u32>VmF.Pages, 4,
  0, PMAP_ENTRY,
  4, 4,
  0, SWAPIN_ENTRY,
  <u32>SwapIn.Gppn, 4,
  <u32>SwapIn.Slot, 4,
  0, SWAPIN_ADDR,
  0, 4,
  0, REQ_ENTRY,
  <u32>Req.Gppn, 4,
  <u32>Req.Page, 4,
  <u32>Req.Slot, 4,
  0, PAGE_SUM,
  <u32>PageSum.Page, 4,
  <u32>PageSum.Seed, 4,
  <u32>PageSum.Sum, 8,
  0, BATCH_RECORD,
  <u32>BatchIn.Va, 8,
  <u32>BatchIn.Kind, 4,
  0, BATCH_RECORD,
  <u32>BatchOut.Result, 8,
  <u32>BatchOut.Cycles, 4,
  0, BATCH_ADDR,
  0, 8,
  0, SURVEY_RECORD,
  SURVEY_HISTOGRAM, ZIP_HIST_BUCKETS * 4,
  SURVEY_BYTES, 4,

  0, SIM_VM,
  owned(O_FREE), 8,
  owned(O_KERNEL), 8,
  owned(O_CACHE), 8,
  owned(O_VPAGE), 8,
  owned(O_BALLOON), 8,
  owned(O_RESERVED), 8,
  slot(S.SwapHeld), 8,
  slot(S.Ctx), 8,
  slot(S.VaBase), 8,
  slot(S.DataKey), 8,
  slot(S.VmKey), 8,
  slot(S.Rng), 8,
  slot(S.ImgAt), 8,
  slot(S.TauNs), 8,
  slot(S.HitNs), 8,
  slot(S.GuestPfNs), 8,
  slot(S.ExitNs), 8,
  slot(S.FirstTouchNs), 8,
  slot(S.CowNs), 8,
  slot(S.UnzipNs), 8,
  slot(S.NsPerCycle), 8,
  slot(S.NewPageNs), 8,
  slot(S.Asked), 8,
  slot(S.Done), 8,
  slot(S.UsedNs), 8,
  slot(S.Pending), 8,
  slot(S.StallNs), 8,
  slot(S.TranslateNs), 8,
  slot(S.InherentNs), 8,
  slot(S.WorkNs), 8,
  slot(S.Touches), 8,
  slot(S.DoublePaging), 8,
  slot(S.RGppn), 8,
  slot(S.RVp), 8,
  slot(S.RCode), 8,
  slot(S.Cursor), 8,
  slot(S.BatchN), 8,
  slot(S.BatchM), 8,
  slot(S.VerifyBytes), 8,
  slot(S.VerifyBad), 8,
  slot(S.VerifyFirst), 8,
  0, VICTIM_ENTRY,
  <u32>Victim.Gppn, 4,
  <u32>Victim.Vp, 4,
  0, GUEST_SLOT_ENTRY,
  <u32>GuestSlot.Vp, 4,
  <u32>GuestSlot.Slot, 4,

  0, W_MMU,
  W_DATA, W_DATA_SIZE,
  W_IN_LIST, STAGE_BATCH * SWAPIN_ENTRY,
  W_IN_ADDRS, STAGE_BATCH * SWAPIN_ADDR,
  W_REQ, STAGE_BATCH * REQ_ENTRY,
  W_EVICT, STAGE_BATCH * PAGE,
  W_IN, STAGE_BATCH * PAGE,
  W_SUMS, STAGE_BATCH * PAGE_SUM,
  W_AUX, 0,
  W_MMU_RETRY, W_MMU_RETRY_SIZE,
  W_MMU, 0,
  W_SIM_LIST, SIM_LIST_MAX * 4,
  W_SIM_SLOTS, SIM_LIST_MAX * 4,
  W_SIM_PAIRS, SIM_LIST_MAX * VICTIM_ENTRY,
  W_SIM_PAGES, SIM_PAGES * PAGE,
];

/** Number of layout entries. */
export function layoutCount(): u32 {
  if (DEBUG) assert(GEOMETRY.length == NAMES.length * 2, "layout: a name without geometry");
  return <u32>NAMES.length;
}
/** Name of layout entry `i` (a static string; no allocation). */
export function layoutName(i: u32): string { return unchecked(NAMES[i]); }
/** Offset of layout entry `i` in its record (0 for a record). */
export function layoutOffset(i: u32): u32 { return unchecked(GEOMETRY[i << 1]); }
/** Size of layout entry `i` in bytes (a record's: its stride; a window's: 0 when it grows to the region's end). */
export function layoutSize(i: u32): u32 { return unchecked(GEOMETRY[(i << 1) + 1]); }
