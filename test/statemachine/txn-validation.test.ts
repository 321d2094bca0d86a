/**
 * The txn checks are etcd's (server/etcdserver/api/v3rpc/key.go: checkTxnRequest, then
 * checkIntervals on success and on failure) and cost O(n log n): the fast check is compared
 * with a line-by-line transcription of etcd's code on random small txns, and its work on a
 * large nested txn is counted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Prng } from '../../src/core/prng.js';
import { DEFAULT_KV_LIMITS, KvError, validateRequest, type KvErrorKind, type KvLimits, type TxnOp, type TxnRequest } from '../../src/statemachine/mvcc/index.js';

const b = (s: string): Uint8Array => Buffer.from(s, 'latin1');
const put = (key: string, extra: { ignoreValue?: boolean; value?: string } = {}): TxnOp =>
  ({ op: 'put', key: b(key), value: b(extra.value ?? 'v'), lease: '0', prevKv: false, ignoreValue: extra.ignoreValue ?? false, ignoreLease: false });
const del = (key: string, end = ''): TxnOp => ({ op: 'delete', key: b(key), rangeEnd: b(end), prevKv: false });
const range = (key: string): TxnOp => ({
  op: 'range', key: b(key), rangeEnd: b(''), limit: 0, revision: 0, sortOrder: 'NONE', sortTarget: 'KEY',
  keysOnly: false, countOnly: false, minModRevision: 0, maxModRevision: 0, minCreateRevision: 0, maxCreateRevision: 0,
});
const txn = (success: TxnOp[], failure: TxnOp[] = [], compareKeys: string[] = []): TxnRequest =>
  ({ op: 'txn', compare: compareKeys.map((k) => ({ key: b(k), rangeEnd: b(''), target: 'VERSION', result: 'EQUAL', operand: 0 })), success, failure });

function outcome(fn: () => void): KvErrorKind | 'ok' {
  try {
    fn();
    return 'ok';
  } catch (err) {
    if (err instanceof KvError) return err.kind;
    throw err;
  }
}

// ---- etcd's code, transcribed (quadratic; the reference) --------------------------------------

/** adt.StringAffineComparable: "" is above every other string. */
function affine(a: string, c: string): number {
  if (a.length === 0) return c.length === 0 ? 0 : 1;
  if (c.length === 0) return -1;
  return a < c ? -1 : a > c ? 1 : 0;
}
interface Ivl { readonly begin: string; readonly end: string }
/** adt.Interval.Compare: 0 when the intervals overlap. */
function ivlCompare(x: Ivl, y: Ivl): number {
  if (affine(x.begin, y.begin) < 0 && affine(x.end, y.begin) <= 0) return -1;
  if (affine(x.begin, y.end) >= 0) return 1;
  return 0;
}
const point = (k: string): Ivl => ({ begin: k, end: `${k}\u0000` });
const intersects = (tree: readonly Ivl[], iv: Ivl): boolean => tree.some((t) => ivlCompare(iv, t) === 0);
/** IntervalTree.Union(in, ["\0", "")): the intervals of `in` that overlap ["\0", ""). */
const union = (tree: Ivl[], from: readonly Ivl[]): void => {
  const all: Ivl = { begin: '\u0000', end: '' };
  for (const iv of from) if (ivlCompare(all, iv) === 0) tree.push(iv);
};
const str = (u: Uint8Array): string => Buffer.from(u).toString('latin1');

