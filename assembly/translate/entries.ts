/**
 * paging: the x86-64 page-table entry format (guest and shadow tables) and the Intel EPT entry
 * format, as the Intel SDM (vol. 3A ch. 4 "Paging", vol. 3C ch. 29 "EPT") lays them out, plus
 * the index and size arithmetic shared by every walker.
 *
 * Guest / shadow entry (u64), levels 5 (PML5E, LA57 only) .. 1 (PTE):
 *
 *   63  62..52  51........M  M-1.......12  11..9  8  7   6  5  4   3   2   1   0
 *   NX  ignored  reserved    address        ign   G  PS  D  A  PCD PWT U/S R/W P
 *
 *   PS=1 in a PDPTE (level 3) maps 1 GiB, in a PDE (level 2) maps 2 MiB; then bit 12 is PAT and
 *   address bits below the page size are reserved. PS is reserved in PML4E and PML5E.
 *
 * EPT entry (u64), levels 5 .. 1:
 *
 *   63   62..52  51........M  M-1.......12  11  10  9  8  7      6     5..3   2  1  0
 *   SVE  ignored  reserved    address        ig  ux  D  A  large  IPAT  memtype X  W  R
 *
 *   bits 2:0 == 0: not present. Non-leaf entries: bits 7:3 reserved. Leaf: memory type 2, 3, 7
 *   reserved. Write without read (2:0 = 010b or 110b) is a misconfiguration. A (bit 8) and D
 *   (bit 9, leaves only) are written only when the EPTP enables accessed/dirty flags.
 *
 * EPTP (per VM): bits 2:0 memory type (6 = WB), 5:3 walk length - 1, 6 A/D enable, 51:12 root.
 *
 * Invariants: M (the physical-address width) is PHYS_BITS for guests and host alike; page size
 * classes are 0 = 4 KiB, 1 = 2 MiB, 2 = 1 GiB and a class-c leaf sits at level c + 1.
 */

import { gVA } from "../ram/addr";

// ---- guest / shadow entries -------------------------------------------------------------------

export const PTE_P: u64 = 1;
export const PTE_RW: u64 = 1 << 1;
export const PTE_US: u64 = 1 << 2;
export const PTE_A: u64 = 1 << 5;
export const PTE_D: u64 = 1 << 6;
export const PTE_PS: u64 = 1 << 7;
export const PTE_NX: u64 = <u64>1 << 63;

/** Physical-address width M: server parts of the Skylake era report 46 bits. */
export const PHYS_BITS: u32 = 46;
/** Bits M-1..12: the address field of any entry. */
export const ADDR_MASK: u64 = ((<u64>1 << PHYS_BITS) - 1) & ~(<u64>0xFFF);
/** Bits 51..M: reserved in every present entry. */
const HIGH_RSVD: u64 = ((<u64>1 << 52) - 1) & ~((<u64>1 << PHYS_BITS) - 1);

// page-fault error code bits (SDM vol. 3A, 4.7)
export const PF_P: u32 = 1;
export const PF_W: u32 = 1 << 1;
export const PF_U: u32 = 1 << 2;
export const PF_RSVD: u32 = 1 << 3;
export const PF_I: u32 = 1 << 4;

// ---- access kinds ----------------------------------------------------------------------------

export const ACC_READ: u32 = 0;
export const ACC_WRITE: u32 = 1;
export const ACC_FETCH: u32 = 2;

// ---- EPT entries -----------------------------------------------------------------------------

export const EPT_R: u64 = 1;
export const EPT_W: u64 = 2;
export const EPT_X: u64 = 4;
export const EPT_RWX: u64 = 7;
export const EPT_MT_SHIFT: u32 = 3;
export const EPT_MT_WB: u64 = 6;
export const EPT_LARGE: u64 = 1 << 7;
export const EPT_A: u64 = 1 << 8;
export const EPT_D: u64 = 1 << 9;
/**
 * Bit 11 is ignored by the processor, so the hypervisor keeps a software flag there: the leaf
 * is read-only because the pmap holds the page copy-on-write (Shared or Zero), not because the
 * guest's configuration denies writes. A write to it is a copy-on-write break, handled in walk.ts.
 */
