/**
 * Frame MACs after the handshake (issue 15 item 2): with a peer secret, a frame altered, injected,
 * replayed (on its connection or from another), reordered or following a dropped frame on the path
 * is refused, its connection closed, logged and counted (`frameMacFailures`), and the dialer
 * re-dials; normal traffic arrives whole and in order, however TCP splits it. The path is a small
 * TCP relay between the two members that hands each frame of the dialer's first connection to a
 * hook (the attacker) and relays later connections untouched.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Socket } from 'node:net';
import { createHmac, randomBytes } from 'node:crypto';
import { pack } from '../../src/core/codec.js';
import { nodeId, type NodeId } from '../../src/core/ids.js';
import { encodeFrame, FrameDecoder, PeerTransport, type PeerAddress, type TransportCounters } from '../../src/transport/index.js';
import { encodeSealableFrame, FRAME_MAC_BYTES, frameTag, FrameOpener, FrameSealer } from '../../src/transport/frame-mac.js';
import { SECRET, sleep, until, type Msg } from './peer-fixtures.js';

/**
 * What the relay does with data frame `index` (0 = the first frame after the handshake) of the
 * dialer's connection `connection` (0 = the first): the frames to pass on instead (whole frames,
 * length prefix included). Handshake frames always pass.
 */
type Hook = (connection: number, index: number, frame: Buffer) => Buffer[];

/** Frames a dialer with a secret sends before its data: the hello and the answer to the challenge. */
const HANDSHAKE_FRAMES = 2;

