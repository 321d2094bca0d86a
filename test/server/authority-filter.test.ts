/**
 * The client port's `:authority` filter: HPACK's Huffman code against RFC 7541's own examples,
 * and Node's http2 (nghttp2 on both ends, as under grpc-js) with and without the filter between
 * client and server. etcdctl itself is driven in etcdctl-http-endpoints.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer, type Http2Server, type ClientHttp2Session } from 'node:http2';
import { createConnection, createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { huffmanDecode, huffmanEncode, readInteger, writeInteger } from '../../src/server/hpack.js';
import { AuthorityFilter, FrameRewriter, rewriteAuthority } from '../../src/server/authority-filter.js';

test('Huffman code: RFC 7541 C.4 examples, every byte value, bad padding refused', () => {
  const examples: Array<[string, string]> = [
    ['www.example.com', 'f1e3c2e5f23a6ba0ab90f4ff'],
    ['no-cache', 'a8eb10649cbf'],
    ['custom-value', '25a849e95bb8e8b4bf'],
  ];
  for (const [text, hex] of examples) {
    assert.equal(huffmanEncode(Buffer.from(text)).toString('hex'), hex, text);
    assert.equal(huffmanDecode(Buffer.from(hex, 'hex'))?.toString(), text, text);
  }
  const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  assert.deepEqual(huffmanDecode(huffmanEncode(all)), all);
  // "a" is 00011 and three bits of padding: ones are padding, zeros are not.
  assert.equal(huffmanDecode(Buffer.from([0x1f]))?.toString(), 'a');
  assert.equal(huffmanDecode(Buffer.from([0x18])), null);
  // A whole byte of padding.
  assert.equal(huffmanDecode(Buffer.from('f1e3c2e5f23a6ba0ab90f4ffff', 'hex')), null);
});

test('prefixed integers: RFC 7541 C.1 examples', () => {
  assert.deepEqual(writeInteger(10, 5, 0), Buffer.from([0x0a]));
  assert.deepEqual(writeInteger(1337, 5, 0), Buffer.from([0x1f, 0x9a, 0x0a]));
  assert.deepEqual(readInteger(Buffer.from([0x1f, 0x9a, 0x0a]), 0, 5), { value: 1337, end: 3 });
  assert.equal(readInteger(Buffer.from([0x1f, 0x9a]), 0, 5), null, 'cut short');
});

test('rewriteAuthority: a literal URL authority becomes host:port; other blocks are left alone', () => {
  // Literal with incremental indexing, static name 1 (:authority), raw value.
  const url = Buffer.from('http://127.0.0.1:2379');
  const block = Buffer.concat([Buffer.from([0x83, 0x41, url.length]), url, Buffer.from([0x86])]);
  const out = rewriteAuthority(block);
  assert.ok(out !== null);
  // The fields around it are untouched; the value is re-encoded (Huffman, shorter).
  assert.equal(out[0], 0x83);
  assert.equal(out[1], 0x41);
  assert.equal(out[out.length - 1], 0x86);
  const value = out.subarray(3, out.length - 1);
  assert.equal(out[2]! & 0x7f, value.length);
  assert.equal(huffmanDecode(value)?.toString(), '127.0.0.1:2379');
  // A spelt-out name, never indexed.
  const name = Buffer.from(':authority');
  const spelt = Buffer.concat([Buffer.from([0x10, name.length]), name, Buffer.from([url.length]), url]);
  assert.equal(huffmanDecode(rewriteAuthority(spelt)!.subarray(2 + name.length + 1))?.toString(), '127.0.0.1:2379');
  // Already a host and port; a truncated block.
  const plain = Buffer.from('127.0.0.1:2379');
  assert.equal(rewriteAuthority(Buffer.concat([Buffer.from([0x41, plain.length]), plain])), null);
  assert.equal(rewriteAuthority(block.subarray(0, 10)), null);
});

interface Pair {
  readonly port: number;
  readonly seen: string[];
  close(): Promise<void>;
}

/** A Node http2 server behind a TCP listener that hands each connection on, filtered or not. */
async function serve(filter: boolean, split = false): Promise<Pair> {
  const seen: string[] = [];
  const h2: Http2Server = createServer();
  h2.on('stream', (stream, headers) => {
    seen.push(String(headers[':authority']));
    stream.respond({ ':status': 200 });
    stream.end();
  });
  const net: NetServer = createNetServer((socket) => {
    // `split`: feed the filter one byte at a time, so every frame arrives in pieces.
    const wrapped = filter ? new AuthorityFilter(split ? byteAtATime(socket) : socket) : socket;
    h2.emit('connection', wrapped);
  });
  await new Promise<void>((resolve) => net.listen(0, '127.0.0.1', resolve));
  const address = net.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    port, seen,
    close: () => new Promise<void>((resolve) => { h2.close(); net.close(() => resolve()); }),
  };
}

