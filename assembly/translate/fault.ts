/**
 * fault: what stopped the translation in progress, as the hardware (or the hypervisor) reports
 * it. Every part of a translation (the walk, a shadow fill, the guest OS model's #PF handler, a
 * guest-kernel access) records its fault through here, in the scratch of the core it runs on
 * (F.FaultNow, F.FaultAddrNow), so none of them has to import another to say why it stopped:
 *
 *   kind   FK_*: guest #PF, EPT violation / misconfiguration, host (pmap) fault, guest out of
 *          memory, non-canonical address, no frame for a table
 *   code   a #PF error code, an EPT exit qualification or a pmap FAULT_* code
 *   addr   the faulting gVA (#PF, non-canonical) or gPA (EPT, host)
 *
 * A translation result word (u64) is the hPA, or FAULT_BIT | kind << 48 | code. The exported
 * entry points copy the record into their context's results (faultToCtx), where TypeScript reads it.
 */

import { Res, F, cget, cset } from "./cores";

/** Status of the steps of a translation. */
export const S_OK: u32 = 0;
/** the fault record says which */
export const S_FAULT: u32 = 1;
/** guest OS: the mapping exists (not a demand-paging fault) */
export const S_PRESENT: u32 = 2;
/** shadow walk missed: a hidden fault */
export const S_SHADOW: u32 = 3;

export const FK_GUEST_PF: u32 = 1;
export const FK_EPT_VIOLATION: u32 = 2;
export const FK_EPT_MISCONFIG: u32 = 3;
export const FK_HOST: u32 = 4;
export const FK_GUEST_OOM: u32 = 5;
export const FK_NONCANONICAL: u32 = 6;
export const FK_NO_FRAME: u32 = 7;
export const FAULT_BIT: u64 = <u64>1 << 63;

/** Records the fault of the operation in progress on context `c` (its scratch: F.FaultNow, F.FaultAddrNow). */
export function setFault(c: usize, kind: u32, code: u32, addr: u64): void {
  cset(c, F.FaultNow, (<u64>kind << 32) | <u64>code);
  cset(c, F.FaultAddrNow, addr);
}
/** FK_* of the fault in progress on `c`. */
// @ts-ignore: decorator
@inline export function faultKind(c: usize): u32 { return <u32>(cget(c, F.FaultNow) >> 32); }
/** Its #PF error code, EPT qualification or pmap FAULT_* code. */
// @ts-ignore: decorator
@inline export function faultCode(c: usize): u32 { return <u32>cget(c, F.FaultNow); }
/** Its faulting gVA or gPA. */
// @ts-ignore: decorator
@inline export function faultAddr(c: usize): u64 { return cget(c, F.FaultAddrNow); }
/** Copies the fault in progress into the results of context `c` (cores.ts Res: what TypeScript reads after a call). */
export function faultToCtx(c: usize): void {
  store<u64>(c + <usize>Res.FaultAddr, faultAddr(c));
  store<u32>(c + <usize>Res.FaultKind, faultKind(c));
  store<u32>(c + <usize>Res.FaultCode, faultCode(c));
}

/** The fault in progress on `c` as a result word. */
// @ts-ignore: decorator
@inline export function faultResult(c: usize): u64 { return FAULT_BIT | (<u64>faultKind(c) << 48) | <u64>faultCode(c); }
