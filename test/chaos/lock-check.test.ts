/**
 * The lock workloads' checker and recording, on made-up histories (no cluster): lost updates,
 * holders whose accepted critical sections overlap in real time, and writes accepted with a
 * token lower than one accepted before them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { checkLocks, parseResource, type Acquisition } from '../../src/chaos/lock-check.js';
import { recordWrite } from '../../src/chaos/lock-workload.js';

/** An acquisition holding [from, to] ms with token `token`, its write accepted at `revision`. */
function held(id: number, client: number, token: number, from: number, to: number, revision: number | null, outcome: 'ok' | 'fail' | 'unknown' = 'ok', clientPauseMs = 0): Acquisition {
  return {
    id, client, invokedAt: from - 1, acquiredAt: from, lockKey: `chaos-lock/${client}`, token, clientPauseMs,
    write: { invokedAt: to - 1, completedAt: outcome === 'unknown' ? Infinity : to, outcome, revision: outcome === 'ok' ? revision : null },
  };
}

/** Three holders one after another, each appending its id: what a correct lock gives. */
const serial = [held(1, 0, 10, 0, 50, 11), held(2, 1, 12, 60, 100, 13), held(3, 2, 14, 110, 150, 15)];

test('holders one after another, every accepted write in the final resource: valid', () => {
  const r = checkLocks(serial, [1, 2, 3]);
  assert.equal(r.verdict, 'valid', r.details);
  assert.equal(r.acquisitions, 3);
});

test('an acknowledged write missing from the final resource is a lost update; an unknown or refused one may be missing', () => {
  const r = checkLocks(serial, [1, 3]);
  assert.equal(r.verdict, 'invalid');
  assert.deepEqual(r.anomalies.map((a) => [a.kind, a.ids]), [['lost update', [2]]]);
  const maybe = [...serial, held(4, 0, 16, 160, 200, null, 'unknown'), held(5, 1, 18, 210, 250, null, 'fail')];
  assert.equal(checkLocks(maybe, [1, 2, 3]).verdict, 'valid');
});

test('a holder stalled past its lease writing over a later holder: lost update, overlap and stale token', () => {
  // Client 0 took the lock (token 10), stalled 3 s; its lease expired, client 1 took it (token 12)
  // and wrote [2]; client 0 woke and wrote what it had read plus its id: [1].
  const history = [held(1, 0, 10, 0, 3_100, 14, 'ok', 3_000), held(2, 1, 12, 2_200, 2_300, 13)];
  const r = checkLocks(history, [1]);
  assert.equal(r.verdict, 'invalid');
  assert.deepEqual(r.anomalies.map((a) => [a.kind, a.ids]), [['lost update', [2]], ['overlap', [1, 2]], ['stale token', [2, 1]]]);
  assert.match(r.summary, /lost update 1, overlap 1, stale token 1/);
  assert.match(r.details, /client paused 3000 ms/);
});

test('fenced: the stalled holder\'s write refused: no anomaly', () => {
  const history = [held(1, 0, 10, 0, 3_100, null, 'fail', 3_000), held(2, 1, 12, 2_200, 2_300, 13)];
  assert.equal(checkLocks(history, [2]).verdict, 'valid');
});

test('a write answered late, after another holder took the lock, but sent before it: not an overlap (it may have landed before)', () => {
  // Client 0's write was sent at 99 and landed (rev 11) while it held the lock; its answer came
  // back at 2 500, after its lease had expired and client 1 had taken the lock at 2 200.
  const slow: Acquisition = { ...held(1, 0, 10, 0, 2_500, 11), write: { invokedAt: 99, completedAt: 2_500, outcome: 'ok', revision: 11 } };
  const r = checkLocks([slow, held(2, 1, 12, 2_200, 2_300, 13)], [1, 2]);
  assert.equal(r.verdict, 'valid', r.details);
});

