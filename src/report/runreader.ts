/**
 * A run's JSON read piece by piece, never whole (pure; files.ts feeds it a file): the text of each
 * top-level value, and of each sample of `samples` one at a time. A run of a long day of many
 * VMs is more JSON than one JavaScript string holds (MAX_RUN_TEXT, about 512 MiB), and more
 * objects than a heap should hold; read this way, it takes the memory of one sample.
 *
 *   {  "config": {...} ,  "samples": [  {...} ,  {...}  ] ,  "verified": {...}  }
 *      field(key, text)               sample(text) sample(text)      field(key, text)
 *
 * Only the structure is read here: where each value starts and ends (strings, escapes and
 * nesting followed, one pass over the characters). Each piece's own text is JSON.parse'd by the
 * caller, which finds whatever is wrong inside it; so the file is read as valid exactly when
 * it is valid JSON, except that a top-level key may appear only once. Whatever is wrong
 * between pieces is a RunFileError naming the line and what was expected there.
 */
import { RunChecker, RunFileError, MAX_RUN_TEXT } from './runfile.js';
import { RunSummarizer } from './summary.js';
import { RollUpStream, samplesPerPoint } from './rollup.js';
import type { ReportParts } from './html.js';

/** What the reader finds, in file order. */
export interface RunTextHandler {
  /** A top-level key other than `samples` (or `samples` not holding an array), with the JSON text of its value. */
  field(key: string, text: string, line: number): void;
  /** The next element of `samples`: its JSON text ('' when read without text), and the line it starts on. */
  sample(text: string, line: number): void;
}

// where the reader is: between pieces (what may come next), or inside one
const BEGIN = 0; // '{'
const FIRST_KEY = 1; // a key or '}'
const KEY = 2; // a key, after ','
const COLON = 3; // ':'
const VALUE = 4; // a value
const AFTER_VALUE = 5; // ',' or '}'
const FIRST_SAMPLE = 6; // a sample or ']'
const SAMPLE = 7; // a sample, after ','
const AFTER_SAMPLE = 8; // ',' or ']'
const END = 9; // nothing but white space
const PIECE = 10; // inside a key, a value or a sample

// what a piece is
const TO_KEY = 0;
const TO_FIELD = 1;
const TO_SAMPLE = 2;

const QUOTE = 0x22, BACKSLASH = 0x5c, COMMA = 0x2c, COLON_CH = 0x3a, LF = 0x0a;
const OPEN_OBJ = 0x7b, CLOSE_OBJ = 0x7d, OPEN_ARR = 0x5b, CLOSE_ARR = 0x5d;

const isSpace = (c: number) => c === 0x20 || c === LF || c === 0x0d || c === 0x09;
/** A character a JSON value can start with. */
const startsValue = (c: number) => c === OPEN_OBJ || c === OPEN_ARR || c === QUOTE || c === 0x2d || (c >= 0x30 && c <= 0x39) || c === 0x74 || c === 0x66 || c === 0x6e;

export class RunTextReader {
  private state = BEGIN;
  /** 1-based line of the character read next */
  private line = 1;
  private key = '';
  private readonly keys = new Set<string>();
  private samples = 0;
  private sawArray = false;
  /** chunks pushed; the chunk and place of the next backslash (piece's string search) */
  private chunks = 0;
  private slashChunk = -1;
  private slashAt = 0;
  // the piece being read
  /** where it starts in the chunk being read (0 once it goes on into a later chunk) */
  private from = 0;
  private to = TO_KEY;
  private scalar = false;
  private depth = 0;
  private inString = false;
  private escaped = false;
  private parts: string[] = [];
  private size = 0;
  private pieceLine = 1;
  /** the state after the piece */
  private after = END;

  /** `text`: false to read sample pieces without keeping their text (to count them). */
  constructor(
    private readonly file: string,
    private readonly on: RunTextHandler,
    private readonly text = true,
  ) {}

  /** Samples read so far. */
  get sampleCount(): number {
    return this.samples;
  }

  /** Whether `samples` held an array. */
  get samplesArray(): boolean {
    return this.sawArray;
  }

