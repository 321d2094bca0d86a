/**
 * The list-append workload's pure parts (no cluster): the two requests a transaction sends, how
 * its reads are filled, and how its answers are recorded, by the register workload's rules (a
 * commit that may have been applied is never `fail`; one never sent is left out).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { commitRequest, completeOps, parseList, readRequest, readStates, recordTxn, touchedKeys, type KeyState } from '../../src/chaos/list-append-workload.js';
import type { CallResult } from '../../src/chaos/etcd-clients.js';
import type { MicroOp } from '../../src/check/elle/index.js';

const OPS: MicroOp[] = [['r', 'a0', null], ['append', 'a1', 7], ['append', 'a0', 8], ['r', 'a0', null], ['append', 'a1', 9]];
const KEYS = ['a0', 'a1'];
const range = (value: string | null, rev = '5') => ({ response_range: { kvs: value === null ? [] : [{ key: Buffer.from('k'), value: Buffer.from(value), mod_revision: rev }] } });
const READ: CallResult = { err: null, value: { succeeded: true, responses: [range('1,2', '12'), range(null)] } };

test('list-append: the read step ranges each touched key once, in order of first touch', () => {
  assert.deepEqual(touchedKeys(OPS), KEYS);
  const req = readRequest(KEYS) as { compare: unknown[]; success: { request_range: { key: Buffer } }[] };
  assert.deepEqual(req.compare, []);
  assert.deepEqual(req.success.map((o) => o.request_range.key.toString()), KEYS);
});

test('list-append: stored lists are comma-joined values; absent or empty is null', () => {
  assert.deepEqual(parseList(Buffer.from('1,22,x')), [1, 22, 'x']);
  assert.equal(parseList(Buffer.from('')), null);
  assert.equal(parseList(undefined), null);
  const states = readStates(KEYS, READ.value);
  assert.deepEqual(states.get('a0'), { list: [1, 2], modRevision: '12' });
  assert.deepEqual(states.get('a1'), { list: null, modRevision: '0' });
});

test('list-append: the commit compares every touched key with what was read, returns them, and puts the appended lists', () => {
  const states = readStates(KEYS, READ.value);
  const req = commitRequest(OPS, KEYS, states) as { compare: Record<string, unknown>[]; success: Record<string, { key: Buffer; value?: Buffer }>[]; failure: unknown[] };
  assert.deepEqual(req.compare.map((c) => [String(c.key), c.target, c.result, c.mod_revision ?? c.create_revision]), [['a0', 'MOD', 'EQUAL', '12'], ['a1', 'CREATE', 'EQUAL', '0']]);
  assert.deepEqual(req.success.map((o) => Object.keys(o)[0]), ['request_range', 'request_range', 'request_put', 'request_put']);
  const puts = req.success.slice(2).map((o) => [o.request_put!.key.toString(), o.request_put!.value!.toString()]);
  assert.deepEqual(puts.sort(), [['a0', '1,2,8'], ['a1', '7,9']]);
  assert.deepEqual(req.failure, []);
});

test('list-append: reads are filled with the state at the start plus the transaction\'s own earlier appends', () => {
  const states = new Map<string, KeyState>([['a0', { list: [1, 2], modRevision: '12' }], ['a1', { list: null, modRevision: '0' }]]);
  assert.deepEqual(completeOps(OPS, states), [['r', 'a0', [1, 2]], ['append', 'a1', 7], ['append', 'a0', 8], ['r', 'a0', [1, 2, 8]], ['append', 'a1', 9]]);
});

test('list-append: outcomes (read failed: fail; never sent: left out; lost after sending: unknown; compare failed: fail; committed: ok)', () => {
  const inv = { id: 3, client: 1, ops: OPS };
  const down: CallResult = { err: { code: grpc.status.UNAVAILABLE, details: 'No connection established. Last error: ...' }, value: undefined };
  const timeout: CallResult = { err: { code: grpc.status.DEADLINE_EXCEEDED, details: 'Deadline exceeded' }, value: undefined };
  const readFailed = recordTxn(inv, timeout, null, 1, 2);
  assert.ok(readFailed !== 'not-sent');
  assert.equal(readFailed.outcome, 'fail');
  assert.ok(readFailed.ops.every((op) => op[0] === 'append' || op[2] === null));
  assert.equal(recordTxn(inv, READ, down, 1, 2), 'not-sent');
  for (const lost of [timeout, { err: { code: grpc.status.UNAVAILABLE, details: 'Connection dropped' }, value: undefined }]) {
    const u = recordTxn(inv, READ, lost, 1, 2);
    assert.ok(u !== 'not-sent');
    assert.equal(u.outcome, 'unknown');
    assert.equal(u.completedAt, Number.POSITIVE_INFINITY);
  }
  const conflict = recordTxn(inv, READ, { err: null, value: { succeeded: false, responses: [] } }, 1, 2);
  assert.ok(conflict !== 'not-sent');
  assert.equal(conflict.outcome, 'fail');
  const ok = recordTxn(inv, READ, { err: null, value: { succeeded: true, responses: [range('1,2', '12'), range(null), {}, {}] } }, 1, 2);
  assert.ok(ok !== 'not-sent');
  assert.deepEqual(ok, { id: 3, client: 1, outcome: 'ok', invokedAt: 1, completedAt: 2, ops: [['r', 'a0', [1, 2]], ['append', 'a1', 7], ['append', 'a0', 8], ['r', 'a0', [1, 2, 8]], ['append', 'a1', 9]] });
  const readOnly = recordTxn({ id: 4, client: 1, ops: [['r', 'a0', null]] }, READ, null, 1, 2);
  assert.ok(readOnly !== 'not-sent');
  assert.deepEqual(readOnly.ops, [['r', 'a0', [1, 2]]]);
});
