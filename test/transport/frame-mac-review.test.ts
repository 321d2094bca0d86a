/**
 * Review of peer frame MACs (issue 15 item 2), from the attacker's side: what reaches a core
 * unauthenticated, what a listener keeps for a peer that has proven nothing, and what a bad limit
 * does. Raw sockets play the attacker (or a member that holds the secret, to build valid frames).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer, type Socket } from 'node:net';
import { pack, unpack } from '../../src/core/codec.js';
import { nodeId } from '../../src/core/ids.js';
import { encodeFrame, FrameDecoder, JOIN_QUERY_MAGIC, PeerTransport } from '../../src/transport/index.js';
import { encodeSealableFrame, FrameSealer } from '../../src/transport/frame-mac.js';
import { freshNonce, joinProof, peerFrameKey, peerProof, PEER_AUTH_MAGIC, PEER_FRAME_MAC_VERSION } from '../../src/transport/peer-secret.js';
import { SECRET, sleep, until, type Msg } from './peer-fixtures.js';

/** A fake b on loopback: `onSocket` takes each connection; close() drops every connection and stops listening. */
async function fakeB(onSocket: (socket: Socket) => void, allowHalfOpen = false): Promise<{ readonly port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen }, (socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    onSocket(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.address() as { port: number }).port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** b listens with the secret and knows a; what b delivers is kept. */
async function listenerB(limits: Record<string, number> = {}) {
  const got: Msg[] = [];
  const b = await PeerTransport.start<Msg>({
    clusterId: 'c1', self: nodeId('b'), listen: { host: '127.0.0.1', port: 0 }, peers: new Map([[nodeId('a'), { host: '127.0.0.1', port: 1 }]]),
    secret: SECRET, limits: { handshakeTimeoutMs: 1000, ...limits },
  }, (m) => got.push(m));
  return { b, got, port: b.address().port };
}

/** A raw connection to `port`: its frames as they arrive, and whether it closed. */
async function raw(port: number) {
  const socket = connect({ host: '127.0.0.1', port });
  socket.on('error', () => {});
  let isClosed = false;
  const closed = new Promise<void>((resolve) => socket.once('close', () => {
    isClosed = true;
    resolve();
  }));
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  const decoder = new FrameDecoder(1024 * 1024);
  const frames: unknown[] = [];
  socket.on('data', (d: Buffer) => {
    for (const f of decoder.push(d)) frames.push(unpack(f));
  });
  return { socket, frames, closed, isClosed: () => isClosed };
}

const hello = (nonce: Uint8Array) => encodeFrame(pack({ magic: 'QRT1', clusterId: 'c1', from: 'a', to: 'b', nonce, frameMac: PEER_FRAME_MAC_VERSION }));

/** Handshakes as a (holding the secret) with b: the answer frame and a sealer for the data frames. */
async function handshakeAsA(port: number) {
  const c = await raw(port);
  const nonce = freshNonce();
  c.socket.write(hello(nonce));
  await until('the challenge', () => c.frames.length >= 1);
  const challenge = c.frames[0] as { nonce: Uint8Array };
  const answer = encodeFrame(pack({ magic: PEER_AUTH_MAGIC, proof: peerProof(SECRET, 'dialer', 'c1', 'a', 'b', nonce, challenge.nonce) }));
  const sealer = new FrameSealer(peerFrameKey(SECRET, 'dialer-to-listener', 'c1', 'a', 'b', nonce, challenge.nonce));
  const sealed = (n: number): Buffer => {
    const f = encodeSealableFrame(pack({ from: 'a', to: 'b', n }));
    sealer.seal(f);
    return f;
  };
  return { ...c, answer, sealed };
}

test('the answer and sealed frames in one TCP write: each frame delivered, in order, after the answer verified', { timeout: 20_000 }, async () => {
  const l = await listenerB();
  try {
    const c = await handshakeAsA(l.port);
    c.socket.write(Buffer.concat([c.answer, c.sealed(1), c.sealed(2), c.sealed(3)]));
    await until('delivered', () => l.got.length === 3);
    assert.deepEqual(l.got.map((m) => m.n), [1, 2, 3]);
    c.socket.destroy();
  } finally {
    await l.b.close();
  }
});

test('a frame without a MAC in the same TCP write as a valid answer is refused, not delivered', { timeout: 20_000 }, async () => {
  const l = await listenerB();
  try {
    const c = await handshakeAsA(l.port);
    c.socket.write(Buffer.concat([c.answer, encodeFrame(pack({ from: 'a', to: 'b', n: 1 })), c.sealed(2)]));
    await c.closed;
    await sleep(50);
    assert.deepEqual(l.got, []);
    assert.equal(l.b.stats().counters.frameMacFailures, 1);
  } finally {
    await l.b.close();
  }
});

test('a join-query connection cannot carry a peer frame: after its answer, a sealed frame is never delivered', { timeout: 20_000 }, async () => {
  const l = await listenerB();
  l.b.joinQueryHandler = () => ({ ok: true });
  try {
    const c = await raw(l.port);
    const nonce = freshNonce();
    const query = pack({ magic: JOIN_QUERY_MAGIC, kind: 'hashkv', revision: 1, nonce });
    c.socket.write(encodeFrame(query));
    await until('the challenge', () => c.frames.length >= 1);
    const challenge = c.frames[0] as { nonce: Uint8Array };
    const answer = encodeFrame(pack({ magic: PEER_AUTH_MAGIC, proof: joinProof(SECRET, 'dialer', query, nonce, challenge.nonce) }));
    // Whatever key the attacker picks for the "frame" after its answer (it holds the secret here: the worst case).
    const f = encodeSealableFrame(pack({ from: 'a', to: 'b', n: 9 }));
    new FrameSealer(peerFrameKey(SECRET, 'dialer-to-listener', 'c1', 'a', 'b', nonce, challenge.nonce)).seal(f);
    c.socket.write(Buffer.concat([answer, f, hello(freshNonce())]));
    await until('the join answer', () => c.frames.length >= 2);
    await sleep(100);
    assert.deepEqual(l.got, []);
    c.socket.destroy();
  } finally {
    await l.b.close();
  }
});

test('listener to dialer: a listener that proved the secret and then sends message frames gets none of them delivered by the dialer', { timeout: 20_000 }, async () => {
  const fake = await fakeB((socket) => {
    const decoder = new FrameDecoder(1024 * 1024);
    let done = false;
    socket.on('data', (d: Buffer) => {
      for (const f of decoder.push(d)) {
        if (done) continue;
        done = true;
        const h = unpack(f) as { nonce: Uint8Array };
        const mine = freshNonce();
        const challenge = encodeFrame(pack({ magic: PEER_AUTH_MAGIC, nonce: mine, proof: peerProof(SECRET, 'listener', 'c1', 'b', 'a', h.nonce, mine), frameMac: PEER_FRAME_MAC_VERSION }));
        // Messages behind the challenge in the same write, plain and sealed with the only key there is.
        const sealed = encodeSealableFrame(pack({ from: 'b', to: 'a', n: 2 }));
        new FrameSealer(peerFrameKey(SECRET, 'dialer-to-listener', 'c1', 'a', 'b', h.nonce, mine)).seal(sealed);
        socket.write(Buffer.concat([challenge, encodeFrame(pack({ from: 'b', to: 'a', n: 1 })), sealed]));
        setTimeout(() => socket.write(encodeFrame(pack({ from: 'b', to: 'a', n: 3 }))), 50);
      }
    });
  });
  const got: Msg[] = [];
  const a = await PeerTransport.start<Msg>({
    clusterId: 'c1', self: nodeId('a'), listen: { host: '127.0.0.1', port: 0 }, peers: new Map([[nodeId('b'), { host: '127.0.0.1', port: fake.port }]]),
    secret: SECRET, limits: { handshakeTimeoutMs: 1000 },
  }, (m) => got.push(m));
  try {
    a.send({ from: nodeId('a'), to: nodeId('b'), n: 0 });
    await until('connected', () => a.stats().peers.b?.connected === true);
    await sleep(200);
    assert.deepEqual(got, []);
  } finally {
    await a.close();
    await fake.close();
  }
});

test('reflection: the frames of a connection a dialed to b, replayed to a as a listener, are refused', { timeout: 20_000 }, async () => {
  // Record a's connection to b at a fake b that holds the secret, then replay a's own bytes to a's listener.
  const recorded: Buffer[] = [];
  const fake = await fakeB((socket) => {
    const decoder = new FrameDecoder(1024 * 1024);
    socket.on('data', (d: Buffer) => {
      for (const f of decoder.push(d)) {
        recorded.push(encodeFrame(f));
        if (recorded.length !== 1) continue;
        const h = unpack(f) as { nonce: Uint8Array };
        const mine = freshNonce();
        socket.write(encodeFrame(pack({ magic: PEER_AUTH_MAGIC, nonce: mine, proof: peerProof(SECRET, 'listener', 'c1', 'b', 'a', h.nonce, mine), frameMac: PEER_FRAME_MAC_VERSION })));
      }
    });
  });
  const got: Msg[] = [];
  const a = await PeerTransport.start<Msg>({
    clusterId: 'c1', self: nodeId('a'), listen: { host: '127.0.0.1', port: 0 },
    peers: new Map([[nodeId('b'), { host: '127.0.0.1', port: fake.port }]]), secret: SECRET, limits: { handshakeTimeoutMs: 1000 },
  }, (m) => got.push(m));
  try {
    a.send({ from: nodeId('a'), to: nodeId('b'), n: 1 });
    await until('recorded hello, answer and a frame', () => recorded.length >= 3);
    const c = await raw(a.address().port);
    c.socket.write(Buffer.concat(recorded));
    await c.closed;
    assert.deepEqual(got, []);
  } finally {
    await a.close();
    await fake.close();
  }
});

// ---- findings -----------------------------------------------------------------------------------

test('a connection that has proven nothing cannot make the listener buffer a frame of maxFrameBytes: a large length is refused at its header', { timeout: 20_000 }, async () => {
  // Before this, the listener kept up to maxFrameBytes (4 MiB, more on a member with a raised
  // --max-request-bytes) per unauthenticated connection for a handshake timeout, with no limit on
  // connections: memory for whoever reaches the peer port, without the secret.
  const l = await listenerB({ handshakeTimeoutMs: 3000 });
  try {
    for (const stage of ['before the hello', 'after the hello, as the answer'] as const) {
      const c = await raw(l.port);
      if (stage !== 'before the hello') {
        c.socket.write(hello(freshNonce()));
        await until('the challenge', () => c.frames.length >= 1);
      }
      const header = Buffer.alloc(4);
      header.writeUInt32BE(1024 * 1024, 0);
      c.socket.write(Buffer.concat([header, Buffer.alloc(1024)]));
      await c.closed;
    }
    const counters = l.b.stats().counters;
    assert.equal(counters.oversizedFrames, 2, `refused at the header, not at the handshake timeout: ${JSON.stringify(counters)}`);
    assert.equal(counters.handshakeFailures + counters.authFailures, 0);
  } finally {
    await l.b.close();
  }
});

test('after the handshake, a frame up to maxFrameBytes still arrives, also when it shares a TCP write with the answer', { timeout: 20_000 }, async () => {
  const l = await listenerB();
  try {
    const big = encodeSealableFrame(pack({ from: 'a', to: 'b', n: 5, pad: new Uint8Array(2 * 1024 * 1024) }));
    const d = await raw(l.port);
    const nonce = freshNonce();
    d.socket.write(hello(nonce));
    await until('the challenge', () => d.frames.length >= 1);
    const challenge = d.frames[0] as { nonce: Uint8Array };
    const answer = encodeFrame(pack({ magic: PEER_AUTH_MAGIC, proof: peerProof(SECRET, 'dialer', 'c1', 'a', 'b', nonce, challenge.nonce) }));
    new FrameSealer(peerFrameKey(SECRET, 'dialer-to-listener', 'c1', 'a', 'b', nonce, challenge.nonce)).seal(big);
    d.socket.write(Buffer.concat([answer, big]));
    await until('delivered', () => l.got.length === 1);
    assert.equal(l.got[0]?.n, 5);
    d.socket.destroy();
  } finally {
    await l.b.close();
  }
});

test('a maxFramesPerConnection no sealer can take is refused at start, not thrown from a socket handler at the first handshake', async () => {
  for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
    await assert.rejects(
      PeerTransport.start<Msg>({
        clusterId: 'c1', self: nodeId('a'), listen: { host: '127.0.0.1', port: 0 }, peers: new Map(), secret: SECRET, limits: { maxFramesPerConnection: bad },
      }, () => {}).then((t) => t.close()),
      /maxFramesPerConnection/,
      `maxFramesPerConnection=${bad}`,
    );
  }
});


