/**
 * Snapshot files are written in chunk records so that any size reads back: one record per
 * snapshot could exceed MAX_RECORD_BYTES (256 MiB), and then the member would never start again.
 * The tests use a small chunk size so a snapshot spans many chunks while staying small in memory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pack } from '../../src/core/codec.js';
import { DEFAULT_STORAGE_OPTIONS } from '../../src/storage/durable-storage.js';
import { encodeRecord, MAX_RECORD_BYTES, readRecord, RECORD_HEADER_BYTES, RecordType } from '../../src/storage/record.js';
import { encodeSnapshotFile, MAX_SNAPSHOT_CHUNK_BYTES, readSnapshotFile, snapshotFileName } from '../../src/storage/snapshot-file.js';
import { entry, filled, indexes, openStorage, range, save, saveSnapshot, segmentNames, snapDir, snapshotAt, snapshotNames, walDir, world, type World } from './model-world.js';

const CHUNK = 1024;
const fileOf = (index: number, term = 1) => `${snapDir}/${snapshotFileName(snapshotAt(index, term).meta)}`;

function records(w: World, path: string): { type: number; bytes: number }[] {
  const buf = Buffer.from(w.fs.readFile(path));
  const out: { type: number; bytes: number }[] = [];
  for (let o = 0; ; ) {
    const r = readRecord(buf, o);
    if (r.kind === 'end') break;
    assert.equal(r.kind, 'record', `record at ${o}`);
    if (r.kind !== 'record') break;
    out.push({ type: r.type, bytes: r.next - o - RECORD_HEADER_BYTES });
    o = r.next;
  }
  return out;
}

test('a snapshot larger than the record limit round-trips: written as many chunk records, none over the configured chunk size', () => {
  const w = world();
  const s = openStorage(w, { snapshotChunkBytes: CHUNK });
  save(w, s, { hardState: { term: 1, vote: null, commit: 10 }, entries: range(1, 10), snapshot: null });
  // 300 chunks: stands for a snapshot of 300 x 8 MiB (2.4 GiB) at the default chunk size.
  const data = filled(300 * CHUNK - 17, 5);
  saveSnapshot(w, s, snapshotAt(9, 1, data));
  const recs = records(w, fileOf(9));
  assert.equal(recs[0]!.type, RecordType.SnapshotHeader);
  assert.equal(recs.filter((r) => r.type === RecordType.SnapshotChunk).length, 300);
  assert.ok(recs.every((r) => r.bytes <= CHUNK + 1 + 4), 'no record holds more than one chunk (type byte and sequence number aside)');
  const r = openStorage(w);
  assert.deepEqual(r.restored().snapshot?.data, data);
  assert.deepEqual(indexes(r), ['10@1']);
});

test('the default chunk size keeps every snapshot record far under MAX_RECORD_BYTES, and a length over it is refused on read', () => {
  assert.ok(DEFAULT_STORAGE_OPTIONS.snapshotChunkBytes <= MAX_SNAPSHOT_CHUNK_BYTES);
  assert.ok(DEFAULT_STORAGE_OPTIONS.snapshotChunkBytes * 16 <= MAX_RECORD_BYTES);
  const header = Buffer.alloc(RECORD_HEADER_BYTES + 1);
  header.writeUInt32LE(MAX_RECORD_BYTES + 1, 0);
  const r = readRecord(header, 0);
  assert.equal(r.kind, 'bad');
  assert.throws(() => openStorage(world(), { snapshotChunkBytes: MAX_SNAPSHOT_CHUNK_BYTES + 1 }), /snapshotChunkBytes/);
});

test('empty and exactly-one-chunk snapshots round-trip', () => {
  for (const size of [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK]) {
    const w = world();
    const s = openStorage(w, { snapshotChunkBytes: CHUNK });
    save(w, s, { hardState: null, entries: range(1, 2), snapshot: null });
    saveSnapshot(w, s, snapshotAt(2, 1, filled(size, size)));
    assert.deepEqual(openStorage(w).restored().snapshot?.data, filled(size, size), `${size} bytes`);
  }
});

/** A file of 40 chunks, with `damage` applied to its bytes, read back. */
function readDamaged(damage: (file: Buffer, chunkAt: (seq: number) => number) => Buffer): string {
  const w = world();
  const snapshot = snapshotAt(3, 1, filled(40 * 100, 1));
  const parts = [...encodeSnapshotFile(snapshot, 100)];
  const starts: number[] = [];
  parts.reduce((at, p) => (starts.push(at), at + p.length), 0);
  const fd = w.fs.openTruncate('/s.snap');
  w.fs.write(fd, damage(Buffer.concat(parts), (seq) => starts[seq + 1]!), () => {});
  w.clock.run();
  const r = readSnapshotFile(w.fs, '/s.snap');
  assert.equal(r.kind, 'unreadable');
  return r.kind === 'unreadable' ? r.why : '';
}

