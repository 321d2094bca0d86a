/**
 * An adversarial review of the list-append checker: valid histories built from correct serial or
 * strictly serializable executions with the features most likely to be misread (unknown and
 * failed transactions, read-only ones, nil and empty reads, internal reads, several appends by one
 * transaction to one key, unknown completions, retired keys) pass; known anomalies through those
 * features are caught.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkListAppend, type MicroOp, type Txn, type TxnOutcome } from '../../../src/check/elle/index.js';

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
