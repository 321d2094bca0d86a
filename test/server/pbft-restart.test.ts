/**
 * PBFT members keep their protocol state on disk: a member stopped and started again on its data
 * directory comes back as the same replica (its log and its stable checkpoint), catches up, and
 * serves; a whole cluster stopped and started again still holds every acknowledged write.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Etcd3 } from 'etcd3';
import type { Member } from '../../src/server/index.js';
import { pbftMembers } from './pbft-members.js';

/** Sequential writes: more than one checkpoint interval of the node runtime (128), so a stable checkpoint is on disk. */
const WRITES = 300;

test('quorate serve --protocol pbft: a member restarted on its data directory, and then the whole cluster, keep every acknowledged write', { timeout: 180_000 }, async () => {
  const cluster = await pbftMembers('pbft-restart-test');
  const { names } = cluster;
  const start = (i: number): Promise<Member> => cluster.start(i);
  const client = (i: number) => cluster.client(i, 20_000);
  let members: (Member | null)[] = await Promise.all(names.map((_, i) => start(i)));
  const clients: Etcd3[] = [];
  const open = (i: number): Etcd3 => {
    const c = client(i);
    clients.push(c);
    return c;
  };
  try {
    const viaM2 = open(1);
    for (let i = 0; i < WRITES; i++) await viaM2.put(`k${i}`).value(`v${i}`);
    const snaps = join(cluster.dir, 'm3', 'pbft', 'snap');
    assert.ok(existsSync(snaps) && readdirSync(snaps).some((f) => f.endsWith('.snap')), 'm3 wrote a stable checkpoint as a snapshot');

    // One member down (f = 1): the others go on; back up, it catches up from its own log.
    await members[2]!.stop();
    members[2] = null;
    await viaM2.put('while-m3-was-down').value('yes');
    members[2] = await start(2);
    const viaM3 = open(2);
    assert.equal(await viaM3.get('while-m3-was-down').string(), 'yes');
    assert.equal(await viaM3.get(`k${WRITES - 1}`).string(), `v${WRITES - 1}`);
    await viaM3.put('after-m3-restart').value('yes');

    // Every member down, then up again from its data directory.
    await Promise.all(members.map((m) => m?.stop()));
    members = names.map(() => null);
    for (const c of clients.splice(0)) c.close();
    members = await Promise.all(names.map((_, i) => start(i)));
    const viaM4 = open(3);
    assert.equal(await viaM4.get('after-m3-restart').string(), 'yes');
    const all = await viaM4.getAll().prefix('k').strings();
    assert.equal(Object.keys(all).length, WRITES, 'every acknowledged write survived the restart');
    assert.equal(all['k0'], 'v0');
    await viaM4.put('after-full-restart').value('yes');
    assert.equal(await open(0).get('after-full-restart').string(), 'yes');
  } finally {
    for (const c of clients) c.close();
    await Promise.all(members.map((m) => m?.stop()));
    cluster.remove();
  }
});