export const EPT_COW: u64 = 1 << 11;

// EPT-violation exit qualification bits (SDM vol. 3C, table "Exit Qualification for EPT Violations")
export const EQ_READ: u32 = 1;
export const EQ_WRITE: u32 = 1 << 1;
export const EQ_FETCH: u32 = 1 << 2;
/** bits 5:3 hold the AND of the R, W, X bits of the entries walked */
export const EQ_PERM_SHIFT: u32 = 3;
export const EQ_GLA_VALID: u32 = 1 << 7;
/** set: the access was to the final translation of a linear address; clear: to a guest paging-structure entry */
export const EQ_GLA_FINAL: u32 = 1 << 8;
/** advanced information, for final translations: user-mode address, writable page, execute-disable */
export const EQ_GLA_USER: u32 = 1 << 9;
export const EQ_GLA_RW: u32 = 1 << 10;
export const EQ_GLA_NX: u32 = 1 << 11;

// ---- arithmetic --------------------------------------------------------------------------------

/** Bit position of the index field of `level` (1 = PTE ... 5 = PML5E). */
// @ts-ignore: decorator
@inline export function levelShift(level: u32): u32 { return 12 + 9 * (level - 1); }
/** Index of the entry at `level` for address `a`. */
// @ts-ignore: decorator
@inline export function levelIndex(a: u64, level: u32): u64 { return (a >> levelShift(level)) & 511; }
/** Bytes - 1 of a page of size class `cls` (0: 4 KiB, 1: 2 MiB, 2: 1 GiB). */
// @ts-ignore: decorator
@inline export function clsMask(cls: u32): u64 { return (<u64>1 << (12 + 9 * cls)) - 1; }
/** log2 of the bytes of a page of class `cls`. */
// @ts-ignore: decorator
@inline export function clsShift(cls: u32): u32 { return 12 + 9 * cls; }

/** True if `va` is canonical for a `levels`-level walk (48 or 57 significant bits, user half or kernel half). */
export function canonical(va: gVA, levels: u32): bool {
  const bits = levels == 5 ? 57 : 48;
  const top = <i64>va >> (bits - 1);
  return top == 0 || top == -1;
}

/**
 * True if present guest entry `e` at `level` has a reserved bit set: bits 51:M anywhere, PS in a
 * PML4E/PML5E, and the address bits below a large page's size (bit 12 is PAT there).
 */
export function pteReserved(e: u64, level: u32): bool {
  if (e & HIGH_RSVD) return true;
  if (level >= 4) return (e & PTE_PS) != 0;
  if (level >= 2 && (e & PTE_PS)) {
    const low = clsMask(level - 1) & ~(<u64>0x1FFF); // bits (size-1)..13
    return (e & low) != 0;
  }
  return false;
}

/** True if present EPT entry `e` at `level` is misconfigured (reserved bits or reserved combinations). */
export function eptMisconfigured(e: u64, level: u32, leaf: bool): bool {
  const rwx = e & 7;
  if (rwx == 2 || rwx == 6) return true; // write permitted without read
  if (e & HIGH_RSVD) return true;
  if (!leaf) return (e & 0xF8) != 0; // bits 7:3 reserved in entries that reference a table
  const mt = (e >> EPT_MT_SHIFT) & 7;
  if (mt == 2 || mt == 3 || mt == 7) return true;
  if (level >= 2) return (e & clsMask(level - 1) & ~(<u64>0xFFF)) != 0; // address bits below the large page
  return false;
}

/** True if EPT entry `e` at `level` maps a page (rather than referencing a table). */
// @ts-ignore: decorator
@inline export function eptLeaf(e: u64, level: u32): bool { return level == 1 || (level <= 3 && (e & EPT_LARGE) != 0); }
/** True if guest entry `e` at `level` maps a page. */
// @ts-ignore: decorator
@inline export function pteLeaf(e: u64, level: u32): bool { return level == 1 || (level <= 3 && (e & PTE_PS) != 0); }
