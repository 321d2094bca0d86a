/**
 * Members of different builds in one cluster with member keys (an upgrade): a build from before
 * peer identity offers no signature and is refused by a newer listener; a newer dialer waits for a
 * challenge that an older listener without a secret never sends. Both ends must say so in words an
 * operator acts on (upgrade every member together), not only "configure member keys" or "no proof
 * of the secret" (neither of which is what is wrong). Real sockets on loopback.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { connect, createServer, type Socket } from 'node:net';
import { nodeId } from '../../src/core/ids.js';
import { pack, unpack } from '../../src/core/codec.js';
import { encodeFrame, FrameDecoder, PeerTransport } from '../../src/transport/index.js';
import { freshNonce, PEER_AUTH_MAGIC, peerProof } from '../../src/transport/peer-secret.js';
import { peerIdentityFromKeys } from '../../src/transport/peer-identity.js';
import { SECRET, until, type Msg } from './peer-fixtures.js';

function identities() {
  const keys = new Map(['a', 'b'].map((m) => [m, generateKeyPairSync('ed25519')]));
  const publicKeys = new Map([...keys].map(([m, k]) => [m, k.publicKey]));
  return (m: string) => peerIdentityFromKeys(keys.get(m)!.privateKey, publicKeys);
}

/** A raw dialer of a build from before peer identity (frame MACs, no identity): its hello, then its answer to the challenge (a right proof, or not). */
async function oldBuildDialer(port: number, rightProof: boolean): Promise<void> {
  const socket = connect({ host: '127.0.0.1', port });
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const nd = freshNonce();
  const decoder = new FrameDecoder(1024 * 1024);
  socket.on('data', (d: Buffer) => {
    for (const f of decoder.push(d)) {
      const nl = (unpack(f) as { nonce: Uint8Array }).nonce;
      socket.write(encodeFrame(pack({ magic: PEER_AUTH_MAGIC, proof: rightProof ? peerProof(SECRET, 'dialer', 'c1', 'a', 'b', nd, nl) : new Uint8Array(32) })));
    }
  });
  socket.once('connect', () => socket.write(encodeFrame(pack({ magic: 'QRT1', clusterId: 'c1', from: 'a', to: 'b', nonce: nd, frameMac: 1 }))));
  await closed;
}

test('a dialer of a build from before peer identity (its hello offers none) is refused by a listener with member keys once it proved the secret, with a log line that names the upgrade; one without the secret is counted as an auth failure, not as a member\'s', { timeout: 20_000 }, async () => {
  const logs: string[] = [];
  const b = await PeerTransport.start<Msg>({
    clusterId: 'c1', self: nodeId('b'), listen: { host: '127.0.0.1', port: 0 }, peers: new Map([[nodeId('a'), { host: '127.0.0.1', port: 1 }]]),
    secret: SECRET, identity: identities()('b'), logger: (level, message) => logs.push(`${level} ${message}`),
  }, () => {});
  try {
    // Whoever can reach the port, without the secret, sends the same hello: not a member's failure.
    await oldBuildDialer(b.address().port, false);
    assert.equal(b.stats().counters.authFailures, 1);
    assert.equal(b.stats().counters.identityFailures, 0, 'nothing proved it was a member');
    assert.ok(!logs.some((l) => /build from before peer identity/.test(l)), logs.join('\n'));
    await oldBuildDialer(b.address().port, true);
    assert.equal(b.stats().counters.identityFailures, 1);
    assert.ok(logs.some((l) => l.startsWith('warn') && /build from before peer identity/.test(l) && /upgrade/.test(l)), logs.join('\n'));
  } finally {
    await b.close();
  }
});

test('a dialer with member keys and no secret, at a listener of a build from before peer identity (it sends no challenge), gives up at handshakeTimeoutMs with a log line that names the upgrade', { timeout: 20_000 }, async () => {
  // An older build's listener without a secret: it takes the hello and sends nothing back.
  const accepted: Socket[] = [];
  const old = createServer((socket) => {
    socket.on('error', () => {});
    accepted.push(socket);
  });
  await new Promise<void>((r) => old.listen(0, '127.0.0.1', () => r()));
  const port = (old.address() as { port: number }).port;
  const logs: string[] = [];
  const a = await PeerTransport.start<Msg>({
    clusterId: 'c1', self: nodeId('a'), listen: { host: '127.0.0.1', port: 0 }, peers: new Map([[nodeId('b'), { host: '127.0.0.1', port }]]),
    identity: identities()('a'), limits: { handshakeTimeoutMs: 300 }, logger: (level, message) => logs.push(`${level} ${message}`),
  }, () => {});
  try {
    a.send({ from: nodeId('a'), to: nodeId('b'), n: 1 });
    await until('the dialer gave up', () => a.stats().counters.authFailures >= 1);
    assert.ok(logs.some((l) => l.startsWith('warn') && /member keys/.test(l) && /build from before peer identity/.test(l)), logs.join('\n'));
  } finally {
    await a.close();
    for (const s of accepted) s.destroy();
    await new Promise<void>((r) => old.close(() => r()));
  }
});
