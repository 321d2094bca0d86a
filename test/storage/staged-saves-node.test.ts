/**
 * Saves made while a write is in flight, through node:fs (eb558d2: every save is encoded into a
 * staging buffer, which becomes the next write's while the finished write's buffer takes the
 * saves after it). node:fs reads a write's buffer from another thread until its callback: a
 * staging buffer that was still some write's would put later saves' bytes on disk, which the
 * model fs at zero write latency never shows. Bursts of saves and compactions, batches cut by
 * maxBatchBytes (the staged rest moved to the front), segments rotated by size, values past the
 * kept buffer; after each burst and after a reopen the restored state is the workload's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Index, Term } from '../../src/core/ids.js';
import { Prng } from '../../src/core/prng.js';
import { closeAsync, DurableStorage, nodeFileSystem } from '../../src/storage/index.js';
import { MAX_KEPT_WRITE_BUFFER_BYTES } from '../../src/storage/durable-storage.js';
import { filled, type HS } from './model-world.js';
import { describeRestored, describeState, matches, nextOp, type State } from './wal-workload.js';

test('node:fs: bursts of saves queued behind in-flight writes (cut batches, rotations, compactions, a value past the kept buffer) restore exactly', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'quorate-staged-'));
  const options = { segmentBytes: 48 * 1024, maxBatchBytes: 3000 };
  try {
    let s = DurableStorage.open<HS>(nodeFileSystem, dir, options);
    const r = new Prng(11);
    let st: State = { entries: new Map(), hardState: null, snapshot: 0 };
    let pending = 0;
    const errors: string[] = [];
    const done = (err: Error | null): void => {
      pending--;
      if (err !== null) errors.push(err.message);
    };
    // Every save answered (a deadline: a corrupted write may leave one unanswered).
    const settled = (): Promise<void> => new Promise<void>((resolve, reject) => {
      const deadline = Date.now() + 20_000;
      const wait = (): void => {
        if (pending === 0) resolve();
        else if (Date.now() > deadline) reject(new Error(`${pending} saves unanswered`));
        else setImmediate(wait);
      };
      wait();
    });
    for (let burst = 0; burst < 40; burst++) {
      const n = r.int(1, 8);
      for (let k = 0; k < n; k++) {
        const { op, state } = nextOp(st, r);
        st = state;
        pending++;
        if (op.kind === 'save') s.save(op.persist, done);
        else s.saveSnapshot(op.snapshot, done);
      }
      if (burst === 20) {
        // One entry larger than the kept buffer, queued between small saves.
        const last = Math.max(st.snapshot, ...st.entries.keys());
        const big = { index: (last + 1) as Index, term: 9 as Term, kind: 'command' as const, data: filled(MAX_KEPT_WRITE_BUFFER_BYTES + 12_345, 7) };
        pending += 2;
        s.save({ hardState: null, entries: [big], snapshot: null }, done);
        s.save({ hardState: { term: 9, vote: 'n1', commit: last }, entries: [], snapshot: null }, done);
        await settled();
        const e = s.restored().entries.at(-1)!;
        assert.equal(e.index, last + 1);
        await closeAsync(s);
        s = DurableStorage.open<HS>(nodeFileSystem, dir, options);
        const back = s.restored().entries.at(-1)!;
        assert.ok(back.index === last + 1 && Buffer.from(back.data).equals(Buffer.from(big.data)), 'the large value reads back');
        // Continue the workload from what it restored, without the large entry.
        s.save({ hardState: { term: 9, vote: 'n1', commit: last }, entries: [], snapshot: null, truncateFrom: (last + 1) as Index }, done);
        pending++;
        st = { ...st, hardState: { term: 9, vote: 'n1', commit: last } };
      }
      await settled();
      assert.deepEqual(errors, []);
      assert.ok(matches(s.restored(), st), `after burst ${burst}: ${describeRestored(s.restored())} != ${describeState(st)}`);
    }
    await closeAsync(s);
    const reopened = DurableStorage.open<HS>(nodeFileSystem, dir, options);
    assert.ok(matches(reopened.restored(), st), `reopened: ${describeRestored(reopened.restored())} != ${describeState(st)}`);
    await closeAsync(reopened);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
