/**
 * Mutual TLS between members binds each link to the member it names (issue 15, trust boundary):
 * - the certificate at each end must name its member (its CN is the member's name): a holder of
 *   any certificate of the cluster CA can no longer claim to be another member, inbound or when
 *   dialled, unless every member chose memberBinding 'none';
 * - with member keys, the signature over the listener's nonce also covers the TLS channel (its
 *   exported keying material): a relay that terminates TLS, holding certificates both ends accept,
 *   forwards the proof in vain;
 * - a member of a build that signs without the channel is refused at once, with a log line that
 *   says why, and a newer dialer that such a member refuses says why too (no hang).
 * Real sockets and TLS on loopback; certificates made with openssl.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { connect as connectTls, createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { nodeId, type NodeId } from '../../src/core/ids.js';
import { pack, unpack } from '../../src/core/codec.js';
import { askToJoin, encodeFrame, FrameDecoder, PeerTransport, type PeerTls } from '../../src/transport/index.js';
import { QuorateError } from '../../src/core/errors.js';
import { freshNonce, PEER_AUTH_MAGIC } from '../../src/transport/peer-secret.js';
import {
  certificateNamesMember, PEER_IDENTITY_VERSION, PeerLinkRefused, peerIdentityFromKeys, peerIdentityPayload, type PeerIdentity,
} from '../../src/transport/peer-identity.js';
import { memberCertificates, type MemberCertificates } from '../tls-certificates.js';
import { sleep, until, type Msg } from './peer-fixtures.js';

/** Messages of a party speaking for a member it is not are numbered from here. */
const FORGED = 1_000_000;
const A = nodeId('a');
const B = nodeId('b');

const certs: MemberCertificates | null = memberCertificates(['a', 'b', 'c', '/O=quorate-no-cn', '/CN=a/CN=c', '/CN=c/CN=a', 'ab', 'A', '/CN=a,O=c']);
const skip = certs === null ? 'openssl is not installed' : false;
process.on('exit', () => certs?.remove());

const keys = new Map(['a', 'b', 'c'].map((m) => [m, generateKeyPairSync('ed25519')]));
const publicKeys = new Map([...keys].map(([m, k]) => [m, k.publicKey]));
const identityOf = (m: string): PeerIdentity => peerIdentityFromKeys(keys.get(m)!.privateKey, publicKeys);

function tlsOf(subject: string, memberBinding?: PeerTls['memberBinding']): PeerTls {
  return { ...certs!.tls(subject), ...(memberBinding === undefined ? {} : { memberBinding }) };
}

async function listener(o: { tls: PeerTls; identity?: PeerIdentity | null; self?: NodeId }) {
  const got: Msg[] = [];
  const refused: PeerLinkRefused[] = [];
  const logs: string[] = [];
  const b = await PeerTransport.start<Msg>({
    clusterId: 'c1', self: o.self ?? B, listen: { host: '127.0.0.1', port: 0 },
    peers: new Map([[A, { host: '127.0.0.1', port: 1 }], [nodeId('c'), { host: '127.0.0.1', port: 1 }]]),
    tls: o.tls, identity: o.identity ?? null, onLinkRefused: (e) => refused.push(e), logger: (level, m) => logs.push(`${level} ${m}`),
  }, (m) => got.push(m));
  return { b, got, refused, logs, port: b.address().port };
}

/** A dialer calling itself `self`, sending to b every 50 ms (numbered from `base`). */
async function dialer(self: NodeId, port: number, o: { tls: PeerTls; identity?: PeerIdentity | null; base?: number; handshakeTimeoutMs?: number }) {
  const logs: string[] = [];
  const t = await PeerTransport.start<Msg>({
    clusterId: 'c1', self, listen: { host: '127.0.0.1', port: 0 }, peers: new Map([[B, { host: '127.0.0.1', port }]]),
    tls: o.tls, identity: o.identity ?? null, limits: { reconnectBackoffMaxMs: 200, handshakeTimeoutMs: o.handshakeTimeoutMs ?? 5000 },
    logger: (level, m) => logs.push(`${level} ${m}`),
  }, () => {});
  let n = o.base ?? 0;
  const beat = setInterval(() => t.send({ from: self, to: B, n: n++ }), 50);
  return { t, logs, stop: async () => { clearInterval(beat); await t.close(); } };
}

