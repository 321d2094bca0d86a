/**
 * `quorate check --html` at its edges: properties of the explanation over harder random histories
 * (deep searches that then fail, budgets that run out), a search that backs off at every new
 * depth (the linearization is kept in parts), and the page and command with odd input.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Prng } from '../../src/core/prng.js';
import type { Operation, Value } from '../../src/check/history.js';
import { checkHistory, type CheckOptions, type Explanation } from '../../src/check/linearizability.js';
import { MAX_TIMELINE_OPERATIONS, timelineHtml } from '../../src/check/timeline-html.js';
import { quorate } from '../cli/run-quorate.js';

/** The state after `o` in `state`, or undefined when `o` cannot take effect there. */
function stepOf(o: Operation, state: Value): Value | undefined {
  const v = (x: Value | undefined): Value => x ?? null;
  switch (o.kind) {
    case 'read': return o.outcome === 'ok' && v(o.result) === state ? state : undefined;
    case 'write': return v(o.value);
    case 'delete': return null;
    case 'cas':
      if (o.outcome === 'ok') return state === v(o.expected) ? v(o.value) : undefined;
      if (o.outcome === 'fail') return state !== v(o.expected) ? state : undefined;
      return state === v(o.expected) ? v(o.value) : state;
  }
}

/** What is wrong with an explanation: it must be a WGL prefix (a sequential run closed under real time) and `stuck` the op the search stopped at after it. */
function problems(x: Explanation, verdict: string): string[] {
  const errs: string[] = [];
  const lin = new Set(x.linearized.map((l) => l.op));
  const at = new Map(x.linearized.map((l, k) => [l.op, k]));
  if (lin.size !== x.linearized.length) errs.push('an operation twice');
  let state: Value = null;
  x.linearized.forEach((l, k) => {
    if (!x.operations.includes(l.op)) errs.push(`#${k + 1} is not among the operations`);
    const s = stepOf(l.op, state);
    if (s === undefined) errs.push(`#${k + 1} does not fit the state ${String(state)}`);
    else state = s;
    if (l.stateAfter !== state) errs.push(`#${k + 1}: state after ${String(l.stateAfter)}, not ${String(state)}`);
  });
  // Closed under real time: every op that returned before a linearized op was called is linearized, and before it.
  for (const b of x.linearized) for (const a of x.operations) {
    if (a.completedAt < b.op.invokedAt && !(lin.has(a) && at.get(a)! < at.get(b.op)!)) errs.push(`op ${a.id} returned before op ${b.op.id} was called, but is not before it`);
  }
  if (verdict === 'linearizable' && (x.linearized.length !== x.operations.length || x.stuck !== undefined)) errs.push('linearizable, but not all ops, or a stuck op');
  if (verdict === 'not-linearizable') {
    if (x.stuck === undefined) errs.push('no stuck op');
    else {
      if (lin.has(x.stuck)) errs.push('the stuck op is linearized');
      // After the prefix, the search's scan ends at the first return of an op not linearized.
      const firstReturn = Math.min(...x.operations.filter((o) => !lin.has(o)).map((o) => o.completedAt));
      if (x.stuck.completedAt !== firstReturn) errs.push(`the stuck op returns at ${x.stuck.completedAt}, after an op left returns (${firstReturn})`);
    }
  }
  return errs;
}

