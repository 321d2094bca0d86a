/**
 * Plaintext gRPC connections pass through this filter, which turns an `:authority` that is a URL
 * (`http://127.0.0.1:2379`) into the host and port it names (`127.0.0.1:2379`).
 *
 * Why: etcdctl 3.4 dials `endpoint status`, `endpoint hashkv`, `defrag`, `move-leader` (and every
 * `--cluster` command) with the endpoint as written, scheme included, and grpc-go sends that as
 * `:authority`. etcd's Go HTTP/2 server does not look at `:authority`; nghttp2, under Node's
 * http2 and so under grpc-js, checks it against RFC 3986's authority characters and resets the
 * stream with PROTOCOL_ERROR. Node offers no option to turn that check off, so the field is
 * mended on the way in, before nghttp2 reads it. Over TLS this cannot arise: the client then
 * sends the TLS server name as `:authority`.
 *
 * Bounded on purpose: only a connection that starts with HTTP/2's client preface is looked at,
 * and in it only the client's HEADERS frames (every other frame and all payload bytes flow
 * through untouched), only a literal `:authority` whose name is the static
 * table's entry or spelt out (what encoders send) is rewritten, and a HEADERS frame larger than
 * HTTP/2's default maximum frame size is passed on unexamined (nghttp2 refuses it anyway). The
 * pseudo-headers come first in a header block, so a rewrite never needs a CONTINUATION frame.
 *
 * No header table is kept. A literal stored in the table (incremental indexing) is stored in the
 * server's table in its shorter, rewritten form, and the client refers to it by index from then
 * on. Entries in the server's table are then never larger than the client's copies, so the server
 * evicts no entry the client still refers to, and indices agree for every entry the client uses.
 */
import { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { readInteger, readString, writeString } from './hpack.js';

/** The client connection preface: a connection that starts otherwise is passed on unexamined. */
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const FRAME_HEADER_BYTES = 9;
const HEADERS_FRAME = 0x1;
const FLAG_PADDED = 0x8;
const FLAG_PRIORITY = 0x20;
const PRIORITY_BYTES = 5;
/** HTTP/2's default SETTINGS_MAX_FRAME_SIZE, which the server keeps: the most a HEADERS frame held back for examination may carry. */
export const MAX_EXAMINED_FRAME_BYTES = 16_384;
/** `:authority` is entry 1 of HPACK's static table. */
const STATIC_AUTHORITY_INDEX = 1;
const AUTHORITY = Buffer.from(':authority');
/** A URL's scheme and "//", then its host and port: what etcdctl puts where a host and port belong. */
const URL_AUTHORITY = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#]+)/;

/** The header block with a URL-shaped `:authority` replaced by its host and port, or null if there is none. */
export function rewriteAuthority(block: Buffer): Buffer | null {
  let pos = 0;
  while (pos < block.length) {
    const first = block[pos]!;
    if ((first & 0x80) !== 0 || (first & 0xe0) === 0x20) {
      // An indexed field (7-bit index) or a dynamic table size update (5-bit size): nothing to read.
      const skipped = readInteger(block, pos, (first & 0x80) !== 0 ? 7 : 5);
      if (skipped === null) return null;
      pos = skipped.end;
      continue;
    }
    // A literal field: with incremental indexing (6-bit name index), or without / never indexed (4-bit).
    const nameIndex = readInteger(block, pos, (first & 0xc0) === 0x40 ? 6 : 4);
    if (nameIndex === null) return null;
    let isAuthority = nameIndex.value === STATIC_AUTHORITY_INDEX;
    let valueStart = nameIndex.end;
    if (nameIndex.value === 0) {
      const name = readString(block, nameIndex.end);
      if (name === null) return null;
      isAuthority = name.value.equals(AUTHORITY);
      valueStart = name.end;
    }
    const value = readString(block, valueStart);
    if (value === null) return null;
    if (isAuthority) {
      const url = URL_AUTHORITY.exec(value.value.toString('latin1'));
      if (url === null) return null;
      return Buffer.concat([block.subarray(0, valueStart), writeString(Buffer.from(url[1]!, 'latin1')), block.subarray(value.end)]);
    }
    pos = value.end;
  }
  return null;
}

/** The HEADERS frame (header included) with its `:authority` mended, or the frame itself. */
export function rewriteHeadersFrame(frame: Buffer): Buffer {
  const flags = frame[4]!;
  let start = FRAME_HEADER_BYTES;
  const padding = (flags & FLAG_PADDED) !== 0 ? frame[start++]! : 0;
  if ((flags & FLAG_PRIORITY) !== 0) start += PRIORITY_BYTES;
  const end = frame.length - padding;
  if (end < start) return frame; // malformed: nghttp2 says so
  const block = rewriteAuthority(frame.subarray(start, end));
  if (block === null) return frame;
  const out = Buffer.concat([frame.subarray(0, start), block, frame.subarray(end)]);
  out.writeUIntBE(out.length - FRAME_HEADER_BYTES, 0, 3);
  return out;
}

/** Splits the client's byte stream into frames and mends each HEADERS frame; everything else flows through. */
export class FrameRewriter {
  /** How much of the preface has been seen. */
  private prefaceSeen = 0;
  /** Bytes to pass on without looking: the payload of the frame in hand (all of them if the preface was wrong). */
  private passOn = 0;
  /**
   * An incomplete frame header or HEADERS frame, held in pieces until the rest arrives: joined
   * only once there is enough to go on, so a client that sends a frame a byte at a time costs
   * one copy of it, not one per byte.
   */
  private held: Buffer[] = [];
  private heldBytes = 0;
  /** Bytes the held piece needs before it is looked at again: a frame header, or the whole HEADERS frame. */
  private needed = 0;

  push(chunk: Buffer): Buffer[] {
    if (this.heldBytes > 0 && this.heldBytes + chunk.length < this.needed) {
      this.held.push(chunk);
      this.heldBytes += chunk.length;
      return [];
    }
    const buf = this.heldBytes === 0 ? chunk : Buffer.concat([...this.held, chunk]);
    this.held = [];
    this.heldBytes = 0;
    const out: Buffer[] = [];
    let pos = 0;
    while (pos < buf.length) {
      if (this.prefaceSeen < PREFACE.length) {
        const n = Math.min(PREFACE.length - this.prefaceSeen, buf.length - pos);
        if (!buf.subarray(pos, pos + n).equals(PREFACE.subarray(this.prefaceSeen, this.prefaceSeen + n))) this.passOn = Infinity;
        out.push(buf.subarray(pos, pos + n));
        pos += n;
        this.prefaceSeen += n;
        continue;
      }
      if (this.passOn > 0) {
        const n = Math.min(this.passOn, buf.length - pos);
        out.push(buf.subarray(pos, pos + n));
        pos += n;
        this.passOn -= n;
        continue;
      }
      if (buf.length - pos < FRAME_HEADER_BYTES) break;
      const length = buf.readUIntBE(pos, 3);
      if (buf[pos + 3] !== HEADERS_FRAME || length > MAX_EXAMINED_FRAME_BYTES) {
        out.push(buf.subarray(pos, pos + FRAME_HEADER_BYTES));
        pos += FRAME_HEADER_BYTES;
        this.passOn = length;
        continue;
      }
      if (buf.length - pos < FRAME_HEADER_BYTES + length) break;
      out.push(rewriteHeadersFrame(buf.subarray(pos, pos + FRAME_HEADER_BYTES + length)));
      pos += FRAME_HEADER_BYTES + length;
    }
    if (pos < buf.length) {
      const rest = Buffer.from(buf.subarray(pos));
      this.held = [rest];
      this.heldBytes = rest.length;
      this.needed = FRAME_HEADER_BYTES + (rest.length < FRAME_HEADER_BYTES ? 0 : rest.readUIntBE(0, 3));
    }
    return out;
  }
}

/**
 * The socket as grpc-js sees it: what the client sends goes through a FrameRewriter; what the
 * server sends passes straight through.
 *
 * Node's http2 drives a stream like this one through its JSStreamSocket, which asserts (and so
 * takes the process down) if the session writes while a shutdown of the stream is in flight. An
 * end of stream passed on would start that shutdown while responses are still being written (a
 * client that sends FIN with a request outstanding), and so would an 'error' (the session then
 * writes its GOAWAY). So the session sees neither: a FIN, a socket error, a failed write or a
 * failed end all reach it as a plain close, which it handles as the client going away, as over a
 * native socket. (The socket's own 'error' is handled by whoever accepted it.)
 */
export class AuthorityFilter extends Duplex {
  private readonly rewriter = new FrameRewriter();

  constructor(private readonly socket: Duplex) {
    super({ allowHalfOpen: false });
    // Writes reach the socket one at a time through JSStreamSocket, each waiting for the last, so
    // Nagle's algorithm would hold back every small frame that follows an unacknowledged one (a
    // quarter of the throughput in a loopback test). Go, and so etcd, sets TCP_NODELAY on every
    // connection.
    if (socket instanceof Socket) socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      let more = true;
      for (const piece of this.rewriter.push(chunk)) more = this.push(piece);
      if (!more) socket.pause();
    });
    // The client's FIN is not passed on as an end of stream: the socket ends its own side (it is
    // not half-open) and then closes, and the close reaches the session (see above).
    socket.once('close', () => this.destroy());
    socket.on('error', () => socket.destroy());
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.socket.write(chunk, () => callback());
  }

  /** What the server writes in one go (nghttp2 hands over frames one by one) leaves in one write. */
  override _writev(chunks: Array<{ chunk: Buffer }>, callback: () => void): void {
    this.socket.write(Buffer.concat(chunks.map((c) => c.chunk)), () => callback());
  }

  override _final(callback: () => void): void {
    this.socket.end(() => callback());
  }

  override _destroy(_err: Error | null, callback: () => void): void {
    this.socket.destroy();
    callback();
  }
}
