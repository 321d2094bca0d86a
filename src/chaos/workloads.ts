/**
 * The workloads `quorate chaos --workload` knows: one entry each. A workload is its clients and
 * its checker behind the ChaosWorkload contract (src/chaos/workload.ts).
 */
import { RegisterWorkload } from './register-workload.js';
import type { WorkloadDefinition } from './workload.js';

export const CHAOS_WORKLOADS: readonly WorkloadDefinition[] = [
  {
    name: 'register',
    summary: 'clients read, write and compare-and-set a few keys; the history is checked for linearizability',
    make: (ctx) => new RegisterWorkload(ctx),
  },
];

export function workloadByName(name: string): WorkloadDefinition | undefined {
  return CHAOS_WORKLOADS.find((w) => w.name === name);
}
