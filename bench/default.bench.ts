/**
 * The default scenario (scenarios/default.json: six VMs, 2 GiB of guests on a 1 GiB host, 150
 * simulated seconds through every ESXi memory state), what `memvisor run` and `npm start` show.
 * One operation is one whole run as the CLI does it, minus the terminal: build the host and boot
 * the guests, run to the end, verify every VM's memory, close. Release module; every page lives in
 * engine memory. Its mean time is the wall time a user waits (target: <= 30 s on the 2-core dev
 * box); the report's rate is simulated seconds per wall second.
 */
import { bench, describe } from 'vitest';
import { Simulation, defaultScenario, parseScenario } from '../src/node.js';
import { recordUnits, task } from './lib.js';

recordUnits(import.meta.url);

const duration = parseScenario(defaultScenario()).duration;

describe('default scenario', () => {
  bench(task('default scenario', `whole run (create, ${duration} simulated s, verify): simulated s`, duration, 'item', 'engine'), async () => {
    const sim = await Simulation.create(defaultScenario(), { flavor: 'release' });
    try {
      if (!sim.run().verified.ok) throw new Error('default scenario: the oracle found a difference');
    } finally {
      sim.close();
    }
  }, { iterations: 2, time: 0, warmupIterations: 0, warmupTime: 0 });
});
