/**
 * Peer authentication with a shared cluster secret (issue 15): both sides prove the secret at
 * the handshake with fresh nonces; a peer with the wrong secret or none is refused and counted,
 * a recorded proof cannot be replayed, and no frame of an unauthenticated connection is delivered.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer, type Socket } from 'node:net';
import { pack, unpack } from '../../src/core/codec.js';
import { nodeId } from '../../src/core/ids.js';
import { encodeFrame, FrameDecoder, PeerTransport } from '../../src/transport/index.js';
import { encodeSealableFrame, FrameSealer } from '../../src/transport/frame-mac.js';
import { freshNonce, peerFrameKey, peerProof, peerSecretFromFile, PEER_AUTH_MAGIC, PEER_FRAME_MAC_VERSION } from '../../src/transport/peer-secret.js';
import { SECRET, sleep, until, type Msg } from './peer-fixtures.js';

const OTHER = new TextEncoder().encode('not the cluster secret at all...');

/** b listens with `secret`; a dials it with `dialerSecret`. */
async function pair(secret: Uint8Array | null, dialerSecret: Uint8Array | null) {
  const got: Msg[] = [];
  const b = await PeerTransport.start<Msg>({ clusterId: 'c1', self: nodeId('b'), listen: { host: '127.0.0.1', port: 0 }, peers: new Map(), secret, limits: { handshakeTimeoutMs: 1000 } }, (m) => got.push(m));
  const a = await PeerTransport.start<Msg>({
    clusterId: 'c1', self: nodeId('a'), listen: { host: '127.0.0.1', port: 0 }, peers: new Map([[nodeId('b'), b.address()]]), secret: dialerSecret, limits: { handshakeTimeoutMs: 1000 },
  }, () => {});
  b.setPeers(new Map([[nodeId('a'), a.address()]]));
  return { a, b, got, async close() { await a.close(); await b.close(); } };
}

test('two members with the same secret talk', { timeout: 20_000 }, async () => {
  const p = await pair(SECRET, SECRET);
  try {
    p.a.send({ from: nodeId('a'), to: nodeId('b'), n: 1 });
    await until('delivered', () => p.got.length === 1);
    assert.equal(p.b.stats().counters.authFailures, 0);
    assert.equal(p.a.stats().counters.authFailures, 0);
  } finally {
    await p.close();
  }
});

test('a dialer with the wrong secret is refused: it cannot verify the listener, and nothing is delivered', { timeout: 20_000 }, async () => {
  const p = await pair(SECRET, OTHER);
  try {
    p.a.send({ from: nodeId('a'), to: nodeId('b'), n: 1 });
    await until('the dialer refused the listener', () => p.a.stats().counters.authFailures >= 1);
    await sleep(200);
    assert.equal(p.got.length, 0);
  } finally {
    await p.close();
  }
});

test('a dialer without the secret is refused by a listener that has one, and nothing is delivered', { timeout: 20_000 }, async () => {
  const p = await pair(SECRET, null);
  try {
    p.a.send({ from: nodeId('a'), to: nodeId('b'), n: 1 });
    await until('the listener refused the dialer', () => p.b.stats().counters.authFailures >= 1);
    await sleep(200);
    assert.equal(p.got.length, 0);
  } finally {
    await p.close();
  }
});

/**
 * A raw dialer: sends its hello as `a` with `nonce` (and the frame-MAC version, unless `frameMac` is
 * null: a build without frame MACs), returns the listener's challenge (or null if it closed instead).
 */
async function rawHello(
  port: number, nonce: Uint8Array, frameMac: number | null = PEER_FRAME_MAC_VERSION,
): Promise<{ socket: Socket; challenge: { nonce: Uint8Array; proof: Uint8Array; frameMac?: unknown }; closed: Promise<void> }> {
  const socket = connect({ host: '127.0.0.1', port });
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  const decoder = new FrameDecoder(1024);
  const challenge = new Promise<{ nonce: Uint8Array; proof: Uint8Array }>((resolve) => socket.on('data', (d: Buffer) => {
    const f = decoder.push(d)[0];
    if (f !== undefined) resolve(unpack(f) as { nonce: Uint8Array; proof: Uint8Array });
  }));
  socket.write(encodeFrame(pack({ magic: 'QRT1', clusterId: 'c1', from: 'a', to: 'b', nonce, ...(frameMac === null ? {} : { frameMac }) })));
  return { socket, challenge: await challenge, closed };
}

