/**
 * What a live node does with what a peer sends (issue 15): a raw TCP peer that completes the
 * handshake as a known member and sends malformed protocol messages changes nothing in the core
 * (a heartbeat with term '7' leaves the term a number, unchanged); the node drops and counts them
 * and keeps serving. A seeded fuzz throws 2,000 random and mutated-valid frames at live Raft and
 * Multi-Paxos nodes. And a cluster started with a shared peer secret elects a leader and serves.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pack, unpack } from '../../src/core/codec.js';
import { nodeId, type Index, type StateMachine } from '../../src/core/index.js';
import type { ProtocolDefinition } from '../../src/core/protocol.js';
import type { Envelope } from '../../src/core/replica.js';
import { InvalidMessage, type MessageValidator } from '../../src/core/validate.js';
import { Prng } from '../../src/core/prng.js';
import { wireValidator } from '../../src/driver/wire.js';
import { raftProtocol } from '../../src/protocols/raft/index.js';
import { multiPaxosProtocol } from '../../src/protocols/paxos/index.js';
import { ReplicatedNode, type MemberAddresses } from '../../src/node/index.js';
import { encodeFrame } from '../../src/transport/index.js';
import { freePort } from '../ports.js';
import { mutateValid, randomValue } from '../fuzz-frames.js';
import { iterations } from '../fuzz-budget.js';
import { VALID } from '../protocols/valid-messages.js';
import { retry, sleep, until } from './waiting.js';

class Counter implements StateMachine<number> {
  n = 0;
  apply(_command: Uint8Array, _index: Index): number {
    return ++this.n;
  }
  snapshot(): Uint8Array {
    return pack(this.n);
  }
  restore(data: Uint8Array): void {
    this.n = unpack(data) as number;
  }
}

const TIMING = { tickMs: 20, heartbeatIntervalMs: 20, electionTimeoutMs: 200 };
interface Cluster {
  readonly nodes: ReplicatedNode<number>[];
  readonly members: MemberAddresses[];
}

/** Three members a, b, c on loopback, all cleaned up afterwards. */
async function withCluster(protocol: ProtocolDefinition, body: (c: Cluster) => Promise<void>, secret: Uint8Array | null = null): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'quorate-peer-input-'));
  const ports = [await freePort(), await freePort(), await freePort()];
  const members: MemberAddresses[] = ['a', 'b', 'c'].map((n, i) => ({ id: nodeId(n), peer: { host: '127.0.0.1', port: ports[i]! } }));
  const nodes = await Promise.all(members.map((m) => ReplicatedNode.start<number>({
    id: m.id, clusterId: 'peer-input', dataDir: join(dir, m.id), listen: m.peer, members, stateMachine: new Counter(), protocol, timing: TIMING, peerSecret: secret,
  })));
  try {
    await body({ nodes, members });
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A raw connection that completes the handshake to `to` as member `from`. */
async function rawPeer(port: number, from: string, to: string): Promise<Socket> {
  const s = connect({ host: '127.0.0.1', port });
  s.on('error', () => {});
  await new Promise<void>((resolve) => s.once('connect', () => resolve()));
  s.write(encodeFrame(pack({ magic: 'QRT1', clusterId: 'peer-input', from, to })));
  return s;
}

const leaderOf = (c: Cluster) => c.nodes.find((n) => n.isLeader());

test('a heartbeat with term \'7\' from a member that passed the handshake leaves the term unchanged; it is dropped and counted', { timeout: 60_000 }, async () => {
  await withCluster(raftProtocol, async (c) => {
    await until('a leader', () => leaderOf(c));
    await retry(() => leaderOf(c)!.propose(new Uint8Array([1])), 100, () => true);
    const a = c.nodes[0]!;
    const termBefore = a.status().term;
    const countedBefore = a.invalidPeerMessages();
    const s = await rawPeer(c.members[0]!.peer.port, 'c', 'a');
    const heartbeat = { type: 'heartbeat', from: 'c', to: 'a', term: '7', commit: 0, readSeq: 0 };
    s.write(encodeFrame(pack({ kind: 'protocol', from: 'c', to: 'a', message: heartbeat })));
    await until('the heartbeat handled', () => a.invalidPeerMessages() > countedBefore || a.status().term !== termBefore);
    s.destroy();
    assert.equal(typeof a.status().term, 'number', 'the term is still a number');
    assert.equal(a.status().term, termBefore, 'and unchanged');
    assert.equal(a.invalidPeerMessages(), countedBefore + 1, 'the heartbeat was dropped and counted');
    assert.ok(a.running, 'the node keeps running');
    await retry(() => (leaderOf(c) ?? a).propose(new Uint8Array([2])), 100, () => true);
    assert.equal(typeof a.status().term, 'number');
  });
});

/** Frames per protocol in the live fuzz below (times QUORATE_FUZZ_BUDGET: `npm run fuzz` raises it). */
const LIVE_FUZZ_FRAMES = iterations(2_000);

for (const protocol of [raftProtocol, multiPaxosProtocol] as ProtocolDefinition[]) {
  test(`fuzz: ${LIVE_FUZZ_FRAMES} random and mutated-valid frames (seeded) at a live ${protocol.name} node: no crash, every invalid one refused and counted`, { timeout: 90_000 }, async (t) => {
    await withCluster(protocol, async (c) => {
      await until('a leader', () => leaderOf(c));
      const a = c.nodes[0]!;
      // The node's own schema, as an oracle: it runs with the protocol's timing options.
      const oracle: MessageValidator<unknown> = wireValidator({
        protocol: protocol.messageValidator(protocol.timingOptions(TIMING)) as MessageValidator<Envelope>, senderHostsMessage: true,
      });
      const bases = Object.values(VALID[protocol.name]!).map((m) => ({ ...m, from: 'c', to: 'a' }));
      const wire = [
        { kind: 'forward-proposal', from: 'c', to: 'a', requestId: 'c/fuzz/1', command: new Uint8Array([1]) },
        { kind: 'forward-result', from: 'c', to: 'a', requestId: 'c/fuzz/2', ok: false, error: { code: 'TIMEOUT', message: 'x', leaderHint: null } },
      ];
      const r = new Prng(1515);
      const frames: Buffer[] = [];
      const counts = { random: 0, mutated: 0, wire: 0, refusedByOracle: 0 };
      for (let i = 0; i < LIVE_FUZZ_FRAMES; i++) {
        const roll = r.int(0, 4);
        let frame: unknown;
        if (roll === 0) {
          counts.random++;
          frame = { kind: 'protocol', from: 'c', to: 'a', message: randomValue(r) };
        } else if (roll === 1) {
          counts.wire++;
          // The frame's own from and to stay (the transport closes a connection whose frame names
          // another sender or addressee): one of the other fields is broken.
          const { from: _f, to: _t, ...rest } = r.pick(wire);
          frame = { ...(mutateValid(r, rest) as object), from: 'c', to: 'a' };
        } else {
          counts.mutated++;
          frame = mutateValid(r, { kind: 'protocol', from: 'c', to: 'a', message: r.pick(bases) }, ['message']);
        }
        const bytes = pack(frame);
        // Judge what the node will decode (MessagePack turns undefined into null, for one).
        if (oracle(unpack(bytes)) instanceof InvalidMessage) counts.refusedByOracle++;
        else assert.equal(roll, 0, `only a random value may be valid: ${JSON.stringify(unpack(bytes), (_, v: unknown) => (v instanceof Uint8Array ? `bytes(${v.length})` : v))}`);
        frames.push(encodeFrame(bytes));
      }
      const before = a.invalidPeerMessages();
      const s = await rawPeer(c.members[0]!.peer.port, 'c', 'a');
      s.write(Buffer.concat(frames));
      await until('every invalid frame counted', () => a.invalidPeerMessages() - before >= counts.refusedByOracle, 30_000);
      await sleep(100);
      const counted = a.invalidPeerMessages() - before;
      t.diagnostic(`${protocol.name}: sent ${LIVE_FUZZ_FRAMES} (${JSON.stringify(counts)}); the node refused and counted ${counted}; transport: ${JSON.stringify(a.transportStats()?.counters)}`);
      s.destroy();
      assert.ok(counts.refusedByOracle >= LIVE_FUZZ_FRAMES * 0.99, 'almost every input is invalid');
      assert.equal(counted, counts.refusedByOracle, 'every invalid frame was refused and counted, and nothing else');
      assert.equal(a.transportStats()?.counters.handlerErrors, 0, 'nothing threw in the node');
      assert.ok(c.nodes.every((n) => n.running), 'every node keeps running');
      await retry(() => (leaderOf(c) ?? a).propose(new Uint8Array([9])), 100, () => true);
    });
  });
}

test('a cluster of three members sharing a peer secret elects a leader and serves writes', { timeout: 60_000 }, async () => {
  const secret = new TextEncoder().encode('a shared secret of the test cluster');
  await withCluster(raftProtocol, async (c) => {
    await until('a leader', () => leaderOf(c));
    for (let i = 0; i < 5; i++) await retry(() => c.nodes[i % 3]!.propose(new Uint8Array([i + 1])), 100, () => true);
    assert.ok(c.nodes.every((n) => n.transportStats()?.counters.authFailures === 0));
    // A peer without the secret: its connection is refused before anything is delivered.
    const a = c.nodes[0]!;
    const before = a.transportStats()!.counters.authFailures;
    const s = await rawPeer(c.members[0]!.peer.port, 'c', 'a');
    s.write(encodeFrame(pack({ kind: 'protocol', from: 'c', to: 'a', message: { type: 'heartbeat', from: 'c', to: 'a', term: 1e6, commit: 0, readSeq: 0 } })));
    await new Promise<void>((resolve) => s.once('close', () => resolve()));
    assert.equal(a.transportStats()!.counters.authFailures, before + 1);
    assert.ok(a.status().term < 1e6, 'the unauthenticated heartbeat never reached the core');
  }, secret);
});
