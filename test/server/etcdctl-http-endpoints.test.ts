/**
 * etcdctl 3.4 with endpoints written as URLs (`http://127.0.0.1:2379`, the usual form, and what
 * `--cluster` takes from MemberList). For endpoint status, endpoint hashkv, defrag and
 * move-leader etcdctl dials the URL as written and grpc-go sends it as `:authority`; the client
 * port must serve those calls as etcd does (see src/server/authority-filter.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProcessCluster } from './process-cluster.js';
import { etcdctl, skipWithoutEtcdctl as skip } from './etcdctl-run.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The command's output lines, after asserting that it succeeded. */
async function lines(endpoints: readonly string[], ...args: string[]): Promise<string[]> {
  const r = await etcdctl(endpoints, ...args);
  assert.equal(r.code, 0, `etcdctl ${args.join(' ')}:\n${r.out}`);
  assert.doesNotMatch(r.out, /PROTOCOL_ERROR|Failed/, `etcdctl ${args.join(' ')}`);
  return r.out.trim().split('\n');
}

test('etcdctl 3.4 with http:// endpoints: endpoint status/hashkv, defrag, move-leader, and --cluster', { timeout: 120_000, skip }, async (t) => {
  const cluster = await ProcessCluster.start(3);
  try {
    const url = (name: string) => `http://${cluster.endpoint(name)}`;
    const all = cluster.names.map(url);
    let leader = await cluster.waitForLeader();
    const follower = cluster.names.find((n) => n !== leader)!;
    assert.equal((await etcdctl([url(follower)], 'put', 'k', 'v')).code, 0);

    // `member list` is what --cluster dials: each member's client URL, scheme included.
    const idOf = new Map<string, string>();
    for (const line of await lines([url(follower)], 'member', 'list')) {
      const [id, , name, , clientUrl] = line.split(', ');
      assert.equal(clientUrl, url(name!), `${name}'s advertised client URL`);
      idOf.set(name!, id!);
    }
    assert.equal(idOf.size, 3);

    await t.test('endpoint status, endpoint hashkv, defrag on one http:// endpoint', async () => {
      const [status] = await lines([url(follower)], 'endpoint', 'status');
      assert.match(status!, new RegExp(`^${url(follower)}, ${idOf.get(follower)}, [\\d.]+, \\d+ \\w?B, false, false, \\d+, \\d+, \\d+,$`));
      const [hash] = await lines([url(follower)], 'endpoint', 'hashkv');
      assert.match(hash!, new RegExp(`^${url(follower)}, \\d+$`));
      assert.deepEqual(await lines([url(follower)], 'defrag'), [`Finished defragmenting etcd member[${url(follower)}]`]);
    });

    await t.test('--cluster: endpoint status, endpoint health, endpoint hashkv, defrag reach every member', async () => {
      const statuses = await lines([url(follower)], 'endpoint', 'status', '--cluster');
      assert.deepEqual(statuses.map((l) => l.split(', ').slice(0, 2).join(', ')).sort(), cluster.names.map((n) => `${url(n)}, ${idOf.get(n)}`).sort());
      assert.deepEqual(statuses.filter((l) => l.split(', ')[4] === 'true').map((l) => l.split(', ')[0]), [url(leader)], 'one leader');
      const health = await lines([url(follower)], 'endpoint', 'health', '--cluster');
      assert.deepEqual(health.map((l) => l.split(' is ')[0]).sort(), [...all].sort());
      for (const l of health) assert.match(l, / is healthy: successfully committed proposal/);
      // Every member holds the same keys at the same revision (once the put has reached them all).
      for (let attempt = 0; ; attempt++) {
        const hashes = (await lines([url(follower)], 'endpoint', 'hashkv', '--cluster')).map((l) => l.split(', '));
        assert.deepEqual(hashes.map(([u]) => u).sort(), [...all].sort());
        if (new Set(hashes.map(([, h]) => h)).size === 1) break;
        assert.ok(attempt < 20, `hashes still differ: ${JSON.stringify(hashes)}`);
        await sleep(200);
      }
      assert.deepEqual((await lines([url(follower)], 'defrag', '--cluster')).sort(), all.map((u) => `Finished defragmenting etcd member[${u}]`).sort());
    });

    await t.test('move-leader, at the leader\'s http:// endpoint and with every member\'s listed', async () => {
      for (const endpoints of [[url(leader)], all]) {
        const target = cluster.names.find((n) => n !== leader)!;
        assert.deepEqual(await lines(endpoints, 'move-leader', idOf.get(target)!), [`Leadership transferred from ${idOf.get(leader)} to ${idOf.get(target)}`]);
        leader = await cluster.waitForLeader();
        assert.equal(leader, target);
      }
    });
  } finally {
    await cluster.stop();
  }
});
