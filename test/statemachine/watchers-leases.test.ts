/**
 * Watchers and leases of the MVCC state machine, without processes: what a watcher delivers
 * when its consumer is slow, when it starts in the past, and when compaction overtakes it; and
 * that lease commands are deterministic, atomic and survive a snapshot.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  KvStateMachine, MvccStore, WatchHub, encodeKvCommand,
  type KvOutcome, type KvRequest, type LeaseRequest, type MvccEvent, type PutRequest, type WatchDelivery, type Watcher,
} from '../../src/statemachine/mvcc/index.js';
import { index } from '../../src/core/ids.js';

const b = (s: string): Uint8Array => Buffer.from(s);
const text = (u: Uint8Array): string => Buffer.from(u).toString();
const put = (key: string, value: string, lease = '0'): PutRequest =>
  ({ op: 'put', key: b(key), value: b(value), lease, prevKv: false, ignoreValue: false, ignoreLease: false });

/** Take everything a watcher has, as (revision, key, type) triples, asserting revisions never go back. */
function drain(w: Watcher): { revision: number; key: string; type: string }[] {
  const out: { revision: number; key: string; type: string }[] = [];
  for (let d: WatchDelivery | null = w.take(); d !== null; d = w.take()) {
    assert.equal(d.kind, 'events');
    if (d.kind !== 'events') break;
    for (const e of d.events) out.push({ revision: e.kv.modRevision, key: text(e.kv.key), type: e.type });
  }
  return out;
}

test('a slow watcher falls back to history and still gets every revision once, in order', () => {
  const store = new MvccStore();
  const hub = new WatchHub(store, { maxBufferedEventsPerWatcher: 4, catchUpMaxEvents: 3 });
  let readyCalls = 0;
  const w = hub.watch({ key: b('k/'), rangeEnd: b('k0'), startRevision: store.revision + 1, noPut: false, noDelete: false }, () => readyCalls++);
  for (let i = 0; i < 50; i++) store.execute(put(`k/${i % 7}`, `v${i}`));
  store.execute({ op: 'delete', key: b('k/3'), rangeEnd: b(''), prevKv: false });
  assert.ok(hub.fellBehind >= 1, 'the watcher stopped buffering live events');
  const events = drain(w);
  assert.equal(events.length, 51);
  for (let i = 1; i < events.length; i++) assert.ok(events[i]!.revision > events[i - 1]!.revision, 'revisions strictly increase');
  assert.equal(events[50]!.type, 'DELETE');
  assert.ok(w.idle);
  store.execute(put('k/x', 'live'));
  assert.deepEqual(drain(w).map((e) => e.key), ['k/x'], 'back in sync: live events flow again');
  assert.ok(readyCalls > 0);
});

test('a watcher that starts in the past replays history with prev kv; filters drop puts or deletes', () => {
  const store = new MvccStore();
  store.execute(put('a', '1'));
  const start = store.revision;
  store.execute(put('a', '2'));
  store.execute({ op: 'delete', key: b('a'), rangeEnd: b(''), prevKv: false });
  const seen: MvccEvent[] = [];
  const hub = new WatchHub(store);
  const all = hub.watch({ key: b('a'), rangeEnd: b(''), startRevision: start, noPut: false, noDelete: false }, () => undefined);
  const noPut = hub.watch({ key: b('a'), rangeEnd: b(''), startRevision: start, noPut: true, noDelete: false }, () => undefined);
  for (let d = all.take(); d !== null; d = all.take()) if (d.kind === 'events') seen.push(...d.events);
  assert.deepEqual(seen.map((e) => [e.type, text(e.kv.value), e.prevKv === null ? null : text(e.prevKv.value)]), [
    ['PUT', '1', null], ['PUT', '2', '1'], ['DELETE', '', '2'],
  ]);
  assert.deepEqual(drain(noPut).map((e) => e.type), ['DELETE']);
});

