/**
 * One flipped bit can zero a short piece of an acknowledged last write (the bytes before its seal
 * in the seal's own sector, or the first bytes of the write in the sector it shares with the write
 * before). Every mismatched piece then read as zeros, "a sector never written", and the write was
 * cut off as torn: acknowledged records lost to bit rot, which the seal is there to tell.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SECTOR_BYTES } from '../../src/storage/fs.js';
import { StorageCorruptError } from '../../src/storage/durable-storage.js';
import { readRecord } from '../../src/storage/record.js';
import { lastSealStart } from './seal-offsets.js';
import { entry, lastSegment, openStorage, rewrite, save, segmentNames, walDir, world, type World } from './model-world.js';
import { hs } from './wal-workload.js';

const singleBit = (b: number): boolean => b !== 0 && (b & (b - 1)) === 0;

test('one flipped bit zeroing the bytes before the seal in the seal\'s own sector (an acknowledged last write) is refused, not cut off as torn', () => {
  let tried = 0;
  for (let pad = 0; pad < 4 * SECTOR_BYTES; pad++) {
    const w = world(1);
    const s = openStorage(w);
    for (let i = 1; i <= 3; i++) save(w, s, { hardState: hs(i), entries: [entry(i, 1, 100)], snapshot: null });
    // Acknowledged: its datasync completed. Its last record is the hard state, ending in commit 4 (one bit set).
    save(w, s, { hardState: hs(4), entries: [entry(4, 1, pad)], snapshot: null });
    const segment = lastSegment(w);
    const bytes = Buffer.from(w.fs.readFile(segment));
    const seal = lastSealStart(bytes);
    // The last piece of the write is the one byte before the seal, in the seal's sector.
    if (seal % SECTOR_BYTES !== 1 || !singleBit(bytes[seal - 1]!)) continue;
    tried++;
    bytes[seal - 1] = 0; // bit rot: its one set bit flipped
    rewrite(w, segment, bytes);
    assert.throws(() => openStorage(w), (e: Error) => e instanceof StorageCorruptError && /completed/.test(e.message),
      `pad ${pad}: hard state 4 was acknowledged; one flipped bit must not read as a torn write`);
  }
  assert.ok(tried >= 1, 'some padding puts the seal one byte into a sector');
});

for (const mutant of [undefined, 'one-bit-zero-is-torn'] as const) {
  test(`one flipped bit zeroing the first bytes of an acknowledged last write (in the sector it shares with the write before) is refused, not cut off as torn${mutant === undefined ? '' : ' (NOT with the mutant: entry 4 and hard state 4 are lost)'}`, () => {
    let tried = 0;
    for (let pad3 = 0; pad3 < 2 * SECTOR_BYTES && tried < 3; pad3++) {
      for (let pad4 = 0; pad4 < 64 && tried < 3; pad4++) {
        const w = world(1);
        const s = openStorage(w);
        for (let i = 1; i <= 2; i++) save(w, s, { hardState: hs(i), entries: [entry(i, 1, 100)], snapshot: null });
        save(w, s, { hardState: hs(3), entries: [entry(3, 1, pad3)], snapshot: null });
        const segment = lastSegment(w);
        const writeAt = w.fs.size(segment);
        if (writeAt % SECTOR_BYTES !== SECTOR_BYTES - 1) break; // pad4 does not move it: next pad3
        save(w, s, { hardState: hs(4), entries: [entry(4, 1, 200 + pad4)], snapshot: null });
        const bytes = Buffer.from(w.fs.readFile(segment));
        const first = readRecord(bytes, writeAt);
        assert.equal(first.kind, 'record');
        // The write's first piece is one byte: the low byte of its first record's length field.
        if (!singleBit(bytes[writeAt]!)) continue;
        tried++;
        bytes[writeAt] = 0;
        rewrite(w, segment, bytes);
        if (mutant !== undefined) {
          assert.deepEqual(openStorage(w, { mutant }).restored().hardState, hs(3), `pads ${pad3}/${pad4}: the mutant cuts the acknowledged write off as torn`);
          continue;
        }
        assert.throws(() => openStorage(w), StorageCorruptError, `pads ${pad3}/${pad4}: entry 4 and hard state 4 were acknowledged`);
      }
    }
    assert.ok(tried >= 1, 'some padding starts the last write one byte before a sector boundary');
  });
}
