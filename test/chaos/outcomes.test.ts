/**
 * How `quorate chaos` records an operation's answer (`record`, pure: no cluster). A write or cas
 * that may have been applied must never be recorded as `fail` (to the checker a failed write did
 * not happen, a failed cas read another value): only one grpc-js never sent may be left out.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { neverSent, type CallResult } from '../../src/chaos/etcd-clients.js';
import { record, type Invocation } from '../../src/chaos/register-workload.js';

const write: Invocation = { id: 1, client: 4, kind: 'write', key: 'k1', value: 3 };
const cas: Invocation = { id: 2, client: 5, kind: 'cas', key: 'k2', value: 1, expected: 0 };
const read: Invocation = { id: 3, client: 6, kind: 'read', key: 'k3', value: 0 };
const error = (code: grpc.status, details: string): CallResult => ({ err: { code, details }, value: undefined });

/** Errors a write or cas may get after it was sent: each may have been applied. */
const MAYBE_APPLIED: [string, CallResult][] = [
  ['a deadline', error(grpc.status.DEADLINE_EXCEEDED, 'Deadline exceeded after 2.001s,LB pick: 0.001s,remote_addr=10.64.1.1:2379')],
  ['a dropped connection', error(grpc.status.UNAVAILABLE, 'Connection dropped')],
  ['a reset', error(grpc.status.UNAVAILABLE, 'read ECONNRESET')],
  ['etcd timing out', error(grpc.status.UNAVAILABLE, 'etcdserver: request timed out')],
  ['etcd losing its leader', error(grpc.status.UNAVAILABLE, 'etcdserver: leader changed')],
  ['etcd having none', error(grpc.status.UNAVAILABLE, 'etcdserver: no leader')],
  ['a refused stream retried and still refused', error(grpc.status.UNAVAILABLE, 'Stream refused by server')],
  ['cancelled', error(grpc.status.CANCELLED, 'Call cancelled')],
  ['too many requests', error(grpc.status.RESOURCE_EXHAUSTED, 'etcdserver: too many requests')],
  ['an internal error', error(grpc.status.INTERNAL, 'Received RST_STREAM with code 2 (Internal server error)')],
  ['an unknown one', error(grpc.status.UNKNOWN, 'something')],
  // Another balancer's wording: not the one the rule knows, so not taken as never sent.
  ['round robin with no connection', error(grpc.status.UNAVAILABLE, 'round_robin: No connection established. Last error: x')],
  // The text with another code is not grpc-js's picker.
  ['the picker text with another code', error(grpc.status.DEADLINE_EXCEEDED, 'No connection established')],
];

test('a write or cas that failed after it may have been sent is unknown, completing at +Infinity', () => {
  for (const op of [write, cas]) {
    for (const [what, res] of MAYBE_APPLIED) {
      const r = record(op, res, 10, 20);
      assert.notEqual(r, 'not-sent', `${op.kind}, ${what}`);
      assert.ok(r !== 'not-sent');
      assert.equal(r.outcome, 'unknown', `${op.kind}, ${what}`);
      assert.equal(r.completedAt, Infinity);
      assert.equal(r.invokedAt, 10);
      assert.equal(r.client, op.client);
    }
  }
});

test('only grpc-js\'s picker with no connection counts as never sent', () => {
  const picker = error(grpc.status.UNAVAILABLE, 'No connection established. Last error: connect ECONNREFUSED 10.64.1.1:2379. Resolution note: ');
  assert.equal(record(write, picker, 1, 2), 'not-sent');
  assert.equal(record(cas, picker, 1, 2), 'not-sent');
  assert.ok(neverSent({ code: grpc.status.UNAVAILABLE, details: 'No connection established' }));
  for (const [, res] of MAYBE_APPLIED) assert.equal(neverSent(res.err!), false);
});

test('a cas answered false is fail (a compare that read another value); answered true, ok', () => {
  const no = record(cas, { err: null, value: { succeeded: false } }, 1, 2);
  assert.ok(no !== 'not-sent');
  assert.deepEqual({ outcome: no.outcome, expected: no.expected, value: no.value, completedAt: no.completedAt }, { outcome: 'fail', expected: 0, value: 1, completedAt: 2 });
  const yes = record(cas, { err: null, value: { succeeded: true } }, 1, 2);
  assert.ok(yes !== 'not-sent' && yes.outcome === 'ok');
  const w = record(write, { err: null, value: {} }, 1, 2);
  assert.ok(w !== 'not-sent' && w.outcome === 'ok' && w.value === 3 && w.completedAt === 2 && !('expected' in w));
});

test('a read: ok with what it saw (a missing key is nil), fail on any error, never a value it did not see', () => {
  const none = record(read, { err: null, value: { kvs: [] } }, 1, 2);
  assert.ok(none !== 'not-sent' && none.outcome === 'ok' && none.result === null);
  const missing = record(read, { err: null, value: {} }, 1, 2);
  assert.ok(missing !== 'not-sent' && missing.outcome === 'ok' && missing.result === null);
  const four = record(read, { err: null, value: { kvs: [{ value: Buffer.from('4') }] } }, 1, 2);
  assert.ok(four !== 'not-sent' && four.outcome === 'ok' && four.result === 4);
  const odd = record(read, { err: null, value: { kvs: [{ value: Buffer.from('4x') }] } }, 1, 2);
  assert.ok(odd !== 'not-sent' && odd.result === '4x');
  for (const [what, res] of [...MAYBE_APPLIED, ['no connection', error(grpc.status.UNAVAILABLE, 'No connection established')] as [string, CallResult]]) {
    const r = record(read, res, 1, 2);
    assert.ok(r !== 'not-sent', what);
    assert.equal(r.outcome, 'fail', what);
    assert.equal(r.result, undefined, what);
  }
});
