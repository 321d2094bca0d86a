/**
 * A member killed during its very first open (after the directories were made, before the
 * startup job fsynced them) is opened again, acknowledges saves, and loses power. The second open
 * cannot tell that the first created the data directory's parent, and only that parent's own
 * entries were fsynced: the parent's entry in its own parent was never made durable, and the power
 * loss took the whole data directory with every acknowledged save. Every ancestor of the data
 * directory is fsynced at each open now.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { indexes, openStorage, range, save, strictPowerLoss, world, type HS } from './model-world.js';

const hs = (commit: number): HS => ({ term: 1, vote: 'n1', commit });

for (const mutant of [undefined, 'skip-ancestor-fsync'] as const) {
  test(`saves acknowledged after a crash in the first open survive a power loss ${mutant === undefined ? '(the real storage)' : 'NOT (the mutant loses the whole data directory)'}`, () => {
    const w = world();
    const options = mutant === undefined ? {} : { mutant };
    openStorage(w, options); // makes /data and /data/member-1, and is killed before its startup job runs
    w.fs.crash();
    w.clock.run();
    const s = openStorage(w, options);
    save(w, s, { hardState: hs(3), entries: range(1, 3), snapshot: null });
    strictPowerLoss(w);
    const again = openStorage(w);
    if (mutant !== undefined) {
      assert.deepEqual(indexes(again), [], 'the entries it acknowledged are gone');
      assert.equal(again.restored().hardState, null, 'and its vote: it could vote again in term 1');
      return;
    }
    assert.deepEqual(indexes(again), ['1@1', '2@1', '3@1']);
    assert.equal(again.restored().hardState?.commit, 3);
  });
}
