/**
 * The requests and results of the etcd-style MVCC key-value store, in quorate's own shape
 * (independent of gRPC). Keys and values are bytes; revisions are plain numbers (a store
 * would need 2^53 writes to outgrow them); lease ids are int64s as decimal text (see lease-id.ts).
 *
 * Range conventions, as etcd defines them: an empty `rangeEnd` means the single key `key`;
 * a `rangeEnd` of one zero byte means every key >= `key`; otherwise the half-open range
 * [key, rangeEnd). A `key` of one zero byte with `rangeEnd` of one zero byte is every key.
 */

import type { LeaseId } from './lease-id.js';

export type Bytes = Uint8Array;

export type SortOrder = 'NONE' | 'ASCEND' | 'DESCEND';
export type SortTarget = 'KEY' | 'VERSION' | 'CREATE' | 'MOD' | 'VALUE';

export interface RangeRequest {
  readonly op: 'range';
  readonly key: Bytes;
  readonly rangeEnd: Bytes;
  /** 0 = no limit. */
  readonly limit: number;
  /** 0 = the current revision. */
  readonly revision: number;
  readonly sortOrder: SortOrder;
  readonly sortTarget: SortTarget;
  readonly keysOnly: boolean;
  readonly countOnly: boolean;
  /** Filters, 0 = off. */
  readonly minModRevision: number;
  readonly maxModRevision: number;
  readonly minCreateRevision: number;
  readonly maxCreateRevision: number;
}

export interface PutRequest {
  readonly op: 'put';
  readonly key: Bytes;
  readonly value: Bytes;
  /** NO_LEASE for none. */
  readonly lease: LeaseId;
  readonly prevKv: boolean;
  /** Keep the current value (the key must exist). */
  readonly ignoreValue: boolean;
  /** Keep the current lease (the key must exist). */
  readonly ignoreLease: boolean;
}

export interface DeleteRangeRequest {
  readonly op: 'delete';
  readonly key: Bytes;
  readonly rangeEnd: Bytes;
  readonly prevKv: boolean;
}

export type CompareResult = 'EQUAL' | 'GREATER' | 'LESS' | 'NOT_EQUAL';
export type CompareTarget = 'VERSION' | 'CREATE' | 'MOD' | 'VALUE' | 'LEASE';

export interface Compare {
  readonly result: CompareResult;
  readonly target: CompareTarget;
  readonly key: Bytes;
  readonly rangeEnd: Bytes;
  /** The operand: a number for VERSION/CREATE/MOD, a lease id for LEASE, bytes for VALUE. */
  readonly operand: number | LeaseId | Bytes;
}

export interface TxnRequest {
  readonly op: 'txn';
  readonly compare: readonly Compare[];
  readonly success: readonly TxnOp[];
  readonly failure: readonly TxnOp[];
}

/** What a txn branch may hold (etcd's RequestOp). */
export type TxnOp = RangeRequest | PutRequest | DeleteRangeRequest | TxnRequest;

export interface CompactRequest {
  readonly op: 'compact';
  readonly revision: number;
}

export type KvRequest = RangeRequest | PutRequest | DeleteRangeRequest | TxnRequest | CompactRequest;

export interface KeyValue {
  readonly key: Bytes;
  readonly createRevision: number;
  readonly modRevision: number;
  readonly version: number;
  readonly value: Bytes;
  readonly lease: LeaseId;
}

export interface RangeResult {
  readonly op: 'range';
  /** The store's revision when the range was served (not the revision read at). */
  readonly revision: number;
  readonly kvs: KeyValue[];
  readonly more: boolean;
  readonly count: number;
}

export interface PutResult {
  readonly op: 'put';
  readonly revision: number;
  readonly prevKv: KeyValue | null;
}

export interface DeleteRangeResult {
  readonly op: 'delete';
  readonly revision: number;
  readonly deleted: number;
  readonly prevKvs: KeyValue[];
}

export interface TxnResult {
  readonly op: 'txn';
  readonly revision: number;
  readonly succeeded: boolean;
  readonly responses: TxnOpResult[];
}

export interface CompactResult {
  readonly op: 'compact';
  readonly revision: number;
}

export type TxnOpResult = RangeResult | PutResult | DeleteRangeResult | TxnResult;

export type KvResult = RangeResult | PutResult | DeleteRangeResult | TxnResult | CompactResult;

/** True when executing the request can change the store (it must go through the log). */
export function isWrite(req: KvRequest): boolean {
  switch (req.op) {
    case 'range': return false;
    case 'put': case 'delete': case 'compact': return true;
    case 'txn': return req.success.some(isWrite) || req.failure.some(isWrite);
  }
}