test('at maxFramesPerConnection the dialer re-dials even if the listener never closes its end (a half-open connection is not waited on for ever)', { timeout: 20_000 }, async () => {
  // A listener that proves the secret and takes frames, but whose end of the connection stays open
  // after the dialer's FIN (a peer that hung, a box on the path that swallows the FIN's answer).
  const perConnection: number[] = [];
  const fake = await fakeB((socket) => {
    const connection = perConnection.push(0) - 1;
    const decoder = new FrameDecoder(1024 * 1024);
    let frames = 0;
    socket.on('data', (d: Buffer) => {
      for (const f of decoder.push(d)) {
        if (frames++ === 0) {
          const h = unpack(f) as { nonce: Uint8Array };
          const mine = freshNonce();
          socket.write(encodeFrame(pack({ magic: PEER_AUTH_MAGIC, nonce: mine, proof: peerProof(SECRET, 'listener', 'c1', 'b', 'a', h.nonce, mine), frameMac: PEER_FRAME_MAC_VERSION })));
        } else if (frames > 2) {
          perConnection[connection]!++;
        }
      }
    });
  }, true);
  const a = await PeerTransport.start<Msg>({
    clusterId: 'c1', self: nodeId('a'), listen: { host: '127.0.0.1', port: 0 },
    peers: new Map([[nodeId('b'), { host: '127.0.0.1', port: fake.port }]]), secret: SECRET,
    limits: { handshakeTimeoutMs: 300, reconnectBackoffMaxMs: 100, maxFramesPerConnection: 1 },
  }, () => {});
  try {
    a.send({ from: nodeId('a'), to: nodeId('b'), n: 1 });
    await until('the first frame', () => perConnection[0] === 1);
    a.send({ from: nodeId('a'), to: nodeId('b'), n: 2 });
    await until('the second frame, on a second connection', () => perConnection[1] === 1, 5_000);
  } finally {
    await a.close();
    await fake.close();
  }
});

