/**
 * The watch workload's checker and recording, on made-up event logs (no cluster): every event of
 * a watcher's window exactly once and in order, none lost across a reconnect; acknowledged puts
 * in the ground truth; events no write made named phantom; a compaction reported, not a loss.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { checkWatch, type PutRecord, type WatchEvent, type WatcherLog } from '../../src/chaos/watch-check.js';
import { compactedAt, recordPut, watchEvents } from '../../src/chaos/watch-workload.js';

const put = (revision: number, key: string, value: string): WatchEvent => ({ revision, key, value, type: 'PUT' });
/** Ground truth: revisions 2..9, one put each. */
const truth: WatchEvent[] = [2, 3, 4, 5, 6, 7, 8, 9].map((r) => put(r, `k${r % 3}`, `w${r % 2}-${r}`));
const puts: PutRecord[] = truth.map((e) => ({ key: e.key, value: e.value, outcome: 'ok' }));
const watcher = (events: WatchEvent[], over: Partial<WatcherLog> = {}): WatcherLog => ({ watcher: 0, startRevision: 1, events, sessions: 1, compactedAt: null, ...over });
const kinds = (r: ReturnType<typeof checkWatch>): string[] => r.anomalies.map((a) => `${a.kind}@${a.event.revision}`);

test('a watcher that saw every event of its window once, in order, across reconnects: valid', () => {
  const r = checkWatch([watcher(truth, { sessions: 3 }), watcher(truth.slice(0, 4), { watcher: 1 })], truth, puts);
  assert.equal(r.verdict, 'valid', r.details);
  assert.equal(r.summary, 'every event once, in order');
  assert.equal(r.events, 12);
});

test('a watcher that started late is judged from the revision it asked for; one that stopped early, up to its last event', () => {
  const r = checkWatch([watcher(truth.slice(3), { startRevision: 5 }), watcher(truth.slice(0, 2))], truth, puts);
  assert.equal(r.verdict, 'valid', r.details);
});

test('an event skipped across a reconnect is lost', () => {
  const events = truth.filter((e) => e.revision !== 5);
  const r = checkWatch([watcher(events, { sessions: 2 })], truth, puts);
  assert.equal(r.verdict, 'invalid');
  assert.deepEqual(kinds(r), ['lost@5']);
  assert.match(r.summary, /^lost 1$/);
});

test('a watcher whose stream stopped delivering: its tail is lost when the writers\' last revision is known', () => {
  // It saw revisions 2..5 and nothing after, though the writers' last revision, 9, was read before
  // the watchers were given time to catch up.
  const stuck = watcher(truth.slice(0, 4), { sessions: 2 });
  const r = checkWatch([stuck, watcher(truth, { watcher: 1 })], truth, puts, 9);
  assert.equal(r.verdict, 'invalid');
  assert.deepEqual(kinds(r), ['lost@6', 'lost@7', 'lost@8', 'lost@9']);
  assert.match(r.details, /waited for up to rev 9/);
  // A watcher that never received anything at all.
  assert.equal(checkWatch([watcher([])], truth, puts, 9).anomalies.length, 8);
  // Events after the writers' last revision (an unknown put landing late) are not asked of it.
  const late = [...truth, put(10, 'k1', 'w5-1')];
  assert.equal(checkWatch([watcher(truth)], late, [...puts, { key: 'k1', value: 'w5-1', outcome: 'unknown' }], 9).verdict, 'valid');
  // One stopped by a compaction, or at the cap on the events a watcher keeps, is judged up to its last event only.
  assert.equal(checkWatch([watcher(truth.slice(0, 3), { compactedAt: 7 })], truth, puts, 9).verdict, 'valid');
  const capped = checkWatch([watcher(truth.slice(0, 3), { truncated: true })], truth, puts, 9);
  assert.equal(capped.verdict, 'valid', capped.details);
  assert.match(capped.summary, /1 watcher\(s\) stopped at the cap on events/);
});

test('an event received twice (a resume from the last revision, not after it) is duplicated', () => {
  const events = [...truth.slice(0, 4), truth[3]!, ...truth.slice(4)];
  assert.deepEqual(kinds(checkWatch([watcher(events)], truth, puts)), ['duplicated@5']);
});

