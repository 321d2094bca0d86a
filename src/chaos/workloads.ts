/**
 * The workloads `quorate chaos --workload` knows: one entry each. A workload is its clients and
 * its checker behind the ChaosWorkload contract (src/chaos/workload.ts).
 */
import { ListAppendWorkload } from './list-append-workload.js';
import { LockWorkload } from './lock-workload.js';
import { RegisterWorkload } from './register-workload.js';
import { WatchWorkload } from './watch-workload.js';
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
  {
    name: 'watch',
    summary: 'writers put unique values while watchers on every member watch the keys, reconnecting from the last revision seen + 1; each watcher must see every event once, in order, none lost across reconnects',
    make: (ctx) => new WatchWorkload(ctx),
  },
  {
    name: 'lock',
    summary: 'clients take etcd\'s v3 lock (2 s lease, holders sometimes stalled past it) and read-modify-write a resource with a fenced Txn (the lock key\'s create revision and the resource\'s mod revision); checked for lost updates, overlapping holders and stale tokens',
    make: (ctx) => new LockWorkload(ctx, true),
  },
  {
    name: 'lock-unfenced',
    summary: 'as lock, but the write is a plain Put: a holder stalled past its lease\'s TTL overwrites another\'s update (expected to be caught)',
    make: (ctx) => new LockWorkload(ctx, false),
  },
];

export function workloadByName(name: string): WorkloadDefinition | undefined {
  return CHAOS_WORKLOADS.find((w) => w.name === name);
}
