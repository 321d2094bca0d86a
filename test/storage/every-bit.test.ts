/**
 * A bit of each byte of a durable WAL flipped, one byte at a time: open refuses (CORRUPT) or
 * restores exactly what was acknowledged; it never restores something else. Record CRCs are
 * filled in by writeSeal (combined from its sector pieces): this covers every header, CRC field
 * and body byte of records of a save encoded in place and of a save that waited in the queue.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { QuorateError } from '../../src/core/errors.js';
import { lastWriteRange } from './damage.js';
import { close, entry, indexes, openStorage, range, save, segmentNames, walDir, world, type World } from './model-world.js';
import { hs } from './wal-workload.js';

/** A closed storage holding three acknowledged saves; the WAL segment's path. */
function written(seed: number): { w: World; segment: string } {
  const w = world(seed);
  const s = openStorage(w);
  save(w, s, { hardState: hs(1), entries: [entry(1, 1, 20)], snapshot: null });
  // Two saves back to back: the first finds the writer idle (encoded in the write buffer), the
  // second waits for it (records of its own, copied into the next write).
  let acked = 0;
  s.save({ hardState: null, entries: [entry(2, 1, 30)], snapshot: null }, () => acked++);
  s.save({ hardState: hs(3), entries: range(3, 4, 1, 5), snapshot: null }, () => acked++);
  w.clock.run();
  assert.equal(acked, 2);
  close(w, s);
  return { w, segment: `${walDir}/${segmentNames(w).at(-1)!}` };
}

test('a flipped bit in any byte of the WAL (header, CRC field, body, seal) is refused or harmless, never read as other data', () => {
  const clean = written(1);
  const want = { entries: indexes(openStorage(clean.w)), hardState: hs(3) };
  assert.deepEqual(want.entries, ['1@1', '2@1', '3@1', '4@1']);
  const bytes = clean.w.fs.size(clean.segment);
  const last = lastWriteRange(Buffer.from(clean.w.fs.readFile(clean.segment)));
  assert.ok(last !== null && last.to === bytes);
  let refused = 0;
  for (let at = 0; at < bytes; at++) {
    const { w, segment } = written(at + 2);
    w.fs.flipBit(segment, at);
    try {
      const r = openStorage(w);
      assert.deepEqual({ entries: indexes(r), hardState: r.restored().hardState }, want, `byte ${at} flipped: read as other data`);
      // Only the last seal may be cut off: nothing seals it, so damage there looks like its own
      // torn sector; the records it sealed are intact and a fresh seal follows at startup.
      assert.ok(at >= last.seal, `byte ${at} flipped, before the last seal (at ${last.seal}): accepted`);
      assert.equal(r.stats().repairs.length, 1, `byte ${at} flipped: the last seal is cut off`);
    } catch (err) {
      if (!(err instanceof QuorateError && err.code === 'CORRUPT')) throw err;
      refused++;
    }
  }
  assert.equal(refused, last.seal, 'every flip before the last seal is refused');
});
