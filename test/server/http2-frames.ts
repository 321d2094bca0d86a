/**
 * Raw HTTP/2 (RFC 9113) for tests that write their own frames to a client port, past what
 * Node's http2 or grpc-js would send.
 */

/** A frame: the 9-byte header (payload length, type, flags, stream id), then `payload`. */
export function frame(type: number, flags: number, streamId: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(streamId, 5);
  return Buffer.concat([header, payload]);
}

/** What a client opens a connection with: the preface string, then its (empty) SETTINGS frame. */
export function clientPreface(): Buffer {
  return Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), frame(0x4, 0, 0, Buffer.alloc(0))]);
}
