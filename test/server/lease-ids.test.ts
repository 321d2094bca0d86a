/**
 * 64-bit ids across the API: etcd's lease ids are int64 and its own generator makes them above
 * 2^53, where a JavaScript number rounds. A lease a client names by such an id must be granted,
 * attached, listed, timed, revoked and kept across a restart under exactly that id, whether the
 * client is the `etcd3` npm client or etcdctl 3.4. Watch ids a client chooses are as exact; a
 * member id beyond 2^53 that names no member is "member not found", not a member whose id
 * rounds to the same number.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import * as grpc from '@grpc/grpc-js';
import { LeaseClient, type Etcd3 } from 'etcd3';
import { etcdService } from '../../src/server/proto.js';
import { ProcessCluster, errorOf } from './process-cluster.js';
import { WatchReader } from './raw-clients.js';

const HAVE_ETCDCTL = spawnSync('etcdctl', ['version'], { env: { ...process.env, ETCDCTL_API: '3' } }).status === 0;

/** 2^53 + 1: the first integer a double cannot hold (it reads as 2^53). */
const ABOVE_2_53 = (2n ** 53n + 1n).toString();
/** Its neighbour, which a double also reads as 2^53: a different lease. */
const NEIGHBOUR = (2n ** 53n + 2n).toString();
/** The largest int64, and one that is negative (an int64 etcd accepts as a lease id too). */
const INT64_MAX = (2n ** 63n - 1n).toString();
const NEGATIVE = (-(2n ** 60n) - 7n).toString();
const hex = (id: string): string => BigInt(id).toString(16);
/** As etcdctl prints an id (Go's %016x). */
const printed = (id: string): string => hex(id).padStart(16, '0');

/** The etcd3 client's raw Lease service (its `lease()` helper cannot choose an id). */
const leaseClient = (client: Etcd3): LeaseClient => new LeaseClient((client as unknown as { pool: ConstructorParameters<typeof LeaseClient>[0] }).pool);

