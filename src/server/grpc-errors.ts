/**
 * How failures reach gRPC clients: with etcd's status codes and etcd's exact messages, since
 * etcd clients decide what to do (retry, give up, re-read) by matching on them.
 */
import { status as Status, Metadata, type ServiceError } from '@grpc/grpc-js';
import { QuorateError } from '../core/errors.js';
import { KV_ERROR_MESSAGES, type KvErrorKind } from '../statemachine/mvcc/index.js';

const KV_ERROR_STATUS: Readonly<Record<KvErrorKind, Status>> = {
  'empty-key': Status.INVALID_ARGUMENT,
  'key-not-found': Status.INVALID_ARGUMENT,
  'value-provided': Status.INVALID_ARGUMENT,
  'lease-provided': Status.INVALID_ARGUMENT,
  'lease-not-found': Status.NOT_FOUND,
  'duplicate-key': Status.INVALID_ARGUMENT,
  'too-many-ops': Status.INVALID_ARGUMENT,
  'compacted': Status.OUT_OF_RANGE,
  'future-rev': Status.OUT_OF_RANGE,
  'request-too-large': Status.INVALID_ARGUMENT,
  'no-space': Status.RESOURCE_EXHAUSTED,
};

export function grpcError(code: Status, message: string): ServiceError {
  return Object.assign(new Error(message), { code, details: message, metadata: new Metadata() });
}

export function kvError(kind: KvErrorKind | 'stale-duplicate'): ServiceError {
  // A stale duplicate has no waiting caller; answering it at all would be a bug upstream.
  if (kind === 'stale-duplicate') return grpcError(Status.INTERNAL, 'etcdserver: duplicate proposal');
  return grpcError(KV_ERROR_STATUS[kind], KV_ERROR_MESSAGES[kind]);
}

/** Any error thrown while serving → the status etcd would answer in that situation. */
export function toGrpcError(err: unknown): ServiceError {
  if (err instanceof QuorateError) {
    switch (err.code) {
      case 'NOT_LEADER':
      case 'NO_LEADER':
        return grpcError(Status.UNAVAILABLE, 'etcdserver: no leader');
      case 'PROPOSAL_DROPPED':
        return grpcError(Status.UNAVAILABLE, 'etcdserver: leader changed');
      case 'TIMEOUT':
        return grpcError(Status.UNAVAILABLE, 'etcdserver: request timed out');
      case 'TOO_MANY_REQUESTS':
        return grpcError(Status.RESOURCE_EXHAUSTED, 'etcdserver: too many requests');
      case 'REQUEST_TOO_LARGE':
        return grpcError(Status.INVALID_ARGUMENT, KV_ERROR_MESSAGES['request-too-large']);
      case 'STOPPED':
        return grpcError(Status.UNAVAILABLE, 'etcdserver: server stopped');
      case 'INVALID_ARGUMENT':
        return grpcError(Status.INVALID_ARGUMENT, `etcdserver: ${err.message}`);
      default:
        return grpcError(Status.UNAVAILABLE, `etcdserver: ${err.message}`);
    }
  }
  return grpcError(Status.INTERNAL, `etcdserver: ${err instanceof Error ? err.message : String(err)}`);
}
