/**
 * The checker against a plain reference: the Wing-Gong-Lowe search written the obvious way
 * (event objects in a linked list, a memo keyed by strings), as the checker was before it moved
 * to typed arrays, numbered states and a hashed table, and before it took fitting no-ops (ok
 * reads, failed cas) first. On random histories, linearizable or not, both must give the same
 * verdict and show the same window, and the checker must not search more.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Prng } from '../../src/core/index.js';
import { checkHistory, formatWindow, type Operation, type Value, type Verdict } from '../../src/check/index.js';

interface Entry {
  isCall: boolean;
  op: number;
  time: number;
  match: Entry | null;
  prev: Entry | null;
  next: Entry | null;
}

function step(state: Value, op: Operation): Value | undefined {
  switch (op.kind) {
    case 'read':
      return op.result === state ? state : undefined;
    case 'write':
      return op.value ?? null;
    case 'delete':
      return null;
    case 'cas':
      if (op.outcome === 'ok') return state === (op.expected ?? null) ? (op.value ?? null) : undefined;
      if (op.outcome === 'fail') return state !== (op.expected ?? null) ? state : undefined;
      return state === (op.expected ?? null) ? (op.value ?? null) : state;
  }
}

/** One memo state per value as a Map keys it: 0 and -0 alike, every NaN alike. */
const stateKey = (s: Value): string => (s === null ? 'n' : typeof s === 'number' ? `i${String(s)}` : `s${s}`);

function windowAround(ops: readonly Operation[], stuck: number): Operation[] {
  const x = ops[stuck]!;
  const end = Number.isFinite(x.completedAt) ? x.completedAt : x.invokedAt;
  const overlapping = ops.filter((o) => o.invokedAt <= end && o.completedAt >= x.invokedAt);
  const before = ops.filter((o) => o.completedAt < x.invokedAt && o.kind !== 'read').sort((a, b) => b.completedAt - a.completedAt)[0];
  const window = before === undefined ? overlapping : [before, ...overlapping];
  return window.sort((a, b) => a.invokedAt - b.invokedAt || a.id - b.id);
}

function referenceObject(ops: Operation[]): { verdict: Verdict; steps: number; window?: Operation[] } {
  const events: Entry[] = [];
  ops.forEach((op, i) => {
    const call: Entry = { isCall: true, op: i, time: op.invokedAt, match: null, prev: null, next: null };
    call.match = { isCall: false, op: i, time: op.completedAt, match: null, prev: null, next: null };
    events.push(call, call.match);
  });
  events.sort((a, b) => a.time - b.time || (a.isCall === b.isCall ? a.op - b.op : a.isCall ? -1 : 1));
  const head: Entry = { isCall: false, op: -1, time: -Infinity, match: null, prev: null, next: null };
  let prev = head;
  for (const e of events) {
    prev.next = e;
    e.prev = prev;
    prev = e;
  }
  const unlink = (e: Entry) => {
    e.prev!.next = e.next;
    if (e.next) e.next.prev = e.prev;
  };
  const relink = (e: Entry) => {
    e.prev!.next = e;
    if (e.next) e.next.prev = e;
  };
  const linearized = new Array<boolean>(ops.length).fill(false);
  const seen = new Set<string>();
  const stack: { call: Entry; state: Value }[] = [];
  let state: Value = null;
  let entry = head.next;
  let steps = 0;
  let deepest = 0;
  let stuckAt = -1;
  while (head.next !== null && entry !== null) {
    steps++;
    if (entry.isCall) {
      const next = step(state, ops[entry.op]!);
      if (next !== undefined) {
        linearized[entry.op] = true;
        const key = `${linearized.map((b) => (b ? 1 : 0)).join('')}|${stateKey(next)}`;
        if (!seen.has(key)) {
          seen.add(key);
          stack.push({ call: entry, state });
          state = next;
          unlink(entry);
          unlink(entry.match!);
          if (stack.length > deepest) {
            deepest = stack.length;
            stuckAt = -1;
          }
          entry = head.next;
          continue;
        }
        linearized[entry.op] = false;
      }
      entry = entry.next;
    } else {
      if (stack.length === deepest && stuckAt < 0) stuckAt = entry.op;
      const top = stack.pop();
      if (top === undefined) return { verdict: 'not-linearizable', steps, window: windowAround(ops, stuckAt < 0 ? entry.op : stuckAt) };
      state = top.state;
      linearized[top.call.op] = false;
      relink(top.call.match!);
      relink(top.call);
      entry = top.call.next;
    }
  }
  return { verdict: 'linearizable', steps };
}

