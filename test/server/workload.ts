/**
 * A write/read workload against a process cluster that records a history for the
 * linearizability checker and the set of acknowledged writes for the durability check.
 *
 * Each write is one txn that sets a register `reg/K` and creates a unique `ack/ID` key, so a
 * write either took effect whole or not at all, and every acknowledged write leaves a key that
 * must exist on every member at the end.
 */
import type { Operation } from '../../src/check/index.js';
import type { ProcessCluster } from './process-cluster.js';

export interface WorkloadResult {
  readonly history: Operation[];
  readonly acked: string[];
  readonly okWrites: number;
  readonly okReads: number;
  readonly failed: number;
}

const now = (): number => Number(process.hrtime.bigint());

/** Errors that prove the operation did not take effect (the request was refused before the log). */
function definitelyFailed(message: string): boolean {
  return /key is not provided|duplicate key|too many operations|request is too large/.test(message);
}

export function runWorkload(cluster: ProcessCluster, options: { clients: number; keys: number; stop: () => boolean }): Promise<WorkloadResult> {
  const history: Operation[] = [];
  const acked: string[] = [];
  let nextId = 0;
  let okWrites = 0;
  let okReads = 0;
  let failed = 0;
  let rng = 12345;
  const random = (n: number): number => {
    rng = (rng * 1103515245 + 12345) & 0x7fffffff;
    return rng % n;
  };

  const oneClient = async (client: number): Promise<void> => {
    while (!options.stop()) {
      const running = cluster.names.filter((n) => cluster.isRunning(n));
      if (running.length === 0) {
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      const member = running[random(running.length)]!;
      const key = `k${random(options.keys)}`;
      const id = nextId++;
      const invokedAt = now();
      const etcd = cluster.client(member);
      if (random(3) === 0) {
        try {
          const value = await etcd.get(`reg/${key}`).string();
          history.push({ id, client, kind: 'read', key, outcome: 'ok', result: value === null ? null : Number(value), invokedAt, completedAt: now() });
          okReads++;
        } catch {
          // A failed read has no effect: leave it out of the history.
          failed++;
          await new Promise((r) => setTimeout(r, 20));
        }
        continue;
      }
      const ack = `ack/${id}`;
      try {
        await etcd.if(`reg/${key}`, 'Version', '>', -1).then(etcd.put(`reg/${key}`).value(String(id)), etcd.put(ack).value('1')).commit();
        history.push({ id, client, kind: 'write', key, value: id, outcome: 'ok', invokedAt, completedAt: now() });
        acked.push(ack);
        okWrites++;
      } catch (err) {
        failed++;
        const sure = definitelyFailed((err as Error).message);
        history.push({ id, client, kind: 'write', key, value: id, outcome: sure ? 'fail' : 'unknown', invokedAt, completedAt: sure ? now() : Infinity });
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  };
  return Promise.all(Array.from({ length: options.clients }, (_, i) => oneClient(i))).then(() => ({ history, acked, okWrites, okReads, failed }));
}

/** Every acknowledged write's key on every member (serializable reads, after catching up). */
/** Per member (all of them unless `members` names some): how many acknowledged writes it lacks. */
export async function missingAcks(cluster: ProcessCluster, acked: readonly string[], boundMs = 20_000, members: readonly string[] = cluster.names): Promise<Map<string, number>> {
  const missing = new Map<string, number>();
  for (const name of members) {
    const deadline = Date.now() + boundMs;
    for (;;) {
      let have = new Set<string>();
      try {
        have = new Set(await cluster.client(name).getAll().prefix('ack/').options({ deadline: Date.now() + 5_000 }).keys());
      } catch {
        // the member may still be catching up; retry below
      }
      const lost = acked.filter((k) => !have.has(k)).length;
      if (lost === 0 || Date.now() > deadline) {
        missing.set(name, lost);
        break;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return missing;
}
