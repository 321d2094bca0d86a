/**
 * A write whose last sector holds only its seal's last bytes (fewer than 4: the high bytes of the
 * CRC of its last piece). When a power loss leaves that sector unwritten along with others, the
 * zeros there are too few to tell an unwritten sector from chance; the seal tells: put back as the
 * bytes before it say, it reads whole. Damage is not mistaken for that: two flipped bits (in a
 * record holding a sector of zeros, and in the seal) in a completed write whose seal's lone last
 * byte is 0x00 by chance leave a seal that reads bad whatever is put back, and are refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SECTOR_BYTES } from '../../src/storage/fs.js';
import { StorageCorruptError } from '../../src/storage/durable-storage.js';
import { readRecord, RecordType } from '../../src/storage/record.js';
import { lastSealStart, sealStarts } from './seal-offsets.js';
import { entry, indexes, lastSegment, openStorage, range, rewrite, save, world, type World } from './model-world.js';
import { hs } from './wal-workload.js';

/** Three small acknowledged saves, then an acknowledged last write: a record of zeros, three entries, one of `lastBytes`, hard state `commit`. */
function build(lastBytes: number, commit: number): { w: World; segment: string; bytes: Buffer } {
  const w = world(1);
  const s = openStorage(w, { entriesRecordBytes: 256 });
  for (let i = 1; i <= 3; i++) save(w, s, { hardState: hs(i), entries: [entry(i, 1, 100)], snapshot: null });
  const zeros = { ...entry(4), data: new Uint8Array(3 * SECTOR_BYTES) };
  save(w, s, { hardState: hs(commit), entries: [zeros, ...range(5, 7, 1, 700), entry(8, 1, lastBytes)], snapshot: null });
  const segment = lastSegment(w);
  return { w, segment, bytes: Buffer.from(w.fs.readFile(segment)) };
}

/** A last write whose last sector holds only the seal's last byte, and that byte is 0x00 (the high byte of its last piece CRC). */
function findAlignment(): { lastBytes: number; commit: number } {
  for (let lastBytes = 600; lastBytes < 1800; lastBytes++) {
    const probe = build(lastBytes, 300).bytes;
    if (probe.length % SECTOR_BYTES !== 1) continue;
    // Commits 256..65535 pack to the same length: only the CRCs change.
    for (let commit = 256; commit < 4096; commit++) {
      const { bytes } = build(lastBytes, commit);
      if (bytes.length % SECTOR_BYTES === 1 && bytes[bytes.length - 1] === 0) return { lastBytes, commit };
    }
  }
  throw new Error('no alignment found');
}

test('two flipped bits (in a record holding a sector of zeros, and in its seal) in a completed last write whose seal\'s last byte is alone in its sector and happens to be 0x00 are refused, not cut off', () => {
  const { lastBytes, commit } = findAlignment();
  const { w, segment, bytes } = build(lastBytes, commit);
  const seal = lastSealStart(bytes);
  assert.equal(bytes.length % SECTOR_BYTES, 1, 'the write\'s last sector holds one byte of its seal');
  assert.equal(bytes[bytes.length - 1], 0, 'and that byte (the high byte of the last piece CRC) is zero by chance');
  const before = sealStarts(bytes).at(-2)!;
  const first = readRecord(bytes, before);
  assert.ok(first.kind === 'record' && first.type === RecordType.Seal);
  bytes[first.next + 12]! ^= 0x10; // in the record of zeros (as torn-holes.test.ts does)
  bytes[seal + 20]! ^= 0x01; // in its seal, far from its last byte
  rewrite(w, segment, bytes);
  let restored: string[] | null = null;
  try {
    restored = indexes(openStorage(w));
  } catch (e) {
    assert.ok(e instanceof StorageCorruptError);
    return; // refused, as before the change
  }
  assert.fail(`two flipped bits cut an acknowledged write off as torn: restored ${restored.join(',')} (lastBytes ${lastBytes}, commit ${commit})`);
});

test('a power loss that left a sector inside the last write and its seal\'s lone last byte unwritten is a torn write, not a refusal', () => {
  let tried = 0;
  for (let lastBytes = 600; lastBytes < 1800 && tried < 3; lastBytes++) {
    const { w, segment, bytes } = build(lastBytes, 300);
    if (bytes.length % SECTOR_BYTES !== 1 || bytes[bytes.length - 1] === 0) continue;
    tried++;
    const previousSeal = readRecord(bytes, sealStarts(bytes).at(-2)!);
    assert.ok(previousSeal.kind === 'record');
    const zeros = readRecord(bytes, previousSeal.next);
    assert.ok(zeros.kind === 'record');
    // A sector of the entries after the record of zeros (zeros written there would match its CRC).
    const hole = Math.ceil((zeros.next + 1) / SECTOR_BYTES) * SECTOR_BYTES;
    assert.ok(hole + SECTOR_BYTES < lastSealStart(bytes), 'the hole is before the seal');
    bytes.fill(0, hole, hole + SECTOR_BYTES);
    bytes[bytes.length - 1] = 0; // the seal's last sector never written
    rewrite(w, segment, bytes);
    const r = openStorage(w); // refused before the seal's lost tail was put back
    assert.deepEqual(r.restored().hardState, hs(3), `lastBytes ${lastBytes}: the unsynced write is cut off as torn`);
    assert.ok(!indexes(r).includes('8@1'));
    assert.equal(r.stats().repairs.length, 1);
  }
  assert.ok(tried >= 1, 'some size leaves one byte of the seal in the last sector');
});
