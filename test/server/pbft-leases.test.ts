/**
 * Leases on PBFT: every member times them and a lease expires once f + 1 members proposed its
 * expiry (one lying member cannot break a lock by expiring a live lease), so a lease that is not
 * kept alive still goes, with a member down too.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import type { Member } from '../../src/server/index.js';
import { pbftMembers } from './pbft-members.js';

/** Far beyond a 2 s TTL plus the members' 250 ms lease checks and the ordering of f + 1 expiries. */
const EXPIRY_DEADLINE_MS = 30_000;

test('PBFT: a lease that is not kept alive expires (f + 1 members propose it), with one member down', { timeout: 90_000 }, async () => {
  const cluster = await pbftMembers('pbft-leases');
  const members: Member[] = await Promise.all(cluster.names.map((_, i) => cluster.start(i)));
  const client = cluster.client(1);
  try {
    await members[3]!.stop();
    const lease = client.lease(2, { autoKeepAlive: false });
    await lease.put('held').value('1');
    assert.equal(await client.get('held').string(), '1');
    const until = Date.now() + EXPIRY_DEADLINE_MS;
    while ((await client.get('held').string()) !== null) {
      assert.ok(Date.now() < until, `the key of an expired lease is still there after ${EXPIRY_DEADLINE_MS} ms`);
      await sleep(250);
    }
    const other = cluster.client(2);
    try {
      assert.equal(await other.get('held').string(), null, 'gone through another member too');
    } finally {
      other.close();
    }
  } finally {
    client.close();
    await Promise.all(members.slice(0, 3).map((m) => m.stop()));
    cluster.remove();
  }
});
