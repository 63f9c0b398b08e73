/**
 * The report's Node side: the Chart.js build read from node_modules once, and HTML reports
 * written to files. Everything else in src/report is pure and runs in a browser too.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { renderReportHtml, renderCompareHtml } from './html.js';
import { parseRunText, type Run } from './runfile.js';

let chartJs: string | null = null;

/** The source of Chart.js's UMD build (chart.umd.min.js), for inlining into a report. */
export function loadChartJs(): string {
  // the package's exports map hides dist/; its main entry sits next to the UMD build
  chartJs ??= readFileSync(join(dirname(createRequire(import.meta.url).resolve('chart.js')), 'chart.umd.min.js'), 'utf8');
  return chartJs;
}

/** Writes the HTML report of `run` to `path`. */
export function writeReportHtml(path: string, run: Run, label?: string): void {
  writeFileSync(path, renderReportHtml(run, { chartJs: loadChartJs(), label }));
}

/** Writes the comparison of runs `a` and `b` to `path`. */
export function writeCompareHtml(path: string, a: Run, b: Run, labels: [string, string]): void {
  writeFileSync(path, renderCompareHtml(a, b, { chartJs: loadChartJs(), labels }));
}

/** Reads and checks a run file. An unreadable file throws the operating system's error. */
export function readRunFile(path: string): Run {
  return parseRunText(readFileSync(path, 'utf8'), path);
}
