/**
 * Checks of a request that need no state: a malformed request is refused before it reaches the
 * log, and the same check runs again at apply so every replica answers it identically.
 *
 * The order is etcd's (server/etcdserver/api/v3rpc/key.go, `Txn`): every field of the whole txn
 * first (`checkTxnRequest`), then the puts and deletes of each branch (`checkIntervals`, here in
 * txn-writes.ts), so the same request gets the same error as from etcd.
 */
import { KvError } from './kv-errors.js';
import { NO_LEASE } from './lease-id.js';
import { checkTxnWrites, type WorkMeter } from './txn-writes.js';
import type { KvRequest, TxnOp, TxnRequest } from './requests.js';

export type { WorkMeter } from './txn-writes.js';

export interface KvLimits {
  /**
   * Most operations in each of a txn's compare, success and failure lists (etcd --max-txn-ops).
   * As in etcd, a nested txn gets what its parent's longest list leaves of it: nesting is
   * at most this deep.
   */
  readonly maxTxnOps: number;
}

export const DEFAULT_KV_LIMITS: KvLimits = { maxTxnOps: 128 };

/** `meter`, when given, counts the steps of the txn write check (tests bound its work with it). */
export function validateRequest(req: KvRequest, limits: KvLimits = DEFAULT_KV_LIMITS, meter?: WorkMeter): void {
  validateFields(req, limits);
  validateWrites(req, meter);
}

/** The first half of validateRequest: each field, in time linear in the request's size. */
export function validateFields(req: KvRequest, limits: KvLimits = DEFAULT_KV_LIMITS): void {
  if (req.op !== 'compact') checkFields(req, limits.maxTxnOps);
}

/** The second half of validateRequest (after validateFields): a txn's writes, in O(n log n). */
export function validateWrites(req: KvRequest, meter?: WorkMeter): void {
  if (req.op === 'txn') checkTxnWrites(req, meter);
}

/** etcd's `checkRequestOp` (and `checkTxnRequest` for a txn), depth first, first error wins. */
function checkFields(req: TxnOp, maxTxnOps: number): void {
  switch (req.op) {
    case 'range':
    case 'delete':
      if (req.key.byteLength === 0) throw new KvError('empty-key');
      return;
    case 'put':
      if (req.key.byteLength === 0) throw new KvError('empty-key');
      if (req.ignoreValue && req.value.byteLength !== 0) throw new KvError('value-provided');
      if (req.ignoreLease && req.lease !== NO_LEASE) throw new KvError('lease-provided');
      return;
    case 'txn':
      checkTxnFields(req, maxTxnOps);
      return;
  }
}

function checkTxnFields(req: TxnRequest, maxTxnOps: number): void {
  const longest = Math.max(req.compare.length, req.success.length, req.failure.length);
  if (longest > maxTxnOps) throw new KvError('too-many-ops');
  for (const c of req.compare) {
    if (c.key.byteLength === 0) throw new KvError('empty-key');
  }
  // A nested txn may hold only what this one's longest list leaves (etcd: maxTxnOps-opc), so
  // the depth of nesting, and with it this recursion, is at most maxTxnOps.
  for (const op of req.success) checkFields(op, maxTxnOps - longest);
  for (const op of req.failure) checkFields(op, maxTxnOps - longest);
}
