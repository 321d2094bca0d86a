/**
 * The peer port's limits on connections nobody has authenticated yet, and on authenticated ones that
 * hold a socket for nothing: maxPendingConnections (one more closes the oldest of them),
 * handshakeTimeoutMs from TCP accept (with TLS too: the TLS handshake does not extend it),
 * maxConnectionsPerPeer (with liveConnectionMs; member keys: peer-identity.test.ts) and idleTimeoutMs.
 * Real sockets on loopback.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encode } from '@msgpack/msgpack';
import { nodeId } from '../../src/core/ids.js';
import { encodeFrame, PeerTransport, type TransportLimits } from '../../src/transport/index.js';
import { until, type Msg } from './peer-fixtures.js';

const hello = (from: string) => encodeFrame(encode({ magic: 'QRT1', clusterId: 'c1', from, to: 'b' }));
const message = (n: number) => encodeFrame(encode({ from: 'a', to: 'b', n }));

/** Listener b, which knows member a (and c); `got` collects what it delivers. */
async function listener(limits: Partial<TransportLimits>, extra: { tls?: { cert: Buffer; key: Buffer; ca: Buffer } } = {}) {
  const got: Msg[] = [];
  const logs: string[] = [];
  const b = await PeerTransport.start<Msg>({
    clusterId: 'c1', self: nodeId('b'), listen: { host: '127.0.0.1', port: 0 },
    peers: new Map([[nodeId('a'), { host: '127.0.0.1', port: 1 }], [nodeId('c'), { host: '127.0.0.1', port: 1 }]]),
    limits, tls: extra.tls ?? null, logger: (level, m) => logs.push(`${level} ${m}`),
  }, (m) => got.push(m));
  return { b, got, logs, port: b.address().port };
}

/** A raw TCP connection to `port`, with whether (and when) the listener closed it. */
async function open(port: number): Promise<{ socket: Socket; closed: () => boolean; closedAtMs: () => number }> {
  const socket = connect({ host: '127.0.0.1', port });
  let closedAt = -1;
  socket.on('error', () => {});
  socket.on('close', () => { closedAt = performance.now(); });
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  return { socket, closed: () => closedAt >= 0, closedAtMs: () => closedAt };
}

test('over maxPendingConnections unauthenticated connections, the oldest is closed to take the new one, and counted; authenticating frees the slot', { timeout: 20_000 }, async () => {
  const { b, got, logs, port } = await listener({ maxPendingConnections: 4, handshakeTimeoutMs: 30_000 });
  const held: Awaited<ReturnType<typeof open>>[] = [];
  try {
    for (let i = 0; i < 4; i++) {
      held.push(await open(port));
      await until(`${i + 1} pending`, () => b.stats().pendingConnections === i + 1);
    }
    // One of them stalls half-way through a frame: still pending, still counted.
    held[3]!.socket.write(hello('a').subarray(0, 5));
    const newer = [await open(port), await open(port)];
    await until('the two oldest closed', () => held[0]!.closed() && held[1]!.closed());
    assert.equal(b.stats().counters.pendingConnectionsRefused, 2);
    assert.equal(b.stats().pendingConnections, 4);
    assert.ok(!held[2]!.closed() && !held[3]!.closed() && newer.every((n) => !n.closed()), 'the newer ones are held until their deadline');
    assert.equal(logs.filter((l) => /maxPendingConnections=4/.test(l)).length, 1, `closes are logged once per interval: ${logs.join('\n')}`);
    // One of the held finishes its handshake: no longer pending, so a new one is taken with no other closed.
    newer[0]!.socket.write(Buffer.concat([hello('a'), message(1)]));
    await until('delivered', () => got.length === 1);
    assert.equal(b.stats().pendingConnections, 3);
    const taken = await open(port);
    await until('taken as pending', () => b.stats().pendingConnections === 4);
    assert.ok(!taken.closed() && !held[2]!.closed());
    assert.equal(b.stats().counters.pendingConnectionsRefused, 2);
    // A closed pending connection frees its slot too.
    held[2]!.socket.destroy();
    await until('a closed one leaves', () => b.stats().pendingConnections === 3);
    taken.socket.destroy();
    for (const n of newer) n.socket.destroy();
  } finally {
    for (const h of held) h.socket.destroy();
    await b.close();
  }
});

test('a connection that sends half a frame and stalls is closed at handshakeTimeoutMs after TCP accepted it, and counted', { timeout: 20_000 }, async () => {
  const { b, port } = await listener({ handshakeTimeoutMs: 300 });
  try {
    const c = await open(port);
    const start = performance.now();
    c.socket.write(hello('a').subarray(0, 7));
    await until('closed', () => c.closed(), 5000);
    const took = c.closedAtMs() - start;
    assert.ok(took >= 250, `closed after ${took} ms, not before its deadline`);
    const k = b.stats().counters;
    assert.equal(k.handshakeTimeouts, 1);
    assert.equal(k.handshakeFailures, 1);
    assert.equal(b.stats().pendingConnections, 0);
  } finally {
    await b.close();
  }
});