test('compaction past a watcher that fell behind cancels it with the compaction revision', () => {
  const store = new MvccStore();
  const hub = new WatchHub(store, { maxBufferedEventsPerWatcher: 2 });
  const w = hub.watch({ key: b('c'), rangeEnd: b(''), startRevision: store.revision + 1, noPut: false, noDelete: false }, () => undefined);
  for (let i = 0; i < 10; i++) store.execute(put('c', String(i)));
  store.execute({ op: 'compact', revision: store.revision - 1 });
  const first = w.take();
  const second = w.take();
  assert.equal(first?.kind, 'events', 'what was buffered is still delivered');
  assert.equal(second?.kind, 'events');
  const third = w.take();
  assert.deepEqual(third, { kind: 'compacted', compactRevision: store.revision - 1 });
  assert.equal(w.take(), null);
});

function apply(sm: KvStateMachine, request: KvRequest | LeaseRequest, seq: number): KvOutcome {
  return sm.apply(encodeKvCommand({ client: 't', seq, lowestPending: seq, request }), index(seq));
}

test('leases: revoke deletes attached keys in one revision; an expiry decided before a renewal is void; snapshots keep leases', () => {
  const sm = new KvStateMachine();
  let seq = 1;
  assert.equal(apply(sm, put('x', '1', '7'), seq++).ok, false, 'a put naming an unknown lease is refused');
  assert.equal(apply(sm, { op: 'lease-grant', id: '7', ttlSeconds: 5 }, seq++).ok, true);
  assert.deepEqual(apply(sm, { op: 'lease-grant', id: '7', ttlSeconds: 5 }, seq++), { ok: false, error: 'lease-exists' });
  apply(sm, put('x', '1', '7'), seq++);
  apply(sm, put('y', '1', '7'), seq++);
  apply(sm, put('z', '1'), seq++);
  assert.deepEqual(sm.leases.get('7')?.keys.map(text), ['x', 'y']);
  apply(sm, put('y', '2'), seq++); // moved off the lease
  assert.deepEqual(sm.leases.get('7')?.keys.map(text), ['x']);

  const renewalsSeen = sm.leases.get('7')!.renewals;
  apply(sm, { op: 'lease-renew', id: '7' }, seq++);
  const stale = apply(sm, { op: 'lease-expire', id: '7', renewals: renewalsSeen }, seq++);
  assert.ok(stale.ok && 'applied' in stale.result && stale.result.applied === false, 'a renewal after the decision wins');
  assert.ok(sm.leases.has('7'));

  const copy = new KvStateMachine();
  copy.restore(sm.snapshot());
  assert.deepEqual(copy.leases.get('7')?.keys.map(text), ['x'], 'attachments rebuilt from the snapshot');

  apply(sm, put('w', '1', '7'), seq++);
  const before = sm.store.revision;
  const revoked = apply(sm, { op: 'lease-revoke', id: '7' }, seq++);
  assert.ok(revoked.ok);
  assert.equal(sm.store.revision, before + 1, 'all attached keys go in one revision');
  assert.equal(sm.leases.has('7'), false);
  assert.deepEqual(apply(sm, { op: 'lease-renew', id: '7' }, seq++), { ok: false, error: 'lease-not-found' });
});

test('a snapshot installed under a live watcher: it catches up from the new history, or is cancelled if that was compacted', () => {
  const leader = new KvStateMachine();
  const follower = new KvStateMachine();
  let seq = 1;
  for (let i = 0; i < 3; i++) {
    const request = put('s/k', `v${i}`);
    apply(leader, request, seq);
    apply(follower, request, seq);
    seq++;
  }
  const hub = new WatchHub(follower.store);
  const watcher = hub.watch({ key: b('s/'), rangeEnd: b('s0'), startRevision: follower.store.revision + 1, noPut: false, noDelete: false }, () => undefined);
  const late = hub.watch({ key: b('s/'), rangeEnd: b('s0'), startRevision: follower.store.revision + 1, noPut: false, noDelete: false }, () => undefined);
  for (let i = 3; i < 8; i++) apply(leader, put(`s/k${i % 2}`, `v${i}`), seq++);
  const expected = leader.store.revision;
  follower.restore(leader.snapshot()); // the follower skipped 5 revisions by InstallSnapshot
  const events = drain(watcher);
  assert.deepEqual(events.map((e) => e.revision), [expected - 4, expected - 3, expected - 2, expected - 1, expected]);
  apply(leader, put('s/after', 'x'), seq);
  apply(follower, put('s/after', 'x'), seq++);
  assert.deepEqual(drain(watcher).map((e) => e.key), ['s/after'], 'live again after the restore');

  // A snapshot whose history was compacted past the watcher's position cancels it instead.
  const compacted = new KvStateMachine();
  compacted.restore(leader.snapshot());
  apply(compacted, put('s/z', '1'), seq++);
  apply(compacted, { op: 'compact', revision: compacted.store.revision }, seq++);
  follower.restore(compacted.snapshot());
  for (let d = late.take(); d !== null; d = late.take()) {
    if (d.kind === 'compacted') {
      assert.equal(d.compactRevision, compacted.store.compactRevision);
      return;
    }
  }
  assert.fail('the late watcher was neither caught up nor cancelled');
});

