/**
 * PBFT with too few members to make progress (two of four stopped, f = 1): every call is answered
 * with etcd's "request timed out" instead of hanging, /health answers 503 at once, and repeated
 * probes and calls leave nothing queued behind them.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Member } from '../../src/server/index.js';
import { pbftMembers } from './pbft-members.js';
import { rawClients } from './raw-clients.js';

/** The server's own request timeout (7 s, as etcd's) must come first: the client waits far longer. */
const CLIENT_DEADLINE_MS = 40_000;

test('PBFT not live: puts and linearizable reads answer "request timed out", /health answers 503, nothing stays queued', { timeout: 120_000 }, async () => {
  const cluster = await pbftMembers('pbft-not-live');
  const members: Member[] = await Promise.all(cluster.names.map((_, i) => cluster.start(i)));
  const client = cluster.client(0, CLIENT_DEADLINE_MS);
  // Raw calls: the etcd3 client would retry "request timed out" (UNAVAILABLE) and then trip its breaker.
  const raw = rawClients(cluster.clientUrl(0).replace('http://', ''), CLIENT_DEADLINE_MS);
  try {
    await client.put('before').value('1');
    await Promise.all([members[2]!.stop(), members[3]!.stop()]);
    const timedOut = (err: unknown) => {
      assert.match(String((err as Error).message), /etcdserver: request timed out/);
      return true;
    };
    const health = async () => {
      const res = await fetch(`${cluster.clientUrl(0)}/health`, { signal: AbortSignal.timeout(CLIENT_DEADLINE_MS) });
      return { status: res.status, body: await res.text() };
    };
    const probes = [health(), health(), health()];
    await Promise.all([
      assert.rejects(raw.kv.Put({ key: Buffer.from('after'), value: Buffer.from('2') }), timedOut),
      assert.rejects(raw.kv.Range({ key: Buffer.from('before') }), timedOut),
    ]);
    for (const probe of await Promise.all(probes)) {
      assert.equal(probe.status, 503);
      assert.match(probe.body, /"health":"false"/);
    }
    assert.equal(members[0]!.node.pendingProposals(), 0, 'every timed-out request and probe left the queue');
    const local = await raw.kv.Range({ key: Buffer.from('before'), serializable: true });
    assert.equal(String(local.kvs![0]!.value), '1', 'a serializable read is still served from local state');
  } finally {
    client.close();
    raw.close();
    await Promise.all(members.slice(0, 2).map((m) => m.stop()));
    cluster.remove();
  }
});
