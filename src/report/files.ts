/**
 * The report's Node side: the Chart.js build read from node_modules once, and HTML reports
 * written to files. Everything else in src/report is pure and runs in a browser too.
 */
import { closeSync, openSync, readFileSync, readSync, renameSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { renderReportParts, renderCompareParts, reportParts, type ReportParts } from './html.js';
import { parseRunText, writeRunJson, RunFileError, MAX_RUN_TEXT, type Run } from './runfile.js';
import { readRunPieces } from './runreader.js';

let chartJs: string | null = null;

/** The source of Chart.js's UMD build (chart.umd.min.js), for inlining into a report. */
export function loadChartJs(): string {
  // the package's exports map hides dist/; its main entry sits next to the UMD build
  chartJs ??= readFileSync(join(dirname(createRequire(import.meta.url).resolve('chart.js')), 'chart.umd.min.js'), 'utf8');
  return chartJs;
}

/** A whole run's parts, or the parts themselves (a run read by readRunParts, or one whose samples were not kept). */
const partsOf = (x: Run | ReportParts): ReportParts => ('samples' in x ? reportParts(x) : x);

/** Writes the HTML report of `run` (a whole run, or its parts) to `path`. */
export function writeReportHtml(path: string, run: Run | ReportParts, label?: string): void {
  writeFileSync(path, renderReportParts(partsOf(run), { chartJs: loadChartJs(), label }));
}

/** Writes the comparison of runs `a` and `b` (whole runs, or their parts) to `path`. */
export function writeCompareHtml(path: string, a: Run | ReportParts, b: Run | ReportParts, labels: [string, string]): void {
  writeFileSync(path, renderCompareParts(partsOf(a), partsOf(b), { chartJs: loadChartJs(), labels }));
}

/**
 * A run file written while the run goes (`memvisor run --json FILE`, RunJsonWriter's pieces): a
 * regular file is written beside `path` and renamed onto it once whole (`commit`), so a run that
 * fails half-way leaves no half a file, and an old file stays until the new one is complete
 * (`abort` removes the partial one). Anything else (a pipe, /dev/stdout) is written in place.
 */
export class RunFileSink {
  private fd: number;
  private readonly tmp: string | null;

  constructor(readonly path: string) {
    let regular = true;
    try {
      regular = statSync(path).isFile();
    } catch {
      // no file yet: made whole, then renamed into place
    }
    this.tmp = regular ? `${path}.${process.pid}.partial` : null;
    this.fd = openSync(this.tmp ?? path, 'w', 0o644);
  }

  write(chunk: string): void {
    writeSync(this.fd, chunk);
  }

  /** Ends the file with a newline and puts it in place. */
  commit(): void {
    writeSync(this.fd, '\n');
    this.close();
    if (this.tmp) renameSync(this.tmp, this.path);
  }

  /** Drops what was written (never throws: it runs while an error is on its way). */
  abort(): void {
    try {
      this.close();
    } catch {
      // the descriptor is gone either way
    }
    if (this.tmp) {
      try {
        unlinkSync(this.tmp);
      } catch {
        // already gone
      }
    }
  }

  private close(): void {
    if (this.fd < 0) return;
    const fd = this.fd;
    this.fd = -1;
    closeSync(fd);
  }
}

/** Writes a run's JSON to `path`, piece by piece (writeRunJson), with a final newline (RunFileSink). */
export function writeRunFile(path: string, result: object): void {
  const sink = new RunFileSink(path);
  try {
    writeRunJson(result, (chunk) => sink.write(chunk));
    sink.commit();
  } catch (e) {
    sink.abort();
    throw e;
  }
}

/**
 * Reads and checks a run file. An unreadable file throws the operating system's error; one too
 * long to become a string (MAX_RUN_TEXT) a RunFileError that says so, before reading it.
 */
export function readRunFile(path: string): Run {
  const size = statSync(path).size;
  if (size > MAX_RUN_TEXT) {
    throw new RunFileError(path, [{ path: '(file)', value: `${size} bytes of JSON`, expected: `at most ${MAX_RUN_TEXT} bytes (just under 512 MiB), the longest string JavaScript makes (readRunParts reads a run file of any length, keeping its summary and charted points, not its samples)` }]);
  }
  return parseRunText(readFileSync(path, 'utf8'), path);
}

/**
 * A run file of any length read into what its report and a compare are made of (ReportParts),
 * holding one sample at a time, never the file or its samples: `memvisor compare` reads runs
 * this way (runreader.ts readRunPieces says how, and what it checks).
 */
export function readRunParts(path: string): ReportParts {
  return readRunPieces(path, () => fileText(path));
}

/** The text of the file at `path` in pieces of 1 MiB, decoded as UTF-8 (a character split between pieces is kept whole). */
function* fileText(path: string): Generator<string> {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    const decoder = new TextDecoder('utf-8');
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      yield decoder.decode(buf.subarray(0, n), { stream: true });
    }
    yield decoder.decode();
  } finally {
    closeSync(fd);
  }
}
