/** etcd's v3 wire definitions, loaded once from the proto/ folder shipped with the package. */
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

/**
 * How 64-bit integers are read from the wire: as decimal strings, exact over all 64 bits, or as
 * JavaScript numbers, which round above 2^53. Every service a member serves is loaded with
 * 'string' (`SERVED`): lease ids a client chooses and member ids use all 64 bits (see
 * wire-ints.ts for what handlers make of them). 'number' is for quorate's own clients that read
 * revisions and counts (a status check, tests).
 */
export type Longs = 'number' | 'string';

/** How the services a member serves read 64-bit integers. */
export const SERVED: Longs = 'string';

const loaded = new Map<string, grpc.GrpcObject>();

/** One package of one of etcd's proto files, loaded once per file, package and long format. */
export function loadPackage(file: string, pkg: string, longs: Longs = 'number'): grpc.GrpcObject {
  const cacheKey = `${file}/${pkg}/${longs}`;
  let objects = loaded.get(cacheKey);
  if (objects === undefined) {
    const dir = fileURLToPath(new URL('../../../proto/etcd/', import.meta.url));
    const definition = protoLoader.loadSync(file, {
      includeDirs: [dir], keepCase: true, longs: longs === 'string' ? String : Number, enums: String, defaults: true, oneofs: true,
    });
    objects = grpc.loadPackageDefinition(definition)[pkg] as grpc.GrpcObject;
    loaded.set(cacheKey, objects);
  }
  return objects;
}

/** The `etcdserverpb` package: service constructors (clients) with their `.service` definitions. */
export function etcdserverpb(longs: Longs = 'number'): grpc.GrpcObject {
  return loadPackage('rpc.proto', 'etcdserverpb', longs);
}

export function etcdService(name: 'KV' | 'Maintenance' | 'Cluster' | 'Auth' | 'Watch' | 'Lease', longs: Longs = 'number'): grpc.ServiceClientConstructor {
  return etcdserverpb(longs)[name] as grpc.ServiceClientConstructor;
}

// ---- v3lock and v3election ----
/** etcd's server-side lock service (package v3lockpb). */
export function lockService(longs: Longs = 'number'): grpc.ServiceClientConstructor {
  return loadPackage('v3lock.proto', 'v3lockpb', longs)['Lock'] as grpc.ServiceClientConstructor;
}

/** etcd's server-side election service (package v3electionpb). */
export function electionService(longs: Longs = 'number'): grpc.ServiceClientConstructor {
  return loadPackage('v3election.proto', 'v3electionpb', longs)['Election'] as grpc.ServiceClientConstructor;
}

/** What a readiness check reads of a Maintenance.Status answer (numbers: the loader's longs). */
export interface MemberStatus {
  readonly leader: number;
  /** The protocol's term, view or ballot. */
  readonly raftTerm: number;
  /** The commit index (the last executed sequence number, under a protocol that executes in order). */
  readonly raftIndex: number;
  readonly header: { readonly member_id: number };
}

/** One Maintenance.Status call (for readiness checks); rejects on any error or after `timeoutMs`. */
export function memberStatus(address: string, timeoutMs: number, trustedCa: Buffer | null = null): Promise<MemberStatus> {
  const Maintenance = etcdService('Maintenance');
  const credentials = trustedCa === null ? grpc.credentials.createInsecure() : grpc.credentials.createSsl(trustedCa);
  const client = new Maintenance(address, credentials);
  return new Promise((resolve, reject) => {
    client['Status']!({}, { deadline: Date.now() + timeoutMs }, (err: Error | null, res: MemberStatus) => {
      client.close();
      if (err !== null) reject(err);
      else resolve(res);
    });
  });
}
