/**
 * A replicated counter: three quorate nodes in one process, each with its own data directory,
 * talking over loopback TCP. Every increment is fsynced on a majority before it is answered.
 *
 *   npm run build && node dist/examples/replicated-counter.js
 *
 * The same code runs one node per OS process: give each process one member's id and the
 * whole member list.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeId, raftProtocol, ReplicatedNode, type Index, type MemberAddresses, type StateMachine } from '../src/index.js';

/** The state machine: deterministic, with a snapshot. Commands are "add N" as text. */
class Counter implements StateMachine<number> {
  value = 0;
  apply(command: Uint8Array, _index: Index): number {
    this.value += Number(new TextDecoder().decode(command));
    return this.value;
  }
  snapshot(): Uint8Array {
    return new TextEncoder().encode(String(this.value));
  }
  restore(data: Uint8Array): void {
    this.value = Number(new TextDecoder().decode(data));
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'quorate-counter-'));
  const members: MemberAddresses[] = [1, 2, 3].map((i) => ({ id: nodeId(`n${i}`), peer: { host: '127.0.0.1', port: 24380 + i } }));
  const counters = new Map<string, Counter>();
  const nodes = await Promise.all(
    members.map((m) => {
      const counter = new Counter();
      counters.set(m.id, counter);
      return ReplicatedNode.start({
        id: m.id, clusterId: 'counter-example', dataDir: join(dir, m.id), listen: m.peer, members,
        stateMachine: counter, protocol: raftProtocol, timing: { tickMs: 20, heartbeatIntervalMs: 20, electionTimeoutMs: 200 },
      });
    }),
  );
  try {
    // Wait for a leader, then increment through any node: followers forward to the leader.
    while (!nodes.some((n) => n.isLeader())) await new Promise((r) => setTimeout(r, 20));
    const leader = nodes.find((n) => n.isLeader())!;
    console.log(`leader: ${leader.id}`);
    for (let i = 1; i <= 10; i++) {
      const via = nodes[i % nodes.length]!;
      const value = await via.propose(new TextEncoder().encode('1'));
      console.log(`increment via ${via.id} → ${value}`);
    }
    // A linearizable read on a follower: the barrier waits until it has applied every committed write.
    const follower = nodes.find((n) => !n.isLeader())!;
    await follower.readBarrier();
    console.log(`linearizable read on ${follower.id}: ${counters.get(follower.id)!.value}`);
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