/** A socket-like stream that re-emits every chunk of `socket` byte by byte. */
function byteAtATime(socket: Socket): Duplex {
  const d = new Duplex({
    read: () => socket.resume(),
    write: (chunk: Buffer, _e, cb) => socket.write(chunk, cb),
    final: (cb) => socket.end(cb),
  });
  socket.on('data', (chunk: Buffer) => { for (const b of chunk) d.push(Buffer.from([b])); });
  socket.once('end', () => d.push(null));
  socket.once('close', () => d.destroy());
  return d;
}

/** One request with this :authority; the stream's reset code (0 when it succeeded). */
function request(session: ClientHttp2Session, authority: string): Promise<number> {
  return new Promise((resolve) => {
    const req = session.request({ ':path': '/', ':authority': authority });
    req.on('error', () => {});
    req.resume();
    req.on('close', () => resolve(req.rstCode ?? 0));
    req.end();
  });
}

test('nghttp2 resets a stream whose :authority is a URL; through the filter it is served', async () => {
  const bare = await serve(false);
  const filtered = await serve(true);
  const sessions: ClientHttp2Session[] = [];
  try {
    const a = connect(`http://127.0.0.1:${bare.port}`);
    sessions.push(a);
    assert.equal(await request(a, `http://127.0.0.1:${bare.port}`), 1, 'PROTOCOL_ERROR without the filter');
    const b = connect(`http://127.0.0.1:${filtered.port}`);
    sessions.push(b);
    assert.equal(await request(b, `http://127.0.0.1:${filtered.port}`), 0);
    assert.equal(await request(b, 'https://localhost:2379/'), 0);
    assert.equal(await request(b, '127.0.0.1:2379'), 0, 'a host and port pass as they are');
    assert.deepEqual(filtered.seen, [`127.0.0.1:${filtered.port}`, 'localhost:2379', '127.0.0.1:2379']);
  } finally {
    for (const s of sessions) s.close();
    await bare.close();
    await filtered.close();
  }
});

test('through the filter, on one connection: the header table stays in step past eviction; frames split to single bytes', async () => {
  for (const split of [false, true]) {
    const pair = await serve(true, split);
    const session = connect(`http://127.0.0.1:${pair.port}`);
    try {
      // The client indexes each new authority, and about 57 of these fit in its 4 KiB table.
      // Phases: hosts that recur within 40 requests (sent as indices into the table the filter
      // has shortened), then within 120 (evicted by then: literals again, and evictions), then
      // within 40 again (indices after many evictions).
      const count = split ? 60 : 300;
      const expected: string[] = [];
      for (let i = 0; i < count; i++) {
        const member = i % [40, 120, 40][Math.floor(i / 100)]!;
        const host = `member-${member}.example:${2379 + (member % 7)}`;
        assert.equal(await request(session, `http://${host}`), 0, `request ${i}`);
        expected.push(host);
      }
      assert.deepEqual(pair.seen, expected);
    } finally {
      session.close();
      await pair.close();
    }
  }
});

test('FrameRewriter passes frames other than HEADERS, and connections without the preface, through byte for byte', () => {
  const preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
  const settings = Buffer.from([0, 0, 6, 0x4, 0, 0, 0, 0, 0, 0, 0x3, 0, 0, 0, 100]);
  const url = Buffer.from('http://h:1');
  const data = Buffer.concat([Buffer.from([0, 0, url.length + 2, 0x0, 0x1, 0, 0, 0, 1, 0x41, url.length]), url]);
  const input = Buffer.concat([preface, settings, data]);
  assert.deepEqual(Buffer.concat(new FrameRewriter().push(input)), input, 'a DATA frame that looks like a header block is not touched');
  // The same header block in a HEADERS frame is rewritten, but not on a connection that did not start with the preface.
  const headers = Buffer.from(data);
  headers[3] = 0x1;
  headers[4] = 0x4;
  assert.notDeepEqual(Buffer.concat(new FrameRewriter().push(Buffer.concat([preface, headers]))), Buffer.concat([preface, headers]));
  const notHttp2 = Buffer.concat([Buffer.from('PRI * HTTP/1.1\r\n\r\nSM\r\n\r\n'), headers]);
  const rewriter = new FrameRewriter();
  assert.deepEqual(Buffer.concat([...notHttp2].flatMap((b) => rewriter.push(Buffer.from([b])))), notHttp2);
});

