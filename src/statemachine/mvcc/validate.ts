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

/**
 * Deepest nesting of txns inside a txn (the top one at 0), whatever maxTxnOps leaves: etcd bounds
 * nesting only through maxTxnOps, quorate here too. A txn's answer nests deeper than the txn (each
 * level two, as in the request, then a range's kvs three more), and the answers are kept with the
 * client sessions, four levels down in the snapshot's `sessions` and five in the snapshot: at 44
 * the deepest answer ends at level 99 there, 100 in the whole snapshot, what the codec writes and
 * reads. One level more (what a server's encoder could still write as a command) and every
 * member's next snapshot threw ("Too deep objects"): a client's txn stopped every member's snapshots.
 */
export const MAX_TXN_NESTING = 44;

/** `meter`, when given, counts the steps of the txn write check (tests bound its work with it). */
export function validateRequest(req: KvRequest, limits: KvLimits = DEFAULT_KV_LIMITS, meter?: WorkMeter): void {
  validateFields(req, limits);
  validateWrites(req, meter);
}

/** The first half of validateRequest: each field, in time linear in the request's size. */
export function validateFields(req: KvRequest, limits: KvLimits = DEFAULT_KV_LIMITS): void {
  if (req.op !== 'compact') checkFields(req, limits.maxTxnOps, 0);
}

/** The second half of validateRequest (after validateFields): a txn's writes, in O(n log n). */
export function validateWrites(req: KvRequest, meter?: WorkMeter): void {
  if (req.op === 'txn') checkTxnWrites(req, meter);
}

/** etcd's `checkRequestOp` (and `checkTxnRequest` for a txn), depth first, first error wins. */
function checkFields(req: TxnOp, maxTxnOps: number, nesting: number): void {
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
      checkTxnFields(req, maxTxnOps, nesting);
      return;
  }
}

function checkTxnFields(req: TxnRequest, maxTxnOps: number, nesting: number): void {
  const longest = Math.max(req.compare.length, req.success.length, req.failure.length);
  if (longest > maxTxnOps) throw new KvError('too-many-ops');
  if (nesting > MAX_TXN_NESTING) throw new KvError('too-many-ops');
  for (const c of req.compare) {
    if (c.key.byteLength === 0) throw new KvError('empty-key');
  }
  // A nested txn may hold only what this one's longest list leaves (etcd: maxTxnOps-opc), so
  // the depth of nesting, and with it this recursion, is at most maxTxnOps.
  for (const op of req.success) checkFields(op, maxTxnOps - longest, nesting + 1);
  for (const op of req.failure) checkFields(op, maxTxnOps - longest, nesting + 1);
}
