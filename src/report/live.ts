/**
 * The live view of a run: what the terminal shows while the simulation runs. The caller hands
 * it each sample as the simulation takes it and calls `end()` once:
 *
 *   const view = createLiveView({ out: process.stdout, duration: sim.config.duration, quiet });
 *   const result = sim.run((s) => view.sample(s));
 *   view.end();                       // the final esxtop table
 *
 *   mode   per sample                                                  at the end
 *   tty    a progress bar (simulated time, ETA) over the esxtop        the final table
 *          screen, redrawn in place (log-update; the bar's text from
 *          cli-progress's formatter)
 *   plain  one line: t, state, free, minFree, savings, swap, the       the final table
 *          VM that stalls most; no escape codes (a pipe, a log file)
 *   quiet  nothing                                                     the final table
 *
 * The mode defaults to tty when `out.isTTY`, else plain. log-update owns the screen (it diffs
 * frames and clips them to the terminal's height); the bar is cli-progress's format rendered
 * into the frame's first line, not a second writer moving the cursor. The ETA is wall-clock
 * time on the screen only: it never enters a sample, a result or a report.
 */
import { createLogUpdate } from 'log-update';
import cliProgress from 'cli-progress';
import { parseSample, type RunSample, type RunVm, type SampleLike } from './runfile.js';
import { esxtopLines, zipSavedMiB } from './table.js';

/** Where the view writes: a stream; `isTTY`, `columns` and `rows` as a tty.WriteStream has them. */
export interface LiveOutput {
  write(s: string): unknown;
  isTTY?: boolean;
  columns?: number;
  rows?: number;
}

export type LiveMode = 'tty' | 'plain' | 'quiet';

export interface LiveViewOptions {
  out: LiveOutput;
  /** simulated seconds the run lasts (the bar's end) */
  duration: number;
  /** default: tty when out.isTTY, else plain */
  mode?: LiveMode;
  /** shorthand for mode 'quiet' */
  quiet?: boolean;
  /** what runs (a scenario file name), on the bar's line */
  label?: string;
  /** wall-clock milliseconds, for the ETA and the redraw rate (default Date.now) */
  wallClock?: () => number;
  /** fewest wall milliseconds between two redraws on a TTY (default 50); the last sample always draws */
  redrawMs?: number;
}

export interface LiveView {
  readonly mode: LiveMode;
  /** Shows one sample (call in order, once per sample). */
  sample(s: SampleLike): void;
  /** Ends the view: clears the live screen and prints the final table. Returns the last sample, if any. */
  end(): RunSample | null;
}

const BAR_SIZE = 30;
const BAR_OPTIONS = {
  format: '{label}{bar} {percentage}% | {value} of {total} simulated s | ETA {eta_formatted}',
  barsize: BAR_SIZE,
  barCompleteString: '\u2588'.repeat(BAR_SIZE),
  barIncompleteString: '\u2591'.repeat(BAR_SIZE),
  barGlue: '',
  autopadding: true,
  // three spaces, as cli-progress's own option parser sets it: percentages pad to 3 columns
  autopaddingChar: '   ',
  align: 'left' as const,
  /** '45s', '2m05s', '1h02m': cli-progress's own pads with spaces (' 2m 5s') */
  formatTime: (t: number) => {
    const two = (x: number) => String(x).padStart(2, '0');
    if (t >= 3600) return `${Math.floor(t / 3600)}h${two(Math.round((t % 3600) / 60))}m`;
    if (t >= 60) return `${Math.floor(t / 60)}m${two(Math.round(t % 60))}s`;
    return `${Math.round(t)}s`;
  },
};

