/**
 * etcd's Cluster and Maintenance services, loaded with 64-bit integers as decimal strings: member
 * ids in requests (MemberRemove, MemberPromote, MoveLeader, Alarm) use all 64 bits, which a
 * JavaScript number would round.
 */
import type * as grpc from '@grpc/grpc-js';
import { loadPackage } from './proto.js';

export function adminService(name: 'Cluster' | 'Maintenance'): grpc.ServiceClientConstructor {
  return loadPackage('rpc.proto', 'etcdserverpb', 'string')[name] as grpc.ServiceClientConstructor;
}

/** A unary handler from a promise-returning function; errors already shaped for gRPC pass through. */
export function unaryHandler<Req>(
  handler: (req: Req, metadata: grpc.Metadata) => Promise<Record<string, unknown>>,
  toError: (err: unknown) => grpc.ServiceError,
): grpc.handleUnaryCall<Req, unknown> {
  return (call, callback) => {
    let pending: Promise<Record<string, unknown>>;
    try {
      pending = handler(call.request, call.metadata);
    } catch (err) {
      pending = Promise.reject(err);
    }
    pending.then((response) => callback(null, response), (err: unknown) => callback(toError(err)));
  };
}
