/**
 * Seals at their edges: what a torn write may hold (a value carrying a record's bytes), a tail
 * that open restored without a seal after it (a torn seal, a log written before seals), and a
 * write whose sectors reached the platter out of order.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { packTransient } from '../../src/core/codec.js';
import { SECTOR_BYTES } from '../../src/storage/fs.js';
import { StorageCorruptError } from '../../src/storage/durable-storage.js';
import { encodeRecord, readRecord, RecordType } from '../../src/storage/record.js';
import { lastSealStart } from './seal-offsets.js';
import { entry, filled, indexes, lastSegment, openStorage, rewrite, save, segmentNames, stepUntil, strictPowerLoss, sync, walDir, world, type HS, type World } from './model-world.js';
import type { Index, Term } from '../../src/core/ids.js';
import type { LogEntry } from '../../src/core/replica.js';

const hs = (commit: number): HS => ({ term: 1, vote: 'n1', commit });

/** Four acknowledged saves, then a fifth written and not yet synced; returns the segment and where the fifth write starts. */
function unsyncedFifthSave(w: World, fifth: LogEntry): { segment: string; writeAt: number } {
  const s = openStorage(w);
  for (let i = 1; i <= 4; i++) save(w, s, { hardState: hs(i), entries: [entry(i, 1, 100)], snapshot: null });
  const segment = lastSegment(w);
  const writeAt = w.fs.size(segment);
  s.save({ hardState: hs(5), entries: [fifth], snapshot: null }, () => assert.fail('never acknowledged'));
  stepUntil(w, () => w.fs.size(segment) > writeAt);
  return { segment, writeAt };
}

/** Flip a bit in the last record (seals aside) of a segment; returns its offset. */
function flipLastRecord(w: World, segment: string): number {
  const buf = Buffer.from(w.fs.readFile(segment));
  let last = -1;
  for (let o = 0; ; ) {
    const r = readRecord(buf, o);
    if (r.kind !== 'record') break;
    if (r.type !== RecordType.Seal) last = o;
    o = r.next;
  }
  assert.ok(last >= 0, 'a record to flip');
  w.fs.flipBit(segment, last + 10);
  return last;
}

/** Byte offsets of the records of a segment, seals included. */
function offsets(w: World, segment: string): { at: number; type: number }[] {
  const buf = Buffer.from(w.fs.readFile(segment));
  const out: { at: number; type: number }[] = [];
  for (let o = 0; ; ) {
    const r = readRecord(buf, o);
    if (r.kind !== 'record') break;
    out.push({ at: o, type: r.type });
    o = r.next;
  }
  return out;
}

test('records open restored from a write whose seal was torn are sealed at startup: a later flipped bit in them is refused, not cut off', () => {
  const w = world(1, { syncLatencyMs: 5 });
  const { segment } = unsyncedFifthSave(w, entry(5, 1, 100));
  w.fs.powerLoss({ files: 'kept', dirs: 'kept' });
  w.fs.truncate(segment, w.fs.size(segment) - 1); // the seal's last byte never reached the platter
  const r = openStorage(w);
  assert.deepEqual(r.restored().hardState, hs(5), 'the records were whole: restored');
  sync(w, r); // what open restored is durable: the replica may act on it (a vote, an accepted value)
  strictPowerLoss(w);
  flipLastRecord(w, segment);
  assert.throws(() => openStorage(w), StorageCorruptError, 'hard state 5, restored and relied on, must not be cut off');
});

test('a log written before seals: its last records are sealed at the first open, then a flipped bit in them is refused', () => {
  const w = world(1);
  const old = openStorage(w, { mutant: 'unsealed-writes' }); // writes as the storage did before seals
  for (let i = 1; i <= 3; i++) save(w, old, { hardState: hs(i), entries: [entry(i)], snapshot: null });
  const r = openStorage(w);
  assert.deepEqual(indexes(r), ['1@1', '2@1', '3@1'], 'an old log reads');
  sync(w, r);
  strictPowerLoss(w);
  flipLastRecord(w, lastSegment(w));
  assert.throws(() => openStorage(w), StorageCorruptError, 'hard state 3 was restored and relied on');
});

/** A value (an etcd put's, say) that holds the bytes of a valid WAL record. */
const RECORD_IN_A_VALUE = encodeRecord(RecordType.HardState, packTransient({ term: 7, vote: 'mallory', commit: 0 }));
const withRecordInside = (): LogEntry => ({
  index: 5 as Index,
  term: 1 as Term,
  kind: 'command',
  data: Buffer.concat([filled(1200, 5), RECORD_IN_A_VALUE, filled(1200, 6)]),
});

