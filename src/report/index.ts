/**
 * Reports of runs: what a user of the library may call. The run-file reader, the esxtop table,
 * the summary, the HTML pages and compare are pure (they run in a browser) and are exported
 * here; files.ts and the live view need Node (files, a terminal): the Node entry exports them.
 *
 *   run JSON ──parseRun──▶ Run ──esxtopLines(sample)──▶ lines        (table.ts)
 *   run file of any length ──readRunParts (Node; runreader.ts)──▶ ReportParts: summary, chart points
 *                              ──summarizeRun──▶ RunSummary            (summary.ts)
 *                              ──renderReportHtml / renderCompareHtml──▶ one HTML page (html.ts)
 *   Simulation ──each sample──▶ createLiveView(...).sample(s) ──end()──▶ terminal (live.ts)
 */
export { parseRun, parseRunText, parseSample, vmNames, writeRunJson, RunFileError, type Run, type RunSample, type RunHost, type RunVm, type RunConfig, type RunProblem, type SampleLike } from './runfile.js';
export { VM_FIELDS, HOST_FIELDS, GUEST_FIELDS, type FieldDoc } from './fields.js';
export { esxtopLines, type TableOptions } from './table.js';
export { summarizeRun, summaryLines, type RunSummary, type VmSummary, type HostSummary } from './summary.js';
export { compareLines, compareRows, type CompareRow } from './compare.js';
export { renderReportHtml, renderCompareHtml, type HtmlOptions, type CompareOptions, type ReportParts } from './html.js';
// the live view (a terminal) and files.ts need Node: src/node.ts exports them
