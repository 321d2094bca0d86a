/**
 * The list-append checker on hand-made histories: each anomaly Elle names is found and named,
 * valid histories pass, and unknown transactions count only when their appends were seen.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkListAppend, formatListAppendResult, ListAppendInputError, type MicroOp, type Txn, type TxnOutcome } from '../../../src/check/elle/index.js';

interface Spec {
  readonly ops: readonly MicroOp[];
  readonly outcome?: TxnOutcome;
  /** [invoke, complete]; default: all concurrent (0, 100). */
  readonly at?: readonly [number, number];
}

function history(...specs: Spec[]): Txn[] {
  return specs.map((s, id) => {
    const outcome = s.outcome ?? 'ok';
    const [invokedAt, completedAt] = s.at ?? [0, 100];
    return { id, client: id, ops: s.ops, outcome, invokedAt, completedAt: outcome === 'unknown' ? Infinity : completedAt };
  });
}

/** Serial: transaction i runs in [10i, 10i + 5]. */
function serial(...specs: Spec[]): Txn[] {
  return history(...specs.map((s, i) => ({ ...s, at: [10 * i, 10 * i + 5] as const })));
}

const types = (h: Txn[], realtime = true): string[] => Object.keys(checkListAppend(h, { realtime }).counts);

test('G0: write cycle (T0 and T1 append x and y in opposite orders)', () => {
  const h = history(
    { ops: [['append', 'x', 1], ['append', 'y', 1]] },
    { ops: [['append', 'x', 2], ['append', 'y', 2]] },
    { ops: [['r', 'x', [1, 2]], ['r', 'y', [2, 1]]] },
  );
  const r = checkListAppend(h);
  assert.equal(r.verdict, 'invalid');
  assert.deepEqual(Object.keys(r.counts), ['G0']);
  const a = r.anomalies[0]!;
  assert.equal(a.cycle!.length, 2);
  assert.ok(a.cycle!.every((s) => s.kind === 'ww'));
  const text = formatListAppendResult(r).join('\n');
  assert.match(text, /G0: T[01] -ww\([xy]\)-> T[01] -ww\([xy]\)-> T[01]/);
  assert.match(text, /T0 \(client 0, ok, 0\.\.100\): \[append x 1\] \[append y 1\]/);
});

test('G1a: a read of a failed transaction\'s append', () => {
  const h = history({ ops: [['append', 'x', 1]], outcome: 'fail' }, { ops: [['r', 'x', [1]]] });
  assert.deepEqual(types(h), ['G1a']);
});

test('G1b: a read of a value its writer followed with another append', () => {
  const h = history({ ops: [['append', 'x', 1], ['append', 'x', 2]] }, { ops: [['r', 'x', [1]]] }, { ops: [['r', 'x', [1, 2]]] });
  assert.deepEqual(types(h), ['G1b']);
});

test('G1c: a cycle of write-read dependencies', () => {
  const h = history(
    { ops: [['append', 'x', 1], ['r', 'y', [1]]] },
    { ops: [['append', 'y', 1], ['r', 'x', [1]]] },
  );
  const r = checkListAppend(h);
  assert.deepEqual(Object.keys(r.counts), ['G1c']);
  assert.match(formatListAppendResult(r).join('\n'), /G1c: T\d -wr\([xy]\)-> T\d -wr\([xy]\)-> T\d/);
});

test('G-single: a cycle with exactly one anti-dependency (read skew)', () => {
  const h = history(
    { ops: [['r', 'x', null], ['r', 'y', [1]]] },
    { ops: [['append', 'x', 1], ['append', 'y', 1]] },
    { ops: [['r', 'x', [1]]] },
  );
  const r = checkListAppend(h);
  assert.deepEqual(Object.keys(r.counts), ['G-single']);
  assert.match(formatListAppendResult(r).join('\n'), /G-single: T0 -rw\(x\)-> T1 -wr\(y\)-> T0|G-single: T1 -wr\(y\)-> T0 -rw\(x\)-> T1/);
});

test('G2: write skew (two anti-dependencies)', () => {
  const h = history(
    { ops: [['r', 'x', null], ['append', 'y', 1]] },
    { ops: [['r', 'y', null], ['append', 'x', 1]] },
    { ops: [['r', 'x', [1]], ['r', 'y', [1]]] },
  );
  const r = checkListAppend(h);
  assert.deepEqual(Object.keys(r.counts), ['G2']);
  assert.equal(r.anomalies[0]!.cycle!.filter((s) => s.kind === 'rw').length, 2);
});

test('incompatible order: two reads of which neither is a prefix of the other', () => {
  const h = history(
    { ops: [['append', 'x', 1]] }, { ops: [['append', 'x', 2]] },
    { ops: [['r', 'x', [1, 2]]] }, { ops: [['r', 'x', [2, 1]]] },
  );
  assert.deepEqual(types(h), ['incompatible-order']);
});

