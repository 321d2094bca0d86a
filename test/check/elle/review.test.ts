/**
 * An adversarial review of the list-append checker: valid histories built from correct serial or
 * strictly serializable executions with the features most likely to be misread (unknown and
 * failed transactions, read-only ones, nil and empty reads, internal reads, several appends by one
 * transaction to one key, unknown completions, retired keys) pass; known anomalies through those
 * features are caught; and pathological histories stay within the limits.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkListAppend, formatListAppendResult, type MicroOp, type Txn, type TxnOutcome } from '../../../src/check/elle/index.js';

interface Spec {
  readonly ops: readonly MicroOp[];
  readonly outcome?: TxnOutcome;
  readonly at?: readonly [number, number];
}

function history(specs: readonly Spec[], serial = false): Txn[] {
  return specs.map((s, id) => {
    const outcome = s.outcome ?? 'ok';
    const [invokedAt, completedAt] = s.at ?? (serial ? [10 * id, 10 * id + 5] : [0, 100]);
    return { id, client: id, ops: s.ops, outcome, invokedAt, completedAt: outcome === 'unknown' ? Infinity : completedAt };
  });
}

const types = (h: Txn[]): string[] => Object.keys(checkListAppend(h).counts);

test('valid: a transaction that reads a key, appends to it twice and reads it again, between others', () => {
  const h = history([
    { ops: [['append', 'x', 1]] },
    { ops: [['r', 'x', [1]], ['append', 'x', 2], ['append', 'x', 3], ['r', 'x', [1, 2, 3]]] },
    { ops: [['r', 'x', [1, 2, 3]], ['append', 'x', 4]] },
    { ops: [['append', 'x', 5], ['r', 'x', [1, 2, 3, 4, 5]], ['append', 'x', 6]] },
    { ops: [['r', 'x', [1, 2, 3, 4, 5, 6]]] },
  ], true);
  assert.equal(checkListAppend(h).verdict, 'valid');
});

test('valid: an unknown transaction whose append was seen, taking effect long after it was invoked', () => {
  const h = history([
    { ops: [['append', 'x', 1], ['append', 'y', 1]], outcome: 'unknown', at: [0, 0] },
    { ops: [['r', 'x', null], ['r', 'y', []]], at: [10, 20] },
    { ops: [['append', 'x', 2]], at: [30, 40] },
    { ops: [['r', 'x', [2, 1]], ['r', 'y', [1]]], at: [50, 60] },
  ]);
  assert.equal(checkListAppend(h).verdict, 'valid');
});

test('valid: unknown and failed appends never seen, read-only transactions reading nil and []', () => {
  const h = history([
    { ops: [['append', 'x', 1]], outcome: 'unknown' },
    { ops: [['r', 'x', null], ['append', 'x', 2]], outcome: 'fail' },
    { ops: [['r', 'x', []]] },
    { ops: [['r', 'x', null], ['append', 'x', 3]] },
    { ops: [['r', 'x', [3]], ['r', 'y', null]] },
  ], true);
  assert.equal(checkListAppend(h).verdict, 'valid');
});

test('valid: a retired key\'s last append, never read, is not lost', () => {
  const h = history([
    { ops: [['append', 'x', 1]] },
    { ops: [['r', 'x', [1]]] },
    { ops: [['append', 'x', 2]] },
    { ops: [['append', 'y', 1]] },
    { ops: [['r', 'y', [1]]] },
  ], true);
  assert.equal(checkListAppend(h).verdict, 'valid');
});

test('valid: a reading transaction invoked exactly when a writer completed need not see it', () => {
  const h = history([
    { ops: [['append', 'x', 1]], at: [0, 10] },
    { ops: [['r', 'x', null]], at: [10, 20] },
    { ops: [['r', 'x', [1]]], at: [30, 40] },
  ]);
  assert.equal(checkListAppend(h).verdict, 'valid');
});

test('G-single: a lost update (two transactions append after reading the same version)', () => {
  const h = history([
    { ops: [['r', 'x', null], ['append', 'x', 1]], at: [0, 10] },
    { ops: [['r', 'x', null], ['append', 'x', 2]], at: [0, 10] },
    { ops: [['r', 'x', [1, 2]]], at: [20, 30] },
  ]);
  assert.deepEqual(types(h), ['G-single']);
});

test('G1c through an unknown transaction whose appends were seen', () => {
  const h = history([
    { ops: [['append', 'x', 1], ['r', 'y', [1]]], at: [0, 10] },
    { ops: [['append', 'y', 1], ['append', 'x', 2]], outcome: 'unknown', at: [0, 0] },
    { ops: [['r', 'x', [1, 2]]], at: [20, 30] },
  ]);
  assert.deepEqual(types(h), ['G1c']);
});

test('a stale read seen only through real-time order: G-single-realtime', () => {
  const h = history([
    { ops: [['append', 'x', 1]], at: [0, 10] },
    { ops: [['r', 'x', null]], at: [20, 30] },
    { ops: [['r', 'x', [1]]], at: [40, 50] },
  ]);
  assert.deepEqual(types(h), ['G-single-realtime']);
  assert.equal(checkListAppend(h, { realtime: false }).verdict, 'valid');
});

/** Two layers of `width` transactions each, the second invoked after the first all completed, and a third after it. */
function layers(width: number): Txn[] {
  const h: Txn[] = [];
  const add = (ops: MicroOp[], invokedAt: number) => h.push({ id: h.length, client: h.length, ops, outcome: 'ok', invokedAt, completedAt: invokedAt + 1 });
  for (let i = 0; i < width; i++) add([['append', `k${i}`, 1]], 0);
  for (let i = 0; i < width; i++) add([['r', `k${i}`, [1]]], 2);
  for (let i = 0; i < width; i++) add([['r', `k${i}`, [1]]], 4);
  return h;
}

