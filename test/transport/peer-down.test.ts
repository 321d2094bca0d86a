/**
 * onPeerDown (the hint behind Replica.peerDown): told once every connection with a peer that had
 * completed its handshake closed; never for connections that did not complete one (garbage, a
 * wrong cluster, an unknown member: an unauthenticated dialer cannot start an election), nor while
 * another connection with that peer is up, nor for this member's own stop.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { encode } from '@msgpack/msgpack';
import { nodeId, type NodeId } from '../../src/core/ids.js';
import { encodeFrame, FrameDecoder, PeerTransport } from '../../src/transport/index.js';
import { freshNonce, PEER_AUTH_MAGIC, PEER_FRAME_MAC_VERSION } from '../../src/transport/peer-secret.js';
import { rawSend, until, type Msg } from './peer-fixtures.js';



test('onPeerDown: once the last handshaken connection with a peer closes; never for unauthenticated ones or its own stop', { timeout: 20_000 }, async () => {
  const downAtA: NodeId[] = [];
  const downAtB: NodeId[] = [];
  const got: Msg[] = [];
  const a = await PeerTransport.start<Msg>({ clusterId: 'c1', self: nodeId('a'), listen: { host: '127.0.0.1', port: 0 }, peers: new Map(), onPeerDown: (p) => downAtA.push(p) }, (m) => got.push(m));
  const b = await PeerTransport.start<Msg>({
    clusterId: 'c1', self: nodeId('b'), listen: { host: '127.0.0.1', port: 0 }, peers: new Map([[nodeId('a'), a.address()]]), onPeerDown: (p) => downAtB.push(p),
  }, (m) => got.push(m));
  a.setPeers(new Map([[nodeId('b'), b.address()]]));
  try {
    // Both directions up: a dials b and b dials a.
    a.send({ from: nodeId('a'), to: nodeId('b'), n: 1 });
    b.send({ from: nodeId('b'), to: nodeId('a'), n: 2 });
    await until('both messages', () => got.length === 2);
    // Connections that never complete a handshake, or name no member, or the wrong cluster.
    const port = b.address().port;
    const hello = (o: object) => encodeFrame(encode({ magic: 'QRT1', ...o }));
    await rawSend(port, Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    await rawSend(port, hello({ clusterId: 'other', from: 'a', to: 'b' }));
    await rawSend(port, hello({ clusterId: 'c1', from: 'a', to: 'z' }));
    // Without peer auth a member the peer set does not show is taken (maxUnknownPeers); its link
    // going down is never a peer's.
    await rawSend(port, hello({ clusterId: 'c1', from: 'mallory', to: 'b' }));
    await until('refusals counted', () => { const c = b.stats().counters; return c.wrongCluster === 1 && c.unknownPeer === 1; });
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(downAtB, [], 'no peer-down for connections that did not complete a handshake');
    // a stops (as its process exits): b sees both of its connections with a close, and is told once.
    await a.close();
    await until('b told that a is down', () => downAtB.length === 1);
    assert.deepEqual(downAtB, [nodeId('a')]);
    assert.deepEqual(downAtA, [], 'a member stopping is not told about its peers');
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(downAtB, [nodeId('a')], 'told once, not once per connection');
  } finally {
    await a.close();
    await b.close();
  }
});

test('onPeerDown with a secret: a dialer naming the member with the wrong secret is never counted, and does not hold the count up', { timeout: 20_000 }, async () => {
  const secret = new Uint8Array(32).fill(7);
  const wrong = new Uint8Array(32).fill(9);
  const downAtB: NodeId[] = [];
  const got: Msg[] = [];
  const a = await PeerTransport.start<Msg>({ clusterId: 'c1', self: nodeId('a'), listen: { host: '127.0.0.1', port: 0 }, peers: new Map(), secret }, (m) => got.push(m));
  const b = await PeerTransport.start<Msg>({
    clusterId: 'c1', self: nodeId('b'), listen: { host: '127.0.0.1', port: 0 }, peers: new Map([[nodeId('a'), a.address()]]), secret, onPeerDown: (p) => downAtB.push(p),
  }, (m) => got.push(m));
  a.setPeers(new Map([[nodeId('b'), b.address()]]));
  // A forger: it names member a, without the secret.
  const forger = await PeerTransport.start<Msg>({ clusterId: 'c1', self: nodeId('a'), listen: { host: '127.0.0.1', port: 0 }, peers: new Map([[nodeId('b'), b.address()]]), secret: wrong, limits: { handshakeTimeoutMs: 500 } }, () => {});
  try {
    a.send({ from: nodeId('a'), to: nodeId('b'), n: 1 });
    b.send({ from: nodeId('b'), to: nodeId('a'), n: 2 });
    await until('both messages', () => got.length === 2);
    forger.send({ from: nodeId('a'), to: nodeId('b'), n: 3 });
    // The forger's dialer finds b's challenge proves a secret other than its own, and gives up: b never counts it.
    await until('the forger refused', () => forger.stats().counters.authFailures >= 1);
    await forger.close();
    // A raw forger that answers b's challenge with a made-up proof: b refuses it.
    const refusedBefore = b.stats().counters.authFailures;
    await new Promise<void>((resolve) => {
      const s = connect({ host: '127.0.0.1', port: b.address().port }, () => {
        s.write(encodeFrame(encode({ magic: 'QRT1', clusterId: 'c1', from: 'a', to: 'b', nonce: freshNonce(), frameMac: PEER_FRAME_MAC_VERSION })));
      });
      const decoder = new FrameDecoder(64 * 1024);
      s.on('data', (chunk: Buffer) => {
        if (decoder.push(chunk).length > 0) s.write(encodeFrame(encode({ magic: PEER_AUTH_MAGIC, proof: new Uint8Array(32) })));
      });
      s.on('close', () => resolve());
      s.on('error', () => resolve());
      setTimeout(() => { s.destroy(); resolve(); }, 2000).unref();
    });
    await until('b refused the made-up proof', () => b.stats().counters.authFailures > refusedBefore);
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(downAtB, [], 'the forger\'s refused connection tells nothing');
    assert.equal(got.length, 2, 'nothing from the forger delivered');
    await a.close();
    await until('b told that a is down', () => downAtB.length === 1);
    assert.deepEqual(downAtB, [nodeId('a')]);
  } finally {
    await forger.close();
    await a.close();
    await b.close();
  }
});
