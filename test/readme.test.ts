/**
 * The README's generated blocks (src/cli/readme.ts) are what their generators make from the
 * code now: a field added to the code without `npx tsx scripts/readme.ts` fails here. The
 * checker is shown to fire on a README whose block was edited by hand.
 */
import { describe, expect, it, vi } from 'vitest';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { readmeBlocks, regenerateReadme, sampleFieldsMarkdown } from '../src/report/docs.js';
import { README_BLOCKS, cliReferenceMarkdown, libraryExampleMarkdown, scenarioReferenceMarkdown } from '../src/cli/readme.js';
import { COMMAND_HELP } from '../src/cli/main.js';
import { VM_FIELDS, HOST_FIELDS, GUEST_FIELDS } from '../src/report/fields.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

describe('README generated blocks', () => {
  it('every block is current (run npx tsx scripts/readme.ts after changing the definitions)', () => {
    const blocks = readmeBlocks(readme);
    expect([...blocks.keys()].sort()).toEqual(Object.keys(README_BLOCKS).sort());
    for (const [name, gen] of Object.entries(README_BLOCKS)) expect(blocks.get(name), name).toBe(gen());
    expect(regenerateReadme(readme, README_BLOCKS)).toBe(readme);
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
    expect(regenerateReadme(edited, README_BLOCKS)).toBe(readme);
  });

  it('the scenario reference has a row for every field path, with its default and range, down to the phases', () => {
    const table = scenarioReferenceMarkdown();
    for (const path of ['seed', 'duration', 'host.machineMemoryMiB', 'host.swap.tier', 'vms[].memoryMiB', 'vms[].workload.phases[].activeMiB', 'vms[].os.balloon.inflateMiBps', 'policy.kind', 'policy.idleTax', 'costs.hit'])
      expect(table, path).toContain(`| \`${path}\` |`);
    expect(table).toMatch(/\| `duration` \| number \(0 < x ≤ 1000000\) \| required \| simulated seconds \|/);
    expect(table).toMatch(/\| `host\.swap\.tier` \| `"hostcache"` \\\| `"ssd"` \\\| `"hdd"` \| `"ssd"` \|/);
    expect(table).not.toContain('$schema');
  });

  it('the CLI reference holds every command\'s help text as it is', () => {
    const text = cliReferenceMarkdown();
    for (const [name, help] of Object.entries(COMMAND_HELP)) {
      expect(text).toContain(`#### \`memvisor ${name}\``);
      expect(text).toContain(help.replace(/\n+$/, ''));
    }
  });

  it('the check fires on a scenario reference edited by hand', () => {
    const edited = readme.replace('| `policy.idleTax` |', '| `policy.idleTaxPercent` |');
    expect(edited).not.toBe(readme);
    expect(readmeBlocks(edited).get('scenario-reference')).not.toBe(scenarioReferenceMarkdown());
    expect(regenerateReadme(edited, README_BLOCKS)).toBe(readme);
  });

  it('the library example is examples/quickstart.ts importing memvisor, and it runs: samples printed, the run verified', async () => {
    expect(libraryExampleMarkdown()).toContain("import { Simulation } from 'memvisor';");
    expect(libraryExampleMarkdown()).not.toContain('../src/');
    const lines: string[] = [];
    const spy = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')));
    try {
      await import('../examples/quickstart.js');
    } finally {
      spy.mockRestore();
    }
    expect(lines.filter((l) => /^t=\d+s (high|clear|soft|hard|low) free \d+ MiB, web-1 holds \d+ MiB$/.test(l))).toHaveLength(10);
    expect(lines.at(-1)).toMatch(/^verified: true, [1-9]\d+ bytes compared$/);
  }, 120_000);
});

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens. */
const anchorOf = (h: string) => h.trim().toLowerCase().replace(/[^\w\- ]/g, '').replace(/ /g, '-');

/** Anchors of a markdown text's headings (outside code fences). */
function anchors(md: string): Set<string> {
  const out = new Set<string>();
  let fence = false;
  for (const line of md.split('\n')) {
    if (line.startsWith('```')) fence = !fence;
    const m = fence ? null : /^#{1,6} (.*)$/.exec(line);
    if (m) out.add(anchorOf(m[1]));
  }
  return out;
}

/** Relative links of `md` (in `dir` of the repository) that name no file or no heading there. */
function brokenLinks(files: Map<string, string>, exists: (path: string) => boolean): string[] {
  const bad: string[] = [];
  for (const [file, md] of files) {
    const dir = file.includes('/') ? file.slice(0, file.lastIndexOf('/') + 1) : '';
    for (const m of md.matchAll(/\]\(([^)\s]+)\)/g)) {
      const link = m[1];
      if (/^[a-z]+:/.test(link)) continue;
      const [path, hash] = link.split('#');
      const resolved = path ? new URL(path, `file:///x/r/${dir}`).pathname : `/x/r/${file}`;
      if (!resolved.startsWith('/x/r/')) continue; // outside the repository
      const target = resolved.slice(5);
      if (!files.has(target) && !exists(target)) bad.push(`${file}: ${link} (no file)`);
      else if (hash && files.has(target) && !anchors(files.get(target)!).has(hash)) bad.push(`${file}: ${link} (no heading)`);
    }
  }
  return bad;
}

describe('README and docs/ links', () => {
  const root = new URL('../', import.meta.url);
  const files = new Map<string, string>([['README.md', readme]]);
  for (const f of readdirSync(new URL('docs/', root))) if (f.endsWith('.md')) files.set(`docs/${f}`, readFileSync(new URL(`docs/${f}`, root), 'utf8'));
  const exists = (p: string) => existsSync(new URL(p, root));

  it('every relative link names a file of the repository, and a heading of it when it has an anchor', () => {
    expect(files.size).toBeGreaterThan(5);
    expect(brokenLinks(files, exists)).toEqual([]);
  });

  it('the check fires on a missing file and on a missing heading', () => {
    const broken = new Map(files);
    broken.set('docs/x.md', '[a](policy.md#no-such-heading) [b](nothing.md) [c](../README.md#counters) [d](#here)\n## Here');
    expect(brokenLinks(broken, exists)).toEqual(['docs/x.md: policy.md#no-such-heading (no heading)', 'docs/x.md: nothing.md (no file)']);
  });
});
