/**
 * Image files for vm.loadImage(path) (Node only: the Node entry registers `openImage` through
 * platform.ts). The file is read window by window straight into engine memory by the caller;
 * every failure is a ConfigError naming `image`, the path and what went wrong.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { ConfigError } from '../errors.js';
import type { ImageFile } from '../platform.js';

/** Opens `path`, a regular file, for reading. */
export function openImage(path: string): ImageFile {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new ConfigError('image', path, `a readable file (${(e as Error).message})`);
  }
  let size: number;
  try {
    const st = fstatSync(fd);
    // a directory opens for reading on Linux; its first read would fail with a raw EISDIR
    if (!st.isFile()) throw new ConfigError('image', path, 'a regular file of guest memory');
    size = st.size;
  } catch (e) {
    closeSync(fd);
    throw e;
  }
  return {
    size,
    read(dst, position) {
      for (let n = 0; n < dst.length; ) {
        let r: number;
        try {
          r = readSync(fd, dst, n, dst.length - n, position + n);
        } catch (e) {
          throw new ConfigError('image', path, `a readable file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message} at byte ${position + n})`);
        }
        if (r === 0) throw new ConfigError('image', path, `${size} readable bytes (it shrank while loading)`);
        n += r;
      }
    },
    close() {
      closeSync(fd);
    },
  };
}
