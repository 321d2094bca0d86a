/**
 * Large writes on PBFT: four in-process members (f = 1) on loopback, real crypto, the etcd3
 * client. 1 MiB values must commit: a request's signature and digest cover the digest of its
 * bytes (not a hex spelling twice its size), a pre-prepare is bounded in bytes so it fits a
 * transport frame, and the member's request pool backs off its rebroadcasts. A value above etcd's
 * request limit is refused with etcd's error.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Member } from '../../src/server/index.js';
import { pbftMembers } from './pbft-members.js';

const MiB = 1024 * 1024;

test('1 MiB values commit on a 4-replica PBFT cluster, one at a time and several at once', { timeout: 120_000 }, async () => {
  const cluster = await pbftMembers('pbft-large', undefined, { maxRequestBytes: 1.5 * MiB });
  const members: Member[] = await Promise.all(cluster.names.map((_, i) => cluster.start(i)));
  const clients = cluster.names.map((_, i) => cluster.client(i, 60_000));
  try {
    let started = performance.now();
    await clients[1]!.put('small').value('x');
    const smallMs = performance.now() - started;
    const value = Buffer.alloc(MiB, 7);
    started = performance.now();
    await clients[1]!.put('big').value(value);
    const oneMs = performance.now() - started;
    const read = await clients[3]!.get('big').buffer();
    assert.equal(read?.length, MiB);
    assert.ok(read!.equals(value));
    // Four at once (one through each member): without a byte bound they share one pre-prepare
    // of over 4 MiB, which the transport refuses to send.
    started = performance.now();
    await Promise.all(clients.map((c, i) => c.put(`big${i}`).value(Buffer.alloc(MiB, i))));
    const fourMs = performance.now() - started;
    for (let i = 0; i < 4; i++) assert.equal((await clients[(i + 1) % 4]!.get(`big${i}`).buffer())?.[0], i);
    const refused = members.map((m) => m.node.transportStats()?.counters.oversizedFramesSent ?? 0);
    console.log(`small put: ${smallMs.toFixed(0)} ms; one 1 MiB put: ${oneMs.toFixed(0)} ms; four concurrent 1 MiB puts: ${fourMs.toFixed(0)} ms; frames refused as too large: ${refused.join(',')}`);
    // Above etcd's limit: etcd's error, and the cluster keeps serving.
    await assert.rejects(async () => { await clients[0]!.put('huge').value(Buffer.alloc(1.6 * MiB)); }, /request is too large/);
    await clients[0]!.put('after').value('ok');
    assert.equal(await clients[2]!.get('after').string(), 'ok');
  } finally {
    for (const c of clients) c.close();
    await Promise.all(members.map((m) => m.stop()));
    cluster.remove();
  }
});
