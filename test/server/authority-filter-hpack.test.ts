/**
 * The filter against an HPACK encoder of our own (test-side, with its own dynamic table) that
 * uses every representation RFC 7541 allows: indexed fields, literals with and without indexing
 * and never indexed, names from the static table, the dynamic table or spelt out, Huffman or raw
 * strings, dynamic table size updates, entries larger than the whole table (which empty it), and
 * `:authority` anywhere among the pseudo-headers; HEADERS frames PADDED, with PRIORITY, some
 * continued in a CONTINUATION frame; the bytes written in random pieces. Thousands of bytes of
 * metadata per request keep the 4 KiB table evicting. nghttp2 decodes behind the filter: every
 * request must arrive with exactly the fields sent, `:authority` as host:port. (The encoder keeps
 * to what the filter mends: a URL `:authority` with the static name or spelt out, within the
 * HEADERS frame.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Http2Server, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import { createConnection, createServer as createNetServer, type Server as NetServer } from 'node:net';
import { AuthorityFilter } from '../../src/server/authority-filter.js';
import { huffmanEncode, writeInteger } from '../../src/server/hpack.js';
import { clientPreface, frame } from './http2-frames.js';

type Field = [string, string];

/** RFC 7541 Appendix A, the names and values an encoder may refer to by index (1-based). */
const STATIC: Field[] = [
  [':authority', ''], [':method', 'GET'], [':method', 'POST'], [':path', '/'], [':path', '/index.html'], [':scheme', 'http'], [':scheme', 'https'],
  [':status', '200'], [':status', '204'], [':status', '206'], [':status', '304'], [':status', '400'], [':status', '404'], [':status', '500'],
  ['accept-charset', ''], ['accept-encoding', 'gzip, deflate'], ['accept-language', ''], ['accept-ranges', ''], ['accept', ''],
  ['access-control-allow-origin', ''], ['age', ''], ['allow', ''], ['authorization', ''], ['cache-control', ''], ['content-disposition', ''],
  ['content-encoding', ''], ['content-language', ''], ['content-length', ''], ['content-location', ''], ['content-range', ''], ['content-type', ''],
  ['cookie', ''], ['date', ''], ['etag', ''], ['expect', ''], ['expires', ''], ['from', ''], ['host', ''], ['if-match', ''], ['if-modified-since', ''],
  ['if-none-match', ''], ['if-range', ''], ['if-unmodified-since', ''], ['last-modified', ''], ['link', ''], ['location', ''], ['max-forwards', ''],
  ['proxy-authenticate', ''], ['proxy-authorization', ''], ['range', ''], ['referer', ''], ['refresh', ''], ['retry-after', ''], ['server', ''],
  ['set-cookie', ''], ['strict-transport-security', ''], ['transfer-encoding', ''], ['user-agent', ''], ['vary', ''], ['via', ''], ['www-authenticate', ''],
];
const TABLE_BYTES = 4096;

class Random {
  constructor(private s: number) {}
  next(): number {
    this.s ^= this.s << 13; this.s >>>= 0; this.s ^= this.s >>> 17; this.s ^= this.s << 5; this.s >>>= 0;
    return this.s / 2 ** 32;
  }
  int(n: number): number { return Math.floor(this.next() * n); }
  pick<T>(a: readonly T[]): T { return a[this.int(a.length)]!; }
}

class Encoder {
  private table: Field[] = [];
  private size = 0;
  private max = TABLE_BYTES;
  constructor(private readonly r: Random) {}

  private evict(): void {
    while (this.size > this.max) {
      const [n, v] = this.table.pop()!;
      this.size -= n.length + v.length + 32;
    }
  }

  private add(n: string, v: string): void {
    const bytes = n.length + v.length + 32;
    if (bytes > this.max) {
      this.table = [];
      this.size = 0;
      return;
    }
    this.table.unshift([n, v]);
    this.size += bytes;
    this.evict();
  }

  private string(s: string): Buffer {
    const raw = Buffer.from(s, 'latin1');
    if (this.r.next() < 0.5) return Buffer.concat([writeInteger(raw.length, 7, 0), raw]);
    const coded = huffmanEncode(raw);
    return Buffer.concat([writeInteger(coded.length, 7, 0x80), coded]);
  }

  /** The header block, and where the `:authority` field ends in it. */
  encode(fields: readonly Field[]): { block: Buffer; authorityEnd: number } {
    const out: Buffer[] = [];
    if (this.r.next() < 0.05) {
      this.max = this.r.pick([0, 256, 1024, 4096]);
      this.evict();
      out.push(writeInteger(this.max, 5, 0x20));
      if (this.r.next() < 0.7) {
        this.max = TABLE_BYTES;
        out.push(writeInteger(this.max, 5, 0x20));
      }
    }
    let authorityEnd = 0;
    for (const [n, v] of fields) {
      const exact: number[] = [];
      const named: number[] = [];
      STATIC.forEach(([sn, sv], i) => {
        if (sn === n) named.push(i + 1);
        if (sn === n && sv === v) exact.push(i + 1);
      });
      this.table.forEach(([dn, dv], i) => {
        // The filter reads a URL :authority's name from the static table or spelt out only.
        if (dn === n && n !== ':authority') named.push(STATIC.length + 1 + i);
        if (dn === n && dv === v) exact.push(STATIC.length + 1 + i);
      });
      if (exact.length > 0 && this.r.next() < 0.8) {
        out.push(writeInteger(this.r.pick(exact), 7, 0x80));
      } else {
        const kind = this.r.pick(['incremental', 'incremental', 'without', 'never'] as const);
        const name = named.length > 0 && this.r.next() < 0.7 ? this.r.pick(named) : 0;
        out.push(kind === 'incremental' ? writeInteger(name, 6, 0x40) : writeInteger(name, 4, kind === 'never' ? 0x10 : 0));
        if (name === 0) out.push(this.string(n));
        out.push(this.string(v));
        if (kind === 'incremental') this.add(n, v);
      }
      if (n === ':authority') authorityEnd = out.reduce((a, b) => a + b.length, 0);
    }
    return { block: Buffer.concat(out), authorityEnd };
  }
}