test('a member removed from the listener\'s peers (setPeers) gets nothing more delivered on the connection it authenticated before', { timeout: 20_000 }, async () => {
  const got: Msg[] = [];
  const b = await PeerTransport.start<Msg>({ clusterId: 'c1', self: nodeId('b'), listen: { host: '127.0.0.1', port: 0 }, peers: new Map(), secret: SECRET, limits: { handshakeTimeoutMs: 1000 } }, (m) => got.push(m));
  const a = await PeerTransport.start<Msg>({
    clusterId: 'c1', self: nodeId('a'), listen: { host: '127.0.0.1', port: 0 }, peers: new Map([[nodeId('b'), b.address()]]), secret: SECRET, limits: { handshakeTimeoutMs: 1000 },
  }, () => {});
  try {
    b.setPeers(new Map([[nodeId('a'), a.address()]]));
    a.send({ from: nodeId('a'), to: nodeId('b'), n: 1 });
    await until('delivered while a member', () => got.length === 1);
    b.setPeers(new Map()); // a is removed from the cluster
    a.send({ from: nodeId('a'), to: nodeId('b'), n: 2 });
    await sleep(300);
    assert.deepEqual(got.map((m) => m.n), [1], 'nothing from a once it is no longer a peer');
  } finally {
    await a.close();
    await b.close();
  }
});

test('a member removed by the handler of its own message: the frames behind that message in the same TCP read are not delivered', { timeout: 20_000 }, async () => {
  const got: Msg[] = [];
  let b: PeerTransport<Msg> | null = null;
  b = await PeerTransport.start<Msg>({
    clusterId: 'c1', self: nodeId('b'), listen: { host: '127.0.0.1', port: 0 }, peers: new Map([[nodeId('a'), { host: '127.0.0.1', port: 1 }]]),
    secret: SECRET, limits: { handshakeTimeoutMs: 1000 },
  }, (m) => {
    got.push(m);
    if (m.n === 1) b?.setPeers(new Map()); // e.g. the entry that removes a was applied
  });
  try {
    const c = await handshakeAsA(b.address().port);
    c.socket.write(Buffer.concat([c.answer, c.sealed(1), c.sealed(2), c.sealed(3)]));
    await c.closed;
    await sleep(50);
    assert.deepEqual(got.map((m) => m.n), [1]);
  } finally {
    await b.close();
  }
});