test('a torn, missing, reordered or extra chunk makes a snapshot file unreadable (never a wrong snapshot)', () => {
  assert.match(readDamaged((f, at) => f.subarray(0, at(17) + 50)), /chunk 17 of 40 .*runs past the end|too short/);
  assert.match(readDamaged((f, at) => f.subarray(0, at(39))), /too short|chunk 39 of 40.*missing/);
  assert.match(readDamaged((f, at) => { const g = Buffer.from(f); g[at(23) + 20]! ^= 4; return g; }), /chunk 23 of 40 .*checksum mismatch/);
  assert.match(readDamaged((f, at) => Buffer.concat([f.subarray(0, at(5)), f.subarray(at(6), at(7)), f.subarray(at(5), at(6)), f.subarray(at(7))])), /chunk 6 found where chunk 5 belongs/);
  assert.match(readDamaged((f) => Buffer.concat([f, Buffer.from([1, 2, 3])])), /3 bytes after the last chunk/);
  assert.match(readDamaged((f) => { const g = Buffer.from(f); g[12]! ^= 1; return g; }), /header record: checksum mismatch/);
});

test('a damaged snapshot the WAL names is a refusal; one it does not name is ignored for the one it does', () => {
  const w = world();
  const s = openStorage(w, { snapshotChunkBytes: 64 });
  save(w, s, { hardState: null, entries: range(1, 9), snapshot: null });
  saveSnapshot(w, s, snapshotAt(4, 1, filled(2000, 4)));
  saveSnapshot(w, s, snapshotAt(8, 1, filled(2000, 8)));
  w.fs.flipBit(fileOf(8), 900);
  assert.throws(() => openStorage(w), (e: Error & { code?: string }) => e.code === 'CORRUPT'
    && /refers to snapshot 8/.test(e.message)
    && /0000000000000001-0000000000000008\.snap is unreadable \(chunk \d+ of 32 at byte \d+: checksum mismatch\)/.test(e.message));

  // The same damage to a snapshot the WAL does not name (renamed, but its WAL record never written):
  const v = world();
  const t = openStorage(v, { snapshotChunkBytes: 64 });
  save(v, t, { hardState: null, entries: range(1, 9), snapshot: null });
  saveSnapshot(v, t, snapshotAt(4, 1, filled(2000, 4)));
  const fd = v.fs.openTruncate(fileOf(8));
  for (const rec of encodeSnapshotFile(snapshotAt(8, 1, filled(2000, 8)), 64)) v.fs.write(fd, rec, () => {});
  v.clock.run();
  v.fs.flipBit(fileOf(8), 900);
  const r = openStorage(v);
  assert.equal(r.restored().snapshot?.meta.index, 4, 'the older snapshot, which the WAL names');
  assert.deepEqual(indexes(r), ['5@1', '6@1', '7@1', '8@1', '9@1']);
});

test('the old snapshot format (one record holding the whole snapshot) still reads', () => {
  const w = world();
  openStorage(w);
  const old = snapshotAt(5, 2, filled(3000, 3));
  const fd = w.fs.openTruncate(fileOf(5, 2));
  w.fs.write(fd, encodeRecord(RecordType.Snapshot, pack({ meta: old.meta, data: old.data })), () => {});
  // The WAL names it (a snapshot file alone is one whose save never finished).
  const wal = w.fs.openAppend(`${walDir}/${segmentNames(w)[0]!}`);
  w.fs.write(wal, encodeRecord(RecordType.Snapshot, pack(old.meta)), () => {});
  w.clock.run();
  const r = openStorage(w);
  assert.deepEqual(r.restored().snapshot, old);
});