test('lease ids above 2^53 round-trip exactly through the etcd3 client and etcdctl, and survive a restart', { timeout: 120_000 }, async (t) => {
  // A snapshot every few entries, so the restart below restores leases from a snapshot, then the log.
  const cluster = await ProcessCluster.start(3, ['--snapshot-count', '5']);
  try {
    const leader = await cluster.waitForLeader();
    const follower = cluster.names.find((n) => n !== leader)!;
    const client = cluster.client(follower);
    const leases = leaseClient(client);

    await t.test('etcd3: grant, put, get, compare, timetolive, leases and revoke under ids a double cannot hold', async () => {
      for (const id of [ABOVE_2_53, NEIGHBOUR, INT64_MAX, NEGATIVE]) {
        const granted = await leases.leaseGrant({ TTL: 600, ID: id });
        assert.equal(String(granted.ID), id, 'the granted id is the one asked for');
        await client.put(`ids/${id}`).value('v').lease(id);
      }
      assert.match(await errorOf(leases.leaseGrant({ TTL: 600, ID: NEIGHBOUR })), /etcdserver: lease already exists/);
      for (const id of [ABOVE_2_53, NEIGHBOUR, INT64_MAX, NEGATIVE]) {
        const kvs = (await client.get(`ids/${id}`).exec()).kvs;
        assert.equal(String(kvs[0]?.lease), id, `the key carries lease ${id}`);
        const ttl = await leases.leaseTimeToLive({ ID: id, keys: true });
        assert.equal(String(ttl.ID), id);
        assert.ok(Number(ttl.TTL) > 0 && Number(ttl.grantedTTL) === 600, `lease ${id} is alive: ${JSON.stringify(ttl)}`);
        assert.deepEqual(ttl.keys.map((k) => k.toString()), [`ids/${id}`]);
      }
      const listed = (await leases.leaseLeases({})).leases.map((l) => String(l.ID));
      for (const id of [ABOVE_2_53, NEIGHBOUR, INT64_MAX, NEGATIVE]) assert.ok(listed.includes(id), `${id} listed in ${listed.join(',')}`);
      // An id next to a live one, never granted, is not found (it would be, were ids rounded).
      assert.match(await errorOf(client.put('ids/none').value('v').lease((2n ** 53n + 3n).toString()).exec()), /etcdserver: requested lease not found/);
      assert.equal(Number((await leases.leaseTimeToLive({ ID: (2n ** 53n + 3n).toString() })).TTL), -1);
      // A compare on the lease is exact too.
      const cmp = await client.if(`ids/${ABOVE_2_53}`, 'Lease', '==', NEIGHBOUR).then(client.put('ids/cmp').value('wrong')).commit();
      assert.equal(cmp.succeeded, false, 'lease 2^53 + 1 is not lease 2^53 + 2');
      const revoked = await leases.leaseRevoke({ ID: NEIGHBOUR });
      assert.ok(Number(revoked.header.revision) > 0);
      assert.equal(await client.get(`ids/${NEIGHBOUR}`).string(), null, 'revoking deleted the attached key');
      assert.equal(await client.get(`ids/${ABOVE_2_53}`).string(), 'v', 'its neighbour is untouched');
    });

    await t.test('etcdctl 3.4: put --lease, timetolive, list and keep-alive name the same lease in hex', {
      skip: HAVE_ETCDCTL ? false : 'etcdctl is not installed (apt-get install -y etcd-client; .ci/run installs it)',
    }, async () => {
      const ctl = (...args: string[]): Promise<string> => new Promise((resolve, reject) => {
        execFile('etcdctl', [`--endpoints=${cluster.endpoint(follower)}`, ...args], { env: { ...process.env, ETCDCTL_API: '3' }, timeout: 20_000 }, (err, stdout, stderr) => {
          if (err !== null) reject(new Error(`etcdctl ${args.join(' ')}: ${err.message}\n${stderr}`));
          else resolve(stdout);
        });
      });
      const id = hex(ABOVE_2_53); // 20000000000001
      assert.equal(await ctl('put', '--lease', id, 'ctl/k', 'v'), 'OK\n');
      assert.match(await ctl('lease', 'timetolive', id, '--keys'), new RegExp(`^lease ${printed(ABOVE_2_53)} granted with TTL\\(600s\\), remaining\\(\\d+s\\), attached keys\\(\\[ctl/k ids/${ABOVE_2_53}\\]\\)`));
      assert.match(await ctl('lease', 'list'), new RegExp(`\\n${printed(ABOVE_2_53)}\\n`));
      assert.equal(await ctl('lease', 'keep-alive', '--once', id), `lease ${printed(ABOVE_2_53)} keepalived with TTL(600)\n`);
      // etcdctl prints the key's lease as a JSON number: read its digits, not a double.
      assert.match(await ctl('get', 'ctl/k', '-w', 'json'), new RegExp(`"lease":${ABOVE_2_53}[,}]`));
      assert.equal(await ctl('lease', 'timetolive', hex(NEIGHBOUR)), `lease ${printed(NEIGHBOUR)} already expired\n`);
      await assert.rejects(ctl('put', '--lease', hex(NEIGHBOUR), 'ctl/k2', 'v'), /requested lease not found/);
    });

    await t.test('watch ids a client chooses above 2^53 are distinct watchers, answered and cancelled by their exact id', async () => {
      const Watch = etcdService('Watch', 'string');
      const raw = new Watch(cluster.endpoint(follower), grpc.credentials.createInsecure());
      const reader = new WatchReader((raw as unknown as { Watch(): WatchReader['stream'] }).Watch());
      // Loaded with 64-bit fields as text: the ids come back as the strings they are.
      const idOf = (r: { watch_id: unknown }): string => String(r.watch_id);
      try {
        for (const id of [ABOVE_2_53, NEIGHBOUR]) {
          reader.send({ create_request: { key: Buffer.from(`w/${id}`), watch_id: id } });
          const created = await reader.next();
          assert.equal(idOf(created), id);
          assert.equal(created.canceled, false, `watch ${id} was created: ${created.cancel_reason}`);
        }
        await client.put(`w/${NEIGHBOUR}`).value('x');
        const event = await reader.next();
        assert.equal(idOf(event), NEIGHBOUR, 'the event names the watcher of that key');
        reader.send({ cancel_request: { watch_id: ABOVE_2_53 } });
        const cancelled = await reader.next();
        assert.deepEqual([idOf(cancelled), cancelled.canceled], [ABOVE_2_53, true]);
      } finally {
        reader.stream.end();
        raw.close();
      }
    });

    await t.test('after every member restarts (from a snapshot and the log), the leases are there under the same ids', async () => {
      // More writes than the snapshot interval, so the restart reads a snapshot with the leases in it.
      for (let i = 0; i < 12; i++) await client.put(`fill/${i}`).value('x');
      for (const name of cluster.names) await cluster.kill(name);
      for (const name of cluster.names) cluster.launch(name);
      await cluster.waitForLeader();
      const after = cluster.client(follower);
      assert.ok((cluster.seen.get('snapshot taken') ?? 0) > 0, 'a snapshot was taken before the restart');
      const listed = (await leaseClient(after).leaseLeases({})).leases.map((l) => String(l.ID)).sort();
      assert.deepEqual(listed, [ABOVE_2_53, INT64_MAX, NEGATIVE].sort());
      assert.equal(String((await after.get(`ids/${INT64_MAX}`).exec()).kvs[0]?.lease), INT64_MAX);
      const ttl = await leaseClient(after).leaseTimeToLive({ ID: ABOVE_2_53, keys: true });
      assert.equal(Number(ttl.grantedTTL), 600);
      await leaseClient(after).leaseRevoke({ ID: ABOVE_2_53 });
      assert.equal(await after.get(`ids/${ABOVE_2_53}`).string(), null);
    });

    await t.test('a member id beyond 2^53 that names no member: etcdserver: member not found', async () => {
      const client = cluster.client(follower); // the one before the restart was closed
      const members = (await client.cluster.memberList({})).members;
      const existing = BigInt(members[0]!.ID);
      // The ids next to a member's round to the same double when its id is above 2^53.
      for (const id of [existing + 1n, existing - 1n, 2n ** 64n - 1n]) {
        for (const call of [
          () => client.cluster.memberRemove({ ID: id.toString() }),
          () => client.cluster.memberPromote({ ID: id.toString() }),
          () => client.cluster.memberUpdate({ ID: id.toString(), peerURLs: ['http://127.0.0.1:1'] }),
        ]) {
          assert.match(await errorOf(call()), /etcdserver: member not found/, `member ${id}`);
        }
      }
      assert.equal((await client.cluster.memberList({})).members.length, 3, 'no member was removed');
    });
  } catch (err) {
    t.diagnostic(cluster.output.slice(-40).join('\n'));
    throw err;
  } finally {
    await cluster.stop();
  }
});
