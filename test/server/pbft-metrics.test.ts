/**
 * The disk metrics under PBFT: the one driver times every WAL write + fsync and every apply, so
 * `etcd_disk_wal_fsync_duration_seconds` and `etcd_disk_backend_commit_duration_seconds` count on
 * PBFT members as on Raft ones (they once stayed empty there).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Member } from '../../src/server/index.js';
import { pbftMembers } from './pbft-members.js';

function counted(metrics: string, name: string): number {
  const line = metrics.split('\n').find((l) => l.startsWith(`${name}_count`));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

test('PBFT members count WAL fsyncs and backend commits in /metrics', { timeout: 90_000 }, async () => {
  const cluster = await pbftMembers('pbft-metrics');
  const members: Member[] = await Promise.all(cluster.names.map((_, i) => cluster.start(i)));
  const client = cluster.client(0);
  try {
    for (let i = 0; i < 5; i++) await client.put(`k${i}`).value('v');
    const metrics = await (await fetch(`${cluster.clientUrl(0)}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
    assert.ok(counted(metrics, 'etcd_disk_wal_fsync_duration_seconds') > 0, 'WAL fsyncs are counted');
    assert.ok(counted(metrics, 'etcd_disk_backend_commit_duration_seconds') > 0, 'backend commits are counted');
  } finally {
    client.close();
    await Promise.all(members.map((m) => m.stop()));
    cluster.remove();
  }
});
