/**
 * Segments chained: every segment this build starts begins with a chain record naming the one
 * before it (its number, length and last record's CRC), so an older segment cut at a record
 * boundary (what is left reads whole) is refused at open, not read short. Logs written before
 * chain records read as before; a compaction's restatement starts the chain again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { packTransient, unpack } from '../../src/core/codec.js';
import { StorageCorruptError } from '../../src/storage/durable-storage.js';
import { encodeWalRecord, maxSealBytes, readRecord, RecordType, writeSeal } from '../../src/storage/record.js';
import { recordBoundaries } from '../../src/storage/record.js';
import { close, entry, indexes, openStorage, range, save, saveSnapshot, segmentNames, settle, snapshotAt, walDir, world, type HS, type World } from './model-world.js';

const hs = (commit: number): HS => ({ term: 1, vote: 'n1', commit });
/** Small segments: a save of one 100-byte entry takes about 200 bytes, so a few saves rotate. */
const OPTIONS = { segmentBytes: 512 };
const path = (name: string): string => `${walDir}/${name}`;

/** Saves of entries 1..n, one each, closed: several segments. */
function writeLog(w: World, n: number): void {
  const s = openStorage(w, OPTIONS);
  for (let i = 1; i <= n; i++) save(w, s, { hardState: hs(i), entries: [entry(i, 1, 100)], snapshot: null });
  close(w, s);
}

/** Offsets where a record starts in a file, 0 and its end included. */
const boundariesOf = (w: World, file: string): number[] => recordBoundaries(Buffer.from(w.fs.readFile(file)));

function firstRecordType(w: World, file: string): number | null {
  const r = readRecord(Buffer.from(w.fs.readFile(file)), 0);
  return r.kind === 'record' ? r.type : null;
}

/** What open threw: a StorageCorruptError (code CORRUPT), or a failure of the test. */
function refusal(w: World): StorageCorruptError {
  try {
    openStorage(w, OPTIONS);
  } catch (err) {
    assert.ok(err instanceof StorageCorruptError, `refused as corruption, not ${String(err)}`);
    assert.equal(err.code, 'CORRUPT');
    return err;
  }
  return assert.fail('open refused the log');
}

test('every segment after the first starts with a chain record; the first (a new log) does not', () => {
  const w = world();
  writeLog(w, 12);
  const names = segmentNames(w);
  assert.ok(names.length >= 3, `several segments (${names.join(', ')})`);
  assert.notEqual(firstRecordType(w, path(names[0]!)), RecordType.Chain);
  for (const n of names.slice(1)) assert.equal(firstRecordType(w, path(n)), RecordType.Chain, n);
  assert.deepEqual(indexes(openStorage(w, OPTIONS)), range(1, 12).map((e) => `${e.index}@1`));
});

test('an older segment cut at any record boundary is refused, naming the file and what its successor expected', () => {
  const probe = world();
  writeLog(probe, 12);
  const names = segmentNames(probe);
  for (const victim of names.slice(0, -1)) {
    const cuts = boundariesOf(probe, path(victim)).slice(0, -1); // its end is no cut
    assert.ok(cuts.length >= 2, 'a segment of several records');
    for (const at of cuts) {
      const w = world();
      writeLog(w, 12);
      w.fs.truncate(path(victim), at);
      const err = refusal(w);
      assert.equal(err.file, path(victim), `the cut segment is named (cut at ${at})`);
      assert.match(err.message, new RegExp(`it holds ${at} bytes .* chain record saying it held ${probe.fs.size(path(victim))} bytes`));
    }
  }
});

test('a segment missing from the middle of the chain is refused', () => {
  const w = world();
  writeLog(w, 12);
  const names = segmentNames(w);
  assert.ok(names.length >= 3);
  w.fs.unlink(path(names[1]!));
  const err = refusal(w);
  assert.equal(err.file, path(names[2]!));
  assert.match(err.message, /which is missing/);
});

