/**
 * Messages per committed write and commit latency, Raft against Multi-Paxos and VR, on the same
 * simulated runs (same seeds, nodes, workload and faults; heartbeats included, as they are part of
 * the cost).
 *   npm run build && node dist/bench/messages-per-write.js [seeds=200]
 * A committed write is a put, cas or delete that a client saw answered (a failed cas went
 * through the log too). Its latency is the client's, in simulated ms from invocation to answer:
 * the round to a quorum, the leader's fsync and apply, and a retry after a leader change. Reads
 * are timed apart (each is a round through the leader, or an op of VR's primary). Figures only;
 * never part of `npm test`.
 */
import { DEFAULT_SIM_OPTIONS, type FaultKind, FAULT_KINDS } from '../src/sim/options.js';
import { Simulation } from '../src/sim/simulation.js';
import { protocolByName } from '../src/protocols/registry.js';

const seeds = Number(process.argv[2] ?? 200);

/** p50/p90/p99 of simulated milliseconds, one decimal. */
function percentiles(ms: number[]): string {
  if (ms.length === 0) return '-';
  const sorted = [...ms].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!.toFixed(1);
  return `${at(0.5)}/${at(0.9)}/${at(0.99)}`;
}

function measure(protocol: string, faults: ReadonlySet<FaultKind>): string {
  let delivered = 0;
  let writes = 0;
  let reads = 0;
  const writeMs: number[] = [];
  const readMs: number[] = [];
  for (let seed = 1; seed <= seeds; seed++) {
    const o = { ...DEFAULT_SIM_OPTIONS, protocol, faults, seed };
    const r = new Simulation(protocolByName(protocol), o).run();
    delivered += r.stats.messagesDelivered;
    for (const op of r.history) {
      if (op.outcome === 'unknown') continue;
      if (op.kind === 'read') reads++;
      else writes++;
      (op.kind === 'read' ? readMs : writeMs).push(op.completedAt - op.invokedAt);
    }
  }
  return `${protocol.padEnd(10)} ${(faults.size === 0 ? 'none' : 'all').padEnd(6)} ${String(seeds).padStart(5)} seeds  ` +
    `${delivered.toLocaleString('en-US').padStart(12)} messages  ${writes.toLocaleString('en-US').padStart(9)} writes  ` +
    `${reads.toLocaleString('en-US').padStart(9)} reads  ${(delivered / writes).toFixed(2).padStart(6)} messages/write  ` +
    `write ms p50/p90/p99 ${percentiles(writeMs)}  read ms ${percentiles(readMs)}`;
}

console.log(`5 nodes, ${DEFAULT_SIM_OPTIONS.clients} clients, seeds 1..${seeds}; messages delivered (heartbeats and reads' rounds included) per acknowledged write; client latency of acknowledged writes and reads in simulated ms`);
for (const faults of [new Set<FaultKind>(), new Set<FaultKind>(FAULT_KINDS)]) {
  for (const protocol of ['raft', 'multipaxos', 'vr']) console.log(measure(protocol, faults));
}