async function relay(target: PeerAddress, hook: Hook, options: { readonly dribble?: boolean } = {}) {
  const sockets = new Set<Socket>();
  let connections = 0;
  const server = createServer((inbound) => {
    const connection = connections++;
    const outbound = connect({ host: target.host, port: target.port });
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => {
        sockets.delete(s);
        inbound.destroy();
        outbound.destroy();
      });
    }
    outbound.on('data', (d: Buffer) => inbound.write(d));
    const decoder = new FrameDecoder(64 * 1024 * 1024);
    let frames = 0;
    /** Writes go out in order, each frame (when dribbling) in three pieces some ms apart: many TCP reads. */
    let writing = Promise.resolve();
    const forward = (bytes: Buffer): void => {
      writing = writing.then(async () => {
        if (options.dribble !== true) return void outbound.write(bytes);
        const third = Math.max(1, Math.floor(bytes.length / 3));
        for (let at = 0; at < bytes.length; at += third) {
          outbound.write(bytes.subarray(at, at + third));
          await sleep(2);
        }
      });
    };
    inbound.on('data', (d: Buffer) => {
      for (const body of decoder.push(d)) {
        const frame = encodeFrame(body);
        const index = frames++ - HANDSHAKE_FRAMES;
        for (const out of index < 0 ? [frame] : hook(connection, index, frame)) forward(out);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as { port: number }).port;
  return {
    address: { host: '127.0.0.1', port },
    connections: () => connections,
    /** Closes every relayed connection (a clean cut: the dialer re-dials). */
    cut(): void {
      for (const s of sockets) s.destroy();
    },
    async close(): Promise<void> {
      this.cut();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** b listens; a dials it through the relay, both with the secret; b's log lines are kept. */
async function relayedPair(hook: Hook, options: { readonly dribble?: boolean; readonly maxFramesPerConnection?: number } = {}) {
  const got: Msg[] = [];
  const logs: { level: string; message: string; fields?: Record<string, unknown> }[] = [];
  const limits = { handshakeTimeoutMs: 2000, reconnectBackoffMaxMs: 200, ...(options.maxFramesPerConnection === undefined ? {} : { maxFramesPerConnection: options.maxFramesPerConnection }) };
  const b = await PeerTransport.start<Msg>({
    clusterId: 'c1', self: nodeId('b'), listen: { host: '127.0.0.1', port: 0 }, peers: new Map(), secret: SECRET, limits,
    logger: (level, message, fields) => logs.push({ level, message, ...(fields === undefined ? {} : { fields }) }),
  }, (m) => got.push(m));
  const r = await relay(b.address(), hook, options);
  const a = await PeerTransport.start<Msg>({
    clusterId: 'c1', self: nodeId('a'), listen: { host: '127.0.0.1', port: 0 }, peers: new Map([[nodeId('b'), r.address]]), secret: SECRET, limits,
  }, () => {});
  b.setPeers(new Map([[nodeId('a'), a.address()]]));
  const send = (n: number) => assert.ok(a.send({ from: nodeId('a'), to: nodeId('b'), n }));
  return {
    a, b, r, got, logs, send,
    delivered: () => got.map((m) => m.n),
    counters: (): TransportCounters => b.stats().counters,
    async close() {
      await a.close();
      await b.close();
      await r.close();
    },
  };
}

/** The frame of message `n` with its value replaced by `to` (a one-byte change of the payload, whatever follows it). */
function altered(frame: Buffer, to: number): Buffer {
  const out = Buffer.from(frame);
  // The key "n" (fixstr a1 6e) and its fixint value; the sender's id "a" is a1 61, so the first a1 6e is the key.
  const at = out.indexOf(Buffer.from([0xa1, 0x6e]));
  assert.ok(at > 0 && at + 2 < out.length, 'found the value of n in the payload');
  out[at + 2] = to;
  return out;
}

/**
 * Sends 0..5 in one batch on the dialer's first connection (the hook tampers with it), waits for
 * the listener to refuse a frame, then sends 10..12 on the connection the dialer dials next.
 */
async function tamperedRun(hook: Hook) {
  const p = await relayedPair(hook);
  try {
    for (let n = 0; n <= 5; n++) p.send(n);
    await until('the listener refused a frame', () => p.counters().frameMacFailures >= 1);
    await until('the dialer saw the connection close', () => (p.a.stats().peers.b?.disconnects ?? 0) >= 1);
    for (let n = 10; n <= 12; n++) p.send(n);
    await until('12 delivered on the next connection', () => p.delivered().includes(12));
    await sleep(50);
    const c = p.counters();
    assert.equal(c.frameMacFailures, 1, 'one refusal, counted');
    assert.equal(c.malformedFrames + c.forgedSender + c.authFailures, 0, 'counted as a MAC failure, nothing else');
    assert.ok(c.connectionsClosed >= 1, 'the connection was closed');
    assert.ok(p.r.connections() >= 2, 'the dialer re-dialled');
    const line = p.logs.find((l) => l.level === 'warn' && /failed its MAC|too short to carry/.test(l.message));
    assert.ok(line !== undefined, `a warning names the refusal: ${JSON.stringify(p.logs)}`);
    assert.equal(line.fields?.['counter'], 'frameMacFailures');
    return p.delivered();
  } finally {
    await p.close();
  }
}

const firstConnection = (f: (index: number, frame: Buffer) => Buffer[]): Hook => (connection, index, frame) => (connection === 0 ? f(index, frame) : [frame]);

test('normal traffic through the relay: every frame delivered, in order, with frames split across many TCP reads', { timeout: 30_000 }, async () => {
  const p = await relayedPair((_c, _i, frame) => [frame], { dribble: true });
  try {
    for (let n = 0; n < 100; n++) p.send(n);
    await until('100 delivered', () => p.got.length === 100, 20_000);
    assert.deepEqual(p.delivered(), Array.from({ length: 100 }, (_, i) => i));
    assert.equal(p.counters().frameMacFailures, 0);
    assert.equal(p.r.connections(), 1);
  } finally {
    await p.close();
  }
});

test('a frame altered in flight is refused: the connection closes, the dialer re-dials', { timeout: 30_000 }, async () => {
  const delivered = await tamperedRun(firstConnection((i, f) => [i === 2 ? altered(f, 127) : f]));
  assert.deepEqual(delivered, [0, 1, 10, 11, 12], 'nothing from the altered frame on; never the altered value');
});

test('a frame injected (without a MAC, or with a guessed one) is refused', { timeout: 60_000 }, async () => {
  const forged = pack({ from: 'a', to: 'b', n: 126 });
  const plain = await tamperedRun(firstConnection((i, f) => (i === 3 ? [encodeFrame(forged), f] : [f])));
  assert.deepEqual(plain, [0, 1, 2, 10, 11, 12]);
  const guessed = await tamperedRun(firstConnection((i, f) => (i === 3 ? [encodeFrame(Buffer.concat([forged, randomBytes(FRAME_MAC_BYTES)])), f] : [f])));
  assert.deepEqual(guessed, [0, 1, 2, 10, 11, 12]);
});

test('a frame replayed on its connection is refused', { timeout: 30_000 }, async () => {
  let first: Buffer | null = null;
  const delivered = await tamperedRun(firstConnection((i, f) => {
    if (i === 1) first = f;
    return i === 4 ? [f, first!] : [f];
  }));
  assert.deepEqual(delivered, [0, 1, 2, 3, 4, 10, 11, 12], 'message 1 delivered once');
});

test('a frame from an earlier connection replayed at the same position on a new one is refused (each connection has its own key)', { timeout: 30_000 }, async () => {
  let recorded: Buffer | null = null;
  const p = await relayedPair((connection, index, frame) => {
    if (connection === 0 && index === 0) recorded = frame;
    return connection === 1 && index === 0 ? [recorded!] : [frame];
  });
  try {
    for (let n = 0; n <= 2; n++) p.send(n);
    await until('0..2 delivered', () => p.got.length === 3);
    p.r.cut();
    await until('the dialer saw the cut', () => (p.a.stats().peers.b?.disconnects ?? 0) >= 1);
    p.send(10);
    await until('the replayed frame refused', () => p.counters().frameMacFailures >= 1);
    await until('the dialer saw the refusal', () => (p.a.stats().peers.b?.disconnects ?? 0) >= 2);
    p.send(11);
    await until('11 delivered', () => p.delivered().includes(11));
    assert.deepEqual(p.delivered(), [0, 1, 2, 11], 'message 0 delivered once; 10 lost with its connection');
    assert.equal(p.counters().frameMacFailures, 1);
  } finally {
    await p.close();
  }
});

test('two frames swapped are refused', { timeout: 30_000 }, async () => {
  let held: Buffer | null = null;
  const delivered = await tamperedRun(firstConnection((i, f) => {
    if (i === 2) {
      held = f;
      return [];
    }
    return i === 3 ? [f, held!] : [f];
  }));
  assert.deepEqual(delivered, [0, 1, 10, 11, 12]);
});

test('a frame dropped on the path: the next one is refused (its counter is not the expected one)', { timeout: 30_000 }, async () => {
  const delivered = await tamperedRun(firstConnection((i, f) => (i === 2 ? [] : [f])));
  assert.deepEqual(delivered, [0, 1, 10, 11, 12]);
});

test('a frame cut short (a body shorter than a MAC) is refused', { timeout: 30_000 }, async () => {
  const delivered = await tamperedRun(firstConnection((i, f) => (i === 2 ? [encodeFrame(Buffer.alloc(FRAME_MAC_BYTES - 1))] : [f])));
  assert.deepEqual(delivered, [0, 1, 10, 11, 12]);
});

test('at maxFramesPerConnection the dialer closes and re-dials (fresh keys, counters from 0); nothing is lost or refused', { timeout: 30_000 }, async () => {
  const p = await relayedPair((_c, _i, frame) => [frame], { maxFramesPerConnection: 3 });
  try {
    for (let n = 0; n < 10; n++) p.send(n);
    await until('10 delivered', () => p.got.length === 10);
    assert.deepEqual(p.delivered(), Array.from({ length: 10 }, (_, i) => i));
    assert.equal(p.counters().frameMacFailures, 0);
    assert.equal(p.r.connections(), 4, '3 + 3 + 3 + 1 frames');
  } finally {
    await p.close();
  }
});

test('sealer and opener: round trip, the counter is implied, a listener refuses a frame past its limit', () => {
  const key = randomBytes(32);
  const sealer = new FrameSealer(key, 2);
  const opener = new FrameOpener(key, 2);
  const frames = [0, 1].map((n) => encodeSealableFrame(pack({ n })));
  for (const f of frames) sealer.seal(f);
  assert.equal(sealer.remaining(), 0);
  assert.throws(() => sealer.seal(encodeSealableFrame(pack({ n: 2 }))), /past maxFrames/);
  // Out of order: frame 1 at counter 0 fails.
  assert.ok('refused' in new FrameOpener(key).open(frames[1]!.subarray(4)));
  for (const f of frames) assert.ok('payload' in opener.open(f.subarray(4)));
  const third = new FrameSealer(key, 3);
  const more = [0, 1, 2].map((n) => encodeSealableFrame(pack({ n })));
  for (const f of more) third.seal(f);
  const refused = opener.open(more[2]!.subarray(4));
  assert.ok('refused' in refused && /past the 2/.test(refused.refused));
  // Another key: refused.
  const other = encodeSealableFrame(pack({ n: 0 }));
  new FrameSealer(randomBytes(32)).seal(other);
  assert.ok('refused' in new FrameOpener(key).open(other.subarray(4)));
});

test('the tag is HMAC-SHA256(key, u64 big-endian counter | payload) cut to 16 bytes, the counter exact past 2^32', () => {
  const key = randomBytes(32);
  const payload = pack({ n: 1 });
  const reference = (counter: bigint) => {
    const c = Buffer.alloc(8);
    c.writeBigUInt64BE(counter, 0);
    return createHmac('sha256', key).update(c).update(payload).digest().subarray(0, FRAME_MAC_BYTES);
  };
  for (const counter of [0, 1, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 5, Number.MAX_SAFE_INTEGER]) {
    assert.deepEqual(frameTag(key, counter, payload), reference(BigInt(counter)), `counter ${counter}`);
  }
  const frame = encodeSealableFrame(payload);
  new FrameSealer(key).seal(frame);
  assert.deepEqual(frame.subarray(frame.length - FRAME_MAC_BYTES), reference(0n));
  assert.equal(frame.readUInt32BE(0), payload.byteLength + FRAME_MAC_BYTES, 'the length prefix counts the tag');
});
