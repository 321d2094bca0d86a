/**
 * Messages per committed write, Raft against Multi-Paxos and VR, on the same simulated runs (same
 * seeds, nodes, workload and faults; heartbeats included, as they are part of the cost).
 *   npm run build && node dist/bench/messages-per-write.js [seeds=200]
 * A committed write is a put, cas or delete that a client saw answered (a failed cas went
 * through the log too). Figures only; never part of `npm test`.
 */
import { DEFAULT_SIM_OPTIONS, type FaultKind, FAULT_KINDS } from '../src/sim/options.js';
import { Simulation } from '../src/sim/simulation.js';
import { protocolByName } from '../src/protocols/registry.js';

const seeds = Number(process.argv[2] ?? 200);

function measure(protocol: string, faults: ReadonlySet<FaultKind>): string {
  let delivered = 0;
  let writes = 0;
  let reads = 0;
  for (let seed = 1; seed <= seeds; seed++) {
    const o = { ...DEFAULT_SIM_OPTIONS, protocol, faults, seed };
    const r = new Simulation(protocolByName(protocol), o).run();
    delivered += r.stats.messagesDelivered;
    for (const op of r.history) {
      if (op.outcome === 'unknown') continue;
      if (op.kind === 'read') reads++;
      else writes++;
    }
  }
  return `${protocol.padEnd(10)} ${(faults.size === 0 ? 'none' : 'all').padEnd(6)} ${String(seeds).padStart(5)} seeds  ` +
    `${delivered.toLocaleString('en-US').padStart(12)} messages  ${writes.toLocaleString('en-US').padStart(9)} writes  ` +
    `${reads.toLocaleString('en-US').padStart(9)} reads  ${(delivered / writes).toFixed(2).padStart(6)} messages/write`;
}

console.log(`5 nodes, ${DEFAULT_SIM_OPTIONS.clients} clients, seeds 1..${seeds}; messages delivered (heartbeats and reads' rounds included) per acknowledged write`);
for (const faults of [new Set<FaultKind>(), new Set<FaultKind>(FAULT_KINDS)]) {
  for (const protocol of ['raft', 'multipaxos', 'vr']) console.log(measure(protocol, faults));
}
