/**
 * Under a Byzantine protocol the state machine learns which member ordered each command (the
 * protocol checked its client's signature) and trusts that, not what the command claims: a lying
 * member can neither pre-seed nor close another member's session, nor expire a live lease alone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { index } from '../../src/core/ids.js';
import { encodeKvCommand, KvStateMachine, type KvCommand, type KvOutcome, type LeaseResult } from '../../src/statemachine/mvcc/index.js';

const b = (s: string): Uint8Array => Buffer.from(s);
const put = (key: string, value: string): KvCommand['request'] =>
  ({ op: 'put', key: b(key), value: b(value), lease: '0', prevKv: false, ignoreValue: false, ignoreLease: false });
let at = 0;
const apply = (sm: KvStateMachine, origin: string, client: string, seq: number, request: KvCommand['request']): KvOutcome =>
  sm.apply(encodeKvCommand({ client, seq, lowestPending: seq, request }), index(++at), origin);
const applied = (o: KvOutcome): boolean => o.ok && (o.result as LeaseResult).applied;

test('a session belongs to the member that ordered it: a liar using an honest member\'s client id gets its own session', () => {
  const sm = new KvStateMachine();
  // m4 lies: it orders seq 1 of m1's session first, with a put of its own.
  const forged = apply(sm, 'm4', 'm1/session', 1, put('k', 'forged'));
  // m1's own seq 1 must take effect, not be answered with m4's cached result.
  const honest = apply(sm, 'm1', 'm1/session', 1, put('k', 'honest'));
  assert.equal(honest.ok, true);
  assert.notDeepEqual(honest, forged, 'm1 is not answered with the liar\'s result');
  assert.equal(sm.store.state().revision, 3, 'both puts took effect: m1\'s was not swallowed as a duplicate');
  // Nor can the liar close m1's session (a lowestPending far ahead) so that m1's retry is refused as stale.
  sm.apply(encodeKvCommand({ client: 'm1/other', seq: 1, lowestPending: 1_000, request: put('x', '1') }), index(++at), 'm4');
  assert.equal(apply(sm, 'm1', 'm1/other', 1, put('x', '2')).ok, true, 'm1\'s seq 1 is not a stale duplicate');
});

test('with an expiry quorum of f + 1 = 2, one member\'s lease-expire does not expire a live lease; two distinct members\' do', () => {
  const sm = new KvStateMachine(undefined, { leaseExpiryQuorum: 2 });
  assert.equal(apply(sm, 'm1', 'c1', 1, { op: 'lease-grant', id: '7', ttlSeconds: 10 }).ok, true);
  assert.equal(applied(apply(sm, 'm4', 'c4', 1, { op: 'lease-expire', id: '7', renewals: 0 })), false, 'one liar alone');
  assert.equal(applied(apply(sm, 'm4', 'c4', 2, { op: 'lease-expire', id: '7', renewals: 0 })), false, 'the same liar again');
  // A snapshot taken now carries the vote: a member restored from it decides alike.
  const restored = new KvStateMachine(undefined, { leaseExpiryQuorum: 2 });
  restored.restore(sm.snapshot());
  // A keep-alive in between voids the earlier vote.
  for (const s of [sm, restored]) assert.equal(apply(s, 'm1', 'c1', 2, { op: 'lease-renew', id: '7' }).ok, true);
  for (const s of [sm, restored]) assert.equal(applied(apply(s, 'm2', 'c2', 1, { op: 'lease-expire', id: '7', renewals: 0 })), false, 'a vote for a stale renewal count');
  for (const s of [sm, restored]) {
    assert.equal(applied(apply(s, 'm2', 'c2', 2, { op: 'lease-expire', id: '7', renewals: 1 })), false);
    assert.equal(applied(apply(s, 'm3', 'c3', 1, { op: 'lease-expire', id: '7', renewals: 1 })), true, 'two distinct members agree');
    assert.equal(s.leases.get('7'), null);
  }
});

test('crash-fault protocols (no origin, quorum 1): the leader\'s lease-expire decides alone, as before', () => {
  const sm = new KvStateMachine();
  sm.apply(encodeKvCommand({ client: 'c', seq: 1, lowestPending: 1, request: { op: 'lease-grant', id: '9', ttlSeconds: 5 } }), index(++at));
  const o = sm.apply(encodeKvCommand({ client: 'c', seq: 2, lowestPending: 2, request: { op: 'lease-expire', id: '9', renewals: 0 } }), index(++at));
  assert.equal(applied(o), true);
});
