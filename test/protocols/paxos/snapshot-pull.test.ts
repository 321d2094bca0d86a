/**
 * Multi-Paxos: catch-up without a leader (snapshot-pull.ts), at the edges the scenarios do not
 * reach: a pull over a slow link (its window arriving a chunk per tick).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nodeId, type Index, type NodeId } from '../../../src/core/ids.js';
import { Prng } from '../../../src/core/prng.js';
import type { Membership, Snapshot } from '../../../src/core/replica.js';
import {
  makeBallot, MultiPaxosReplica, type PaxosHardState, type PaxosMessage,
} from '../../../src/protocols/paxos/index.js';
import { snapshotDigest } from '../../../src/protocols/paxos/digest.js';
import { PULL_RETRY_TICKS, SnapshotPull } from '../../../src/protocols/paxos/snapshot-pull.js';

const ids = (...names: string[]): NodeId[] => names.map(nodeId);
const MEMBERSHIP: Membership = { voters: ids('n1', 'n2', 'n3'), outgoingVoters: [], learners: [] };
/** The ballot slots 1..10 were chosen in (n1's). */
const B1 = makeBallot(1, 1);
const CHUNK = 100;
const SNAPSHOT_BYTES = 1000;

function snapshotAt10(fill: number): Snapshot {
  return { meta: { index: 10 as Index, term: B1, membership: MEMBERSHIP }, data: new Uint8Array(SNAPSHOT_BYTES).fill(fill) };
}

function replica(id: string, o: { snapshot?: Snapshot } = {}): MultiPaxosReplica {
  return new MultiPaxosReplica({
    id: nodeId(id), membership: MEMBERSHIP, random: new Prng(id.charCodeAt(1)),
    prePrepare: false, stickyLeader: false, checkQuorum: false,
    // Long timers: no campaign of its own gets in the way; one window holds the whole snapshot.
    electionTimeoutTicks: 1000, snapshotChunkBytes: CHUNK, maxInflightSnapshotBytes: SNAPSHOT_BYTES,
    restored: { hardState: { promised: B1 } as PaxosHardState, snapshot: o.snapshot ?? null, entries: [] },
    ...(o.snapshot === undefined ? {} : { applied: o.snapshot.meta.index }),
  });
}

/** Every Ready the replica has, handled as a driver would (persist at once): the messages it sends. */
function drain(r: MultiPaxosReplica): PaxosMessage[] {
  const out: PaxosMessage[] = [];
  while (r.hasReady()) {
    const rd = r.ready();
    out.push(...rd.sendBeforePersist, ...rd.send);
    r.advance(rd);
  }
  return out;
}

/** n2 (behind, commit 0) campaigns; n1 (snapshot through 10) refuses it; n2 asks n1 for the snapshot. Returns n1's answer. */
function refusedAndPulling(source: MultiPaxosReplica, puller: MultiPaxosReplica): { pieces: PaxosMessage[]; requests: PaxosMessage[] } {
  for (let i = 0; i < 5000 && puller.status().role !== 'candidate'; i++) puller.tick();
  assert.equal(puller.status().role, 'candidate');
  const prepare = drain(puller).find((m) => m.type === 'prepare' && m.to === source.id);
  assert.ok(prepare !== undefined);
  source.step(prepare);
  const nack = drain(source).find((m) => m.type === 'nack');
  assert.ok(nack !== undefined && nack.type === 'nack' && nack.compactedThrough === 10);
  puller.step(nack);
  const requests = drain(puller).filter((m) => m.type === 'snapshot-pull');
  assert.equal(requests.length, 1);
  source.step(requests[0]!);
  return { pieces: drain(source).filter((m) => m.type === 'snapshot-piece'), requests };
}

test('SnapshotPull: a request goes again only after PULL_RETRY_TICKS without progress', () => {
  const pull = new SnapshotPull(nodeId('n1'), SNAPSHOT_BYTES);
  pull.request(nodeId('n2'), B1);
  const data = new Uint8Array(SNAPSHOT_BYTES);
  const digest = snapshotDigest(data);
  const meta = snapshotAt10(0).meta;
  let offset = 0;
  // A chunk arrives every tick: the pull makes progress all along.
  for (let t = 1; t <= PULL_RETRY_TICKS + 2; t++) {
    assert.equal(pull.take({
      type: 'snapshot-piece', from: nodeId('n1'), to: nodeId('n2'), ballot: B1, meta, digest, offset, chunk: data.subarray(offset, offset + CHUNK), done: false,
    }), null);
    offset += CHUNK;
    assert.equal(pull.tick(), false, `tick ${t}: a chunk came in this tick, yet the window is asked for again`);
  }
});

test('a pull over a slow link (a chunk per tick) asks for its window once, not every PULL_RETRY_TICKS', () => {
  const n1 = replica('n1', { snapshot: snapshotAt10(7) });
  const n2 = replica('n2');
  const { pieces, requests } = refusedAndPulling(n1, n2);
  assert.equal(pieces.length, SNAPSHOT_BYTES / CHUNK, 'one window holds the whole snapshot');
  let served = pieces.length;
  const queue = [...pieces];
  for (let t = 0; t < 100 && n2.status().commitIndex < 10; t++) {
    n2.tick();
    const piece = queue.shift();
    if (piece !== undefined) n2.step(piece);
    for (const m of drain(n2)) {
      if (m.type !== 'snapshot-pull') continue;
      requests.push(m);
      n1.step(m);
      const more = drain(n1).filter((x) => x.type === 'snapshot-piece');
      served += more.length;
      queue.push(...more);
    }
  }
  assert.equal(n2.status().commitIndex, 10, 'the snapshot is installed');
  assert.equal(requests.length, 1, `${requests.length} requests for one window of ${SNAPSHOT_BYTES} bytes; ${served} chunks served for ${SNAPSHOT_BYTES / CHUNK}`);
});