/** The progress line: cli-progress's bar and time formats for simulated time `t` of `duration`. */
export function progressLine(t: number, duration: number, etaSeconds: number, label: string, width: number): string {
  const progress = duration > 0 ? Math.min(1, Math.max(0, t / duration)) : 1;
  const params = { progress, eta: Math.max(0, Math.round(etaSeconds)), startTime: 0, stopTime: 0, total: Number(duration.toFixed(1)), value: Number(t.toFixed(1)), maxWidth: width };
  return cliProgress.Format.Formatter(BAR_OPTIONS, params, { label: label ? `${label}  ` : '' });
}

/** The plain line of one sample (see the module overview). */
export function plainLine(s: RunSample): string {
  const h = s.host, vms = Object.values(s.vms);
  const m = (x: number | undefined) => (x === undefined ? '-' : x.toFixed(1));
  const sum = (f: (v: RunVm) => number | undefined) => vms.reduce<number | undefined>((a, v) => (f(v) === undefined ? a : (a ?? 0) + f(v)!), undefined);
  let worst: [string, number] | null = null;
  for (const [n, v] of Object.entries(s.vms)) if (v.stall !== undefined && (!worst || v.stall > worst[1])) worst = [n, v.stall];
  const parts = [
    `t=${s.t.toFixed(1)}s`,
    ...(h.state !== undefined ? [`state=${h.state}`] : []),
    `free=${m(h.freeMiB)}`,
    ...(h.minFreeMiB !== undefined ? [`minFree=${m(h.minFreeMiB)}`] : []),
    `PSHARE=${m(h.sharedSavedMiB ?? sum((v) => v.SHRDSVD))}`,
    `ZIPsaved=${m(zipSavedMiB(vms))}`,
    `SWAP=${m(h.swapMiB ?? sum((v) => v.SWCUR))}`,
    `balloon=${m(h.balloonMiB ?? sum((v) => v.MCTLSZ))}`,
  ];
  return `${parts.join(' ')} MiB${worst ? ` | most stalled ${worst[0]} ${worst[1].toFixed(3)} s/s` : ''}`;
}

/** Creates the live view (see the module overview). */
export function createLiveView(opts: LiveViewOptions): LiveView {
  const out = opts.out;
  const mode: LiveMode = opts.quiet ? 'quiet' : opts.mode ?? (out.isTTY ? 'tty' : 'plain');
  const now = opts.wallClock ?? Date.now;
  const redrawMs = opts.redrawMs ?? 50;
  const started = now();
  let last: RunSample | null = null;
  let drawnAt = -Infinity;
  let n = 0;
  // log-update needs a stream; it reads columns and rows from it on every frame
  const log = mode === 'tty' ? createLogUpdate(out as NodeJS.WriteStream) : null;

  const frame = (s: RunSample): string => {
    const width = Math.max(40, out.columns ?? 120);
    const rows = out.rows ?? 40;
    const elapsed = (now() - started) / 1000;
    const done = opts.duration > 0 ? s.t / opts.duration : 1;
    const eta = done > 0 ? (elapsed * (1 - done)) / done : 0;
    // as many VM rows as the terminal has room for below the bar and the table's other lines
    const full = esxtopLines(s, { width });
    const nvms = Object.keys(s.vms).length;
    const room = rows - 3 - (full.length - nvms);
    const table = room >= nvms ? full : esxtopLines(s, { width, maxVms: Math.max(1, room - 1) });
    return [progressLine(s.t, opts.duration, eta, opts.label ?? '', width), '', ...table].join('\n');
  };

  return {
    mode,
    sample(input: SampleLike): void {
      const s = parseSample(input, `sample ${n}`);
      n++;
      last = s;
      if (mode === 'plain') out.write(plainLine(s) + '\n');
      else if (log) {
        const t = now();
        const final = opts.duration > 0 && s.t >= opts.duration - 1e-9;
        if (final || t - drawnAt >= redrawMs) {
          log(frame(s));
          drawnAt = t;
        }
      }
    },
    end(): RunSample | null {
      if (log) log.clear();
      if (last) out.write(esxtopLines(last, log ? { width: out.columns } : {}).join('\n') + '\n');
      return last;
    },
  };
}
