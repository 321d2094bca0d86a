import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  KvError, KvStateMachine, MvccStore, encodeKvCommand,
  type Compare, type KvRequest, type PutRequest, type RangeRequest, type RangeResult, type TxnOp, type TxnRequest, type TxnResult,
} from '../../src/statemachine/mvcc/index.js';
import { index } from '../../src/core/ids.js';

const b = (s: string): Uint8Array => Buffer.from(s);
const text = (u: Uint8Array): string => Buffer.from(u).toString();

function put(key: string, value: string, extra: Partial<PutRequest> = {}): PutRequest {
  return { op: 'put', key: b(key), value: b(value), lease: '0', prevKv: false, ignoreValue: false, ignoreLease: false, ...extra };
}
function range(key: string, extra: Partial<Omit<RangeRequest, 'rangeEnd'>> & { end?: string } = {}): RangeRequest {
  const { end, ...rest } = extra;
  return {
    op: 'range', key: b(key), rangeEnd: b(end ?? ''), limit: 0, revision: 0, sortOrder: 'NONE', sortTarget: 'KEY',
    keysOnly: false, countOnly: false, minModRevision: 0, maxModRevision: 0, minCreateRevision: 0, maxCreateRevision: 0, ...rest,
  };
}
const del = (key: string, end = '', prevKv = false): TxnOp => ({ op: 'delete', key: b(key), rangeEnd: b(end), prevKv });
const cmp = (key: string, target: Compare['target'], result: Compare['result'], operand: number | Uint8Array): Compare =>
  ({ key: b(key), rangeEnd: b(''), target, result, operand });
const txn = (compare: Compare[], success: TxnOp[], failure: TxnOp[] = []): TxnRequest => ({ op: 'txn', compare, success, failure });

function get(store: MvccStore, key: string, extra: Parameters<typeof range>[1] = {}): RangeResult {
  return store.execute(range(key, extra)) as RangeResult;
}
function kinds(fn: () => unknown): string {
  try { fn(); } catch (err) { if (err instanceof KvError) return err.kind; throw err; }
  return 'no error';
}

test('revisions: an empty store is at revision 1; each write advances it by one; versions count modifications', () => {
  const s = new MvccStore();
  assert.equal(s.revision, 1);
  assert.equal(s.execute(put('a', '1')).revision, 2);
  assert.equal(s.execute(put('a', '2')).revision, 3);
  const kv = get(s, 'a').kvs[0]!;
  assert.deepEqual([kv.createRevision, kv.modRevision, kv.version, text(kv.value)], [2, 3, 2, '2']);
  s.execute(del('a'));
  assert.equal(s.revision, 4);
  s.execute(put('a', '3'));
  const again = get(s, 'a').kvs[0]!;
  assert.deepEqual([again.createRevision, again.modRevision, again.version], [5, 5, 1], 'a delete resets create revision and version');
});

test('a delete that deletes nothing does not advance the revision', () => {
  const s = new MvccStore();
  s.execute(put('a', '1'));
  const r = s.execute(del('zzz'));
  assert.equal(r.revision, 2);
  assert.equal(s.revision, 2);
});

test('range: single key, [key, end), every key >= key, all keys, limit/more/count, keys_only, count_only', () => {
  const s = new MvccStore();
  for (const k of ['a', 'b', 'c', 'd']) s.execute(put(k, k.toUpperCase()));
  assert.deepEqual(get(s, 'b').kvs.map((kv) => text(kv.key)), ['b']);
  assert.deepEqual(get(s, 'b', { end: 'd' }).kvs.map((kv) => text(kv.key)), ['b', 'c']);
  assert.deepEqual(get(s, 'b', { end: '\0' }).kvs.map((kv) => text(kv.key)), ['b', 'c', 'd']);
  assert.deepEqual(get(s, '\0', { end: '\0' }).kvs.map((kv) => text(kv.key)), ['a', 'b', 'c', 'd']);
  const limited = get(s, 'a', { end: '\0', limit: 2 });
  assert.deepEqual([limited.kvs.length, limited.more, limited.count], [2, true, 4]);
  const keysOnly = get(s, 'a', { keysOnly: true }).kvs[0]!;
  assert.equal(keysOnly.value.byteLength, 0);
  const countOnly = get(s, 'a', { end: '\0', countOnly: true });
  assert.deepEqual([countOnly.kvs.length, countOnly.count], [0, 4]);
});

