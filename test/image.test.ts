/** `memvisor image`: sharing and compression potential of raw images, on images of known make-up. */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { measureImages, parseImageArgs, formatImages } from '../src/cli/image.js';
import { UsageError } from '../src/errors.js';
import { main } from '../src/cli/main.js';
import { mulberry32 } from './prng.js';

const PAGE = 4096;

/** Image A: 16 zero pages, 16 copies of one page, 16 distinct random pages, 16 distinct text pages. Image B: A's random pages. */
function makeImages(dir: string): [string, string] {
  const rnd = mulberry32(99);
  const a = new Uint8Array(64 * PAGE);
  a.fill(0x41, 16 * PAGE, 32 * PAGE);
  for (let i = 32 * PAGE; i < 48 * PAGE; i++) a[i] = Math.floor(rnd() * 256);
  for (let p = 48; p < 64; p++) a.set(new TextEncoder().encode(`page ${p} of a text file; `.repeat(200).slice(0, PAGE)), p * PAGE);
  const fa = join(dir, 'a.vmem');
  const fb = join(dir, 'b.vmem');
  writeFileSync(fa, a);
  writeFileSync(fb, a.subarray(32 * PAGE, 48 * PAGE));
  return [fa, fb];
}

describe('memvisor image', () => {
  it('one sharing domain: zero, shared, saved and compressible pages come out exactly', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'memvisor-image-'));
    try {
      const [fa, fb] = makeImages(dir);
      const r = await measureImages([fa, fb], 'host');
      const [a, b] = r.images;
      expect(a).toMatchObject({ pages: 64, zeroPages: 16, sharedPages: 32, privatePages: 16, zipTo1K: 16, zipTo2K: 16 });
      expect(a.savedBySharing).toBeCloseTo(15 + 8, 9); // 16 copies on one frame; 16 frames with 2 users each
      expect(b).toMatchObject({ pages: 16, zeroPages: 0, sharedPages: 16, privatePages: 0, zipTo2K: 0 });
      expect(b.savedBySharing).toBeCloseTo(8, 9);
      expect(r.framesAfterSharing).toBe(1 + 16 + 16);
      // the 16 text pages move from frames to 1 KiB slots: 4 frames' worth
      expect(r.framesAfterSharingAndZip).toBe(33 - 16 + 4);
      expect(formatImages(r)).toMatch(/a\.vmem\s+0\.3\s+25\.0%\s+50\.0%/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('per-VM salting: no page is shared across images', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'memvisor-image-'));
    try {
      const [fa, fb] = makeImages(dir);
      const r = await measureImages([fa, fb], 'per-vm');
      expect(r.images[0]).toMatchObject({ sharedPages: 16, privatePages: 32 });
      expect(r.images[0].savedBySharing).toBeCloseTo(15, 9);
      expect(r.images[1]).toMatchObject({ sharedPages: 0, privatePages: 16, zipTo2K: 0 });
      expect(r.images[1].meanLz4Bytes).toBe(4096);
      expect(r.framesAfterSharing).toBe(1 + 16 + 16 + 16);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects bad options and unreadable files with errors that name them', async () => {
    expect(() => parseImageArgs([])).toThrow(/<file>: got "\(none\)", expected at least one image file/);
    expect(() => parseImageArgs(['x', '--salting', 'all'])).toThrow(UsageError);
    expect(() => parseImageArgs(['x', '--bogus'])).toThrow(/option: got "--bogus"/);
    await expect(measureImages(['/nonexistent/x.vmem'], 'host')).rejects.toThrow(/a readable image file \(ENOENT\)/);
    const err = process.stderr.write;
    process.stderr.write = (() => true) as typeof process.stderr.write;
    try {
      // the help's exit codes: 1 an image cannot be read, 2 bad options
      expect(await main(['image', '/nonexistent/x.vmem'])).toBe(1);
      expect(await main(['image', tmpdir()])).toBe(1);
      expect(await main(['image', 'x', '--bogus'])).toBe(2);
    } finally {
      process.stderr.write = err;
    }
  });
});
