import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Prng } from '../../src/core/index.js';
import { checkHistory, type Operation } from '../../src/check/index.js';
import { formatWindow } from '../../src/check/index.js';

let nextId = 0;
function op(client: number, kind: Operation['kind'], from: number, to: number, fields: Partial<Operation> = {}): Operation {
  return { id: nextId++, client, kind, key: '', outcome: 'ok', invokedAt: from, completedAt: to, ...fields };
}
const w = (c: number, v: number, from: number, to: number, f: Partial<Operation> = {}) => op(c, 'write', from, to, { value: v, ...f });
const r = (c: number, v: number | null, from: number, to: number, f: Partial<Operation> = {}) => op(c, 'read', from, to, { result: v, ...f });
const cas = (c: number, e: number | null, v: number, from: number, to: number, f: Partial<Operation> = {}) => op(c, 'cas', from, to, { expected: e, value: v, ...f });

test('overlapping writes and reads that have a legal order are linearizable', () => {
  const h = [w(1, 1, 0, 10), w(2, 2, 1, 5), r(3, 1, 6, 12), r(4, 2, 2, 4)];
  assert.equal(checkHistory(h, 'register').verdict, 'linearizable');
});

test('a stale read after a completed write is not linearizable, and the window shows it', () => {
  const h = [w(1, 1, 0, 1), w(1, 2, 2, 3), r(2, 1, 4, 5)];
  const res = checkHistory(h, 'register');
  assert.equal(res.verdict, 'not-linearizable');
  assert.ok(res.window !== undefined && res.window.length <= 3);
  assert.ok(res.window.some((o) => o.kind === 'read' && o.result === 1));
  assert.match(formatWindow(res), /read → 1/);
});

test('a lost write (a later read sees the older value) is not linearizable', () => {
  const h = [w(1, 1, 0, 1), w(2, 2, 2, 3), r(1, 2, 4, 5), r(2, 1, 6, 7)];
  assert.equal(checkHistory(h, 'register').verdict, 'not-linearizable');
});

test('a failed cas is a no-op whose compare was false', () => {
  assert.equal(checkHistory([w(1, 1, 0, 1), cas(2, 2, 3, 2, 3, { outcome: 'fail' }), r(1, 1, 4, 5)], 'register').verdict, 'linearizable');
  // It cannot have failed if the value was what it expected:
  assert.equal(checkHistory([w(1, 2, 0, 1), cas(2, 2, 3, 2, 3, { outcome: 'fail' }), r(1, 2, 4, 5)], 'register').verdict, 'not-linearizable');
});

test('unknown outcomes: may take effect after invocation, or never', () => {
  const inf = Number.POSITIVE_INFINITY;
  // Observed later: it took effect.
  assert.equal(checkHistory([w(1, 7, 0, inf, { outcome: 'unknown' }), r(2, 7, 5, 6)], 'register').verdict, 'linearizable');
  // Never observed: it never took effect (or took effect after the end).
  assert.equal(checkHistory([w(1, 7, 0, inf, { outcome: 'unknown' }), r(2, null, 5, 6)], 'register').verdict, 'linearizable');
  // A value nobody wrote cannot be read.
  assert.equal(checkHistory([w(1, 7, 0, inf, { outcome: 'unknown' }), r(2, 8, 5, 6)], 'register').verdict, 'not-linearizable');
  // It cannot take effect before its invocation.
  assert.equal(checkHistory([r(2, 7, 0, 1), w(1, 7, 2, inf, { outcome: 'unknown' })], 'register').verdict, 'not-linearizable');
});

test('reads of a missing key return nil; delete makes the key missing', () => {
  const h = [r(1, null, 0, 1), w(1, 1, 2, 3), op(2, 'delete', 4, 5), r(1, null, 6, 7)];
  assert.equal(checkHistory(h, 'register').verdict, 'linearizable');
});

test('the kv model checks each key on its own and names the key that fails', () => {
  const h: Operation[] = [];
  for (let k = 0; k < 20; k++) h.push(w(1, k, k * 10, k * 10 + 1, { key: `k${k}` }), r(2, k, k * 10 + 2, k * 10 + 3, { key: `k${k}` }));
  h.push(r(3, 99, 500, 501, { key: 'k7' }));
  const res = checkHistory(h, 'kv');
  assert.equal(res.verdict, 'not-linearizable');
  assert.equal(res.key, 'k7');
  assert.equal(res.keys, 20);
});

