/**
 * The nothing-lost oracle's two steps, shared by the seeded operation mixes (reclaim.oracle,
 * policy.oracle): a random write to a VM and its oracle copy, and a random read checked
 * against the copy. Whatever the mix did to the pages in between (shared, compressed, swapped,
 * ballooned, large), a read returns the last write.
 */
import { PState, type VM } from '../../src/index.js';

const PAGE = 4096;

/** A VM and what its guest last wrote, with the pages its balloon holds (a write or read takes one back). */
export interface OracleGuest {
  vm: VM;
  oracle: Uint8Array;
  ballooned: Set<number>;
}

/** Pages of [gpa, gpa + len): no longer ballooned once touched. */
function touched(g: OracleGuest, gpa: number, len: number): void {
  for (let p = Math.floor(gpa / PAGE); p * PAGE < gpa + len; p++) g.ballooned.delete(p);
}

/** Writes a whole page (half the time: often a template, for sharing) or a span across page boundaries, to the VM and its oracle. */
export function oracleWrite(g: OracleGuest, int: (n: number) => number, rnd: () => number, fill: (len: number) => Uint8Array): void {
  const size = g.oracle.length;
  let gpa: number, data: Uint8Array;
  if (rnd() < 0.5) {
    gpa = int(size / PAGE) * PAGE;
    data = fill(PAGE);
  } else {
    const len = 1 + int(3 * PAGE);
    gpa = int(size - len + 1);
    data = fill(len);
  }
  g.vm.writePhys(gpa, data);
  g.oracle.set(data, gpa);
  touched(g, gpa, data.length);
}

/** Reads a random span and compares it with the oracle (returns its length); at the first difference throws naming `where`, the VM, the address, its GPPN and the page's state. */
export function oracleRead(g: OracleGuest, int: (n: number) => number, where: string): number {
  const len = 1 + int(2 * PAGE + 100);
  const gpa = int(g.oracle.length - len + 1);
  const got = g.vm.readPhys(gpa, len);
  const want = g.oracle.subarray(gpa, gpa + len);
  if (!Buffer.from(got).equals(Buffer.from(want))) {
    let i = 0;
    while (got[i] === want[i]) i++;
    const gppn = Math.floor((gpa + i) / PAGE);
    throw new Error(`${where}: VM ${g.vm.name} gpa ${gpa + i} (GPPN ${gppn}, state ${PState[g.vm.pageState(gppn)]}) read ${got[i]}, expected ${want[i]}`);
  }
  touched(g, gpa, len);
  return len;
}

/** Inflates the balloon by up to 12 random pages it does not hold (within its cap): the oracle then reads them as zero, as a guest finds a page the balloon gave back. */
export function oracleBalloon(g: OracleGuest, int: (n: number) => number): void {
  const want = 1 + int(12);
  const list = new Set<number>();
  for (let i = 0; i < want * 2 && list.size < want; i++) {
    const p = int(g.oracle.length / PAGE);
    if (!g.ballooned.has(p)) list.add(p);
  }
  const gppns = [...list];
  if (g.ballooned.size + gppns.length <= g.vm.balloonMaxPages && gppns.length) {
    g.vm.balloonInflate(gppns);
    for (const p of gppns) {
      g.ballooned.add(p);
      g.oracle.fill(0, p * PAGE, (p + 1) * PAGE);
    }
  }
}
