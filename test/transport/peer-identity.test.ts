/**
 * A handshake names the member it comes from; a forged one must not cut that member off (issue 15,
 * trust boundary). Without member keys a newer link never closes a live one of its member (the
 * newcomer is refused and counted; idle ones make room, so a restarted member gets back in); with
 * member keys every link proves the key of the member it names, and one that cannot is refused.
 * Real sockets on loopback.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { connect } from 'node:net';
import { encode } from '@msgpack/msgpack';
import { nodeId, type NodeId } from '../../src/core/ids.js';
import { encodeFrame, PeerTransport, type TransportLimits } from '../../src/transport/index.js';
import { freshNonce } from '../../src/transport/peer-secret.js';
import { PeerLinkRefused, peerIdentityFromKeys, peerIdentityPayload, type PeerIdentity } from '../../src/transport/peer-identity.js';
import { SECRET, sleep, until, type Msg } from './peer-fixtures.js';

/** Messages of a party that names a member it is not are numbered from here. */
const FORGED = 1_000_000;
const A = nodeId('a');
const B = nodeId('b');

interface Listener {
  readonly b: PeerTransport<Msg>;
  readonly got: Msg[];
  readonly refused: PeerLinkRefused[];
}

async function listener(o: { limits?: Partial<TransportLimits>; secret?: Uint8Array | null; identity?: PeerIdentity | null }): Promise<Listener> {
  const got: Msg[] = [];
  const refused: PeerLinkRefused[] = [];
  const b = await PeerTransport.start<Msg>({
    clusterId: 'c1', self: B, listen: { host: '127.0.0.1', port: 0 },
    peers: new Map([[A, { host: '127.0.0.1', port: 1 }], [nodeId('c'), { host: '127.0.0.1', port: 1 }]]),
    limits: o.limits ?? {}, secret: o.secret ?? null, identity: o.identity ?? null, onLinkRefused: (e) => refused.push(e),
  }, (m) => got.push(m));
  return { b, got, refused };
}

/** A dialer calling itself `self` (a real member, or someone naming one), sending to b every `everyMs` (numbered from `base`). */
async function dialer(self: NodeId, port: number, o: { secret?: Uint8Array | null; identity?: PeerIdentity | null; everyMs?: number; base?: number } = {}) {
  const t = await PeerTransport.start<Msg>({
    clusterId: 'c1', self, listen: { host: '127.0.0.1', port: 0 }, peers: new Map([[B, { host: '127.0.0.1', port }]]),
    secret: o.secret ?? null, identity: o.identity ?? null, limits: { reconnectBackoffMaxMs: 200 },
  }, () => {});
  let n = o.base ?? 0;
  const beat = o.everyMs === undefined ? null : setInterval(() => t.send({ from: self, to: B, n: n++ }), o.everyMs);
  return { t, stop: async () => { if (beat !== null) clearInterval(beat); await t.close(); } };
}

/** Ed25519 keys of members a, b, c, and the PeerIdentity each would hold. */
function memberKeys(): { identityOf: (m: string, signingAs?: string) => PeerIdentity } {
  const keys = new Map<string, { privateKey: KeyObject; publicKey: KeyObject }>(['a', 'b', 'c'].map((m) => [m, generateKeyPairSync('ed25519')]));
  const publicKeys = new Map([...keys].map(([m, k]) => [m, k.publicKey]));
  // `signingAs`: the key it actually holds (a lying replica naming another member holds only its own).
  return { identityOf: (m, signingAs = m) => peerIdentityFromKeys(keys.get(signingAs)!.privateKey, publicKeys) };
}

