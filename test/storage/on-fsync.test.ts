/**
 * StorageOptions.onFsync (etcd_disk_wal_fsync_duration_seconds): called once per completed WAL
 * datasync, and a callback that throws never fails or stalls a save (the metric is an observer).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closeAsync, openDurableStorage, saveAsync } from '../../src/storage/async.js';
import { nodeFileSystem } from '../../src/storage/node-fs.js';
import type { LogEntry } from '../../src/core/replica.js';
import type { Index, Term } from '../../src/core/ids.js';

const entry = (index: number, bytes: number): LogEntry => ({ index: index as Index, term: 1 as Term, kind: 'command', data: new Uint8Array(bytes).fill(index) });

test('a throwing onFsync does not fail or stall a save; every datasync is still reported once', { timeout: 20_000 }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'quorate-onfsync-'));
  try {
    let calls = 0;
    const logged: string[] = [];
    const s = await openDurableStorage<{ term: number }>(nodeFileSystem, join(root, 'm'), {
      // Small segments: the saves rotate, whose datasyncs are reported too.
      segmentBytes: 4096,
      logger: (m) => logged.push(m),
      onFsync: () => {
        calls++;
        throw new Error('metrics exploded');
      },
    });
    const before = s.stats().fsyncs;
    const callsBefore = calls;
    const segmentsBefore = s.stats().segments;
    for (let i = 1; i <= 12; i++) {
      const saved = saveAsync(s, { hardState: { term: 1 }, entries: [entry(i, 1024)], snapshot: null, truncateFrom: i as Index });
      const outcome = await Promise.race([saved.then(() => 'saved', (e: Error) => `failed: ${e.message}`), new Promise((r) => setTimeout(() => r('stalled'), 5_000))]);
      assert.equal(outcome, 'saved', `save ${i}`);
    }
    assert.ok(s.stats().segments > segmentsBefore, `rotated (segments ${segmentsBefore} → ${s.stats().segments})`);
    assert.equal(calls - callsBefore, s.stats().fsyncs - before, 'one call per datasync, rotations included');
    assert.ok(logged.some((m) => m.includes('metrics exploded')), 'the callback\'s failure is logged');
    await closeAsync(s);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
