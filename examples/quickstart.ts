import { Simulation } from '../src/index.js'; // in your project: from 'memvisor'

const sim = await Simulation.create({ duration: 10, host: { machineMemoryMiB: 1024 }, vms: [{ name: 'web', count: 3, memoryMiB: 512,
  workload: { phases: [{ at: 0, activeMiB: 240, touchesPerSecond: 1e5 }] } }] });
const run = sim.run((s) => console.log(`t=${s.t}s ${s.host.state} free ${s.host.freeMiB.toFixed(0)} MiB, web-1 holds ${s.vms['web-1'].GRANT.toFixed(0)} MiB`));
console.log(`verified: ${run.verified.ok}, ${run.verified.bytes} bytes compared`);
