/**
 * How failures reach gRPC clients: with etcd's status codes and etcd's exact messages, since
 * etcd clients decide what to do (retry, give up, re-read) by matching on them.
 */
import { status as Status, Metadata, type ServiceError } from '@grpc/grpc-js';
import { QuorateError } from '../core/errors.js';
import { AUTH_ERROR_MESSAGES, isAuthErrorKind, KV_ERROR_MESSAGES, type AuthErrorKind, type KvErrorKind } from '../statemachine/mvcc/index.js';

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
  'lease-exists': Status.FAILED_PRECONDITION,
  'lease-ttl-too-large': Status.OUT_OF_RANGE,
  'too-many-leases': Status.RESOURCE_EXHAUSTED,
  'no-space': Status.RESOURCE_EXHAUSTED,
  'corrupt': Status.DATA_LOSS,
  'malformed-command': Status.INVALID_ARGUMENT,
};

const AUTH_ERROR_STATUS: Readonly<Record<AuthErrorKind, Status>> = {
  'root-user-not-exist': Status.FAILED_PRECONDITION,
  'root-role-not-exist': Status.FAILED_PRECONDITION,
  'user-already-exist': Status.FAILED_PRECONDITION,
  'user-empty': Status.INVALID_ARGUMENT,
  'user-not-found': Status.FAILED_PRECONDITION,
  'role-already-exist': Status.FAILED_PRECONDITION,
  'role-not-found': Status.FAILED_PRECONDITION,
  'role-empty': Status.INVALID_ARGUMENT,
  'auth-failed': Status.INVALID_ARGUMENT,
  'permission-denied': Status.PERMISSION_DENIED,
  'role-not-granted': Status.FAILED_PRECONDITION,
  'permission-not-granted': Status.FAILED_PRECONDITION,
  'permission-not-given': Status.INVALID_ARGUMENT,
  'auth-not-enabled': Status.FAILED_PRECONDITION,
  'invalid-auth-token': Status.UNAUTHENTICATED,
  'invalid-auth-mgmt': Status.INVALID_ARGUMENT,
  'too-many-users': Status.FAILED_PRECONDITION,
  'too-many-roles': Status.FAILED_PRECONDITION,
  'too-many-roles-per-user': Status.FAILED_PRECONDITION,
  'too-many-permissions': Status.FAILED_PRECONDITION,
  // Out of a resource, as a write over the backend quota is.
  'too-many-permission-bytes': Status.RESOURCE_EXHAUSTED,
  'name-too-long': Status.INVALID_ARGUMENT,
};

export function authError(kind: AuthErrorKind): ServiceError {
  return grpcError(AUTH_ERROR_STATUS[kind], AUTH_ERROR_MESSAGES[kind]);
}

export function grpcError(code: Status, message: string): ServiceError {
  return Object.assign(new Error(message), { code, details: message, metadata: new Metadata() });
}

/** The etcd error a command applied through the log was refused with (KV or auth). */
export function kvError(kind: KvErrorKind | AuthErrorKind | 'stale-duplicate'): ServiceError {
  // A stale duplicate has no waiting caller; answering it at all would be a bug upstream.
  if (kind === 'stale-duplicate') return grpcError(Status.INTERNAL, 'etcdserver: duplicate proposal');
  if (isAuthErrorKind(kind)) return authError(kind);
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
      case 'LEADER_CHANGED':
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
