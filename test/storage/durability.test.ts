/**
 * Every fsync the storage issues is needed, and these tests show it: on the model file system a
 * strict power loss keeps only what was synced (data by datasync, names by a directory fsync), so
 * removing any one of the storage's datasyncs or directory fsyncs fails one of them.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { close, DIR, entry, indexes, openStorage, range, save, saveSnapshot, segmentNames, snapDir, snapshotAt, snapshotNames, stepUntil, strictPowerLoss, sync, walDir, world, type World } from './model-world.js';

const hs = (commit: number) => ({ term: 1, vote: 'n1', commit });

/** Run the clock one event at a time until `until()` holds (then stop: what follows never happens). */

describe('every datasync is needed: a strict power loss keeps only synced data', () => {
  test('a save is durable once done runs (the WAL datasync)', () => {
    const w = world();
    const s = openStorage(w);
    save(w, s, { hardState: hs(1), entries: range(1, 3), snapshot: null });
    strictPowerLoss(w);
    const r = openStorage(w);
    assert.deepEqual(indexes(r), ['1@1', '2@1', '3@1']);
    assert.deepEqual(r.restored().hardState, hs(1));
  });

  test('after saveSnapshot, the state restated in the fresh segment is durable (the restatement datasync)', () => {
    const w = world();
    const s = openStorage(w, { segmentBytes: 200 });
    for (let i = 1; i <= 10; i++) save(w, s, { hardState: hs(i), entries: [entry(i)], snapshot: null });
    saveSnapshot(w, s, snapshotAt(8));
    strictPowerLoss(w);
    const r = openStorage(w);
    assert.equal(r.restored().snapshot?.meta.index, 8);
    assert.deepEqual(indexes(r), ['9@1', '10@1'], 'entries after the snapshot');
    assert.deepEqual(r.restored().hardState, hs(10), 'the hard state');
  });

  test('a snapshot file\'s data is durable before it is renamed into place (the snapshot datasync)', () => {
    const w = world();
    const s = openStorage(w, { snapshotChunkBytes: 64 });
    save(w, s, { hardState: hs(5), entries: range(1, 5), snapshot: null });
    const data = new Uint8Array(1000).map((_, i) => i % 251);
    saveSnapshot(w, s, snapshotAt(5, 1, data));
    strictPowerLoss(w);
    const r = openStorage(w); // without the datasync: an empty file under the final name, and a refusal
    assert.deepEqual(r.restored().snapshot?.data, data);
  });

  test('what open replayed is durable before sync completes (records a killed process wrote and never synced)', () => {
    const w = world(1, { syncLatencyMs: 10 });
    const s = openStorage(w);
    save(w, s, { hardState: hs(1), entries: range(1, 2), snapshot: null });
    const segment = `${walDir}/${segmentNames(w).at(-1)!}`;
    const before = w.fs.size(segment);
    s.save({ hardState: hs(3), entries: range(3, 3), snapshot: null }, () => assert.fail('never acknowledged'));
    stepUntil(w, () => w.fs.size(segment) > before); // written, its datasync still running
    w.fs.crash();
    const r = openStorage(w);
    assert.deepEqual(indexes(r), ['1@1', '2@1', '3@1'], 'the kernel still had it: open replays it');
    sync(w, r);
    strictPowerLoss(w);
    const again = openStorage(w);
    assert.deepEqual(indexes(again), ['1@1', '2@1', '3@1'], 'what a replica was restarted with never comes undone');
  });
});

