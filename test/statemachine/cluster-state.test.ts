/**
 * The replicated cluster state beside the KV store: members recorded from applied membership
 * changes, removed ids remembered, alarms, the NOSPACE rule (puts refused, deletes allowed), and
 * all of it carried by state machine snapshots.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KvStateMachine, encodeKvCommand, type KvCommand, type PutRequest } from '../../src/statemachine/mvcc/index.js';
import { index } from '../../src/core/ids.js';

const b = (s: string): Uint8Array => Buffer.from(s);
const put = (key: string, value: string): PutRequest => ({ op: 'put', key: b(key), value: b(value), lease: '0', prevKv: false, ignoreValue: false, ignoreLease: false });
const change = (c: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(c));

function driver(sm: KvStateMachine): (request: KvCommand['request']) => ReturnType<KvStateMachine['apply']> {
  let seq = 0;
  return (request) => sm.apply(encodeKvCommand({ client: 'c', seq: ++seq, lowestPending: seq, request }), index(seq));
}

test('a membership change with a member context records the member; a removal forgets it and remembers its id', () => {
  const sm = new KvStateMachine();
  sm.applyConfig(change({ kind: 'add-learner', node: 'ab', context: { member: { nodeId: 'ab', id: '171', peerUrls: ['http://h:1'] } } }), index(1));
  assert.deepEqual(sm.cluster.member('ab'), { nodeId: 'ab', id: '171', peerUrls: ['http://h:1'] });
  sm.applyConfig(change({ kind: 'add-voter', node: 'ab', context: { member: { nodeId: 'ab', id: '171', peerUrls: ['http://h:1'] } } }), index(2));
  assert.equal(sm.cluster.allMembers().length, 1);
  sm.applyConfig(change({ kind: 'remove', node: 'ab', context: { member: { nodeId: 'ab', id: '171', peerUrls: ['http://h:1'] } } }), index(3));
  assert.equal(sm.cluster.member('ab'), undefined);
  assert.equal(sm.cluster.wasRemoved('171'), true);
  sm.applyConfig(change({ kind: 'leave-joint' }), index(4)); // no member context: ignored
});

test('NOSPACE: while the alarm is active puts and txns with puts are refused, deletes are not; disarming lifts it', () => {
  const sm = new KvStateMachine();
  const apply = driver(sm);
  assert.equal(apply(put('a', '1')).ok, true);
  const raised = apply({ op: 'alarm', action: 'activate', memberId: '7', alarm: 'NOSPACE' });
  assert.ok(raised.ok && raised.result.op === 'cluster');
  assert.deepEqual(sm.cluster.alarmList(), [{ memberId: '7', alarm: 'NOSPACE' }]);
  assert.deepEqual(apply(put('b', '2')), { ok: false, error: 'no-space' });
  assert.deepEqual(apply({ op: 'txn', compare: [], success: [put('c', '3')], failure: [] }), { ok: false, error: 'no-space' });
  assert.equal(apply({ op: 'delete', key: b('a'), rangeEnd: b(''), prevKv: false }).ok, true);
  apply({ op: 'alarm', action: 'deactivate', memberId: '7', alarm: 'NOSPACE' });
  assert.deepEqual(sm.cluster.alarmList(), []);
  assert.equal(apply(put('b', '2')).ok, true);
});

test('members, removed ids, alarms and published names survive a snapshot; a restore for a new cluster drops them', () => {
  const sm = new KvStateMachine();
  const apply = driver(sm);
  sm.applyConfig(change({ kind: 'add-voter', node: 'x1', context: { member: { nodeId: 'x1', id: '9', peerUrls: ['http://h:2'] } } }), index(1));
  sm.applyConfig(change({ kind: 'remove', node: 'm3', context: { member: { nodeId: 'm3', id: '33', peerUrls: ['http://h:3'] } } }), index(2));
  apply({ op: 'alarm', action: 'activate', memberId: '9', alarm: 'NOSPACE' });
  apply({ op: 'publish-member', name: 'x1', clientUrls: ['http://h:4'], memberName: 'm4' });
  apply({ op: 'member-update', nodeId: 'x1', id: '9', peerUrls: ['http://h:5'] });
  const copy = new KvStateMachine();
  copy.restore(sm.snapshot());
  assert.deepEqual(copy.cluster.member('x1'), { nodeId: 'x1', id: '9', peerUrls: ['http://h:5'] });
  assert.equal(copy.cluster.wasRemoved('33'), true);
  assert.equal(copy.cluster.hasAlarm('NOSPACE'), true);
  assert.equal(copy.publishedNameOf('x1'), 'm4');
  assert.deepEqual(copy.clientUrlsOf('x1'), ['http://h:4']);
  copy.resetForNewCluster();
  assert.equal(copy.cluster.allMembers().length, 0);
  assert.equal(copy.cluster.hasAlarm('NOSPACE'), false);
  assert.equal(copy.publishedNameOf('x1'), undefined);
});