test('without member keys: links opened in a member\'s name (with the cluster secret) over maxConnectionsPerPeer never close its live link; the newcomers are refused (PeerLinkRefused too-many-live-links) and counted', { timeout: 30_000 }, async () => {
  const { b, got, refused } = await listener({ limits: { maxConnectionsPerPeer: 2 }, secret: SECRET });
  const port = b.address().port;
  const real = await dialer(A, port, { secret: SECRET, everyMs: 50 });
  const forgers: Awaited<ReturnType<typeof dialer>>[] = [];
  try {
    await until('the real member is connected', () => got.length >= 2);
    // Three parties that hold the secret, each naming a and talking on its link.
    for (let i = 0; i < 3; i++) forgers.push(await dialer(A, port, { secret: SECRET, everyMs: 50, base: FORGED }));
    await until('newcomers refused', () => b.stats().counters.liveConnectionsRefused >= 3, 10_000);
    await sleep(1000);
    const k = b.stats().counters;
    assert.equal(real.t.stats().peers['b']!.disconnects, 0, 'the real member\'s link was never closed');
    assert.equal(k.excessConnectionsClosed, 0, 'no live link was closed for a newcomer');
    assert.ok(got.filter((m) => m.n < FORGED).length > 20, 'the real member kept talking');
    assert.ok(refused.length >= 3 && refused.every((e) => e instanceof PeerLinkRefused && e.reason === 'too-many-live-links' && e.peer === A && e.code === 'TOO_MANY_REQUESTS'),
      refused.map((e) => e.message).join('\n'));
  } finally {
    for (const f of forgers) await f.stop();
    await real.stop();
    await b.close();
  }
});

test('without member keys: a member that restarted while its old links hang gets back in once they are quiet for liveConnectionMs; the quiet ones make room, oldest first', { timeout: 30_000 }, async () => {
  const { b, got, refused } = await listener({ limits: { maxConnectionsPerPeer: 2, liveConnectionMs: 400 } });
  const port = b.address().port;
  // The old process's two links: authenticated, a message each, then silent (their host went away).
  const old: { s: ReturnType<typeof connect>; closed: () => boolean }[] = [];
  for (let i = 0; i < 2; i++) {
    const s = connect({ host: '127.0.0.1', port });
    s.on('error', () => {});
    let closed = false;
    s.on('close', () => { closed = true; });
    await new Promise<void>((r) => s.once('connect', () => r()));
    s.write(Buffer.concat([encodeFrame(encode({ magic: 'QRT1', clusterId: 'c1', from: 'a', to: 'b' })), encodeFrame(encode({ from: 'a', to: 'b', n: 100 + i }))]));
    await until(`old link ${i} delivered`, () => got.length === i + 1);
    old.push({ s, closed: () => closed });
  }
  // Its new process: a message every 50 ms (each refused link's are lost; the next one re-dials).
  const restarted = await dialer(A, port, { everyMs: 50 });
  try {
    await until('the restarted member got in', () => got.some((m) => m.n < 100), 10_000);
    const k = b.stats().counters;
    assert.ok(k.liveConnectionsRefused >= 1, 'refused while the old links were live');
    assert.equal(refused[0]?.reason, 'too-many-live-links');
    assert.equal(k.excessConnectionsClosed, 1, 'one quiet link made room');
    await until('the oldest quiet link closed', () => old[0]!.closed());
    assert.ok(!old[1]!.closed(), 'only as many as needed');
  } finally {
    for (const o of old) o.s.destroy();
    await restarted.stop();
    await b.close();
  }
});

test('with member keys: a link naming a member it cannot sign for is refused (PeerLinkRefused identity-not-proven) and counted, and the member\'s links are untouched', { timeout: 30_000 }, async () => {
  const keys = memberKeys();
  const { b, got, refused } = await listener({ limits: { maxConnectionsPerPeer: 1 }, secret: SECRET, identity: keys.identityOf('b') });
  const port = b.address().port;
  const real = await dialer(A, port, { secret: SECRET, identity: keys.identityOf('a'), everyMs: 50 });
  // Replica c, lying: it holds the secret and its own key, and names a.
  const liar = await dialer(A, port, { secret: SECRET, identity: keys.identityOf('a', 'c'), everyMs: 50, base: FORGED });
  // And one with no key at all.
  const keyless = await dialer(A, port, { secret: SECRET, everyMs: 50, base: FORGED });
  try {
    await until('refused', () => b.stats().counters.identityFailures >= 4, 10_000);
    await sleep(500);
    assert.equal(real.t.stats().peers['b']!.disconnects, 0, 'the real member\'s link was never closed');
    assert.ok(got.length > 5 && got.every((m) => m.n < FORGED), 'nothing of the liar\'s or the keyless one\'s was delivered');
    assert.equal(b.stats().counters.excessConnectionsClosed, 0);
    assert.ok(refused.every((e) => e.reason === 'identity-not-proven' && e.code === 'UNAUTHENTICATED'), refused.map((e) => e.message).join('\n'));
  } finally {
    await liar.stop();
    await keyless.stop();
    await real.stop();
    await b.close();
  }
});

