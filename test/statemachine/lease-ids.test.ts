/**
 * Lease ids in the state machine are int64s as decimal text (lease-id.ts): exact above 2^53, in
 * commands, in snapshots, in compares; commands and snapshots from before ids were text (numbers)
 * still apply and restore; text that is no int64 is a malformed command, not an assertion.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pack, unpack } from '../../src/core/codec.js';
import { index } from '../../src/core/ids.js';
import {
  KvStateMachine, decodeKvCommand, encodeKvCommand, isLeaseId, leaseIdHex,
  type KvOutcome, type KvRequest, type LeaseRequest, type PutRequest, type RangeResult,
} from '../../src/statemachine/mvcc/index.js';

const b = (s: string): Uint8Array => Buffer.from(s);
const put = (key: string, lease: string): PutRequest =>
  ({ op: 'put', key: b(key), value: b('v'), lease, prevKv: false, ignoreValue: false, ignoreLease: false });
const get = (key: string): KvRequest => ({
  op: 'range', key: b(key), rangeEnd: b(''), limit: 0, revision: 0, sortOrder: 'NONE', sortTarget: 'KEY', keysOnly: false, countOnly: false,
  minModRevision: 0, maxModRevision: 0, minCreateRevision: 0, maxCreateRevision: 0,
});

const ABOVE_2_53 = '9007199254740993';
const NEIGHBOUR = '9007199254740994';
const INT64_MAX = '9223372036854775807';
const NEGATIVE = '-9223372036854775808';

function applier(sm: KvStateMachine): (request: KvRequest | LeaseRequest) => KvOutcome {
  let seq = 0;
  return (request) => { seq++; return sm.apply(encodeKvCommand({ client: 't', seq, lowestPending: seq, request }), index(seq)); };
}

const leaseOf = (sm: KvStateMachine, key: string): unknown => {
  const o = sm.execute(get(key));
  assert.ok(o.ok);
  return (o.result as RangeResult).kvs[0]?.lease;
};

test('ids a double cannot hold are distinct leases, attach keys, compare in int64 order and survive a snapshot', () => {
  const sm = new KvStateMachine();
  const apply = applier(sm);
  for (const id of [ABOVE_2_53, NEIGHBOUR, INT64_MAX, NEGATIVE]) {
    assert.equal(apply({ op: 'lease-grant', id, ttlSeconds: 60 }).ok, true, id);
    assert.equal(apply(put(`k${id}`, id)).ok, true);
  }
  assert.deepEqual(apply({ op: 'lease-grant', id: ABOVE_2_53, ttlSeconds: 60 }), { ok: false, error: 'lease-exists' });
  assert.deepEqual(apply(put('none', '9007199254740995')), { ok: false, error: 'lease-not-found' });
  assert.equal(leaseOf(sm, `k${ABOVE_2_53}`), ABOVE_2_53);

  const compare = (result: 'EQUAL' | 'GREATER' | 'LESS', key: string, operand: string): boolean => {
    const o = apply({ op: 'txn', compare: [{ result, target: 'LEASE', key: b(key), rangeEnd: b(''), operand }], success: [], failure: [] });
    assert.ok(o.ok && o.result.op === 'txn');
    return o.result.succeeded;
  };
  assert.equal(compare('EQUAL', `k${ABOVE_2_53}`, NEIGHBOUR), false, '2^53 + 1 is not 2^53 + 2');
  assert.equal(compare('LESS', `k${ABOVE_2_53}`, NEIGHBOUR), true);
  assert.equal(compare('GREATER', `k${INT64_MAX}`, NEIGHBOUR), true);
  assert.equal(compare('LESS', `k${NEGATIVE}`, '0'), true, 'ordered as int64s, not as text');
  assert.equal(compare('GREATER', `k${NEIGHBOUR}`, '10000000000000000'), false, 'ordered as int64s, not as text');

  assert.equal(apply({ op: 'lease-revoke', id: NEIGHBOUR }).ok, true);
  assert.equal(sm.leases.has(ABOVE_2_53), true, 'revoking its neighbour left it');

  const copy = new KvStateMachine();
  copy.restore(sm.snapshot());
  assert.deepEqual(copy.leases.ids().sort(), [ABOVE_2_53, INT64_MAX, NEGATIVE].sort());
  assert.deepEqual(copy.leases.get(INT64_MAX)?.keys.map((k) => k.toString()), [`k${INT64_MAX}`]);
  assert.equal(leaseOf(copy, `k${NEGATIVE}`), NEGATIVE);
  assert.equal(Buffer.from(copy.snapshot()).equals(Buffer.from(sm.snapshot())), true, 'the snapshot round-trips byte for byte');
});

test('commands and snapshots from before lease ids were text (numbers) still apply and restore, as text', () => {
  const sm = new KvStateMachine();
  const legacy = (seq: number, request: Record<string, unknown>): KvOutcome =>
    sm.apply(pack({ client: 'old', seq, lowestPending: seq, request }), index(seq));
  assert.equal(legacy(1, { op: 'lease-grant', id: 7, ttlSeconds: 60 }).ok, true);
  assert.equal(legacy(2, { ...put('a', '0'), lease: 7 }).ok, true);
  assert.equal(leaseOf(sm, 'a'), '7');
  assert.equal(legacy(3, { op: 'lease-renew', id: 7 }).ok, true);

  // A snapshot written before: the same state with every lease id a number.
  const snap = unpack(sm.snapshot()) as { keys: [string, unknown[][]][]; leases: unknown[][] };
  for (const [, revs] of snap.keys) for (const r of revs) r[5] = Number(r[5]);
  for (const l of snap.leases) l[0] = Number(l[0]);
  const restored = new KvStateMachine();
  restored.restore(pack(snap));
  assert.deepEqual(restored.leases.ids(), ['7']);
  assert.equal(leaseOf(restored, 'a'), '7');
  assert.deepEqual(restored.leases.get('7')?.keys.map((k) => k.toString()), ['a']);
});

test('lease ids that are no int64 (or 0 for a grant) make a malformed command', () => {
  const command = (request: Record<string, unknown>): Uint8Array => pack({ client: 'c', seq: 1, lowestPending: 1, request });
  for (const id of ['0', '007', '+7', '-0', '9223372036854775808', '-9223372036854775809', '7.5', 2 ** 53, 1.5, '']) {
    assert.equal(decodeKvCommand(command({ op: 'lease-grant', id, ttlSeconds: 10 })), null, `grant ${String(id)}`);
  }
  assert.equal(decodeKvCommand(command({ ...put('a', '0'), lease: '1e3' })), null);
  assert.notEqual(decodeKvCommand(command({ op: 'lease-grant', id: NEGATIVE, ttlSeconds: 10 })), null);
  assert.equal(isLeaseId(INT64_MAX) && !isLeaseId('9223372036854775808'), true);
  for (const id of ['999999999999999999', '-999999999999999999', '1000000000000000000', '-9223372036854775808']) assert.equal(isLeaseId(id), true, id);
  for (const id of ['9999999999999999999', '-9223372036854775809', '-0', '0999999999999999999']) assert.equal(isLeaseId(id), false, id);
  assert.equal(leaseIdHex(ABOVE_2_53), '20000000000001');
  assert.equal(leaseIdHex('-31'), '-1f', "as Go's %x of a negative int64");
});

test('an old command that named a lease by a double above 2^53 applies as the old code applied it (replaying an old log)', () => {
  // Before ids were text the server read int64s as doubles: a client's lease id 2^60 + 1 reached
  // the log as the double 2^60, and 2^63 - 1 as 2^63. The old code applied such commands (no lease
  // had those ids, so a compare on them was false and a put or revoke was 'lease not found').
  // A member that replays them must do the same: a member whose snapshot was taken after them
  // holds what they did, so treating them as malformed would split the members.
  const sm = new KvStateMachine();
  const legacy = (seq: number, request: Record<string, unknown>): KvOutcome =>
    sm.apply(pack({ client: 'old', seq, lowestPending: seq, request }), index(seq));
  assert.equal(legacy(1, { op: 'lease-grant', id: 7, ttlSeconds: 60 }).ok, true);
  assert.equal(legacy(2, { ...put('k', '0'), lease: 7 }).ok, true);
  for (const [seq, operand] of [[3, 2 ** 60], [4, 2 ** 63], [5, -(2 ** 63)]] as const) {
    const txn = {
      op: 'txn',
      compare: [{ result: 'EQUAL', target: 'LEASE', key: b('k'), rangeEnd: b(''), operand }],
      success: [],
      failure: [{ ...put(`failed${seq}`, '0'), lease: 0 }],
    };
    const o = legacy(seq, txn);
    assert.ok(o.ok && o.result.op === 'txn', `compare with ${operand}: ${JSON.stringify(o)}`);
    assert.equal(o.result.succeeded, false);
    assert.equal(leaseOf(sm, `failed${seq}`), '0', 'the failure branch ran');
  }
  const greater = legacy(6, { op: 'txn', compare: [{ result: 'GREATER', target: 'LEASE', key: b('k'), rangeEnd: b(''), operand: -(2 ** 63) }], success: [], failure: [] });
  assert.ok(greater.ok && greater.result.op === 'txn' && greater.result.succeeded, 'lease 7 is above -2^63');
  assert.deepEqual(legacy(7, { ...put('x', '0'), lease: 2 ** 60 }), { ok: false, error: 'lease-not-found' });
  assert.deepEqual(legacy(8, { op: 'lease-revoke', id: 2 ** 60 }), { ok: false, error: 'lease-not-found' });
  // A grant was always a positive safe integer: anything else stays malformed, as it was.
  for (const id of [2 ** 60, -7, 0]) assert.equal(decodeKvCommand(pack({ client: 'c', seq: 1, lowestPending: 1, request: { op: 'lease-grant', id, ttlSeconds: 10 } })), null, `grant ${id}`);
});

test('a snapshot from before lease ids were text restores to the state that replaying its log gives, sessions included', () => {
  // Members take snapshots at different points: one restores an old snapshot, another an older one
  // and replays the rest of the log under the new code. Their states (and so their snapshots, whose
  // digest PBFT checkpoints agree on) must be the same, including the answers kept for retries.
  const replayed = new KvStateMachine();
  const legacy = (seq: number, request: Record<string, unknown>): KvOutcome =>
    replayed.apply(pack({ client: 'old', seq, lowestPending: 1, request }), index(seq));
  assert.equal(legacy(1, { op: 'lease-grant', id: 7, ttlSeconds: 60 }).ok, true);
  assert.equal(legacy(2, { ...put('a', '0'), lease: 7 }).ok, true);
  assert.equal(legacy(3, { ...put('a', '0'), lease: 7, prevKv: true }).ok, true);
  assert.equal(legacy(4, { op: 'txn', compare: [], success: [{ ...put('a', '0'), lease: 0, prevKv: true }, get('a')], failure: [] }).ok, true);
  assert.equal(legacy(5, { op: 'lease-renew', id: 7 }).ok, true);

  // The snapshot the old code wrote at that point: every lease id a number, in the kept answers too.
  const numbered = (v: unknown, key?: string): unknown => {
    if (typeof v === 'string' && key === 'lease') return Number(v);
    if (Array.isArray(v)) return v.map((x) => numbered(x));
    if (v === null || typeof v !== 'object' || v instanceof Uint8Array) return v;
    const o = v as Record<string, unknown>;
    const leaseOp = typeof o['op'] === 'string' && o['op'].startsWith('lease-');
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, leaseOp && k === 'id' ? Number(x) : numbered(x, k)]));
  };
  const snap = unpack(replayed.snapshot()) as { format: number; keys: [string, unknown[][]][]; leases: unknown[][]; sessions: unknown };
  assert.equal(snap.format, 2, 'this build writes format 2');
  snap.format = 1;
  for (const [, revs] of snap.keys) for (const r of revs) r[5] = Number(r[5]);
  for (const l of snap.leases) l[0] = Number(l[0]);
  snap.sessions = numbered(snap.sessions);
  assert.match(JSON.stringify(snap.sessions), /"lease":7/, 'the old snapshot keeps answers that name lease 7');
  const restored = new KvStateMachine();
  restored.restore(pack(snap));
  assert.equal(Buffer.from(restored.snapshot()).equals(Buffer.from(replayed.snapshot())), true, 'the same state, byte for byte');
});

test('a snapshot of a format this build does not know is refused by its format, not misread', () => {
  const snap = unpack(new KvStateMachine().snapshot()) as { format: number };
  snap.format = 3;
  assert.throws(() => new KvStateMachine().restore(pack(snap)), /unknown KV snapshot format 3 \(this build reads 1 and 2\)/);
});