describe('every directory fsync is needed: a strict power loss keeps only fsynced names', () => {
  test('first segment: the data directory, wal/ and the first segment are durable before the first save completes', () => {
    const w = world();
    const s = openStorage(w);
    save(w, s, { hardState: hs(0), entries: [entry(1)], snapshot: null });
    strictPowerLoss(w);
    assert.ok(w.fs.exists(DIR), 'the data directory survives');
    const r = openStorage(w);
    assert.deepEqual(r.restored().hardState, hs(0), 'the first term and vote survive');
    assert.deepEqual(indexes(r), ['1@1']);
  });

  test('rotation: a new segment is durable before anything in it is acknowledged', () => {
    const w = world();
    const s = openStorage(w, { segmentBytes: 150 });
    for (let i = 1; i <= 12; i++) save(w, s, { hardState: hs(i), entries: [entry(i)], snapshot: null });
    assert.ok(segmentNames(w).length >= 4, 'rotated');
    strictPowerLoss(w);
    const r = openStorage(w);
    assert.deepEqual(indexes(r), range(1, 12).map((e) => `${e.index}@1`));
    assert.deepEqual(r.restored().hardState, hs(12));
  });

  test('snapshot rename: the snapshot file is in place durably before the WAL names it', () => {
    const w = world();
    const s = openStorage(w);
    save(w, s, { hardState: hs(4), entries: range(1, 4), snapshot: null });
    saveSnapshot(w, s, snapshotAt(3));
    strictPowerLoss(w);
    const r = openStorage(w); // without the fsync the rename reverts, and open refuses: the WAL names snapshot 3
    assert.equal(r.restored().snapshot?.meta.index, 3);
    assert.deepEqual(indexes(r), ['4@1']);
  });

  test('snapshot installed by a save (from a leader): file in place durably before its WAL record', () => {
    const w = world();
    const s = openStorage(w);
    save(w, s, { hardState: hs(2), entries: range(1, 2), snapshot: null });
    save(w, s, { hardState: hs(20), entries: [], snapshot: snapshotAt(20, 2) });
    strictPowerLoss(w);
    const r = openStorage(w);
    assert.equal(r.restored().snapshot?.meta.index, 20);
    assert.deepEqual(r.restored().hardState, hs(20));
  });

  test('segment deletion: segments a snapshot made obsolete stay deleted after a power loss', () => {
    const w = world();
    const s = openStorage(w, { segmentBytes: 150 });
    for (let i = 1; i <= 10; i++) save(w, s, { hardState: hs(i), entries: [entry(i)], snapshot: null });
    assert.ok(segmentNames(w).length >= 3);
    saveSnapshot(w, s, snapshotAt(9));
    const kept = segmentNames(w);
    assert.equal(kept.length, 1);
    strictPowerLoss(w);
    assert.deepEqual(segmentNames(w), kept, 'no deleted segment came back');
    const r = openStorage(w);
    assert.deepEqual(indexes(r), ['10@1']);
  });

  test('snapshot pruning: snapshots beyond keepSnapshots stay deleted after a power loss', () => {
    const w = world();
    const s = openStorage(w, { keepSnapshots: 2 });
    save(w, s, { hardState: hs(9), entries: range(1, 9), snapshot: null });
    for (const at of [3, 6, 9]) saveSnapshot(w, s, snapshotAt(at));
    const kept = snapshotNames(w);
    assert.equal(kept.length, 2);
    strictPowerLoss(w);
    assert.deepEqual(snapshotNames(w), kept);
  });

  test('startup: a snapshot file the WAL does not name yet (its save never finished) is not restored, before or after a power loss', () => {
    const w = world(1, { syncLatencyMs: 10 });
    const s = openStorage(w);
    save(w, s, { hardState: hs(6), entries: range(1, 6), snapshot: null });
    let doneCalled = false;
    s.saveSnapshot(snapshotAt(5), () => (doneCalled = true));
    const name = `${snapDir}/${'1'.padStart(16, '0')}-${'5'.padStart(16, '0')}.snap`;
    stepUntil(w, () => w.fs.exists(name)); // renamed, its directory fsync still running
    w.fs.crash();
    assert.equal(doneCalled, false);
    // The file is there, but the WAL never named it: a stale tail the snapshot replaced could
    // otherwise come back beside it. The log the WAL holds is what was acknowledged.
    const r = openStorage(w);
    assert.equal(r.restored().snapshot, null, 'open restores what the WAL names, not the newest file');
    assert.deepEqual(indexes(r), ['1@1', '2@1', '3@1', '4@1', '5@1', '6@1']);
    sync(w, r);
    strictPowerLoss(w);
    const again = openStorage(w);
    assert.equal(again.restored().snapshot, null, 'what a replica was restarted with never comes undone');
    assert.deepEqual(indexes(again), indexes(r));
    close(w, again);
  });
});
