/**
 * The etcd workload's auth runs (src/sim/workloads/etcd-auth.ts): the administrator's setup, logins
 * built from the ordering member's state, and what the checker is told. The register `@auth`
 * reads 'on' only after a refusal auth alone gives, and nothing only after an operation the client
 * had no permission for took effect; a liar's auth disable as root, whose login it never proved,
 * is refused (and, with the mutant trust-command-user, shows as such a read).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Operation } from '../../src/check/history.js';
import { checkHistory } from '../../src/check/linearizability.js';
import { index } from '../../src/core/ids.js';
import { Prng } from '../../src/core/prng.js';
import { unpack } from '../../src/core/codec.js';
import { KvStateMachine, type KvCommand, type KvOutcome } from '../../src/statemachine/mvcc/index.js';
import { ALARM_KEY, EtcdWorkload, type EtcdOp } from '../../src/sim/workloads/etcd.js';
import { AUTH_KEY } from '../../src/sim/workloads/etcd-auth.js';

let at = 0;
let nextId = 0;
const ids = (): number => nextId++;

/** A workload with auth whose client 1 administers, 2 writes, 3 reads, 4 is anonymous (all member callers). */
function authWorkload(): EtcdWorkload {
  const w = new EtcdWorkload(3, undefined, new Prng(5));
  for (const c of [1, 2, 3, 4]) w.useClient(c, 'member');
  return w;
}

/** Run `client`'s next operations through `sm` (ordered by `origin`) until `until` holds; returns the history entries. */
function drive(w: EtcdWorkload, sm: KvStateMachine, origin: string, client: number, rounds: number, seq: { n: number }): Operation[] {
  const out: Operation[] = [];
  const random = new Prng(client * 31);
  for (let i = 0; i < rounds; i++) {
    const op = w.next(random, client, false, false);
    out.push(...run(w, sm, origin, client, op, seq));
  }
  return out;
}

function run(w: EtcdWorkload, sm: KvStateMachine, origin: string, client: number, op: EtcdOp, seq: { n: number }): Operation[] {
  seq.n++;
  const result: KvOutcome = op.localRead
    ? w.readLocal(sm, op)
    : sm.apply(w.command(op, { client, seq: seq.n, lowestPending: seq.n }, { sm, origin }), index(++at), origin === '' ? undefined : origin);
  return w.record(op, client, 'ok', result, at, at + 0.5, ids);
}

test('the administrator sets auth up through the log; a writer logs in through its member and writes; anonymous writes are refused and read @auth as on', () => {
  const w = authWorkload();
  const sm = new KvStateMachine();
  const seq = { n: 0 };
  const setup = drive(w, sm, 'n1', 1, 12, seq);
  assert.equal(sm.auth.enabled, true, 'the setup ends with auth enabled');
  assert.ok(setup.some((o) => o.key === AUTH_KEY && o.kind === 'write' && o.value === 'on' && o.outcome === 'ok'), 'the enable is a write of on');
  for (const user of ['root', 'writer2', 'reader3']) assert.notEqual(sm.auth.credentialRevisionOf(user), null, `${user} was added`);
  assert.equal(sm.auth.credentialRevisionOf('anonymous4'), null);
  // The writer's first operation is a login through n2 (proved: n2 may now act as writer2).
  const writer = drive(w, sm, 'n2', 2, 6, seq);
  assert.equal(sm.auth.actsAs('n2', 'writer2'), true);
  assert.equal(sm.auth.actsAs('n3', 'writer2'), false, 'a login binds to the member it went through');
  assert.ok(writer.every((o) => o.key !== AUTH_KEY || (o.kind === 'read' && o.result === 'on')), 'a writer\'s operations never read @auth as off');
  // The anonymous client's operations are refused while auth is on: each reads @auth as on.
  const anonymous = drive(w, sm, 'n3', 4, 10, seq);
  const authReads = anonymous.filter((o) => o.key === AUTH_KEY);
  assert.ok(authReads.length > 0 && authReads.every((o) => o.kind === 'read' && o.result === 'on'));
  assert.ok(anonymous.filter((o) => o.key !== AUTH_KEY).every((o) => o.outcome === 'fail' || o.kind === 'read' || o.key.startsWith('L')), 'refused writes are failed writes');
  assert.equal(checkHistory([...setup, ...writer, ...anonymous], 'kv').verdict, 'linearizable');
});

test('an enable whose answer was lost: the administrator learns from the refusal that auth is on, logs in, and repeats the refused step', () => {
  const w = authWorkload();
  const sm = new KvStateMachine();
  const seq = { n: 0 };
  const random = new Prng(31);
  const history: Operation[] = [];
  let answered = true;
  const setUp = (): boolean => sm.auth.credentialRevisionOf('reader3') !== null;
  for (let i = 0; i < 20 && !setUp(); i++) {
    const op = w.next(random, 1, false, false);
    seq.n++;
    const result = sm.apply(w.command(op, { client: 1, seq: seq.n, lowestPending: seq.n }, { sm, origin: 'n1' }), index(++at), 'n1');
    // The first enable took effect, but its answer was lost.
    const lost = answered && op.step?.kind === 'admin' && op.step.request.op === 'auth-enable';
    if (lost) answered = false;
    history.push(...w.record(op, 1, lost ? 'unknown' : 'ok', lost ? undefined : result, at, at + 0.5, ids));
  }
  assert.equal(sm.auth.enabled, true);
  for (const user of ['writer2', 'reader3']) assert.notEqual(sm.auth.credentialRevisionOf(user), null, `${user} was added after all`);
  assert.equal(sm.auth.actsAs('n1', 'root'), true, 'root logged in through n1');
  assert.equal(checkHistory(history, 'kv').verdict, 'linearizable');
});

