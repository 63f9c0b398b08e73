/**
 * workload: what the simulation's pages hold, as TypeScript sees it (assembly/workload/content.ts).
 * The OS and file images sit in region simContent of the memory map, page by page: TypeScript
 * writes real files there (src/workload/images.ts) and says which pages make each image, or has
 * the module generate an image from a key. The generators fill single pages for tests and benches.
 *
 *   region simContent:  page 0 ........................................... contentPages
 *                       | image 0 | image 1 | ... (contentImageSet: first page, pages)
 */
import type { Bound, Gateway, RegionInfo } from './gateway.js';
import { PAGE } from './addr.js';
import { ConfigError } from '../errors.js';

const EXPORTS = ['contentImageSet', 'contentGenerate', 'contentFillPage'] as const;
const CONSTANTS = ['K_ZERO', 'K_IMAGE', 'K_TEXT', 'K_BINARY', 'K_RANDOM', 'K_UNIQUE'] as const;

/** Content kinds (assembly/workload/content.ts K_*; the engine checks they agree). */
export enum ContentKind {
  Zero = 0,
  Image = 1,
  Text = 2,
  Binary = 3,
  Random = 4,
  Unique = 5,
}

export class Workload {
  private readonly x: Bound<typeof EXPORTS>;
  private readonly content: RegionInfo;
  private readonly page: RegionInfo;

  constructor(private readonly g: Gateway) {
    this.x = g.bind(EXPORTS);
    const c = g.constantsOf(CONSTANTS);
    const mirror: [number, ContentKind][] = [[c.K_ZERO, ContentKind.Zero], [c.K_IMAGE, ContentKind.Image], [c.K_TEXT, ContentKind.Text],
      [c.K_BINARY, ContentKind.Binary], [c.K_RANDOM, ContentKind.Random], [c.K_UNIQUE, ContentKind.Unique]];
    for (const [m, t] of mirror) if (m !== t) throw new ConfigError('module', `ContentKind ${ContentKind[t]}`, `${t} (the module says ${m}: rebuild it)`);
    this.content = g.region('simContent');
    // a generated page is written into the simulation's page window (no simulation call is in progress)
    this.page = g.windows('staging', ['simPages']).simPages;
  }

  /** Pages of the content area (the engine's simContentPages). */
  get contentPages(): number {
    return this.content.size / PAGE;
  }
  /** Copies `bytes` (whole pages) into the content area from page `first`. */
  writeContent(first: number, bytes: Uint8Array): void {
    const pages = bytes.length / PAGE;
    if (!Number.isInteger(first) || first < 0 || !Number.isInteger(pages) || first + pages > this.contentPages) {
      throw new ConfigError('content', first, `room for ${pages} pages in ${this.contentPages} content pages`);
    }
    this.g.live();
    this.g.u8.set(bytes, this.content.offset + first * PAGE);
  }
  /** Page `i` of the content area, copied out. */
  readContent(i: number): Uint8Array {
    if (!Number.isInteger(i) || i < 0 || i >= this.contentPages) throw new ConfigError('page', i, `a content page below ${this.contentPages}`);
    this.g.live();
    const at = this.content.offset + i * PAGE;
    return this.g.u8.slice(at, at + PAGE);
  }
  /** Image `i` is content pages [first, first + pages); false when out of range (64 images, the content area). */
  imageSet(i: number, first: number, pages: number): boolean {
    return this.x.contentImageSet(i, first, pages);
  }
  /** Fills image `i` with generated pages keyed `key` (the same bytes on any machine). */
  generateImage(i: number, key: bigint): void {
    this.x.contentGenerate(i, BigInt.asUintN(64, key));
  }
  /** One page of `kind` keyed (key, page), `image` for ContentKind.Image (generators' tests and benches). */
  contentPage(kind: ContentKind, image: number, key: bigint, page: number): Uint8Array {
    const at = this.g.stage(this.page.offset + this.page.size) + this.page.offset;
    this.x.contentFillPage(at, kind, image, BigInt.asUintN(64, key), page);
    return this.g.u8.slice(at, at + PAGE);
  }
}
