/**
 * Plain gRPC clients of quorate's etcd services, for what the etcd3 npm client does not expose:
 * the raw Watch stream (client-chosen ids, progress requests, fragments) and the server-side
 * Lock and Election services.
 */
import * as grpc from '@grpc/grpc-js';
import { electionService, etcdService, lockService } from '../../src/server/proto.js';
import type { Etcd3 } from 'etcd3';

export interface PbKv { key: Buffer; value: Buffer; create_revision: number; mod_revision: number; version: number; lease: number }
export interface PbLeaderKey { name: Buffer; key: Buffer; rev: number; lease: number }
/** The fields of the responses these tests read (each response has a subset). */
export interface PbResponse {
  header: { revision: number; member_id: number };
  key: Buffer; leader: PbLeaderKey; kv: PbKv; kvs: PbKv[];
  ID: number; TTL: number; grantedTTL: number; keys: Buffer[]; leases: { ID: number }[];
  watch_id: number; created: boolean; canceled: boolean; compact_revision: number; cancel_reason: string; fragment: boolean;
  events: { type: string; kv: PbKv; prev_kv: PbKv | null }[];
}
export type Unary = (req: Record<string, unknown>) => Promise<PbResponse>;

export interface RawClients {
  lock: { Lock: Unary; Unlock: Unary };
  election: { Campaign: Unary; Proclaim: Unary; Leader: Unary; Resign: Unary; Observe(req: Record<string, unknown>): grpc.ClientReadableStream<PbResponse> };
  lease: { LeaseGrant: Unary; LeaseRevoke: Unary; LeaseTimeToLive: Unary; LeaseLeases: Unary };
  kv: { Range: Unary; Put: Unary };
  watch(): grpc.ClientDuplexStream<Record<string, unknown>, PbResponse>;
  /** One keep-alive over a LeaseKeepAlive stream: the TTL answered (0 for an unknown lease). */
  keepAliveOnce(id: number, deadlineMs?: number): Promise<number>;
  close(): void;
}

function unary(client: grpc.Client, method: string, deadlineMs: number): Unary {
  return (req) => new Promise((resolve, reject) => {
    const fn = (client as unknown as Record<string, (r: unknown, o: grpc.CallOptions, cb: (e: Error | null, r: PbResponse) => void) => void>)[method]!;
    fn.call(client, req, { deadline: Date.now() + deadlineMs }, (err, res) => (err === null ? resolve(res) : reject(err)));
  });
}

export function rawClients(address: string, deadlineMs = 10_000): RawClients {
  const creds = grpc.credentials.createInsecure();
  const Lock = lockService();
  const Election = electionService();
  const lock = new Lock(address, creds);
  const election = new Election(address, creds);
  const lease = new (etcdService('Lease'))(address, creds);
  const kv = new (etcdService('KV'))(address, creds);
  const watch = new (etcdService('Watch'))(address, creds);
  return {
    lock: { Lock: unary(lock, 'Lock', deadlineMs), Unlock: unary(lock, 'Unlock', deadlineMs) },
    election: {
      Campaign: unary(election, 'Campaign', deadlineMs), Proclaim: unary(election, 'Proclaim', deadlineMs),
      Leader: unary(election, 'Leader', deadlineMs), Resign: unary(election, 'Resign', deadlineMs),
      Observe: (req) => (election as unknown as { Observe(r: unknown): grpc.ClientReadableStream<PbResponse> }).Observe(req),
    },
    lease: {
      LeaseGrant: unary(lease, 'LeaseGrant', deadlineMs), LeaseRevoke: unary(lease, 'LeaseRevoke', deadlineMs),
      LeaseTimeToLive: unary(lease, 'LeaseTimeToLive', deadlineMs), LeaseLeases: unary(lease, 'LeaseLeases', deadlineMs),
    },
    kv: { Range: unary(kv, 'Range', deadlineMs), Put: unary(kv, 'Put', deadlineMs) },
    watch: () => (watch as unknown as { Watch(): grpc.ClientDuplexStream<Record<string, unknown>, PbResponse> }).Watch(),
    keepAliveOnce: (id, ms = 3_000) => new Promise<number>((resolve, reject) => {
      const stream = (lease as unknown as { LeaseKeepAlive(o: grpc.CallOptions): grpc.ClientDuplexStream<{ ID: number }, PbResponse> })
        .LeaseKeepAlive({ deadline: Date.now() + ms });
      stream.on('data', (r: PbResponse) => { resolve(Number(r.TTL)); stream.end(); });
      stream.on('error', reject);
      stream.write({ ID: id });
    }),
    close: () => { for (const c of [lock, election, lease, kv, watch]) c.close(); },
  };
}

/** Responses of a raw watch stream, awaited one at a time. */
export class WatchReader {
  private readonly queue: PbResponse[] = [];
  private waiter: ((r: PbResponse) => void) | null = null;
  constructor(readonly stream: grpc.ClientDuplexStream<Record<string, unknown>, PbResponse>) {
    stream.on('data', (r: PbResponse) => {
      if (this.waiter !== null) {
        const w = this.waiter;
        this.waiter = null;
        w(r);
      } else this.queue.push(r);
    });
    stream.on('error', () => undefined);
  }
  next(timeoutMs = 10_000): Promise<PbResponse> {
    const queued = this.queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => { this.waiter = null; reject(new Error('no watch response in time')); }, timeoutMs);
      this.waiter = (r) => { clearTimeout(t); resolve(r); };
    });
  }
  send(req: Record<string, unknown>): void {
    this.stream.write(req);
  }
}

/** One unary call on a fresh client of `Ctor` at `address`, with `token` if given; the client is closed after. */
export function rawUnary<Res = Record<string, unknown>>(address: string, Ctor: grpc.ServiceClientConstructor, method: string, request: unknown, token?: string, deadlineMs = 8_000): Promise<Res> {
  return unaryOn<Res>(new Ctor(address, grpc.credentials.createInsecure()), method, request, token, deadlineMs);
}

/** One unary call on `client` (already connected, say), which is closed after. */
export function unaryOn<Res = Record<string, unknown>>(client: grpc.Client, method: string, request: unknown, token?: string, deadlineMs = 8_000): Promise<Res> {
  const metadata = new grpc.Metadata();
  if (token !== undefined) metadata.set('token', token);
  type Method = (r: unknown, md: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r: Res) => void) => void;
  return new Promise<Res>((resolve, reject) => {
    (client as unknown as Record<string, Method>)[method]!.call(client, request, metadata, { deadline: Date.now() + deadlineMs }, (err, res) => {
      client.close();
      if (err !== null) reject(err);
      else resolve(res);
    });
  });
}

/** The user `root` with password `rootpw` and the role `root`, as etcd needs before `auth enable`. */
export async function addRoot(client: Etcd3): Promise<void> {
  await client.user('root').create('rootpw');
  await client.role('root').create();
  await client.user('root').addRole('root');
}
