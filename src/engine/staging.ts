/**
 * The staging region's windows: where TypeScript puts bulk data for the WebAssembly calls of a
 * Host, its VMs and its MMU cores. Offsets are bytes from the start of the staging region (which
 * never moves; it may grow at its end).
 *
 *   0              STAGE_DATA      1 MiB   guest-physical data of writePhys / readPhys / loadImage
 *   1 MiB          STAGE_IN_LIST   2 KiB   swap-in list: (u32 gppn, u32 slot) per page, BATCH entries
 *                  STAGE_IN_ADDRS  1 KiB   the frame address of each listed page
 *   1 MiB + 4 KiB  STAGE_REQ       4 KiB   page-out requests: (u32 gppn, u32 slot address) per victim
 *                  STAGE_EVICT     1 MiB   pages evicted from the zip cache on their way to swap
 *                  STAGE_IN        1 MiB   pages of a page-by-page swap-in, verified before the pmap takes them
 *   STAGE_AUX      growable                balloon lists, audit scratch (never used during a translation)
 *   STAGE_MMU_RETRY  256 KiB               a batch's records that wait for the host (read out before it acts)
 *   STAGE_MMU      growable                an MMU core's batch records (Mmu.translateBatch, Mmu.batch)
 *
 * Why the MMU's windows start at STAGE_AUX: a translation batch over a Host may meet a swapped-out page
 * or a full machine memory midway, and the host resolves it (swap-in, page-out) through the
 * windows below STAGE_AUX while the batch's records wait in staging. AUX users (balloon lists,
 * audits) never run inside a batch, so they may share the space above. Engine utilities that
 * stage their own data (stageIn, zipSurvey, pagingSample) use the start of the region for the
 * length of one call, when no other window holds anything live.
 */
import { PAGE } from './engine.js';

export const STAGE_DATA = 0;
export const STAGE_DATA_BYTES = 1 << 20;
/** Page-out batch: victims chosen per WebAssembly call; also the most pages of one swap-in batch. */
export const BATCH = 256;
/** Swap-in list: (u32 gppn, u32 slot) per page, BATCH entries, then the u32 frame address of each. */
export const STAGE_IN_LIST = STAGE_DATA_BYTES;
export const STAGE_IN_ADDRS = STAGE_IN_LIST + BATCH * 8;
export const STAGE_REQ = STAGE_IN_LIST + PAGE;
export const STAGE_EVICT = STAGE_REQ + PAGE;
/** Pages of a swap-in that must go page by page (no frame free without reclaiming), read and verified before the pmap takes them. */
export const STAGE_IN = STAGE_EVICT + BATCH * PAGE;
export const STAGE_AUX = STAGE_IN + BATCH * PAGE;
/** Indices (u32) of a batch's records that wait for the host, MMU_RETRY_MAX per scan (Mmu.runBatch). */
export const STAGE_MMU_RETRY = STAGE_AUX;
export const MMU_RETRY_MAX = 1 << 16;
/** An MMU core's batch records over a Host: past every window a mid-batch fault resolution uses. */
export const STAGE_MMU = STAGE_MMU_RETRY + MMU_RETRY_MAX * 4;
/**
 * The simulation's lists and page buffers (src/engine/sim.ts): they share the MMU's window, as a
 * simulation never runs inside an MMU batch (its touches translate inside WebAssembly) and an MMU
 * batch never runs inside a simulation call. Host fault resolution in the middle of a simulation
 * batch uses only the windows below STAGE_AUX, so these survive it.
 */
export const STAGE_SIM = STAGE_MMU;
/** Entries of a simulation list (GPPNs, (gppn, vp) pairs, slots). */
export const SIM_LIST_MAX = 1 << 16;
/** Pages of a simulation page buffer (guest swap batches, oracle reads). */
export const SIM_PAGES = 256;
