/**
 * Review of the follower's early heartbeat responses (heartbeatResponses, takeEarly): an answer
 * leaves before a persist only when the term it names is durable. These drive the core directly,
 * as the driver does while a save is in flight (takeEarly between ready() and advance()): the
 * interaction scenarios never call takeEarly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Index, NodeId, Term } from '../../../src/core/ids.js';
import { Prng } from '../../../src/core/prng.js';
import type { Ready } from '../../../src/core/replica.js';
import { RaftReplica } from '../../../src/protocols/raft/raft.js';
import type { RaftHardState, RaftMessage } from '../../../src/protocols/raft/types.js';

const membership = { voters: ['n1', 'n2', 'n3'] as NodeId[], outgoingVoters: [] as NodeId[], learners: [] as NodeId[] };

/** n2, a follower restarted at term 1 (durable) with one entry of term 1. */
function follower(): RaftReplica {
  return new RaftReplica({
    id: 'n2' as NodeId, membership, random: new Prng(1), electionTimeoutTicks: 10, heartbeatIntervalTicks: 1,
    restored: { hardState: { term: 1 as Term, vote: null, commit: 1 as Index }, snapshot: null, entries: [{ index: 1 as Index, term: 1 as Term, kind: 'noop', data: new Uint8Array(0) }] },
    applied: 1 as Index,
  });
}

const hb = (from: string, term: number, readSeq: number): RaftMessage =>
  ({ type: 'heartbeat', from, to: 'n2', term, commit: 1, readSeq }) as unknown as RaftMessage;
const append = (from: string, term: number, index: number): RaftMessage =>
  ({ type: 'append', from, to: 'n2', term, prevLogIndex: index - 1, prevLogTerm: 1, commit: 1, entries: [{ index, term, kind: 'command', data: new Uint8Array([1]) }] }) as unknown as RaftMessage;
const responses = (ms: readonly RaftMessage[]) => ms.filter((m) => m.type === 'heartbeat-response');

test('a heartbeat response in a durable term leaves before the persist, and through takeEarly while a save is in flight', () => {
  const r = follower();
  r.step(append('n1', 1, 2));
  r.step(hb('n1', 1, 7));
  const rd = r.ready();
  assert.notEqual(rd.persist, null);
  assert.deepEqual(responses(rd.sendBeforePersist).map((m) => (m as { readSeq: number }).readSeq), [7]);
  r.step(hb('n1', 1, 8));
  assert.deepEqual(responses(r.takeEarly()).map((m) => (m as { readSeq: number }).readSeq), [8]);
  r.advance(rd);
});

test('a heartbeat of a new term answered while the save in flight does not write that term: nothing leaves early', () => {
  const r = follower();
  r.step(append('n1', 1, 2));
  const rd1 = r.ready(); // saving entry 2, term 1 (durable already)
  r.step(hb('n3', 2, 5)); // n3 leads term 2: n2's term 2 is not durable
  assert.deepEqual(r.takeEarly(), [], 'no answer in a term not yet durable');
  r.advance(rd1);
  const rd2: Ready<RaftMessage, RaftHardState> = r.ready();
  assert.equal(rd2.persist?.hardState?.term, 2, 'the next persist writes term 2');
  assert.deepEqual(responses(rd2.sendBeforePersist), [], 'not before it');
  assert.equal(responses(rd2.send).length, 1, 'the answer leaves after it');
});

test('a heartbeat of a new term answered while the save in flight writes that term: nothing leaves until it is durable', () => {
  const r = follower();
  r.step(append('n3', 2, 2)); // n3 leads term 2: this Ready writes term 2
  const rd1 = r.ready();
  assert.equal(rd1.persist?.hardState?.term, 2);
  r.step(hb('n3', 2, 5));
  assert.deepEqual(r.takeEarly(), [], 'term 2 is being written, not durable');
  r.advance(rd1);
  assert.equal(responses(r.takeEarly()).length, 1, 'durable now: it leaves');
});

test('an answer queued in term 1, then a vote granted in term 3 (a transfer\'s, past the lease) while a save is in flight: it waits for the vote\'s persist', () => {
  const r = follower();
  r.step(append('n1', 1, 2));
  const rd1 = r.ready();
  r.step(hb('n1', 1, 3));
  r.step({ type: 'vote-request', from: 'n3', to: 'n2', term: 3, lastLogIndex: 9, lastLogTerm: 2, preVote: false, transfer: true } as unknown as RaftMessage);
  assert.deepEqual(r.takeEarly(), [], 'the term and vote changed: nothing leaves early');
  r.advance(rd1);
  const rd2 = r.ready();
  assert.deepEqual(responses(rd2.sendBeforePersist), []);
  const late = responses(rd2.send);
  assert.equal(late.length, 1);
  assert.equal(late[0]!.term, 1, 'it names the term it was made in (a stale answer, as a delayed one)');
});
