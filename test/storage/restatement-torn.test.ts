/**
 * A compaction's restatement (the whole state rewritten in a fresh segment after a snapshot) is
 * one write, but may be several records when the entries after the snapshot outgrow
 * entriesRecordBytes. Until it is durable the older segments still hold every acknowledged save,
 * so a torn restatement (a power loss before its datasync) must lose none of them: replaying a
 * prefix of its records must never truncate entries the rest of it would have restored. (Found
 * by the WAL fuzz: the restatement's truncation after the snapshot came first, so a restatement
 * torn after its first entries record cut the acknowledged entries the later records restated.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readRecord } from '../../src/storage/record.js';
import { entry, indexes, openStorage, save, segmentNames, snapshotAt, walDir, world } from './model-world.js';

test('a restatement torn at any record boundary or byte keeps every acknowledged entry', () => {
  let cuts = 0;
  for (let cutAt = 1; ; cutAt++) {
    const w = world(1, { syncLatencyMs: 5 });
    // Small records: the ten entries after the snapshot take several.
    const s = openStorage(w, { entriesRecordBytes: 256 });
    for (let i = 1; i <= 12; i++) save(w, s, { hardState: { term: 1, vote: null, commit: i }, entries: [entry(i, 1, 100)], snapshot: null });
    const acknowledged = indexes(s);
    const before = segmentNames(w).length;
    s.saveSnapshot(snapshotAt(2), () => assert.fail('the restatement is never acknowledged here'));
    // Run until the restatement is written to its fresh segment, not yet synced.
    let restatement = '';
    for (;;) {
      assert.ok(w.clock.step(), 'the restatement was written before the clock ran out');
      const names = segmentNames(w);
      if (names.length > before && w.fs.size(`${walDir}/${names.at(-1)!}`) > 0) {
        restatement = `${walDir}/${names.at(-1)!}`;
        break;
      }
    }
    const size = w.fs.size(restatement);
    if (cutAt >= size) break;
    if (cutAt === 1) {
      // The case this test is about: the restatement is more than one entries record.
      let records = 0;
      const bytes = Buffer.from(w.fs.readFile(restatement));
      for (let o = 0; readRecord(bytes, o).kind === 'record'; o = (readRecord(bytes, o) as { next: number }).next) records++;
      assert.ok(records >= 4, `the restatement has ${records} records (snapshot, entries over several, hard state, seal)`);
    }
    w.fs.crash();
    w.fs.truncate(restatement, cutAt);
    const r = openStorage(w, { entriesRecordBytes: 256 });
    const got = indexes(r);
    const kept = acknowledged.filter((e) => Number(e.split('@')[0]) > (r.restored().snapshot?.meta.index ?? 0));
    assert.deepEqual(got, kept, `cut at byte ${cutAt} of ${size}: every acknowledged entry after the restored snapshot is there`);
    cuts++;
  }
  assert.ok(cuts > 500, `${cuts} cuts checked`);
});
