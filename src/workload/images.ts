/**
 * Images: the pages guests boot from (OS images: kernel, then page cache) and the files a
 * workload's `{ image: path }` content reads, laid out one after another in the engine's content
 * area (region simContent):
 *
 *   content page 0 ...................................................... contentPages
 *   | OS image "linux" (max kernel + cache of its VMs) | OS image "win" | file a | file b |
 *
 * OS images come from real files on this machine (`files`: the regular files under the roots,
 * walked in sorted order, whole pages taken in turn, each image after the one before) or are
 * generated from the seed (`generated`: the same bytes on every machine); `auto` takes files
 * when the roots hold enough pages for every image. File images are the file's whole pages.
 *
 * Files are read by the Node entry's file operations (src/workload/contentfiles.ts, through
 * src/platform.ts): without them (a browser) `auto` generates, and `files` or a file image is a
 * ConfigError saying it needs the 'memvisor/node' entry.
 */
import { PAGE } from '../engine/addr.js';
import { ConfigError } from '../errors.js';
import { nodeFiles, nodeFilesOrNull } from '../platform.js';
import type { Workload } from '../engine/workload.js';
import { mibPages, type Scenario } from '../sim/scenario.js';
import { nameKey } from './keys.js';

/** Most pages one file image contributes (256 MiB): a workload's image pages wrap around it. */
const FILE_IMAGE_MAX = 65536;

export interface ImagePlan {
  /** OS image name, or the file's path */
  name: string;
  kind: 'os' | 'file';
  /** engine image index */
  index: number;
  first: number;
  pages: number;
}

export interface ContentPlan {
  images: ImagePlan[];
  pages: number;
  os: Map<string, ImagePlan>;
  files: Map<string, ImagePlan>;
}

/** Plans the content area for a scenario (sizes only; nothing is read). */
export function planContent(s: Scenario): ContentPlan {
  const os = new Map<string, ImagePlan>();
  const files = new Map<string, ImagePlan>();
  const images: ImagePlan[] = [];
  for (const vm of s.vms) {
    const need = Math.max(1, mibPages(vm.os.kernelMiB) + mibPages(vm.os.cacheMiB));
    const have = os.get(vm.os.image);
    if (have) have.pages = Math.max(have.pages, need);
    else {
      const p: ImagePlan = { name: vm.os.image, kind: 'os', index: images.length, first: 0, pages: need };
      os.set(vm.os.image, p);
      images.push(p);
    }
  }
  for (const vm of s.vms) {
    for (const c of vm.workload.content) {
      if (typeof c.kind !== 'object' || files.has(c.kind.image)) continue;
      const path = c.kind.image;
      const info = nodeFiles('workload.content.kind.image', path, 'a file image').pathInfo(path, false);
      if (info === null) throw new ConfigError('workload.content.kind.image', path, 'a readable file');
      const size = info.size;
      const p: ImagePlan = { name: path, kind: 'file', index: images.length, first: 0, pages: Math.max(1, Math.min(FILE_IMAGE_MAX, Math.floor(size / PAGE))) };
      files.set(path, p);
      images.push(p);
    }
  }
  if (images.length > 64) throw new ConfigError('vms', `${images.length} images`, 'at most 64 distinct OS and file images');
  let at = 0;
  for (const im of images) {
    im.first = at;
    at += im.pages;
  }
  return { images, pages: at, os, files };
}

/**
 * Writes every image of `plan` into the engine's content area; returns the OS image source used
 * ('files' or 'generated').
 */
export function loadContent(se: Workload, plan: ContentPlan, source: 'auto' | 'files' | 'generated', roots: readonly string[], seed: number): 'files' | 'generated' {
  for (const im of plan.images) if (!se.imageSet(im.index, im.first, im.pages)) throw new ConfigError('content', im.name, 'room in the content area');
  const osImages = plan.images.filter((im) => im.kind === 'os');
  const osPages = osImages.reduce((a, im) => a + im.pages, 0);
  let used: 'files' | 'generated' = 'generated';
  if (source !== 'generated') {
    // without Node's files (a browser) no root can be read: 'auto' generates, 'files' cannot run
    const files = source === 'files' ? nodeFiles('content.source', source, "'generated' or 'auto' (OS images generated from the seed)") : nodeFilesOrNull();
    const bytes = files ? files.rootPages(roots, osPages) : null;
    if (bytes) {
      let at = 0;
      for (const im of osImages) {
        se.writeContent(im.first, bytes.subarray(at * PAGE, (at + im.pages) * PAGE));
        at += im.pages;
      }
      used = 'files';
    } else if (source === 'files') {
      throw new ConfigError('content.roots', roots, `files holding at least ${osPages} whole pages for the OS images (content.source 'files')`);
    }
  }
  if (used === 'generated') for (const im of osImages) se.generateImage(im.index, nameKey(seed, im.name));
  for (const im of plan.images) {
    if (im.kind !== 'file') continue;
    se.writeContent(im.first, nodeFiles('workload.content.kind.image', im.name, 'a file image').filePages('workload.content.kind.image', im.name, im.pages));
  }
  return used;
}