test('range: sorting by each target, descending, and the default ascending when a target is named', () => {
  const s = new MvccStore();
  s.execute(put('a', 'z'));
  s.execute(put('b', 'y'));
  s.execute(put('c', 'x'));
  s.execute(put('a', 'w')); // a: version 2, mod 5
  const keys = (r: RangeResult) => r.kvs.map((kv) => text(kv.key)).join('');
  assert.equal(keys(get(s, 'a', { end: '\0', sortOrder: 'DESCEND' })), 'cba');
  assert.equal(keys(get(s, 'a', { end: '\0', sortTarget: 'VALUE' })), 'acb');
  assert.equal(keys(get(s, 'a', { end: '\0', sortTarget: 'MOD', sortOrder: 'DESCEND' })), 'acb');
  assert.equal(keys(get(s, 'a', { end: '\0', sortTarget: 'VERSION', sortOrder: 'DESCEND', limit: 1 })), 'a');
  assert.equal(keys(get(s, 'a', { end: '\0', sortTarget: 'CREATE', sortOrder: 'DESCEND' })), 'cba');
});

test('range at an older revision, compaction, and the compacted / future revision errors', () => {
  const s = new MvccStore();
  s.execute(put('a', '1')); // rev 2
  s.execute(put('a', '2')); // rev 3
  s.execute(del('a')); // rev 4
  s.execute(put('b', '1')); // rev 5
  assert.equal(text(get(s, 'a', { revision: 2 }).kvs[0]!.value), '1');
  assert.equal(get(s, 'a', { revision: 4 }).kvs.length, 0);
  assert.equal(kinds(() => get(s, 'a', { revision: 6 })), 'future-rev');
  s.execute({ op: 'compact', revision: 3 });
  assert.equal(kinds(() => get(s, 'a', { revision: 2 })), 'compacted');
  assert.equal(text(get(s, 'a', { revision: 3 }).kvs[0]!.value), '2', 'the compaction revision itself stays readable');
  assert.equal(kinds(() => s.execute({ op: 'compact', revision: 3 })), 'compacted');
  assert.equal(kinds(() => s.execute({ op: 'compact', revision: 9 })), 'future-rev');
  s.execute({ op: 'compact', revision: 5 });
  assert.equal(s.keyCount, 1, 'a key deleted before the compaction point is gone');
});

test('put: prev_kv, ignore_value, ignore_lease, and a lease that does not exist', () => {
  const s = new MvccStore();
  assert.equal(kinds(() => s.execute(put('a', '', { ignoreValue: true }))), 'key-not-found');
  assert.equal(s.revision, 1, 'a refused put changes nothing');
  s.execute(put('a', 'one'));
  const r = s.execute(put('a', 'two', { prevKv: true }));
  assert.equal(r.op === 'put' && r.prevKv !== null ? text(r.prevKv.value) : null, 'one');
  s.execute(put('a', '', { ignoreValue: true }));
  assert.equal(text(get(s, 'a').kvs[0]!.value), 'two');
  assert.equal(get(s, 'a').kvs[0]!.version, 3);
  assert.equal(kinds(() => s.execute(put('a', 'x', { ignoreValue: true }))), 'value-provided');
  assert.equal(kinds(() => s.execute(put('a', 'x', { lease: '7' }))), 'lease-not-found');
  assert.equal(kinds(() => s.execute(put('', 'x'))), 'empty-key');
});

test('delete range returns the count and the previous values', () => {
  const s = new MvccStore();
  for (const k of ['k1', 'k2', 'k3', 'x']) s.execute(put(k, k));
  const r = s.execute(del('k', 'l', true));
  assert.ok(r.op === 'delete');
  assert.equal(r.deleted, 3);
  assert.deepEqual(r.prevKvs.map((kv) => text(kv.key)), ['k1', 'k2', 'k3']);
  assert.equal(s.revision, 6, 'one delete of three keys is one revision');
  assert.equal(get(s, '\0', { end: '\0' }).count, 1);
});

test('txn: compares on value, version, create, mod; success and failure branches; one revision for all writes', () => {
  const s = new MvccStore();
  s.execute(put('a', '1')); // rev 2
  const ok = s.execute(txn([cmp('a', 'VALUE', 'EQUAL', b('1')), cmp('a', 'VERSION', 'EQUAL', 1), cmp('a', 'MOD', 'LESS', 3), cmp('a', 'CREATE', 'GREATER', 1)],
    [put('a', '2'), put('b', '2'), range('a')], [put('c', 'no')])) as TxnResult;
  assert.equal(ok.succeeded, true);
  assert.equal(ok.revision, 3);
  const read = ok.responses[2] as RangeResult;
  assert.equal(text(read.kvs[0]!.value), '2', 'a read later in the txn sees the txn\'s own write');
  assert.equal(get(s, 'b').kvs[0]!.modRevision, 3);
  const failed = s.execute(txn([cmp('a', 'VALUE', 'EQUAL', b('1'))], [put('c', 'no')], [range('a')])) as TxnResult;
  assert.equal(failed.succeeded, false);
  assert.equal(s.revision, 3, 'a txn that only reads does not advance the revision');
  assert.equal(get(s, 'c').count, 0);
});

