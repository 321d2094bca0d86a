/**
 * The two hashes of etcd's Maintenance service, which members compare to find one that diverged.
 *
 * - HashKV: a CRC-32 of every kept key version up to a revision (tombstones included): the keys
 *   alone, as etcd's HashKV hashes only its "key" bucket.
 * - Hash: a CRC-32 of the whole state a client snapshot holds (etcd hashes its whole backend): the
 *   keys with every kept version, the revision and compaction point, leases, users, roles and
 *   permissions (with password hashes), the member table and alarms, published client URLs and
 *   names. Not the token key (a hash of a secret tells something about it) and not client
 *   sessions (this cluster's own bookkeeping of its proposers). So a lease grant or a new user
 *   changes Hash and not HashKV.
 *
 * Both are equal on members that applied the same log, and both are O(state): for checks, not
 * for every request.
 */
import { crc32 } from 'node:zlib';
import type { KvStateMachine, MvccStore } from '../statemachine/mvcc/index.js';
import { kvError } from './grpc-errors.js';

/** Bytes of the fixed part of one version in HashKV: main, sub, create revision, version (or -1 for a tombstone). */
const VERSION_HEADER_BYTES = 8 * 4;

/** CRC-32 of every key version with revision <= `revision` (0: the current one) kept since the last compaction. */
export function hashKv(store: MvccStore, revision: number): { hash: number; compactRevision: number } {
  const state = store.state();
  if (revision > state.revision) throw kvError('future-rev');
  if (revision > 0 && revision < state.compactRevision) throw kvError('compacted');
  const upTo = revision === 0 ? state.revision : revision;
  const keys = [...state.keys].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  let hash = 0;
  const header = Buffer.alloc(VERSION_HEADER_BYTES);
  for (const [key, revs] of keys) {
    const keyBytes = Buffer.from(key, 'latin1');
    for (const r of revs) {
      if (r.main > upTo) continue;
      header.writeDoubleBE(r.main, 0);
      header.writeDoubleBE(r.sub, 8);
      header.writeDoubleBE(r.createRevision, 16);
      header.writeDoubleBE(r.value === null ? -1 : r.version, 24);
      hash = crc32(header, hash);
      hash = crc32(keyBytes, hash);
      if (r.value !== null) hash = crc32(r.value, hash);
    }
  }
  return { hash: hash >>> 0, compactRevision: state.compactRevision };
}

/**
 * CRC-32 of the client snapshot's encoding. Members that applied the same log encode it alike:
 * every table in it is filled in log order (or restored in the order it was written).
 */
export function hashAll(kv: KvStateMachine): number {
  return crc32(kv.clientSnapshot()) >>> 0;
}
