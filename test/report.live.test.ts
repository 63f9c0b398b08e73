/**
 * The live view (src/report/live.ts) on a recording stream: on a TTY a progress bar with ETA
 * and the esxtop screen redrawn in place; not a TTY, plain lines without one escape code;
 * quiet, only the final table. The wall clock is injected, so the ETA is checked exactly.
 */
import { describe, expect, it } from 'vitest';
import { createLiveView, progressLine, plainLine, type LiveOutput } from '../src/report/live.js';
import { esxtopLines } from '../src/report/table.js';
import { parseRun, RunFileError, type SampleLike } from '../src/report/runfile.js';
import { makeRunJson } from './support/runfixture.js';

/** A stream that keeps what is written. */
class Recorder implements LiveOutput {
  chunks: string[] = [];
  constructor(
    readonly isTTY: boolean,
    readonly columns = 160,
    readonly rows = 50,
  ) {}
  write(s: string): boolean {
    this.chunks.push(s);
    return true;
  }
  get text(): string {
    return this.chunks.join('');
  }
}

/** A wall clock that moves `ms` per call. */
function fakeClock(ms: number): () => number {
  let t = 0;
  return () => (t += ms);
}

const json = makeRunJson({ vms: 4, duration: 20, seed: 2 });
const samples = json.samples as SampleLike[];
const run = parseRun(json);
const finalTable = esxtopLines(run.samples[run.samples.length - 1]).join('\n') + '\n';
const ESC = '\u001b';

describe('live view', () => {
  it('not a TTY: one plain line per sample, then the final table, no escape code', () => {
    const out = new Recorder(false);
    const view = createLiveView({ out, duration: 20 });
    expect(view.mode).toBe('plain');
    for (const s of samples) view.sample(s);
    view.end();
    expect(out.text).not.toContain(ESC);
    const lines = out.text.split('\n');
    run.samples.forEach((s, i) => {
      expect(lines[i]).toBe(plainLine(s));
      expect(lines[i]).toMatch(new RegExp(`^t=${s.t.toFixed(1)}s state=${s.host.state} free=${s.host.freeMiB.toFixed(1)} `));
    });
    expect(out.text.endsWith(finalTable)).toBe(true);
  });

  it('quiet: only the final table', () => {
    for (const isTTY of [false, true]) {
      const out = new Recorder(isTTY);
      const view = createLiveView({ out, duration: 20, quiet: true });
      for (const s of samples) view.sample(s);
      expect(out.text).toBe('');
      expect(view.end()?.t).toBe(20);
      expect(out.text).toBe(finalTable);
    }
  });

  it('a TTY: the bar and the screen redrawn in place, the ETA from the wall clock, then the final table', () => {
    const out = new Recorder(true, 200, 60);
    // one wall second per simulated second: at t the ETA is 20 - t seconds
    const view = createLiveView({ out, duration: 20, label: 'demo', wallClock: fakeClock(500), redrawMs: 0 });
    expect(view.mode).toBe('tty');
    for (const s of samples) view.sample(s);
    const live = out.text;
    view.end();
    // redrawn in place: cursor moves and line erases between frames
    expect(live).toMatch(/\u001b\[\d*A/);
    expect(live).toMatch(/\u001b\[2K/);
    // the bar at 25%, 50%, 100% with ETA and simulated time
    expect(live).toContain(`demo  ${'█'.repeat(8)}${'░'.repeat(22)}  25% | 5 of 20 simulated s | ETA 15s`);
    expect(live).toContain(' 50% | 10 of 20 simulated s | ETA 10s');
    expect(live).toContain('100% | 20 of 20 simulated s | ETA 0s');
    // the screen shows the latest sample's host line and every VM
    expect(live).toContain(`MEM state ${run.samples[19].host.state}`);
    for (const n of Object.keys(run.samples[0].vms)) expect(live).toMatch(new RegExp(`\\n${n} +\\d`));
    // the end clears the screen and prints the table for the terminal's width
    expect(out.text.endsWith(esxtopLines(run.samples[19], { width: 200 }).join('\n') + '\n')).toBe(true);
  });

  it('a TTY redraws at most once per redrawMs of wall time, and always the last sample', () => {
    const count = (redrawMs: number) => {
      const out = new Recorder(true);
      const view = createLiveView({ out, duration: 20, wallClock: fakeClock(100), redrawMs });
      for (const s of samples) view.sample(s);
      return out.text.split('simulated s | ETA').length - 1;
    };
    expect(count(0)).toBe(20);
    // the clock moves 100 ms per sample (and once more per drawn frame for the ETA)
    const fewer = count(1000);
    expect(fewer).toBeGreaterThan(1);
    expect(fewer).toBeLessThan(6);
  });

  it('a narrow, short terminal gets a frame that fits', () => {
    const out = new Recorder(true, 80, 14);
    const view = createLiveView({ out, duration: 20, wallClock: fakeClock(10), redrawMs: 0 });
    view.sample(samples[10]);
    const frame = out.text.replace(/\u001b\[[\d;?]*[A-Za-z]/g, '');
    for (const l of frame.split('\n')) expect(l.length).toBeLessThanOrEqual(80);
    // the frame and the cursor's line fit in the terminal's rows, so the bar is never clipped
    expect(frame.split('\n').length).toBeLessThanOrEqual(14);
    expect(frame, frame).toMatch(/\n\.\.\. [1-3] more VMs\n/);
    expect(frame).toContain('not shown at this width');
  });

  it('a sample that is not one is a typed error naming the field', () => {
    const bad = structuredClone(samples[3]) as SampleLike & { host: Record<string, unknown> };
    bad.host.freeMiB = 'lots';
    const view = createLiveView({ out: new Recorder(false), duration: 20 });
    view.sample(samples[0]);
    expect(() => view.sample(bad)).toThrow(RunFileError);
    expect(() => view.sample(bad)).toThrow(/^sample 1: host\.freeMiB: got "lots", expected a number$/);
  });

  it('end without samples prints nothing', () => {
    const out = new Recorder(false);
    expect(createLiveView({ out, duration: 5 }).end()).toBeNull();
    expect(out.text).toBe('');
  });

  it('the progress line comes from cli-progress formats', () => {
    expect(progressLine(0, 60, 0, '', 80)).toBe(`${'░'.repeat(30)}   0% | 0 of 60 simulated s | ETA 0s`);
    expect(progressLine(30, 60, 125, 'x', 80)).toBe(`x  ${'█'.repeat(15)}${'░'.repeat(15)}  50% | 30 of 60 simulated s | ETA 2m05s`);
  });
});
