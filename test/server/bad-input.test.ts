/**
 * Bad input on both ports of a running member: it answers with a clear error or closes that
 * one connection, keeps serving, and loses nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { encode } from '@msgpack/msgpack';
import { encodeFrame } from '../../src/transport/frame.js';
import { ProcessCluster } from './process-cluster.js';

/** Send bytes, resolve when the other side closes the connection (or after a bound). */
function sendAndWaitForClose(port: number, bytes: Buffer, boundMs = 10_000): Promise<'closed' | 'still open'> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(bytes));
    const timer = setTimeout(() => { socket.destroy(); resolve('still open'); }, boundMs);
    socket.on('data', () => {});
    socket.on('error', () => {});
    socket.on('close', () => { clearTimeout(timer); resolve('closed'); });
  });
}

function rawUnary(address: string, method: string, body: Buffer): Promise<grpc.ServiceError | null> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  return new Promise((resolve) => {
    client.makeUnaryRequest(method, (b: Buffer) => b, (b: Buffer) => b, body, { deadline: Date.now() + 5_000 }, (err) => {
      client.close();
      resolve(err);
    });
  });
}

test('bad input: garbage, oversized frames, a wrong cluster and a hello naming the member itself on the peer port; malformed and oversized gRPC requests; the member keeps serving and loses nothing', { timeout: 90_000 }, async (t) => {
  const cluster = await ProcessCluster.start(3);
  try {
    const target = cluster.names[0]!;
    const peerPort = cluster.peerPort(target);
    const etcd = cluster.client(target);
    for (let i = 0; i < 20; i++) await etcd.put(`keep/${i}`).value(String(i));

    await t.test('peer port: garbage bytes close the connection', async () => {
      assert.equal(await sendAndWaitForClose(peerPort, Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n\u0000\u00ff garbage')), 'closed');
    });
    await t.test('peer port: a frame longer than the limit closes the connection before its body is read', async () => {
      const header = Buffer.alloc(4);
      header.writeUInt32BE(0x7fffffff);
      assert.equal(await sendAndWaitForClose(peerPort, header), 'closed');
    });
    await t.test('peer port: a handshake from another cluster is refused', async () => {
      const hello = encodeFrame(encode({ magic: 'QRT1', clusterId: 'some-other-cluster', from: 'm2', to: target }));
      assert.equal(await sendAndWaitForClose(peerPort, hello), 'closed');
    });
    await t.test('peer port: a handshake naming the member itself, or no member, is refused', async () => {
      // (A member the configuration does not show yet is taken, as an unauthenticated peer port takes
      // anyone who names a member: see "The peer port is a member's trust boundary" and peer-unknown.test.ts.)
      const status = await etcd.maintenance.status({});
      for (const from of [target, '']) {
        const hello = encodeFrame(encode({ magic: 'QRT1', clusterId: status.header.cluster_id, from, to: target }));
        assert.equal(await sendAndWaitForClose(peerPort, hello), 'closed');
      }
    });
    await t.test('client port: a request that is not valid protobuf gets an error status', async () => {
      const err = await rawUnary(cluster.endpoint(target), '/etcdserverpb.KV/Put', Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]));
      assert.ok(err !== null && err.code !== grpc.status.OK, 'refused');
    });
    await t.test('client port: a request above the gRPC size limit is refused with RESOURCE_EXHAUSTED', async () => {
      const err = await rawUnary(cluster.endpoint(target), '/etcdserverpb.KV/Put', Buffer.alloc(3 * 1024 * 1024, 1));
      assert.equal(err?.code, grpc.status.RESOURCE_EXHAUSTED);
    });
    await t.test('client port: an unknown method is UNIMPLEMENTED', async () => {
      const err = await rawUnary(cluster.endpoint(target), '/etcdserverpb.KV/NoSuchMethod', Buffer.alloc(0));
      assert.equal(err?.code, grpc.status.UNIMPLEMENTED);
    });
    await t.test('client port: plain HTTP garbage closes only that connection', async () => {
      assert.equal(await sendAndWaitForClose(cluster.clientPort(target), Buffer.from('hello there\r\n\r\n'.repeat(100))), 'closed');
    });

    await t.test('afterwards the member still serves reads and writes, with nothing lost', async () => {
      assert.ok(cluster.isRunning(target));
      await etcd.put('after').value('ok');
      assert.equal(await etcd.get('after').string(), 'ok');
      assert.equal(await etcd.getAll().prefix('keep/').count(), 20);
    });
  } finally {
    await cluster.stop();
  }
});
