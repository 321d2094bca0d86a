/**
 * Watch, Lease, Lock and Election of a 3-process cluster, end to end: through the `etcd3` npm
 * client (its watch, lease keep-alive, lock, election, STM and namespace features) and through
 * plain gRPC for what that client does not reach (watch ids, progress requests, fragments, the
 * server-side v3lock and v3election services).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { Etcd3, IKeyValue, Watcher } from 'etcd3';
import { ProcessCluster, errorOf } from './process-cluster.js';
import { rawClients, WatchReader, type PbResponse } from './raw-clients.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function eventually<T>(what: string, fn: () => Promise<T | null | undefined | false>, boundMs = 15_000): Promise<T> {
  const deadline = Date.now() + boundMs;
  for (;;) {
    const v = await fn().catch(() => null);
    if (v !== null && v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`not within ${boundMs} ms: ${what}`);
    await sleep(100);
  }
}

function collect(w: Watcher): { type: string; key: string; value: string; prev: string | null; rev: number }[] {
  const seen: { type: string; key: string; value: string; prev: string | null; rev: number }[] = [];
  const add = (type: string) => (kv: IKeyValue, prev?: IKeyValue) => {
    seen.push({ type, key: kv.key.toString(), value: kv.value.toString(), prev: prev === undefined || prev === null ? null : prev.value.toString(), rev: Number(kv.mod_revision) });
  };
  w.on('put', add('put'));
  w.on('delete', add('delete'));
  return seen;
}


/** Raft, the default, and VR (whose backups learn of commits from its primary's COMMITs). */
for (const protocol of ['raft', 'vr']) {
test(`Watch, Lease, Lock, Election through the etcd3 client and plain gRPC${protocol === 'raft' ? '' : ` (${protocol})`}`, { timeout: 180_000 }, async (t) => {
  const cluster = await ProcessCluster.start(3, ['--experimental-watch-progress-notify-interval', '1s', '--protocol', protocol]);
  const raws: ReturnType<typeof rawClients>[] = [];
  try {
    const leader = await cluster.waitForLeader();
    const followers = cluster.names.filter((n) => n !== leader);
    const onLeader: Etcd3 = cluster.client(leader);
    const onFollower: Etcd3 = cluster.client(followers[0]!);
    const raw = rawClients(cluster.endpoint(followers[1]!));
    raws.push(raw);

    await t.test('watch: prefix events with previous values, several watchers on one stream, a filter', async () => {
      const all = await onFollower.watch().prefix('w/').withPreviousKV().create();
      const deletesOnly = await onFollower.watch().prefix('w/').only('delete').create();
      const seenAll = collect(all);
      const seenDeletes = collect(deletesOnly);
      await onLeader.put('w/a').value('1');
      await onLeader.put('w/a').value('2');
      await onLeader.put('x/outside').value('no');
      await onLeader.delete().key('w/a');
      await eventually('three events', async () => seenAll.length >= 3 && seenDeletes.length >= 1);
      assert.deepEqual(seenAll.map((e) => [e.type, e.key, e.value, e.prev]), [
        ['put', 'w/a', '1', null], ['put', 'w/a', '2', '1'], ['delete', 'w/a', '', '2'],
      ]);
      assert.deepEqual(seenDeletes.map((e) => e.type), ['delete']);
      await all.cancel();
      await deletesOnly.cancel();
    });

    await t.test('watch: a start revision in the past replays history in order', async () => {
      const first = await onLeader.put('h/k').value('a');
      await onLeader.put('h/k').value('b');
      await onLeader.put('h/j').value('c');
      const w = await onFollower.watch().prefix('h/').startRevision(String(first.header.revision)).create();
      const seen = collect(w);
      await eventually('replay', async () => seen.length >= 3);
      assert.deepEqual(seen.map((e) => e.value), ['a', 'b', 'c']);
      for (let i = 1; i < seen.length; i++) assert.ok(seen[i]!.rev > seen[i - 1]!.rev);
      await w.cancel();
    });

    await t.test('watch: starting below the compaction revision cancels with etcd\'s reason', async () => {
      const r1 = await onLeader.put('cmp/k').value('1');
      await onLeader.put('cmp/k').value('2');
      const r3 = await onLeader.put('cmp/k').value('3');
      await onLeader.kv.compact({ revision: r3.header.revision });
      // A linearizable read through the follower waits until it applied everything the leader
      // had committed, the compaction included: a watch that reached it before it applied the
      // compaction would start at r1 without an error, as in etcd (seen once on a loaded run).
      await onFollower.get('cmp/k');
      const w = onFollower.watch().key('cmp/k').startRevision(String(r1.header.revision)).watcher();
      const [err] = (await once(w, 'error')) as [Error];
      assert.match(err.message, /etcdserver: mvcc: required revision has been compacted/);
      const reader = new WatchReader(raw.watch());
      reader.send({ create_request: { key: Buffer.from('cmp/k'), start_revision: Number(r1.header.revision) } });
      const created = await reader.next();
      assert.equal(created.created, true);
      const cancelled = await reader.next();
      assert.equal(cancelled.canceled, true);
      assert.equal(cancelled.compact_revision, Number(r3.header.revision));
      assert.equal(cancelled.cancel_reason, 'etcdserver: mvcc: required revision has been compacted');
      reader.stream.end();
    });

    await t.test('watch (gRPC): ids from 0 or chosen, duplicate id refused, progress request, cancel, fragments', async () => {
      const reader = new WatchReader(raw.watch());
      reader.send({ create_request: { key: Buffer.from('g/a') } });
      assert.equal((await reader.next()).watch_id, 0);
      reader.send({ create_request: { key: Buffer.from('g/b') } });
      assert.equal((await reader.next()).watch_id, 1);
      reader.send({ create_request: { key: Buffer.from('g/'), range_end: Buffer.from('g0'), watch_id: 42, fragment: true, prev_kv: true } });
      assert.equal((await reader.next()).watch_id, 42);
      reader.send({ create_request: { key: Buffer.from('g/c'), watch_id: 42 } });
      const dup = await reader.next();
      assert.equal(dup.canceled, true);
      assert.equal(dup.watch_id, -1);
      assert.equal(dup.cancel_reason, 'mvcc: duplicate watch ID provided on the WatchStream');
      const put = await onLeader.put('g/a').value('x');
      const events: PbResponse[] = [await reader.next(), await reader.next()];
      assert.deepEqual(events.map((e) => e.watch_id).sort((a, b) => a - b), [0, 42]);
      await eventually('the watched member applied the put', async () => Number((await raw.kv.Range({ key: Buffer.from('g/a'), serializable: true })).header.revision) >= Number(put.header.revision));
      // progress_notify: an idle watcher hears the revision it has reached, without events.
      reader.send({ create_request: { key: Buffer.from('g/quiet'), progress_notify: true, watch_id: 7 } });
      assert.equal((await reader.next()).watch_id, 7);
      const notified = await reader.next(5_000);
      assert.deepEqual([notified.watch_id, notified.events.length], [7, 0]);
      assert.ok(Number(notified.header.revision) >= Number(put.header.revision));
      reader.send({ cancel_request: { watch_id: 7 } });
      assert.equal((await reader.next()).canceled, true);
      reader.send({ progress_request: {} });
      const progress = await reader.next();
      assert.equal(progress.watch_id, -1);
      assert.ok(Number(progress.header.revision) >= Number(put.header.revision));
      assert.equal(progress.events.length, 0);
      reader.send({ cancel_request: { watch_id: 0 } });
      const cancelled = await reader.next();
      assert.deepEqual([cancelled.watch_id, cancelled.canceled], [0, true]);
      // One revision whose events exceed the request size limit (1.5 MiB) comes in fragments:
      // deleting three keys of 600 kB each, watched with prev_kv.
      const big = Buffer.alloc(600_000, 'v');
      await onLeader.put('g/f1').value(big);
      await onLeader.put('g/f2').value(big);
      await onLeader.put('g/f3').value(big);
      for (let i = 0; i < 3; i++) assert.equal((await reader.next()).fragment, false); // one put per response
      await onLeader.delete().prefix('g/f');
      const part1 = await reader.next();
      const part2 = await reader.next();
      assert.deepEqual([part1.fragment, part1.events.length, part2.fragment, part2.events.length], [true, 2, false, 1]);
      assert.ok([...part1.events, ...part2.events].every((e) => e.type === 'DELETE' && e.prev_kv?.value.length === 600_000));
      reader.stream.end();
    });

    await t.test('watch (gRPC): a consumer that stops reading falls behind, then gets every revision once, in order', async () => {
      const reader = new WatchReader(raw.watch());
      reader.send({ create_request: { key: Buffer.from('slow/'), range_end: Buffer.from('slow0') } });
      assert.equal((await reader.next()).created, true);
      reader.stream.pause(); // stop reading: gRPC flow control backs up to the server
      const value = Buffer.alloc(2_048, 's');
      const total = 2_500; // more than a watcher buffers (1 024 events): it must fall back to history
      const revisions: number[] = [];
      let next = 0;
      await Promise.all(Array.from({ length: 20 }, async () => {
        while (next < total) {
          const i = next++;
          revisions.push(Number((await onLeader.put(`slow/${i % 50}`).value(value)).header.revision));
        }
      }));
      const got: number[] = [];
      reader.stream.on('data', (r: PbResponse) => { for (const e of r.events) got.push(Number(e.kv.mod_revision)); });
      reader.stream.resume();
      const last = Math.max(...revisions);
      await eventually('the slow watcher catches up', async () => got.length >= total && got[got.length - 1] === last, 60_000);
      for (let i = 1; i < got.length; i++) assert.ok(got[i]! > got[i - 1]!, 'strictly increasing revisions');
      assert.deepEqual(got, [...revisions].sort((a, b) => a - b), 'exactly the acknowledged writes');
      reader.stream.end();
    });

    await t.test('lease: keep-alive keeps keys past the TTL; expiry and revoke delete them; TimeToLive and Leases', async () => {
      const kept = onFollower.lease(1);
      await kept.put('l/kept').value('alive');
      const dying = onFollower.lease(1, { autoKeepAlive: false });
      await dying.put('l/dying').value('soon');
      const dyingId = Number(await dying.grant());
      const ttl = await onLeader.leaseClient.leaseTimeToLive({ ID: dyingId, keys: true });
      assert.equal(Number(ttl.grantedTTL), 1);
      assert.deepEqual(ttl.keys.map((k) => k.toString()), ['l/dying']);
      const listed = await onLeader.leaseClient.leaseLeases({});
      assert.ok(listed.leases.some((l) => Number(l.ID) === dyingId));
      await eventually('the unrenewed lease expires', async () => (await onLeader.get('l/dying').string()) === null);
      assert.equal(Number((await onLeader.leaseClient.leaseTimeToLive({ ID: dyingId })).TTL), -1, 'an unknown lease has TTL -1');
      // Several TTLs later the renewed key is still there.
      await sleep(3_500);
      assert.equal(await onLeader.get('l/kept').string(), 'alive');
      assert.equal(kept.revoked(), false);
      await kept.revoke();
      assert.equal(await onLeader.get('l/kept').string(), null, 'revoke deletes attached keys');
      assert.match(await errorOf(onLeader.leaseClient.leaseRevoke({ ID: dyingId })), /etcdserver: requested lease not found/);
      assert.equal(await raw.keepAliveOnce(dyingId), 0, 'a keep-alive for an unknown lease answers TTL 0');
      assert.match(await errorOf(onLeader.put('l/x').value('1').lease(dyingId).exec()), /etcdserver: requested lease not found/);
      const once1 = onLeader.lease(30, { autoKeepAlive: false });
      const res = await once1.keepaliveOnce();
      assert.equal(Number(res.TTL), 30);
      await once1.revoke();
      // As etcd, a TTL below the minimum (1.5 election timeouts, here 500 ms, rounded up: 1 s) is raised to it.
      const tiny = await raw.lease.LeaseGrant({ TTL: 0 });
      assert.equal(Number(tiny.TTL), 1);
      await raw.lease.LeaseRevoke({ ID: tiny.ID });
      const chosen = await raw.lease.LeaseGrant({ TTL: 30, ID: 4242 });
      assert.equal(Number(chosen.ID), 4242, 'a client may choose the lease id');
      assert.match(await errorOf(raw.lease.LeaseGrant({ TTL: 30, ID: 4242 })), /etcdserver: lease already exists/);
      await raw.lease.LeaseRevoke({ ID: 4242 });
      const big = await errorOf(onLeader.leaseClient.leaseGrant({ TTL: 9_000_000_001 }));
      assert.match(big, /etcdserver: too large lease TTL/);
    });

    await t.test('lock (etcd3): a held lock refuses a second holder until released', async () => {
      const a = onLeader.lock('locks/res').ttl(5);
      await a.acquire();
      const b = onFollower.lock('locks/res').ttl(5);
      assert.match(await errorOf(b.acquire()), /Failed to acquire a lock/);
      await a.release();
      await b.acquire();
      await b.release();
    });

    await t.test('election (etcd3): one leader at a time, observers follow, resign hands over', async () => {
      const electionA = onLeader.election('el', 5);
      const electionB = onFollower.election('el', 5);
      const first = electionA.campaign('alice');
      await first.wait();
      const observer = await onFollower.election('el').observe();
      assert.equal(observer.leader(), 'alice');
      const second = electionB.campaign('bob');
      let secondElected = false;
      second.on('elected', () => { secondElected = true; });
      await sleep(500);
      assert.equal(secondElected, false, 'bob waits while alice leads');
      const changed = once(observer, 'change');
      await first.proclaim('alice2');
      assert.deepEqual(await changed, ['alice2']);
      await first.resign();
      await second.wait();
      assert.equal(await electionA.leader(), 'bob');
      await second.resign();
      await observer.cancel();
    });

    await t.test('STM (etcd3): concurrent read-modify-write transactions serialize', async () => {
      await onLeader.put('stm/counter').value('0');
      const increment = (client: Etcd3) => client.stm({ retries: 50 }).transact(async (tx) => {
        const v = Number(await tx.get('stm/counter').string());
        await tx.put('stm/counter').value(String(v + 1));
      });
      await Promise.all([increment(onLeader), increment(onFollower), increment(onLeader), increment(onFollower), increment(onLeader)]);
      assert.equal(await onLeader.get('stm/counter').string(), '5');
    });

    await t.test('namespace (etcd3): keys, watches and leases under a prefix', async () => {
      const ns = onFollower.namespace('tenant/');
      const w = await ns.watch().prefix('').create();
      const seen = collect(w);
      const lease = ns.lease(5);
      await lease.put('k').value('v');
      assert.equal(await onLeader.get('tenant/k').string(), 'v');
      assert.deepEqual(await ns.getAll().keys(), ['k']);
      await eventually('namespaced watch event', async () => seen.length >= 1);
      assert.equal(seen[0]!.key, 'k');
      await lease.revoke();
      await eventually('namespaced delete', async () => seen.length >= 2);
      assert.equal(seen[1]!.type, 'delete');
      await w.cancel();
    });

    await t.test('v3lock (gRPC): Lock waits for the holder; the key\'s create revision is a fencing token', async () => {
      const l1 = await raw.lease.LeaseGrant({ TTL: 10 });
      const l2 = await raw.lease.LeaseGrant({ TTL: 10 });
      const held = await raw.lock.Lock({ name: Buffer.from('fence'), lease: l1.ID });
      assert.ok(held.key.toString().startsWith('fence/'));
      let secondDone = false;
      const second = raw.lock.Lock({ name: Buffer.from('fence'), lease: l2.ID }).then((r) => { secondDone = true; return r; });
      await sleep(500);
      assert.equal(secondDone, false, 'the second locker waits');
      const token1 = (await raw.kv.Range({ key: held.key })).kvs[0]!.create_revision;
      await raw.lock.Unlock({ key: held.key });
      const next = await second;
      const token2 = (await raw.kv.Range({ key: next.key })).kvs[0]!.create_revision;
      assert.ok(token2 > token1, 'each holder gets a larger fencing token');
      await raw.lease.LeaseRevoke({ ID: l2.ID });
      assert.equal((await raw.kv.Range({ key: next.key })).kvs.length, 0, 'revoking the lease releases the lock');
      assert.match(await errorOf(raw.lock.Lock({ name: Buffer.from('fence'), lease: l2.ID })), /etcdserver: requested lease not found/);
      await raw.lease.LeaseRevoke({ ID: l1.ID });
    });

    await t.test('v3election (gRPC): Campaign, Leader, Proclaim, Observe, Resign', async () => {
      const name = Buffer.from('vote');
      const l1 = await raw.lease.LeaseGrant({ TTL: 10 });
      const l2 = await raw.lease.LeaseGrant({ TTL: 10 });
      assert.match(await errorOf(raw.election.Leader({ name })), /election: no leader/);
      const c1 = await raw.election.Campaign({ name, lease: l1.ID, value: Buffer.from('one') });
      assert.equal(Number(c1.leader.lease), Number(l1.ID));
      const observed: string[] = [];
      const obs = raw.election.Observe({ name });
      obs.on('data', (r: PbResponse) => observed.push(r.kv.value.toString()));
      obs.on('error', () => undefined);
      await eventually('observer sees the first leader', async () => observed.includes('one'));
      const c2p = raw.election.Campaign({ name, lease: l2.ID, value: Buffer.from('two') });
      await raw.election.Proclaim({ leader: c1.leader, value: Buffer.from('one-b') });
      assert.equal((await raw.election.Leader({ name })).kv.value.toString(), 'one-b');
      await eventually('observer sees the proclamation', async () => observed.includes('one-b'));
      await raw.election.Resign({ leader: c1.leader });
      const c2 = await c2p;
      assert.equal((await raw.election.Leader({ name })).kv.value.toString(), 'two');
      await eventually('observer sees the new leader', async () => observed.includes('two'));
      assert.match(await errorOf(raw.election.Proclaim({ leader: c1.leader, value: Buffer.from('stale') })), /election: not leader/);
      obs.cancel();
      await raw.election.Resign({ leader: c2.leader });
      await raw.lease.LeaseRevoke({ ID: l1.ID });
      await raw.lease.LeaseRevoke({ ID: l2.ID });
    });
  } finally {
    for (const r of raws) r.close();
    await cluster.stop();
  }
});
}
