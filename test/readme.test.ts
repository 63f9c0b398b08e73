/**
 * The README's generated blocks (src/report/docs.ts) are what their generators make from the
 * code now: a field added to the code without `npx tsx scripts/readme.ts` fails here. The
 * checker is shown to fire on a README whose block was edited by hand.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { README_BLOCKS, readmeBlocks, regenerateReadme, sampleFieldsMarkdown } from '../src/report/docs.js';
import { VM_FIELDS, HOST_FIELDS, GUEST_FIELDS } from '../src/report/fields.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

describe('README generated blocks', () => {
  it('every block is current (run npx tsx scripts/readme.ts after changing the definitions)', () => {
    const blocks = readmeBlocks(readme);
    expect([...blocks.keys()].sort()).toEqual(Object.keys(README_BLOCKS).sort());
    for (const [name, gen] of Object.entries(README_BLOCKS)) expect(blocks.get(name), name).toBe(gen());
    expect(regenerateReadme(readme)).toBe(readme);
  });

  it('the sample fields table names every field the reader knows', () => {
    const table = sampleFieldsMarkdown();
    for (const f of [...HOST_FIELDS, ...VM_FIELDS]) expect(table).toContain(`| \`${f.key}\` |`);
    for (const f of GUEST_FIELDS) expect(table).toContain(`| \`guest.${f.key}\` |`);
  });

  it('the check fires on a block edited by hand, and regenerating repairs it', () => {
    const edited = readme.replace('| VM | `GRANT` |', '| VM | `GRANTED` |');
    expect(edited).not.toBe(readme);
    expect(readmeBlocks(edited).get('sample-fields')).not.toBe(sampleFieldsMarkdown());
    expect(regenerateReadme(edited)).toBe(readme);
  });
});