/** The reference over a whole register history (the checker drops the same operations). */
function reference(ops: readonly Operation[]): { verdict: Verdict; steps: number; window?: Operation[] } {
  const relevant = ops.filter((op) => (op.kind === 'read' ? op.outcome === 'ok' : op.outcome !== 'fail' || op.kind === 'cas'));
  return relevant.length === 0 ? { verdict: 'linearizable', steps: 0 } : referenceObject(relevant);
}

/**
 * Operations over a few values on a real register, each taking effect at one instant inside
 * its interval (so the history is linearizable), with equal times, unknown outcomes and every
 * kind; with `corrupt`, one read then returns a value picked at random (often impossible).
 */
function randomHistory(rng: Prng, n: number, values: readonly Value[], corrupt = rng.chance(0.5), unknownShare = 0.1): Operation[] {
  const pick = (): Value => values[rng.int(0, values.length - 1)]!;
  const planned: { id: number; invokedAt: number; effect: number; completedAt: number }[] = [];
  let t = 0;
  for (let id = 0; id < n; id++) {
    t += rng.int(0, 2);
    const effect = t + rng.int(0, 3);
    planned.push({ id, invokedAt: t, effect, completedAt: effect + rng.int(0, 3) });
  }
  let value: Value = null;
  const out: Operation[] = [];
  for (const p of [...planned].sort((a, b) => a.effect - b.effect || a.id - b.id)) {
    const unknown = rng.chance(unknownShare);
    const base = { id: p.id, client: p.id, key: '', invokedAt: p.invokedAt, completedAt: unknown ? Number.POSITIVE_INFINITY : p.completedAt };
    const roll = rng.float();
    if (roll < 0.4) {
      out.push({ ...base, kind: 'read', ...(unknown ? { outcome: 'unknown' } : { outcome: 'ok', result: value }) });
    } else if (roll < 0.8) {
      const kind = roll < 0.7 ? 'write' : 'delete';
      const v = kind === 'write' ? pick() : null;
      const failed = !unknown && rng.chance(0.1); // did not happen
      if (!failed && (!unknown || rng.chance(0.5))) value = v;
      out.push({ ...base, kind, ...(kind === 'write' ? { value: v } : {}), outcome: unknown ? 'unknown' : failed ? 'fail' : 'ok' });
    } else {
      const expected = rng.chance(0.5) ? value : pick();
      const v = pick();
      const matches = expected === value;
      if (matches && (!unknown || rng.chance(0.5))) value = v;
      out.push({ ...base, kind: 'cas', expected, value: v, outcome: unknown ? 'unknown' : matches ? 'ok' : 'fail' });
    }
  }
  out.sort((a, b) => a.id - b.id);
  const reads = out.filter((o) => o.kind === 'read' && o.outcome === 'ok');
  if (corrupt && reads.length > 0) {
    const victim = reads[rng.int(0, reads.length - 1)]!;
    out[victim.id] = { ...victim, result: pick() };
  }
  return out;
}

/** Steps taken by the checker and by the reference, over every history compared. */
const steps = { checker: 0, reference: 0 };

function agree(h: Operation[], label: string): Verdict {
  const got = checkHistory(h, 'register');
  const want = reference(h);
  assert.equal(got.verdict, want.verdict, `${label}: verdict`);
  const window = want.window === undefined ? '' : formatWindow({ verdict: want.verdict, window: want.window, steps: 0, keys: 1, operations: h.length });
  assert.equal(formatWindow(got), window, `${label}: window`);
  steps.checker += got.steps;
  steps.reference += want.steps;
  return got.verdict;
}

