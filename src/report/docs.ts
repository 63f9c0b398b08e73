/**
 * The README's generated blocks: tables made from the definitions in the code, so the README
 * cannot drift from them. `npx tsx scripts/readme.ts` rewrites each block between its markers
 *
 *   <!-- generated:NAME (npx tsx scripts/readme.ts) -->
 *   ...
 *   <!-- end:NAME -->
 *
 * and test/readme.test.ts fails when a block differs from what its generator makes now.
 */
import { VM_FIELDS, HOST_FIELDS, GUEST_FIELDS, type FieldDoc } from './fields.js';

const UNIT_TEXT: Record<FieldDoc['unit'], string> = {
  MiB: 'MiB',
  'MiB/s': 'MiB per simulated s',
  's/s': 'simulated s per simulated s',
  x: 'ratio',
  touches: 'page touches',
  events: 'count',
  state: 'name',
  s: 'simulated s',
};

/** A markdown table of fields, `prefix` before each key (`guest.`). */
function fieldRows(fields: readonly FieldDoc[], where: string, prefix = ''): string[] {
  return fields.map((f) => `| ${where} | \`${prefix}${f.key}\` | ${UNIT_TEXT[f.unit]} | ${f.meaning}${f.required ? ' (always present)' : ''} |`);
}

/** The table of every sample field a report reads: where, key, unit, meaning. */
export function sampleFieldsMarkdown(): string {
  return [
    '| where | field | unit | meaning |',
    '|---|---|---|---|',
    '| sample | `t` | simulated s | time of the sample since the start (always present) |',
    ...fieldRows(HOST_FIELDS, 'host'),
    '| host | `<level>MiB`, `threshold<Level>MiB`, `wmark<Level>MiB` | MiB | a free-memory level the policy acts at (ESXi: `highMiB`, `clearMiB`, `softMiB`, `hardMiB`; KVM watermarks: `wmarkMinMiB` ...): a dashed line on the free-memory chart |',
    '| host | `reclaimed<Technique>MiB` | MiB | memory a technique holds back, as the policy reports it (`reclaimedBalloonMiB`, ...): the "reclaimed by technique" chart |',
    ...fieldRows(VM_FIELDS, 'VM'),
    ...fieldRows(GUEST_FIELDS, 'VM', 'guest.'),
  ].join('\n');
}


const BLOCK = /<!-- generated:([\w-]+) \(npx tsx scripts\/readme\.ts\) -->\n([\s\S]*?)<!-- end:\1 -->/g;

/** The blocks of `readme` by name, as they are in the text. */
export function readmeBlocks(readme: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of readme.matchAll(BLOCK)) out.set(m[1], m[2].replace(/\n$/, ''));
  return out;
}

/** `readme` with every block `blocks` names made afresh (other names left as they are). */
export function regenerateReadme(readme: string, blocks: Record<string, () => string>): string {
  return readme.replace(BLOCK, (all, name: string) => {
    const gen = Object.hasOwn(blocks, name) ? blocks[name] : undefined;
    return gen ? `<!-- generated:${name} (npx tsx scripts/readme.ts) -->\n${gen()}\n<!-- end:${name} -->` : all;
  });
}
