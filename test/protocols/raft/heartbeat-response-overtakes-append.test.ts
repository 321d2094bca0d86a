/**
 * Review of the follower's early heartbeat responses: they now overtake the append responses of
 * the Ready being saved. The leader reads a heartbeat answer from a follower that is behind as
 * "its appends were lost" (handleHeartbeatResponse: probeSent cleared, and with a full window the
 * oldest slot freed), so a follower whose save is slow is sent the same entries again at every
 * heartbeat it answers, for as long as the save lasts. Counted here with the cores driven
 * directly, n2's save held as the driver holds it (takeEarly between ready() and advance()).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NodeId } from '../../../src/core/ids.js';
import { Prng } from '../../../src/core/prng.js';
import type { Ready } from '../../../src/core/replica.js';
import { RaftReplica } from '../../../src/protocols/raft/raft.js';
import type { RaftHardState, RaftMessage } from '../../../src/protocols/raft/types.js';

const ids = ['n1', 'n2', 'n3'] as NodeId[];
const membership = { voters: ids, outgoingVoters: [] as NodeId[], learners: [] as NodeId[] };

function run(probe: boolean): { withEntries: number; empty: number } {
  const nodes = new Map(ids.map((id, i) => [id, new RaftReplica({ id, membership, random: new Prng(i + 1), preVote: false, maxEntriesPerMessage: 4 })]));
  const inFlight: RaftMessage[] = [];
  let held: Ready<RaftMessage, RaftHardState> | null = null;
  let holding = false;
  const appendsToN2: RaftMessage[] = [];
  const pump = (): void => {
    for (let round = 0; round < 1000; round++) {
      for (const [id, r] of nodes) {
        if (id === 'n2' && held !== null) { inFlight.push(...r.takeEarly()); continue; }
        while (r.hasReady()) {
          const rd = r.ready();
          inFlight.push(...rd.sendBeforePersist);
          if (id === 'n2' && holding && rd.persist !== null) { held = rd; break; }
          inFlight.push(...rd.send);
          r.advance(rd);
        }
      }
      if (inFlight.length === 0) return;
      for (const m of inFlight.splice(0)) {
        if (m.type === 'append' && m.to === 'n2' && true) appendsToN2.push(m);
        nodes.get(m.to)!.step(m);
      }
    }
  };
  const n1 = nodes.get('n1' as NodeId)!;
  n1.campaign();
  pump();
  assert.equal(n1.status().role, 'leader');
  if (probe) n1.reportUnreachable('n2' as NodeId); // n2's progress probes (as after a lost append)
  holding = true;
  for (let i = 0; i < 4; i++) n1.propose(new Uint8Array([i]));
  pump(); // n2 holds the save of entries 2..5; n1 commits with n3
  assert.notEqual(held, null, 'n2 is saving');
  const before = appendsToN2.length;
  for (let t = 0; t < 10; t++) { n1.tick(); pump(); } // ten heartbeats, each answered early by n2
  const after = appendsToN2.slice(before);
  return { withEntries: after.filter((m) => m.type === 'append' && m.entries.length > 0).length, empty: after.filter((m) => m.type === 'append' && m.entries.length === 0).length };
}

test('replicating: a follower whose save is held gets an empty append at each heartbeat it answers early', () => {
  const { withEntries, empty } = run(false);
  assert.equal(withEntries, 0);
  assert.equal(empty, 10, 'one per heartbeat answered (they were none while answers waited for the save)');
});

// A todo, not a failure: the review found it and left the fix open (etcd behaves the same: its
// heartbeat responses leave before the append is durable and each one unpauses a probe).
test('probing: a follower whose save is held is not sent the same entries again at each heartbeat it answers early', { todo: 'review-raft43 finding: 10 probes with entries in 10 heartbeat intervals while the save is held' }, () => {
  const { withEntries } = run(true);
  // The probe's answer waits for the save; each early heartbeat answer clears probeSent and the
  // probe goes again, entries and all (etcd does the same; before this change it went once).
  assert.equal(withEntries, 0, `${withEntries} appends repeating entries n2 holds in its save, in 10 heartbeat intervals`);
});
