/**
 * The model file system's `sector-holes` fate: a power loss keeps an unsynced write but for a few
 * of the sectors it touched, which hold what they held before it. Those include its partly written
 * first and last sectors (the kernel writes whole sectors: the bytes of the sector the write did
 * not touch are the same either way), where a WAL write's seal lies: the storage must tell that
 * from damage (torn-holes.test.ts), so the model must make it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SECTOR_BYTES } from '../../src/storage/fs.js';
import { world } from './model-world.js';

const SYNCED = 100; // bytes synced before the write, in its first sector
const WRITE = 2 * SECTOR_BYTES + 1; // from byte 100 to 1125: sectors 0, 512 and 1024, the first and last partly

test('sector-holes: an unsynced write keeps all but 1 to 3 of the sectors it touched, partly written first and last ones included, and holes read as before it', () => {
  const holed = new Set<number>();
  for (let seed = 1; seed <= 200; seed++) {
    const w = world(seed);
    w.fs.mkdir('/d');
    w.fs.fsyncDir('/d', () => {});
    const fd = w.fs.openAppend('/d/f');
    w.fs.fsyncDir('/d', () => {});
    w.fs.write(fd, new Uint8Array(SYNCED).fill(7), () => {});
    w.fs.datasync(fd, () => {});
    w.clock.run();
    w.fs.write(fd, new Uint8Array(WRITE).fill(9), () => {});
    w.clock.run();
    w.fs.powerLoss({ files: 'sector-holes', dirs: 'kept' });
    const bytes = w.fs.readFile('/d/f');
    assert.equal(bytes.length, SYNCED + WRITE, `seed ${seed}: the write's length is kept`);
    assert.ok(bytes.subarray(0, SYNCED).every((b) => b === 7), `seed ${seed}: synced bytes before the write, in its first sector, are untouched`);
    const lost: number[] = [];
    for (let sector = 0; sector < SYNCED + WRITE; sector += SECTOR_BYTES) {
      const part = bytes.subarray(Math.max(sector, SYNCED), Math.min(sector + SECTOR_BYTES, SYNCED + WRITE));
      if (part.every((b) => b === 0)) lost.push(sector);
      else assert.ok(part.every((b) => b === 9), `seed ${seed}: the write's part of sector ${sector} is whole or never written`);
    }
    assert.ok(lost.length >= 1 && lost.length <= 3, `seed ${seed}: ${lost.length} sectors holed`);
    for (const s of lost) holed.add(s);
  }
  assert.deepEqual([...holed].sort((a, b) => a - b), [0, 512, 1024], 'the partly written first and last sectors are holed too');
});
