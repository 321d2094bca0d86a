/**
 * Damage on the platter: a flipped bit and an unreadable sector (EIO), in an old segment (refused
 * with StorageCorruptError naming the file and offset: the log there is needed and gone), and in
 * the tail of the last segment (cut off as a torn write would be).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SECTOR_BYTES } from '../../src/storage/fs.js';
import { StorageCorruptError } from '../../src/storage/durable-storage.js';
import { readRecord } from '../../src/storage/record.js';
import { entry, indexes, openStorage, save, segmentNames, walDir, world, type HS, type World } from './model-world.js';

const hs = (commit: number): HS => ({ term: 1, vote: null, commit });

/** Byte offsets of the records in a segment. */
function recordOffsets(w: World, path: string): number[] {
  const buf = Buffer.from(w.fs.readFile(path));
  const out: number[] = [];
  for (let o = 0; ; ) {
    const r = readRecord(buf, o);
    if (r.kind !== 'record') break;
    out.push(o);
    o = r.next;
  }
  return out;
}

/** A log over several segments: one entry (of `bytes` data) per save. */
function logOverSegments(w: World, saves: number, bytes: number, segmentBytes: number): void {
  const s = openStorage(w, { segmentBytes });
  for (let i = 1; i <= saves; i++) save(w, s, { hardState: null, entries: [entry(i, 1, bytes)], snapshot: null });
}

const segmentPath = (w: World, k: number) => `${walDir}/${segmentNames(w).at(k)!}`;

test('a flipped bit in an old segment: refused, naming the file and the record\'s offset', () => {
  const w = world();
  logOverSegments(w, 12, 100, 400);
  const old = segmentPath(w, 0);
  const second = recordOffsets(w, old)[1]!;
  w.fs.flipBit(old, second + 40);
  assert.throws(() => openStorage(w), (e: Error) =>
    e instanceof StorageCorruptError && e.code === 'CORRUPT' && e.file === old && e.offset === second &&
    e.message.includes(`${old} at byte ${second}`) && /checksum mismatch/.test(e.message) && /not in the last segment/.test(e.message));
});

test('an unreadable sector (EIO) in an old segment: refused, naming the file and the offset of the record on it', () => {
  const w = world();
  logOverSegments(w, 12, 600, 1500);
  const old = segmentPath(w, 0);
  const offsets = recordOffsets(w, old);
  const sector = w.fs.failSector(old, offsets[1]! + 300);
  const onIt = offsets.filter((o) => o <= sector).at(-1)!;
  assert.throws(() => openStorage(w), (e: Error) =>
    e instanceof StorageCorruptError && e.file === old && e.offset === onIt && new RegExp(`unreadable sector at byte ${sector} \\(EIO\\)`).test(e.message));
});

test('a flipped bit in the middle of the last segment, with valid records after it: refused', () => {
  const w = world();
  logOverSegments(w, 6, 50, 1 << 20);
  const last = segmentPath(w, -1);
  const third = recordOffsets(w, last)[2]!;
  w.fs.flipBit(last, third + 20);
  assert.throws(() => openStorage(w), (e: Error) => e instanceof StorageCorruptError && e.offset === third && /Valid records follow it/.test(e.message));
});

test('a flipped bit in the last record of the last segment: cut off as a torn tail, and the log goes on from there', () => {
  const w = world();
  logOverSegments(w, 6, 50, 1 << 20);
  const last = segmentPath(w, -1);
  const tail = recordOffsets(w, last).at(-1)!;
  w.fs.flipBit(last, tail + 30);
  const logs: string[] = [];
  const r = openStorage(w, { logger: (m) => logs.push(m) });
  assert.deepEqual(indexes(r), ['1@1', '2@1', '3@1', '4@1', '5@1']);
  assert.equal(r.stats().repairs.length, 1);
  assert.match(logs[0]!, new RegExp(`truncated torn tail at ${last} offset ${tail}.*checksum mismatch`));
  assert.equal(w.fs.size(last), tail);
  save(w, r, { hardState: hs(6), entries: [entry(6, 2)], snapshot: null });
  assert.deepEqual(indexes(openStorage(w)), ['1@1', '2@1', '3@1', '4@1', '5@1', '6@2']);
});

test('an unreadable sector in the last record of the last segment: cut off as a torn tail (the bad sector goes with it)', () => {
  const w = world();
  const s = openStorage(w);
  for (let i = 1; i <= 3; i++) save(w, s, { hardState: null, entries: [entry(i, 1, 100)], snapshot: null });
  save(w, s, { hardState: null, entries: [entry(4, 1, 3 * SECTOR_BYTES)], snapshot: null });
  const last = segmentPath(w, -1);
  const tail = recordOffsets(w, last).at(-1)!;
  const firstWholeSector = Math.ceil(tail / SECTOR_BYTES) * SECTOR_BYTES;
  assert.equal(w.fs.failSector(last, firstWholeSector + 10), firstWholeSector, 'a sector wholly inside the last record');
  const r = openStorage(w);
  assert.deepEqual(indexes(r), ['1@1', '2@1', '3@1']);
  assert.match(r.stats().repairs[0]!, new RegExp(`offset ${tail} .*unreadable sector at byte ${firstWholeSector} \\(EIO\\)`));
  assert.equal(w.fs.readFile(last).length, tail, 'readable again: the sector was cut off');
});

test('an unreadable sector in the middle of the last segment, with valid records after it: refused', () => {
  const w = world();
  logOverSegments(w, 6, 600, 1 << 20);
  const last = segmentPath(w, -1);
  const offsets = recordOffsets(w, last);
  const sector = w.fs.failSector(last, offsets[2]! + 300);
  const onIt = offsets.filter((o) => o <= sector).at(-1)!;
  assert.throws(() => openStorage(w), (e: Error) => e instanceof StorageCorruptError && e.offset === onIt && /EIO/.test(e.message) && /Valid records follow it/.test(e.message));
});
