/**
 * A power loss that leaves an unsynced write's sectors out of order, its seal's sector among those
 * lost, leaves valid records after a zero-filled hole and no seal to tell by: it was refused as
 * corruption ("Valid records follow it"), so a healthy member needed restoring after a mere power
 * loss. Damage that is not unwritten sectors stays refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SECTOR_BYTES } from '../../src/storage/fs.js';
import { StorageCorruptError } from '../../src/storage/durable-storage.js';
import { readRecord, RecordType } from '../../src/storage/record.js';
import { lastSealStart, sealStarts } from './seal-offsets.js';
import { entry, indexes, lastSegment, openStorage, range, rewrite, save, segmentNames, stepUntil, walDir, world, type World } from './model-world.js';
import { hs } from './wal-workload.js';

/** Four acknowledged saves, then a fifth of several records written and not synced; returns the segment and where the fifth starts. */
function unsyncedSave(w: World, entriesRecordBytes: number): { segment: string; writeAt: number } {
  const s = openStorage(w, { entriesRecordBytes });
  for (let i = 1; i <= 4; i++) save(w, s, { hardState: hs(i), entries: [entry(i, 1, 100)], snapshot: null });
  const segment = lastSegment(w);
  const writeAt = w.fs.size(segment);
  s.save({ hardState: hs(9), entries: range(5, 9, 1, 700), snapshot: null }, () => assert.fail('never acknowledged'));
  stepUntil(w, () => w.fs.size(segment) > writeAt);
  return { segment, writeAt };
}

for (const mutant of [undefined, 'holes-are-damage'] as const) {
  test(`an unsynced write of which a middle sector and its seal's last sector never reached the platter (out of order) is a torn write, not a refusal${mutant === undefined ? '' : ' (NOT with the mutant: it refuses a healthy log)'}`, () => {
    const w = world(1, { syncLatencyMs: 5 });
    const { segment, writeAt } = unsyncedSave(w, 256);
    w.fs.powerLoss({ files: 'kept', dirs: 'kept' });
    const bytes = Buffer.from(w.fs.readFile(segment));
    const seal = lastSealStart(bytes);
    assert.equal(sealStarts(bytes).at(-2)! < writeAt, true, 'the last seal is the fifth write\'s');
    // A sector inside the write's second entries record (whole records follow it), and the last sector of the file.
    const hole = (Math.floor(writeAt / SECTOR_BYTES) + 2) * SECTOR_BYTES;
    assert.ok(hole + SECTOR_BYTES < seal, 'the hole is before the seal');
    const lastSector = Math.floor((bytes.length - 1) / SECTOR_BYTES) * SECTOR_BYTES;
    assert.ok(lastSector > hole + SECTOR_BYTES, 'valid records between the two');
    bytes.fill(0, hole, hole + SECTOR_BYTES);
    bytes.fill(0, lastSector); // zeros past the old end: the sector was never written
    rewrite(w, segment, bytes);
    if (mutant !== undefined) {
      assert.throws(() => openStorage(w, { mutant }), /Valid records follow it/);
      return;
    }
    const r = openStorage(w); // threw: "Valid records follow it"
    assert.deepEqual(indexes(r), ['1@1', '2@1', '3@1', '4@1']);
    assert.deepEqual(r.restored().hardState, hs(4));
    assert.equal(r.stats().repairs.length, 1);
  });
}

test('the model file system\'s own sector-holes fate over a large unsynced write: open never refuses (400 seeds)', () => {
  const refused: string[] = [];
  for (let seed = 1; seed <= 400; seed++) {
    const w = world(seed, { syncLatencyMs: 5 });
    const s = openStorage(w, { entriesRecordBytes: 4096 });
    save(w, s, { hardState: hs(1), entries: [entry(1, 1, 100)], snapshot: null });
    const segment = lastSegment(w);
    const before = w.fs.size(segment);
    // About 117 KiB: its seal (a CRC per sector) spans whole sectors, which the fate may lose.
    s.save({ hardState: hs(9), entries: range(2, 40, 1, 3000), snapshot: null }, () => assert.fail('never acknowledged'));
    stepUntil(w, () => w.fs.size(segment) > before);
    w.fs.powerLoss({ files: 'sector-holes', dirs: 'kept' });
    try {
      const r = openStorage(w);
      assert.deepEqual(indexes(r)[0], '1@1', `seed ${seed}`);
      assert.ok(r.restored().hardState!.commit === 1 || r.restored().hardState!.commit === 9, `seed ${seed}`);
    } catch (e) {
      if (!(e instanceof StorageCorruptError)) throw e;
      refused.push(`seed ${seed}: ${w.fs.lastPowerLoss()}: ${e.message}`);
    }
  }
  assert.deepEqual(refused, [], 'a power loss alone never makes open refuse');
});

test('two faults that are not unwritten sectors (bits flipped in a record and in its seal, whole records between) are still refused', () => {
  const w = world(1);
  const s = openStorage(w, { entriesRecordBytes: 256 });
  for (let i = 1; i <= 3; i++) save(w, s, { hardState: hs(i), entries: [entry(i, 1, 100)], snapshot: null });
  save(w, s, { hardState: hs(9), entries: range(4, 8, 1, 700), snapshot: null });
  const segment = lastSegment(w);
  const bytes = Buffer.from(w.fs.readFile(segment));
  const seal = lastSealStart(bytes);
  const firstOfWrite = sealStarts(bytes).at(-2)!;
  const next = readRecord(bytes, firstOfWrite);
  assert.ok(next.kind === 'record' && next.type === RecordType.Seal);
  bytes[next.next + 40]! ^= 0x10; // in the write's first entries record
  bytes[seal + 20]! ^= 0x01; // in its seal
  rewrite(w, segment, bytes);
  assert.throws(() => openStorage(w), StorageCorruptError);
});

test('the same two faults in a record holding a sector of zeros (a value of zeros) are still refused: where the seal was holds no zeros', () => {
  const w = world(1);
  const s = openStorage(w, { entriesRecordBytes: 256 });
  for (let i = 1; i <= 3; i++) save(w, s, { hardState: hs(i), entries: [entry(i, 1, 100)], snapshot: null });
  const zeros = { ...entry(4), data: new Uint8Array(3 * SECTOR_BYTES) };
  save(w, s, { hardState: hs(9), entries: [zeros, ...range(5, 8, 1, 700)], snapshot: null });
  const segment = lastSegment(w);
  const bytes = Buffer.from(w.fs.readFile(segment));
  const seal = lastSealStart(bytes);
  const before = sealStarts(bytes).at(-2)!;
  const first = readRecord(bytes, before);
  assert.ok(first.kind === 'record' && first.type === RecordType.Seal);
  bytes[first.next + 12]! ^= 0x10; // in the record of zeros (its CRC field)
  bytes[seal + 20]! ^= 0x01; // in its seal
  rewrite(w, segment, bytes);
  assert.throws(() => openStorage(w), StorageCorruptError);
});
