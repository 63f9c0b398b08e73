/**
 * Every generated block of the README, by name: the sample fields (src/report/fields.ts), the
 * CLI reference (each command's --help text), the library example (examples/quickstart.ts) and
 * the scenario reference (the JSON Schema made
 * from the zod definition). `npx tsx scripts/readme.ts` rewrites them; test/readme.test.ts fails
 * when one differs from what the code makes now, so none can drift.
 */
import { readFileSync } from 'node:fs';
import { sampleFieldsMarkdown } from '../report/docs.js';
import { scenarioJsonSchema } from '../sim/scenario.js';
import { COMMAND_HELP, HELP } from './main.js';

type Schema = {
  type?: string | string[];
  description?: string;
  default?: unknown;
  enum?: unknown[];
  const?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minItems?: number;
  maxItems?: number;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  anyOf?: Schema[];
  oneOf?: Schema[];
  additionalProperties?: boolean | Schema;
};

/** The CLI reference: the top-level help, then each command's own --help, verbatim. */
export function cliReferenceMarkdown(): string {
  const fence = (text: string): string => '```\n' + text.replace(/\n+$/, '') + '\n```';
  const parts = ['`memvisor --help`:', '', fence(HELP)];
  for (const [name, text] of Object.entries(COMMAND_HELP)) parts.push('', `#### \`memvisor ${name}\``, '', fence(text));
  return parts.join('\n');
}

/** `|` and newlines would break a table cell. */
const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');

/** A short text of what a schema accepts: type, enumeration, range. */
function typeText(s: Schema): string {
  if (s.enum) return s.enum.map((v) => `\`${JSON.stringify(v)}\``).join(' | ');
  if (s.const !== undefined) return `\`${JSON.stringify(s.const)}\``;
  const alts = s.anyOf ?? s.oneOf;
  if (alts) return alts.map(typeText).join(' or ');
  let t = Array.isArray(s.type) ? s.type.join(' or ') : s.type ?? 'any';
  if (t === 'array' && s.items) t = `array of ${s.items.properties ? 'objects' : typeText(s.items)}`;
  const lo = s.minimum !== undefined ? `${s.minimum} ≤ ` : s.exclusiveMinimum !== undefined ? `${s.exclusiveMinimum} < ` : '';
  const hi = s.maximum !== undefined && s.maximum < Number.MAX_SAFE_INTEGER ? ` ≤ ${s.maximum}` : s.exclusiveMaximum !== undefined ? ` < ${s.exclusiveMaximum}` : '';
  return lo || hi ? `${t} (${lo}x${hi})` : t;
}

function defaultText(s: Schema, required: boolean): string {
  if (required) return 'required';
  if (s.default === undefined) return '';
  if (typeof s.default === 'object' && s.default !== null && Object.keys(s.default).length === 0) return '';
  return `\`${JSON.stringify(s.default)}\``;
}

/** One row per field, depth first, with its path as a user writes it (`vms[].workload.phases[].at`). */
function schemaRows(s: Schema, path: string, required: boolean, rows: string[]): void {
  if (path) rows.push(`| \`${path}\` | ${cell(typeText(s))} | ${cell(defaultText(s, required))} | ${cell(s.description ?? '')} |`);
  const objects = [s, s.items, ...(s.anyOf ?? []), ...(s.oneOf ?? []), ...((s.items?.anyOf ?? []) as Schema[])].filter((x): x is Schema => !!x?.properties);
  const seen = new Set<string>();
  for (const o of objects) {
    const base = o === s.items || (s.items?.anyOf ?? []).includes(o) ? `${path}[]` : path;
    for (const [key, sub] of Object.entries(o.properties!)) {
      const p = base ? `${base}.${key}` : key;
      if (key === '$schema' || seen.has(p)) continue;
      seen.add(p);
      schemaRows(sub, p, (o.required ?? []).includes(key), rows);
    }
  }
}

/** The scenario reference: every field of the JSON Schema with its type, default and meaning. */
export function scenarioReferenceMarkdown(): string {
  const rows: string[] = [];
  schemaRows(scenarioJsonSchema() as Schema, '', false, rows);
  return ['| field | type | default | meaning |', '|---|---|---|---|', ...rows].join('\n');
}

/** The library in a few lines: examples/quickstart.ts as a user writes it (importing 'memvisor'); test/readme.test.ts runs the file. */
export function libraryExampleMarkdown(): string {
  const text = readFileSync(new URL('../../examples/quickstart.ts', import.meta.url), 'utf8');
  return '```ts\n' + text.replace(/'\.\.\/src\/index\.js'; \/\/ in your project: from 'memvisor'/, "'memvisor';").replace(/\n+$/, '') + '\n```';
}

/** Every generated block by name. */
export const README_BLOCKS: Record<string, () => string> = {
  'sample-fields': sampleFieldsMarkdown,
  'library': libraryExampleMarkdown,
  'cli-reference': cliReferenceMarkdown,
  'scenario-reference': scenarioReferenceMarkdown,
};
