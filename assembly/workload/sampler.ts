/**
 * sampler: which page a workload touches next. A per-VM splitmix64 stream (seeded by TypeScript
 * from the scenario seed and the VM; held in a global while a VM's loop runs, so it stays in a
 * register; guest/touch.ts moves it from and to the VM's header), and two choices over an
 * active set of n pages:
 *
 *   uniform   page = high 32 bits of r times n, shifted down 32 (no division)
 *   Zipf(s)   page k-1 with probability proportional to k^-s, by Walker's alias method:
 *             one draw picks an entry i uniformly and keeps i or takes its alias, by a 32-bit
 *             threshold. O(1) per touch, exact to 2^-32 per entry, no rejection loop.
 *
 * Why not rejection-inversion (Hoermann and Derflinger 1996), which needs no table: every draw
 * evaluates exp and log1p, which the AssemblyScript runtime computes in software (20-50 ns
 * each); measured at about 230 ns per draw against 10-15 for an alias table, it would cap a
 * Zipf workload near 4 M touches per second. The table costs 8 bytes per workload page
 * (region sim, beside the virtual pages) and O(n) to build when the phase changes.
 *
 * Building without scratch memory: Zipf weights fall with k, so the entries below 1 (the
 * "small" ones, which donate to an alias) are a suffix [m, n) and the others a prefix. Walking
 * the small ones from the end and the large ones from the start, each large one gives its excess
 * until it falls below 1 and becomes the next small one, filled by the large one after it. Only
 * the current large entry's remaining mass is kept (in a local), the rest computed on the way.
 *
 * Alias entry (u64, in a table the caller keeps: region sim, beside the VM's virtual pages):
 *   u32 threshold (keep i when r < it) | u32 alias
 *
 * A ramp grows or shrinks the active set every step; the table is then built for the larger end
 * of the ramp and draws at or beyond the current active set are drawn again: the accepted draws
 * are exactly Zipf over the current set (a truncated Zipf has the same relative weights).
 */

/** The stream of the VM whose loop is running (the loop moves it from and back to the VM's header). */
let rs: u64 = 0;

/** Makes `state` the running stream. */
// @ts-ignore: decorator
@inline export function streamSet(state: u64): void { rs = state; }
/** The running stream's state. */
// @ts-ignore: decorator
@inline export function streamGet(): u64 { return rs; }

/** Next u64 of the running stream (splitmix64). */
// @ts-ignore: decorator
@inline export function nextRand(): u64 {
  rs += 0x9E3779B97F4A7C15;
  let z = rs;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
  return z ^ (z >> 31);
}

/** A uniform index in [0, n) from the high half of `r`. */
// @ts-ignore: decorator
@inline export function uniformIndex(r: u64, n: u32): u32 { return <u32>(((r >> 32) * <u64>n) >> 32); }

/** 2^32 * q for a mass q in [0, 1] (1 and above: always keep the entry). */
// @ts-ignore: decorator
@inline function threshold(q: f64): u64 { return q >= 1.0 ? 0xFFFFFFFF : q <= 0.0 ? 0 : <u64>(q * 4294967296.0); }

/** Address of entry `i` of the alias table at `table`. */
// @ts-ignore: decorator
@inline function aliasAddr(table: usize, i: u32): usize { return table + (<usize>i << 3); }

/** Builds the Zipf(s) alias table of n >= 1 entries at `table` (8 bytes each). */
export function zipfBuild(table: usize, n: u32, s: f64): void {
  let total = 0.0;
  for (let k: u32 = 1; k <= n; k++) total += Math.pow(<f64>k, -s);
  const scale = <f64>n / total; // mass of entry i: scale * (i + 1)^-s, n in all
  // m: the first entry whose mass is below 1 (masses fall with i)
  let m: u32 = n;
  const firstSmall = Math.pow(scale, 1.0 / s) - 1.0; // mass(i) < 1  <=>  i + 1 > scale^(1/s)
  if (firstSmall < <f64>n) m = max<u32>(1, <u32>Math.max(0.0, Math.ceil(firstSmall)));
  while (m > 1 && scale * Math.pow(<f64>m, -s) < 1.0) m--; // rounding at the boundary
  while (m < n && scale * Math.pow(<f64>(m + 1), -s) >= 1.0) m++;
  let large: u32 = 0;
  let q = scale; // remaining mass of entry `large`
  let j = n;
  while (j > m && large < m) {
    j--;
    const qj = scale * Math.pow(<f64>(j + 1), -s);
    store<u64>(aliasAddr(table, j), threshold(qj) | (<u64>large << 32));
    q -= 1.0 - qj;
    // a large entry that gave too much is now small: the next large one fills it
    while (q < 1.0 && large + 1 < m) {
      store<u64>(aliasAddr(table, large), threshold(q) | (<u64>(large + 1) << 32));
      q = scale * Math.pow(<f64>(large + 2), -s) - (1.0 - q);
      large++;
    }
    if (q < 1.0) {
      // the last large entry ran out (rounding): it keeps what it has
      store<u64>(aliasAddr(table, large), 0xFFFFFFFF | (<u64>large << 32));
      large++;
    }
  }
  // the large entries not needed, and any small ones left by rounding, keep themselves
  for (let i = large; i < j; i++) store<u64>(aliasAddr(table, i), 0xFFFFFFFF | (<u64>i << 32));
}

/** A Zipf-distributed index in [0, active) (0 the most popular) from the alias table of `tableN` >= active entries. */
// @ts-ignore: decorator
@inline export function zipfIndex(table: usize, tableN: u32, active: u32): u32 {
  while (true) {
    const r = nextRand();
    const i = uniformIndex(r, tableN);
    const e = load<u64>(table + (<usize>i << 3));
    const k = (r & 0xFFFFFFFF) < (e & 0xFFFFFFFF) ? i : <u32>(e >> 32);
    if (k < active) return k;
  }
}