test('snapshots are ordered by index, not by name: a later Paxos snapshot may carry a lower term, and is the one kept and restored', () => {
  const w = world();
  const s = openStorage(w, { keepSnapshots: 2 });
  save(w, s, { hardState: null, entries: [entry(1, 9), entry(2, 9), ...range(3, 12, 3)], snapshot: null, truncateFrom: null });
  saveSnapshot(w, s, snapshotAt(2, 9)); // name 0..09-0..02 sorts after 0..03-...
  saveSnapshot(w, s, snapshotAt(8, 3));
  saveSnapshot(w, s, snapshotAt(10, 3));
  assert.deepEqual(snapshotNames(w), [snapshotFileName(snapshotAt(8, 3).meta), snapshotFileName(snapshotAt(10, 3).meta)], 'the oldest by index was pruned');
  const r = openStorage(w);
  assert.equal(r.restored().snapshot?.meta.index, 10);
  assert.deepEqual(indexes(r), ['11@3', '12@3']);
});

test('a save with more entries than one record holds is split into records that each read back (both record forms)', () => {
  const w = world();
  const s = openStorage(w, { entriesRecordBytes: 1000 });
  save(w, s, { hardState: null, entries: range(1, 40, 1, 200), snapshot: null }); // truncate-and-append
  save(w, s, { hardState: null, entries: [entry(45, 2, 300), entry(50, 2, 300), entry(41, 2, 300), entry(60, 2, 300)].sort((a, b) => a.index - b.index), snapshot: null, truncateFrom: null });
  save(w, s, { hardState: null, entries: range(30, 35, 3, 400), snapshot: null, truncateFrom: null });
  const expected = [...range(1, 29), ...range(30, 35, 3), ...range(36, 40), entry(41, 2), entry(45, 2), entry(50, 2), entry(60, 2)].map((e) => `${e.index}@${e.term}`);
  assert.deepEqual(indexes(s), expected);
  const r = openStorage(w);
  assert.deepEqual(indexes(r), expected);
  assert.deepEqual(r.restored().entries.find((e) => e.index === 33)!.data, entry(33, 3, 400).data);
});

/** A snapshot file as a save that never finished leaves it: renamed into place, no WAL record names it. */
function leaveUnnamedSnapshot(w: World, index: number): void {
  const fd = w.fs.openTruncate(fileOf(index));
  for (const rec of encodeSnapshotFile(snapshotAt(index, 1), 64)) w.fs.write(fd, rec, () => {});
  w.clock.run();
}

test('a snapshot file no finished save named is removed at open: it never takes a place among the files pruning keeps', () => {
  const w = world();
  save(w, openStorage(w, { keepSnapshots: 1 }), { hardState: null, entries: range(1, 10), snapshot: null });
  leaveUnnamedSnapshot(w, 100);
  const s = openStorage(w, { keepSnapshots: 1 });
  assert.equal(s.restored().snapshot, null, 'not restored');
  assert.deepEqual(snapshotNames(w), [], 'and gone');
  saveSnapshot(w, s, snapshotAt(5));
  assert.deepEqual(snapshotNames(w), [snapshotFileName(snapshotAt(5).meta)], 'pruning kept the snapshot the WAL names');
  assert.equal(openStorage(w).restored().snapshot?.meta.index, 5);
});

test('a log an older version wrote after an unnamed snapshot file (a gap before its entries) is restored from that file', () => {
  const w = world();
  const s = openStorage(w);
  save(w, s, { hardState: null, entries: range(1, 10), snapshot: null });
  leaveUnnamedSnapshot(w, 100);
  // The older version restored snapshot 100 from the file and appended after it.
  save(w, s, { hardState: null, entries: range(101, 103), snapshot: null, truncateFrom: null });
  const r = openStorage(w);
  assert.equal(r.restored().snapshot?.meta.index, 100);
  assert.deepEqual(indexes(r), ['101@1', '102@1', '103@1']);
});
