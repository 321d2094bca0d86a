/**
 * Simulator speed: simulated message deliveries per wall-clock second.
 *   npm run build && node dist/bench/sim.js
 * Figures only; never part of `npm test`. On a busy machine compare the per-CPU-second figure
 * (process CPU, garbage collector threads included) across builds run in one session.
 */
import { cpus } from 'node:os';
import { runSeed } from '../src/sim/run.js';
import { Simulation } from '../src/sim/simulation.js';
import { DEFAULT_SIM_OPTIONS, type SimOptions } from '../src/sim/options.js';
import { protocolByName } from '../src/protocols/registry.js';

function measure(label: string, options: Partial<SimOptions>, seeds: number, withCheck: boolean): void {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let delivered = 0;
  let events = 0;
  let ops = 0;
  for (let seed = 1; seed <= seeds; seed++) {
    const o = { ...DEFAULT_SIM_OPTIONS, ...options, seed };
    const r = withCheck ? runSeed(o) : new Simulation(protocolByName(o.protocol), o).run();
    delivered += r.stats.messagesDelivered;
    events += r.stats.events;
    ops += r.stats.operations;
  }
  const wallS = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuS = (cpu.user + cpu.system) / 1e6;
  console.log(
    `${label.padEnd(44)} ${seeds} seeds  ${Math.round(delivered / wallS).toLocaleString('en-US').padStart(9)} deliveries/s  ` +
      `${Math.round(events / wallS).toLocaleString('en-US').padStart(9)} events/s  ${Math.round(delivered / cpuS).toLocaleString('en-US').padStart(9)} deliveries/cpu-s  ` +
      `${ops} ops  wall ${wallS.toFixed(1)} s  cpu ${cpuS.toFixed(2)} s`,
  );
}

console.log(`node ${process.version}, ${cpus()[0]?.model ?? 'cpu'}; one thread`);
measure('raft, 3 nodes, no faults (simulation only)', { nodes: 3, faults: new Set() }, 10, false);
// The workload the simulator ran before it ran the shipped driver, storage and state machine
// (small values only, a snapshot every 40 entries): the same work per message across builds.
measure('raft, 3 nodes, no faults, small values, snap/40', { nodes: 3, faults: new Set(), largeWrites: false, compactEvery: 40 }, 10, false);
measure('raft, 5 nodes, all faults (simulation only)', { nodes: 5 }, 10, false);
measure('raft, 5 nodes, all faults (+ linearizability)', { nodes: 5 }, 10, true);
