/** etcd's v3 wire definitions, loaded once from the proto/ folder shipped with the package. */
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

let cached: grpc.GrpcObject | null = null;

/** The `etcdserverpb` package: service constructors (clients) with their `.service` definitions. */
export function etcdserverpb(): grpc.GrpcObject {
  if (cached === null) {
    const dir = fileURLToPath(new URL('../../../proto/etcd/', import.meta.url));
    const definition = protoLoader.loadSync('rpc.proto', {
      includeDirs: [dir], keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true,
    });
    cached = grpc.loadPackageDefinition(definition)['etcdserverpb'] as grpc.GrpcObject;
  }
  return cached;
}

export function etcdService(name: 'KV' | 'Maintenance' | 'Cluster' | 'Auth' | 'Watch' | 'Lease'): grpc.ServiceClientConstructor {
  return etcdserverpb()[name] as grpc.ServiceClientConstructor;
}

// ---- v3lock and v3election ----
const extraPackages = new Map<string, grpc.GrpcObject>();

function loadExtra(file: string, pkg: string): grpc.GrpcObject {
  let loaded = extraPackages.get(pkg);
  if (loaded === undefined) {
    const dir = fileURLToPath(new URL('../../../proto/etcd/', import.meta.url));
    const definition = protoLoader.loadSync(file, {
      includeDirs: [dir], keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true,
    });
    loaded = grpc.loadPackageDefinition(definition)[pkg] as grpc.GrpcObject;
    extraPackages.set(pkg, loaded);
  }
  return loaded;
}

/** etcd's server-side lock service (package v3lockpb). */
export function lockService(): grpc.ServiceClientConstructor {
  return loadExtra('v3lock.proto', 'v3lockpb')['Lock'] as grpc.ServiceClientConstructor;
}

/** etcd's server-side election service (package v3electionpb). */
export function electionService(): grpc.ServiceClientConstructor {
  return loadExtra('v3election.proto', 'v3electionpb')['Election'] as grpc.ServiceClientConstructor;
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