test('through the filter, an HPACK encoder using every representation stays in step with nghttp2 past eviction', { timeout: 60_000 }, async () => {
  const seen = new Map<number, Field[]>();
  const h2: Http2Server = createServer({ maxHeaderListPairs: 1000 });
  h2.on('stream', (stream: ServerHttp2Stream, _headers: IncomingHttpHeaders, _flags: number, raw: string[]) => {
    const fields: Field[] = [];
    for (let i = 0; i < raw.length; i += 2) fields.push([raw[i]!, raw[i + 1]!]);
    seen.set(stream.id ?? 0, fields);
    stream.respond({ ':status': 200 });
    stream.end();
  });
  const net: NetServer = createNetServer((socket) => {
    socket.on('error', () => {});
    h2.emit('connection', new AuthorityFilter(socket));
  });
  await new Promise<void>((resolve) => net.listen(0, '127.0.0.1', resolve));
  const address = net.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const resets = new Map<number, number>();
  let goaway: number | null = null;
  const client = createConnection({ port, host: '127.0.0.1' });
  client.on('error', () => {});
  let inbound = Buffer.alloc(0);
  client.on('data', (chunk: Buffer) => {
    inbound = Buffer.concat([inbound, chunk]);
    while (inbound.length >= 9 && inbound.length >= 9 + inbound.readUIntBE(0, 3)) {
      const length = inbound.readUIntBE(0, 3);
      const [type, flags, id] = [inbound[3]!, inbound[4]!, inbound.readUInt32BE(5) & 0x7fffffff];
      if (type === 0x4 && (flags & 0x1) === 0) client.write(frame(0x4, 0x1, 0, Buffer.alloc(0)));
      if (type === 0x3) resets.set(id, inbound.readUInt32BE(9));
      if (type === 0x7) goaway = inbound.readUInt32BE(13);
      inbound = inbound.subarray(9 + length);
    }
  });
  try {
    client.write(clientPreface());
    const r = new Random(20261206);
    const encoder = new Encoder(r);
    const authorities = ['http://127.0.0.1:2379', 'https://member-1.example:2379/', `http://${'h'.repeat(200)}:1`, 'http://[::1]:2379',
      '127.0.0.1:2379', `http://${'a'.repeat(3000)}:2`, `http://${'l'.repeat(4100)}:3`];
    const paths = ['/', '/etcdserverpb.KV/Range', '/etcdserverpb.Maintenance/Status', `/x/${'p'.repeat(300)}`];
    const expected = new Map<number, Field[]>();
    for (let i = 0, id = 1; i < 400; i++, id += 2) {
      const authority = r.pick(authorities);
      const pseudo: Field[] = [[':method', r.pick(['GET', 'POST'])], [':scheme', 'http'], [':path', r.pick(paths)], [':authority', authority]];
      for (let k = pseudo.length - 1; k > 0; k--) {
        const j = r.int(k + 1);
        [pseudo[k], pseudo[j]] = [pseudo[j]!, pseudo[k]!];
      }
      const metadata: Field[] = Array.from({ length: r.int(6) }, () => [`x-md-${r.int(30)}`, `${r.int(50)}${'z'.repeat(r.pick([0, 10, 100, 900]))}`]);
      const fields = [...pseudo, ...metadata];
      const { block, authorityEnd } = encoder.encode(fields);
      const cut = r.next() < 0.2 ? authorityEnd + r.int(block.length - authorityEnd + 1) : block.length;
      const padded = r.next() < 0.3;
      const priority = r.next() < 0.3;
      const padding = padded ? r.int(20) : 0;
      const payload = Buffer.concat([padded ? Buffer.from([padding]) : Buffer.alloc(0), priority ? Buffer.from([0, 0, 0, 0, 15]) : Buffer.alloc(0),
        block.subarray(0, cut), Buffer.alloc(padding)]);
      const flags = 0x1 | (padded ? 0x8 : 0) | (priority ? 0x20 : 0) | (cut === block.length ? 0x4 : 0);
      const bytes = Buffer.concat([frame(0x1, flags, id, payload), cut === block.length ? Buffer.alloc(0) : frame(0x9, 0x4, id, block.subarray(cut))]);
      for (let p = 0; p < bytes.length;) {
        const n = 1 + r.int(r.next() < 0.3 ? 5 : 4000);
        client.write(bytes.subarray(p, p + n));
        p += n;
      }
      const url = /^[a-z]+:\/\/([^/?#]+)/.exec(authority);
      expected.set(id, fields.map(([n, v]) => [n, n === ':authority' && url !== null ? url[1]! : v]));
      if (i % 20 === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const deadline = Date.now() + 20_000;
    // A reset with NO_ERROR (0) after a complete response is the server's right (RFC 9113 §8.1:
    // it may ask the client to stop sending the request); it comes and goes with timing. Only an
    // error code means a header block the server could not take.
    const errors = (): [number, number][] => [...resets].filter(([, code]) => code !== 0);
    while (seen.size + errors().length < expected.size && goaway === null && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(goaway, null, 'no connection error');
    assert.deepEqual(errors(), [], 'no stream reset with an error');
    for (const [id, fields] of expected) assert.deepEqual(seen.get(id), fields, `stream ${id}`);
  } finally {
    client.destroy();
    h2.close();
    await new Promise<void>((resolve) => net.close(() => resolve()));
  }
});
