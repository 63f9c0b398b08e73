/**
 * What only Node provides (files), as the library sees it: the Node entry (src/node.ts) registers
 * an implementation when it loads; the main entry (src/index.ts) never imports Node, so it
 * bundles for a browser, where nothing is registered and each feature that needs a file says so
 * with a ConfigError naming the field and the entry to import instead.
 *
 *   memvisor          Host (memory swap), VM (images from bytes), replayBytes, ...   no Node import
 *   memvisor/node     the same, and registers NodeFiles:   file swap and its directory
 *                                                          image files (vm.loadImage(path))
 *                                                          binary trace files (writeBinary), replayFile
 *                                                          a scenario's files: OS images from files
 *                                                          (content.source), file images, trace
 *                                                          workloads, and the validator's checks
 */
import type { Engine } from './engine/engine.js';
import type { SwapStore, SwapStoreOptions } from './host/swapstore.js';
import type { CloseReport } from './host/cleanup.js';
import { ConfigError } from './errors.js';

/** A host's swap directory: it makes the VMs' swap files and removes them, and itself, on close. */
export interface SwapDirHandle {
  /** A new file swap store of `pages` slots for VM `name` (engine id `id`); throws the file system's error. */
  createStore(name: string, pages: number, id: number, opts: SwapStoreOptions): SwapStore;
  /** Forgets `store`, which its VM's power-off closed (a store not made here is ignored). */
  remove(store: SwapStore): void;
  /** Closes every store left and removes the directory; never throws. */
  close(): CloseReport;
}

/** An image file being loaded into guest memory. */
export interface ImageFile {
  /** bytes in the file */
  readonly size: number;
  /** Fills all of `dst` with the file's bytes from `position`; a ConfigError naming `image` when it cannot. */
  read(dst: Uint8Array, position: number): void;
  close(): void;
}

/** A binary trace being written beside its target, renamed onto it by `commit` (src/translate/tracefile.ts). */
export interface TraceWriter {
  write(records: Uint8Array): void;
  commit(records: number): void;
  abort(): void;
}

/** Device and inode of an input file (a trace is never written over itself). */
export interface FileIdentity {
  dev: bigint;
  ino: bigint;
}

/** What a path names, for the scenario validator: a regular file (and its size), a directory, something else; null when it does not exist or cannot be read. */
export interface PathInfo {
  kind: 'file' | 'dir' | 'other';
  size: number;
}

/** The file operations of the Node entry. */
export interface NodeFiles {
  /** The OS temporary directory: where a host makes its swap directory unless swap.dir says otherwise. */
  tmpdir(): string;
  /** Makes a host's swap directory (memvisor-<pid>-XXXXXX) in `parent`; throws the file system's error. */
  openSwapDir(parent: string): SwapDirHandle;
  /** Opens image `path` for vm.loadImage; a ConfigError naming `image` when it is not a readable regular file. */
  openImage(path: string): ImageFile;
  /** Opens a binary trace writer for `target` (`input`: the trace being read, never overwritten). */
  openTraceWriter(engine: Engine, target: string, input: FileIdentity | null): TraceWriter;
  /** What `path` names (symlinks followed unless `follow` is false), or null. */
  pathInfo(path: string, follow?: boolean): PathInfo | null;
  /** `pages` whole pages of the regular files under `roots`, walked in sorted order; null when they hold fewer (src/workload/contentfiles.ts). */
  rootPages(roots: readonly string[], pages: number): Uint8Array | null;
  /** The first `pages` whole pages of file `path` (a workload's file image); a ConfigError naming `field` when it cannot be read. */
  filePages(field: string, path: string, pages: number): Uint8Array;
  /** The binary records of the trace at `path`, checked by the trace reader (a trace workload; src/workload/trace.ts). */
  loadTrace(path: string): Uint8Array;
}

let files: NodeFiles | null = null;

/** Registers the Node entry's file operations (src/node.ts, once when it loads). */
export function registerNodeFiles(f: NodeFiles): void {
  files = f;
}

/**
 * The Node entry's file operations; without them (a browser, or only 'memvisor' imported) a
 * ConfigError naming `field` and `value`, saying what the feature needs.
 */
export function nodeFiles(field: string, value: unknown, what: string): NodeFiles {
  if (!files) throw new ConfigError(field, value, `${what}: files need Node, and the 'memvisor/node' entry (import from it instead of 'memvisor')`);
  return files;
}

/** The Node entry's file operations, or null where they are not registered. */
export function nodeFilesOrNull(): NodeFiles | null {
  return files;
}
