/**
 * `quorate check --html`: the explanation the search keeps (the longest linearization it found,
 * and the operation it could not place next) and the page drawn from it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Prng } from '../../src/core/prng.js';
import type { Operation, Value } from '../../src/check/history.js';
import { checkHistory, type Explanation } from '../../src/check/linearizability.js';
import { timelineHtml } from '../../src/check/timeline-html.js';
import { assertBadInput, quorate } from '../cli/run-quorate.js';

let nextId = 0;
function op(client: number, kind: Operation['kind'], invokedAt: number, completedAt: number, fields: Partial<Operation> = {}): Operation {
  return { id: nextId++, client, kind, key: '', outcome: Number.isFinite(completedAt) ? 'ok' : 'unknown', invokedAt, completedAt, ...fields };
}

/** A stale read: 1 is written, then 2, then client 3 reads 2 and client 1 reads 1 after it. */
const stale = (): Operation[] => [
  op(1, 'write', 1, 2, { value: 1 }),
  op(2, 'write', 3, 4, { value: 2 }),
  op(3, 'read', 5, 6, { result: 2 }),
  op(1, 'read', 7, 8, { result: 1 }),
];

/** Whether `x.linearized` is a sequential run of a register from nil that respects real time. */
function replays(x: Explanation): boolean {
  let state: Value = null;
  const at = new Map(x.linearized.map((l, k) => [l.op, k]));
  for (const { op: o, stateAfter } of x.linearized) {
    if (o.kind === 'read' && o.outcome === 'ok' && o.result !== state) return false;
    if (o.kind === 'write') state = o.value ?? null;
    if (o.kind === 'delete') state = null;
    if (o.kind === 'cas' && o.outcome === 'ok') {
      if (state !== (o.expected ?? null)) return false;
      state = o.value ?? null;
    }
    if (o.kind === 'cas' && o.outcome === 'fail' && state === (o.expected ?? null)) return false;
    if (o.kind === 'cas' && o.outcome === 'unknown' && state === (o.expected ?? null)) state = o.value ?? null;
    if (stateAfter !== state) return false;
  }
  for (const a of x.linearized) for (const b of x.linearized) {
    if (a.op.completedAt < b.op.invokedAt && at.get(a.op)! > at.get(b.op)!) return false;
  }
  return true;
}

test('a stale read: the longest linearization is the three operations before it, and the read of 1 is the one that cannot go next', () => {
  const r = checkHistory(stale(), 'register', { explain: true });
  assert.equal(r.verdict, 'not-linearizable');
  const x = r.explanation!;
  assert.deepEqual(x.linearized.map((l) => `${l.op.kind}:${String(l.stateAfter)}`), ['write:1', 'write:2', 'read:2']);
  assert.equal(x.stuck?.kind, 'read');
  assert.equal(x.stuck?.result, 1);
  assert.ok(replays(x));
  const page = timelineHtml({ file: 'h.jsonl', verdict: r.verdict, explanation: x });
  assert.match(page, /h\.jsonl: not linearizable/);
  assert.match(page, /The search linearized at most 3 of the 4 operations/);
  assert.match(page, /read → 1 \[ok\] from 7 to 8\ncould not be placed next/);
  assert.equal((page.match(/class="lin"/g) ?? []).length, 3);
  assert.equal((page.match(/class="stuck"/g) ?? []).length, 1);
});