test('a raw peer that answers the challenge right is delivered; its recorded answer replayed on a new connection is refused', { timeout: 20_000 }, async () => {
  const p = await pair(SECRET, SECRET);
  try {
    const port = p.b.address().port;
    const payload = pack({ from: 'a', to: 'b', n: 7 });
    const message = encodeFrame(payload);
    // A bad proof: refused, and the frame behind it never delivered.
    const bad = await rawHello(port, freshNonce());
    bad.socket.write(Buffer.concat([encodeFrame(pack({ magic: PEER_AUTH_MAGIC, proof: new Uint8Array(32) })), message]));
    await bad.closed;
    assert.equal(p.b.stats().counters.authFailures, 1);
    assert.equal(p.got.length, 0);
    // A good one: the listener's proof verifies, the answer is accepted, the frame delivered.
    const nonce = freshNonce();
    const good = await rawHello(port, nonce);
    assert.deepEqual(Buffer.from(good.challenge.proof), peerProof(SECRET, 'listener', 'c1', 'b', 'a', nonce, good.challenge.nonce), 'the listener proved the secret');
    assert.equal(good.challenge.frameMac, PEER_FRAME_MAC_VERSION, 'the listener announces frame MACs');
    const answer = encodeFrame(pack({ magic: PEER_AUTH_MAGIC, proof: peerProof(SECRET, 'dialer', 'c1', 'a', 'b', nonce, good.challenge.nonce) }));
    // After the handshake every frame carries its MAC, under this connection's key, counter 0.
    const sealed = encodeSealableFrame(payload);
    new FrameSealer(peerFrameKey(SECRET, 'dialer-to-listener', 'c1', 'a', 'b', nonce, good.challenge.nonce)).seal(sealed);
    good.socket.write(Buffer.concat([answer, sealed]));
    await until('delivered', () => p.got.length === 1);
    good.socket.destroy();
    // Replay: the same hello nonce and the same answer on a new connection (the listener's nonce is fresh).
    const replay = await rawHello(port, nonce);
    assert.notDeepEqual(Buffer.from(replay.challenge.nonce), Buffer.from(good.challenge.nonce), 'a fresh listener nonce');
    replay.socket.write(Buffer.concat([answer, sealed]));
    await replay.closed;
    assert.equal(p.b.stats().counters.authFailures, 2);
    assert.equal(p.got.length, 1, 'the replayed connection delivered nothing');
  } finally {
    await p.close();
  }
});

test('a secret file: trailing line breaks dropped, a short secret refused', () => {
  assert.deepEqual(Buffer.from(peerSecretFromFile(Buffer.from('0123456789abcdef0123\n'))).toString(), '0123456789abcdef0123');
  assert.throws(() => peerSecretFromFile(Buffer.from('short\n')), /at least 16/);
});

test('a dialer of a build without frame MACs (same secret) is refused at its hello, with a log line that says so', { timeout: 20_000 }, async () => {
  const logs: string[] = [];
  const b = await PeerTransport.start<Msg>({
    clusterId: 'c1', self: nodeId('b'), listen: { host: '127.0.0.1', port: 0 }, peers: new Map([[nodeId('a'), { host: '127.0.0.1', port: 1 }]]), secret: SECRET,
    limits: { handshakeTimeoutMs: 1000 }, logger: (level, message) => logs.push(`${level} ${message}`),
  }, () => {});
  try {
    const socket = connect({ host: '127.0.0.1', port: b.address().port });
    socket.on('error', () => {});
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    let answered = false;
    socket.on('data', () => (answered = true));
    // Exactly an older build's hello: a nonce, no frame-MAC version.
    socket.once('connect', () => socket.write(encodeFrame(pack({ magic: 'QRT1', clusterId: 'c1', from: 'a', to: 'b', nonce: freshNonce() }))));
    await closed;
    assert.equal(answered, false, 'no challenge for it');
    assert.equal(b.stats().counters.authFailures, 1);
    assert.ok(logs.some((l) => l.startsWith('warn') && /member a runs a build without frame MACs/.test(l) && /upgrade notes/.test(l)), logs.join('\n'));
  } finally {
    await b.close();
  }
});

test('a listener of a build without frame MACs (same secret, a valid proof) is refused by the dialer, with a log line that says so, and sent nothing', { timeout: 20_000 }, async () => {
  // An older build's listener: it proves the secret but its challenge offers no frame MACs.
  const received: Buffer[] = [];
  const old = createServer((socket) => {
    socket.on('error', () => {});
    const decoder = new FrameDecoder(1024 * 1024);
    let hello: { nonce: Uint8Array } | null = null;
    socket.on('data', (d: Buffer) => {
      for (const f of decoder.push(d)) {
        if (hello !== null) {
          received.push(f);
          continue;
        }
        hello = unpack(f) as { nonce: Uint8Array };
        const mine = freshNonce();
        socket.write(encodeFrame(pack({ magic: PEER_AUTH_MAGIC, nonce: mine, proof: peerProof(SECRET, 'listener', 'c1', 'b', 'a', hello.nonce, mine) })));
      }
    });
  });
  await new Promise<void>((resolve) => old.listen(0, '127.0.0.1', () => resolve()));
  const logs: string[] = [];
  const a = await PeerTransport.start<Msg>({
    clusterId: 'c1', self: nodeId('a'), listen: { host: '127.0.0.1', port: 0 }, peers: new Map([[nodeId('b'), { host: '127.0.0.1', port: (old.address() as { port: number }).port }]]),
    secret: SECRET, limits: { handshakeTimeoutMs: 1000 }, logger: (level, message) => logs.push(`${level} ${message}`),
  }, () => {});
  try {
    a.send({ from: nodeId('a'), to: nodeId('b'), n: 1 });
    await until('the dialer refused', () => a.stats().counters.authFailures >= 1);
    await sleep(100);
    assert.deepEqual(received, [], 'no answer and no message reached the old listener');
    assert.ok(logs.some((l) => l.startsWith('warn') && /peer b: the peer runs a build without frame MACs/.test(l) && /upgrade notes/.test(l)), logs.join('\n'));
  } finally {
    await a.close();
    await new Promise<void>((resolve) => old.close(() => resolve()));
  }
});
