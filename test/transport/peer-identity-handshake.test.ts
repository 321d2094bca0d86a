/**
 * The member-key handshake against a raw dialer (member keys, no secret): a signature that is right
 * for another connection (replayed with its dialer nonce, or the listener's own nonce sent back as
 * the dialer's) is refused, and a dialer that names a member and then never answers, or answers in
 * pieces, is closed at handshakeTimeoutMs after TCP accepted it. Real sockets on loopback.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { nodeId } from '../../src/core/ids.js';
import { pack, unpack } from '../../src/core/codec.js';
import { encodeFrame, FrameDecoder, PeerTransport } from '../../src/transport/index.js';
import { freshNonce, PEER_AUTH_MAGIC } from '../../src/transport/peer-secret.js';
import { PEER_IDENTITY_VERSION, peerIdentityFromKeys, peerIdentityPayload, type PeerIdentity } from '../../src/transport/peer-identity.js';
import { until, type Msg } from './peer-fixtures.js';

const keys = new Map(['a', 'b'].map((m) => [m, generateKeyPairSync('ed25519')]));
const publicKeys = new Map([...keys].map(([m, k]) => [m, k.publicKey]));
const identityOf = (m: string): PeerIdentity => peerIdentityFromKeys(keys.get(m)!.privateKey, publicKeys);

async function listener(handshakeTimeoutMs = 5000) {
  const got: Msg[] = [];
  const b = await PeerTransport.start<Msg>({
    clusterId: 'c1', self: nodeId('b'), listen: { host: '127.0.0.1', port: 0 }, peers: new Map([[nodeId('a'), { host: '127.0.0.1', port: 1 }]]),
    identity: identityOf('b'), limits: { handshakeTimeoutMs },
  }, (m) => got.push(m));
  return { b, got };
}

/** A raw connection naming a (its nonce `nd`), resolving to the listener's challenge nonce. */
async function hello(port: number, nd: Uint8Array): Promise<{ s: Socket; nl: Uint8Array; closed: () => boolean }> {
  const s = connect({ host: '127.0.0.1', port });
  s.on('error', () => {});
  let closed = false;
  s.on('close', () => { closed = true; });
  const decoder = new FrameDecoder(1024 * 1024);
  const nl = new Promise<Uint8Array>((resolve) => s.on('data', (d: Buffer) => {
    for (const f of decoder.push(d)) resolve((unpack(f) as { nonce: Uint8Array }).nonce);
  }));
  await new Promise<void>((r) => s.once('connect', () => r()));
  s.write(encodeFrame(pack({ magic: 'QRT1', clusterId: 'c1', from: 'a', to: 'b', nonce: nd, identity: PEER_IDENTITY_VERSION })));
  return { s, nl: await nl, closed: () => closed };
}

const answer = (signature: Uint8Array): Buffer => encodeFrame(pack({ magic: PEER_AUTH_MAGIC, signature }));
const message = (n: number): Buffer => encodeFrame(pack({ from: 'a', to: 'b', n }));

test('with member keys: a right signature is taken; one made for another connection (its listener nonce, or the listener\'s nonce sent back as the dialer\'s) is refused', { timeout: 20_000 }, async () => {
  const { b, got } = await listener();
  const port = b.address().port;
  const a = identityOf('a');
  try {
    // A real answer: delivered.
    const nd = freshNonce();
    const first = await hello(port, nd);
    first.s.write(Buffer.concat([answer(a.sign(peerIdentityPayload('c1', 'a', 'b', nd, first.nl))), message(1)]));
    await until('the signed link delivered', () => got.length === 1);
    // The same answer (and dialer nonce) on a new connection: its listener nonce is fresh.
    const replay = await hello(port, nd);
    replay.s.write(Buffer.concat([answer(a.sign(peerIdentityPayload('c1', 'a', 'b', nd, first.nl))), message(2)]));
    await until('the replay refused', () => replay.closed());
    // The listener's nonce of one connection sent back as the dialer's nonce on another.
    const reflected = await hello(port, replay.nl);
    reflected.s.write(Buffer.concat([answer(a.sign(peerIdentityPayload('c1', 'a', 'b', nd, replay.nl))), message(3)]));
    await until('the reflection refused', () => reflected.closed());
    // Signed by the right key but as the listener (roles swapped): b's key, and a's name swapped.
    const swapped = await hello(port, nd);
    swapped.s.write(Buffer.concat([answer(identityOf('b').sign(peerIdentityPayload('c1', 'b', 'a', swapped.nl, nd))), message(4)]));
    await until('the swapped roles refused', () => swapped.closed());
    assert.deepEqual(got.map((m) => m.n), [1]);
    assert.equal(b.stats().counters.identityFailures, 3);
    first.s.destroy();
  } finally {
    await b.close();
  }
});

test('with member keys: a dialer that names a member and never answers, or sends half an answer, is closed at handshakeTimeoutMs and counted', { timeout: 20_000 }, async () => {
  const { b, got } = await listener(400);
  const port = b.address().port;
  try {
    const silent = await hello(port, freshNonce());
    const half = await hello(port, freshNonce());
    const frame = answer(identityOf('a').sign(peerIdentityPayload('c1', 'a', 'b', freshNonce(), half.nl)));
    half.s.write(frame.subarray(0, frame.length - 10));
    const t0 = Date.now();
    await until('both closed', () => silent.closed() && half.closed(), 5000);
    assert.ok(Date.now() - t0 < 2000, 'closed at the handshake deadline');
    const k = b.stats().counters;
    assert.equal(k.handshakeTimeouts, 2);
    assert.equal(k.authFailures, 2, 'counted as failed proofs: each was challenged');
    assert.equal(got.length, 0);
  } finally {
    await b.close();
  }
});
