/**
 * The one writer: saves, rotations, snapshots and compactions go through one queue, one job at
 * a time (a stress run of the old code, where a compaction rotated while a flush was rotating,
 * leaked about a hundred file handles); group commit; the failed-fsync rule; close.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { QuorateError } from '../../src/core/errors.js';
import type { StoragePort } from '../../src/driver/ports.js';
import { closeAsync, saveAsync, saveSnapshotAsync, syncAsync } from '../../src/storage/async.js';
import type { DurableStorage } from '../../src/storage/durable-storage.js';
import {
  close, entry, indexes, openStorage, range, save, saveSnapshot, segmentNames, settle, snapDir, snapshotAt, strictPowerLoss, walDir, world, type HS, type World,
} from './model-world.js';

const hs = (commit: number): HS => ({ term: 1, vote: null, commit });

// The storage is the driver's StoragePort, structurally (it does not import the driver).
const asPort = (s: DurableStorage<HS>): StoragePort<HS> => s;

/** Run the clock to the end, checking `check` after every event. */
function runChecking(w: World, check: () => void): void {
  do check();
  while (w.clock.step());
}

test('one writer: saves and snapshots made while others are in flight, over tiny segments, never hold more than one segment and one snapshot file open, complete in order, and are all durable', () => {
  const w = world(3, { writeLatencyMs: 1, syncLatencyMs: 2 });
  let maxOpen = 0;
  const check = () => {
    maxOpen = Math.max(maxOpen, w.fs.openFileCount());
    assert.ok(w.fs.openFileCount() <= 2, `${w.fs.openFileCount()} files open`);
  };
  const s = openStorage(w, { segmentBytes: 300, snapshotChunkBytes: 50 });
  const completed: number[] = [];
  let issued = 0;
  for (let i = 1; i <= 300; i++) {
    const k = issued++;
    s.save({ hardState: hs(i), entries: [entry(i)], snapshot: null }, (err) => {
      assert.equal(err, null);
      completed.push(k);
    });
    if (i % 15 === 0) {
      const j = issued++;
      s.saveSnapshot(snapshotAt(i - 3, 1, new Uint8Array(400).fill(i & 0xff)), (err) => {
        assert.equal(err, null);
        completed.push(j);
      });
    }
    // Let the writer get part-way (a write or a sync in flight, a rotation due) before the next call.
    for (let k = i % 4; k > 0; k--) {
      w.clock.step();
      check();
    }
  }
  runChecking(w, check);
  assert.deepEqual(completed, Array.from({ length: issued }, (_, k) => k), 'every save and snapshot completed, in order');
  assert.equal(maxOpen, 2, 'a segment and a snapshot temp file, at most');
  assert.equal(w.fs.openFileCount(), 1, 'only the segment stays open');
  const before = s.restored();
  close(w, s);
  assert.equal(w.fs.openFileCount(), 0, 'close releases it');
  assert.equal(segmentNames(w).length, 1, 'the last job was a compaction: only its fresh segment is left');
  strictPowerLoss(w); // every one of those completions promised durability
  const r = openStorage(w);
  assert.deepEqual(r.restored(), before);
  assert.equal(r.restored().snapshot?.meta.index, 297);
  assert.deepEqual(indexes(r), ['298@1', '299@1', '300@1']);
});

test('a snapshot asked for while a save is being written does not take the segment from under it: the save is durable when acknowledged', () => {
  const w = world(1, { writeLatencyMs: 5, syncLatencyMs: 5 });
  const s = openStorage(w);
  save(w, s, { hardState: hs(1), entries: range(1, 3), snapshot: null });
  let acked = false;
  s.save({ hardState: hs(2), entries: [entry(4, 1, 200)], snapshot: null }, (err) => (assert.equal(err, null), (acked = true)));
  s.saveSnapshot(snapshotAt(3), () => {}); // its compaction rotates: only once the save's batch is done
  while (!acked) assert.ok(w.clock.step());
  strictPowerLoss(w); // before the compaction could restate anything
  const r = openStorage(w);
  assert.deepEqual(r.restored().hardState, hs(2));
  assert.deepEqual(indexes(r).slice(-1), ['4@1']);
});