test('a refused txn (cas) compared nothing: it is recorded as no failed compare', () => {
  const w = authWorkload();
  const op: EtcdOp = { f: 'cas', key: 'k1', value: 'v9', expected: 'v1', label: 'cas', localRead: false, readOnly: false };
  const ops = w.record(op, 4, 'ok', { ok: false, error: 'permission-denied' }, 1, 2, ids);
  assert.deepEqual(ops.filter((o) => o.key === 'k1'), [], 'nothing on k1');
  assert.deepEqual(ops.map((o) => [o.key, o.kind, o.result]), [[AUTH_KEY, 'read', 'on']]);
});

test('an operation without permission that took effect reads @auth as off; one with permission reads nothing', () => {
  const w = authWorkload();
  const put: EtcdOp = { f: 'put', key: 'k1', value: 'v1', label: 'put', localRead: false, readOnly: false };
  const ok: KvOutcome = { ok: true, result: { op: 'put', revision: 2 } } as KvOutcome;
  assert.deepEqual(w.record(put, 4, 'ok', ok, 1, 2, ids).filter((o) => o.key === AUTH_KEY).map((o) => o.result), [null], 'anonymous');
  assert.deepEqual(w.record(put, 3, 'ok', ok, 1, 2, ids).filter((o) => o.key === AUTH_KEY).map((o) => o.result), [null], 'a reader\'s write');
  assert.deepEqual(w.record(put, 2, 'ok', ok, 1, 2, ids).filter((o) => o.key === AUTH_KEY), [], 'a writer');
  assert.deepEqual(w.record(put, 4, 'unknown', undefined, 1, 2, ids).filter((o) => o.key === AUTH_KEY), [], 'an unknown outcome tells nothing');
});

for (const mutant of [undefined, 'trust-command-user', 'trust-login-use']) {
  test(`a liar's auth disables as root and bindings to root's session it cannot sign${mutant === undefined ? ' are refused' : `: the mutant ${mutant} lets auth go off`}`, () => {
    const w = authWorkload();
    const sm = new KvStateMachine(undefined, mutant === undefined ? {} : { mutant });
    const seq = { n: 0 };
    const history = drive(w, sm, 'n1', 1, 12, seq);
    assert.equal(sm.auth.enabled, true);
    assert.notEqual(sm.auth.sessionKeyOf('root'), null, 'root logged in: its session is open');
    const random = new Prng(1);
    const kinds = new Set<string>();
    for (let s = 1; s <= 10 && sm.auth.enabled; s++) {
      const forged = w.liarCommand(random, s);
      assert.notEqual(forged, null);
      const outcome = sm.apply(forged!, index(++at), 'n4');
      kinds.add(outcome.ok ? 'ok' : outcome.error);
    }
    if (mutant === undefined) {
      assert.deepEqual([...kinds], ['invalid-auth-token'], 'every one refused');
      assert.equal(sm.auth.enabled, true);
    } else {
      assert.equal(sm.auth.enabled, false);
    }
    // The anonymous client's next write shows which: refused (on) or taken (off, after the enable).
    history.push(...drive(w, sm, 'n3', 4, 4, seq));
    assert.equal(checkHistory(history, 'kv').verdict, mutant === undefined ? 'linearizable' : 'not-linearizable');
  });
}

test('runs without auth keep their commands as they were (no user); their liar command is a member\'s alarm', () => {
  const w = new EtcdWorkload(3);
  w.useClient(1, 'member');
  const op = w.next(new Prng(3), 1, false, false);
  assert.equal(op.user, undefined);
  const lie = w.liarCommand(new Prng(1), 1);
  assert.ok(lie !== null);
  assert.deepEqual((unpack(lie) as KvCommand).request, { op: 'alarm', action: 'activate', memberId: '2', alarm: 'NOSPACE' });
});

test('an operation refused for an alarm reads the alarm register as raised (no simulated member raises one); any other answer reads nothing', () => {
  const w = new EtcdWorkload(3);
  let id = 0;
  const put = { f: 'put' as const, key: 'k1', value: 'v1', label: 'put', localRead: false, readOnly: false };
  const refused = w.record(put, 1, 'ok', { ok: false, error: 'corrupt' }, 10, 20, () => ++id);
  assert.deepEqual(refused.filter((o) => o.key === ALARM_KEY).map((o) => [o.kind, o.outcome, o.kind === 'read' ? o.result : null]), [['read', 'ok', 'raised (corrupt)']]);
  const other = w.record(put, 1, 'ok', { ok: false, error: 'no-space' }, 30, 40, () => ++id);
  assert.equal(other.filter((o) => o.key === ALARM_KEY).length, 1);
  assert.equal(w.record(put, 1, 'unknown', undefined, 50, 60, () => ++id).filter((o) => o.key === ALARM_KEY).length, 0);
});