/** A history of a true atomic register or map (each op takes effect at an instant in its window), then a few results corrupted. */
function history(rng: Prng, o: { clients: number; ops: number; keys: number; unknown: number; span: number; corrupt: number }): Operation[] {
  const free = new Array<number>(o.clients).fill(0);
  const planned: { client: number; start: number; effect: number; end: number }[] = [];
  let t = 0;
  for (let i = 0; i < o.ops; i++) {
    t += rng.int(0, 1);
    const c = rng.int(0, o.clients - 1);
    const start = Math.max(t, free[c]! + 1);
    const effect = start + rng.int(0, o.span);
    const end = effect + rng.int(0, o.span);
    free[c] = end;
    planned.push({ client: c, start, effect, end });
  }
  planned.sort((a, b) => a.effect - b.effect);
  const values = new Map<string, Value>();
  const ops: Operation[] = planned.map((p, id): Operation => {
    const key = `k${rng.int(0, o.keys - 1)}`;
    const cur = values.get(key) ?? null;
    const unknown = rng.chance(o.unknown);
    const takes = !unknown || rng.chance(0.5);
    const base = { id, client: p.client, key, invokedAt: p.start, completedAt: unknown ? Infinity : p.end, outcome: unknown ? ('unknown' as const) : ('ok' as const) };
    const roll = rng.float();
    if (roll < 0.3) {
      const expected = rng.chance(0.5) ? cur : rng.pick([null, 1, 2, 3]);
      const value = rng.int(1, 3);
      if (expected === cur && takes) values.set(key, value);
      return { ...base, kind: 'cas', expected, value, outcome: unknown ? 'unknown' : expected === cur ? 'ok' : 'fail' };
    }
    if (roll < 0.45) {
      if (takes) values.set(key, null);
      return { ...base, kind: 'delete' };
    }
    if (roll < 0.7) {
      const value = rng.int(1, 3);
      if (takes) values.set(key, value);
      return { ...base, kind: 'write', value };
    }
    return unknown ? { ...base, kind: 'read' } : { ...base, kind: 'read', result: cur };
  });
  for (let k = 0; k < o.corrupt; k++) {
    const i = rng.int(0, ops.length - 1);
    const x = ops[i]!;
    if (x.kind === 'read' && x.outcome === 'ok') ops[i] = { ...x, result: rng.pick([null, 1, 2, 3]) };
    else if (x.kind === 'cas' && x.outcome !== 'unknown') ops[i] = { ...x, outcome: x.outcome === 'ok' ? 'fail' : 'ok' };
  }
  return ops;
}

test('explain changes no verdict, window or step count, and every explanation is a valid WGL prefix with the right stuck op (many clients, unknown outcomes, failed cas, deletes, kv; budgets)', () => {
  const shapes = [
    { model: 'register' as const, clients: 10, ops: 40, keys: 1, unknown: 0.1, span: 10, corrupt: 1 },
    { model: 'register' as const, clients: 6, ops: 60, keys: 1, unknown: 0.05, span: 2, corrupt: 2 },
    { model: 'kv' as const, clients: 12, ops: 120, keys: 20, unknown: 0.1, span: 8, corrupt: 1 },
  ];
  const seen = new Set<string>();
  for (const shape of shapes) {
    const rng = new Prng(11);
    for (let h = 0; h < 120; h++) {
      const ops = history(rng, shape);
      for (const budget of [{}, { maxSteps: rng.int(1, 200) }, { maxMemoBytes: 4 * rng.int(1, 3000) }] as CheckOptions[]) {
        const plain = checkHistory(ops, shape.model, budget);
        const explained = checkHistory(ops, shape.model, { ...budget, explain: true });
        const what = `${shape.model} ${shape.clients} clients, history ${h}, ${JSON.stringify(budget)}`;
        seen.add(explained.verdict);
        assert.equal(explained.verdict, plain.verdict, what);
        assert.deepEqual(explained.window, plain.window, what);
        assert.equal(explained.steps, plain.steps, what);
        assert.deepEqual(problems(explained.explanation!, explained.verdict), [], what);
      }
    }
  }
  assert.equal(seen.size, 3, 'every verdict drawn');
});

test('explain changes no key reported: a kv history whose keys all run out of budget', () => {
  const w = (id: number, key: string, t: number, value: number): Operation => ({ id, client: id, kind: 'write', key, value, outcome: 'ok', invokedAt: t, completedAt: t + 1 });
  // Both keys give up after one step; b has more operations.
  const ops = [w(0, 'a', 0, 1), w(1, 'a', 2, 2), w(2, 'b', 0, 1), w(3, 'b', 2, 2), w(4, 'b', 4, 3)];
  const plain = checkHistory(ops, 'kv', { maxSteps: 1 });
  const explained = checkHistory(ops, 'kv', { maxSteps: 1, explain: true });
  assert.equal(plain.verdict, 'unknown');
  assert.equal(explained.verdict, 'unknown');
  assert.equal(explained.key, plain.key, 'the key reported is the one reported without explain');
});

/** Triples (W_x by 1, W_y by 2 inside it, then a read of x by 3): the search backs off once from each new depth. */
function backOffEveryLevel(n: number): Operation[] {
  const ops: Operation[] = [];
  for (let i = 0; ops.length < n; i++) {
    const t = 10 * i;
    ops.push({ id: ops.length, client: 1, kind: 'write', key: '', value: 2 * i, outcome: 'ok', invokedAt: t, completedAt: t + 3 });
    ops.push({ id: ops.length, client: 2, kind: 'write', key: '', value: 2 * i + 1, outcome: 'ok', invokedAt: t + 1, completedAt: t + 2 });
    ops.push({ id: ops.length, client: 3, kind: 'read', key: '', result: 2 * i, outcome: 'ok', invokedAt: t + 4, completedAt: t + 5 });
  }
  return ops;
}

