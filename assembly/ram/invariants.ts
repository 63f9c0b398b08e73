/**
 * invariants: every invariant the audit checks (assembly/audit.ts), one code each, and what it
 * means in words. The codes are exported: TypeScript reads them by name (AUDIT_*), so a failure
 * reaches the user as "FRAMES_CONSERVED", never as a bare number. failure.ts records where.
 *
 *   1 ..  4   frames      ram/frames.ts        the allocator's counts, free list, references
 *   5 .. 16   pmap        reclaim/audit.ts     each VM's pages, states and the frames they name
 *  17 .. 21   zip cache   reclaim/zipcache.ts  each VM's LRU list of compressed pages, its zpool frames
 *  22 .. 26   zpool       ram/zpool.ts         slots, their free lists and frames
 *  27 .. 32   sharing     reclaim/sharing.ts   the sharing table and the frames marked shared
 *  33 .. 40   paging      translate/audit.ts   page-table frames, EPT and shadow leaves; hypervisor frames
 *  41 .. 45   policy mechanisms: the free frames of 2 MiB blocks (ram/frames.ts), large pages
 *             (reclaim/large.ts), the cap on users per shared frame (reclaim/sharing.ts)
 *
 * Add a code at the end of its group's range only by renumbering after it: codes are contiguous
 * from 1, and AUDIT_TEXT holds one line per code in the same order (a test keeps them in step).
 */

export const AUDIT_OK: u32 = 0;

export const AUDIT_FRAMES_CONSERVED: u32 = 1;
export const AUDIT_FRAME_FREE_LIST: u32 = 2;
export const AUDIT_FRAME_REFS_KIND: u32 = 3;
export const AUDIT_FRAME_KIND_COUNT: u32 = 4;

export const AUDIT_VM_RANGES: u32 = 5;
export const AUDIT_VM_PAGES_CONSERVED: u32 = 6;
export const AUDIT_PMAP_BAD_STATE: u32 = 7;
export const AUDIT_PMAP_MARK_LEFT: u32 = 8;
export const AUDIT_PMAP_PENDING: u32 = 9;
export const AUDIT_PMAP_FRAME_NOT_GUEST: u32 = 10;
export const AUDIT_PRIVATE_FRAME_OWNER: u32 = 11;
export const AUDIT_SHARED_NOT_SHARED: u32 = 12;
export const AUDIT_ISOLATION: u32 = 13;
export const AUDIT_ZERO_NOT_ZERO: u32 = 14;
export const AUDIT_VM_STATE_COUNT: u32 = 15;
export const AUDIT_FRAME_REFS: u32 = 16;

export const AUDIT_ZIP_LRU_LIST: u32 = 17;
export const AUDIT_ZIP_SLOT_OWNER: u32 = 18;
export const AUDIT_ZIP_COUNT: u32 = 19;
export const AUDIT_ZIP_BYTES: u32 = 20;
export const AUDIT_ZIP_FRAMES: u32 = 21;

export const AUDIT_ZPOOL_FREE_LIST: u32 = 22;
export const AUDIT_ZPOOL_FRAMES: u32 = 23;
export const AUDIT_ZPOOL_FRAME: u32 = 24;
export const AUDIT_ZPOOL_COUNTS: u32 = 25;
export const AUDIT_ZPOOL_SLOT_OWNERS: u32 = 26;

export const AUDIT_SHARE_BAD_ENTRY: u32 = 27;
export const AUDIT_SHARE_ENTRY_FRAME: u32 = 28;
export const AUDIT_SHARE_CONTENT_CHANGED: u32 = 29;
export const AUDIT_SHARE_UNREACHABLE: u32 = 30;
export const AUDIT_SHARE_COUNTS: u32 = 31;
export const AUDIT_SHARE_UNTABLED: u32 = 32;

export const AUDIT_PT_TABLE_FRAME: u32 = 33;
export const AUDIT_PT_TABLE_COUNT: u32 = 34;
export const AUDIT_EPT_LEAF_STALE: u32 = 35;
export const AUDIT_EPT_LEAF_WRITABLE: u32 = 36;
export const AUDIT_SHADOW_LEAF_FRAME: u32 = 37;
export const AUDIT_SHADOW_LEAF_WRITABLE: u32 = 38;
export const AUDIT_PT_FRAMES: u32 = 39;
export const AUDIT_HV_FRAMES: u32 = 40;

