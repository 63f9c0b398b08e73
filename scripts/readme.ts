// Rewrites the README's generated blocks (src/cli/readme.ts) from the code's definitions.
import { readFileSync, writeFileSync } from 'node:fs';
import { regenerateReadme } from '../src/report/docs.js';
import { README_BLOCKS } from '../src/cli/readme.js';

const path = new URL('../README.md', import.meta.url);
const before = readFileSync(path, 'utf8');
const after = regenerateReadme(before, README_BLOCKS);
writeFileSync(path, after);
process.stdout.write(before === after ? 'README.md: generated blocks already current\n' : 'README.md: generated blocks rewritten\n');
