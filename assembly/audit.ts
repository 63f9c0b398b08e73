/**
 * audit: recounts the whole engine from scratch and checks every invariant ram/invariants.ts
 * names, from the bottom layer up, stopping at the first that is broken:
 *
 *   frames     ram/frames.ts framesAudit      the allocator against its frame table
 *   reclaim    reclaim/audit.ts reclaimAudit  pmap, guest-frame references, zip caches, zpool, sharing
 *   paging     translate/audit.ts pagingAudit page-table frames, EPT and shadow leaves
 *   owners     hypervisor frames: nothing in the engine holds one yet, so there must be none
 *
 * Together they say "frames are conserved" (free + guest + zpool + page tables + hypervisor ==
 * total, each kind held by its owner), "a VM's pages are conserved" and "isolation" of DESIGN.md §4.
 * It changes nothing and never aborts: a broken invariant is a code for TypeScript to report
 * (failure.ts records where), not an assertion.
 */

import { framesUsed, FrameKind } from "./ram/frames";
import { AUDIT_OK, AUDIT_HV_FRAMES } from "./ram/invariants";
import { failureClear, fail, withCounts } from "./ram/failure";
import { framesAudit } from "./ram/frames";
import { reclaimAudit } from "./reclaim/audit";
import { pagingAudit } from "./translate/audit";

const NONE: u32 = 0xFFFFFFFF;

/**
 * Checks every invariant. `scratch` is 4 bytes per machine frame of linear memory the audit may
 * overwrite; `deep` also re-hashes every shared frame against its sharing-table key. Returns
 * AUDIT_OK or the code of the first broken invariant; auditDetail(i) then says where.
 */
export function audit(scratch: usize, deep: bool): u32 {
  failureClear();
  let r = framesAudit();
  if (r != AUDIT_OK) return r;
  r = reclaimAudit(scratch, deep);
  if (r != AUDIT_OK) return r;
  r = pagingAudit(scratch);
  if (r != AUDIT_OK) return r;
  const hv = framesUsed(<u32>FrameKind.Hypervisor);
  if (hv != 0) return withCounts(fail(AUDIT_HV_FRAMES, NONE, NONE, NONE), 0, hv);
  return AUDIT_OK;
}