test('random register histories: the checker and the plain reference agree on verdict and window', () => {
  const rng = new Prng(22);
  const seen = new Map<Verdict, number>();
  for (let i = 0; i < 250; i++) {
    // Up to 70 operations: linearized sets of several 32-bit words.
    const h = randomHistory(rng, rng.int(1, 70), [null, 1, 2, 3]);
    const v = agree(h, `history ${i}`);
    seen.set(v, (seen.get(v) ?? 0) + 1);
  }
  // Both verdicts occur often enough for the comparison to mean something.
  assert.ok((seen.get('linearizable') ?? 0) > 25, JSON.stringify([...seen]));
  assert.ok((seen.get('not-linearizable') ?? 0) > 25, JSON.stringify([...seen]));
});

test('values the memo must treat with care: strings, 0 and -0, NaN, large integers', () => {
  const rng = new Prng(7);
  const values: Value[] = [null, 0, -0, Number.NaN, 'a', '0', 2 ** 40, 2 ** 40 + 1, -1];
  for (let i = 0; i < 300; i++) agree(randomHistory(rng, rng.int(1, 40), values), `history ${i}`);
});

test('a NaN read or compare never matches (as === has it), while 0 and -0 are one value', () => {
  const op = (id: number, kind: Operation['kind'], from: number, to: number, f: Partial<Operation>): Operation => ({ id, client: id, kind, key: '', outcome: 'ok', invokedAt: from, completedAt: to, ...f });
  assert.equal(checkHistory([op(0, 'write', 0, 1, { value: Number.NaN }), op(1, 'read', 2, 3, { result: Number.NaN })], 'register').verdict, 'not-linearizable');
  assert.equal(checkHistory([op(0, 'write', 0, 1, { value: Number.NaN }), op(1, 'cas', 2, 3, { expected: Number.NaN, value: 1 })], 'register').verdict, 'not-linearizable');
  assert.equal(checkHistory([op(0, 'write', 0, 1, { value: Number.NaN }), op(1, 'cas', 2, 3, { expected: Number.NaN, value: 1, outcome: 'fail' })], 'register').verdict, 'linearizable');
  assert.equal(checkHistory([op(0, 'write', 0, 1, { value: -0 }), op(1, 'read', 2, 3, { result: 0 })], 'register').verdict, 'linearizable');
});

test('many unknown outcomes (writes and cas that may have happened, at any point or never): the checker and the reference agree', () => {
  // Fitting no-ops go first; an unknown cas is never one, whatever the state. Reads here often
  // see a value only an unknown write or cas could have set.
  const rng = new Prng(41);
  const seen = new Map<Verdict, number>();
  for (let i = 0; i < 300; i++) {
    const v = agree(randomHistory(rng, rng.int(1, 40), [null, 1, 2], rng.chance(0.5), 0.4), `history ${i}`);
    seen.set(v, (seen.get(v) ?? 0) + 1);
  }
  assert.ok((seen.get('linearizable') ?? 0) > 25, JSON.stringify([...seen]));
  assert.ok((seen.get('not-linearizable') ?? 0) > 25, JSON.stringify([...seen]));
});

test('a long search fills the memo past its first table (it grows and rehashes) and still agrees', () => {
  const rng = new Prng(3);
  // Many concurrent writes of distinct values: the memo holds far more than 1,024 entries.
  const h: Operation[] = [];
  for (let id = 0; id < 11; id++) h.push({ id, client: id, kind: 'write', key: '', outcome: 'ok', invokedAt: 0, completedAt: 100, value: id });
  h.push({ id: 11, client: 11, kind: 'read', key: '', outcome: 'ok', invokedAt: 101, completedAt: 102, result: 99 });
  const r = checkHistory(h, 'register');
  assert.equal(r.verdict, 'not-linearizable');
  assert.ok(r.steps > 10_000, `steps ${r.steps}`);
  agree(h, 'concurrent writes');
  agree(randomHistory(rng, 200, [null, 1, 2]), 'two hundred operations');
});

test('taking fitting no-ops first searches less than the plain search (by a third on these histories)', () => {
  // Runs after the tests above, over every history they compared.
  assert.ok(steps.reference > 100_000, JSON.stringify(steps));
  assert.ok(steps.checker < steps.reference * 0.8, JSON.stringify(steps));
});
