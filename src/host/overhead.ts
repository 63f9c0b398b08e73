/**
 * The machine memory a host sets aside for a VM's page tables at admission, in its own module so
 * that the scenario checker (src/sim/scenario.ts) applies the host's admission rule without
 * loading the host.
 */

/**
 * Page-table frames the hypervisor may need for a VM of `pages` guest pages, reserved at
 * admission: every EPT table of a 5-level walk over its guest-physical range (a 4-level walk
 * needs fewer). Shadow tables are caches the host frees under pressure; this is their budget too.
 */
export function pageTableOverhead(pages: number): number {
  let n = 1; // the root
  let span = pages;
  for (let level = 1; level <= 4; level++) {
    span = Math.ceil(span / 512);
    n += span;
  }
  return n;
}