test('a compaction starts the chain again: its restatement opens alone, or after superseded segments a power loss kept', () => {
  const w = world();
  const s = openStorage(w, OPTIONS);
  for (let i = 1; i <= 8; i++) save(w, s, { hardState: hs(i), entries: [entry(i, 1, 100)], snapshot: null });
  saveSnapshot(w, s, snapshotAt(6));
  for (let i = 9; i <= 14; i++) save(w, s, { hardState: hs(i), entries: [entry(i, 1, 100)], snapshot: null });
  close(w, s);
  const names = segmentNames(w);
  assert.ok(names.length >= 2, 'the compaction segment and a rotation after it');
  assert.deepEqual(indexes(openStorage(w, OPTIONS)), range(7, 14).map((e) => `${e.index}@1`));
  // The oldest segment kept (the restatement) chains to a deleted one: the chain starts there.
  assert.equal(firstRecordType(w, path(names[0]!)), RecordType.Chain);
  // Its successor chains to it, and a cut in it is refused like any other.
  const cut = world();
  writeLogWithCompaction(cut);
  const first = path(segmentNames(cut)[0]!);
  cut.fs.truncate(first, boundariesOf(cut, first).at(-2)!);
  assert.equal(refusal(cut).file, first);
});

function writeLogWithCompaction(w: World): void {
  const s = openStorage(w, OPTIONS);
  for (let i = 1; i <= 8; i++) save(w, s, { hardState: hs(i), entries: [entry(i, 1, 100)], snapshot: null });
  saveSnapshot(w, s, snapshotAt(6));
  for (let i = 9; i <= 14; i++) save(w, s, { hardState: hs(i), entries: [entry(i, 1, 100)], snapshot: null });
  close(w, s);
}

/** A sealed segment of `records`, as a build without chain records wrote it. */
function legacySegment(records: Buffer[]): Buffer {
  const recordBytes = records.reduce((n, r) => n + r.length, 0);
  const buf = Buffer.alloc(recordBytes + maxSealBytes(recordBytes));
  let at = 0;
  for (const r of records) {
    r.copy(buf, at);
    at += r.length;
  }
  return buf.subarray(0, writeSeal(buf, recordBytes, 0));
}

function putFile(w: World, file: string, bytes: Buffer): void {
  const fd = w.fs.openTruncate(file);
  w.fs.write(fd, bytes, (err) => assert.equal(err, null));
  w.fs.datasync(fd, (err) => assert.equal(err, null));
  w.clock.run();
  w.fs.close(fd);
}

test('compatibility: segments written without chain records read as before, and the first new segment chains to them', () => {
  const w = world();
  w.fs.mkdir('/data');
  w.fs.mkdir('/data/member-1');
  w.fs.mkdir(walDir);
  w.fs.mkdir('/data/member-1/snap');
  putFile(w, path('0000000000000001.wal'), legacySegment([encodeWalRecord(RecordType.Entries, packTransient([entry(1), entry(2)])), encodeWalRecord(RecordType.HardState, packTransient(hs(2)))]));
  putFile(w, path('0000000000000002.wal'), legacySegment([encodeWalRecord(RecordType.Entries, packTransient([entry(3), entry(4)])), encodeWalRecord(RecordType.HardState, packTransient(hs(4)))]));
  const s = openStorage(w, OPTIONS);
  assert.deepEqual(indexes(s), ['1@1', '2@1', '3@1', '4@1']);
  assert.deepEqual(s.restored().hardState, hs(4));
  for (let i = 5; i <= 8; i++) save(w, s, { hardState: hs(i), entries: [entry(i, 1, 100)], snapshot: null });
  close(w, s);
  const names = segmentNames(w);
  assert.ok(names.length >= 3, 'a new segment was started');
  assert.equal(firstRecordType(w, path(names[2]!)), RecordType.Chain);
  assert.deepEqual(indexes(openStorage(w, OPTIONS)), range(1, 8).map((e) => `${e.index}@1`));
  // The legacy segment the new one chains to is now checked: a cut in it is refused.
  const legacyTail = path(names[1]!);
  w.fs.truncate(legacyTail, boundariesOf(w, legacyTail).at(-2)!);
  assert.equal(refusal(w).file, legacyTail);
});

