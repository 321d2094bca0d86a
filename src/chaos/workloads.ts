/**
 * The workloads `quorate chaos --workload` knows: one entry each. A workload is its clients and
 * its checker behind the ChaosWorkload contract (src/chaos/workload.ts).
 */
import { ListAppendWorkload } from './list-append-workload.js';
import { RegisterWorkload } from './register-workload.js';
import type { WorkloadDefinition } from './workload.js';

export const CHAOS_WORKLOADS: readonly WorkloadDefinition[] = [
  {
    name: 'register',
    summary: 'clients read, write and compare-and-set a few keys; the history is checked for linearizability',
    make: (ctx) => new RegisterWorkload(ctx),
  },
  {
    name: 'list-append',
    summary: 'transactions of appends and reads over a few keys (etcd Txn guarded by mod revisions); Elle-style cycle search for G0, G1a/b/c, G-single, G2, strict serializability',
    make: (ctx) => new ListAppendWorkload(ctx),
  },
];

export function workloadByName(name: string): WorkloadDefinition | undefined {
  return CHAOS_WORKLOADS.find((w) => w.name === name);
}
