/**
 * A record whose CRC field straddles a sector boundary, in a last write that a power loss holes:
 * writeSeal fills that field after CRCing the pieces, and adds what the field contributes to the
 * CRC of each piece holding it (see record.ts). Recovery tells a torn write from a damaged one by
 * those piece CRCs, so a piece CRC that misses part of the field would turn a torn tail into a
 * refusal to start (a completed write "damaged"). The seal-crcs test pins the bytes; this checks
 * the consequence end to end, through open.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SEAL_SECTOR_BYTES } from '../../src/storage/record.js';
import type { DurableStorage } from '../../src/storage/durable-storage.js';
import { entry, indexes, openStorage, range, save, segmentNames, stepUntil, walDir, world, type HS, type World } from './model-world.js';
import { hs } from './wal-workload.js';

/** A storage whose segment ends at `mod` modulo a sector after one acknowledged save, or null. */
function alignedWorld(seed: number, mod: number): { w: World; s: DurableStorage<HS> } | null {
  for (let pad = 0; pad < 2 * SEAL_SECTOR_BYTES; pad++) {
    const w = world(seed, { syncLatencyMs: 5 });
    const s = openStorage(w);
    save(w, s, { hardState: hs(1), entries: [entry(1, 1, pad)], snapshot: null });
    if (w.fs.size(`${walDir}/${segmentNames(w).at(-1)!}`) % SEAL_SECTOR_BYTES === mod) return { w, s };
  }
  return null;
}

test('a holed last write whose first record has its CRC field across a sector boundary is a torn tail, not damage', () => {
  let holed = 0;
  // A record at r has its CRC field at [r+4, r+8): a boundary cuts it after 1, 2 or 3 bytes.
  for (const cut of [1, 2, 3]) {
    for (let seed = 1; seed <= 12; seed++) {
      const aligned = alignedWorld(seed, SEAL_SECTOR_BYTES - 4 - cut);
      assert.ok(aligned !== null, 'some padding lands the next write there');
      const { w, s } = aligned;
      const segment = `${walDir}/${segmentNames(w).at(-1)!}`;
      const before = w.fs.size(segment);
      assert.equal((before + 4 + cut) % SEAL_SECTOR_BYTES, 0, 'the field is cut');
      s.save({ hardState: hs(5), entries: range(2, 5, 1, 700), snapshot: null }, () => assert.fail('never acknowledged'));
      stepUntil(w, () => w.fs.size(segment) > before);
      w.fs.powerLoss({ files: 'sector-holes', dirs: 'kept' });
      const r = openStorage(w); // throws StorageCorruptError if the holes read as damage
      const got = indexes(r);
      assert.deepEqual(got[0], '1@1', `cut ${cut}, seed ${seed}: the acknowledged entry`);
      assert.ok(got.length === 1 || got.length === 5, `cut ${cut}, seed ${seed}: ${got}`);
      if (got.length === 1) holed++;
    }
  }
  assert.ok(holed >= 18, `${holed} of 36 power losses holed the unacknowledged save`);
});