  /** Reads the next piece of the text. */
  push(chunk: string): void {
    this.chunks++;
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      if (this.state === PIECE) {
        i = this.piece(chunk, i);
        continue;
      }
      const c = chunk.charCodeAt(i);
      if (isSpace(c)) {
        if (c === LF) this.line++;
        i++;
        continue;
      }
      switch (this.state) {
        case BEGIN:
          if (c !== OPEN_OBJ) this.fail(chunk, i, "a run: a JSON object, starting with '{'");
          this.state = FIRST_KEY;
          i++;
          break;
        case FIRST_KEY:
        case KEY:
          if (c === CLOSE_OBJ && this.state === FIRST_KEY) {
            this.state = END;
            i++;
          } else if (c === QUOTE) {
            this.begin(i, TO_KEY, false, COLON);
          } else {
            this.fail(chunk, i, this.state === FIRST_KEY ? "a key in double quotes, or '}'" : 'a key in double quotes');
          }
          break;
        case COLON:
          if (c !== COLON_CH) this.fail(chunk, i, `':' after the key ${JSON.stringify(this.key)}`);
          this.state = VALUE;
          i++;
          break;
        case VALUE:
          if (this.key === 'samples' && c === OPEN_ARR) {
            this.sawArray = true;
            this.state = FIRST_SAMPLE;
            i++;
          } else {
            if (!startsValue(c)) this.fail(chunk, i, `a value for the key ${JSON.stringify(this.key)}`);
            this.begin(i, TO_FIELD, c !== OPEN_OBJ && c !== OPEN_ARR && c !== QUOTE, AFTER_VALUE);
          }
          break;
        case AFTER_VALUE:
          if (c === COMMA) this.state = KEY;
          else if (c === CLOSE_OBJ) this.state = END;
          else this.fail(chunk, i, `',' or '}' after the value of ${JSON.stringify(this.key)}`);
          i++;
          break;
        case FIRST_SAMPLE:
        case SAMPLE:
          if (c === CLOSE_ARR && this.state === FIRST_SAMPLE) {
            this.state = AFTER_VALUE;
            i++;
          } else {
            if (!startsValue(c)) this.fail(chunk, i, `samples[${this.samples}]: a value${this.state === FIRST_SAMPLE ? ", or ']'" : ''}`);
            this.begin(i, TO_SAMPLE, c !== OPEN_OBJ && c !== OPEN_ARR && c !== QUOTE, AFTER_SAMPLE);
          }
          break;
        case AFTER_SAMPLE:
          if (c === COMMA) this.state = SAMPLE;
          else if (c === CLOSE_ARR) this.state = AFTER_VALUE;
          else this.fail(chunk, i, `',' or ']' after samples[${this.samples - 1}]`);
          i++;
          break;
        default: // END
          this.fail(chunk, i, "nothing after the run's closing '}'");
      }
    }
    // a piece that goes on into the next chunk keeps what it has so far
    if (this.state === PIECE && this.keeps()) this.hold(chunk.slice(this.from));
    this.from = 0;
  }

  /** The end of the text: the run must be complete. */
  end(): void {
    if (this.state === PIECE && this.scalar) this.close(''); // a number or literal ends at the end of the text
    if (this.state === END) return;
    const inside = this.state === PIECE ? (this.to === TO_SAMPLE ? `samples[${this.samples}]` : this.to === TO_FIELD ? `the value of ${JSON.stringify(this.key)}` : 'a key')
      : this.state >= FIRST_SAMPLE && this.state <= AFTER_SAMPLE ? 'samples' : 'the run';
    throw new RunFileError(this.file, [{ path: '(file)', value: '(end of file)', expected: `the rest of ${inside}: the file ends at line ${this.line}` }]);
  }

  // ---- pieces ----------------------------------------------------------------------------------

  /** A piece starts at `i` of the chunk: what it is, and the state after it. */
  private begin(i: number, to: number, scalar: boolean, after: number): void {
    this.to = to;
    this.scalar = scalar;
    this.depth = 0;
    this.inString = false;
    this.escaped = false;
    this.parts = [];
    this.size = 0;
    this.pieceLine = this.line;
    this.after = after;
    this.state = PIECE;
    this.from = i;
  }

  private keeps(): boolean {
    return this.text || this.to !== TO_SAMPLE;
  }

  /** Reads on in the piece from `i`; returns where it stopped (the end of the chunk, or just after the piece). */
  private piece(chunk: string, i: number): number {
    const n = chunk.length;
    if (this.scalar) {
      // a number or a literal: up to the next delimiter, which is not part of it
      for (; i < n; i++) {
        const c = chunk.charCodeAt(i);
        if (c === COMMA || c === CLOSE_OBJ || c === CLOSE_ARR || isSpace(c)) {
          this.close(chunk.slice(this.from, i));
          return i;
        }
      }
      return i;
    }
    let { depth, inString, escaped } = this;
    let lines = 0;
    for (; i < n; i++) {
      if (inString) {
        if (escaped) {
          escaped = false;
          continue;
        }
        // strings are much of a run's text: jump to the next quote or backslash (native searches)
        let q = chunk.indexOf('"', i);
        if (q < 0) q = n;
        if (this.slashChunk !== this.chunks || this.slashAt < i) {
          const b = chunk.indexOf('\\', i);
          this.slashAt = b < 0 ? n : b;
          this.slashChunk = this.chunks;
        }
        if (this.slashAt < q) {
          i = this.slashAt;
          escaped = true;
          continue;
        }
        i = q;
        if (q === n) break;
        inString = false;
        if (depth === 0) break; // a string piece: its closing quote
        continue;
      }
      const c = chunk.charCodeAt(i);
      if (c === QUOTE) inString = true;
      else if (c === OPEN_OBJ || c === OPEN_ARR) depth++;
      else if (c === CLOSE_OBJ || c === CLOSE_ARR) {
        // a mismatched bracket ends the piece too: JSON.parse of its text then says what is wrong
        if (--depth <= 0) break;
      } else if (c === LF) lines++;
    }
    this.line += lines;
    if (i < n) {
      this.close(chunk.slice(this.from, i + 1));
      return i + 1;
    }
    this.depth = depth;
    this.inString = inString;
    this.escaped = escaped;
    return i;
  }

  private hold(s: string): void {
    this.size += s.length;
    if (this.size > MAX_RUN_TEXT) {
      const what = this.to === TO_SAMPLE ? `samples[${this.samples}]` : `the value of ${JSON.stringify(this.key)}`;
      throw new RunFileError(this.file, [{ path: '(file)', value: `${this.size} characters of ${what}`, expected: `at most ${MAX_RUN_TEXT} characters in one value (line ${this.pieceLine})` }]);
    }
    this.parts.push(s);
  }

  /** The piece ends with `tail` (the rest of it in this chunk). */
  private close(tail: string): void {
    const text = this.keeps() ? (this.parts.length ? (this.hold(tail), this.parts.join('')) : tail) : '';
    this.parts = [];
    this.state = this.after;
    if (this.to === TO_KEY) {
      let key: unknown;
      try {
        key = JSON.parse(text);
      } catch (e) {
        throw new RunFileError(this.file, [{ path: '(file)', value: text.slice(0, 40), expected: `a key: a JSON string (${(e as Error).message}) (line ${this.pieceLine})` }]);
      }
      this.key = key as string;
      if (this.keys.has(this.key)) throw new RunFileError(this.file, [{ path: '(file)', value: this.key, expected: `each key of the run once; ${JSON.stringify(this.key)} comes a second time (line ${this.pieceLine})` }]);
      this.keys.add(this.key);
    } else if (this.to === TO_FIELD) {
      this.on.field(this.key, text, this.pieceLine);
    } else {
      this.samples++;
      this.on.sample(text, this.pieceLine);
    }
  }

  private fail(chunk: string, i: number, expected: string): never {
    throw new RunFileError(this.file, [{ path: '(file)', value: chunk.slice(i, i + 20), expected: `${expected} (line ${this.line})` }]);
  }
}