test('the oldest segments lost, with no compaction after them: refused (the oldest kept names a predecessor no compaction deleted)', () => {
  for (const lost of [1, 2, 4]) {
    const w = world();
    writeLog(w, 12);
    const names = segmentNames(w);
    assert.ok(names.length > lost + 1, 'segments to spare');
    for (const n of names.slice(0, lost)) w.fs.unlink(path(n));
    const err = refusal(w);
    assert.equal(err.file, path(names[lost]!), `${lost} lost: the oldest kept is named`);
    assert.match(err.message, new RegExp(`names segment ${Number(names[lost - 1]!.slice(0, 16))} as the one before it, which is missing`));
  }
});

test('a compaction\'s deletions half undone by a power loss: the segments it superseded and kept still open, whatever prefix survived', () => {
  let kept = 0;
  for (let seed = 1; seed <= 30; seed++) {
    const w = world(seed);
    const s = openStorage(w, OPTIONS);
    for (let i = 1; i <= 12; i++) save(w, s, { hardState: hs(i), entries: [entry(i, 1, 100)], snapshot: null });
    const old = segmentNames(w);
    assert.ok(old.length >= 4);
    s.saveSnapshot(snapshotAt(10), () => {});
    // Until the compaction has deleted the old segments (its directory fsync still to come).
    while (segmentNames(w).includes(old[0]!)) assert.ok(w.clock.step(), 'the compaction deletes');
    w.fs.powerLoss({ files: 'lost', dirs: 'seeded' });
    const left = segmentNames(w).filter((n) => old.includes(n));
    if (left.length > 0 && left.length < old.length) kept++;
    const r = openStorage(w, OPTIONS);
    assert.deepEqual(indexes(r), range(11, 12).map((e) => `${e.index}@1`), `seed ${seed}: ${segmentNames(w).join(', ')}`);
  }
  assert.ok(kept >= 5, `only ${kept} power losses kept some but not all of the superseded segments`);
});

test('a compaction run while the open segment is one open found empty (a crash between a rotation and its first write) leaves no empty segment in the middle: the segment before it stays checked', () => {
  // At every step of the compaction a crash; then saves over a rotation or two.
  for (let stop = 0; ; stop++) {
    const w = world();
    let s = openStorage(w, OPTIONS);
    for (let i = 1; i <= 6; i++) save(w, s, { hardState: hs(i), entries: [entry(i, 1, 100)], snapshot: null });
    const full = segmentNames(w);
    s.save({ hardState: hs(7), entries: [entry(7, 1, 100)], snapshot: null }, () => {});
    while (segmentNames(w).length === full.length) assert.ok(w.clock.step(), 'the save rotates');
    w.fs.crash(); // the new segment exists, empty
    s = openStorage(w, OPTIONS);
    settle(w, (done) => s.sync(done));
    s.saveSnapshot(snapshotAt(3), () => {});
    let steps = 0;
    while (steps < stop && w.clock.step()) steps++;
    const finished = w.clock.pending === 0;
    w.fs.crash();
    s = openStorage(w, OPTIONS);
    for (let i = 7; i <= 12; i++) save(w, s, { hardState: hs(i), entries: [entry(i, 1, 100)], snapshot: null });
    close(w, s);
    const names = segmentNames(w);
    const sizes = names.map((n) => `${n}:${w.fs.size(path(n))}`).join(' ');
    names.slice(0, -1).forEach((n) => assert.ok(w.fs.size(path(n)) > 0, `crash after ${stop} steps: an empty segment in the middle (${sizes})`));
    // Every segment after the first starts with a chain record naming the one before it on disk.
    for (let k = 1; k < names.length; k++) {
      const r = readRecord(Buffer.from(w.fs.readFile(path(names[k]!))), 0);
      assert.ok(r.kind === 'record' && r.type === RecordType.Chain, `crash after ${stop} steps: ${names[k]} starts with a chain record (${sizes})`);
      assert.equal((unpack(r.payload) as { previous: number }).previous, Number(names[k - 1]!.slice(0, 16)), `crash after ${stop} steps: ${names[k]} names ${names[k - 1]}`);
    }
    if (finished) break;
  }
});