/** A true atomic register under random concurrency: every history it produces is linearizable. */
function randomHistory(seed: number, ops: number, clients: number): Operation[] {
  const rng = new Prng(seed);
  let value: number | null = null;
  const out: Operation[] = [];
  const busyUntil = new Array<number>(clients).fill(0);
  let t = 0;
  for (let i = 0; i < ops; i++) {
    t += rng.int(0, 2);
    const c = rng.int(0, clients - 1);
    const start = Math.max(t, busyUntil[c]! + 1);
    const effect = start + rng.int(0, 5); // the linearization point inside [start, end]
    const end = effect + rng.int(0, 5);
    busyUntil[c] = end;
    // Apply in effect-time order: generate effects monotonically by sorting later; simpler: serialize by effect.
    out.push({ id: i, client: c, kind: 'read', key: '', outcome: 'ok', invokedAt: start, completedAt: end, result: effect });
  }
  // Re-run effects in effect order on a real register.
  const order = [...out].sort((a, b) => (a.result as number) - (b.result as number) || a.id - b.id);
  const final: Operation[] = [];
  for (const o of order) {
    const roll = rng.float();
    if (roll < 0.4) final.push({ ...o, kind: 'read', result: value });
    else if (roll < 0.7) {
      const v = rng.int(1, 4);
      value = v;
      final.push({ ...o, kind: 'write', value: v, result: undefined as never });
    } else {
      const e = rng.chance(0.5) ? value : rng.int(1, 4);
      const v = rng.int(1, 4);
      const ok = e === value;
      if (ok) value = v;
      final.push({ ...o, kind: 'cas', expected: e, value: v, outcome: ok ? 'ok' : 'fail', result: undefined as never });
    }
  }
  return final.map(({ result, ...rest }) => (rest.kind === 'read' ? { ...rest, result } : rest)) as Operation[];
}

test('random histories of a real atomic register are linearizable; one impossible read is caught', () => {
  for (let seed = 1; seed <= 30; seed++) {
    const h = randomHistory(seed, 200, 6);
    assert.equal(checkHistory(h, 'register').verdict, 'linearizable', `seed ${seed}`);
    const i = h.findIndex((o) => o.kind === 'read');
    const broken = h.map((o, j) => (j === i ? { ...o, result: 1000 } : o));
    assert.equal(checkHistory(broken, 'register').verdict, 'not-linearizable', `seed ${seed} mutated`);
  }
});

test('when the step budget runs out the verdict is unknown, never a guess', () => {
  const h = randomHistory(5, 300, 8);
  assert.equal(checkHistory(h, 'register', { maxSteps: 10 }).verdict, 'unknown');
});

test('the wall-clock budget is read every 65,536 search steps, however many steps one scan counts', (t) => {
  // Sixteen concurrent writes and a read of a value none wrote: millions of steps. A scan for a
  // fitting no-op counts a step per call it passes, so the step counter jumps; the clock must
  // still be read once per 65,536 steps, not only when the counter lands on a multiple of it.
  const h: Operation[] = [];
  for (let c = 0; c < 16; c++) h.push(w(c, c, 0, 100));
  h.push(r(16, 999, 101, 102));
  let now = 0;
  t.mock.method(Date, 'now', () => now++); // every read of the clock: 1 ms later
  const res = checkHistory(h, 'register', { timeoutMs: 10 });
  assert.equal(res.verdict, 'unknown');
  // The deadline passes at the eleventh read of the clock in the search.
  assert.ok(res.steps <= 11 * 65_536 + 1_000, `steps ${res.steps}`);
});

test('a memo that would outgrow its byte limit gives unknown, never a crash or a guess', () => {
  // Fourteen concurrent writes and a read of a value none wrote: hundreds of thousands of
  // configurations memoised, some megabytes. The step budget alone would let the memo grow
  // with the steps times the history's width, far past what a process can hold on long histories.
  const h: Operation[] = [];
  for (let c = 0; c < 14; c++) h.push(w(c, c, 0, 100));
  h.push(r(14, 999, 101, 102));
  assert.equal(checkHistory(h, 'register', { maxMemoBytes: 1 << 20 }).verdict, 'unknown');
  assert.equal(checkHistory(h, 'register', { maxMemoBytes: 64 << 20 }).verdict, 'not-linearizable');
  assert.equal(checkHistory(h, 'register').verdict, 'not-linearizable');
});
