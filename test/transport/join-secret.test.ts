/**
 * The peer port's one-question connections (a joining member's query, the leader's hashkv query)
 * under a cluster secret (issue 15): answered only to an asker that proved the secret; one
 * without it, or with the wrong one, gets a typed UNAUTHENTICATED error, the refusal is counted
 * and logged, and the listener goes on answering askers that hold the secret.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { pack, packTransient, unpack } from '../../src/core/codec.js';
import { QuorateError } from '../../src/core/errors.js';
import { nodeId } from '../../src/core/ids.js';
import { askToJoin, encodeFrame, FrameDecoder, JOIN_QUERY_MAGIC, PeerTransport, type PeerCredentials } from '../../src/transport/index.js';
import { MAX_JOIN_QUERY_BYTES } from '../../src/transport/join.js';
import { createServer, type Socket } from 'node:net';
import { freshNonce, JOIN_ANSWER_MAGIC, joinAnswerProof, joinProof, PEER_AUTH_MAGIC } from '../../src/transport/peer-secret.js';

const SECRET = new TextEncoder().encode('the cluster secret, 32 bytes....');
const OTHER = new TextEncoder().encode('not the cluster secret at all...');
const NONE: PeerCredentials = { tls: null, secret: null };

/** A listener with `secret` that answers every query with what it was asked; records its log. */
async function listener(secret: Uint8Array | null) {
  const asked: unknown[] = [];
  const logged: string[] = [];
  const t = await PeerTransport.start({
    clusterId: 'c1', self: nodeId('b'), listen: { host: '127.0.0.1', port: 0 }, peers: new Map(), secret, limits: { handshakeTimeoutMs: 1000 },
    logger: (level, message) => logged.push(`${level} ${message}`),
  }, () => {});
  t.joinQueryHandler = (q) => {
    asked.push(q);
    const { kind, revision } = q as { kind?: unknown; revision?: unknown };
    return kind === 'hashkv' ? { hash: 42, compactRevision: 0, revision } : { clusterId: 'c1', nodeId: 'd' };
  };
  return { t, asked, logged };
}

type Listener = Awaited<ReturnType<typeof listener>>;

/** Runs `body` against a listener with `secret`, closing the listener however `body` ends. */
async function withListener(secret: Uint8Array | null, body: (l: Listener) => Promise<void>): Promise<void> {
  const l = await listener(secret);
  try {
    await body(l);
  } finally {
    await l.t.close();
  }
}

/** Asks `l` with `credentials`, which must be refused with a typed UNAUTHENTICATED error; that error. */
async function refused(l: Listener, query: Record<string, unknown>, credentials: PeerCredentials): Promise<QuorateError> {
  const err = await askToJoin(l.t.address(), query, credentials, 5_000).then(() => assert.fail('answered'), (e: unknown) => e);
  assert.ok(err instanceof QuorateError, String(err));
  assert.equal(err.code, 'UNAUTHENTICATED');
  return err;
}

/** One raw join-query connection: sends `query`, then answers the challenge with `respond(challenge)`; the frames it got. */
async function rawAsk(port: number, query: Uint8Array, respond: (challenge: { nonce: Uint8Array; proof: Uint8Array }) => Uint8Array): Promise<unknown[]> {
  const socket = connect({ host: '127.0.0.1', port });
  socket.on('error', () => {});
  const decoder = new FrameDecoder(1 << 16);
  const frames: unknown[] = [];
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.on('data', (chunk: Buffer) => {
    for (const f of decoder.push(chunk)) {
      frames.push(unpack(f));
      if (frames.length === 1) socket.write(encodeFrame(respond(frames[0] as { nonce: Uint8Array; proof: Uint8Array })));
    }
  });
  socket.write(encodeFrame(query));
  await closed;
  return frames;
}

test('with a secret configured, a join or hashkv query without it is refused with UNAUTHENTICATED, counted and logged', { timeout: 20_000 }, async () => {
  await withListener(SECRET, async (l) => {
    for (const query of [{ peerUrls: ['http://127.0.0.1:1'], name: 'd' }, { kind: 'hashkv', revision: 5 }]) {
      const err = await refused(l, query, NONE);
      assert.match(err.message, /--peer-secret-file/);
    }
    assert.equal(l.asked.length, 0, 'no query reached the handler');
    assert.equal(l.t.stats().counters.authFailures, 2);
    assert.equal(l.logged.filter((x) => x.startsWith('warn refused a join query')).length, 2);
    // The listener keeps serving: an asker with the secret is answered.
    assert.deepEqual(await askToJoin(l.t.address(), { kind: 'hashkv', revision: 5 }, { tls: null, secret: SECRET }, 5_000), { hash: 42, compactRevision: 0, revision: 5 });
  });
});

test('an asker with the wrong secret is refused before it sends its proof; the handler never runs', { timeout: 20_000 }, async () => {
  await withListener(SECRET, async (l) => {
    await refused(l, { kind: 'hashkv', revision: 5 }, { tls: null, secret: OTHER });
    assert.equal(l.asked.length, 0);
  });
});

