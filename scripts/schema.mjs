// Writes the scenario JSON Schema (generated from the zod definition, src/sim/scenario.ts) into
// the package: dist/scenario.schema.json, exported as memvisor/scenario.schema.json.
import { writeFileSync } from 'node:fs';
import { scenarioJsonSchema } from '../dist/sim/scenario.js';

writeFileSync(new URL('../dist/scenario.schema.json', import.meta.url), JSON.stringify(scenarioJsonSchema(), null, 1) + '\n');