export const AUDIT_FRAME_BLOCKS: u32 = 41;
export const AUDIT_LARGE_PARTIAL: u32 = 42;
export const AUDIT_LARGE_NOT_MAPPED: u32 = 43;
export const AUDIT_LARGE_FRAMES: u32 = 44;
export const AUDIT_SHARE_CAP: u32 = 45;

const AUDIT_TEXT: StaticArray<string> = [
  "every invariant holds",
  // frames
  "free frames plus the frames of every kind do not add up to machine RAM",
  "the free list is broken: a frame on it is allocated, or its length differs from the free count",
  "a frame's references and kind disagree: allocated with no reference, or free with references",
  "the frames of a kind counted in the frame table differ from the allocator's count for that kind",
  // pmap
  "a VM's pmap range overlaps the previous VM's, or the ranges do not tile the pmap in use",
  "a VM's per-state page counts do not add up to its size",
  "a pmap entry holds no known state",
  "a pmap entry keeps the MARK bit of a batch call that has ended",
  "a pmap entry is still PENDING (chosen for swap-out) after the page-out that chose it, or in a state that cannot be paged out",
  "a resident page names a frame outside machine RAM or one that is not a guest frame (freed under it?)",
  "a Mapped page's private frame does not name this VM and GPPN as its owner",
  "a Shared or Zero page names a frame that is not marked shared",
  "isolation: a shared frame is mapped by a VM of another sharing domain (salt)",
  "a Zero page names a frame that holds non-zero bytes",
  "a VM's count of pages in a state differs from the entries in that state in its pmap",
  "a guest frame's reference count differs from the number of pmap entries naming it",
  // zip cache
  "a VM's zip-cache LRU list is broken: a wrong back link, a wrong tail, or a cycle",
  "a slot on a VM's zip-cache list is not the slot of the Compressed page of that VM it names",
  "a VM's zip-cache list holds a different number of slots than the VM has Compressed pages",
  "a VM's zip-cache byte counters (CACHESZ, CACHEUSD) differ from the slots on its list",
  "the zpool's count of a VM's frames differs from the distinct frames of the slots on its list",
  // zpool
  "a zpool free list is broken: a wrong back link, a used slot or a slot of the other class on it, or a cycle",
  "the zpool's frame count differs from the frames of kind zpool",
  "a zpool frame's used-slot count (or class) differs from its slots, or it holds no used slot",
  "a zpool size class's free plus used slots differ from its frames' capacity",
  "used zpool slots differ from the Compressed pages of all VMs",
  // sharing
  "a sharing-table entry has an unknown type",
  "a shared entry of the sharing table names a frame that is not a shared guest frame with users",
  "a shared frame no longer hashes to its table key: it was written while shared",
  "a shared entry cannot be found from its key's home slot (or is found at another slot)",
  "the sharing table's shared or hint counters differ from its entries",
  "the frames marked shared differ from the shared entries of the sharing table",
  // paging
  "an EPT or shadow table entry points at a frame that is not a page table of that VM, or at a table reached twice",
  "a VM's count of EPT or shadow tables differs from the tables in its trees",
  "an EPT leaf maps a guest page to a frame other than the one the pmap holds (a stale translation)",
  "an EPT leaf lets the guest write a page the pmap holds copy-on-write, or that is not a private page",
  "a shadow leaf reaches a frame that is not a guest frame of its VM or of its VM's sharing domain",
  "a writable shadow leaf reaches a shared frame, or a guest page-table page that a shadow table mirrors",
  "page-table frames differ from the EPT and shadow tables of all VMs plus the pad pool",
  "hypervisor frames are allocated, but nothing in the engine holds one",
  // policy mechanisms
  "a 2 MiB block's count of free frames (or the count of wholly free blocks) differs from the frame table",
  "a large page is partial: some entries of its 2 MiB group lack the LARGE bit, or the group runs past the VM",
  "a page of a large page is not Mapped",
  "a large page's frames are not one aligned block in GPPN order",
  "a shared frame has more users than the cap on users per frame (max_page_sharing)",
];

/** What invariant `code` means, in words (a static string; "" for an unknown code). */
export function auditText(code: u32): string { return code < <u32>AUDIT_TEXT.length ? unchecked(AUDIT_TEXT[code]) : ""; }