function certificates(): { dir: string; tls: { cert: Buffer; key: Buffer; ca: Buffer } } | null {
  const dir = mkdtempSync(join(tmpdir(), 'quorate-peer-limits-'));
  try {
    const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    writeFileSync(join(dir, 'san.cnf'), 'subjectAltName=IP:127.0.0.1\n');
    run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=test-ca');
    run('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'node.key', '-out', 'node.csr', '-subj', '/CN=127.0.0.1');
    run('x509', '-req', '-in', 'node.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'node.crt', '-days', '2', '-extfile', 'san.cnf');
  } catch {
    rmSync(dir, { recursive: true, force: true });
    return null;
  }
  const read = (f: string) => readFileSync(join(dir, f));
  return { dir, tls: { cert: read('node.crt'), key: read('node.key'), ca: read('ca.crt') } };
}

test('with TLS, a connection that never starts its TLS handshake holds a pending slot and meets the same deadline', { timeout: 30_000 }, async (t) => {
  const certs = certificates();
  if (certs === null) return t.skip('openssl is not installed');
  const { b, logs, port } = await listener({ handshakeTimeoutMs: 300, maxPendingConnections: 2 }, { tls: certs.tls });
  try {
    const silent = [await open(port), await open(port)];
    await until('2 pending before any TLS', () => b.stats().pendingConnections === 2);
    const newer = await open(port);
    await until('the oldest closed to take the newer one', () => silent[0]!.closed());
    assert.equal(b.stats().counters.pendingConnectionsRefused, 1);
    // Node's own TLS handshake timeout is 120 s; the peer port's deadline is handshakeTimeoutMs.
    await until('the silent ones closed at the deadline', () => silent[1]!.closed() && newer.closed(), 5000);
    assert.equal(b.stats().counters.handshakeTimeouts, 2);
    assert.equal(b.stats().pendingConnections, 0);
    assert.ok(!logs.some((l) => /failed TLS/.test(l)), `connections closed here are not logged as TLS failures: ${logs.join('\n')}`);
  } finally {
    await b.close();
    rmSync(certs.dir, { recursive: true, force: true });
  }
});

test('an authenticated connection with no frame for idleTimeoutMs is closed and counted; one that keeps talking stays', { timeout: 20_000 }, async () => {
  const { b, got, port } = await listener({ idleTimeoutMs: 200 });
  try {
    const quiet = await open(port);
    const talking = await open(port);
    quiet.socket.write(hello('a'));
    talking.socket.write(hello('c'));
    let n = 0;
    const beat = setInterval(() => talking.socket.write(encodeFrame(encode({ from: 'c', to: 'b', n: n++ }))), 50);
    try {
      await until('the quiet one closed', () => quiet.closed(), 5000);
      assert.equal(b.stats().counters.idleConnectionsClosed, 1);
      await new Promise((r) => setTimeout(r, 700)); // more than three idle intervals
      assert.ok(!talking.closed(), 'a connection that sends a frame every heartbeat stays open');
      assert.ok(got.length > 5);
    } finally {
      clearInterval(beat);
      talking.socket.destroy();
    }
  } finally {
    await b.close();
  }
});

test('a member over maxConnectionsPerPeer authenticated connections (no member keys): a newcomer never closes a live one, it is refused and counted; one quiet for liveConnectionMs makes room', { timeout: 20_000 }, async () => {
  const { b, got, port } = await listener({ maxConnectionsPerPeer: 2, liveConnectionMs: 500 });
  try {
    const conns: Awaited<ReturnType<typeof open>>[] = [];
    for (let i = 0; i < 2; i++) {
      const c = await open(port);
      c.socket.write(Buffer.concat([hello('a'), message(i)]));
      await until(`message ${i}`, () => got.length === i + 1);
      conns.push(c);
    }
    // Both live: a third is refused, the two stay.
    const refused = await open(port);
    refused.socket.write(hello('a'));
    await until('the newcomer refused', () => refused.closed());
    assert.ok(!conns[0]!.closed() && !conns[1]!.closed());
    assert.equal(b.stats().counters.liveConnectionsRefused, 1);
    assert.equal(b.stats().counters.excessConnectionsClosed, 0);
    // The second keeps talking, the first goes quiet: past liveConnectionMs the first makes room.
    const beat = setInterval(() => conns[1]!.socket.write(message(9)), 100);
    try {
      await new Promise((r) => setTimeout(r, 700));
      const c = await open(port);
      c.socket.write(Buffer.concat([hello('a'), message(2)]));
      await until('the newcomer delivered', () => got.some((m) => m.n === 2));
      await until('the quiet one closed', () => conns[0]!.closed());
      assert.ok(!conns[1]!.closed() && !c.closed(), 'the live one and the newcomer stay');
      assert.equal(b.stats().counters.excessConnectionsClosed, 1);
      conns.push(c);
    } finally {
      clearInterval(beat);
    }
    for (const c of conns) c.socket.destroy();
  } finally {
    await b.close();
  }
});

test('close() closes the connections still pending (with TLS, before their TLS handshake) rather than waiting out their deadline', { timeout: 30_000 }, async (t) => {
  const certs = certificates();
  if (certs === null) return t.skip('openssl is not installed');
  const { b, port } = await listener({ handshakeTimeoutMs: 20_000 }, { tls: certs.tls });
  try {
    const silent = await open(port);
    await until('pending', () => b.stats().pendingConnections === 1);
    const start = performance.now();
    await b.close();
    const took = performance.now() - start;
    assert.ok(took < 5000, `close() took ${Math.round(took)} ms: it waited on a connection nobody authenticated`);
    await until('the pending connection closed', () => silent.closed(), 5000);
    assert.equal(b.stats().pendingConnections, 0);
  } finally {
    await b.close();
    rmSync(certs.dir, { recursive: true, force: true });
  }
});

test('whoever holds every pending slot with silent connections (renewed as they expire) cannot keep a real member from connecting: the oldest pending one makes room', { timeout: 30_000 }, async () => {
  const { b, got, port } = await listener({ maxPendingConnections: 4, handshakeTimeoutMs: 2000 });
  const a = await PeerTransport.start<Msg>({
    clusterId: 'c1', self: nodeId('a'), listen: { host: '127.0.0.1', port: 0 }, peers: new Map([[nodeId('b'), { host: '127.0.0.1', port }]]),
  }, () => {});
  const attacker: Awaited<ReturnType<typeof open>>[] = [];
  let stop = false;
  // About two connections a second: enough to hold 4 slots with a deadline of 2 s.
  const flood = (async () => {
    while (!stop) {
      if (attacker.filter((c) => !c.closed()).length < 4) attacker.push(await open(port));
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  try {
    await until('the attacker holds every slot', () => b.stats().pendingConnections === 4);
    a.send({ from: nodeId('a'), to: nodeId('b'), n: 1 });
    await until('the real member got in', () => got.length === 1, 6000);
    assert.ok(b.stats().counters.pendingConnectionsRefused >= 1);
  } finally {
    stop = true;
    await flood;
    for (const c of attacker) c.socket.destroy();
    await a.close();
    await b.close();
  }
});

test('a member closes its own quiet outbound link (after a third of idleTimeoutMs with nothing to send) before the listener\'s idle check would, so no message is lost to that close', { timeout: 30_000 }, async () => {
  const { b, got, port } = await listener({ idleTimeoutMs: 300 });
  const a = await PeerTransport.start<Msg>({
    clusterId: 'c1', self: nodeId('a'), listen: { host: '127.0.0.1', port: 0 }, peers: new Map([[nodeId('b'), { host: '127.0.0.1', port }]]),
    limits: { idleTimeoutMs: 300 },
  }, () => {});
  const busy = (ms: number): void => { const end = performance.now() + ms; while (performance.now() < end) { /* a listener busy past its idle check */ } };
  try {
    let n = 0;
    for (let round = 0; round < 3; round++) {
      a.send({ from: nodeId('a'), to: nodeId('b'), n: n++ });
      await until(`message ${n}`, () => got.length === n, 5000);
      // Quiet for a whole idle interval of the listener (its check saw that frame and starts over)...
      await new Promise((r) => setTimeout(r, 350));
      // ...then a message, written on the next turn; the listener's event loop is busy across its
      // next idle check, which then runs first: it closes the link the message is written on.
      a.send({ from: nodeId('a'), to: nodeId('b'), n: n++ });
      busy(350);
      await until(`message ${n}`, () => got.length === n, 5000);
    }
    assert.ok(a.stats().counters.idleLinksClosed >= 3, `a closed its quiet link itself: ${JSON.stringify(a.stats().counters)}`);
    assert.equal(b.stats().counters.idleConnectionsClosed, 0, 'the listener never had to close a real member\'s link');
  } finally {
    await a.close();
    await b.close();
  }
});

test('an idleTimeoutMs or handshakeTimeoutMs past what a Node timer keeps (2^31-1 ms) is refused at start, not run as 1 ms', async () => {
  for (const limits of [{ idleTimeoutMs: 2 ** 31 }, { idleTimeoutMs: Infinity }, { handshakeTimeoutMs: 30 * 24 * 3600 * 1000 }, { handshakeTimeoutMs: 0 }]) {
    await assert.rejects(listener(limits), /must be/, JSON.stringify(limits));
  }
  const { b } = await listener({ idleTimeoutMs: 2 ** 31 - 1 });
  await b.close();
});
