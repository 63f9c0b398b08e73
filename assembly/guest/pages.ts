/**
 * pages: the content every page a simulated guest owns must hold, from the VM's header: what
 * the guest wrote at boot (kernel and page cache pages: its OS image) and what its processes
 * wrote (virtual pages: OS anonymous memory, then the workload's, of the kinds in its mix).
 * The touch loop writes it; the oracle (verify.ts) recomputes it and compares.
 */

import { S, sget, O_KERNEL, O_CACHE } from "../guest/state";
import { contentBase, pageSeed, stampOffset, stampValue, K_IMAGE, K_UNIQUE } from "../workload/content";

/** Salt of the hash that picks a workload page's content kind (apart from the generators' seeds). */
const MIX_SALT: u64 = 0x3C6EF372FE94F82B;

/** The mix entry (u32 threshold | kind << 32 | image << 40) of workload page `p`: the same in every VM of a data set. */
// @ts-ignore: decorator
@inline function mixEntry(h: usize, p: u32): u64 {
  const x = <u32>(pageSeed(sget(h, S.DataKey) ^ MIX_SALT, p) >> 32);
  const n = <u32>sget(h, S.MixCount);
  for (let i: u32 = 0; i + 1 < n; i++) {
    const e = sget(h, <S>(<u32>S.Mix + i));
    if (x <= <u32>e) return e;
  }
  return sget(h, <S>(<u32>S.Mix + n - 1));
}

/** Content kind (K_*) of virtual page `vp`. */
export function vpageKind(h: usize, vp: u32): u32 {
  const anon = <u32>sget(h, S.Anon);
  return vp < anon ? K_UNIQUE : <u32>(mixEntry(h, vp - anon) >> 32) & 0xFF;
}

/** Writes the bytes virtual page `vp` holds after `version` writes at `dst`. */
export function vpageFill(h: usize, vp: u32, version: u32, dst: usize): void {
  const anon = <u32>sget(h, S.Anon);
  const vmKey = sget(h, S.VmKey);
  if (vp < anon) {
    contentBase(dst, K_UNIQUE, 0, vmKey, vp);
  } else {
    const p = vp - anon;
    const e = mixEntry(h, p);
    const kind = <u32>(e >> 32) & 0xFF;
    // per-VM kinds are keyed by the VM and the virtual page; shared kinds by the data set and the workload page
    if (kind == K_UNIQUE) contentBase(dst, kind, 0, vmKey, vp);
    else contentBase(dst, kind, <u32>(e >> 40) & 0xFF, sget(h, S.DataKey), p);
  }
  if (version != 0) store<u64>(dst + stampOffset(vp), stampValue(vmKey, vp, version));
}

/** Writes the bytes of an OS page the guest booted with (owner kind O_KERNEL or O_CACHE, image page `i`). */
export function osPageFill(h: usize, i: u32, dst: usize): void {
  contentBase(dst, K_IMAGE, <u32>sget(h, S.ImgAt), 0, i);
}

export { O_KERNEL, O_CACHE };
