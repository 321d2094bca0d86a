/**
 * The disk metrics under PBFT: `etcd_disk_wal_fsync_duration_seconds` is filled from the storage
 * layer's own fsync timings (each observation is one datasync, as in etcd, not the write and the
 * queue before it) and `etcd_disk_backend_commit_duration_seconds` from the one driver's apply
 * timings, so both count on PBFT members as on Raft ones (they once stayed empty there).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Member } from '../../src/server/index.js';
import { pbftMembers } from './pbft-members.js';

function counted(metrics: string, name: string): number {
  const line = metrics.split('\n').find((l) => l.startsWith(`${name}_count`));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

test('PBFT members count WAL fsyncs, timed by the storage layer, and backend commits in /metrics', { timeout: 90_000 }, async () => {
  const cluster = await pbftMembers('pbft-metrics');
  const members: Member[] = await Promise.all(cluster.names.map((_, i) => cluster.start(i)));
  const client = cluster.client(0);
  const scrape = async () => (await fetch(`${cluster.clientUrl(0)}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
  // Each observation, beside the storage's own record of the fsync it reports (read at that moment).
  const node = members[0]!.node;
  const observed: { seconds: number; storageMs: number; fsyncs: number }[] = [];
  const onFsync = (seconds: number): void => {
    const stats = node.storageStats();
    observed.push({ seconds, storageMs: stats.lastFsyncMs, fsyncs: stats.fsyncs });
  };
  node.on('wal-fsync', onFsync);
  try {
    const before = counted(await scrape(), 'etcd_disk_wal_fsync_duration_seconds');
    for (let i = 0; i < 5; i++) await client.put(`k${i}`).value('v');
    const metrics = await scrape();
    node.off('wal-fsync', onFsync);
    assert.ok(counted(metrics, 'etcd_disk_wal_fsync_duration_seconds') > before, 'WAL fsyncs are counted');
    assert.ok(counted(metrics, 'etcd_disk_backend_commit_duration_seconds') > 0, 'backend commits are counted');
    assert.ok(observed.length > 0);
    for (const [i, o] of observed.entries()) {
      assert.ok(Math.abs(o.seconds * 1000 - o.storageMs) < 1e-9, `the observation (${o.seconds * 1000} ms) is the storage layer's fsync duration (${o.storageMs} ms)`);
      if (i > 0) assert.equal(o.fsyncs, observed[i - 1]!.fsyncs + 1, 'one observation per fsync');
    }
  } finally {
    node.off('wal-fsync', onFsync);
    client.close();
    await Promise.all(members.map((m) => m.stop()));
    cluster.remove();
  }
});