test('a search that backs off at every new depth keeps, in parts, a linearization of all the operations', () => {
  const ops = backOffEveryLevel(3_000);
  const r = checkHistory(ops, 'register', { explain: true });
  assert.equal(r.verdict, 'linearizable');
  const x = r.explanation!;
  assert.equal(x.linearized.length, ops.length);
  let state: Value = null;
  for (const { op: o, stateAfter } of x.linearized) {
    const after = stepOf(o, state);
    assert.notEqual(after, undefined, `op ${o.id} cannot take effect in ${String(state)}`);
    state = after!;
    assert.equal(stateAfter, state, `the state after op ${o.id}`);
  }
});

test(`the page stays bounded for a long linearization: its table lists no more than the ${MAX_TIMELINE_OPERATIONS} operations drawn`, () => {
  const ops: Operation[] = [];
  for (let i = 0; i < 3 * MAX_TIMELINE_OPERATIONS; i++) ops.push({ id: i, client: i % 4, kind: 'write', key: '', value: i, outcome: 'ok', invokedAt: 2 * i, completedAt: 2 * i + 1 });
  const r = checkHistory(ops, 'register', { explain: true });
  assert.equal(r.explanation!.linearized.length, ops.length);
  const page = timelineHtml({ file: 'h', verdict: r.verdict, explanation: r.explanation! });
  assert.equal((page.match(/<rect/g) ?? []).length, MAX_TIMELINE_OPERATIONS);
  const rows = (page.match(/<tr>/g) ?? []).length - 1;
  assert.ok(rows <= MAX_TIMELINE_OPERATIONS, `${rows} table rows`);
});

test('a history whose operations all impose nothing (only failed reads) is not drawn as "no operation could be linearized first"', () => {
  const ops: Operation[] = [{ id: 0, client: 1, kind: 'read', key: '', outcome: 'fail', invokedAt: 1, completedAt: 2 }];
  const r = checkHistory(ops, 'register', { explain: true });
  assert.equal(r.verdict, 'linearizable');
  const page = timelineHtml({ file: 'h', verdict: r.verdict, explanation: r.explanation! });
  assert.doesNotMatch(page, /No operation could be linearized first/);
});

test('the page escapes a history file name, keys and values in every place they appear', () => {
  const evil = `"><svg onload=alert(1)>'</title><script>x</script>&`;
  const ops: Operation[] = [
    { id: 0, client: 1, kind: 'write', key: evil, value: evil, outcome: 'ok', invokedAt: 1, completedAt: 2 },
    { id: 1, client: 2, kind: 'cas', key: evil, expected: evil, value: evil, outcome: 'unknown', invokedAt: 3, completedAt: Infinity },
    { id: 2, client: 3, kind: 'read', key: evil, result: 'other', outcome: 'ok', invokedAt: 5, completedAt: 6 },
  ];
  const r = checkHistory(ops, 'kv', { explain: true });
  assert.equal(r.verdict, 'not-linearizable');
  const page = timelineHtml({ file: evil, verdict: r.verdict, explanation: r.explanation! });
  assert.doesNotMatch(page, /<script>|<svg onload|<\/title><script/);
  assert.equal((page.match(/<svg/g) ?? []).length, 1);
});

test('quorate check --html does not overwrite the history it reads', () => {
  const dir = mkdtempSync(join(tmpdir(), 'quorate-html-review-'));
  try {
    const file = join(dir, 'h.jsonl');
    const text = '{"client":1,"f":"write","value":1,"outcome":"ok","invoke":1,"complete":2}\n{"client":2,"f":"read","result":1,"outcome":"ok","invoke":3,"complete":4}\n';
    writeFileSync(file, text);
    quorate(['check', '--format', 'jsonl', '--html', file, file]);
    assert.equal(readFileSync(file, 'utf8'), text, 'the history is intact');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('quorate check --json --html: a page that cannot be written is said in the JSON object, not only on stderr', () => {
  const dir = mkdtempSync(join(tmpdir(), 'quorate-html-review-'));
  try {
    const file = join(dir, 'h.jsonl');
    writeFileSync(file, '{"client":1,"f":"write","value":1,"outcome":"ok","invoke":1,"complete":2}\n');
    const r = quorate(['check', '--format', 'jsonl', '--json', '--html', dir, file]);
    assert.equal(r.code, 3);
    const o = JSON.parse(r.stdout) as { exitCode: number; error: string | null };
    assert.equal(o.exitCode, 3);
    assert.notEqual(o.error, null, 'exitCode 3 with error null');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
