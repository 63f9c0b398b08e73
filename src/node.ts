/**
 * memvisor/node: the Node entry. Everything of 'memvisor' (src/index.ts), and what needs Node's
 * file system or a terminal:
 *
 *   file swap      Host.create({ swap: { backing: 'file', dir } }), FileSwapStore, cleanSwapDirs
 *   image files    vm.loadImage(path)
 *   trace files    replayFile(mmu, path | '-'), and replay's writeBinary
 *   scenario files OS images from files (content.source), file images and trace workloads of a
 *                  Simulation, and the scenario validator's checks of their paths
 *   report files   readRunFile, readRunParts (a run file of any length, its summary and chart
 *                  points), loadChartJs, writeReportHtml, writeCompareHtml
 *   live view      createLiveView (esxtop-like, in a terminal)
 *   default        defaultScenario(), DEFAULT_SCENARIO_FILE: the scenario `memvisor run` runs without a file
 *
 * Importing it registers the file operations the main entry's classes reach through
 * src/platform.ts, so a Host imported from either entry gets file swap once this one is loaded.
 */
import { tmpdir } from 'node:os';
import { registerNodeFiles } from './platform.js';
import { SwapDir } from './host/swapdir.js';
import { openImage } from './host/imagefile.js';
import { openTraceWriter } from './translate/tracefile.js';
import { pathInfo, rootPages, filePages } from './workload/contentfiles.js';
import { loadTrace } from './workload/trace.js';

registerNodeFiles({ tmpdir, openSwapDir: (parent) => new SwapDir(parent), openImage, openTraceWriter, pathInfo, rootPages, filePages, loadTrace });

export * from './index.js';
export { FileSwapStore } from './host/fileswap.js';
export { cleanSwapDirs, type CleanReport } from './host/swapdir.js';
export { replayFile } from './translate/tracefile.js';
export { readRunFile, readRunParts, loadChartJs, writeReportHtml, writeCompareHtml } from './report/files.js';
export { createLiveView, type LiveView, type LiveViewOptions, type LiveOutput, type LiveMode } from './report/live.js';
export { defaultScenario, DEFAULT_SCENARIO_FILE } from './sim/default.js';
