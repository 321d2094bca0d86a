/**
 * --max-request-bytes as etcd applies it, through the etcd3 client against in-process members:
 * the limit is on the request as the client sent it (not on quorate's log encoding of it), it
 * is checked before anything else, and the protocol's own command limit follows it, so a raised
 * flag lets a large put through on every protocol.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Etcd3 } from 'etcd3';
import { startMember, type Member } from '../../src/server/index.js';
import { errorOf, freePort } from './process-cluster.js';
import { pbftMembers } from './pbft-members.js';

const MiB = 1024 * 1024;
const LIMIT = 4 * MiB;

interface Cluster {
  readonly members: Member[];
  client(i: number): Etcd3;
  stop(): Promise<void>;
}

/** Three in-process members of a crash-fault protocol (four of PBFT), every one with --max-request-bytes=LIMIT. */
async function startCluster(protocol: string): Promise<Cluster> {
  const clients: Etcd3[] = [];
  const newClient = (url: string): Etcd3 => {
    const c = new Etcd3({ hosts: url, defaultCallOptions: () => ({ deadline: Date.now() + 60_000 }) });
    clients.push(c);
    return c;
  };
  if (protocol === 'pbft') {
    const pbft = await pbftMembers('pbft-size', undefined, { maxRequestBytes: LIMIT });
    const members = await Promise.all(pbft.names.map((_, i) => pbft.start(i)));
    return {
      members,
      client: (i) => { const c = pbft.client(i, 60_000); clients.push(c); return c; },
      stop: async () => { for (const c of clients) c.close(); await Promise.all(members.map((m) => m.stop())); pbft.remove(); },
    };
  }
  const names = ['m1', 'm2', 'm3'];
  const ports: number[] = [];
  for (let i = 0; i < 2 * names.length; i++) ports.push(await freePort());
  const peer = (i: number) => `http://127.0.0.1:${ports[names.length + i]!}`;
  const clientUrl = (i: number) => `http://127.0.0.1:${ports[i]!}`;
  const dir = mkdtempSync(join(tmpdir(), `quorate-size-${protocol}-`));
  const members = await Promise.all(names.map((name, i) => startMember({
    name, protocol, dataDir: join(dir, name), listenClientUrls: [clientUrl(i)], advertiseClientUrls: [clientUrl(i)], listenPeerUrls: [peer(i)],
    initialAdvertisePeerUrls: [peer(i)], initialCluster: names.map((n, j) => `${n}=${peer(j)}`).join(','), initialClusterState: 'new',
    initialClusterToken: `size-${protocol}`, clientTls: null, peerTls: null, snapshotCount: 1000, heartbeatIntervalMs: 50, electionTimeoutMs: 500,
    maxRequestBytes: LIMIT, maxTxnOps: 128, logger: () => {},
  })));
  return {
    members,
    client: (i) => newClient(clientUrl(i)),
    stop: async () => { for (const c of clients) c.close(); await Promise.all(members.map((m) => m.stop())); rmSync(dir, { recursive: true, force: true }); },
  };
}

for (const protocol of ['raft', 'multipaxos', 'pbft']) {
  test(`${protocol}: --max-request-bytes raised to 4 MiB lets a 3 MiB put through; above it, etcd's error first`, { timeout: 180_000 }, async () => {
    const cluster = await startCluster(protocol);
    try {
      const writer = cluster.client(1);
      const value = Buffer.alloc(3 * MiB, 5);
      await writer.put('big').value(value);
      const read = await cluster.client(2).get('big').buffer();
      assert.ok(read?.equals(value), 'the 3 MiB value reads back from another member');

      // Over the limit as sent (under gRPC's receive limit, 512 KiB more): etcd's error, before
      // the duplicate key in it is even looked at.
      const half = Buffer.alloc(LIMIT / 2 + 1024, 1);
      assert.match(await errorOf(writer.kv.txn({ success: [
        { request_put: { key: Buffer.from('d'), value: half } },
        { request_put: { key: Buffer.from('d'), value: half } },
      ] })), /etcdserver: request is too large/);

      // Just under the limit as sent, though its log encoding (with field names) is over it.
      const ops = 128;
      const perValue = Math.floor((LIMIT - 4096) / ops) - 19; // each op costs its value plus 19 bytes of protobuf
      const txn = await writer.kv.txn({ success: Array.from({ length: ops }, (_, i) => (
        { request_put: { key: Buffer.from(`t/${String(i).padStart(3, '0')}`), value: Buffer.alloc(perValue, i) } })) });
      assert.equal(txn.succeeded, true);
      assert.equal((await cluster.client(0).get('t/127').buffer())?.length, perValue);
      await writer.put('after').value('ok');
    } finally {
      await cluster.stop();
    }
  });
}