test('FrameRewriter: a HEADERS frame sent a byte at a time is copied a bounded number of times, not once per byte', () => {
  const preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
  const url = Buffer.from('http://h:1');
  // A maximal HEADERS frame: the URL authority, then indexed fields (:method GET) to fill it.
  const block = Buffer.concat([Buffer.from([0x41, url.length]), url, Buffer.alloc(16_384 - 2 - url.length, 0x82)]);
  const frame = Buffer.concat([Buffer.from([0x00, 0x40, 0x00, 0x1, 0x4, 0, 0, 0, 1]), block]);
  const rewriter = new FrameRewriter();
  const out = [...rewriter.push(preface)];
  const concat = Buffer.concat;
  let copied = 0;
  Buffer.concat = ((list: readonly Uint8Array[], total?: number) => {
    const joined = concat(list, total);
    copied += joined.length;
    return joined;
  }) as typeof Buffer.concat;
  try {
    for (const b of frame) out.push(...rewriter.push(Buffer.from([b])));
  } finally {
    Buffer.concat = concat;
  }
  // Joining the held bytes once, and the rewrite: a few frames' worth, where one copy per byte was 2^27.
  assert.ok(copied <= 4 * frame.length, `${copied} bytes copied for a ${frame.length}-byte frame`);
  const got = Buffer.concat(out).subarray(preface.length);
  assert.equal(got.readUIntBE(0, 3), got.length - 9, 'one whole frame, rewritten');
  assert.ok(got.length < frame.length);
});

/** What Node's http2 client sends to open a connection and make one request with this :authority. */
async function requestBytes(authority: string): Promise<Buffer> {
  const seen: Buffer[] = [];
  const sink = createNetServer((socket) => socket.on('data', (chunk: Buffer) => seen.push(chunk)));
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
  const address = sink.address();
  const session = connect(`http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`);
  session.on('error', () => {});
  session.request({ ':path': '/', ':authority': authority }).on('error', () => {}).end();
  await new Promise((r) => setTimeout(r, 100));
  session.destroy();
  await new Promise<void>((resolve) => sink.close(() => resolve()));
  return Buffer.concat(seen);
}

test('a client that sends FIN with a request outstanding: the session closes and the process keeps running', async () => {
  const h2: Http2Server = createServer();
  // The answer comes after the client's FIN has arrived.
  h2.on('stream', (stream) => {
    stream.on('error', () => {});
    setTimeout(() => {
      if (stream.destroyed) return;
      stream.respond({ ':status': 200 });
      stream.end('late');
    }, 50);
  });
  const closed = new Promise<void>((resolve) => h2.once('session', (session) => session.once('close', () => resolve())));
  const net: NetServer = createNetServer((socket) => {
    socket.on('error', () => {});
    // The server's end of the connection, except that its FIN takes a while and then fails
    // (the kernel is still sending what was queued when the client resets the connection).
    const slowFin: Duplex = new Duplex({
      allowHalfOpen: false,
      read: () => socket.resume(),
      write: (chunk: Buffer, _e, cb) => socket.write(chunk, cb),
      final: () => setTimeout(() => slowFin.destroy(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })), 150),
    });
    socket.on('data', (chunk: Buffer) => slowFin.push(chunk));
    socket.once('end', () => slowFin.push(null));
    slowFin.once('close', () => socket.destroy());
    h2.emit('connection', new AuthorityFilter(slowFin));
  });
  await new Promise<void>((resolve) => net.listen(0, '127.0.0.1', resolve));
  const address = net.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  try {
    // The request and the FIN in one go.
    const raw = createConnection({ port, host: '127.0.0.1' });
    raw.on('error', () => {});
    raw.end(await requestBytes(`http://127.0.0.1:${port}`));
    await closed;
    raw.destroy();
  } finally {
    h2.close();
    await new Promise<void>((resolve) => net.close(() => resolve()));
  }
});
