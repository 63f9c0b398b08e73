/**
 * kernel: accesses to guest-physical memory made outside the hardware walk, by the guest kernel
 * (the guest OS model writing its page tables) or by the hypervisor reading them on a hidden
 * fault. They are not walked through the TLBs; they cost what the hardware would charge for
 * them: the first touch of a guest page is an EPT violation (ept mode) or a hidden shadow fault
 * (shadow mode), and the page is backed through the pmap like any other. Both the guest OS
 * model (gos.ts) and shadow paging (shadow.ts) stand on this module.
 */

import { pmapState, PState, FAULT_MIN } from "../reclaim/pmap";
import { pmapFault } from "../reclaim/fault";
import { ADDR_MASK, EPT_W, clsMask } from "./entries";
import { ramAt, eptFindLeaf, leafAt, leafLevel, hostBack, backMpn, backCls, eptInstall } from "./ept";
import { F, cget, cadd, pget, P_MODE, MODE_EPT, MODE_SHADOW } from "./cores";
import { setFault, FK_HOST, FK_NO_FRAME } from "./fault";
import { gPA, gppnOf, hpaOf, MPN, pageOffset } from "../ram/addr";

/**
 * Linear address of guest-physical `gpa` of `vm` for an access by the guest kernel on context
 * `c`, backing the page on first touch; 0 on failure (the fault record says why).
 */
export function kernelAccess(c: usize, vm: u32, gpa: gPA, write: bool): usize {
  const mode = pget(vm, P_MODE);
  const gppn = gppnOf(gpa);
  if (mode == MODE_EPT) {
    const f = eptFindLeaf(vm, gpa);
    const a = leafAt(f);
    // a write through a read-only (copy-on-write) leaf takes the fault path, which breaks the sharing
    if (f != 0 && (!write || (load<u64>(a) & EPT_W) != 0)) {
      const m = clsMask(leafLevel(f) - 1);
      return ramAt((load<u64>(a) & ADDR_MASK & ~m) + (gpa & m));
    }
    cadd(c, F.VmExits, 1);
    cadd(c, F.EptViolations, 1);
    cadd(c, F.Cycles, cget(c, F.CostVmExit) + cget(c, F.CostEptViolation));
    const b = hostBack(vm, gppn, write);
    const mpn = backMpn(b);
    if (mpn >= FAULT_MIN) { setFault(c, FK_HOST, mpn, gpa); return 0; }
    if (!eptInstall(vm, gppn, mpn, backCls(b))) { setFault(c, FK_NO_FRAME, 0, gpa); return 0; }
    return ramAt(hpaOf(mpn) | pageOffset(gpa));
  }
  let mpn: MPN;
  if (mode == MODE_SHADOW) {
    if (pmapState(vm, gppn) == <u32>PState.Unbacked) {
      // the kernel's own mapping of this page is missing from the shadow tables: a hidden fault
      cadd(c, F.VmExits, 1);
      cadd(c, F.ShadowFills, 1);
      cadd(c, F.Cycles, cget(c, F.CostVmExit) + cget(c, F.CostShadowFill));
    }
    mpn = backMpn(hostBack(vm, gppn, write));
  } else {
    mpn = pmapFault(vm, gppn, write);
  }
  if (mpn >= FAULT_MIN) { setFault(c, FK_HOST, mpn, gpa); return 0; }
  return ramAt(hpaOf(mpn) | pageOffset(gpa));
}