test('history replay through the change log equals a brute-force replay (random writes, txns, range deletes, compaction, restore)', () => {
  let seed = 7;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const sm = new KvStateMachine();
  let seq = 1;
  const keys = ['a', 'a/1', 'a/2', 'b', 'b/x', 'c'];
  /** Every event ever, from the store's own listener. */
  const all: { revision: number; key: string; type: string }[] = [];
  sm.store.onRevision((revision, events) => { for (const e of events) all.push({ revision, key: text(e.kv.key), type: e.type }); });
  for (let step = 0; step < 400; step++) {
    const k = keys[rnd(keys.length)]!;
    const choice = rnd(10);
    if (choice < 6) apply(sm, put(k, `v${step}`), seq++);
    else if (choice < 8) apply(sm, { op: 'delete', key: b(k), rangeEnd: b(`${k}0`), prevKv: false }, seq++);
    else apply(sm, { op: 'txn', compare: [], success: [put('a/1', `t${step}`), put('b', `t${step}`)], failure: [] }, seq++);
    if (step === 150) apply(sm, { op: 'compact', revision: sm.store.revision - 20 }, seq++);
  }
  const restored = new KvStateMachine();
  restored.restore(sm.snapshot());
  for (const store of [sm.store, restored.store]) {
    for (const [from, to] of [['a', 'b'], ['\u0000', '\u0000'], ['b', '\u0000'], ['a/', 'a0']] as const) {
      for (const start of [store.compactRevision, store.compactRevision + 37, store.revision - 5]) {
        const got: { revision: number; key: string; type: string }[] = [];
        let next = start;
        while (next <= store.revision) {
          const r = store.eventsBetween(b(from), b(to), next, store.revision, 7);
          assert.ok(r.nextRevision > next);
          for (const e of r.events) got.push({ revision: e.kv.modRevision, key: text(e.kv.key), type: e.type });
          next = r.nextRevision;
        }
        const inRange = (key: string): boolean => key >= from && (to === '\u0000' || key < to);
        const expected = all.filter((e) => e.revision >= start && inRange(e.key));
        assert.deepEqual(got, expected, `range [${from}, ${to}) from ${start}`);
      }
    }
  }
});

test('a one-key watcher is offered only its key, and a compaction of revisions it never cared about does not cancel it', () => {
  const store = new MvccStore();
  const hub = new WatchHub(store, { maxBufferedEventsPerWatcher: 2 });
  const w = hub.watch({ key: b('x'), rangeEnd: b(''), startRevision: store.revision + 1, noPut: false, noDelete: false }, () => undefined);
  for (let i = 0; i < 50; i++) store.execute(put('y', String(i)));
  store.execute({ op: 'compact', revision: store.revision });
  const first = store.revision + 1;
  for (let i = 0; i < 6; i++) store.execute(put('x', String(i))); // more than it buffers: falls behind
  assert.ok(hub.fellBehind >= 1);
  const got = drain(w);
  assert.deepEqual(got.map((e) => e.revision), [first, first + 1, first + 2, first + 3, first + 4, first + 5]);
  assert.equal(w.nextRevision, store.revision + 1);
});
