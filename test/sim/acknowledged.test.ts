/**
 * The oracle a simulated restart is judged by (src/sim/acknowledged.ts): what the storage
 * acknowledged must come back; what was in flight may or may not.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Index, Term } from '../../src/core/ids.js';
import type { LogEntry, Persist, RestoredState, Snapshot } from '../../src/core/replica.js';
import { AcknowledgedState } from '../../src/sim/acknowledged.js';

type HS = { term: number; vote: string | null; commit: number };
const e = (index: number, term = 1, byte = index): LogEntry => ({ index: index as Index, term: term as Term, kind: 'command', data: new Uint8Array([byte]) });
const hs = (term: number, commit = 0): HS => ({ term, vote: 'n1', commit });
const save = (hardState: HS | null, entries: LogEntry[], truncateFrom?: number | null): Persist<HS> => ({
  hardState, entries, snapshot: null, ...(truncateFrom === undefined ? {} : { truncateFrom: truncateFrom as Index | null }),
});
const snapshotAt = (index: number, byte = 0): Snapshot => ({ meta: { index: index as Index, term: 1 as Term, membership: { voters: ['n1'] } }, data: new Uint8Array([byte]) }) as unknown as Snapshot;
const restored = (hardState: HS | null, entries: LogEntry[], snapshot: Snapshot | null = null): RestoredState<unknown> => ({ hardState, entries, snapshot });

function acked(...saves: Persist<HS>[]): AcknowledgedState {
  const a = new AcknowledgedState();
  for (const p of saves) {
    a.saveMade(p);
    a.saveAcknowledged();
  }
  return a;
}

test('everything acknowledged restored: nothing lost', () => {
  const a = acked(save(hs(1), [e(1), e(2)]), save(hs(1, 2), [e(3)]));
  assert.equal(a.lost(restored(hs(1, 2), [e(1), e(2), e(3)])), null);
});

test('a lost hard state, a lost entry and a rewritten entry are each named', () => {
  const a = acked(save(hs(2), [e(1), e(2)]));
  assert.match(a.lost(restored(null, [e(1), e(2)]))!, /hard state is gone/);
  assert.match(a.lost(restored(hs(1), [e(1), e(2)]))!, /not the one it acknowledged/);
  assert.match(a.lost(restored(hs(2), [e(1)]))!, /entry at 2 \(term 1\) is gone/);
  assert.match(a.lost(restored(hs(2), [e(1), e(2, 1, 99)]))!, /entry at 2/);
});

test('a save in flight may have survived, whole or in part, or not at all; a truncation in flight may have removed acknowledged entries', () => {
  const a = acked(save(hs(1), [e(1), e(2), e(3)]));
  a.saveMade(save(hs(2), [e(3, 2), e(4, 2)]));
  assert.equal(a.lost(restored(hs(1), [e(1), e(2), e(3)])), null, 'not at all');
  assert.equal(a.lost(restored(hs(1), [e(1), e(2), e(3, 2)])), null, 'in part');
  assert.equal(a.lost(restored(hs(2), [e(1), e(2), e(3, 2), e(4, 2)])), null, 'whole');
  assert.equal(a.lost(restored(hs(1), [e(1), e(2)])), null, 'its truncation alone');
  assert.match(a.lost(restored(hs(1), [e(1)]))!, /entry at 2/, 'but not below where it truncates');
});

test('a snapshot acknowledged covers the entries below it, and may not go back', () => {
  const a = acked(save(hs(1), [e(1), e(2), e(3)]));
  const s = snapshotAt(2);
  a.snapshotAcknowledged(a.snapshotMade(s));
  assert.equal(a.lost(restored(hs(1), [e(3)], s)), null);
  assert.match(a.lost(restored(hs(1), [e(1), e(2), e(3)]))!, /snapshot is at 0, not at 2/);
});

test('rebase: after a restart, what was restored is the new acknowledged state', () => {
  const a = acked(save(hs(1), [e(1), e(2)]));
  a.saveMade(save(hs(2), [e(3)]));
  a.rebase(restored(hs(1), [e(1), e(2)]));
  assert.equal(a.lost(restored(hs(1), [e(1), e(2)])), null);
  assert.match(a.lost(restored(hs(2), [e(1), e(2), e(3)]))!, /not the one it acknowledged/, 'the save in flight is settled: lost');
});

test('an acknowledged truncation that did not survive (stale entries back after the new one) is a loss', () => {
  // Raft: 1..3 in term 1, then a new leader's entry 2 in term 2 (truncate at 2), acknowledged.
  const a = acked(save(hs(1), [e(1), e(2), e(3)]), save(hs(2), [e(2, 2)]));
  // The storage kept the new entry 2 but lost the truncation: the stale entry 3 of term 1 is back,
  // and the member would answer an AppendEntries check at (3, term 1) with success.
  assert.notEqual(a.lost(restored(hs(2), [e(1), e(2, 2), e(3)])), null);
});

test('the hard state of a save in flight restored without the entries written before it in that save is a loss', () => {
  // The save's records are written in order, its entries before its hard state: its hard state on
  // disk means its entries are too. Here commit 3 came back over a log that ends at 1.
  const a = acked(save(hs(1, 1), [e(1)]));
  a.saveMade(save(hs(1, 3), [e(2), e(3)]));
  assert.notEqual(a.lost(restored(hs(1, 3), [e(1)])), null);
});

test('an acknowledged snapshot restored with other contents at the same index is a loss', () => {
  const a = acked(save(hs(1), [e(1), e(2), e(3)]));
  a.snapshotAcknowledged(a.snapshotMade(snapshotAt(2, 7)));
  assert.notEqual(a.lost(restored(hs(1), [e(3)], snapshotAt(2, 99))), null);
});

test('a save refused at once (done(err) before save returns) does not take the acknowledgement of the next one', () => {
  // What MemberDisk.witnessed does: saveMade, then the storage's done. The first save is refused
  // at once (e.g. maxPendingSaves), so no acknowledgement comes for it; the second is written.
  const a = acked(save(hs(1), [e(1)]));
  a.refused(a.saveMade(save(hs(2), [e(2, 2)]))); // refused: done(TooManyRequests), nothing written
  a.saveMade(save(hs(1, 1), [], null)); // written and acknowledged (a commit advanced, no entries)
  a.saveAcknowledged();
  // The disk holds exactly what was acknowledged: nothing lost. The oracle took the refused save
  // for the acknowledged one and reports its entry 2 (term 2) gone.
  assert.equal(a.lost(restored(hs(1, 1), [e(1)])), null);
});
