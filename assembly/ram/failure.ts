/**
 * failure: where the audit found the invariant it reports broken (invariants.ts names it). A
 * check fills the fields that locate the failure and leaves the others at "none"; TypeScript
 * reads them by name after `audit` returns a code other than AUDIT_OK.
 *
 *   vm        VM id                          expected  the value the invariant requires
 *   gppn      guest page of that VM          found     the value found instead
 *   mpn       machine frame                  state     a pmap state (PState)
 *   slot      zpool slot id                  kind      a frame kind (FrameKind)
 *
 * Every field is an f64 (exact for every u32 and every count), -1 meaning "none".
 */

const enum W { Vm = 0, Gppn = 1, Mpn = 2, Slot = 3, State = 4, Kind = 5, Expected = 6, Found = 7, COUNT = 8 }
const NAMES: StaticArray<string> = ["vm", "gppn", "mpn", "slot", "state", "kind", "expected", "found"];
const WHERE = memory.data(<i32>W.COUNT * 8, 8);
const NONE: u32 = 0xFFFFFFFF;

// @ts-ignore: decorator
@inline function put(f: W, v: f64): void { store<f64>(WHERE + (<usize>f << 3), v); }
/** A u32 detail, or none for the NONE value. */
// @ts-ignore: decorator
@inline function u(v: u32): f64 { return v == NONE ? -1 : <f64>v; }

/** Clears the record (before an audit). */
export function failureClear(): void { for (let i = 0; i < <i32>W.COUNT; i++) put(<W>i, -1); }

/** Records that invariant `code` broke at (vm, gppn, mpn), NONE for what does not apply; returns `code`. */
export function fail(code: u32, vm: u32, gppn: u32, mpn: u32): u32 {
  failureClear();
  put(W.Vm, u(vm));
  put(W.Gppn, u(gppn));
  put(W.Mpn, u(mpn));
  return code;
}
/** Adds the zpool slot to the record of `code`; returns `code`. */
export function withSlot(code: u32, slot: u32): u32 { put(W.Slot, u(slot)); return code; }
/** Adds the pmap state to the record of `code`; returns `code`. */
export function withState(code: u32, state: u32): u32 { put(W.State, u(state)); return code; }
/** Adds the frame kind to the record of `code`; returns `code`. */
export function withKind(code: u32, kind: u32): u32 { put(W.Kind, u(kind)); return code; }
/** Adds the value the invariant requires and the one found; returns `code`. */
export function withCounts(code: u32, expected: f64, found: f64): u32 { put(W.Expected, expected); put(W.Found, found); return code; }

/** Number of fields of the record. */
export function auditDetailCount(): u32 { return <u32>W.COUNT; }
/** Name of field `i` (a static string). */
export function auditDetailName(i: u32): string { return unchecked(NAMES[i]); }
/** Field `i` of the record of the last failed audit (-1: none). */
export function auditDetail(i: u32): f64 { return i < <u32>W.COUNT ? load<f64>(WHERE + (<usize>i << 3)) : -1; }
