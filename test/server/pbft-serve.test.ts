/**
 * The etcd API on PBFT: four in-process members (f = 1) on loopback, each with its own generated
 * keys, driven by the etcd3 client. Writes through one member are read through another; with the
 * primary stopped, the others change view and keep serving. Without keys a member refuses to start.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { BftKeyError } from '../../src/node/bft-keys.js';
import { startMember, type Member, type MemberOptions } from '../../src/server/index.js';
import { pbftMembers } from './pbft-members.js';

test('quorate serve --protocol pbft: put and get across members, and a view change when the primary stops', { timeout: 90_000 }, async () => {
  const cluster = await pbftMembers('pbft-test');
  const members: Member[] = await Promise.all(cluster.names.map((_, i) => cluster.start(i)));
  const client = (i: number) => cluster.client(i);
  const viaM3 = client(2);
  const viaM4 = client(3);
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
    cluster.remove();
  }
});

test('quorate serve --protocol pbft without keys: a typed error naming the flags, before anything is written', { timeout: 30_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'quorate-pbft-nokeys-'));
  try {
    const dataDir = join(dir, 'm1');
    const options: MemberOptions = {
      name: 'm1', dataDir, listenClientUrls: ['http://127.0.0.1:1'], advertiseClientUrls: ['http://127.0.0.1:1'], listenPeerUrls: ['http://127.0.0.1:2'],
      initialAdvertisePeerUrls: ['http://127.0.0.1:2'], initialCluster: 'm1=http://127.0.0.1:2', initialClusterState: 'new',
      initialClusterToken: 'pbft-test', clientTls: null, peerTls: null, snapshotCount: 1000, heartbeatIntervalMs: 50, electionTimeoutMs: 500,
      maxRequestBytes: 1 << 20, maxTxnOps: 128, logger: () => {}, protocol: 'pbft',
    };
    await assert.rejects(startMember(options), (err: unknown) => {
      assert.ok(err instanceof BftKeyError);
      assert.equal(err.problem, 'missing-keys');
      assert.match(err.message, /--bft-private-key/);
      assert.match(err.message, /--bft-public-keys/);
      assert.match(err.message, /quorate keys generate/);
      return true;
    });
    assert.equal(existsSync(dataDir), false, 'no data directory was created');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
