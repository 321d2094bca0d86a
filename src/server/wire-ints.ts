/**
 * etcd's 64-bit integers as the server's handlers receive them. The services a member serves are
 * loaded with 64-bit fields as decimal text (see proto.ts), so nothing is rounded on the way in;
 * here each becomes what the state machine holds:
 *
 * - ids (lease ids, watch ids) stay text, exact over the whole int64 range (see
 *   statemachine/mvcc/lease-id.ts); member ids, uint64, are text too (cluster-service.ts);
 * - counts and revisions become numbers. A store would need 2^53 writes for a revision to reach
 *   2^53, so a larger one in a request lies beyond every revision, and still does as the nearest
 *   double: a read at it is a future revision, a compare against it comes out the same.
 *
 * A number is read too (a caller that built its request object itself, say a test's client).
 */
import { status as Status } from '@grpc/grpc-js';
import { leaseIdOf, NO_LEASE, type LeaseId } from '../statemachine/mvcc/index.js';
import { grpcError } from './grpc-errors.js';

/** A 64-bit field as the gRPC layer hands it over (absent in a message built by hand). */
export type WireInt = string | number | undefined | null;

/** A revision, count, limit or TTL: its number (0 when absent or not a number). */
export function wireNumber(v: WireInt): number {
  const n = typeof v === 'string' ? Number(v) : v;
  return typeof n === 'number' && Number.isFinite(n) ? n : 0;
}

/** A lease id (NO_LEASE when absent); text that is no int64 cannot come from protobuf, and is refused. */
export function wireLeaseId(v: WireInt): LeaseId {
  if (v === undefined || v === null) return NO_LEASE;
  const id = leaseIdOf(v);
  if (id === null) throw grpcError(Status.INVALID_ARGUMENT, `etcdserver: invalid lease id ${String(v)}`);
  return id;
}