test('an event received before an earlier one is out-of-order; within a revision, the ground truth\'s order', () => {
  const swapped = [truth[0]!, truth[2]!, truth[1]!, ...truth.slice(3)];
  assert.deepEqual(kinds(checkWatch([watcher(swapped)], truth, puts)), ['out-of-order@3']);
  // A transaction's two events at revision 10: received in the other order.
  const txn = [...truth, put(10, 'k0', 'a'), put(10, 'k1', 'b')];
  const txnPuts = [...puts, { key: 'k0', value: 'a', outcome: 'ok' as const }, { key: 'k1', value: 'b', outcome: 'ok' as const }];
  assert.equal(checkWatch([watcher(txn)], txn, txnPuts).verdict, 'valid');
  const r = checkWatch([watcher([...truth, txn[9]!, txn[8]!])], txn, txnPuts);
  assert.deepEqual(kinds(r), ['out-of-order@10']);
});

test('an event the ground truth does not hold, or a value no writer put, is phantom', () => {
  const odd = put(6, 'k0', 'w9-99');
  const r = checkWatch([watcher([...truth.slice(0, 4), odd, ...truth.slice(5)])], truth, puts);
  assert.deepEqual(kinds(r).sort(), ['lost@6', 'phantom@6']);
  const inTruth = [...truth, put(10, 'k1', 'nobody')];
  assert.deepEqual(kinds(checkWatch([], inTruth, puts)), ['phantom@10']);
});

test('an acknowledged put missing from the ground truth is lost; an unknown or failed one may be missing', () => {
  const more: PutRecord[] = [...puts, { key: 'k1', value: 'w3-1', outcome: 'ok' }, { key: 'k2', value: 'w3-2', outcome: 'unknown' }, { key: 'k2', value: 'w3-3', outcome: 'fail' }];
  const r = checkWatch([], truth, more);
  assert.equal(r.verdict, 'invalid');
  assert.equal(r.anomalies.length, 1);
  assert.equal(r.anomalies[0]!.kind, 'lost');
  assert.equal(r.anomalies[0]!.watcher, null);
  assert.equal(r.anomalies[0]!.event.value, 'w3-1');
});

test('a write the ground truth holds twice is duplicated', () => {
  const twice = [...truth, put(10, truth[0]!.key, truth[0]!.value)];
  assert.deepEqual(kinds(checkWatch([], twice, puts)), ['duplicated@10']);
});

test('a watcher stopped by a compaction is reported as such, not as losses', () => {
  const r = checkWatch([watcher(truth.slice(0, 3), { compactedAt: 7 })], truth, puts);
  assert.equal(r.verdict, 'valid');
  assert.deepEqual(r.compacted, [{ watcher: 0, revision: 7 }]);
  assert.match(r.summary, /1 watcher\(s\) stopped by compaction/);
  assert.match(r.details, /compacted at rev 7 \(not a loss\)/);
});

test('without a ground truth the verdict is unknown, unless a watcher\'s own log shows an anomaly', () => {
  assert.equal(checkWatch([watcher(truth)], null, puts).verdict, 'unknown');
  const r = checkWatch([watcher([truth[1]!, truth[0]!])], null, puts);
  assert.equal(r.verdict, 'invalid');
  assert.deepEqual(kinds(r), ['out-of-order@2']);
});

test('recording: a WatchResponse\'s events with 64-bit revisions as strings; a compaction; a put\'s outcome', () => {
  const res = { events: [{ type: 'PUT', kv: { key: Buffer.from('chaos-watch/k1'), value: Buffer.from('w1-2'), mod_revision: '17' } }, { type: 'DELETE', kv: { key: Buffer.from('chaos-watch/k2'), mod_revision: '17' } }] };
  assert.deepEqual(watchEvents(res), [put(17, 'chaos-watch/k1', 'w1-2'), { revision: 17, key: 'chaos-watch/k2', value: '', type: 'DELETE' }]);
  assert.deepEqual(watchEvents({}), []);
  assert.equal(compactedAt({ compact_revision: '12' }), 12);
  assert.equal(compactedAt({ compact_revision: '0' }), null);
  const ok = recordPut(1, 'k', 'v', { err: null, value: { header: { revision: '42' } } }, 5, 6);
  assert.ok(ok !== 'not-sent' && ok.outcome === 'ok' && ok.revision === 42 && ok.completedAt === 6);
  const lost = recordPut(1, 'k', 'v', { err: { code: grpc.status.DEADLINE_EXCEEDED, details: 'Deadline exceeded' }, value: undefined }, 5, 6);
  assert.ok(lost !== 'not-sent' && lost.outcome === 'unknown' && lost.completedAt === Infinity);
  assert.equal(recordPut(1, 'k', 'v', { err: { code: grpc.status.UNAVAILABLE, details: 'No connection established' }, value: undefined }, 5, 6), 'not-sent');
});
