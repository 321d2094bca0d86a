/**
 * The etcd API on PBFT: four in-process members (f = 1) on loopback, driven by the etcd3 client.
 * Writes through one member are read through another; with the primary stopped, the others
 * change view and keep serving.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Etcd3 } from 'etcd3';
import { startMember, type Member } from '../../src/server/index.js';

test('quorate serve --protocol pbft: put and get across members, and a view change when the primary stops', async () => {
  const base = 41_000 + Math.floor(Math.random() * 900) * 4;
  const names = ['m1', 'm2', 'm3', 'm4'];
  const peer = (i: number) => `http://127.0.0.1:${base + 3600 + i}`;
  const clientUrl = (i: number) => `http://127.0.0.1:${base + i}`;
  const dir = mkdtempSync(join(tmpdir(), 'quorate-pbft-'));
  const members: Member[] = await Promise.all(names.map((name, i) => startMember({
    name, dataDir: join(dir, name), listenClientUrls: [clientUrl(i)], advertiseClientUrls: [clientUrl(i)], listenPeerUrls: [peer(i)],
    initialAdvertisePeerUrls: [peer(i)], initialCluster: names.map((n, j) => `${n}=${peer(j)}`).join(','), initialClusterState: 'new',
    initialClusterToken: 'pbft-test', clientTls: null, peerTls: null, snapshotCount: 1000, heartbeatIntervalMs: 50, electionTimeoutMs: 500,
    maxRequestBytes: 1 << 20, maxTxnOps: 128, logger: () => {}, protocol: 'pbft',
  })));
  const viaM3 = new Etcd3({ hosts: clientUrl(2) });
  const viaM4 = new Etcd3({ hosts: clientUrl(3) });
  try {
    await viaM3.put('greeting').value('hello');
    assert.equal(await viaM4.get('greeting').string(), 'hello');
    for (let i = 0; i < 10; i++) await viaM3.put(`k${i}`).value(`v${i}`);
    assert.equal(await viaM4.get('k9').string(), 'v9');
    await members[0]!.stop(); // m1, the primary of view 0
    await viaM4.put('after').value('view change');
    assert.equal(await viaM3.get('after').string(), 'view change');
    assert.ok(members[3]!.node.status().term >= 1, 'the members moved to a later view');
  } finally {
    viaM3.close();
    viaM4.close();
    await Promise.all(members.slice(1).map((m) => m.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
});