test('certificateNamesMember: exactly one CN, equal to the member\'s name', { skip }, () => {
  assert.equal(certificateNamesMember({ subject: { CN: 'a' } } as never, 'a'), null);
  assert.match(certificateNamesMember({ subject: { CN: 'c' } } as never, 'a')!, /names member "c" \(CN\), not a/);
  assert.match(certificateNamesMember({ subject: { CN: 'A' } } as never, 'a')!, /not a/, 'compared exactly');
  assert.match(certificateNamesMember({ subject: { CN: ['a', 'c'] } } as never, 'a')!, /2 common names/);
  assert.match(certificateNamesMember({ subject: { O: 'x' } } as never, 'a')!, /no common name/);
  assert.match(certificateNamesMember({} as never, 'a')!, /no common name/);
});

test('mutual TLS: a certificate of the cluster CA that names another member cannot speak for a member (PeerLinkRefused certificate-not-member, counted in identityFailures); the member\'s own gets in', { skip, timeout: 30_000 }, async () => {
  const { b, got, refused, logs, port } = await listener({ tls: tlsOf('b') });
  const real = await dialer(A, port, { tls: tlsOf('a') });
  // Member c's certificate (and a certificate naming no member) in hellos that name a.
  const liar = await dialer(A, port, { tls: tlsOf('c'), base: FORGED });
  const unnamed = await dialer(A, port, { tls: tlsOf('/O=quorate-no-cn'), base: FORGED });
  try {
    await until('both refused', () => refused.length >= 2 && got.length > 5, 10_000);
    await sleep(300);
    assert.ok(got.every((m) => m.n < FORGED), 'nothing of the liar\'s or the unnamed one\'s was delivered');
    assert.equal(real.t.stats().peers['b']!.disconnects, 0, 'the real member\'s link was never closed');
    assert.ok(refused.every((e) => e.reason === 'certificate-not-member' && e.code === 'UNAUTHENTICATED' && e.peer === A), refused.map((e) => e.message).join('\n'));
    assert.ok(refused.some((e) => /names member "c" \(CN\), not a/.test(e.message)), refused.map((e) => e.message).join('\n'));
    assert.ok(refused.some((e) => /no common name/.test(e.message)), refused.map((e) => e.message).join('\n'));
    assert.equal(b.stats().counters.identityFailures, refused.length);
    assert.ok(logs.some((l) => l.startsWith('warn') && /--peer-cert-member-binding none/.test(l)), logs.join('\n'));
  } finally {
    await liar.stop();
    await unnamed.stop();
    await real.stop();
    await b.close();
  }
});

test('mutual TLS: a dialer refuses a listener whose certificate names another member than the one it dials (counted in identityFailures, nothing sent)', { skip, timeout: 30_000 }, async () => {
  // A listener at b's address holding c's certificate (the same host, so TLS's host check passes).
  const { b, got, port } = await listener({ tls: tlsOf('c') });
  const a = await dialer(A, port, { tls: tlsOf('a') });
  try {
    await until('the dialer refused', () => a.t.stats().counters.identityFailures >= 4, 10_000);
    assert.equal(got.length, 0);
    assert.equal(b.stats().counters.received, 0);
    const lines = a.logs.filter((l) => l.startsWith('warn') && /closed the connection to peer b: its certificate names member "c" \(CN\), not b/.test(l));
    assert.equal(lines.length, 1, `logged once per oversizedLogIntervalMs, not at every re-dial:\n${a.logs.join('\n')}`);
  } finally {
    await a.stop();
    await b.close();
  }
});

test('mutual TLS with memberBinding none (chosen on every member): a certificate naming no member, or another, is let in, as before', { skip, timeout: 30_000 }, async () => {
  const { b, got, refused, port } = await listener({ tls: tlsOf('c', 'none') });
  const other = await dialer(A, port, { tls: tlsOf('/O=quorate-no-cn', 'none') });
  try {
    await until('delivered', () => got.length > 3, 10_000);
    assert.equal(refused.length, 0);
    assert.equal(b.stats().counters.identityFailures, 0);
  } finally {
    await other.stop();
    await b.close();
  }
});