test('realtime-only cycle: a stale read after the append completed is G-single-realtime, and serializable', () => {
  const h = history(
    { ops: [['append', 'x', 1]], at: [0, 5] },
    { ops: [['r', 'x', null]], at: [10, 15] },
    { ops: [['r', 'x', [1]]], at: [0, 100] },
  );
  const r = checkListAppend(h);
  assert.deepEqual(Object.keys(r.counts), ['G-single-realtime']);
  assert.match(formatListAppendResult(r).join('\n'), /-realtime-> /);
  assert.equal(checkListAppend(h, { realtime: false }).verdict, 'valid');
});

test('internal inconsistency: a transaction\'s read misses its own append', () => {
  assert.deepEqual(types(history({ ops: [['append', 'x', 1], ['r', 'x', null]] })), ['internal']);
  assert.deepEqual(types(history({ ops: [['r', 'x', null], ['append', 'x', 1], ['r', 'x', [1, 1]]] })), ['duplicate-elements', 'internal']);
});

test('duplicate elements, garbage reads and lost appends', () => {
  assert.deepEqual(types(history({ ops: [['append', 'x', 1]] }, { ops: [['r', 'x', [1, 1]]] })), ['duplicate-elements']);
  assert.deepEqual(types(history({ ops: [['r', 'x', [9]]] })), ['garbage-read']);
  const lost = serial({ ops: [['append', 'x', 1]] }, { ops: [['append', 'x', 2]] }, { ops: [['r', 'x', [2]]] });
  assert.ok(types(lost).includes('lost'));
});

test('valid: a serial history and a concurrent one', () => {
  const s = serial(
    { ops: [['r', 'x', null], ['append', 'x', 1]] },
    { ops: [['append', 'x', 2], ['append', 'y', 3], ['r', 'x', [1, 2]]] },
    { ops: [['r', 'y', [3]], ['r', 'x', [1, 2]], ['append', 'y', 4]] },
    { ops: [['r', 'y', [3, 4]]] },
  );
  const r = checkListAppend(s);
  assert.equal(r.verdict, 'valid', formatListAppendResult(r).join('\n'));
  const c = history(
    { ops: [['append', 'x', 1]], at: [0, 10] },
    { ops: [['r', 'x', null], ['append', 'y', 1]], at: [2, 12] },
    { ops: [['r', 'y', [1]], ['r', 'x', [1]]], at: [11, 20] },
  );
  assert.equal(checkListAppend(c).verdict, 'valid');
});

test('unknown transactions: committed when an append was seen, ignored otherwise, and in cycles when committed', () => {
  const seen = history({ ops: [['append', 'x', 1]], outcome: 'unknown' }, { ops: [['r', 'x', [1]]], at: [50, 60] });
  const r = checkListAppend(seen);
  assert.equal(r.verdict, 'valid');
  assert.equal(r.committed, 2);
  const unseen = history({ ops: [['append', 'x', 1], ['r', 'y', null]], outcome: 'unknown' }, { ops: [['r', 'x', null]], at: [50, 60] });
  const u = checkListAppend(unseen);
  assert.equal(u.verdict, 'valid');
  assert.equal(u.committed, 1);
  const g0 = history(
    { ops: [['append', 'x', 1], ['append', 'y', 1]], outcome: 'unknown' },
    { ops: [['append', 'x', 2], ['append', 'y', 2]] },
    { ops: [['r', 'x', [1, 2]], ['r', 'y', [2, 1]]] },
  );
  assert.deepEqual(types(g0), ['G0']);
  // A failed transaction is never committed, even next to a read of another key.
  assert.equal(checkListAppend(history({ ops: [['append', 'x', 1]], outcome: 'fail' }, { ops: [['r', 'x', null]] })).verdict, 'valid');
});

test('limits: too many transactions is unknown; a tiny step budget on a cyclic history is unknown; cycles reported are capped', () => {
  const h = history({ ops: [['append', 'x', 1]] }, { ops: [['r', 'x', [1]]] });
  assert.equal(checkListAppend(h, { maxTransactions: 1 }).verdict, 'unknown');
  const g2 = history(
    { ops: [['r', 'x', null], ['append', 'y', 1]] },
    { ops: [['r', 'y', null], ['append', 'x', 1]] },
    { ops: [['r', 'x', [1]], ['r', 'y', [1]]] },
  );
  assert.equal(checkListAppend(g2, { maxSteps: 1 }).verdict, 'unknown');
  const many: Spec[] = [];
  for (let i = 0; i < 10; i++) {
    const x = `x${i}`;
    const y = `y${i}`;
    many.push({ ops: [['append', x, 1], ['append', y, 1]] }, { ops: [['append', x, 2], ['append', y, 2]] }, { ops: [['r', x, [1, 2]], ['r', y, [2, 1]]] });
  }
  const r = checkListAppend(history(...many), { maxCycles: 3 });
  assert.equal(r.verdict, 'invalid');
  assert.equal(r.anomalies.length, 3);
});

test('two appends of one value to one key are refused', () => {
  assert.throws(() => checkListAppend(history({ ops: [['append', 'x', 1]] }, { ops: [['append', 'x', 1]] })), ListAppendInputError);
});
