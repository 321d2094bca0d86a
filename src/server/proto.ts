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

export function etcdService(name: 'KV' | 'Maintenance' | 'Cluster' | 'Auth'): grpc.ServiceClientConstructor {
  return etcdserverpb()[name] as grpc.ServiceClientConstructor;
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
