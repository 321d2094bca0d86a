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
import { encodeRecord, readRecord, RecordType, SEAL_RECORD_BYTES } from '../../src/storage/record.js';
import { entry, filled, indexes, openStorage, save, segmentNames, strictPowerLoss, sync, walDir, world, type HS, type World } from './model-world.js';
import type { Index, Term } from '../../src/core/ids.js';
import type { LogEntry } from '../../src/core/replica.js';

const hs = (commit: number): HS => ({ term: 1, vote: 'n1', commit });
const lastSegment = (w: World) => `${walDir}/${segmentNames(w).at(-1)!}`;

function stepUntil(w: World, until: () => boolean): void {
  while (!until()) assert.ok(w.clock.step(), 'the condition came true before the clock ran out');
}

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