test('member keys over TLS: a relay that terminates TLS, with certificates both ends accept, forwards the hello, the challenge and the signature, and is refused: the signature covers the dialer\'s TLS channel, not the relay\'s', { skip, timeout: 30_000 }, async () => {
  const { b, got, refused, port } = await listener({ tls: tlsOf('b'), identity: identityOf('b') });
  // The relay answers a as b (b's certificate) and dials b as a (a's certificate): it holds both
  // members' TLS credentials, not their member keys. After a's answer it injects a frame of its own.
  const relayed: TLSSocket[] = [];
  let injected = 0;
  const relay = createTlsServer({ ...tlsOf('b'), requestCert: true, rejectUnauthorized: true }, (inbound) => {
    const out = connectTls({ host: '127.0.0.1', port, ...tlsOf('a') });
    relayed.push(inbound, out);
    inbound.on('error', () => {});
    out.on('error', () => {});
    let up = false;
    const early: Buffer[] = [];
    out.once('secureConnect', () => {
      up = true;
      for (const c of early) out.write(c);
    });
    const decoder = new FrameDecoder(1024 * 1024);
    let frames = 0;
    inbound.on('data', (d: Buffer) => {
      if (up) out.write(d);
      else early.push(d);
      frames += decoder.push(d).length;
      if (frames >= 2 && injected === 0) {
        // The hello and the answer went to b: the link is b's to accept, and the relay speaks as a.
        injected++;
        const forged = encodeFrame(pack({ from: 'a', to: 'b', n: FORGED }));
        if (up) out.write(forged);
        else early.push(forged);
      }
    });
    out.on('data', (d: Buffer) => inbound.write(d));
    inbound.on('close', () => out.destroy());
    out.on('close', () => inbound.destroy());
  });
  await new Promise<void>((r) => relay.listen(0, '127.0.0.1', () => r()));
  const relayPort = (relay.address() as { port: number }).port;
  const a = await dialer(A, relayPort, { tls: tlsOf('a'), identity: identityOf('a') });
  try {
    await until('refused through the relay', () => b.stats().counters.identityFailures >= 2, 10_000);
    await sleep(300);
    assert.ok(injected >= 1, 'the relay forwarded the handshake and injected its frame');
    assert.equal(got.length, 0, `nothing delivered through the relay: ${JSON.stringify(got.slice(0, 3))}`);
    assert.ok(refused.length >= 2 && refused.every((e) => e.reason === 'identity-not-proven' && e.peer === A), refused.map((e) => e.message).join('\n'));
    // The same member, dialling b directly, proves its key over its own channel.
    const direct = await dialer(A, port, { tls: tlsOf('a'), identity: identityOf('a') });
    try {
      await until('the direct link delivered', () => got.length > 3, 10_000);
      assert.ok(got.every((m) => m.n < FORGED));
    } finally {
      await direct.stop();
    }
  } finally {
    await a.stop();
    for (const s of relayed) s.destroy();
    await new Promise<void>((r) => relay.close(() => r()));
    await b.close();
  }
});

test('member keys over TLS, a rolling upgrade: a dialer of a build that signs without the TLS channel (identity version 1) is refused at once with a log line that names channel binding and the upgrade', { skip, timeout: 30_000 }, async () => {
  const { b, got, refused, logs, port } = await listener({ tls: tlsOf('b'), identity: identityOf('b') });
  try {
    // What the previous build sends over TLS: hello with identity version 1; its answer would sign the unbound payload.
    const start = performance.now();
    const outcome = await new Promise<string>((resolve) => {
      const s = connectTls({ host: '127.0.0.1', port, ...tlsOf('a') });
      s.on('error', () => {});
      const nd = freshNonce();
      const decoder = new FrameDecoder(1024 * 1024);
      s.on('data', (d: Buffer) => {
        for (const f of decoder.push(d)) {
          const nl = (unpack(f) as { nonce: Uint8Array }).nonce;
          s.write(encodeFrame(pack({ magic: PEER_AUTH_MAGIC, signature: identityOf('a').sign(peerIdentityPayload('c1', 'a', 'b', nd, nl)) })));
        }
      });
      s.once('secureConnect', () => s.write(encodeFrame(pack({ magic: 'QRT1', clusterId: 'c1', from: 'a', to: 'b', nonce: nd, identity: PEER_IDENTITY_VERSION }))));
      s.once('close', () => resolve('closed'));
      setTimeout(() => { s.destroy(); resolve('still open'); }, 4000);
    });
    assert.equal(outcome, 'closed');
    assert.ok(performance.now() - start < 3000, 'refused at once, not at the handshake deadline');
    assert.equal(got.length, 0);
    assert.equal(b.stats().counters.identityFailures, 1);
    assert.equal(refused[0]?.reason, 'identity-not-proven');
    assert.ok(logs.some((l) => l.startsWith('warn') && /identity version 1/.test(l) && /not bound to the TLS channel/.test(l) && /build without channel binding/.test(l) && /upgrade/.test(l)), logs.join('\n'));
  } finally {
    await b.close();
  }
});

