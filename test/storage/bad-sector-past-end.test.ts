/**
 * The simulator judges a refusal to start against damage done since the last successful open,
 * which assumes each open reads everything the storage relies on. A sector made unreadable in a
 * segment's unsynced tail stayed bad in the model file system after a power loss dropped that tail
 * (the open never read there and succeeded); the storage's next appends covered it only in part,
 * and saves acknowledged there were unreadable at the next open, which refused with no damage since
 * the last successful open. A file's blocks past the end a power loss leaves are freed: the model
 * forgets bad sectors there.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SECTOR_BYTES } from '../../src/storage/fs.js';
import { entry, indexes, lastSegment, openStorage, save, stepUntil, world } from './model-world.js';
import { hs } from './wal-workload.js';

test('a sector made unreadable in an unsynced tail that a power loss took does not come back to refuse an open after a successful one', () => {
  const w = world(1, { syncLatencyMs: 5 });
  const s = openStorage(w);
  for (let i = 1; i <= 3; i++) save(w, s, { hardState: hs(i), entries: [entry(i, 1, 100)], snapshot: null });
  const segment = lastSegment(w);
  const durable = w.fs.size(segment);
  // A save written (in the page cache) and not yet synced: 2 KiB past the durable end.
  s.save({ hardState: hs(4), entries: [entry(4, 1, 2000)], snapshot: null }, () => {});
  stepUntil(w, () => w.fs.size(segment) > durable);
  // The disk fault (MemberDisk.corrupt aims half its damage at the last 1 KiB of the segment): a
  // sector wholly past the durable end, inside the unsynced write.
  const bad = (Math.floor(durable / SECTOR_BYTES) + 1) * SECTOR_BYTES;
  assert.ok(bad + SECTOR_BYTES <= w.fs.size(segment));
  w.fs.failSector(segment, bad);
  w.fs.powerLoss({ files: 'lost', dirs: 'kept' }); // the unsynced save is gone: the file ends at `durable`
  assert.equal(w.fs.size(segment), durable);

  // The member restarts: the open reads the whole (shorter) file and succeeds. The simulator
  // counts no damage from here on.
  const again = openStorage(w);
  assert.deepEqual(indexes(again), ['1@1', '2@1', '3@1']);
  // It acknowledges small saves, appended over the bad sector a piece at a time.
  for (let i = 4; i <= 12; i++) save(w, again, { hardState: hs(i), entries: [entry(i, 1, 100)], snapshot: null });
  assert.ok(w.fs.size(segment) > bad + SECTOR_BYTES, 'the acknowledged saves cover the sector');
  w.fs.crash();
  w.clock.run();

  // A crash alone since that successful open: the acknowledged saves must come back.
  const third = openStorage(w); // throws StorageCorruptError: unreadable sector at `bad`
  assert.deepEqual(indexes(third).slice(-1), ['12@1']);
});