test('a raw asker that answers the challenge with a wrong proof is refused with UNAUTHENTICATED and counted', { timeout: 20_000 }, async () => {
  await withListener(SECRET, async (l) => {
    const frames = await rawAsk(l.t.address().port, packTransient({ magic: JOIN_QUERY_MAGIC, kind: 'hashkv', revision: 1, nonce: freshNonce() }),
      () => packTransient({ magic: PEER_AUTH_MAGIC, proof: freshNonce() }));
    assert.equal((frames[0] as { magic?: unknown }).magic, PEER_AUTH_MAGIC, 'challenged first');
    assert.deepEqual(frames[1], { error: 'the asker did not prove the cluster secret', code: 'UNAUTHENTICATED' });
    assert.equal(l.asked.length, 0);
    assert.equal(l.t.stats().counters.authFailures, 1);
  });
});

test('askers holding the secret are answered, the join query and the hashkv query alike', { timeout: 20_000 }, async () => {
  await withListener(SECRET, async (l) => {
    const credentials = { tls: null, secret: SECRET };
    assert.deepEqual(await askToJoin(l.t.address(), { peerUrls: ['http://127.0.0.1:1'], name: 'd' }, credentials, 5_000), { clusterId: 'c1', nodeId: 'd' });
    assert.deepEqual(await askToJoin(l.t.address(), { kind: 'hashkv', revision: 7 }, credentials, 5_000), { hash: 42, compactRevision: 0, revision: 7 });
    assert.equal(l.asked.length, 2);
    assert.equal(l.t.stats().counters.authFailures, 0);
  });
});

test('an asker with a secret refuses a listener that answers without proving one', { timeout: 20_000 }, async () => {
  await withListener(null, async (l) => {
    await refused(l, { kind: 'hashkv', revision: 5 }, { tls: null, secret: SECRET });
    // Without a secret on either side the query is answered, as before.
    assert.deepEqual(await askToJoin(l.t.address(), { kind: 'hashkv', revision: 5 }, NONE, 5_000), { hash: 42, compactRevision: 0, revision: 5 });
  });
});

test('an asker that never closes its end is disconnected at the handshake timeout, refused or answered, and counted once', { timeout: 20_000 }, async () => {
  for (const secret of [SECRET, null]) {
    await withListener(secret, async (l) => { // handshakeTimeoutMs: 1000
      const { port } = l.t.address();
      // allowHalfOpen: this asker keeps its end open after the listener's answer.
      const socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
      socket.on('error', () => {});
      const decoder = new FrameDecoder(1 << 16);
      const frames: unknown[] = [];
      socket.on('data', (chunk: Buffer) => { for (const f of decoder.push(chunk)) frames.push(unpack(f)); });
      socket.write(encodeFrame(packTransient({ magic: JOIN_QUERY_MAGIC, kind: 'hashkv', revision: 1 })));
      // The listener's own sockets (private): its answered connection must be gone after the timeout.
      const inbound = (l.t as unknown as { inbound: Set<unknown> }).inbound;
      const deadline = Date.now() + 4_000;
      while (Date.now() < deadline && (frames.length === 0 || inbound.size > 0)) await new Promise((r) => setTimeout(r, 100));
      const wasClosed = inbound.size === 0;
      socket.destroy();
      assert.equal(frames.length, 1, 'one answer');
      assert.ok(wasClosed, `the listener closed the connection (secret: ${secret !== null})`);
      const c = l.t.stats().counters;
      assert.equal(c.authFailures, secret === null ? 0 : 1);
      assert.equal(c.handshakeFailures, 0);
    });
  }
});

test('a captured proof replayed on a new connection, or the listener\'s own challenge sent back, is refused', { timeout: 20_000 }, async () => {
  await withListener(SECRET, async (l) => {
    const { port } = l.t.address();
    const nonce = freshNonce();
    const bytes = pack({ magic: JOIN_QUERY_MAGIC, kind: 'hashkv', revision: 1, nonce });
    // The legitimate exchange, recorded: the asker's proof for this query, this nonce and that challenge.
    let recorded: Uint8Array | null = null;
    const ok = await rawAsk(port, bytes, (c) => {
      recorded = pack({ magic: PEER_AUTH_MAGIC, proof: joinProof(SECRET, 'dialer', bytes, nonce, c.nonce) });
      return recorded;
    });
    const answer = ok[1] as { magic: string; answer: Uint8Array };
    assert.equal(answer.magic, JOIN_ANSWER_MAGIC);
    assert.deepEqual(unpack(answer.answer), { hash: 42, compactRevision: 0, revision: 1 });
    // Replayed: the same query bytes and nonce, the recorded answer; the listener's nonce is fresh.
    const replayed = await rawAsk(port, bytes, () => recorded!);
    assert.deepEqual(replayed[1], { error: 'the asker did not prove the cluster secret', code: 'UNAUTHENTICATED' });
    // Reflected: the listener's own challenge (its listener-side proof) sent back as the answer.
    const reflected = await rawAsk(port, bytes, (c) => pack({ magic: PEER_AUTH_MAGIC, nonce: c.nonce, proof: c.proof }));
    assert.deepEqual(reflected[1], { error: 'the asker did not prove the cluster secret', code: 'UNAUTHENTICATED' });
    assert.equal(l.asked.length, 1, 'only the legitimate query reached the handler');
    assert.equal(l.t.stats().counters.authFailures, 2);
  });
});