function etcdCheckRequestOp(op: TxnOp, maxTxnOps: number): KvErrorKind | null {
  switch (op.op) {
    case 'range': case 'delete': return op.key.length === 0 ? 'empty-key' : null;
    case 'put':
      if (op.key.length === 0) return 'empty-key';
      if (op.ignoreValue && op.value.length !== 0) return 'value-provided';
      if (op.ignoreLease && op.lease !== '0') return 'lease-provided';
      return null;
    case 'txn': return etcdCheckTxnRequest(op, maxTxnOps);
  }
}
function etcdCheckTxnRequest(r: TxnRequest, maxTxnOps: number): KvErrorKind | null {
  const opc = Math.max(r.compare.length, r.success.length, r.failure.length);
  if (opc > maxTxnOps) return 'too-many-ops';
  for (const c of r.compare) if (c.key.length === 0) return 'empty-key';
  for (const u of [...r.success, ...r.failure]) {
    const err = etcdCheckRequestOp(u, maxTxnOps - opc);
    if (err !== null) return err;
  }
  return null;
}
function etcdCheckIntervals(reqs: readonly TxnOp[]): { puts: Set<string>; dels: Ivl[] } | 'duplicate-key' {
  const dels: Ivl[] = [];
  for (const r of reqs) {
    if (r.op !== 'delete') continue;
    dels.push(r.rangeEnd.length !== 0 ? { begin: str(r.key), end: str(r.rangeEnd) } : point(str(r.key)));
  }
  const puts = new Set<string>();
  for (const r of reqs) {
    if (r.op !== 'txn') continue;
    const then = etcdCheckIntervals(r.success);
    if (then === 'duplicate-key') return then;
    const otherwise = etcdCheckIntervals(r.failure);
    if (otherwise === 'duplicate-key') return otherwise;
    for (const k of then.puts) {
      if (puts.has(k) || intersects(dels, point(k))) return 'duplicate-key';
      puts.add(k);
    }
    for (const k of otherwise.puts) {
      if (puts.has(k) && !then.puts.has(k)) return 'duplicate-key';
      if (intersects(dels, point(k))) return 'duplicate-key';
      puts.add(k);
    }
    union(dels, then.dels);
    union(dels, otherwise.dels);
  }
  for (const r of reqs) {
    if (r.op !== 'put') continue;
    const k = str(r.key);
    if (puts.has(k) || intersects(dels, point(k))) return 'duplicate-key';
    puts.add(k);
  }
  return { puts, dels };
}
/** etcd's kvServer.Txn checks, in its order. */
function etcdTxnCheck(r: TxnRequest, limits: KvLimits): KvErrorKind | 'ok' {
  const err = etcdCheckTxnRequest(r, limits.maxTxnOps);
  if (err !== null) return err;
  if (etcdCheckIntervals(r.success) === 'duplicate-key' || etcdCheckIntervals(r.failure) === 'duplicate-key') return 'duplicate-key';
  return 'ok';
}

// ---- random small txns --------------------------------------------------------------------

const KEYS = ['a', 'b', 'c', 'ab', 'b\u0000', 'bz', '\u0000', '\u00ff'];
const RANGE_ENDS = ['', '', '\u0000', 'b', 'c', 'a', 'bb', '\u00ff', 'zz'];

/** For JSON.stringify: bytes (which Buffer.toJSON has made { type, data }) as latin1 text. */
function bytesAsText(_: string, v: unknown): unknown {
  const o = v as { type?: unknown; data?: unknown };
  return typeof v === 'object' && v !== null && o.type === 'Buffer' && Array.isArray(o.data) ? String.fromCharCode(...(o.data as number[])) : v;
}

function randomOps(random: Prng, depth: number, maxLen: number): TxnOp[] {
  const ops: TxnOp[] = [];
  const n = random.int(0, maxLen);
  for (let i = 0; i < n; i++) {
    const roll = random.float();
    if (roll < 0.4) ops.push(random.chance(0.03) ? put('', {}) : random.chance(0.03) ? put(random.pick(KEYS), { ignoreValue: true }) : put(random.pick(KEYS)));
    else if (roll < 0.65) ops.push(del(random.chance(0.02) ? '' : random.pick(KEYS), random.pick(RANGE_ENDS)));
    else if (roll < 0.75) ops.push(range(random.pick(KEYS)));
    else if (depth < 3) ops.push(randomTxn(random, depth + 1, maxLen));
  }
  return ops;
}
function randomTxn(random: Prng, depth: number, maxLen: number): TxnRequest {
  const compares = random.chance(0.05) ? [random.chance(0.5) ? '' : 'a'] : [];
  return txn(randomOps(random, depth, maxLen), randomOps(random, depth, maxLen), compares);
}

test('the fast txn check answers as etcd\'s own code on 20,000 random small txns (seeded)', () => {
  const random = new Prng(20_251);
  const seen = new Map<string, number>();
  for (let i = 0; i < 20_000; i++) {
    const limits: KvLimits = { maxTxnOps: random.int(3, 8) };
    const t = randomTxn(random, 0, 5);
    const expected = etcdTxnCheck(t, limits);
    const actual = outcome(() => validateRequest(t, limits));
    if (actual !== expected) assert.fail(`txn ${i}: etcd answers ${expected}, quorate ${actual}: ${JSON.stringify(t, bytesAsText)}`);
    seen.set(expected, (seen.get(expected) ?? 0) + 1);
  }
  // The draw reaches every answer often enough for the comparison to mean something.
  for (const kind of ['ok', 'duplicate-key', 'too-many-ops', 'empty-key']) {
    assert.ok((seen.get(kind) ?? 0) >= 200, `${kind}: ${seen.get(kind) ?? 0} of 20,000`);
  }
});

