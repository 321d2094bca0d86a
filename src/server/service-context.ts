/**
 * What the Watch, Lease, Lock and Election services need from the server they run in: the
 * node, the state machine, this member's watchers, response headers, and a way to propose
 * and to read linearizably (with the server's retries).
 */
import type { Metadata } from '@grpc/grpc-js';
import type { Logger } from '../node/config.js';
import type { ServingNode } from './serving-node.js';
import type { KvOutcome, KvRequest, KvResult, KvStateMachine, LeaseId, LeaseRequest, TxnOp, WatchHub } from '../statemachine/mvcc/index.js';
import { isLeaseResult } from '../statemachine/mvcc/index.js';
import type { PbHeader } from './convert.js';
import { kvError } from './grpc-errors.js';

export interface ServiceContext {
  readonly node: ServingNode;
  readonly kv: KvStateMachine;
  readonly hub: WatchHub;
  readonly logger: Logger;
  /** Largest request accepted (etcd --max-request-bytes); also the size a watch response is fragmented at. */
  readonly maxRequestBytes: number;
  header(revision: number): PbHeader;
  /** Through the log under the server's session, retried across elections (as the caller, see asCaller). */
  propose(request: KvRequest | LeaseRequest): Promise<KvOutcome>;
  /**
   * This context acting for the user a call's token names: its writes are checked against that
   * user's permissions when applied, as the same request through the KV service would be.
   * Throws etcd's invalid-token error for a bad token.
   */
  asCaller(metadata: Metadata): Promise<ServiceContext>;
  /**
   * May this context's caller (see asCaller; anonymous otherwise) read [key, rangeEnd)? null if
   * so, else etcd's error to answer. For reads that do not go through the KV service.
   */
  checkRead(key: Uint8Array, rangeEnd: Uint8Array): Error | null;
  /** Resolves once this member has applied everything committed before the call. */
  readBarrier(): Promise<void>;
  isStopped(): boolean;
  /**
   * Who a stream's token names, as a check of one watch range: null when the caller may read
   * it, else the reason its watch is cancelled with. Throws for an invalid token.
   */
  watchPermission(metadata: Metadata): Promise<(key: Uint8Array, rangeEnd: Uint8Array) => string | null>;
}

/** Propose a KV write and return its result, or throw the etcd error it was refused with. */
export async function kvWrite(ctx: ServiceContext, request: KvRequest): Promise<KvResult> {
  const outcome = await ctx.propose(request);
  if (!outcome.ok) throw kvError(outcome.error);
  if (outcome.result.op === 'publish-member' || outcome.result.op === 'auth' || outcome.result.op === 'cluster' || isLeaseResult(outcome.result)) throw new Error('a KV write answered with a non-KV result');
  return outcome.result;
}

/** Read this member's store after a linearizable barrier. */
export async function kvRead(ctx: ServiceContext, request: KvRequest): Promise<KvResult> {
  await ctx.readBarrier();
  const outcome = ctx.kv.execute(request);
  if (!outcome.ok) throw kvError(outcome.error);
  if (outcome.result.op === 'publish-member' || outcome.result.op === 'auth' || outcome.result.op === 'cluster' || isLeaseResult(outcome.result)) throw new Error('a KV read answered with a non-KV result');
  return outcome.result;
}

const EMPTY = Buffer.alloc(0);

/** The end of the range of keys starting with `prefix` (etcd's GetPrefixRangeEnd). */
export function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]! += 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]); // every byte is 0xff: every key from the prefix on
}

export const op = {
  get(key: Buffer, extra: Partial<Extract<TxnOp, { op: 'range' }>> = {}): Extract<TxnOp, { op: 'range' }> {
    return {
      op: 'range', key, rangeEnd: EMPTY, limit: 0, revision: 0, sortOrder: 'NONE', sortTarget: 'KEY', keysOnly: false, countOnly: false,
      minModRevision: 0, maxModRevision: 0, minCreateRevision: 0, maxCreateRevision: 0, ...extra,
    };
  },
  put(key: Buffer, value: Buffer, lease: LeaseId): Extract<TxnOp, { op: 'put' }> {
    return { op: 'put', key, value, lease, prevKv: false, ignoreValue: false, ignoreLease: false };
  },
  del(key: Buffer): Extract<TxnOp, { op: 'delete' }> {
    return { op: 'delete', key, rangeEnd: EMPTY, prevKv: false };
  },
};
