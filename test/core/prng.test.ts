import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Prng } from '../../src/core/index.js';

test('the same seed gives the same stream; different seeds differ', () => {
  const a = new Prng(42);
  const b = new Prng(42);
  const c = new Prng(43);
  const sa = Array.from({ length: 100 }, () => a.nextUint32());
  const sb = Array.from({ length: 100 }, () => b.nextUint32());
  const sc = Array.from({ length: 100 }, () => c.nextUint32());
  assert.deepEqual(sa, sb);
  assert.notDeepEqual(sa, sc);
});

test('int() stays in range and covers it', () => {
  const r = new Prng(7);
  const seen = new Set<number>();
  for (let i = 0; i < 10_000; i++) {
    const v = r.int(3, 9);
    assert.ok(v >= 3 && v <= 9);
    seen.add(v);
  }
  assert.equal(seen.size, 7);
});

test('forked streams are independent and deterministic', () => {
  const f1 = new Prng(1).fork();
  const f2 = new Prng(1).fork();
  assert.equal(f1.nextUint32(), f2.nextUint32());
  const parent = new Prng(1);
  const child = parent.fork();
  assert.notEqual(parent.nextUint32(), child.nextUint32());
});