test('a compaction and a save that rotates, the save made at every point of the compaction: one open segment, no file handle left behind, and both durable', () => {
  // The old writer let a compaction rotate while a flush was rotating; a stress run leaked about
  // a hundred file handles. Here the save comes after k events of the compaction, for every k.
  let points = 0;
  for (let k = 0; ; k++) {
    const w = world(1, { writeLatencyMs: 1, syncLatencyMs: 2 });
    const check = () => assert.ok(w.fs.openFileCount() <= 2, `k=${k}: ${w.fs.openFileCount()} files open`);
    const s = openStorage(w, { segmentBytes: 300, snapshotChunkBytes: 50 });
    for (let i = 1; i <= 4; i++) save(w, s, { hardState: hs(i), entries: [entry(i, 1, 40)], snapshot: null });
    const done: string[] = [];
    s.saveSnapshot(snapshotAt(3, 1, new Uint8Array(200).fill(3)), (err) => (assert.equal(err, null), done.push('snapshot')));
    let stepped = 0;
    while (stepped < k && w.clock.step()) {
      stepped++;
      check();
    }
    const compactionOver = done.length > 0;
    // Over the segment size whatever the compaction left in the open segment: this save rotates.
    s.save({ hardState: hs(5), entries: [entry(5, 1, 280)], snapshot: null }, (err) => (assert.equal(err, null), done.push('save')));
    runChecking(w, check);
    assert.deepEqual(done, ['snapshot', 'save'], `k=${k}: both completed, in the order asked`);
    assert.equal(w.fs.openFileCount(), 1, `k=${k}: only the open segment is left open`);
    const before = s.restored();
    assert.deepEqual(indexes(s), ['4@1', '5@1']);
    close(w, s);
    assert.equal(w.fs.openFileCount(), 0, `k=${k}: close releases it`);
    strictPowerLoss(w);
    const r = openStorage(w);
    assert.deepEqual(r.restored(), before, `k=${k}: what both acknowledged is what a power loss leaves`);
    points++;
    if (compactionOver) break;
  }
  assert.ok(points >= 10, `the save was made at ${points} points of the compaction`);
});

test('group commit: a thousand saves made at once share a few datasyncs and complete in the order they were made', () => {
  const w = world(1, { syncLatencyMs: 3 });
  const s = openStorage(w);
  const order: number[] = [];
  for (const e of range(1, 1000)) s.save({ hardState: null, entries: [e], snapshot: null }, (err) => (assert.equal(err, null), order.push(e.index)));
  w.clock.run();
  assert.deepEqual(order, range(1, 1000).map((e) => e.index));
  assert.ok(s.stats().fsyncs <= 3, `${s.stats().fsyncs} datasyncs for 1000 saves`);
  assert.equal(s.stats().saves, 1000);
  w.fs.powerLoss({ files: 'lost', dirs: 'lost' });
  assert.equal(openStorage(w).restored().entries.length, 1000);
});

test('group commit respects maxBatchBytes: a batch never carries more than it (one save alone may)', () => {
  const w = world();
  const s = openStorage(w, { maxBatchBytes: 500 });
  for (const e of range(1, 40, 1, 100)) s.save({ hardState: null, entries: [e], snapshot: null }, (err) => assert.equal(err, null));
  s.save({ hardState: null, entries: [entry(41, 1, 2000)], snapshot: null }, (err) => assert.equal(err, null));
  w.clock.run();
  const st = s.stats();
  assert.ok(st.fsyncs >= Math.ceil((40 * 150) / 500), `${st.fsyncs} datasyncs`);
  assert.equal(openStorage(w).restored().entries.length, 41);
});

for (const [what, inject] of [['datasync', (w: World) => w.fs.failNextSync()], ['write', (w: World) => w.fs.failNextWrite('ENOSPC')]] as const) {
  test(`a failed ${what} fails its save, every save queued behind it and every later one; close still releases the files`, () => {
    const w = world(1, { syncLatencyMs: 2 });
    const s = openStorage(w);
    save(w, s, { hardState: hs(1), entries: [entry(1)], snapshot: null });
    inject(w);
    const results: (string | null)[] = [];
    s.save({ hardState: hs(2), entries: [entry(2)], snapshot: null }, (err) => results.push(err?.message ?? null));
    w.clock.step(); // the batch with save 2 is under way; save 3 waits for the next one
    s.save({ hardState: hs(3), entries: [entry(3)], snapshot: null }, (err) => results.push(err?.message ?? null));
    w.clock.run();
    assert.equal(results.length, 2);
    assert.ok(results.every((m) => m !== null && /write-ahead log write failed/.test(m)), String(results));
    const later = settle(w, (done) => s.save({ hardState: hs(4), entries: [], snapshot: null }, done));
    assert.ok(later instanceof QuorateError && later.code === 'UNAVAILABLE', 'refused: retrying could report success for lost data');
    assert.ok(settle(w, (done) => s.saveSnapshot(snapshotAt(1), done)) instanceof QuorateError);
    close(w, s);
    assert.equal(w.fs.openFileCount(), 0);
    w.fs.powerLoss({ files: 'lost', dirs: 'lost' });
    const r = openStorage(w);
    assert.deepEqual(r.restored().hardState, hs(1), 'what was acknowledged survives');
  });
}

test('maxPendingSaves: over the limit a save is refused with TooManyRequests, and the storage carries on', () => {
  const w = world();
  const s = openStorage(w, { maxPendingSaves: 5 });
  const refused: string[] = [];
  for (let i = 1; i <= 8; i++) s.save({ hardState: null, entries: [entry(i)], snapshot: null }, (err) => err !== null && refused.push((err as QuorateError).code));
  assert.deepEqual(refused, ['TOO_MANY_REQUESTS', 'TOO_MANY_REQUESTS', 'TOO_MANY_REQUESTS']);
  w.clock.run();
  save(w, s, { hardState: null, entries: [entry(6)], snapshot: null });
  assert.deepEqual(indexes(openStorage(w)), ['1@1', '2@1', '3@1', '4@1', '5@1', '6@1']);
});

