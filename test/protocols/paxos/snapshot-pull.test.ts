/**
 * Multi-Paxos: catch-up without a leader (snapshot-pull.ts), at the edges the scenarios do not
 * reach: a pull over a slow link (its window arriving a chunk per tick), and a pulled snapshot
 * whose check a leader's transfer of the same slot replaces before a Ready handed that one out.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nodeId, type Index, type NodeId } from '../../../src/core/ids.js';
import { Prng } from '../../../src/core/prng.js';
import type { Membership, Ready, Snapshot } from '../../../src/core/replica.js';
import {
  makeBallot, MultiPaxosReplica, type InstallSnapshot, type PaxosHardState, type PaxosMessage, type Slot,
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

function replica(id: string, o: { snapshot?: Snapshot; checkSnapshotsUpToBytes?: number } = {}): MultiPaxosReplica {
  return new MultiPaxosReplica({
    id: nodeId(id), membership: MEMBERSHIP, random: new Prng(id.charCodeAt(1)),
    prePrepare: false, stickyLeader: false, checkQuorum: false,
    // Long timers: no campaign of its own gets in the way; one window holds the whole snapshot.
    electionTimeoutTicks: 1000, snapshotChunkBytes: CHUNK, maxInflightSnapshotBytes: SNAPSHOT_BYTES,
    ...(o.checkSnapshotsUpToBytes === undefined ? {} : { checkSnapshotsUpToBytes: o.checkSnapshotsUpToBytes }),
    restored: { hardState: { promised: B1 } as PaxosHardState, snapshot: o.snapshot ?? null, entries: [] },
    ...(o.snapshot === undefined ? {} : { applied: o.snapshot.meta.index }),
  });
}

/** Every Ready the replica has, handled as a driver would (persist at once): the messages it sends. */
function drain(r: MultiPaxosReplica, ready?: (rd: Ready<PaxosMessage, PaxosHardState>) => void): PaxosMessage[] {
  const out: PaxosMessage[] = [];
  while (r.hasReady()) {
    const rd = r.ready();
    ready?.(rd);
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

test('a pulled snapshot\'s check replaced by a leader\'s transfer of the same slot (another encoding) before a Ready handed that out: the old answer is dropped, no assertion', () => {
  const n1 = replica('n1', { snapshot: snapshotAt10(7) });
  const n2 = replica('n2', { checkSnapshotsUpToBytes: 1 << 20 });
  const { pieces } = refusedAndPulling(n1, n2);
  for (const p of pieces) n2.step(p);
  // The driver is handed the pulled snapshot to decode (its check runs on later turns).
  let handedOut: Snapshot | null = null;
  drain(n2, (rd) => { handedOut = rd.checkSnapshot ?? handedOut; });
  assert.ok(handedOut !== null, 'the pulled snapshot goes to the driver\'s check');
  assert.equal(n2.status().commitIndex, 0);
  // Meanwhile a leader (n3, a higher ballot) sends the state of slot 10 in its own encoding, whole.
  const other = new Uint8Array(SNAPSHOT_BYTES).fill(9);
  const b3 = makeBallot(5, 3);
  const digest = snapshotDigest(other);
  for (let offset = 0; offset < SNAPSHOT_BYTES; offset += CHUNK) {
    const chunk: InstallSnapshot = {
      type: 'install-snapshot', from: nodeId('n3'), to: nodeId('n2'), ballot: b3, meta: snapshotAt10(9).meta, offset,
      chunk: other.subarray(offset, offset + CHUNK), done: offset + CHUNK === SNAPSHOT_BYTES, commit: 10 as Slot, digest,
    };
    n2.step(chunk);
  }
  // Before the next Ready (the driver is saving one), the first check ends.
  assert.doesNotThrow(() => n2.snapshotChecked(handedOut!.meta, true));
  // The leader's snapshot is the one checked next, and installed once it decodes.
  let next: Snapshot | null = null;
  drain(n2, (rd) => { next = rd.checkSnapshot ?? next; });
  assert.ok(next !== null && (next as Snapshot).data[0] === 9, 'the leader\'s snapshot goes to the check');
  n2.snapshotChecked((next as Snapshot).meta, true);
  const sent = drain(n2);
  assert.equal(n2.status().commitIndex, 10);
  assert.ok(sent.some((m) => m.type === 'snapshot-ack' && m.to === 'n3' && m.done), 'the leader is told it is in');
});

test('an acceptor that follows a live leader serves no pull (the requester is cut off from that leader, which brings it up once it is back)', () => {
  const source = replica('n1', { snapshot: snapshotAt10(7) });
  const request: PaxosMessage = { type: 'snapshot-pull', from: nodeId('n2'), to: nodeId('n1'), ballot: B1, index: 0, digest: '', offset: 0, bytes: SNAPSHOT_BYTES };
  source.step({ type: 'accept', from: nodeId('n3'), to: nodeId('n1'), ballot: makeBallot(2, 3), entries: [], commit: 10 as Slot, readRound: 0 });
  drain(source);
  assert.equal(source.status().leader, nodeId('n3'));
  source.step(request);
  assert.deepEqual(drain(source).filter((m) => m.type === 'snapshot-piece'), []);
  // Its leader silent for an election timeout: served.
  for (let i = 0; i < 1000; i++) source.tick();
  source.step(request);
  assert.equal(drain(source).filter((m) => m.type === 'snapshot-piece').length, SNAPSHOT_BYTES / CHUNK);
});
