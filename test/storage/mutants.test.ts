/**
 * Each storage mutant (mutants.ts) is observably wrong on the model file system: the same steps
 * that the real storage survives make the mutant lose an acknowledged save or hand corrupt data
 * to the replica. (The simulator is to catch them on its own faults; these show the switch works. The last three
 * are shown in the tests of the fixes they undo: first-open-crash, torn-holes, torn-bitflip.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StorageCorruptError } from '../../src/storage/durable-storage.js';
import { recordBoundaries } from '../../src/storage/record.js';
import { STORAGE_MUTANTS } from '../../src/storage/mutants.js';
import { DIR, filled, openStorage, range, save, saveSnapshot, segmentNames, settle, snapshotAt, strictPowerLoss, walDir, world } from './model-world.js';
import type { LogEntry } from '../../src/core/replica.js';
import type { Index, Term } from '../../src/core/ids.js';

test('STORAGE_MUTANTS: named once each, each with a description', () => {
  const names = STORAGE_MUTANTS.map((m) => m.name);
  assert.deepEqual(names, ['skip-dir-fsync', 'ignore-checksum', 'retry-failed-fsync', 'unsealed-writes', 'unchained-segments', 'skip-ancestor-fsync', 'holes-are-damage', 'one-bit-zero-is-torn']);
  assert.equal(new Set(names).size, names.length);
  assert.ok(STORAGE_MUTANTS.every((m) => m.description.length > 20));
});

test('an unknown mutant name is refused at open', () => {
  assert.throws(() => openStorage(world(), { mutant: 'no-such-mutant' }), /unknown storage mutant 'no-such-mutant'; known: skip-dir-fsync, ignore-checksum, retry-failed-fsync, unsealed-writes, unchained-segments, skip-ancestor-fsync, holes-are-damage, one-bit-zero-is-torn/);
});

for (const mutant of [undefined, 'skip-dir-fsync'] as const) {
  test(`skip-dir-fsync: an acknowledged first save survives a power loss ${mutant === undefined ? '(the real storage)' : 'NOT (the mutant loses it, and a snapshot with it)'}`, () => {
    const w = world();
    const s = openStorage(w, mutant === undefined ? {} : { mutant });
    save(w, s, { hardState: { term: 3, vote: 'n2', commit: 0 }, entries: range(1, 4), snapshot: null });
    saveSnapshot(w, s, snapshotAt(2));
    strictPowerLoss(w);
    assert.equal(w.fs.exists(DIR), mutant === undefined, 'the data directory survives, unless no directory was ever fsynced');
    const r = openStorage(w);
    if (mutant === undefined) {
      assert.deepEqual(r.restored().hardState, { term: 3, vote: 'n2', commit: 0 });
      assert.equal(r.restored().snapshot?.meta.index, 2);
    } else {
      assert.equal(r.restored().hardState, null, 'the vote it acknowledged is gone: it could vote again in term 3');
      assert.equal(r.restored().snapshot, null);
    }
  });
}

const secret = (i: number): LogEntry => ({ index: i as Index, term: 1 as Term, kind: 'command', data: filled(64, 1000 + i) });

for (const mutant of [undefined, 'ignore-checksum'] as const) {
  test(`ignore-checksum: a flipped bit in an old segment's entry ${mutant === undefined ? 'is refused (the real storage)' : 'reaches the replica (the mutant)'}`, () => {
    const w = world();
    const s = openStorage(w, { segmentBytes: 300 }); // two saves per segment
    for (let i = 1; i <= 8; i++) save(w, s, { hardState: null, entries: [secret(i)], snapshot: null });
    const first = `${walDir}/${segmentNames(w)[0]!}`;
    const at = Buffer.from(w.fs.readFile(first)).indexOf(Buffer.from(secret(2).data));
    assert.ok(at > 0, 'entry 2 is in the first segment');
    w.fs.flipBit(first, at + 10);
    if (mutant === undefined) {
      assert.throws(() => openStorage(w), StorageCorruptError);
      return;
    }
    const r = openStorage(w, { mutant });
    const got = r.restored().entries.find((e) => e.index === 2);
    assert.ok(got !== undefined);
    assert.notDeepEqual(got.data, secret(2).data, 'entry 2 is not what was written, and nothing said so');
    assert.deepEqual(r.restored().entries.filter((e) => e.index !== 2).map((e) => e.data), [1, 3, 4, 5, 6, 7, 8].map((i) => secret(i).data));
  });
}

test('ignore-checksum: a flipped bit in the tail record is no longer cut off; the replica gets it', () => {
  const w = world();
  const s = openStorage(w);
  for (let i = 1; i <= 3; i++) save(w, s, { hardState: null, entries: [secret(i)], snapshot: null });
  const seg = `${walDir}/${segmentNames(w)[0]!}`;
  w.fs.flipBit(seg, Buffer.from(w.fs.readFile(seg)).indexOf(Buffer.from(secret(3).data)) + 5);
  assert.throws(() => openStorage(w), StorageCorruptError, 'the real storage refuses the damaged (sealed) tail');
  const w2 = world();
  const s2 = openStorage(w2);
  for (let i = 1; i <= 3; i++) save(w2, s2, { hardState: null, entries: [secret(i)], snapshot: null });
  w2.fs.flipBit(seg, Buffer.from(w2.fs.readFile(seg)).indexOf(Buffer.from(secret(3).data)) + 5);
  const r = openStorage(w2, { mutant: 'ignore-checksum' });
  assert.equal(r.restored().entries.length, 3);
  assert.notDeepEqual(r.restored().entries[2]!.data, secret(3).data);
});

for (const mutant of [undefined, 'unsealed-writes'] as const) {
  test(`unsealed-writes: a flipped bit in the last, acknowledged write ${mutant === undefined ? 'is refused at open (the real storage)' : 'is cut off as a torn tail and the entry is lost (the mutant)'}`, () => {
    const w = world();
    const s = openStorage(w, mutant === undefined ? {} : { mutant });
    for (let i = 1; i <= 3; i++) save(w, s, { hardState: null, entries: [secret(i)], snapshot: null });
    const seg = `${walDir}/${segmentNames(w)[0]!}`;
    w.fs.flipBit(seg, Buffer.from(w.fs.readFile(seg)).indexOf(Buffer.from(secret(3).data)) + 5);
    if (mutant === undefined) {
      assert.throws(() => openStorage(w), StorageCorruptError);
    } else {
      assert.equal(openStorage(w, { mutant }).restored().entries.length, 2, 'acknowledged entry 3 is gone');
    }
  });
}

for (const mutant of [undefined, 'retry-failed-fsync'] as const) {
  test(`retry-failed-fsync: a save whose datasync failed ${mutant === undefined ? 'fails, and the storage takes no more (the real storage)' : 'is acknowledged after a retry and lost in a power loss (the mutant)'}`, () => {
    const w = world();
    const s = openStorage(w, mutant === undefined ? {} : { mutant });
    save(w, s, { hardState: { term: 1, vote: null, commit: 0 }, entries: range(1, 2), snapshot: null });
    w.fs.failNextSync();
    const err = settle(w, (done) => s.save({ hardState: { term: 2, vote: 'n3', commit: 0 }, entries: [], snapshot: null }, done));
    if (mutant === undefined) {
      assert.match(err?.message ?? '', /EIO/, 'the failed datasync fails the save');
      const later = settle(w, (done) => s.save({ hardState: { term: 3, vote: null, commit: 0 }, entries: [], snapshot: null }, done));
      assert.ok(later !== null, 'a storage that failed takes no more saves (fsyncgate: no retry)');
      return;
    }
    assert.equal(err, null, 'the mutant acknowledges the vote');
    strictPowerLoss(w);
    assert.deepEqual(openStorage(w).restored().hardState, { term: 1, vote: null, commit: 0 }, 'the acknowledged vote for n3 in term 2 is gone');
  });
}

for (const mutant of [undefined, 'unchained-segments'] as const) {
  test(`unchained-segments: an older segment cut at a record boundary ${mutant === undefined ? 'is refused at open, by the next segment\'s chain record (the real storage)' : 'is read short, its acknowledged entries gone (the mutant)'}`, () => {
    const w = world();
    const s = openStorage(w, { segmentBytes: 1024, ...(mutant === undefined ? {} : { mutant }) });
    for (let i = 1; i <= 20; i++) save(w, s, { hardState: null, entries: [secret(i)], snapshot: null });
    assert.ok(segmentNames(w).length >= 3, 'several segments');
    // Cut the first segment at a record boundary half way: every record left reads whole.
    const first = `${walDir}/${segmentNames(w)[0]!}`;
    const boundaries = recordBoundaries(Buffer.from(w.fs.readFile(first)));
    assert.equal(boundaries.at(-1), w.fs.size(first), 'the segment reads whole');
    w.fs.truncate(first, boundaries[Math.floor(boundaries.length / 2)]!);
    if (mutant === undefined) {
      assert.throws(() => openStorage(w), (e: Error) => e instanceof StorageCorruptError && e.file === first && /chain record/.test(e.message));
    } else {
      assert.ok(openStorage(w, { mutant }).restored().entries.length < 20, 'acknowledged entries are gone, without a word');
    }
  });
}
