import { describe, expect, it } from 'vitest';
import zlib from 'node:zlib';
import { gzipSync } from 'fflate';
import { Engine } from '../src/engine/engine.js';
import { mulberry32 } from './prng.js';

// node:zlib's crc32 (Node >= 20.15) is the reference; fflate's gzip trailers are a second one
const reference = (zlib as unknown as { crc32?: (d: Uint8Array, v?: number) => number }).crc32;

describe('crc32 (assembly/codec/crc32.ts)', () => {
  const e = Engine.create({});

  it('equals the reference for seeded lengths and split points, chunk by chunk', () => {
    const rnd = mulberry32(0xc3c32);
    const data = new Uint8Array(70_000);
    for (let i = 0; i < data.length; i++) data[i] = (rnd() * 256) | 0;
    const at = e.gateway.stageIn(data);
    for (let k = 0; k < 400; k++) {
      const len = k < 40 ? k : (rnd() * data.length) | 0;
      const cut = (rnd() * (len + 1)) | 0;
      const whole = e.codec.crc32(at, len);
      expect(e.codec.crc32(at + cut, len - cut, e.codec.crc32(at, cut))).toBe(whole);
      // gzip's trailer holds the CRC-32 of the data, little-endian, 8 bytes from the end
      if (k % 20 === 0) {
        const gz = gzipSync(data.subarray(0, len));
        expect(whole).toBe(new DataView(gz.buffer, gz.byteOffset).getUint32(gz.length - 8, true));
      }
      if (reference) expect(whole).toBe(reference(data.subarray(0, len)));
    }
  });

  it('known value, and one flipped bit changes it', () => {
    const text = new TextEncoder().encode('123456789');
    const at = e.gateway.stageIn(text);
    expect(e.codec.crc32(at, 9)).toBe(0xcbf43926); // the CRC-32/ISO-HDLC check value
    e.gateway.u8[at + 4] ^= 0x10;
    expect(e.codec.crc32(at, 9)).not.toBe(0xcbf43926);
  });
});
