/**
 * hook: the one narrow way reclaim/ reaches translation. The pmap is the authority on where a
 * guest page lives; EPT and shadow tables and TLBs (translate/) are caches derived from it.
 * Reclaim never imports translate/: translate/coherence.ts installs two functions here at init,
 * and reclaim calls through them (an indirect call, once per change of a page's backing or per
 * page the sharing scanner visits, never per translation).
 *
 *   reclaim/  pmap, fault path, sharing, zip cache, page-out, balloon
 *      │  backingChanged(vm, gppn)   the page's frame changed, went away or lost write permission:
 *      │                             every cached translation of it must go before the caller goes on
 *      │  eptLargeBacked(vm, gppn)   is the page mapped by a large (2 MiB / 1 GiB) EPT leaf now?
 *      ▼
 *   translate/coherence.ts           drops the translations; asks ept.ts
 *
 * Until translate/ installs them (an engine used for codecs only), neither does anything.
 */

import { GPPN } from "../ram/addr";

/** Called when the backing of (vm, gppn) changes. */
export type BackingHook = (vm: u32, gppn: GPPN) => void;
/** Answers whether (vm, gppn) is mapped by a large EPT leaf. */
export type LargeLeafHook = (vm: u32, gppn: GPPN) => bool;

function noTranslations(vm: u32, gppn: GPPN): void {}
function noLargeLeaf(vm: u32, gppn: GPPN): bool { return false; }

let onBacking: BackingHook = noTranslations;
let onLargeLeaf: LargeLeafHook = noLargeLeaf;

/** Installs translation's side of the hook (translate/coherence.ts, from init). */
export function setBackingHooks(backing: BackingHook, largeLeaf: LargeLeafHook): void {
  onBacking = backing;
  onLargeLeaf = largeLeaf;
}

/** Drops or downgrades every cached translation of (vm, gppn): its backing changed. */
export function backingChanged(vm: u32, gppn: GPPN): void { onBacking(vm, gppn); }

/**
 * True if (vm, gppn) is mapped by a large EPT leaf now. Page sharing leaves such pages alone (as
 * ESX does with large pages): merging one 4 KiB page would splinter the large mapping.
 */
export function eptLargeBacked(vm: u32, gppn: GPPN): bool { return onLargeLeaf(vm, gppn); }