test('txn: a missing key compares as zeros, and never equal on value', () => {
  const s = new MvccStore();
  const created = s.execute(txn([cmp('lock', 'CREATE', 'EQUAL', 0)], [put('lock', 'me')])) as TxnResult;
  assert.equal(created.succeeded, true);
  const again = s.execute(txn([cmp('lock', 'CREATE', 'EQUAL', 0)], [put('lock', 'you')])) as TxnResult;
  assert.equal(again.succeeded, false);
  assert.equal((s.execute(txn([cmp('nokey', 'VALUE', 'EQUAL', b(''))], [])) as TxnResult).succeeded, false);
  assert.equal((s.execute(txn([cmp('nokey', 'VALUE', 'NOT_EQUAL', b('x'))], [])) as TxnResult).succeeded, false);
});

test('txn: duplicate keys are refused, nested branches may name the same key, too many ops is refused', () => {
  const s = new MvccStore();
  assert.equal(kinds(() => s.execute(txn([], [put('a', '1'), put('a', '2')]))), 'duplicate-key');
  assert.equal(kinds(() => s.execute(txn([], [del('a', 'c'), put('b', '2')]))), 'duplicate-key');
  assert.equal(kinds(() => s.execute(txn([], [put('a', '1'), txn([], [put('a', '2')])]))), 'duplicate-key');
  assert.equal(s.revision, 1);
  const nested = s.execute(txn([], [txn([cmp('x', 'VERSION', 'EQUAL', 0)], [put('a', 'then')], [put('a', 'else')])])) as TxnResult;
  assert.equal(nested.succeeded, true);
  assert.equal(text(get(s, 'a').kvs[0]!.value), 'then');
  const many = Array.from({ length: 129 }, (_, i) => put(`k${i}`, 'v'));
  assert.equal(kinds(() => s.execute(txn([], many))), 'too-many-ops');
});

test('txn: a refused operation on the chosen path leaves the store untouched (atomic)', () => {
  const s = new MvccStore();
  assert.equal(kinds(() => s.execute(txn([], [put('a', '1'), put('b', '', { ignoreValue: true })]))), 'key-not-found');
  assert.equal(s.revision, 1);
  assert.equal(get(s, 'a').count, 0);
});

test('sessions: a retried command takes effect once and gets the first answer; snapshots carry sessions', () => {
  const sm = new KvStateMachine();
  const cmd = encodeKvCommand({ client: 'c1', seq: 1, lowestPending: 1, request: put('a', '1') });
  const first = sm.apply(cmd, index(1));
  const retry = sm.apply(cmd, index(2));
  assert.deepEqual(retry, first);
  assert.equal(sm.store.revision, 2, 'the retry did not write again');
  const copy = new KvStateMachine();
  copy.restore(sm.snapshot());
  assert.deepEqual(copy.apply(cmd, index(3)), first, 'the session survives a snapshot');
  assert.equal(copy.store.revision, 2);
  assert.equal(text((copy.execute(range('a')) as { ok: true; result: RangeResult }).result.kvs[0]!.value), '1');
  sm.apply(encodeKvCommand({ client: 'c1', seq: 2, lowestPending: 2, request: put('a', '2') }), index(3));
  assert.deepEqual(sm.apply(cmd, index(4)), { ok: false, error: 'stale-duplicate' }, 'an answered, forgotten seq never applies again');
  assert.equal(sm.store.revision, 3);
});

test('snapshot and restore reproduce the store, history and compaction point', () => {
  const sm = new KvStateMachine();
  let seq = 0;
  const apply = (request: KvRequest) => sm.apply(encodeKvCommand({ client: 'c', seq: ++seq, lowestPending: seq, request }), index(seq));
  apply(put('a', '1'));
  apply(put('a', '2'));
  apply(put('b\u00ff', 'bin'));
  apply(del('a'));
  apply({ op: 'compact', revision: 3 });
  const copy = new KvStateMachine();
  copy.restore(sm.snapshot());
  assert.equal(copy.store.revision, sm.store.revision);
  assert.equal(copy.store.compactRevision, 3);
  assert.equal(text(get(copy.store, 'a', { revision: 3 }).kvs[0]!.value), '2');
  assert.deepEqual(get(copy.store, '\0', { end: '\0' }).kvs.map((kv) => text(kv.key)), ['b\u00ff'], 'a key with bytes above 127 survives the snapshot');
});
