/**
 * Coherence between the pmap and the translation caches derived from it.
 *
 * The pmap calls `backingChanged` whenever the frame behind (vm, gppn) changes, goes away, or
 * loses write permission (a page is shared copy-on-write, compressed, swapped, ballooned, or a
 * copy-on-write break gives it a private frame). Every EPT entry, shadow entry and TLB entry
 * that maps that guest page must be dropped or downgraded before the pmap's caller goes on, so
 * a stale translation never reaches an old frame.
 */

/** Drops or downgrades every cached translation of (vm, gppn). */
export function backingChanged(vm: u32, gppn: u32): void {
  // no translation caches exist yet: nothing can be stale
}
