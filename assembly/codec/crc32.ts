/**
 * CRC-32 (ISO-HDLC: reflected polynomial 0xEDB88320, initial and final XOR 0xFFFFFFFF), the
 * checksum of the gzip trailer (RFC 1952) and of memvisor's binary trace files. Incremental:
 * `crc32(p, len, crc32(q, n, 0))` equals the CRC of the two buffers one after the other, so a
 * stream is checked chunk by chunk without holding it.
 *
 * Slicing by 8: eight 256-entry tables, T[0] the classic byte table and T[k][b] the CRC of b
 * followed by k zero bytes, so one step folds 8 input bytes with 8 lookups and no carried
 * dependency between them (the byte-at-a-time loop is bound by one lookup's latency per byte).
 *
 *   TABLES  8 x 256 u32 (8 KiB, memory.data), filled on the first call
 *   T[k][b] at TABLES + (k * 256 + b) * 4
 *
 * Invariants: reads only [p, p + len); equals zlib's crc32 for every input and split point
 * (test/crc32.test.ts checks against node:zlib and fflate's gzip trailers).
 */

const POLY: u32 = 0xEDB88320;
const TABLES: usize = memory.data(8 * 256 * 4, 16);
let ready = false;

/** Entry `b` of table `k`. */
// @ts-ignore: decorator
@inline function t(k: usize, b: u32): u32 {
  return load<u32>(TABLES + ((k << 8) + <usize>b) * 4);
}

/** Fills the eight tables (once). */
function fill(): void {
  for (let b: u32 = 0; b < 256; b++) {
    let c = b;
    for (let i = 0; i < 8; i++) c = (c >>> 1) ^ (POLY & (0 - (c & 1)));
    store<u32>(TABLES + <usize>b * 4, c);
  }
  for (let k: usize = 1; k < 8; k++) {
    for (let b: u32 = 0; b < 256; b++) {
      const prev = t(k - 1, b);
      store<u32>(TABLES + ((k << 8) + <usize>b) * 4, (prev >>> 8) ^ t(0, prev & 0xFF));
    }
  }
  ready = true;
}

/** CRC-32 of the `len` bytes at `p`, continuing from `crc` (the CRC of the bytes before; 0 to start). */
export function crc32(p: usize, len: usize, crc: u32): u32 {
  if (!ready) fill();
  let c = ~crc;
  let q = p;
  const end = p + len;
  while (q + 8 <= end) {
    const lo = load<u32>(q) ^ c;
    const hi = load<u32>(q, 4);
    c = t(7, lo & 0xFF) ^ t(6, (lo >>> 8) & 0xFF) ^ t(5, (lo >>> 16) & 0xFF) ^ t(4, lo >>> 24) ^
      t(3, hi & 0xFF) ^ t(2, (hi >>> 8) & 0xFF) ^ t(1, (hi >>> 16) & 0xFF) ^ t(0, hi >>> 24);
    q += 8;
  }
  while (q < end) {
    c = (c >>> 8) ^ t(0, (c ^ <u32>load<u8>(q)) & 0xFF);
    q++;
  }
  return ~c;
}
