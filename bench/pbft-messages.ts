/**
 * PBFT's normal-case message cost: replica-to-replica messages per committed request at
 * N = 4, 7, 10, measured in fault-free simulations, next to the formula.
 *   npm run build && node dist/bench/pbft-messages.js
 *
 * Per sequence number: PRE-PREPARE N - 1, PREPARE (N - 1)^2 (every backup to every other
 * replica), COMMIT N(N - 1), and CHECKPOINT N(N - 1) every K sequence numbers:
 * 2N(N - 1) + N(N - 1)/K, O(N^2). (Client traffic, one REQUEST and N REPLYs, is not counted.)
 * Batching divides it by the batch size.
 */
import { Simulation } from '../src/sim/simulation.js';
import { DEFAULT_SIM_OPTIONS } from '../src/sim/options.js';
import { protocolByName } from '../src/protocols/registry.js';

const K = 16;
const SEEDS = 3;

function measure(n: number, maxBatchRequests: number, maxInFlightBatches: number, clients: number): { perRequest: number; byType: Record<string, number>; requests: number; batches: number } {
  let messages = 0;
  let requests = 0;
  let batches = 0;
  const byType: Record<string, number> = {};
  for (let seed = 1; seed <= SEEDS; seed++) {
    const r = new Simulation(protocolByName('pbft'), {
      ...DEFAULT_SIM_OPTIONS, protocol: 'pbft', nodes: n, seed, clients, faults: new Set(), byzantine: new Set(), faultWindowMs: 0, livenessBoundMs: 5_000,
      protocolOptions: { maxBatchRequests, maxInFlightBatches, checkpointIntervalSeqs: K },
    }).run();
    // Replica-to-replica protocol messages only: client requests and replies are not counted.
    for (const [t, c] of Object.entries(r.stats.messagesByType)) {
      if (t === 'request' || t === 'reply') continue;
      messages += c;
      byType[t] = (byType[t] ?? 0) + c;
    }
    requests += r.stats.requestsExecuted;
    batches += r.stats.messagesByType['pre-prepare'] ?? 0;
  }
  return { perRequest: messages / requests, byType, requests, batches: batches / (n - 1) };
}

console.log(`fault-free, no Byzantine replicas, K = ${K}, ${SEEDS} seeds of 5 simulated seconds each`);
console.log('| N | f | formula 2N(N-1) + N(N-1)/K | measured, batch size 1 | by type per request (pre-prepare / prepare / commit / checkpoint / other) | measured, batching (up to 16) | requests per batch |');
console.log('|---|---|---|---|---|---|---|');
for (const n of [4, 7, 10]) {
  const formula = 2 * n * (n - 1) + (n * (n - 1)) / K;
  const one = measure(n, 1, 4, 5);
  const batched = measure(n, 16, 1, 20);
  const per = (t: string) => ((one.byType[t] ?? 0) / one.requests).toFixed(1);
  const other = Object.entries(one.byType).filter(([t]) => !['pre-prepare', 'prepare', 'commit', 'checkpoint'].includes(t)).reduce((s, [, c]) => s + c, 0) / one.requests;
  console.log(`| ${n} | ${Math.floor((n - 1) / 3)} | ${formula.toFixed(1)} | ${one.perRequest.toFixed(1)} | ${per('pre-prepare')} / ${per('prepare')} / ${per('commit')} / ${per('checkpoint')} / ${other.toFixed(1)} | ${batched.perRequest.toFixed(1)} | ${(batched.requests / batched.batches).toFixed(1)} |`);
}
