/**
 * A datasync that failed, then a restart: the kernel dropped that write's pages from the platter's
 * future but kept them in the page cache (marked clean, as Linux does), so a restarted process
 * reads them, and its own startup datasync has nothing of them left to write. What open restores
 * must be durable before any later save completes (README), so the storage, when it fails, cuts
 * the open segment back to what its last datasync made durable: the write that failed is gone
 * from what the next process reads, and a power loss later keeps what that process acknowledged.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { entry, indexes, openStorage, save, segmentNames, settle, strictPowerLoss, world, type HS } from './model-world.js';

const hs = (commit: number, term = 1): HS => ({ term, vote: 'n1', commit });
const OPTIONS = { segmentBytes: 512 };

for (const fault of ['datasync', 'write'] as const) {
  test(`a ${fault} that failed, a restart, saves over a rotation, a power loss: open restores what the restarted process acknowledged, and does not refuse`, () => {
    const w = world();
    let s = openStorage(w, OPTIONS);
    for (let i = 1; i <= 2; i++) save(w, s, { hardState: hs(i), entries: [entry(i, 1, 50)], snapshot: null });
    if (fault === 'datasync') w.fs.failNextSync();
    else w.fs.failNextWrite();
    const err = settle(w, (done) => s.save({ hardState: hs(3), entries: [entry(3, 1, 50)], snapshot: null }, done));
    assert.match(err?.message ?? '', /EIO/, 'the save failed');
    w.fs.crash();
    s = openStorage(w, OPTIONS);
    assert.deepEqual(indexes(s), ['1@1', '2@1'], 'the failed save is not restored (its bytes will never be durable)');
    const before = segmentNames(w).length;
    for (let i = 3; i <= 8; i++) save(w, s, { hardState: hs(i, 2), entries: [entry(i, 2, 100)], snapshot: null });
    assert.ok(segmentNames(w).length > before, 'the saves rotated: the next segment\'s chain names the first');
    strictPowerLoss(w);
    const r = openStorage(w, OPTIONS);
    assert.deepEqual(indexes(r), ['1@1', '2@1', '3@2', '4@2', '5@2', '6@2', '7@2', '8@2']);
    assert.deepEqual(r.restored().hardState, hs(8, 2));
  });
}
