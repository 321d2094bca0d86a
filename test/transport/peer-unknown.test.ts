/**
 * A member whose configuration is behind another's addition must take the new member's connections
 * (as etcd's peer handler takes any member not known to be removed), or it never learns of it from
 * it: an authenticated member not in the peer set is accepted and answered at the address its hello
 * names; a member that left a peer set this member saw is refused; and one not in the peer set gets
 * in only by the same authentication as a known member (the peer secret, a certificate naming it,
 * its own key): a forged one is refused.
 */
import { test } from 'node:test';
import { connect, type Socket } from 'node:net';
import { encode } from '@msgpack/msgpack';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { nodeId, type NodeId } from '../../src/core/ids.js';
import { encodeFrame } from '../../src/transport/frame.js';
import { PeerTransport, replyAddress, type PeerTls } from '../../src/transport/transport.js';
import { peerIdentityFromKeys, type PeerIdentity } from '../../src/transport/peer-identity.js';
import { memberCertificates } from '../tls-certificates.js';
import { SECRET, sleep, until, type Msg } from './peer-fixtures.js';

const OTHER = new TextEncoder().encode('not the cluster secret at all...');
const B = nodeId('b');
const N = nodeId('n');
const C = nodeId('c');
const NOWHERE = { host: '127.0.0.1', port: 1 };

interface Auth { readonly secret?: Uint8Array | null; readonly tls?: PeerTls | null; readonly identity?: PeerIdentity | null }

/** b, whose peer set shows only c (its configuration predates n's addition). */
async function behind(auth: Auth) {
  const got: Msg[] = [];
  const b = await PeerTransport.start<Msg>({
    clusterId: 'c1', self: B, listen: { host: '127.0.0.1', port: 0 }, peers: new Map([[C, NOWHERE]]), ...auth,
    limits: { handshakeTimeoutMs: 1000, reconnectBackoffMaxMs: 200 },
  }, (m) => got.push(m));
  return { b, got };
}

/** A new member `self` whose configuration shows b; it sends to b every 50 ms. */
async function newcomer(self: NodeId, bPort: number, auth: Auth) {
  const got: Msg[] = [];
  const t = await PeerTransport.start<Msg>({
    clusterId: 'c1', self, listen: { host: '127.0.0.1', port: 0 }, peers: new Map([[B, { host: '127.0.0.1', port: bPort }]]), ...auth,
    limits: { handshakeTimeoutMs: 1000, reconnectBackoffMaxMs: 200 },
  }, (m) => got.push(m));
  let n = 0;
  const beat = setInterval(() => t.send({ from: self, to: B, n: n++ }), 50);
  return { t, got, stop: async () => { clearInterval(beat); await t.close(); } };
}

test('with the peer secret: a member not (yet) in the peer set is taken and answered; once removed it is refused', { timeout: 30_000 }, async () => {
  const { b, got } = await behind({ secret: SECRET });
  const n = await newcomer(N, b.address().port, { secret: SECRET });
  try {
    await until('b took the new member\'s frames', () => got.some((m) => m.from === N));
    // b answers it at the address its hello named, before any configuration shows it.
    await until('b\'s answer reached n', () => {
      b.send({ from: B, to: N, n: -1 });
      return n.got.some((m) => m.from === B);
    });
    // n joins b's peer set, then leaves it: removed, its link is closed and it is refused from now on.
    b.setPeers(new Map([[C, NOWHERE], [N, n.t.address()]]));
    b.setPeers(new Map([[C, NOWHERE]]));
    const before = b.stats().counters.unknownPeer;
    await until('the removed member refused at its handshake', () => b.stats().counters.unknownPeer > before);
    const count = got.length;
    await sleep(300);
    assert.equal(got.length, count, 'nothing from a removed member is delivered');
    assert.equal(b.send({ from: B, to: N, n: -2 }), false, 'no address for a removed member');
  } finally {
    await n.stop();
    await b.close();
  }
});

test('a member not in the peer set with the wrong secret is refused, and nothing is delivered', { timeout: 30_000 }, async () => {
  const { b, got } = await behind({ secret: SECRET });
  const n = await newcomer(N, b.address().port, { secret: OTHER });
  try {
    await until('the forged newcomer refused', () => n.t.stats().counters.authFailures + b.stats().counters.authFailures >= 2);
    await sleep(200);
    assert.equal(got.length, 0);
  } finally {
    await n.stop();
    await b.close();
  }
});

test('without peer auth, a member not in the peer set is taken (what an unauthenticated peer port exposes); one removed is not', { timeout: 30_000 }, async () => {
  const { b, got } = await behind({});
  const n = await newcomer(N, b.address().port, {});
  const r = await newcomer(nodeId('r'), b.address().port, {});
  try {
    await until('n delivered', () => got.some((m) => m.from === N));
    b.setPeers(new Map([[C, NOWHERE], [nodeId('r'), r.t.address()]]));
    b.setPeers(new Map([[C, NOWHERE]]));
    const at = got.length;
    await sleep(400);
    assert.ok(got.slice(at).every((m) => m.from !== 'r'), 'the removed member delivers nothing');
    assert.ok(got.slice(at).some((m) => m.from === N), 'the unknown one goes on');
  } finally {
    await n.stop();
    await r.stop();
    await b.close();
  }
});