/**
 * A run's text of any length, handed over in pieces (`pieces` gives them from the start each
 * time it is called; `path` names the run in errors), read into what its report and a compare
 * are made of (ReportParts: the summary of every sample, the points its charts show), holding
 * one sample at a time. The same as reportParts(parseRunText(text)), and checked the same
 * (RunChecker: the same problems, named the same way); only a top-level key given twice is
 * refused here, where JSON.parse keeps the last.
 *
 * Two passes over the text: the first counts the samples (the charts' group size depends on how
 * many there are, as in rollUp), the second checks, summarizes and rolls them up.
 */
export function readRunPieces(path: string, pieces: () => Iterable<string>): ReportParts {
  const counter = new RunTextReader(path, { field() {}, sample() {} }, false);
  feed(pieces(), counter);
  const count = counter.sampleCount;
  const checker = new RunChecker(path);
  const head: Record<string, unknown> = {};
  const summary = new RunSummarizer();
  const points = new RollUpStream(samplesPerPoint(count));
  const json = (text: string, what: string, line: number): unknown => {
    try {
      return JSON.parse(text);
    } catch (e) {
      throw new RunFileError(path, [{ path: what, value: text.slice(0, 40), expected: `JSON (${(e as Error).message}) (line ${line})` }]);
    }
  };
  let samplesNotArray = false;
  const handler: RunTextHandler = {
    field(key, text, line) {
      const value = json(text, key, line);
      if (key === 'samples') {
        samplesNotArray = true;
        checker.samplesValue(value);
      } else {
        // as JSON.parse makes it: an own key even when it is "__proto__"
        Object.defineProperty(head, key, { value, enumerable: true, writable: true, configurable: true });
      }
    },
    sample(text, line) {
      const s = checker.sample(json(text, `samples[${checker.count}]`, line));
      if (s) {
        summary.add(s);
        points.add(s);
      }
    },
  };
  const reader = new RunTextReader(path, handler);
  feed(pieces(), reader);
  if (reader.samplesArray) {
    if (count === 0) checker.samplesValue([]);
  } else if (!samplesNotArray) checker.samplesValue(undefined); // no samples key
  const h = checker.head(head);
  checker.finish();
  return { shown: { run: { ...h!, samples: points.finish() }, per: points.per }, sampleCount: count, summary: summary.finish(h!.verified, h!.config) };
}

/** Reads every piece with `reader`, then ends it. */
function feed(pieces: Iterable<string>, reader: RunTextReader): void {
  for (const p of pieces) reader.push(p);
  reader.end();
}
