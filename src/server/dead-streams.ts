/**
 * A guard for a grpc-js (1.14) crash any client can trigger: the HTTP/2 session announces a new
 * stream on the next tick, and if the client reset it in the same read (HEADERS and RST_STREAM
 * in one packet), grpc-js's stream handler answers it anyway (`UNIMPLEMENTED` for an unknown
 * method, 415 for a wrong content-type) and Node's `respond()` throws ERR_HTTP2_INVALID_STREAM
 * from an event handler: an uncaught exception, and the member process exits.
 *
 * A 'stream' listener that runs before grpc-js's makes `respond()` on a stream that is already
 * closed or destroyed a no-op for that stream alone: there is no one left to answer.
 */
import type * as grpc from '@grpc/grpc-js';
import type { EventEmitter } from 'node:events';
import type { ServerHttp2Stream } from 'node:http2';

const guarded = new WeakSet<EventEmitter>();

/** Guards the HTTP/2 servers behind every listener and connection injector `server` has so far. */
export function guardDeadStreams(server: grpc.Server): void {
  // grpc-js keeps its HTTP/2 servers in a private map; if that changes there is nothing to guard.
  const servers = (server as unknown as { http2Servers?: unknown }).http2Servers;
  if (!(servers instanceof Map)) return;
  for (const h2 of servers.keys() as IterableIterator<EventEmitter>) {
    if (guarded.has(h2)) continue;
    guarded.add(h2);
    h2.prependListener('stream', (stream: ServerHttp2Stream) => {
      if (stream.destroyed || stream.closed) stream.respond = () => {};
    });
  }
}