test('at most maxUnknownPeers members not in the peer set hold links', { timeout: 30_000 }, async () => {
  const got: Msg[] = [];
  const b = await PeerTransport.start<Msg>({
    clusterId: 'c1', self: B, listen: { host: '127.0.0.1', port: 0 }, peers: new Map([[C, NOWHERE]]), limits: { maxUnknownPeers: 2 },
  }, (m) => got.push(m));
  const ns = await Promise.all(['n1', 'n2', 'n3'].map((m) => newcomer(nodeId(m), b.address().port, {})));
  try {
    await until('one refused', () => b.stats().counters.unknownPeer >= 1);
    await sleep(200);
    assert.equal(new Set(got.map((m) => m.from)).size, 2);
  } finally {
    for (const n of ns) await n.stop();
    await b.close();
  }
});

test('with member keys: a member whose key is unknown is refused', { timeout: 30_000 }, async () => {
  const keys = new Map(['b', 'c', 'n'].map((m) => [m, generateKeyPairSync('ed25519')]));
  const known = new Map([...keys].filter(([m]) => m !== 'n').map(([m, k]) => [m, k.publicKey]));
  const all = new Map([...keys].map(([m, k]) => [m, k.publicKey]));
  const { b, got } = await behind({ identity: peerIdentityFromKeys(keys.get('b')!.privateKey, known) });
  const n = await newcomer(N, b.address().port, { identity: peerIdentityFromKeys(keys.get('n')!.privateKey, all) });
  try {
    await until('refused', () => b.stats().counters.identityFailures >= 1);
    await sleep(200);
    assert.equal(got.length, 0);
  } finally {
    await n.stop();
    await b.close();
  }
});

const certs = memberCertificates(['b', 'n', 'c']);
process.on('exit', () => certs?.remove());

test('over mutual TLS: a member not in the peer set gets in with a certificate naming it, not with another member\'s', { skip: certs === null ? 'openssl is not installed' : false, timeout: 30_000 }, async () => {
  const { b, got } = await behind({ tls: certs!.tls('b') });
  const n = await newcomer(N, b.address().port, { tls: certs!.tls('n') });
  const liar = await newcomer(nodeId('x'), b.address().port, { tls: certs!.tls('c') });
  try {
    await until('n delivered', () => got.some((m) => m.from === N));
    await until('the liar refused', () => b.stats().counters.identityFailures >= 1);
    await until('b\'s answer reached n over TLS', () => {
      b.send({ from: B, to: N, n: -1 });
      return n.got.some((m) => m.from === B);
    });
    assert.ok(got.every((m) => m.from !== 'x'));
  } finally {
    await n.stop();
    await liar.stop();
    await b.close();
  }
});

test('a configuration that does not show this member judges no one removed (a joiner briefly behind its own add)', { timeout: 30_000 }, async () => {
  const { b, got } = await behind({});
  const n = await newcomer(N, b.address().port, {});
  try {
    b.setPeers(new Map([[C, NOWHERE], [N, n.t.address()]]));
    await until('n delivered', () => got.some((m) => m.from === N));
    // An older configuration, without b itself: n is not taken for removed.
    b.setPeers(new Map([[C, NOWHERE]]), false);
    const at = got.length;
    await until('n goes on', () => got.length > at + 3);
    assert.equal(b.stats().counters.unknownPeer, 0);
  } finally {
    await n.stop();
    await b.close();
  }
});

test('a member not in the peer set that holds a slot takes no second one: its second link is taken at maxUnknownPeers', { timeout: 30_000 }, async () => {
  const got: Msg[] = [];
  const b = await PeerTransport.start<Msg>({
    clusterId: 'c1', self: B, listen: { host: '127.0.0.1', port: 0 }, peers: new Map([[C, NOWHERE]]),
    limits: { maxUnknownPeers: 1, maxConnectionsPerPeer: 2 },
  }, (m) => got.push(m));
  const sockets: Socket[] = [];
  // A raw member n with no reply address in its hello (nothing to answer it at: it holds a slot all the same).
  const open = async (n: number): Promise<void> => {
    const s = connect({ host: '127.0.0.1', port: b.address().port });
    sockets.push(s);
    s.on('error', () => {});
    await new Promise<void>((r) => s.once('connect', () => r()));
    s.write(encodeFrame(encode({ magic: 'QRT1', clusterId: 'c1', from: 'n', to: 'b' })));
    s.write(encodeFrame(encode({ from: 'n', to: 'b', n })));
  };
  try {
    await open(1);
    await until('the first link delivered', () => got.some((m) => m.n === 1));
    await open(2);
    await until('the second link delivered', () => got.some((m) => m.n === 2));
    assert.equal(b.stats().counters.unknownPeer, 0, 'n, already holding the one slot, was not refused for it');
  } finally {
    for (const s of sockets) s.destroy();
    await b.close();
  }
});

test('a member the peer set does not show is answered on the host its connection came from, never one its hello names', () => {
  // Without peer auth anyone may send a hello: its host would make this member dial a stranger's choice.
  assert.deepEqual(replyAddress({ host: '10.9.8.7', port: 2380 } as never, '127.0.0.1'), { host: '127.0.0.1', port: 2380 });
  assert.deepEqual(replyAddress({ host: 'metadata.internal', port: 80 } as never, '::1'), { host: '::1', port: 80 });
  assert.deepEqual(replyAddress({ port: 2380 }, '192.0.2.1'), { host: '192.0.2.1', port: 2380 });
  for (const port of [0, 65_536, 1.5, '2380', undefined]) assert.equal(replyAddress({ host: '127.0.0.1', port } as never, '127.0.0.1'), null);
  assert.equal(replyAddress(undefined, '127.0.0.1'), null);
  assert.equal(replyAddress({ port: 2380 }, undefined), null);
});
