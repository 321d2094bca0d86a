/**
 * The node runtime with real disks and real TCP (loopback): three in-process nodes.
 * These tests check behaviour, never wall time (timeouts are generous bounds, not assertions).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeId, NotLeader, type Index, type NodeId, type StateMachine } from '../../src/core/index.js';
import { raftProtocol } from '../../src/protocols/raft/index.js';
import { ReplicatedNode, type MemberAddresses } from '../../src/node/index.js';
import { freePort } from '../ports.js';
import { retry, until } from './waiting.js';

class AppendLog implements StateMachine<number> {
  items: string[] = [];
  lastIndex = 0;
  apply(command: Uint8Array, index: Index): number {
    assert.ok(index > this.lastIndex, `applied in order: ${index} after ${this.lastIndex}`);
    this.lastIndex = index;
    // Commands are unique: a retried one that had committed after all is applied once (a session).
    const item = new TextDecoder().decode(command);
    if (!this.items.includes(item)) this.items.push(item);
    return this.items.length;
  }
  snapshot(): Uint8Array {
    return new TextEncoder().encode(JSON.stringify({ items: this.items, lastIndex: this.lastIndex }));
  }
  restore(data: Uint8Array): void {
    const s = JSON.parse(new TextDecoder().decode(data)) as { items: string[]; lastIndex: number };
    this.items = s.items;
    this.lastIndex = s.lastIndex;
  }
}

const enc = (s: string) => new TextEncoder().encode(s);
interface TestCluster {
  nodes: ReplicatedNode<number>[];
  readonly sms: Map<NodeId, AppendLog>;
  /** Stop every node, then start them again from their data directories. */
  restartAll(): Promise<void>;
  /** The current leader, if one is known. */
  leader(): ReplicatedNode<number> | undefined;
}

/** A test with three nodes on loopback, each with its own data directory; always cleaned up. */
function clusterTest(name: string, body: (c: TestCluster) => Promise<void>): void {
  test(name, { timeout: 60_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'quorate-node-'));
    // Ports the system hands out free: a test running beside this one cannot hold them.
    const ports = [await freePort(), await freePort(), await freePort()];
    const members: MemberAddresses[] = ['a', 'b', 'c'].map((n, i) => ({ id: nodeId(n), peer: { host: '127.0.0.1', port: ports[i]! } }));
    const sms = new Map<NodeId, AppendLog>();
    const startAll = () =>
      Promise.all(members.map((m) => {
        const sm = new AppendLog();
        sms.set(m.id, sm);
        return ReplicatedNode.start({
          id: m.id, clusterId: 'test-cluster', dataDir: join(dir, m.id), listen: m.peer, members,
          stateMachine: sm, protocol: raftProtocol, timing: { tickMs: 20, heartbeatIntervalMs: 20, electionTimeoutMs: 200 }, limits: { snapshotEveryEntries: 20 },
        });
      }));
    const c: TestCluster = {
      nodes: await startAll(),
      sms,
      async restartAll() {
        await Promise.all(c.nodes.map((n) => n.stop()));
        c.nodes = await startAll();
      },
      leader: () => c.nodes.find((n) => n.isLeader()),
    };
    try {
      await body(c);
    } finally {
      await Promise.all(c.nodes.map((n) => n.stop()));
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

clusterTest('a write acknowledged through any member is applied in order on every member', async (c) => {
  await until('a leader', () => c.leader());
  for (let i = 0; i < 30; i++) await retry(() => c.nodes[i % 3]!.propose(enc(`w${i}`)), 50);
  await until('all applied', () => [...c.sms.values()].every((sm) => sm.items.length === 30));
  for (const sm of c.sms.values()) assert.deepEqual(sm.items, Array.from({ length: 30 }, (_, i) => `w${i}`));
});

clusterTest('acknowledged writes survive a full stop and restart (snapshot + WAL replay, applied once)', async (c) => {
  await until('a leader', () => c.leader());
  for (let i = 0; i < 45; i++) await retry(() => c.nodes[0]!.propose(enc(`w${i}`)), 50);
  await c.restartAll();
  await until('a leader after restart', () => c.leader());
  await retry(() => c.nodes[1]!.propose(enc('after')), 50);
  await until('restart caught up', () => [...c.sms.values()].every((sm) => sm.items.length === 46));
  for (const sm of c.sms.values()) {
    assert.deepEqual(sm.items, [...Array.from({ length: 45 }, (_, i) => `w${i}`), 'after']);
  }
});

clusterTest('a linearizable read on a follower sees every write acknowledged before it', async (c) => {
  const leader = await until('a leader', () => c.leader());
  const follower = c.nodes.find((n) => n !== leader)!;
  for (let i = 0; i < 10; i++) {
    await retry(() => (c.leader() ?? leader).propose(enc(`w${i}`)), 50);
    await retry(() => follower.readBarrier(), 50);
    assert.equal(c.sms.get(follower.id)!.items.length, i + 1);
  }
});

clusterTest('with the leader stopped, the others elect a new leader and keep every acknowledged write', async (c) => {
  const leader = await until('a leader', () => c.leader());
  for (let i = 0; i < 10; i++) await retry(() => (c.leader() ?? leader).propose(enc(`w${i}`)), 50);
  await leader.stop();
  const rest = c.nodes.filter((n) => n !== leader);
  const next = await until('a new leader', () => rest.find((n) => n.isLeader()));
  await retry(() => next.propose(enc('after-failover')), 50);
  for (const n of rest) {
    await retry(() => n.readBarrier(), 50);
    assert.deepEqual(c.sms.get(n.id)!.items.slice(-2), ['w9', 'after-failover']);
  }
  // A lone node cannot make progress and says so with a typed error, not a hang.
  await next.stop();
  const alone = rest.find((n) => n !== next)!;
  await assert.rejects(async () => {
    await until('lose leader', () => alone.status().leader !== next.id || null, 5_000).catch(() => undefined);
    await alone.propose(enc('x'));
  }, (err: Error) => err instanceof NotLeader || ['TIMEOUT', 'UNAVAILABLE', 'LEADER_CHANGED'].includes((err as { code?: string }).code ?? ''));
});
