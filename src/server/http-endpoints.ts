/**
 * HTTP/1.1 GETs beside gRPC on the same client port, as etcd serves them: `/health` and
 * `/metrics` (and `/version`). A plain TCP listener looks at the first bytes of each connection:
 * an HTTP/1 request line goes to a node:http server, everything else (the HTTP/2 preface of a
 * gRPC client, a TLS handshake) is handed to grpc-js through its connection injector.
 *
 * Over TLS the client port speaks gRPC only (the handshake happens inside grpc-js); the HTTP
 * endpoints are then served on --listen-metrics-urls (plain http), which etcd also offers.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import type * as grpc from '@grpc/grpc-js';
import { AuthorityFilter } from './authority-filter.js';
import { ETCD_API_VERSION } from './etcd-server.js';
import type { ServerMetrics } from './metrics.js';
import type { BackendQuota } from './quota.js';
import type { MemberContext } from './member-context.js';

/** /health fails if the linearizable read it makes takes longer than this. */
export const HEALTH_READ_TIMEOUT_MS = 1_000;
/** Bytes looked at before deciding what protocol a connection speaks. */
const SNIFF_BYTES = 4;
/** A connection that sends nothing for this long before the decision is closed. */
export const SNIFF_TIMEOUT_MS = 10_000;

export function httpHandler(ctx: MemberContext, quota: BackendQuota, metrics: ServerMetrics): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const reply = (status: number, type: string, body: string): void => {
      res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return reply(405, 'text/plain', 'Method Not Allowed\n');
    switch (path) {
      case '/metrics':
        metrics.text().then((text) => reply(200, metrics.contentType, text), (err: Error) => reply(500, 'text/plain', `${err.message}\n`));
        return;
      case '/health':
        health(ctx, quota).then(({ ok, reason }) => reply(ok ? 200 : 503, 'application/json', `${JSON.stringify({ health: String(ok), reason })}\n`));
        return;
      case '/version':
        return reply(200, 'application/json', `${JSON.stringify({ etcdserver: ETCD_API_VERSION, etcdcluster: ETCD_API_VERSION.replace(/\.\d+$/, '.0') })}\n`);
      default:
        return reply(404, 'text/plain', '404 page not found\n');
    }
  };
}

/** etcd's /health: a leader, no alarm, and a linearizable read that completes in time. */
async function health(ctx: MemberContext, quota: BackendQuota): Promise<{ ok: boolean; reason: string }> {
  if (ctx.node.status().leader === null) return { ok: false, reason: 'RAFT NO LEADER' };
  const alarms = quota.alarms();
  if (alarms.length > 0) return { ok: false, reason: `ALARM ${alarms.map((a) => a.alarm).join(',')}` };
  try {
    // The barrier's own timeout: a probe of a cluster that is not live leaves nothing queued.
    await ctx.node.readBarrier(HEALTH_READ_TIMEOUT_MS);
    return { ok: true, reason: '' };
  } catch (err) {
    return { ok: false, reason: `QGET ERROR: ${(err as Error).message}` };
  }
}

/** One client port: gRPC and HTTP/1 on one listener. */
export class SharedClientPort {
  private readonly net: NetServer;
  private readonly http: HttpServer;
  private readonly sockets = new Set<Socket>();

  private constructor(injector: grpc.ConnectionInjector, handler: (req: IncomingMessage, res: ServerResponse) => void, httpOnPort: boolean) {
    this.http = createHttpServer(handler);
    this.net = createNetServer((socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      socket.on('error', () => {});
      if (!httpOnPort) {
        injector.injectConnection(socket);
        return;
      }
      let seen = Buffer.alloc(0);
      const timer = setTimeout(() => socket.destroy(), SNIFF_TIMEOUT_MS);
      const onData = (chunk: Buffer): void => {
        seen = Buffer.concat([seen, chunk]);
        if (seen.length < SNIFF_BYTES) return;
        clearTimeout(timer);
        socket.off('data', onData);
        socket.pause();
        socket.unshift(seen);
        if (isHttp1(seen)) {
          // node:http reads from a socket it is given through 'data' events: let the bytes looked at flow again.
          this.http.emit('connection', socket);
          socket.resume();
        } else {
          // Plaintext gRPC: see authority-filter.ts (etcdctl's URL-shaped :authority).
          injector.injectConnection(new AuthorityFilter(socket));
        }
      };
      socket.on('data', onData);
    });
  }

  static async listen(host: string, port: number, injector: grpc.ConnectionInjector, handler: (req: IncomingMessage, res: ServerResponse) => void, httpOnPort: boolean): Promise<SharedClientPort> {
    const p = new SharedClientPort(injector, handler, httpOnPort);
    await new Promise<void>((resolve, reject) => {
      p.net.once('error', reject);
      p.net.listen(port, host, () => {
        p.net.off('error', reject);
        resolve();
      });
    });
    return p;
  }

  /** Stop accepting connections; open ones keep being served (gRPC drains them on shutdown). */
  stopAccepting(): void {
    if (this.net.listening) this.net.close();
    this.http.closeIdleConnections();
  }

  /** End every connection still open. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => (this.net.listening ? this.net.close(() => resolve()) : resolve()));
    this.http.closeAllConnections();
    for (const s of this.sockets) s.destroy();
    await closed;
  }
}

/** A plain HTTP listener for --listen-metrics-urls. */
export async function listenHttp(host: string, port: number, handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ stopAccepting(): void; close(): Promise<void> }> {
  const server = createHttpServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    stopAccepting: () => server.closeIdleConnections(),
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** An HTTP/1 request line starts with a method token and a space; the HTTP/2 preface is "PRI *". */
function isHttp1(head: Buffer): boolean {
  const text = head.subarray(0, 8).toString('latin1');
  if (text.startsWith('PRI ')) return false;
  return /^(GET|HEAD|POST|PUT|DELETE|OPTIONS|PATCH) ?/.test(text);
}