test('an asker that never answers the challenge is disconnected at the handshake timeout, counted and logged', { timeout: 20_000 }, async () => {
  await withListener(SECRET, async (l) => { // handshakeTimeoutMs: 1000
    const socket = connect({ host: '127.0.0.1', port: l.t.address().port });
    socket.on('error', () => {});
    socket.resume(); // reads (and drops) the challenge, so that the listener's close is seen
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.write(encodeFrame(pack({ magic: JOIN_QUERY_MAGIC, kind: 'hashkv', revision: 1, nonce: freshNonce() })));
    await closed;
    assert.equal(l.t.stats().counters.authFailures, 1);
    assert.equal(l.logged.filter((x) => x.startsWith('warn refused a join query') && x.includes('no answer to the challenge')).length, 1, l.logged.join('\n'));
    assert.equal(l.asked.length, 0);
  });
});

/**
 * A listener that proves the secret at the challenge, as a member does, and then answers with
 * `answer(query bytes, dialer nonce, listener nonce)`: what someone on the path could send after
 * the handshake. Resolves with its port; close() stops it.
 */
async function provingListener(answer: (query: Uint8Array, dialerNonce: Uint8Array, listenerNonce: Uint8Array) => Uint8Array) {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    const decoder = new FrameDecoder(1 << 16);
    let query: Uint8Array | null = null;
    const mine = freshNonce();
    socket.on('data', (chunk: Buffer) => {
      for (const f of decoder.push(chunk)) {
        if (query === null) {
          query = Uint8Array.from(f);
          const nonce = (unpack(f) as { nonce: Uint8Array }).nonce;
          socket.write(encodeFrame(pack({ magic: PEER_AUTH_MAGIC, nonce: mine, proof: joinProof(SECRET, 'listener', query, nonce, mine) })));
        } else {
          socket.end(encodeFrame(answer(query, (unpack(query) as { nonce: Uint8Array }).nonce, mine)));
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return { port, close: () => new Promise<void>((resolve) => { for (const s of sockets) s.destroy(); server.close(() => resolve()); }) };
}

test('with a secret, an answer is taken only with its listener\'s proof: a plain, altered or replayed answer is refused', { timeout: 20_000 }, async () => {
  const credentials = { tls: null, secret: SECRET };
  const honest = { hash: 42, compactRevision: 0, revision: 5 };
  const forged = { hash: 13, compactRevision: 0, revision: 5 };
  let recorded: Uint8Array | null = null;
  const cases: [string, (q: Uint8Array, dn: Uint8Array, ln: Uint8Array) => Uint8Array, boolean][] = [
    ['proven', (q, dn, ln) => {
      const a = pack(honest);
      recorded = pack({ magic: JOIN_ANSWER_MAGIC, answer: a, proof: joinAnswerProof(SECRET, q, a, dn, ln) });
      return recorded;
    }, true],
    ['plain (an answer put in place of the member\'s after the handshake)', () => pack(forged), false],
    ['altered (the proof of the honest answer over other bytes)', (q, dn, ln) => pack({ magic: JOIN_ANSWER_MAGIC, answer: pack(forged), proof: joinAnswerProof(SECRET, q, pack(honest), dn, ln) }), false],
    ['proven with another secret', (q, dn, ln) => pack({ magic: JOIN_ANSWER_MAGIC, answer: pack(forged), proof: joinAnswerProof(OTHER, q, pack(forged), dn, ln) }), false],
    ['replayed from the first connection', () => recorded!, false],
  ];
  for (const [name, answer, taken] of cases) {
    const l = await provingListener(answer);
    try {
      const got = await askToJoin({ host: '127.0.0.1', port: l.port }, { kind: 'hashkv', revision: 5 }, credentials, 5_000).then((v) => v, (e: unknown) => e);
      if (taken) assert.deepEqual(got, honest, name);
      else {
        assert.ok(got instanceof QuorateError && got.code === 'UNAUTHENTICATED', `${name}: ${String(got)}`);
        assert.match(got.message, /without proving its answer/, name);
      }
    } finally {
      await l.close();
    }
  }
});

test('a query over MAX_JOIN_QUERY_BYTES is refused before it is kept or hashed, with a secret or without', { timeout: 20_000 }, async () => {
  for (const secret of [SECRET, null]) {
    await withListener(secret, async (l) => {
      const big = packTransient({ magic: JOIN_QUERY_MAGIC, kind: 'hashkv', revision: 1, nonce: freshNonce(), pad: new Uint8Array(MAX_JOIN_QUERY_BYTES) });
      const frames = await rawAsk(l.t.address().port, big, () => packTransient({}));
      assert.deepEqual(frames[0], { error: `the query is ${big.byteLength} bytes, over the limit of ${MAX_JOIN_QUERY_BYTES}`, code: 'UNAUTHENTICATED' });
      assert.equal(l.asked.length, 0);
      assert.equal(l.t.stats().counters.authFailures, 1);
    });
  }
});
