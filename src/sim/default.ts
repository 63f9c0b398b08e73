/**
 * The built-in default scenario: scenarios/default.json in the package (beside dist/ and src/,
 * so one relative path serves both), what `memvisor run` runs without a file and `npm start`
 * shows. Node only (it reads a file); the scenario itself is plain JSON any program can load.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ScenarioInput } from './scenario.js';

/** Absolute path of the default scenario's JSON file. */
export const DEFAULT_SCENARIO_FILE: string = fileURLToPath(new URL('../../scenarios/default.json', import.meta.url));

/** The default scenario as written in its file (a fresh object each call: callers may change it). */
export function defaultScenario(): ScenarioInput {
  return JSON.parse(readFileSync(DEFAULT_SCENARIO_FILE, 'utf8')) as ScenarioInput;
}
