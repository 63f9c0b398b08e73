/**
 * fault: what stopped the translation in progress, as the hardware (or the hypervisor) reports
 * it. Every part of a translation (the walk, a shadow fill, the guest OS model's #PF handler, a
 * guest-kernel access) records its fault here, so none of them has to import another to say
 * why it stopped:
 *
 *   kind   FK_*: guest #PF, EPT violation / misconfiguration, host (pmap) fault, guest out of
 *          memory, non-canonical address, no frame for a table
 *   code   a #PF error code, an EPT exit qualification or a pmap FAULT_* code
 *   addr   the faulting gVA (#PF, non-canonical) or gPA (EPT, host)
 *
 * A translation result word (u64) is the hPA, or FAULT_BIT | kind << 48 | code. The exported
 * entry points copy the record into their context's results (faultToCtx), where TypeScript reads it.
 */

import { Res } from "./cores";

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

export let fKind: u32 = 0;
export let fCode: u32 = 0;
export let fAddr: u64 = 0;

/** Records the fault of the operation in progress. */
export function setFault(kind: u32, code: u32, addr: u64): void { fKind = kind; fCode = code; fAddr = addr; }
/** Copies the fault into the results of context `c` (cores.ts Res: what TypeScript reads after a call). */
export function faultToCtx(c: usize): void {
  store<u64>(c + <usize>Res.FaultAddr, fAddr);
  store<u32>(c + <usize>Res.FaultKind, fKind);
  store<u32>(c + <usize>Res.FaultCode, fCode);
}

/** The current fault as a result word. */
// @ts-ignore: decorator
@inline export function faultResult(): u64 { return FAULT_BIT | (<u64>fKind << 48) | <u64>fCode; }