test('realtime edges between wide layers of concurrent transactions take time linear in the edges', () => {
  // Each completion of the second layer used to search the growing frontier against the first
  // layer (width³ steps: minutes at this width).
  const t = performance.now();
  const r = checkListAppend(layers(2500));
  assert.equal(r.verdict, 'valid');
  assert.equal(r.edges, 2 * 2500 * 2500 + 2 * 2500);
  assert.ok(performance.now() - t < 20_000, `took ${performance.now() - t} ms`);
});

test('realtime edges past maxEdges: the verdict is unknown, not valid, and a cycle is still found', () => {
  const h = layers(100);
  const r = checkListAppend(h, { maxEdges: 5_000 });
  assert.equal(r.verdict, 'unknown');
  assert.match(r.reason!, /would pass the 5000 edges allowed/);
  assert.equal(checkListAppend(h, { maxEdges: 50_000 }).verdict, 'valid');
  // A stale read early in the third layer (a G-single-realtime) is still found with the edges
  // before the cap (the second layer's and some of the third's).
  const bad = h.map((t, i) => (i === 200 ? { ...t, ops: [['r', 'k0', null]] as MicroOp[] } : t));
  const b = checkListAppend(bad, { maxEdges: 15_000 });
  assert.equal(b.verdict, 'invalid');
  assert.deepEqual(Object.keys(b.counts), ['G-single-realtime']);
  assert.match(b.reason!, /some edges were left out/);
});

test('one transaction over very many keys is indexed in linear time', () => {
  // Each micro-op used to search the transaction's touched keys one by one (80,000² steps).
  const n = 80_000;
  const appends: MicroOp[] = [];
  const reads: MicroOp[] = [];
  for (let i = 0; i < n; i++) {
    appends.push(['append', `k${i}`, i]);
    reads.push(['r', `k${i}`, [i]]);
  }
  const h = history([{ ops: appends, at: [0, 1] }, { ops: reads, at: [2, 3] }]);
  const t = performance.now();
  assert.equal(checkListAppend(h).verdict, 'valid');
  assert.ok(performance.now() - t < 10_000, `took ${performance.now() - t} ms`);
});

test('G2: a write skew whose appends no read saw again', () => {
  const h = history([
    { ops: [['r', 'x', null], ['append', 'y', 1]] },
    { ops: [['r', 'y', null], ['append', 'x', 1]] },
  ]);
  assert.deepEqual(types(h), ['G2']);
  assert.deepEqual(Object.keys(checkListAppend(h, { realtime: false }).counts), ['G2']);
});

test('an unknown transaction seen on one key but missing from a later read of another: G-single-realtime', () => {
  const h = history([
    { ops: [['append', 'x', 1], ['append', 'y', 1]], outcome: 'unknown', at: [0, 0] },
    { ops: [['r', 'x', [1]]], at: [10, 20] },
    { ops: [['r', 'y', null]], at: [30, 40] },
  ]);
  assert.deepEqual(types(h), ['G-single-realtime']);
});

test('valid: appends no read saw, after reads of the whole order, and concurrent ones', () => {
  const h = history([
    { ops: [['append', 'x', 1]], at: [0, 10] },
    { ops: [['r', 'x', [1]], ['r', 'y', null]], at: [20, 30] },
    { ops: [['r', 'x', [1]], ['append', 'x', 2], ['append', 'y', 1]], at: [25, 40] },
    { ops: [['append', 'x', 3], ['append', 'x', 4]], at: [45, 50] },
    { ops: [['append', 'y', 2]], outcome: 'unknown', at: [0, 0] },
    { ops: [['r', 'y', [1]]], at: [28, 60] },
  ]);
  const r = checkListAppend(h);
  assert.equal(r.verdict, 'valid', formatListAppendResult(r).join('\n'));
});

test('many reads of a key with many appends no read saw: unknown within the edge limit, not a heap exhausted', () => {
  const h: Txn[] = [];
  for (let i = 0; i < 300; i++) h.push({ id: h.length, client: 0, ops: [['r', 'x', []]], outcome: 'ok', invokedAt: 0, completedAt: 1 });
  for (let i = 0; i < 300; i++) h.push({ id: h.length, client: 0, ops: [['append', 'x', i]], outcome: 'ok', invokedAt: 0, completedAt: 1 });
  const r = checkListAppend(h, { maxEdges: 10_000 });
  assert.equal(r.verdict, 'unknown');
  assert.match(r.reason!, /some edges were left out/);
  assert.equal(checkListAppend(h).verdict, 'valid');
});
