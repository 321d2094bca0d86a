/** etcd's v3 wire definitions, loaded once from the proto/ folder shipped with the package. */
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

/**
 * How 64-bit integers reach handlers: as JavaScript numbers (exact up to 2^53, which revisions
 * and quorate's lease ids stay below) or as decimal strings (member ids use all 64 bits).
 */
export type Longs = 'number' | 'string';

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
export function etcdserverpb(): grpc.GrpcObject {
  return loadPackage('rpc.proto', 'etcdserverpb');
}

export function etcdService(name: 'KV' | 'Maintenance' | 'Cluster' | 'Auth' | 'Watch' | 'Lease'): grpc.ServiceClientConstructor {
  return etcdserverpb()[name] as grpc.ServiceClientConstructor;
}

// ---- v3lock and v3election ----
/** etcd's server-side lock service (package v3lockpb). */
export function lockService(): grpc.ServiceClientConstructor {
  return loadPackage('v3lock.proto', 'v3lockpb')['Lock'] as grpc.ServiceClientConstructor;
}

/** etcd's server-side election service (package v3electionpb). */
export function electionService(): grpc.ServiceClientConstructor {
  return loadPackage('v3election.proto', 'v3electionpb')['Election'] as grpc.ServiceClientConstructor;
}

/** One Maintenance.Status call (for readiness checks); rejects on any error or after `timeoutMs`. */
export function memberStatus(address: string, timeoutMs: number, trustedCa: Buffer | null = null): Promise<{ leader: number; header: { member_id: number } }> {
  const Maintenance = etcdService('Maintenance');
  const credentials = trustedCa === null ? grpc.credentials.createInsecure() : grpc.credentials.createSsl(trustedCa);
  const client = new Maintenance(address, credentials);
  return new Promise((resolve, reject) => {
    client['Status']!({}, { deadline: Date.now() + timeoutMs }, (err: Error | null, res: { leader: number; header: { member_id: number } }) => {
      client.close();
      if (err !== null) reject(err);
      else resolve(res);
    });
  });
}
