/**
 * A link refused right after its handshake (its member holds maxConnectionsPerPeer live links, or it
 * could not prove the member's key) looks, to its dialer, like one that connected: it sent its
 * answer and queued frames before the listener said no. Such a dialer must still back off
 * (reconnectBackoffMinMs doubling up to reconnectBackoffMaxMs), not re-dial at the least backoff
 * for as long as it is refused, and the listener must not write a warning per refusal: a member
 * locked out (see peer-identity.test.ts) or one of an old build during an upgrade would otherwise
 * cost both ends a handshake and the listener a log line every few tens of milliseconds, for ever.
 * Real sockets on loopback.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nodeId, type NodeId } from '../../src/core/ids.js';
import { PeerTransport, type TransportLimits } from '../../src/transport/index.js';
import { SECRET, sleep, until, type Msg } from './peer-fixtures.js';

const A = nodeId('a');
const B = nodeId('b');

async function listener(limits: Partial<TransportLimits>) {
  const got: Msg[] = [];
  const warnings: string[] = [];
  const b = await PeerTransport.start<Msg>({
    clusterId: 'c1', self: B, listen: { host: '127.0.0.1', port: 0 },
    peers: new Map([[A, { host: '127.0.0.1', port: 1 }]]), limits, secret: SECRET,
    logger: (level, message) => { if (level === 'warn' && message.startsWith('refused a new connection')) warnings.push(message); },
  }, (m) => got.push(m));
  return { b, got, warnings };
}

/** A member naming `self` that sends to b every `everyMs`, with the default reconnect backoff (50 ms to 2 s). */
async function talker(self: NodeId, port: number, everyMs: number) {
  const t = await PeerTransport.start<Msg>({
    clusterId: 'c1', self, listen: { host: '127.0.0.1', port: 0 }, peers: new Map([[B, { host: '127.0.0.1', port }]]), secret: SECRET,
  }, () => {});
  let n = 0;
  const beat = setInterval(() => t.send({ from: self, to: B, n: n++ }), everyMs);
  return { t, stop: async () => { clearInterval(beat); await t.close(); } };
}

test('without member keys, links held live in a member\'s name lock it out (counted, liveConnectionsRefused); refused, it backs off to reconnectBackoffMaxMs and the listener warns once per oversizedLogIntervalMs', { timeout: 30_000 }, async () => {
  const { b, got, warnings } = await listener({ maxConnectionsPerPeer: 2, oversizedLogIntervalMs: 10_000 });
  const port = b.address().port;
  // Two parties that hold the secret take both of a's slots and keep them live (a frame every 50 ms).
  const holders = [await talker(A, port, 50)];
  await until('the first holder is in', () => got.length >= 1);
  holders.push(await talker(A, port, 50));
  await until('the second holder is in', () => b.stats().counters.received >= 4 && b.stats().counters.liveConnectionsRefused === 0);
  await sleep(200);
  const before = b.stats().counters.liveConnectionsRefused;
  // The real a (its messages are numbered like the holders': what counts is what it is refused).
  const real = await talker(A, port, 50);
  try {
    await sleep(4000);
    const refused = b.stats().counters.liveConnectionsRefused - before;
    // Locked out for as long as the holders keep talking (the limitation README states).
    assert.ok(refused >= 1, 'the real member is refused');
    assert.equal(real.t.stats().peers['b']!.reconnects, refused, 'every one of its links was refused');
    // Backing off from 50 ms, doubling, to 2 s: 50 + 100 + 200 + 400 + 800 + 1600 + 2000 ms of waits
    // (half to all of each, jittered) is at most 8 attempts in 4 s; at the least backoff it was ~100.
    assert.ok(refused <= 10, `refused ${refused} times in 4 s: the dialer re-dials at its least backoff`);
    assert.equal(warnings.length, 1, `one warning per oversizedLogIntervalMs, not one per refusal (${warnings.length})`);
  } finally {
    await real.stop();
    for (const h of holders) await h.stop();
    await b.close();
  }
});