test('member keys over TLS, a rolling upgrade: a newer dialer that a listener of the previous build refuses (it closes after the hello) says why, well before the handshake deadline', { skip, timeout: 30_000 }, async () => {
  // The previous build's listener with member keys and no secret: a hello offering identity 2 is refused at once.
  const accepted: TLSSocket[] = [];
  const old = createTlsServer({ ...tlsOf('b'), requestCert: true, rejectUnauthorized: true }, (socket) => {
    accepted.push(socket);
    socket.on('error', () => {});
    const decoder = new FrameDecoder(1024 * 1024);
    socket.on('data', (d: Buffer) => {
      for (const f of decoder.push(d)) if ((unpack(f) as { identity?: unknown }).identity !== 1) socket.destroy();
    });
  });
  await new Promise<void>((r) => old.listen(0, '127.0.0.1', () => r()));
  const a = await dialer(A, (old.address() as { port: number }).port, { tls: tlsOf('a'), identity: identityOf('a'), handshakeTimeoutMs: 20_000 });
  try {
    await until('the dialer said why', () => a.logs.some((l) => /before its challenge/.test(l)), 5000);
    const line = a.logs.find((l) => /before its challenge/.test(l))!;
    assert.match(line, /^warn peer b closed the connection after this member's hello, before its challenge: with member keys over TLS/);
    assert.match(line, /without channel binding/);
    assert.match(line, /upgrade every member together/);
    assert.equal(a.logs.filter((l) => /before its challenge/.test(l)).length, 1, 'once per oversizedLogIntervalMs, not at every re-dial');
  } finally {
    await a.stop();
    for (const s of accepted) s.destroy();
    await new Promise<void>((r) => old.close(() => r()));
  }
});

test('mutual TLS: a question to a member it names (the corruption check\'s hashkv, "am I still in?") is refused unsent when the listener\'s certificate names another member; a joiner\'s question, naming none, is answered', { skip, timeout: 30_000 }, async () => {
  // At b's address, a listener holding c's certificate, answering every question "you were removed".
  const { b } = await listener({ tls: tlsOf('c') });
  let asked = 0;
  b.joinQueryHandler = () => {
    asked++;
    return { removed: true };
  };
  const address = { host: '127.0.0.1', port: b.address().port };
  try {
    const refused = await askToJoin(address, { kind: 'hashkv', revision: 1 }, { tls: tlsOf('a'), secret: null }, 5_000, 'b').then(() => null, (e: unknown) => e);
    assert.ok(refused instanceof QuorateError && refused.code === 'UNAUTHENTICATED', String(refused));
    assert.match((refused as Error).message, /is not member b: its certificate names member "c" \(CN\), not b/);
    assert.equal(asked, 0, 'the question was never sent');
    assert.deepEqual(await askToJoin(address, { kind: 'hashkv', revision: 1 }, { tls: tlsOf('a'), secret: null }, 5_000, 'c'), { removed: true }, 'the member its certificate names is asked');
    assert.deepEqual(await askToJoin(address, { name: 'd' }, { tls: tlsOf('a'), secret: null }, 5_000), { removed: true }, 'a question naming no member');
    assert.deepEqual(await askToJoin(address, { kind: 'hashkv', revision: 1 }, { tls: tlsOf('a', 'none'), secret: null }, 5_000, 'b'), { removed: true }, 'memberBinding none');
    assert.equal(asked, 3);
  } finally {
    await b.close();
  }
});

test('mutual TLS, certificates as openssl makes them: two CNs (either order), a CN the name is a prefix of, another case, a CN with a comma in it (a,O=c): none speaks for member a', { skip, timeout: 30_000 }, async () => {
  const { b, got, refused, port } = await listener({ tls: tlsOf('b') });
  const subjects = ['/CN=a/CN=c', '/CN=c/CN=a', 'ab', 'A', '/CN=a,O=c'];
  const liars = await Promise.all(subjects.map((s) => dialer(A, port, { tls: tlsOf(s), base: FORGED })));
  try {
    const expected = [/2 common names \(a, c\)/, /2 common names \(c, a\)/, /names member "ab" \(CN\), not a/, /names member "A" \(CN\), not a/, /names member "a,O=c" \(CN\), not a/];
    const messages = (): string => refused.map((e) => e.message).join('\n');
    await until('each refused, for its own reason', () => expected.every((re) => re.test(messages())), 10_000).catch((e: unknown) => { throw new Error(`${(e as Error).message}:\n${messages()}`); });
    assert.equal(got.length, 0, 'nothing delivered');
    assert.ok(refused.every((e) => e.reason === 'certificate-not-member' && e.peer === A), messages());
  } finally {
    for (const l of liars) await l.stop();
    await b.close();
  }
});
