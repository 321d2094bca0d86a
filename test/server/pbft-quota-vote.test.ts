/**
 * Under a Byzantine protocol a member's NOSPACE is its vote (f + 1 members out of space raise it).
 * A vote must stand only while its member is out of space: one left standing after the member freed
 * space (compaction, defragment) lets a single liar's vote, at any later time, raise NOSPACE on
 * every member (a review finding of the alarm votes).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { index } from '../../src/core/ids.js';
import { encodeKvCommand, KvStateMachine, type KvCommand, type KvOutcome, type KvRequest } from '../../src/statemachine/mvcc/index.js';
import { BackendQuota } from '../../src/server/quota.js';
import type { MemberContext } from '../../src/server/member-context.js';

const b = (s: string): Uint8Array => Buffer.from(s);
const put = (key: string, value: Uint8Array): KvRequest =>
  ({ op: 'put', key: b(key), value, lease: '0', prevKv: false, ignoreValue: false, ignoreLease: false });

/** m1's quota on a state machine with f + 1 = 2; m1's proposals apply at once, as ordered by m1. */
function member() {
  const kv = new KvStateMachine(undefined, { leaseExpiryQuorum: 2 });
  let at = 0;
  const seqs = new Map<string, number>();
  const order = (origin: string, request: KvCommand['request']): KvOutcome => {
    const seq = (seqs.get(origin) ?? 0) + 1;
    seqs.set(origin, seq);
    return kv.apply(encodeKvCommand({ client: `${origin}/s`, seq, lowestPending: seq, request }), index(++at), origin);
  };
  const ctx = {
    kv, selfNodeId: 'm1', selfMemberId: '1',
    logger: () => {},
    propose: (request: KvCommand['request']) => Promise.resolve(order('m1', request)),
  } as unknown as MemberContext;
  return { kv, order, quota: new BackendQuota(ctx, 64 * 1024) };
}

test('PBFT: a member\'s NOSPACE vote is withdrawn once it has space again, so a liar\'s vote later raises nothing', async () => {
  const { kv, order, quota } = member();
  assert.equal(order('m1', put('big', Buffer.alloc(60 * 1024))).ok, true);
  // A write that does not fit: refused, and m1's NOSPACE vote stands.
  await assert.rejects(quota.beforeWrite(put('more', Buffer.alloc(40 * 1024))), /database space exceeded/);
  assert.deepEqual(kv.alarmVotersOf('activate', '1', 'NOSPACE'), ['m1']);
  // A small write still fits, but m1 is nearly full: its vote stands (no vote that comes and goes with each write's size).
  await quota.beforeWrite(put('tiny', b('x')));
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(kv.alarmVotersOf('activate', '1', 'NOSPACE'), ['m1']);
  // The operator frees space: the key deleted, compacted, defragmented.
  assert.equal(order('m1', { op: 'delete', key: b('big'), rangeEnd: new Uint8Array(0), prevKv: false }).ok, true);
  assert.equal(order('m1', { op: 'compact', revision: kv.store.revision }).ok, true);
  quota.defragmented();
  await quota.beforeWrite(put('small', b('fits')));
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(kv.alarmVotersOf('activate', '1', 'NOSPACE'), [], 'm1 is not out of space: its vote is withdrawn');
  // Much later a liar says it is out of space: one member's word, nothing raised.
  order('m4', { op: 'alarm', action: 'activate', memberId: '4', alarm: 'NOSPACE' });
  assert.deepEqual(kv.cluster.alarmList(), [], 'one liar alone raises no NOSPACE');
});