test('with member keys and no secret: the member\'s own newer link closes its oldest over maxConnectionsPerPeer (only it can open them)', { timeout: 30_000 }, async () => {
  const keys = memberKeys();
  const { b, got } = await listener({ limits: { maxConnectionsPerPeer: 1 }, identity: keys.identityOf('b') });
  const port = b.address().port;
  const first = await dialer(A, port, { identity: keys.identityOf('a') });
  const second = await dialer(A, port, { identity: keys.identityOf('a') });
  try {
    first.t.send({ from: A, to: B, n: 1 });
    await until('first delivered', () => got.length === 1);
    second.t.send({ from: A, to: B, n: 2 });
    await until('second delivered', () => got.length === 2);
    await until('the older link closed', () => first.t.stats().peers['b']!.disconnects === 1);
    const k = b.stats().counters;
    assert.equal(k.excessConnectionsClosed, 1);
    assert.equal(k.identityFailures, 0);
    assert.equal(k.liveConnectionsRefused, 0);
  } finally {
    await first.stop();
    await second.stop();
    await b.close();
  }
});

test('a signature proves one connection only: another listener nonce, another pair of members or another cluster does not verify', () => {
  const keys = memberKeys();
  const a = keys.identityOf('a');
  const [nd, nl] = [freshNonce(), freshNonce()];
  const sig = a.sign(peerIdentityPayload('c1', 'a', 'b', nd, nl));
  assert.ok(a.verify(A, peerIdentityPayload('c1', 'a', 'b', nd, nl), sig));
  assert.ok(!a.verify(A, peerIdentityPayload('c1', 'a', 'b', nd, freshNonce()), sig), 'replayed on a connection with a fresh listener nonce');
  assert.ok(!a.verify(A, peerIdentityPayload('c1', 'a', 'c', nd, nl), sig), 'moved to another listener');
  assert.ok(!a.verify(A, peerIdentityPayload('c2', 'a', 'b', nd, nl), sig), 'moved to another cluster');
  assert.ok(!a.verify(nodeId('c'), peerIdentityPayload('c1', 'a', 'b', nd, nl), sig), 'not c\'s');
  assert.ok(!a.verify(nodeId('z'), peerIdentityPayload('c1', 'a', 'b', nd, nl), sig), 'a member with no key');
});

test('with member keys derived from the cluster token (sharedKeys): a token holder signing as a member never closes that member\'s live link over maxConnectionsPerPeer; it is refused (too-many-live-links), as without member keys', { timeout: 30_000 }, async () => {
  // --bft-insecure-keys-from-token: every key follows from the token, so whoever holds it can sign as a.
  const keys = memberKeys();
  const shared = (m: string): PeerIdentity => ({ ...keys.identityOf(m), sharedKeys: true });
  const { b, got, refused } = await listener({ limits: { maxConnectionsPerPeer: 1 }, identity: shared('b') });
  const port = b.address().port;
  const real = await dialer(A, port, { identity: shared('a'), everyMs: 50 });
  const holders: Awaited<ReturnType<typeof dialer>>[] = [];
  try {
    await until('the real member is connected', () => got.length >= 2);
    for (let i = 0; i < 2; i++) holders.push(await dialer(A, port, { identity: shared('a'), everyMs: 50, base: FORGED }));
    await until('the token holders refused', () => b.stats().counters.liveConnectionsRefused >= 2, 10_000);
    await sleep(500);
    const k = b.stats().counters;
    assert.equal(real.t.stats().peers['b']!.disconnects, 0, 'the real member\'s live link was never closed');
    assert.equal(k.excessConnectionsClosed, 0, 'no live link was closed for a newcomer that signed with a shared key');
    assert.equal(k.identityFailures, 0, 'the signatures themselves verify');
    assert.ok(got.every((m) => m.n < FORGED), 'nothing of the token holders\' was delivered');
    assert.ok(refused.length >= 2 && refused.every((e) => e.reason === 'too-many-live-links' && e.peer === A), refused.map((e) => e.message).join('\n'));
    assert.match(refused[0]!.message, /keys derived from the cluster token/);
  } finally {
    for (const h of holders) await h.stop();
    await real.stop();
    await b.close();
  }
});
