/**
 * The straddling CRC field of seal-straddle.test.ts through node:fs: a last write, written and
 * synced for real, with a whole sector after its first record's cut CRC field zeroed (a sector
 * the disk never wrote), is a torn tail on open, not damage.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closeAsync, DurableStorage, nodeFileSystem, saveAsync } from '../../src/storage/index.js';
import { SEAL_SECTOR_BYTES } from '../../src/storage/record.js';
import { lastSealStart } from './seal-offsets.js';
import { entry, indexes, openStorage, range, save, segmentNames, walDir, world, type HS } from './model-world.js';
import { hs } from './wal-workload.js';

/** The padding of a first save after which the WAL ends at `mod` modulo a sector (the model writes what node:fs does). */
function padFor(mod: number): number {
  for (let pad = 0; pad < 2 * SEAL_SECTOR_BYTES; pad++) {
    const w = world();
    save(w, openStorage(w), { hardState: hs(1), entries: [entry(1, 1, pad)], snapshot: null });
    if (w.fs.size(`${walDir}/${segmentNames(w).at(-1)!}`) % SEAL_SECTOR_BYTES === mod) return pad;
  }
  throw new Error(`no padding ends the WAL at ${mod}`);
}

for (const cut of [1, 2, 3]) {
  test(`node:fs: a last write whose first record's CRC field is cut after ${cut} byte(s), with a later sector never written, is cut off as torn`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'quorate-straddle-'));
    try {
      const s = DurableStorage.open<HS>(nodeFileSystem, dir);
      await saveAsync(s, { hardState: hs(1), entries: [entry(1, 1, padFor(SEAL_SECTOR_BYTES - 4 - cut))], snapshot: null });
      const seg = join(dir, 'wal', readdirSync(join(dir, 'wal')).sort().pop()!);
      const before = statSync(seg).size;
      assert.equal((before + 4 + cut) % SEAL_SECTOR_BYTES, 0, 'the field is cut');
      await saveAsync(s, { hardState: hs(5), entries: range(2, 5, 1, 700), snapshot: null });
      await closeAsync(s);
      const full = readFileSync(seg);
      // The last whole sector before the write's seal: after the cut field's sectors, never written.
      const hole = (Math.floor(lastSealStart(full) / SEAL_SECTOR_BYTES) - 1) * SEAL_SECTOR_BYTES;
      assert.ok(hole >= before + 4 + cut + SEAL_SECTOR_BYTES, 'a whole sector of the write past the cut');
      full.fill(0, hole, hole + SEAL_SECTOR_BYTES);
      writeFileSync(seg, full);
      const r = DurableStorage.open<HS>(nodeFileSystem, dir); // throws StorageCorruptError if the hole reads as damage
      assert.deepEqual(indexes(r), ['1@1']);
      assert.deepEqual(r.restored().hardState, hs(1));
      assert.equal(r.stats().repairs.length, 1);
      await closeAsync(r);
      assert.equal(statSync(seg).size, before, 'the torn write was cut off');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