test('explaining changes no verdict, and every explanation of a linearizable history orders all its operations (300 random histories)', () => {
  const rng = new Prng(7);
  let linearizable = 0;
  for (let h = 0; h < 300; h++) {
    const ops: Operation[] = [];
    for (let c = 0; c < 3; c++) {
      let t = rng.int(0, 3);
      for (let k = 0; k < rng.int(1, 4); k++) {
        const end = rng.chance(0.1) ? Infinity : t + rng.int(1, 6);
        const kind = rng.pick(['read', 'write', 'cas'] as const);
        const fields: Partial<Operation> = kind === 'read' ? { result: rng.pick([null, 1, 2]) } : kind === 'write' ? { value: rng.int(1, 2) } : { expected: rng.pick([null, 1, 2]), value: rng.int(1, 2), outcome: Number.isFinite(end) ? rng.pick(['ok', 'fail'] as const) : 'unknown' };
        if (kind === 'read' && !Number.isFinite(end)) continue;
        ops.push(op(c, kind, t, end, fields));
        if (!Number.isFinite(end)) break;
        t = end + rng.int(0, 2);
      }
    }
    const plain = checkHistory(ops, 'register');
    const explained = checkHistory(ops, 'register', { explain: true });
    assert.equal(explained.verdict, plain.verdict, `history ${h}`);
    const x = explained.explanation!;
    assert.ok(replays(x), `history ${h}: the linearization is a sequential run that respects real time`);
    if (plain.verdict === 'linearizable') {
      linearizable++;
      assert.equal(x.linearized.length, x.operations.length, `history ${h}: all of them`);
      assert.equal(x.stuck, undefined);
    } else {
      assert.ok(x.linearized.length < x.operations.length, `history ${h}`);
      assert.notEqual(x.stuck, undefined, `history ${h}`);
    }
  }
  assert.ok(linearizable > 30 && linearizable < 270, `both verdicts drawn (${linearizable} linearizable)`);
});

test('the page escapes what a history holds', () => {
  const ops = [op(1, 'write', 1, 2, { value: '<script>alert(1)</script>', key: 'k&"' }), op(2, 'read', 3, 4, { result: 'x', key: 'k&"' })];
  const r = checkHistory(ops, 'kv', { explain: true });
  const page = timelineHtml({ file: '<f>', verdict: r.verdict, explanation: r.explanation! });
  assert.doesNotMatch(page, /<script>/);
  assert.match(page, /&lt;script&gt;/);
  assert.match(page, /k&amp;&quot;/);
});

test('quorate check --html writes the page for one history; two histories, or a file it cannot write, are bad input', () => {
  const dir = mkdtempSync(join(tmpdir(), 'quorate-html-'));
  try {
    const history = join(dir, 'h.jsonl');
    writeFileSync(history, stale().map((o) => JSON.stringify({ client: o.client, f: o.kind, key: 'k', ...(o.value !== undefined ? { value: o.value } : {}), ...(o.result !== undefined ? { result: o.result } : {}), outcome: o.outcome, invoke: o.invokedAt, complete: o.completedAt })).join('\n') + '\n');
    const page = join(dir, 'h.html');
    const r = quorate(['check', '--model', 'kv', '--format', 'jsonl', '--html', page, history]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /^not linearizable/);
    assert.match(readFileSync(page, 'utf8'), /could not be placed next/);
    assertBadInput(quorate(['check', '--format', 'jsonl', '--html', page, history, history]), /--html draws one history/, 'two histories');
    assertBadInput(quorate(['check', '--format', 'jsonl', '--html', join(dir, 'no', 'such', 'dir.html'), history]), /cannot write .*dir\.html: /, 'an unwritable page');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a client whose operations overlap (a history may say so) has them drawn in rows of its lane, not on top of each other', () => {
  const ops = [op(1, 'write', 1, 6, { value: 1 }), op(1, 'write', 2, 3, { value: 2 }), op(1, 'read', 7, 8, { result: 1 }), op(2, 'read', 4, 5, { result: 2 })];
  const r = checkHistory(ops, 'register', { explain: true });
  const page = timelineHtml({ file: 'h', verdict: r.verdict, explanation: r.explanation! });
  const ys = [...page.matchAll(/<rect class="[^"]*" x="\d+" y="(\d+)"/g)].map((m) => Number(m[1]));
  assert.equal(ys.length, 4); // drawn in call order: client 1's writes, client 2's read, client 1's read
  assert.notEqual(ys[0], ys[1], 'the two overlapping writes of client 1 are in two rows');
  assert.equal(ys[3], ys[0], 'its read after them takes the first row again');
  assert.equal(new Set(ys).size, 3, 'client 2 has a row of its own');
  assert.equal((page.match(/>client 1</g) ?? []).length, 1, 'one label per client');
});
