/**
 * The same TLB and 2D walk written as straightforward TypeScript, to show (not assume) what the
 * WebAssembly version buys. Same policies as assembly/translate/tlb.ts and walk.ts for the parts it models:
 * set-associative TLBs with true LRU, L1 filled from L2, radix page tables of 512 entries per
 * level, a guest walk whose every table reference goes through a nested walk. Tables are JS
 * arrays, not bytes in guest memory; there are no PWCs, permission bits or faults beyond
 * first-touch mapping (which is done up front or on the miss path).
 */

/** A set-associative TLB with true LRU (tags and stamps in plain arrays). */
export class TsTlb {
  private tags: number[];
  private vals: number[];
  private stamps: number[];
  private clock = 0;
  constructor(readonly sets: number, readonly ways: number) {
    this.tags = new Array(sets * ways).fill(-1);
    this.vals = new Array(sets * ways).fill(0);
    this.stamps = new Array(sets * ways).fill(0);
  }
  lookup(vpn: number): number {
    const base = (vpn % this.sets) * this.ways;
    for (let i = base; i < base + this.ways; i++) {
      if (this.tags[i] === vpn) {
        this.stamps[i] = ++this.clock;
        return this.vals[i];
      }
    }
    return -1;
  }
  fill(vpn: number, pfn: number): void {
    const base = (vpn % this.sets) * this.ways;
    let victim = base;
    for (let i = base; i < base + this.ways; i++) {
      if (this.tags[i] === -1) { victim = i; break; }
      if (this.stamps[i] < this.stamps[victim]) victim = i;
    }
    this.tags[victim] = vpn;
    this.vals[victim] = pfn;
    this.stamps[victim] = ++this.clock;
  }
}

type Node = (Node | number | undefined)[];

/** A radix page table: nodes are arrays of 512; each node has a page number (its "physical" address). */
class TsTable {
  root: Node = new Array(512);
  private pageOf = new Map<Node, number>();
  constructor(readonly levels: number, private alloc: () => number) {
    this.pageOf.set(this.root, alloc());
  }
  page(n: Node): number { return this.pageOf.get(n)!; }
  /** Pages of the tables on the path to `pn` (top first) and the leaf value, creating entries on the way. */
  map(pn: number, value: () => number): void {
    let n = this.root;
    for (let l = this.levels; l > 1; l--) {
      const i = Math.floor(pn / 512 ** (l - 1)) % 512;
      let next = n[i] as Node | undefined;
      if (!next) { next = new Array(512); this.pageOf.set(next, this.alloc()); n[i] = next; }
      n = next;
    }
    if (n[pn % 512] === undefined) n[pn % 512] = value();
  }
}

export interface TsMmuStats { translations: number; l1Misses: number; l2Misses: number; walks: number; walkRefs: number }

/** A core with L1 dTLB, L1 iTLB, L2 TLB and a 2D (or native) walker over TS radix tables. */
export class TsMmu {
  readonly l1d = new TsTlb(16, 4);
  readonly l1i = new TsTlb(16, 8);
  readonly l2 = new TsTlb(128, 12);
  readonly stats: TsMmuStats = { translations: 0, l1Misses: 0, l2Misses: 0, walks: 0, walkRefs: 0 };
  private nextGppn = 1;
  private nextMpn = 1;
  private guest: TsTable;
  private ept: TsTable | null;

  constructor(readonly nested: boolean, levels = 4, hostLevels = 4, readonly tlbOn = true) {
    this.guest = new TsTable(levels, () => this.nextGppn++);
    this.ept = nested ? new TsTable(hostLevels, () => this.nextMpn++) : null;
  }

  /** Nested walk of guest page `gppn`: hostLevels references; returns the MPN. */
  private nestedWalk(gppn: number): number {
    const ept = this.ept!;
    ept.map(gppn, () => this.nextMpn++);
    let n = ept.root;
    for (let l = ept.levels; l > 1; l--) {
      this.stats.walkRefs++;
      n = n[Math.floor(gppn / 512 ** (l - 1)) % 512] as Node;
    }
    this.stats.walkRefs++;
    return n[gppn % 512] as number;
  }

  /** Walks the guest tables for `vpn`, each table reference through a nested walk. */
  private walk(vpn: number): number {
    this.guest.map(vpn, () => this.nextGppn++);
    let n = this.guest.root;
    for (let l = this.guest.levels; l >= 1; l--) {
      if (this.ept) this.nestedWalk(this.guest.page(n));
      this.stats.walkRefs++;
      const e = n[Math.floor(vpn / 512 ** (l - 1)) % 512];
      if (l === 1) {
        this.stats.walks++;
        return this.ept ? this.nestedWalk(e as number) : (e as number);
      }
      n = e as Node;
    }
    return -1;
  }

  /** Translates `va` (a number below 2^53); returns the physical address. */
  translate(va: number, fetch: boolean): number {
    this.stats.translations++;
    const vpn = Math.floor(va / 4096);
    const off = va % 4096;
    if (this.tlbOn) {
      const l1 = fetch ? this.l1i : this.l1d;
      let pfn = l1.lookup(vpn);
      if (pfn >= 0) return pfn * 4096 + off;
      this.stats.l1Misses++;
      pfn = this.l2.lookup(vpn);
      if (pfn >= 0) { l1.fill(vpn, pfn); return pfn * 4096 + off; }
      this.stats.l2Misses++;
      pfn = this.walk(vpn);
      this.l2.fill(vpn, pfn);
      l1.fill(vpn, pfn);
      return pfn * 4096 + off;
    }
    this.stats.l1Misses++;
    this.stats.l2Misses++;
    return this.walk(vpn) * 4096 + off;
  }

  /** Replays lackey text the straightforward way: decode, split into lines, regex-free parse. */
  replayLackey(text: string): number {
    let records = 0;
    for (const line of text.split('\n')) {
      let kind: string;
      let rest: string;
      if (line.startsWith('I ')) { kind = 'I'; rest = line.slice(2); }
      else if (line.length > 3 && line[0] === ' ' && line[2] === ' ' && 'LSM'.includes(line[1])) { kind = line[1]; rest = line.slice(3); }
      else continue;
      const comma = rest.indexOf(',');
      const addr = parseInt(rest.slice(0, comma), 16);
      const size = parseInt(rest.slice(comma + 1), 10);
      if (!Number.isFinite(addr) || !Number.isFinite(size)) throw new Error(`bad line ${line}`);
      records++;
      this.translate(addr, kind === 'I');
      const last = addr + size - 1;
      if (Math.floor(last / 4096) !== Math.floor(addr / 4096)) this.translate(last, kind === 'I');
    }
    return records;
  }
}
