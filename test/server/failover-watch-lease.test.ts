/**
 * A leader failover (SIGKILL) while watches, leases and locks are held on the surviving
 * members. What must hold across it:
 *  - watches: every acknowledged write is delivered to every watcher, each watcher's revisions
 *    strictly increase (nothing lost, nothing duplicated);
 *  - leases: a lease kept alive never expires; a long lease nobody renews is still there; a
 *    short one nobody renews is expired by the new leader, but not before its TTL has passed
 *    since it was requested (the new leader restarts lease clocks; it never expires early);
 *  - locks (v3lock): no two acquisitions share a fencing token, and tokens grow with each
 *    acquisition.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Etcd3 } from 'etcd3';
import { ProcessCluster } from './process-cluster.js';
import { rawClients, WatchReader, type PbResponse } from './raw-clients.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function retrying<T>(what: string, fn: () => Promise<T>, boundMs = 20_000): Promise<T> {
  const deadline = Date.now() + boundMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`${what}: still failing after ${boundMs} ms: ${(err as Error).message}`);
      await sleep(100);
    }
  }
}

/** Raft, the default, and VR (a primary per view, reads through an op of its view). */
for (const protocol of ['raft', 'vr']) {
test(`leader failover with watches, leases and locks held: nothing lost, duplicated, expired early or shared${protocol === 'raft' ? '' : ` (${protocol})`}`, { timeout: 150_000 }, async () => {
  const cluster = await ProcessCluster.start(3, ['--protocol', protocol]);
  const raws: ReturnType<typeof rawClients>[] = [];
  const closers: (() => Promise<void>)[] = [];
  try {
    const leader = await cluster.waitForLeader();
    const [f1, f2] = cluster.names.filter((n) => n !== leader) as [string, string];
    const c1 = rawClients(cluster.endpoint(f1));
    const c2 = rawClients(cluster.endpoint(f2));
    raws.push(c1, c2);

    // Watchers on both survivors, from the current revision.
    const start = Number((await c1.kv.Put({ key: Buffer.from('fo/start'), value: Buffer.from('x') })).header.revision) + 1;
    const watchRevisions = new Map<string, number[]>();
    const leasedDeletes: string[] = [];
    let shortExpiredAt: number | null = null;
    for (const [name, c] of [[f1, c1], [f2, c2]] as const) {
      const reader = new WatchReader(c.watch());
      reader.send({ create_request: { key: Buffer.from('fo/'), range_end: Buffer.from('fo0'), start_revision: start } });
      const revisions: number[] = [];
      watchRevisions.set(name, revisions);
      reader.stream.on('data', (r: PbResponse) => {
        for (const e of r.events ?? []) {
          revisions.push(Number(e.kv.mod_revision));
          if (e.type === 'DELETE' && e.kv.key.toString() === 'fo/short') shortExpiredAt ??= Date.now();
          else if (e.type === 'DELETE') leasedDeletes.push(`${name}: ${e.kv.key.toString()}`);
        }
      });
    }

    // And an etcd3 client that knows every member (with its own retries): if its watch stream
    // was on the leader, it resumes on a survivor from the last revision it saw + 1.
    const roaming = new Etcd3({ hosts: cluster.names.map((n) => `http://${cluster.endpoint(n)}`), dialTimeout: 2_000 });
    const roamingWatch = await roaming.watch().prefix('fo/').startRevision(String(start)).create();
    closers.push(async () => {
      await roamingWatch.cancel().catch(() => undefined);
      roaming.close();
    });
    const roamingRevisions: number[] = [];
    watchRevisions.set('etcd3 (any member)', roamingRevisions);
    roamingWatch.on('put', (kv) => roamingRevisions.push(Number(kv.mod_revision)));
    roamingWatch.on('delete', (kv) => {
      roamingRevisions.push(Number(kv.mod_revision));
      if (kv.key.toString() !== 'fo/short') leasedDeletes.push(`etcd3: ${kv.key.toString()}`);
    });

    // Leases: one kept alive through f1, one left alone with a long TTL.
    const kept = await c1.lease.LeaseGrant({ TTL: 4 });
    await c1.kv.Put({ key: Buffer.from('fo/kept'), value: Buffer.from('k'), lease: kept.ID });
    const idle = await c2.lease.LeaseGrant({ TTL: 40 });
    const idleGrantedAt = Date.now();
    await c2.kv.Put({ key: Buffer.from('fo/idle'), value: Buffer.from('i'), lease: idle.ID });
    // A short lease nobody renews, granted just before the failover: it must expire (the new
    // leader does it), but never before its TTL has passed since it was requested.
    const shortRequestedAt = Date.now();
    const short = await c2.lease.LeaseGrant({ TTL: 3 });
    await c2.kv.Put({ key: Buffer.from('fo/short'), value: Buffer.from('s'), lease: short.ID });
    let keepAlive = true;
    const t0 = Date.now();
    const keepAliveFoundNothing: number[] = [];
    const keeper = (async () => {
      while (keepAlive) {
        const ttl = await c1.keepAliveOnce(kept.ID).catch(() => null);
        if (ttl === 0) keepAliveFoundNothing.push(Date.now() - t0);
        await sleep(800);
      }
    })();

    // Writers through both survivors; every acknowledged revision is recorded.
    const acked: number[] = [];
    let writing = true;
    const writer = async (c: typeof c1, tag: string) => {
      for (let i = 0; writing; i++) {
        try {
          const r = await c.kv.Put({ key: Buffer.from(`fo/${tag}/${i % 5}`), value: Buffer.from(String(i)) });
          acked.push(Number(r.header.revision));
        } catch {
          await sleep(50);
        }
      }
    };
    const writers = [writer(c1, 'a'), writer(c2, 'b')];

    // Lockers on both survivors contend for one lock, each with its own lease.
    const acquisitions: { token: number; holder: string }[] = [];
    let locking = true;
    const locker = async (c: typeof c1, holder: string) => {
      const lease = await retrying('grant a locker lease', () => c.lease.LeaseGrant({ TTL: 10 }));
      while (locking) {
        try {
          const held = await c.lock.Lock({ name: Buffer.from('fo-lock'), lease: lease.ID });
          const token = (await c.kv.Range({ key: held.key })).kvs[0]?.create_revision;
          if (token !== undefined) acquisitions.push({ token: Number(token), holder });
          await sleep(30);
          await retrying('unlock', () => c.lock.Unlock({ key: held.key }));
        } catch {
          await sleep(50);
        }
      }
    };
    const lockers = [locker(c1, 'f1'), locker(c2, 'f2'), locker(c1, 'f1b')];

    await sleep(1_500);
    await cluster.kill(leader, 'SIGKILL');
    const newLeader = await cluster.waitForLeader();
    assert.notEqual(newLeader, leader);
    await sleep(6_000); // longer than the kept lease's TTL: it must survive on keep-alives alone

    writing = false;
    locking = false;
    await Promise.all([...writers, ...lockers]);
    keepAlive = false;
    await keeper;

    // Leases: nothing expired early.
    assert.ok(shortExpiredAt !== null, 'the unrenewed short lease expired (decided by the new leader)');
    assert.ok(shortExpiredAt - shortRequestedAt >= 3_000, `the short lease lasted its TTL: deleted ${shortExpiredAt - shortRequestedAt} ms after it was requested`);
    assert.deepEqual(keepAliveFoundNothing, [], `a keep-alive never finds the kept lease gone\n${cluster.output.filter((l) => /lease|leader/.test(l)).join('\n')}`);
    assert.deepEqual(leasedDeletes, [], `no leased key was deleted (watched on both survivors); keep-alives answered TTL 0 at ${keepAliveFoundNothing.join(', ')} ms\n${cluster.output.filter((l) => /lease|leader/.test(l)).join('\n')}`);
    assert.equal((await c2.kv.Range({ key: Buffer.from('fo/kept') })).kvs.length, 1, 'the kept-alive lease survived the failover');
    assert.ok(Date.now() - idleGrantedAt < 40_000, 'checked before the idle lease\'s own TTL ran out');
    assert.equal((await c2.kv.Range({ key: Buffer.from('fo/idle') })).kvs.length, 1, 'the idle lease did not expire early');
    const idleTtl = await c1.lease.LeaseTimeToLive({ ID: idle.ID });
    assert.ok(Number(idleTtl.TTL) > 0);

    // Watches: every acknowledged write delivered once, in order, to both watchers.
    const lastAcked = Math.max(...acked);
    assert.ok(acked.length > 20, `writes went through (${acked.length})`);
    for (const [name, revisions] of watchRevisions) {
      await retrying(`${name}'s watcher reaches ${lastAcked}`, async () => {
        if ((revisions[revisions.length - 1] ?? 0) < lastAcked) throw new Error(`at ${revisions[revisions.length - 1]}`);
      });
      // Every write under fo/ here is a single put, so each revision carries one event and the
      // revisions a watcher sees must strictly increase: a repeat would be a duplicate.
      for (let i = 1; i < revisions.length; i++) {
        assert.ok(revisions[i]! > revisions[i - 1]!, `${name}: revisions strictly increase (${revisions[i - 1]} then ${revisions[i]})`);
      }
      const seen = new Set(revisions);
      const missing = acked.filter((r) => !seen.has(r));
      assert.deepEqual(missing, [], `${name}: no acknowledged write missing from the watch`);
    }

    // Locks: fencing tokens unique and increasing in acquisition order.
    assert.ok(acquisitions.length >= 3, `the lock changed hands (${acquisitions.length} acquisitions)`);
    const tokens = acquisitions.map((a) => a.token);
    assert.equal(new Set(tokens).size, tokens.length, 'no two acquisitions share a fencing token');
    for (let i = 1; i < tokens.length; i++) assert.ok(tokens[i]! > tokens[i - 1]!, 'tokens grow with each acquisition');
  } finally {
    for (const r of raws) r.close();
    for (const c of closers) await c();
    await cluster.stop();
  }
});
}
