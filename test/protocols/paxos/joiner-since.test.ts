/**
 * Multi-Paxos: a member that joined starts from the configuration it was told (the join answer),
 * which holds from `since` on, not at the slots below it. A snapshot it takes below its since
 * carries that since, and a replica restored from it (a restart) or that installs it (an acceptor
 * it is sent to) does not take the told configuration for the one at its commit point: it does
 * not campaign with it until a chosen configuration entry, or its commit point reaching since,
 * gave it the configuration at its commit point. (Raft's counterpart: configSince in raft.ts.)
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nodeId, type Index, type NodeId } from '../../../src/core/ids.js';
import { Prng } from '../../../src/core/prng.js';
import type { LogEntry, Membership, Snapshot } from '../../../src/core/replica.js';
import { makeBallot, MultiPaxosReplica, type InstallSnapshot, type PaxosHardState, type Slot } from '../../../src/protocols/paxos/index.js';
import { isMembership } from '../../../src/protocols/paxos/membership.js';

const ids = (...names: string[]): NodeId[] => names.map(nodeId);
/** The ballot the slots below were chosen in (counter 1, rank 1: n1's). */
const BALLOT = makeBallot(1, 1);
/** The join answer n4 was told: the configuration of the answering member's log at slot 10. */
const TOLD: Membership = { voters: ids('n1', 'n2', 'n3', 'n4'), outgoingVoters: [], learners: [], since: 10 };
const STATE = new Uint8Array([1, 2, 3]);

const command = (index: number): LogEntry => ({ index: index as Index, term: BALLOT as LogEntry['term'], kind: 'command', data: new Uint8Array([index]), acceptedBallot: BALLOT as LogEntry['term'] });

/** n4, with the configuration it was told, its hard state, and (optionally) a snapshot and the slots after it. */
function joiner(o: { snapshot?: Snapshot; entries?: LogEntry[]; chosen?: number; applied?: number; mutant?: string }): MultiPaxosReplica {
  const hardState: PaxosHardState = { promised: BALLOT as PaxosHardState['promised'], ...(o.chosen === undefined ? {} : { chosen: o.chosen as PaxosHardState['chosen'] }) };
  return new MultiPaxosReplica({
    id: nodeId('n4'), membership: TOLD, random: new Prng(7), prePrepare: false,
    restored: { hardState, snapshot: o.snapshot ?? null, entries: o.entries ?? [] },
    ...(o.applied === undefined ? {} : { applied: o.applied as Index }),
    ...(o.mutant === undefined ? {} : { mutant: o.mutant }),
  });
}

/** Whether `r` runs phase 1 within many election timeouts (nobody answers it). */
function campaigns(r: MultiPaxosReplica): boolean {
  for (let i = 0; i < 200; i++) {
    r.tick();
    while (r.hasReady()) {
      const rd = r.ready();
      if (rd.send.some((m) => m.type === 'prepare')) return true;
      r.advance(rd);
    }
    if (r.status().role === 'candidate') return true;
  }
  return false;
}

/** n4 joined told since 10, applied slots 1..5 (sent from slot 1), and snapshots at 5. */
function snapshotBelowSince(mutant?: string): Snapshot {
  const r = joiner({ entries: [1, 2, 3, 4, 5].map(command), chosen: 5, applied: 5, ...(mutant === undefined ? {} : { mutant }) });
  assert.equal(r.status().appliedIndex, 5);
  assert.equal(r.status().membership.since, 10, 'status shows the configuration with the slot it holds at, above the applied one');
  r.compact(5 as Index, STATE, r.status().membership);
  const s = r.heldSnapshot();
  assert.ok(s !== null);
  return s;
}

test('a joiner\'s snapshot below its since carries the since (status() shows it too)', () => {
  const s = snapshotBelowSince();
  assert.equal(s.meta.index, 5);
  assert.equal(s.meta.membership.since, 10, 'the told configuration is that of slot 10, not of slot 5');
  assert.deepEqual(s.meta.membership.voters, TOLD.voters);
  assert.ok(isMembership(s.meta.membership));
});

test('restarted from its snapshot below since, a joiner does not campaign with the told configuration', () => {
  const r = joiner({ snapshot: snapshotBelowSince() });
  assert.equal(r.status().membership.since, 10);
  assert.equal(campaigns(r), false, 'the told configuration is not the one at slot 5: phase 1 may not start from it');
});

test('restarted from a snapshot below since with every slot up to since chosen, or from one at since, a joiner campaigns', () => {
  // Slots 6..10 chosen (the durable mark at 10), none a configuration entry: the told configuration is that of slot 10.
  const past = joiner({ snapshot: snapshotBelowSince(), entries: [6, 7, 8, 9, 10].map(command), chosen: 10, applied: 5 });
  assert.equal(campaigns(past), true);
  // A snapshot at since (or above) is of the configuration of its own slot.
  const at: Snapshot = { meta: { index: 10 as Index, term: BALLOT as LogEntry['term'], membership: { voters: TOLD.voters, outgoingVoters: [], learners: [] } }, data: STATE };
  assert.equal(campaigns(joiner({ snapshot: at })), true);
});

test('an acceptor that installs a snapshot below its sender\'s since does not take that configuration for the one at the snapshot\'s slot', () => {
  const s = snapshotBelowSince();
  // n2, an original member with nothing chosen, is sent n4's snapshot by n4 leading ballot 2 (rank 4).
  const n2 = new MultiPaxosReplica({ id: nodeId('n2'), membership: { voters: ids('n1', 'n2', 'n3'), outgoingVoters: [], learners: [] }, random: new Prng(3), prePrepare: false });
  const ballot = makeBallot(2, 4);
  const install: InstallSnapshot = { type: 'install-snapshot', from: nodeId('n4'), to: nodeId('n2'), ballot, meta: s.meta, offset: 0, chunk: s.data, done: true, commit: 5 as Slot };
  n2.step(install);
  while (n2.hasReady()) n2.advance(n2.ready());
  assert.equal(n2.status().commitIndex, 5, 'the snapshot is installed');
  assert.equal(n2.status().membership.since, 10);
  assert.equal(campaigns(n2), false);
});

test('the snapshot-forgets-since mutant: restored from the joiner\'s snapshot below since, it campaigns at once with the told configuration', () => {
  const r = joiner({ snapshot: snapshotBelowSince(), mutant: 'snapshot-forgets-since' });
  assert.equal(campaigns(r), true);
});
