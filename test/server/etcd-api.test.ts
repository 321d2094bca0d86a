/**
 * The etcd v3 API of a 3-process cluster, through the `etcd3` npm client: what etcd clients
 * rely on (revisions, prefixes, txn, errors with etcd's exact messages), on leader and follower.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProcessCluster, errorOf } from './process-cluster.js';


/** The same API tests over each protocol: the server must not know which one it drives. */
for (const protocol of ['raft', 'multipaxos', 'vr']) {
test(`etcd v3 KV API through the etcd3 client, on the leader and on followers (${protocol})`, { timeout: 90_000 }, async (t) => {
  const cluster = await ProcessCluster.start(3, ['--protocol', protocol]);
  try {
    const leader = await cluster.waitForLeader();
    const follower = cluster.names.find((n) => n !== leader)!;
    const onLeader = cluster.client(leader);
    const onFollower = cluster.client(follower);

    await t.test('a put through a follower is readable through the leader; revisions advance by one', async () => {
      const first = await onFollower.put('api/a').value('1');
      const second = await onLeader.put('api/a').value('2');
      assert.equal(Number(second.header.revision), Number(first.header.revision) + 1);
      assert.equal(await onLeader.get('api/a').string(), '2');
      assert.equal(await onFollower.get('api/a').string(), '2', 'a linearizable read on a follower sees the latest write');
    });

    await t.test('prefix reads, counts, sorting, delete with previous values', async () => {
      for (const k of ['p/1', 'p/2', 'p/3']) await onLeader.put(k).value(`v${k}`);
      assert.deepEqual(await onFollower.getAll().prefix('p/').keys(), ['p/1', 'p/2', 'p/3']);
      assert.equal(await onFollower.getAll().prefix('p/').count(), 3);
      assert.deepEqual(await onLeader.getAll().prefix('p/').sort('Key', 'Descend').keys(), ['p/3', 'p/2', 'p/1']);
      const del = await onFollower.delete().prefix('p/').getPrevious();
      assert.deepEqual(del.map((kv) => kv.key.toString()).sort(), ['p/1', 'p/2', 'p/3']);
      assert.equal(await onLeader.getAll().prefix('p/').count(), 0);
    });

    await t.test('txn: compare-and-swap succeeds once, then takes the failure branch', async () => {
      await onLeader.put('lock').value('free');
      const won = await onFollower.if('lock', 'Value', '==', 'free').then(onFollower.put('lock').value('taken')).else(onFollower.get('lock')).commit();
      assert.equal(won.succeeded, true);
      const lost = await onLeader.if('lock', 'Value', '==', 'free').then(onLeader.put('lock').value('again')).else(onLeader.get('lock')).commit();
      assert.equal(lost.succeeded, false);
      assert.equal(lost.responses[0]?.response_range?.kvs[0]?.value.toString(), 'taken');
    });

    await t.test('reads at an old revision, compaction, and etcd\'s error messages', async () => {
      const r1 = await onLeader.put('hist').value('old');
      await onLeader.put('hist').value('new');
      assert.equal(await onFollower.get('hist').revision(Number(r1.header.revision)).string(), 'old');
      await onLeader.kv.compact({ revision: r1.header.revision });
      assert.match(await errorOf(onFollower.get('hist').revision(Number(r1.header.revision) - 1).string()), /etcdserver: mvcc: required revision has been compacted/);
      assert.match(await errorOf(onFollower.get('hist').revision(1_000_000).string()), /etcdserver: mvcc: required revision is a future revision/);
      assert.match(await errorOf(onLeader.kv.txn({ success: [
        { request_put: { key: Buffer.from('d'), value: Buffer.from('1') } },
        { request_put: { key: Buffer.from('d'), value: Buffer.from('2') } },
      ] })), /etcdserver: duplicate key given in txn request/);
      assert.match(await errorOf(onLeader.put('').value('x').exec()), /etcdserver: key is not provided/);
      assert.match(await errorOf(onLeader.put('big').value(Buffer.alloc(1_700_000)).exec()), /etcdserver: request is too large/);
    });

    await t.test('response headers carry cluster id, member id, revision and raft term', async () => {
      const r = await onFollower.put('hdr').value('x');
      assert.ok(BigInt(r.header.cluster_id) > 0n);
      assert.ok(BigInt(r.header.member_id) > 0n);
      assert.ok(Number(r.header.revision) > 1);
      // The header carries the protocol's term: Raft's and Multi-Paxos's first leader has term 1;
      // VR's first primary leads view 0, the paper's first view.
      assert.ok(Number(r.header.raft_term) >= (protocol === 'vr' ? 0 : 1));
      const members = await onLeader.cluster.memberList({});
      assert.deepEqual(members.members.map((m) => m.name).sort(), ['m1', 'm2', 'm3']);
      assert.ok(members.members.some((m) => m.ID === r.header.member_id), 'the header names a listed member');
      const status = await onFollower.maintenance.status({});
      assert.equal(status.leader, members.members.find((m) => m.name === leader)?.ID);
    });
  } finally {
    await cluster.stop();
  }
});
}
