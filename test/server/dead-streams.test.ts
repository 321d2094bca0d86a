/**
 * A client that opens a stream and resets it in the same packet must not take the member down
 * (src/server/dead-streams.ts): grpc-js would answer the already-reset stream, and Node throws
 * from the event handler. Raw HTTP/2 frames against an in-process member, then a put and a get.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { startMember } from '../../src/server/index.js';
import { etcdService } from '../../src/server/proto.js';
import { freePort } from '../ports.js';
import { clientPreface, frame } from './http2-frames.js';

/** A literal header field without indexing, name and value spelt out (short strings only). */
function literal(name: string, value: string): Buffer {
  const n = Buffer.from(name);
  const v = Buffer.from(value);
  return Buffer.concat([Buffer.from([0x00, n.length]), n, Buffer.from([v.length]), v]);
}

/** Preface, SETTINGS, HEADERS for a POST to `path` and RST_STREAM (CANCEL) for it, in one write. */
function openAndReset(port: number, authority: string, path: string, contentType: string): Promise<void> {
  const block = Buffer.concat([Buffer.from([0x83, 0x86]), literal(':path', path), literal(':authority', authority),
    literal('content-type', contentType), literal('te', 'trailers')]);
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port }, () => {
      socket.write(Buffer.concat([clientPreface(), frame(0x1, 0x4, 1, block), frame(0x3, 0, 1, Buffer.from([0, 0, 0, 8]))]));
      setTimeout(() => socket.destroy(), 200);
    });
    socket.on('error', () => {});
    socket.on('close', () => resolve());
  });
}

test('a stream reset in the packet that opened it does not crash the member', { timeout: 60_000 }, async () => {
  const clientPort = await freePort();
  const peerPort = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'quorate-dead-streams-'));
  const client = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const member = await startMember({
    name: 'm1', protocol: 'raft', dataDir: join(dir, 'm1'), listenClientUrls: [client], advertiseClientUrls: [client], listenPeerUrls: [peer],
    initialAdvertisePeerUrls: [peer], initialCluster: `m1=${peer}`, initialClusterState: 'new', initialClusterToken: 'dead-streams',
    clientTls: null, peerTls: null, snapshotCount: 500, heartbeatIntervalMs: 50, electionTimeoutMs: 300,
    maxRequestBytes: 1.5 * 1024 * 1024, maxTxnOps: 128, logger: () => {},
  });
  const kv = new (etcdService('KV'))(`127.0.0.1:${clientPort}`, grpc.credentials.createInsecure());
  const call = <T>(method: 'Put' | 'Range', req: object): Promise<T> => new Promise((resolve, reject) =>
    (kv as unknown as Record<string, (...a: unknown[]) => void>)[method]!.call(kv, req, { deadline: Date.now() + 10_000 },
      (err: Error | null, res: T) => (err === null ? resolve(res) : reject(err))));
  try {
    // An unknown method (UNIMPLEMENTED), a wrong content-type (415), a known method; with a
    // host:port authority and with a URL one (rewritten by the client port's filter).
    for (const authority of [`127.0.0.1:${clientPort}`, client]) {
      await openAndReset(clientPort, authority, '/no.Such/Method', 'application/grpc');
      await openAndReset(clientPort, authority, '/etcdserverpb.KV/Range', 'text/plain');
      await openAndReset(clientPort, authority, '/etcdserverpb.KV/Range', 'application/grpc');
    }
    await new Promise((r) => setTimeout(r, 100));
    await call('Put', { key: Buffer.from('k'), value: Buffer.from('still here') });
    const got = await call<{ kvs: { value: Buffer }[] }>('Range', { key: Buffer.from('k') });
    assert.equal(got.kvs[0]?.value.toString(), 'still here');
  } finally {
    kv.close();
    await member.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