test('fenced: a Lock that granted two at once shows as a write refused while its lock key still stood (the resource changed under it)', () => {
  // Both granted at 0; both read the empty resource; client 0's write accepted, client 1's refused
  // by the resource's compare although its lock key was still there.
  const refusedWhileHeld = (lockHeld: boolean): Acquisition => ({ ...held(2, 1, 11, 0, 52, null, 'fail'), write: { invokedAt: 51, completedAt: 52, outcome: 'fail', revision: null, lockHeld } });
  const both = [held(1, 0, 10, 0, 50, 12), refusedWhileHeld(true)];
  const r = checkLocks(both, [1]);
  assert.equal(r.verdict, 'invalid');
  assert.deepEqual(r.anomalies.map((a) => [a.kind, a.ids]), [['overlap', [2]]]);
  // Refused because its lock key was gone (its lease expired): no anomaly.
  assert.equal(checkLocks([both[0]!, refusedWhileHeld(false)], [1]).verdict, 'valid');
});

test('sections that touch but do not overlap, and one client\'s own sections, are not overlaps', () => {
  const history = [held(1, 0, 10, 0, 50, 11), held(2, 1, 12, 50, 100, 13), held(3, 1, 14, 100, 150, 15)];
  assert.equal(checkLocks(history, [1, 2, 3]).verdict, 'valid');
});

test('a token lower than one accepted earlier (by the revision written) is stale even without overlap in time', () => {
  const history = [held(1, 0, 20, 0, 50, 21), held(2, 1, 15, 60, 100, 22)];
  const r = checkLocks(history, [1, 2]);
  assert.deepEqual(r.anomalies.map((a) => a.kind), ['stale token']);
});

test('without the final resource: unknown, unless another anomaly shows', () => {
  assert.equal(checkLocks(serial, null).verdict, 'unknown');
  assert.equal(checkLocks([held(1, 0, 10, 0, 100, 11), held(2, 1, 12, 50, 150, 13)], null).verdict, 'invalid');
});

test('recording: the resource\'s ids; a write\'s outcome, fenced and not', () => {
  assert.deepEqual(parseResource(''), []);
  assert.deepEqual(parseResource('3 7 12'), [3, 7, 12]);
  const answered = { err: null, value: { succeeded: true, header: { revision: '31' } } };
  assert.deepEqual(recordWrite(true, answered, 1, 2), { invokedAt: 1, completedAt: 2, outcome: 'ok', revision: 31 });
  assert.deepEqual(recordWrite(true, { err: null, value: { succeeded: false, header: { revision: '31' } } }, 1, 2), { invokedAt: 1, completedAt: 2, outcome: 'fail', revision: null, lockHeld: false });
  // A refused fenced write's failure branch read its lock key: still at its token, or gone.
  const refused = (kvs: unknown[]): unknown => ({ err: null, value: { succeeded: false, header: { revision: '31' }, responses: [{ response_range: { kvs }, response: 'response_range' }] } });
  assert.equal(recordWrite(true, refused([{ key: Buffer.from('chaos-lock/1'), create_revision: '20' }]) as never, 1, 2, 20).lockHeld, true);
  assert.equal(recordWrite(true, refused([]) as never, 1, 2, 20).lockHeld, false);
  assert.equal(recordWrite(true, refused([{ key: Buffer.from('chaos-lock/1'), create_revision: '25' }]) as never, 1, 2, 20).lockHeld, false);
  // An unfenced Put has no `succeeded`: answered is accepted.
  assert.deepEqual(recordWrite(false, { err: null, value: { header: { revision: '9' } } }, 1, 2), { invokedAt: 1, completedAt: 2, outcome: 'ok', revision: 9 });
  assert.deepEqual(recordWrite(false, { err: { code: grpc.status.UNAVAILABLE, details: 'etcdserver: request timed out' }, value: undefined }, 1, 2), { invokedAt: 1, completedAt: Infinity, outcome: 'unknown', revision: null });
  assert.deepEqual(recordWrite(true, { err: { code: grpc.status.UNAVAILABLE, details: 'No connection established' }, value: undefined }, 1, 2), { invokedAt: 1, completedAt: 2, outcome: 'fail', revision: null });
});
