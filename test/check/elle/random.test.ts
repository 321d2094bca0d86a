/**
 * Property-ish checks of the list-append checker on random histories made with the project's
 * Prng: executions that are strictly serializable by construction (serial, or concurrent with
 * each transaction taking effect inside its interval; some failed, some unknown) are always
 * valid, and the same with one read corrupted (its last element dropped) never are. Plus the
 * size the brief asks for: 200,000 transactions in seconds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkListAppend, formatListAppendResult, type MicroOp, type Txn } from '../../../src/check/elle/index.js';
import { Prng } from '../../../src/core/prng.js';
import { randomHistory } from './generate.js';

const explain = (h: Txn[]): string => formatListAppendResult(checkListAppend(h)).slice(0, 12).join('\n');

/** The history with one ok read's last element dropped (a stale read), or null if none has one. */
function corruptOneRead(h: Txn[], random: Prng): Txn[] | null {
  const candidates: [number, number][] = [];
  h.forEach((t, i) => {
    if (t.outcome !== 'ok') return;
    t.ops.forEach((op, j) => { if (op[0] === 'r' && op[2] !== null && op[2].length > 0) candidates.push([i, j]); });
  });
  if (candidates.length === 0) return null;
  const [i, j] = random.pick(candidates);
  const t = h[i]!;
  const op = t.ops[j] as readonly ['r', string, readonly (number | string)[]];
  const ops: MicroOp[] = t.ops.map((o, k) => (k === j ? ['r', op[1], op[2].slice(0, -1)] : o));
  return h.map((x, k) => (k === i ? { ...x, ops } : x));
}

test('random serial executions are valid, and invalid with one read made stale', () => {
  for (let seed = 1; seed <= 40; seed++) {
    const random = new Prng(seed);
    const h = randomHistory(random, { transactions: 200, keys: 3, appendsPerKey: 16 });
    assert.equal(checkListAppend(h).verdict, 'valid', `seed ${seed}\n${explain(h)}`);
    const bad = corruptOneRead(h, random);
    if (bad === null) continue;
    assert.equal(checkListAppend(bad).verdict, 'invalid', `seed ${seed}: a stale read went unnoticed`);
  }
});

test('random concurrent executions with failed and unknown transactions are valid', () => {
  for (let seed = 1; seed <= 40; seed++) {
    const random = new Prng(1000 + seed);
    const h = randomHistory(random, { transactions: 300, keys: 4, appendsPerKey: 24, spread: 25, failRate: 0.1, unknownRate: 0.1 });
    const r = checkListAppend(h);
    assert.equal(r.verdict, 'valid', `seed ${seed}\n${explain(h)}`);
  }
});

test('a stale read in a serial execution is a realtime cycle, not a serializability one', () => {
  let realtimeOnly = 0;
  for (let seed = 1; seed <= 40; seed++) {
    const random = new Prng(2000 + seed);
    const h = randomHistory(random, { transactions: 100, keys: 2, appendsPerKey: 100 });
    const bad = corruptOneRead(h, random);
    if (bad === null) continue;
    const types = Object.keys(checkListAppend(bad).counts);
    if (types.every((t) => t.endsWith('-realtime') || t === 'lost')) {
      realtimeOnly++;
      assert.deepEqual(Object.keys(checkListAppend(bad, { realtime: false }).counts).filter((t) => t !== 'lost'), []);
    }
  }
  assert.ok(realtimeOnly > 0);
});

test('200,000 transactions (valid, 16 clients overlapping) are checked in seconds', () => {
  const h = randomHistory(new Prng(7), { transactions: 200_000, keys: 8, appendsPerKey: 64, spread: 40, failRate: 0.02, unknownRate: 0.02 });
  const started = performance.now();
  const r = checkListAppend(h);
  const ms = performance.now() - started;
  assert.equal(r.verdict, 'valid', explain(h));
  console.log(`200,000 transactions: ${Math.round(ms)} ms, ${r.edges} edges`);
  assert.ok(ms < 30_000, `${ms} ms`);
});

test('realtime reversed: one large component, where the one-rw search gives up its share of the budget and the next search names a realtime cycle', () => {
  const h = randomHistory(new Prng(9), { transactions: 5_000, keys: 4, appendsPerKey: 32 });
  const reversed = h.map((t) => ({ ...t, invokedAt: -t.invokedAt - 10, completedAt: Number.isFinite(t.completedAt) ? -t.invokedAt - 5 : t.completedAt }));
  const r = checkListAppend(reversed, { maxSteps: 2_000_000 });
  assert.equal(r.verdict, 'invalid');
  const cycles = r.anomalies.filter((a) => a.cycle !== undefined);
  assert.equal(cycles.length, 1);
  assert.match(cycles[0]!.type, /-realtime$/);
  assert.equal(checkListAppend(reversed, { realtime: false }).verdict, 'valid');
});
