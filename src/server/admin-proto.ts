/**
 * etcd's Cluster and Maintenance services, loaded with 64-bit integers as decimal strings: member
 * ids in requests (MemberRemove, MemberPromote, MoveLeader, Alarm) use all 64 bits, which a
 * JavaScript number would round.
 */
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

let cached: grpc.GrpcObject | null = null;

export function adminService(name: 'Cluster' | 'Maintenance'): grpc.ServiceClientConstructor {
  if (cached === null) {
    const dir = fileURLToPath(new URL('../../../proto/etcd/', import.meta.url));
    const definition = protoLoader.loadSync('rpc.proto', {
      includeDirs: [dir], keepCase: true, longs: String, enums: String, defaults: true, oneofs: true,
    });
    cached = grpc.loadPackageDefinition(definition)['etcdserverpb'] as grpc.GrpcObject;
  }
  return cached[name] as grpc.ServiceClientConstructor;
}

/** A unary handler from a promise-returning function; errors already shaped for gRPC pass through. */
export function unaryHandler<Req>(
  handler: (req: Req) => Promise<Record<string, unknown>>,
  toError: (err: unknown) => grpc.ServiceError,
): grpc.handleUnaryCall<Req, unknown> {
  return (call, callback) => {
    let pending: Promise<Record<string, unknown>>;
    try {
      pending = handler(call.request);
    } catch (err) {
      pending = Promise.reject(err);
    }
    pending.then((response) => callback(null, response), (err: unknown) => callback(toError(err)));
  };
}
