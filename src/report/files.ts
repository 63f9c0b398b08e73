/**
 * The report's Node side: the Chart.js build read from node_modules once, and HTML reports
 * written to files. Everything else in src/report is pure and runs in a browser too.
 */
import { closeSync, openSync, readFileSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { renderReportHtml, renderCompareHtml } from './html.js';
import { parseRunText, writeRunJson, RunFileError, MAX_RUN_TEXT, type Run } from './runfile.js';

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

/** Writes a run's JSON (`memvisor run --json`) to `path`, piece by piece (writeRunJson), with a final newline. */
export function writeRunFile(path: string, result: object): void {
  const fd = openSync(path, 'w');
  try {
    writeRunJson(result, (chunk) => writeSync(fd, chunk));
    writeSync(fd, '\n');
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads and checks a run file. An unreadable file throws the operating system's error; one too
 * long to become a string (MAX_RUN_TEXT) a RunFileError that says so, before reading it.
 */
export function readRunFile(path: string): Run {
  const size = statSync(path).size;
  if (size > MAX_RUN_TEXT) {
    throw new RunFileError(path, [{ path: '(file)', value: `${size} bytes of JSON`, expected: `at most ${MAX_RUN_TEXT} bytes (just under 512 MiB), the longest string JavaScript makes (run the scenario with a longer sampleInterval, or fewer VMs)` }]);
  }
  return parseRunText(readFileSync(path, 'utf8'), path);
}
