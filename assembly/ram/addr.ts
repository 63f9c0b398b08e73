/**
 * addr: names for what a number means. In WebAssembly every address is a plain integer; these
 * aliases cost nothing at run time and say in each signature which space a value lives in
 * (DESIGN.md §2). Arithmetic between the spaces goes through the helpers below.
 *
 *   gVA       u64  guest virtual address, what a guest process uses
 *   gPA       u64  guest physical address            = GPPN << 12 | offset
 *   GPPN      u32  guest physical page number, an index into the VM's pmap
 *   hPA       u64  host physical (machine) address    = MPN << 12 | offset, from the start of machine RAM
 *   MPN       u32  machine page number: a 4 KiB frame of machine RAM
 *   ZSlot     u32  zpool slot id                      = MPN << 2 | 1 KiB unit in the frame
 *   SwapSlot  u32  a slot of a VM's swap store (TypeScript allocates and frees them)
 */

export type gVA = u64;
export type gPA = u64;
export type GPPN = u32;
export type hPA = u64;
export type MPN = u32;
export type ZSlot = u32;
export type SwapSlot = u32;

/** Page number of a guest-physical address. */
// @ts-ignore: decorator
@inline export function gppnOf(gpa: gPA): GPPN { return <u32>(gpa >> 12); }
/** First guest-physical address of a page. */
// @ts-ignore: decorator
@inline export function gpaOf(gppn: GPPN): gPA { return <u64>gppn << 12; }
/** Frame number of a host-physical address. */
// @ts-ignore: decorator
@inline export function mpnOf(hpa: hPA): MPN { return <u32>(hpa >> 12); }
/** First host-physical address of a frame. */
// @ts-ignore: decorator
@inline export function hpaOf(mpn: MPN): hPA { return <u64>mpn << 12; }
/** Byte offset of an address within its 4 KiB page. */
// @ts-ignore: decorator
@inline export function pageOffset(a: u64): u64 { return a & 0xFFF; }
