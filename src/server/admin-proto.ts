/**
 * etcd's Cluster and Maintenance services, loaded with 64-bit integers as decimal strings: member
 * ids in requests (MemberRemove, MemberPromote, MoveLeader, Alarm) use all 64 bits, which a
 * JavaScript number would round.
 */
import type * as grpc from '@grpc/grpc-js';
import { etcdService, SERVED } from './proto.js';

export function adminService(name: 'Cluster' | 'Maintenance'): grpc.ServiceClientConstructor {
  return etcdService(name, SERVED);
}