test('close finishes the saves made before it, then refuses new ones; closing twice is fine', () => {
  const w = world(1, { syncLatencyMs: 4 });
  const s = openStorage(w);
  let first: Error | null | undefined;
  s.save({ hardState: hs(1), entries: [entry(1)], snapshot: null }, (err) => (first = err));
  let closed = false;
  s.close(() => (closed = true));
  const after = settle(w, (done) => s.save({ hardState: hs(2), entries: [], snapshot: null }, done));
  assert.equal(first, null);
  assert.ok(closed);
  assert.ok(after instanceof QuorateError && after.code === 'STOPPED');
  assert.equal(settle(w, (done) => s.close(done)), null);
  assert.equal(w.fs.openFileCount(), 0);
});

test('a process killed while writing a snapshot leaves a temp file; the next open removes it and keeps the older state', () => {
  const w = world(1, { writeLatencyMs: 1 });
  const s = openStorage(w, { snapshotChunkBytes: 100 });
  save(w, s, { hardState: hs(5), entries: range(1, 5), snapshot: null });
  saveSnapshot(w, s, snapshotAt(2));
  s.saveSnapshot(snapshotAt(4, 1, new Uint8Array(5000)), () => assert.fail('killed first'));
  while (!w.fs.readdir(snapDir).some((f) => f.endsWith('.tmp'))) assert.ok(w.clock.step());
  w.clock.step();
  w.fs.crash();
  const r = openStorage(w);
  assert.ok(!w.fs.readdir(snapDir).some((f) => f.endsWith('.tmp')));
  assert.equal(r.restored().snapshot?.meta.index, 2);
  assert.deepEqual(indexes(r), ['3@1', '4@1', '5@1']);
});

test('the storage is a StoragePort; the promise wrappers resolve once the callbacks run', async () => {
  const w = world();
  const s = openStorage(w);
  const port = asPort(s);
  const results: string[] = [];
  const all = Promise.all([
    syncAsync(s).then(() => results.push('sync')),
    saveAsync(port, { hardState: hs(1), entries: [entry(1)], snapshot: null }).then(() => results.push('save')),
    saveSnapshotAsync(port, snapshotAt(1)).then(() => results.push('snapshot')),
    closeAsync(port).then(() => results.push('close')),
  ]);
  w.clock.run();
  await all;
  assert.deepEqual(results, ['sync', 'save', 'snapshot', 'close']);
  assert.equal(port.stats().saves, 1);
});

test('stats count WAL datasyncs and directory fsyncs; lastFsyncMs is measured on the injected clock', () => {
  const w = world(1, { syncLatencyMs: 7 });
  const s = openStorage(w);
  save(w, s, { hardState: hs(1), entries: [entry(1)], snapshot: null });
  const st = s.stats();
  assert.equal(st.fsyncs, 2, 'startup and the save');
  assert.equal(st.lastFsyncMs, 7);
  assert.ok(st.dirFsyncs >= 3);
  assert.equal(st.segments, 1);
});

test('a save that finds the writer idle is written at once from the buffer its records were encoded in: the same bytes as the same save queued behind another', () => {
  // Saves of every record shape: appends, a truncation, entries split across records, a hard state alone, and entries over many sectors.
  const saves = [
    { hardState: hs(0), entries: range(1, 3), snapshot: null },
    { hardState: null, entries: [entry(4, 1, 3000)], snapshot: null },
    { hardState: hs(3), entries: range(3, 6, 2, 700), snapshot: null },
    { hardState: hs(4), entries: [], snapshot: null },
    { hardState: hs(6), entries: range(7, 9, 2, 100), snapshot: null },
  ];
  const segmentBytes = (w: World): Uint8Array => w.fs.readFile(`${walDir}/${segmentNames(w).at(-1)!}`);
  const options = { entriesRecordBytes: 1024 };
  // Each save alone, once the one before is durable: the writer is idle when it is made.
  const idle = world();
  const a = openStorage(idle, options);
  for (const p of saves) save(idle, a, p);
  // Each save made when the one before is acknowledged, from its callback (the writer is still
  // busy with its job then): it waits in the queue, as records of its own, and is written alone.
  const busy = world();
  const b = openStorage(busy, options);
  let made = 0;
  let acknowledged = 0;
  const saveNext = (): void => {
    const p = saves[made++];
    if (p === undefined) return;
    b.save(p, (err) => {
      assert.equal(err, null);
      acknowledged++;
      saveNext();
    });
  };
  saveNext();
  busy.clock.run();
  assert.equal(acknowledged, saves.length);
  assert.deepEqual(segmentBytes(busy), segmentBytes(idle));
  assert.deepEqual(indexes(b), indexes(a));
  assert.deepEqual(b.restored().hardState, a.restored().hardState);
});
