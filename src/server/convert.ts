/**
 * Between etcd's protobuf messages (as @grpc/proto-loader decodes them: snake_case fields,
 * enums as names, 64-bit integers as decimal strings, bytes as Buffers) and the store's own
 * requests and results. Anything a client can get wrong is checked here and refused with a
 * clear error. Lease ids stay text; revisions and counts become numbers (see wire-ints.ts).
 */
import { status as Status } from '@grpc/grpc-js';
import type {
  Compare, CompareResult, CompareTarget, DeleteRangeRequest, KeyValue, KvResult, PutRequest, RangeRequest,
  SortOrder, SortTarget, TxnOp, TxnOpResult, TxnRequest,
} from '../statemachine/mvcc/index.js';
import { grpcError } from './grpc-errors.js';
import { wireLeaseId, wireNumber as int, type WireInt } from './wire-ints.js';

/** The wire shapes (only the fields quorate reads or writes). */
export interface PbRangeRequest {
  key?: Buffer; range_end?: Buffer; limit?: WireInt; revision?: WireInt; sort_order?: string | number; sort_target?: string | number;
  serializable?: boolean; keys_only?: boolean; count_only?: boolean;
  min_mod_revision?: WireInt; max_mod_revision?: WireInt; min_create_revision?: WireInt; max_create_revision?: WireInt;
}
export interface PbPutRequest { key?: Buffer; value?: Buffer; lease?: WireInt; prev_kv?: boolean; ignore_value?: boolean; ignore_lease?: boolean }
export interface PbDeleteRangeRequest { key?: Buffer; range_end?: Buffer; prev_kv?: boolean }
export interface PbCompare {
  result?: string | number; target?: string | number; key?: Buffer; range_end?: Buffer;
  version?: WireInt; create_revision?: WireInt; mod_revision?: WireInt; value?: Buffer; lease?: WireInt;
}
export interface PbRequestOp {
  request?: string;
  request_range?: PbRangeRequest; request_put?: PbPutRequest; request_delete_range?: PbDeleteRangeRequest; request_txn?: PbTxnRequest;
}
export interface PbTxnRequest { compare?: PbCompare[]; success?: PbRequestOp[]; failure?: PbRequestOp[] }
export interface PbHeader { cluster_id: string; member_id: string; revision: number; raft_term: number }

const EMPTY = Buffer.alloc(0);

function oneOf<T extends string>(value: string | number | undefined, allowed: readonly T[], field: string): T {
  const v = value ?? allowed[0];
  const name = typeof v === 'number' ? allowed[v] : v;
  if (name === undefined || !(allowed as readonly string[]).includes(name)) {
    throw grpcError(Status.INVALID_ARGUMENT, `etcdserver: invalid ${field} ${String(value)}`);
  }
  return name as T;
}

const SORT_ORDERS: readonly SortOrder[] = ['NONE', 'ASCEND', 'DESCEND'];
const SORT_TARGETS: readonly SortTarget[] = ['KEY', 'VERSION', 'CREATE', 'MOD', 'VALUE'];
const COMPARE_RESULTS: readonly CompareResult[] = ['EQUAL', 'GREATER', 'LESS', 'NOT_EQUAL'];
const COMPARE_TARGETS: readonly CompareTarget[] = ['VERSION', 'CREATE', 'MOD', 'VALUE', 'LEASE'];

export function toRange(r: PbRangeRequest): RangeRequest {
  return {
    op: 'range',
    key: r.key ?? EMPTY,
    rangeEnd: r.range_end ?? EMPTY,
    limit: Math.max(0, int(r.limit)),
    revision: int(r.revision),
    sortOrder: oneOf(r.sort_order, SORT_ORDERS, 'sort order'),
    sortTarget: oneOf(r.sort_target, SORT_TARGETS, 'sort target'),
    keysOnly: r.keys_only === true,
    countOnly: r.count_only === true,
    minModRevision: int(r.min_mod_revision),
    maxModRevision: int(r.max_mod_revision),
    minCreateRevision: int(r.min_create_revision),
    maxCreateRevision: int(r.max_create_revision),
  };
}

export function toPut(r: PbPutRequest): PutRequest {
  return {
    op: 'put', key: r.key ?? EMPTY, value: r.value ?? EMPTY, lease: wireLeaseId(r.lease),
    prevKv: r.prev_kv === true, ignoreValue: r.ignore_value === true, ignoreLease: r.ignore_lease === true,
  };
}

export function toDeleteRange(r: PbDeleteRangeRequest): DeleteRangeRequest {
  return { op: 'delete', key: r.key ?? EMPTY, rangeEnd: r.range_end ?? EMPTY, prevKv: r.prev_kv === true };
}

function toCompare(c: PbCompare): Compare {
  const target = oneOf(c.target, COMPARE_TARGETS, 'compare target');
  const operand: Compare['operand'] =
    target === 'VALUE' ? c.value ?? EMPTY
    : target === 'VERSION' ? int(c.version)
    : target === 'CREATE' ? int(c.create_revision)
    : target === 'MOD' ? int(c.mod_revision)
    : wireLeaseId(c.lease);
  return { result: oneOf(c.result, COMPARE_RESULTS, 'compare result'), target, key: c.key ?? EMPTY, rangeEnd: c.range_end ?? EMPTY, operand };
}

function toTxnOp(op: PbRequestOp): TxnOp {
  if (op.request_range != null && (op.request === undefined || op.request === 'request_range')) return toRange(op.request_range);
  if (op.request_put != null && (op.request === undefined || op.request === 'request_put')) return toPut(op.request_put);
  if (op.request_delete_range != null && (op.request === undefined || op.request === 'request_delete_range')) return toDeleteRange(op.request_delete_range);
  if (op.request_txn != null && (op.request === undefined || op.request === 'request_txn')) return toTxn(op.request_txn);
  throw grpcError(Status.INVALID_ARGUMENT, 'etcdserver: a txn operation names no request');
}

export function toTxn(r: PbTxnRequest): TxnRequest {
  return {
    op: 'txn',
    compare: (r.compare ?? []).map(toCompare),
    success: (r.success ?? []).map(toTxnOp),
    failure: (r.failure ?? []).map(toTxnOp),
  };
}

// ---- results → responses ----------------------------------------------------------------

export function pbKeyValue(kv: KeyValue): Record<string, unknown> {
  return { key: kv.key, create_revision: kv.createRevision, mod_revision: kv.modRevision, version: kv.version, value: kv.value, lease: kv.lease };
}

/** The response message body of a result (without the header of a top-level response). */
export function pbResult(result: KvResult | TxnOpResult, header: PbHeader): Record<string, unknown> {
  switch (result.op) {
    case 'range':
      return { header, kvs: result.kvs.map(pbKeyValue), more: result.more, count: result.count };
    case 'put':
      return { header, prev_kv: result.prevKv === null ? null : pbKeyValue(result.prevKv) };
    case 'delete':
      return { header, deleted: result.deleted, prev_kvs: result.prevKvs.map(pbKeyValue) };
    case 'txn':
      return {
        header,
        succeeded: result.succeeded,
        responses: result.responses.map((r) => ({ [`response_${r.op === 'delete' ? 'delete_range' : r.op}`]: pbResult(r, header) })),
      };
    case 'compact':
      return { header };
  }
}