test('a torn write whose surviving part holds a value carrying a valid record is a torn write: cut off, not refused', () => {
  const w = world(1, { syncLatencyMs: 5 });
  const { segment } = unsyncedFifthSave(w, withRecordInside());
  w.fs.powerLoss({ files: 'kept', dirs: 'kept' });
  const bytes = Buffer.from(w.fs.readFile(segment));
  const inside = bytes.indexOf(RECORD_IN_A_VALUE);
  assert.ok(inside > 0, 'the value is in the write');
  // What a power loss tearing the write at the first sector boundary after the value's record leaves.
  const cut = Math.ceil((inside + RECORD_IN_A_VALUE.length) / SECTOR_BYTES) * SECTOR_BYTES;
  assert.ok(cut < lastSealStart(bytes), 'the cut is inside the write, before its seal');
  w.fs.truncate(segment, cut);
  const r = openStorage(w);
  assert.deepEqual(indexes(r), ['1@1', '2@1', '3@1', '4@1']);
  assert.deepEqual(r.restored().hardState, hs(4));
  assert.equal(r.stats().repairs.length, 1);
});

test('the same, torn by the model file system at every seed: open never refuses', () => {
  let heldTheRecord = 0;
  for (let seed = 1; seed <= 40; seed++) {
    const w = world(seed, { syncLatencyMs: 5 });
    const { segment } = unsyncedFifthSave(w, withRecordInside());
    w.fs.powerLoss({ files: 'torn-at-sector', dirs: 'kept' });
    if (Buffer.from(w.fs.readFile(segment)).includes(RECORD_IN_A_VALUE)) heldTheRecord++;
    const r = openStorage(w);
    assert.deepEqual(indexes(r).slice(0, 4), ['1@1', '2@1', '3@1', '4@1'], `seed ${seed}`);
  }
  assert.ok(heldTheRecord >= 5, `only ${heldTheRecord} of 40 tears kept the value's record`);
});

test('two faults in the last write (a record and its seal), a whole record between them: still refused', () => {
  const w = world(1);
  const s = openStorage(w);
  for (let i = 1; i <= 3; i++) save(w, s, { hardState: hs(i), entries: [entry(i, 1, 100)], snapshot: null });
  const segment = lastSegment(w);
  const recs = offsets(w, segment);
  const [entries, hardState, seal] = recs.slice(-3);
  assert.deepEqual([entries!.type, hardState!.type, seal!.type], [RecordType.Entries, RecordType.HardState, RecordType.Seal]);
  w.fs.flipBit(segment, entries!.at + 20);
  w.fs.flipBit(segment, seal!.at + 12);
  assert.throws(() => openStorage(w), (e: Error) => e instanceof StorageCorruptError && e.offset === entries!.at && /Valid records follow it/.test(e.message));
});

test('a log written before seals: a length field in the middle of its last segment made to run past the end is refused, not cut off', () => {
  const w = world(1);
  const old = openStorage(w, { mutant: 'unsealed-writes' });
  for (let i = 1; i <= 4; i++) save(w, old, { hardState: null, entries: [entry(i, 1, 100)], snapshot: null });
  const segment = lastSegment(w);
  const second = offsets(w, segment)[1]!.at;
  const buf = Buffer.from(w.fs.readFile(segment));
  assert.equal(buf.readUInt32LE(second) & (1 << 20), 0);
  // Bit 20 of the length field: the record now claims a megabyte, past the end of the file.
  buf.writeUInt32LE(buf.readUInt32LE(second) | (1 << 20), second);
  rewrite(w, segment, buf);
  assert.throws(() => openStorage(w), (e: Error) => e instanceof StorageCorruptError && e.offset === second && /runs past the end/.test(e.message) && /Valid records follow it/.test(e.message));
});

test('a write whose last sector reached the platter and a middle one did not (a zero-filled hole): a torn write, not a refusal', () => {
  const w = world(1, { syncLatencyMs: 5 });
  const { segment, writeAt } = unsyncedFifthSave(w, entry(5, 1, 3 * SECTOR_BYTES));
  w.fs.powerLoss({ files: 'kept', dirs: 'kept' });
  // The platter as a power loss during the datasync may leave it: the write's second sector never written.
  const bytes = Buffer.from(w.fs.readFile(segment));
  const hole = (Math.floor(writeAt / SECTOR_BYTES) + 2) * SECTOR_BYTES;
  assert.ok(hole + SECTOR_BYTES < lastSealStart(bytes), 'the hole is inside the write, before its seal');
  bytes.fill(0, hole, hole + SECTOR_BYTES);
  rewrite(w, segment, bytes);
  const r = openStorage(w);
  assert.deepEqual(indexes(r), ['1@1', '2@1', '3@1', '4@1']);
});