test('etcd\'s rules at the edges: a range end of "\\0" covers nothing, nested order matters, branches may share a key, nesting is budgeted', () => {
  const ok = (t: TxnRequest, limits: KvLimits = DEFAULT_KV_LIMITS): string => outcome(() => validateRequest(t, limits));
  // etcd's interval tree gives "\0" no special meaning here: [b, "\0") is empty.
  assert.equal(ok(txn([del('b', '\u0000'), put('c')])), 'ok');
  assert.equal(ok(txn([del('\u0000', '\u0000'), put('c')])), 'ok');
  assert.equal(ok(txn([del('b', 'd'), put('c')])), 'duplicate-key');
  // A nested txn's puts meet the deletes of the txns before it, not after it; a level's own puts meet all.
  assert.equal(ok(txn([txn([del('a')]), txn([put('a')])])), 'duplicate-key');
  assert.equal(ok(txn([txn([put('a')]), txn([del('a')])])), 'ok');
  assert.equal(ok(txn([put('a'), txn([del('a')])])), 'duplicate-key');
  // The two branches of one txn exclude each other; of two txns they do not.
  assert.equal(ok(txn([txn([put('a'), del('b')], [put('a'), put('b')])])), 'ok');
  assert.equal(ok(txn([txn([put('a')]), txn([], [put('a')])])), 'duplicate-key');
  assert.equal(ok(txn([put('a')], [put('a')])), 'ok');
  // A nested txn may hold what its parent's longest list leaves (etcd: maxTxnOps-opc).
  const filler = Array.from({ length: 99 }, (_, i) => range(`r${i}`));
  const nested = (n: number): TxnRequest => txn(Array.from({ length: n }, (_, i) => range(`n${i}`)));
  assert.equal(ok(txn([...filler, nested(28)])), 'ok');
  assert.equal(ok(txn([...filler, nested(29)])), 'too-many-ops');
  // Fields of the whole txn are checked before the writes (etcd's order of errors).
  assert.equal(ok(txn([put('a'), put('a'), put('')])), 'empty-key');
  assert.equal(ok(txn([put('a')], [], [''])), 'empty-key', 'a compare needs a key');
});

/**
 * `count` keys, each put and next to it a range deleted, in both branches of nested txns of 100
 * keys each: 2 x `count` puts and as many deletes, none clashing (with `clash`, one put at the
 * top level lands in the last delete range).
 */
function largeTxn(count: number, clash: boolean): TxnRequest {
  const perTxn = 100;
  const branches: TxnOp[][] = [[], []];
  for (let t = 0; t * perTxn < count; t++) {
    const success: TxnOp[] = [];
    const failure: TxnOp[] = [];
    for (let i = t * perTxn; i < Math.min(count, (t + 1) * perTxn); i++) {
      const k = `k/${String(i).padStart(6, '0')}`;
      // Each delete range sits right next to a put's key, without covering it.
      success.push(put(k), del(`${k}/a`, `${k}/b`));
      failure.push(put(k), del(`${k}/a`, `${k}/b`));
    }
    branches[t % 2]!.push(txn([txn(success, failure)]));
  }
  if (clash) branches[1]!.push(put(`k/${String(count - 1).padStart(6, '0')}/a0`));
  return txn(branches[0]!, branches[1]!);
}

test('a nested txn of 20,000 puts and 20,000 delete ranges is checked in O(n log n) steps', () => {
  const limits: KvLimits = { maxTxnOps: 1_000 };
  const leaves = 4 * 10_000;
  const bound = 2 * leaves * Math.log2(leaves);
  for (const clash of [false, true]) {
    const meter = { steps: 0 };
    const t = largeTxn(10_000, clash);
    assert.equal(outcome(() => validateRequest(t, limits, meter)), clash ? 'duplicate-key' : 'ok');
    // Every put and delete costs at least a step; the quadratic check compared each put with each delete range.
    assert.ok(meter.steps >= leaves / 2 && meter.steps <= bound, `${meter.steps} steps for ${leaves} puts and deletes (bound ${Math.round(bound)})`);
  }
});
