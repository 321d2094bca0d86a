/**
 * With auth enabled, the reads that do not go through the KV service are checked as a Range
 * would be: Election.Leader and Election.Observe (the leader's key and value) and
 * LeaseTimeToLive with keys (the attached key names: etcd's CVE-2023-32082).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { ProcessCluster, errorOf } from './process-cluster.js';
import { etcdService, electionService } from '../../src/server/proto.js';
import { addRoot, rawUnary } from './raw-clients.js';

type Response = Record<string, unknown>;
const rawCall = (address: string, Ctor: grpc.ServiceClientConstructor, method: string, request: unknown): Promise<Response> => rawUnary(address, Ctor, method, request);

function firstObserved(address: string, name: Buffer): Promise<Response> {
  const client = new (electionService())(address, grpc.credentials.createInsecure());
  const call = (client as unknown as { Observe(r: unknown, md: grpc.Metadata, o: grpc.CallOptions): grpc.ClientReadableStream<Response> })
    .Observe({ name }, new grpc.Metadata(), { deadline: Date.now() + 8_000 });
  return new Promise((resolve, reject) => {
    call.on('data', (r: Response) => { resolve(r); call.cancel(); client.close(); });
    call.on('error', (e) => { client.close(); reject(e); });
  });
}

test('auth on: anonymous Election.Leader, Election.Observe and LeaseTimeToLive(keys) are refused like a Range', { timeout: 120_000 }, async (t) => {
  const cluster = await ProcessCluster.start(1);
  try {
    const m = cluster.names[0]!;
    const ep = cluster.endpoint(m);
    const anon = cluster.client(m);
    await addRoot(anon);
    const { ID: lease } = await rawCall(ep, etcdService('Lease'), 'LeaseGrant', { TTL: 600 });
    await rawCall(ep, etcdService('KV'), 'Put', { key: Buffer.from('/secret/db-password'), value: Buffer.from('hunter2'), lease });
    await anon.auth.authEnable({});
    const refused = /etcdserver: user name is empty/;
    await t.test('a Range of the key is refused', async () => {
      assert.match(await errorOf(rawCall(ep, etcdService('KV'), 'Range', { key: Buffer.from('/secret/db-password') })), refused);
    });
    await t.test('Election.Leader of "/secret" is refused', async () => {
      assert.match(await errorOf(rawCall(ep, electionService(), 'Leader', { name: Buffer.from('/secret') })), refused);
    });
    await t.test('Election.Observe of "/secret" is refused', async () => {
      assert.match(await errorOf(firstObserved(ep, Buffer.from('/secret'))), refused);
    });
    await t.test('LeaseTimeToLive with keys is refused; without keys it answers', async () => {
      assert.match(await errorOf(rawCall(ep, etcdService('Lease'), 'LeaseTimeToLive', { ID: lease, keys: true })), refused);
      assert.ok(Number((await rawCall(ep, etcdService('Lease'), 'LeaseTimeToLive', { ID: lease })).TTL) > 0);
    });
    anon.close();
  } finally {
    await cluster.stop();
  }
});
