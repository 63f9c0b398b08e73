/**
 * Addresses and page numbers, each its own type, with arithmetic through the helpers below.
 *
 *   gVA  (Gva)   guest virtual address, u64           bigint   what a guest process uses
 *   gPA  (Gpa)   guest physical address, < 2^53       number   a byte of a VM's guest memory
 *   GPPN (Gppn)  guest physical page number, u32      number   gPA >> 12
 *   hPA  (Hpa)   host physical address, u64           bigint   a byte of machine RAM
 *   MPN  (Mpn)   machine page number, u32             number   hPA >> 12, a frame of machine RAM
 *
 * The brands exist only for the type checker: a Gppn is a number at run time, so it passes
 * wherever a number is asked for (users read results as plain numbers and bigints), while a plain
 * number or another kind of address does not pass where a Gppn is asked for. Public methods
 * take plain numbers and bigints, validate them, and brand them once (`asGppn`, ...); the engine's
 * methods take the brands, so a GPPN can never be handed where an MPN or a byte address belongs.
 */

declare const kind: unique symbol;
type Brand<T, K extends string> = T & { readonly [kind]: K };

/** A guest virtual address (u64). */
export type Gva = Brand<bigint, 'gVA'>;
/** A guest physical address: a byte of a VM's guest memory. */
export type Gpa = Brand<number, 'gPA'>;
/** A guest physical page number. */
export type Gppn = Brand<number, 'GPPN'>;
/** A host physical address: a byte of machine RAM. */
export type Hpa = Brand<bigint, 'hPA'>;
/** A machine page number: a frame of machine RAM. */
export type Mpn = Brand<number, 'MPN'>;

/** Bytes in a guest page and in a machine frame (assembly/ram/memmap.ts PAGE_SIZE; the engine checks they agree). */
export const PAGE = 4096;
const PAGE_BIG = 4096n;
// a shift, not a division: BigInt division is several times slower, and these sit on fault paths
const PAGE_SHIFT_BIG = 12n;

/** `v` as a gVA (u64: wraps like the hardware's register). */
export function asGva(v: bigint | number): Gva { return BigInt.asUintN(64, BigInt(v)) as Gva; }
/** `v` (validated by the caller) as a gPA. */
export function asGpa(v: number): Gpa { return v as Gpa; }
/** `v` (validated by the caller) as a GPPN. */
export function asGppn(v: number): Gppn { return v as Gppn; }
/** `v` as an hPA. */
export function asHpa(v: bigint): Hpa { return v as Hpa; }
/** `v` (validated by the caller) as an MPN. */
export function asMpn(v: number): Mpn { return v as Mpn; }

/** The GPPN of the page holding `gpa`. */
export function gppnOf(gpa: Gpa): Gppn { return Math.floor(gpa / PAGE) as Gppn; }
/** The gPA of byte `offset` of page `gppn`. */
export function gpaOf(gppn: Gppn, offset = 0): Gpa { return (gppn * PAGE + offset) as Gpa; }
/** The GPPN after the last page that [gpa, gpa + length) touches (length > 0). */
export function gppnEnd(gpa: Gpa, length: number): Gppn { return (Math.floor((gpa + length - 1) / PAGE) + 1) as Gppn; }
/** `gpa` plus `bytes`. */
export function gpaAdd(gpa: Gpa, bytes: number): Gpa { return (gpa + bytes) as Gpa; }
/** The GPPN of a guest-physical address carried as a bigint (a fault's gPA). */
export function gppnOfBig(gpa: bigint): Gppn { return Number(gpa >> PAGE_SHIFT_BIG) as Gppn; }
/** The MPN of the frame holding `hpa`. */
export function mpnOf(hpa: Hpa): Mpn { return Number(hpa >> PAGE_SHIFT_BIG) as Mpn; }
/** The hPA of byte `offset` of frame `mpn`. */
export function hpaOf(mpn: Mpn, offset = 0): Hpa { return (BigInt(mpn) * PAGE_BIG + BigInt(offset)) as Hpa; }
