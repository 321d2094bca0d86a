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
  assert.deepEqual(recordWrite(true, { err: null, value: { succeeded: false, header: { revision: '31' } } }, 1, 2), { invokedAt: 1, completedAt: 2, outcome: 'fail', revision: null });
  // An unfenced Put has no `succeeded`: answered is accepted.
  assert.deepEqual(recordWrite(false, { err: null, value: { header: { revision: '9' } } }, 1, 2), { invokedAt: 1, completedAt: 2, outcome: 'ok', revision: 9 });
  assert.deepEqual(recordWrite(false, { err: { code: grpc.status.UNAVAILABLE, details: 'etcdserver: request timed out' }, value: undefined }, 1, 2), { invokedAt: 1, completedAt: Infinity, outcome: 'unknown', revision: null });
  assert.deepEqual(recordWrite(true, { err: { code: grpc.status.UNAVAILABLE, details: 'No connection established' }, value: undefined }, 1, 2), { invokedAt: 1, completedAt: 2, outcome: 'fail', revision: null });
});
